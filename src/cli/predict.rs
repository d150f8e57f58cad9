//! `naba predict`: run a fine-tuned model on new text.

use std::io::BufRead;
use std::path::PathBuf;

use clap::Args;
use naba::data::documents::{DocumentFormat, DocumentReader, JsonlWriter, ReaderOptions};
use naba::infer::classify::{classify, ClassifyOptions, LongText};
use naba::model::classifier::TopicClassifier;

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Texts to classify; with none, documents come from --input or stdin.
    texts: Vec<String>,
    /// Fine-tuned model folder.
    #[arg(long, short)]
    model: PathBuf,
    /// Input: JSONL with a text field (other fields are passed through), or plain text with one
    /// document per line (`-` = stdin, read as plain lines).
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Read a plain-text file as one document.
    #[arg(long)]
    whole_file: bool,
    /// Field with the text in JSONL input.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Write JSONL here instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Labels reported with probabilities.
    #[arg(long, default_value_t = 3)]
    top_k: usize,
    /// Long documents: windows with averaged logits, or the training truncation.
    #[arg(long, value_enum, default_value = "windows")]
    long_text: LongText,
    /// Documents per batch of work.
    #[arg(long, default_value_t = 64)]
    chunk: usize,
}

pub fn run(a: PredictArgs) -> anyhow::Result<()> {
    let device = candle_core::Device::Cpu;
    let model = TopicClassifier::load(&a.model, &device)?;
    let opts = ClassifyOptions {
        long_text: a.long_text,
        top_k: a.top_k,
        ..ClassifyOptions::default()
    };
    let mut out = match &a.output {
        Some(p) => JsonlWriter::create(p)?,
        None => JsonlWriter::stdout(),
    };
    // (id, text, other fields) in chunks, so streams of any length run in bounded memory
    let mut emit = |batch: Vec<(String, String, serde_json::Map<String, serde_json::Value>)>| -> anyhow::Result<()> {
        let texts: Vec<&str> = batch.iter().map(|(_, t, _)| t.as_str()).collect();
        let preds = classify(&model, &texts, &opts, &device)?;
        for ((id, _, extra), p) in batch.iter().zip(preds) {
            let mut rec = extra.clone();
            rec.insert("id".into(), id.clone().into());
            rec.insert("label".into(), p.label.into());
            rec.insert("score".into(), p.score.into());
            rec.insert("top_k".into(), serde_json::to_value(&p.top_k)?);
            out.write(&rec)?;
        }
        Ok(())
    };
    if !a.texts.is_empty() {
        let docs = a
            .texts
            .iter()
            .enumerate()
            .map(|(i, t)| (i.to_string(), t.clone(), Default::default()))
            .collect();
        emit(docs)?;
    } else {
        match a.input.as_ref().filter(|p| p.as_os_str() != "-") {
            Some(path) => {
                let format = if a.whole_file {
                    DocumentFormat::Text
                } else {
                    DocumentFormat::Auto
                };
                let ropts = ReaderOptions {
                    text_field: a.text_field.clone(),
                    ..ReaderOptions::unlabelled()
                }
                .with_format(format);
                let mut reader = DocumentReader::open(path, &ropts)?;
                loop {
                    let chunk: Vec<_> = reader
                        .by_ref()
                        .take(a.chunk)
                        .collect::<Result<Vec<_>, _>>()?;
                    if chunk.is_empty() {
                        break;
                    }
                    emit(chunk.into_iter().map(|d| (d.id, d.text, d.extra)).collect())?;
                }
            }
            None => {
                let mut chunk = Vec::new();
                for (i, line) in std::io::stdin().lock().lines().enumerate() {
                    let line = line?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    chunk.push(((i + 1).to_string(), line, Default::default()));
                    if chunk.len() >= a.chunk {
                        emit(std::mem::take(&mut chunk))?;
                    }
                }
                if !chunk.is_empty() {
                    emit(chunk)?;
                }
            }
        }
    }
    out.finish()?;
    Ok(())
}
