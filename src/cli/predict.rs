//! `naba predict`: run a fine-tuned model (topic classifier or NER tagger) on new text.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use clap::Args;
use naba::data::documents::{DocumentFormat, DocumentReader, JsonlWriter, ReaderOptions};
use naba::infer::classify::{classify, ClassifyOptions, LongText};
use naba::infer::tag::{Aggregation, TagOptions};
use naba::model::classifier::TopicClassifier;
use naba::model::meta::TaskKind;
use naba::model::tagger::TokenTagger;

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Texts to classify or tag; with none, documents come from --input or stdin.
    texts: Vec<String>,
    /// Fine-tuned model folder (the task is read from its config).
    #[arg(long, short)]
    model: PathBuf,
    /// Input: JSONL with a text field (other fields are passed through), or plain text with one
    /// document per line (`-` = stdin, read as plain lines). NER: a `.conll` file is tagged as
    /// it is and written back as CoNLL with a predicted-tag column added.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Read a plain-text file as one document.
    #[arg(long)]
    whole_file: bool,
    /// Field with the text in JSONL input.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Write JSONL (or CoNLL) here instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Topic: labels reported with probabilities.
    #[arg(long, default_value_t = 3)]
    top_k: usize,
    /// Topic: long documents read in windows with averaged logits, or truncated as in training.
    #[arg(long, value_enum, default_value = "truncate")]
    long_text: LongText,
    /// NER: how sub-token scores become word scores.
    #[arg(long, value_enum, default_value = "first")]
    aggregation: Aggregation,
    /// Most documents per batch of work. From stdin a batch is what has arrived (one line or
    /// more), and its results are written out at once: a slow stream gets each answer as soon
    /// as its line is in.
    #[arg(long, default_value_t = 64)]
    chunk: usize,
    /// Weight precision of the encoder's projections at inference: none (f32), q8, q4
    /// (8/4-bit blocks, less memory; q4 suits unmodified base encoders, not fine-tuned ones),
    /// i16 (16-bit integer products, faster on AVX2 CPUs) or i8 (8-bit integer products,
    /// faster still, coarser); see README
    #[arg(long, default_value = "none")]
    quantize: naba::model::quantize::Quantization,
}

/// Fields of a JSONL record.
type Fields = serde_json::Map<String, serde_json::Value>;

/// One input document: id, text, and the other fields of its record.
type Item = (String, String, Fields);

pub fn run(a: PredictArgs) -> anyhow::Result<()> {
    match naba::model::finetuned::task_of(&a.model)? {
        TaskKind::Topic => run_topic(a),
        TaskKind::Ner => run_ner(a),
    }
}

fn run_topic(a: PredictArgs) -> anyhow::Result<()> {
    let device = candle_core::Device::Cpu;
    let mut model = TopicClassifier::load(&a.model, &device)?;
    model.encoder_mut().prepare_for_inference(a.quantize)?;
    let opts = ClassifyOptions {
        long_text: a.long_text,
        top_k: a.top_k,
        ..ClassifyOptions::default()
    };
    write_predictions(&a, |texts| {
        classify(&model, texts, &opts, &device)?
            .into_iter()
            .map(|p| {
                Ok(Fields::from_iter([
                    ("label".into(), p.label.into()),
                    ("score".into(), p.score.into()),
                    ("top_k".into(), serde_json::to_value(&p.top_k)?),
                ]))
            })
            .collect()
    })
}

/// NER output per document: `{"id", "entities": [{"text", "label", "start", "end",
/// "start_byte", "end_byte", "score"}]}` (plus the input's other fields). `start`/`end` are
/// character offsets into the original input (`input.chars().skip(start).take(end - start)` is
/// `text`); `start_byte`/`end_byte` are UTF-8 byte offsets into it.
fn run_ner(a: PredictArgs) -> anyhow::Result<()> {
    let device = candle_core::Device::Cpu;
    let mut model = TokenTagger::load(&a.model, &device)?;
    model.encoder_mut().prepare_for_inference(a.quantize)?;
    let opts = TagOptions {
        aggregation: a.aggregation,
        ..TagOptions::default()
    };
    let conll = a.texts.is_empty()
        && a.input.as_ref().is_some_and(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("conll"))
        });
    if conll {
        let input = a.input.as_deref().unwrap_or(Path::new("-"));
        return predict_conll(&model, input, a.output.as_deref(), &opts);
    }
    write_predictions(&a, |texts| {
        naba::infer::entities::extract_entities(&model, texts, &opts, &device)?
            .into_iter()
            .map(|entities| {
                let entities = serde_json::to_value(&entities)?;
                Ok(Fields::from_iter([("entities".into(), entities)]))
            })
            .collect()
    })
}

/// Runs `predict` on each chunk of input texts and writes one JSONL record per text: the
/// input's other fields, its `id`, then the fields `predict` gives it.
fn write_predictions(
    a: &PredictArgs,
    mut predict: impl FnMut(&[&str]) -> anyhow::Result<Vec<Fields>>,
) -> anyhow::Result<()> {
    let mut out = writer(a.output.as_deref())?;
    for_each_chunk(a, |batch| {
        let texts: Vec<&str> = batch.iter().map(|(_, t, _)| t.as_str()).collect();
        for ((id, _, extra), fields) in batch.iter().zip(predict(&texts)?) {
            let mut rec = extra.clone();
            rec.insert("id".into(), id.clone().into());
            rec.extend(fields);
            out.write(&rec)?;
        }
        out.flush()?;
        Ok(())
    })?;
    out.finish()?;
    Ok(())
}

/// Tags the token column of a CoNLL file and writes every line back with the predicted IOB2
/// tag appended.
fn predict_conll(
    model: &TokenTagger,
    input: &Path,
    output: Option<&Path>,
    opts: &TagOptions,
) -> anyhow::Result<()> {
    let rows = naba::data::conll::read_conll_rows(input)?;
    let words: Vec<Vec<String>> = rows
        .iter()
        .map(|s| s.iter().map(|r| r[0].clone()).collect())
        .collect();
    let tags = naba::infer::tag::tag_names(model, &words, opts, &candle_core::Device::Cpu)?;
    let mut text = String::new();
    for (sentence, tags) in rows.iter().zip(&tags) {
        for (row, tag) in sentence.iter().zip(tags) {
            text.push_str(&row.join(" "));
            text.push(' ');
            text.push_str(tag);
            text.push('\n');
        }
        text.push('\n');
    }
    match output {
        Some(p) => naba::data::atomic::write_atomic(p, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(())
}

fn writer(output: Option<&Path>) -> anyhow::Result<JsonlWriter> {
    Ok(match output {
        Some(p) => JsonlWriter::create(p)?,
        None => JsonlWriter::stdout(),
    })
}

/// Reads the documents the flags name (texts, --input file, or stdin lines) and hands them to
/// `emit` in chunks, so streams of any length run in bounded memory.
fn for_each_chunk(
    a: &PredictArgs,
    mut emit: impl FnMut(Vec<Item>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if !a.texts.is_empty() {
        super::warn_texts_naming_files(&a.texts, "--input (and --whole-file for one document)");
        let docs = a
            .texts
            .iter()
            .enumerate()
            .map(|(i, t)| (i.to_string(), t.clone(), Default::default()))
            .collect();
        return emit(docs);
    }
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
            // a reader thread queues the lines; each chunk is what has arrived (at least one
            // line, at most `--chunk`), so a slow stream gets each answer as soon as its line
            // is in, and a fast one still gets full batches
            let (lines, queue) = std::sync::mpsc::sync_channel(4 * a.chunk.max(1));
            std::thread::spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    if lines.send(line).is_err() {
                        break;
                    }
                }
            });
            let mut number = 0usize;
            while let Ok(first) = queue.recv() {
                let mut chunk = Vec::new();
                let mut next = Some(first);
                while let Some(line) = next.take() {
                    number += 1;
                    let line = line?;
                    if !line.trim().is_empty() {
                        chunk.push((number.to_string(), line, Default::default()));
                    }
                    if chunk.len() < a.chunk.max(1) {
                        next = queue.try_recv().ok();
                    }
                }
                if !chunk.is_empty() {
                    emit(chunk)?;
                }
            }
        }
    }
    Ok(())
}
