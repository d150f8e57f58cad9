//! `naba eval`: score a fine-tuned model on labelled data.

use std::path::PathBuf;

use clap::Args;
use naba::data::documents::{read_documents, JsonlWriter};
use naba::infer::classify::{ClassifyOptions, LongText};
use naba::model::classifier::TopicClassifier;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Fine-tuned model folder.
    #[arg(long, short)]
    model: PathBuf,
    /// Labelled data (topic: JSONL[.gz]/CSV/TSV/folder per label; NER: CoNLL or JSONL
    /// `tokens`/`tags`).
    #[arg(long)]
    data: PathBuf,
    /// Topic data fields.
    #[command(flatten)]
    fields: super::topic_args::TopicFieldArgs,
    /// Long documents: windows with averaged logits, or the training truncation.
    #[arg(long, value_enum, default_value = "truncate")]
    long_text: LongText,
    /// Write report.json, confusion.csv, confusion.svg (and predictions.jsonl) here.
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Also write per-document predictions (needs --output-dir; NER always writes
    /// predictions.conll).
    #[arg(long)]
    predictions: bool,
    /// NER: how sub-token scores become word scores.
    #[arg(long, value_enum, default_value = "first")]
    aggregation: naba::infer::tag::Aggregation,
    /// Weight precision of the encoder's projections at inference: none (f32), q8, q4
    /// (8/4-bit blocks, less memory; q4 suits unmodified base encoders, not fine-tuned ones),
    /// i16 (16-bit integer products, faster on AVX2 CPUs) or i8 (8-bit integer products,
    /// faster still, coarser); see README
    #[arg(long, default_value = "none")]
    quantize: naba::model::quantize::Quantization,
    /// NER file reading.
    #[command(flatten)]
    ner_data: super::ner_args::NerDataArgs,
}

pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    match naba::model::finetuned::task_of(&a.model)? {
        naba::model::meta::TaskKind::Topic => run_topic(a),
        naba::model::meta::TaskKind::Ner => run_ner(a),
    }
}

/// Scores a NER tagger: seqeval's report (default mode) and strict IOB2 micro F1; with
/// --output-dir, report.json and predictions.conll (`token gold pred`, in the file's scheme).
fn run_ner(a: EvalArgs) -> anyhow::Result<()> {
    let mut model = naba::model::tagger::TokenTagger::load(&a.model, &candle_core::Device::Cpu)?;
    model.encoder_mut().prepare_for_inference(a.quantize)?;
    let corpus = a.ner_data.read(&a.data)?;
    let started = std::time::Instant::now();
    let opts = naba::infer::tag::TagOptions {
        aggregation: a.aggregation,
        ..Default::default()
    };
    let eval = naba::tasks::ner::evaluate_ner(&model, &corpus.sentences, &opts)?;
    let secs = started.elapsed().as_secs_f64();
    let scores = &eval.scores;
    println!("{}", scores.default.render(4));
    println!(
        "entity F1 (micro, default mode) {:.4}  strict IOB2 micro F1 {:.4}  ({} sentences, {:.1} s, {:.1} sentences/s)",
        scores.default.micro.f1,
        scores.strict.micro.f1,
        corpus.sentences.len(),
        secs,
        corpus.sentences.len() as f64 / secs.max(1e-9)
    );
    if let Some(dir) = a.output_dir {
        std::fs::create_dir_all(&dir)?;
        let report = serde_json::json!({
            "default": scores.default,
            "strict_iob2": scores.strict,
            "sentences": corpus.sentences.len(),
            "seconds": secs,
        });
        naba::data::atomic::write_atomic(
            &dir.join("report.json"),
            serde_json::to_string_pretty(&report)?.as_bytes(),
        )?;
        naba::data::conll::write_conll(
            dir.join("predictions.conll"),
            &corpus.sentences,
            Some(&eval.predictions),
            corpus.scheme,
        )?;
        eprintln!("naba: wrote {}", dir.display());
    }
    Ok(())
}

fn run_topic(a: EvalArgs) -> anyhow::Result<()> {
    let device = candle_core::Device::Cpu;
    let mut model = TopicClassifier::load(&a.model, &device)?;
    model.encoder_mut().prepare_for_inference(a.quantize)?;
    let opts = a.fields.reader_options();
    let docs = read_documents(&a.data, &opts)?;
    let started = std::time::Instant::now();
    let copts = ClassifyOptions {
        long_text: a.long_text,
        ..ClassifyOptions::default()
    };
    let eval = naba::tasks::topic::evaluate_topic(&model, &docs, &a.data, &copts)?;
    let secs = started.elapsed().as_secs_f64();
    println!("{}", eval.report.render(4));
    println!("{}", eval.report.confusion.render());
    println!(
        "accuracy {:.4}  macro-F1 {:.4}  ({} documents, {:.1} s, {:.1} docs/s)",
        eval.report.accuracy,
        eval.report.macro_avg.f1,
        docs.len(),
        secs,
        docs.len() as f64 / secs
    );
    if let Some(dir) = a.output_dir {
        std::fs::create_dir_all(&dir)?;
        eval.report.write_json(dir.join("report.json"))?;
        eval.report.confusion.write_csv(dir.join("confusion.csv"))?;
        eval.report
            .confusion
            .write_svg(dir.join("confusion.svg"), "Confusion matrix (rows: gold)")?;
        if a.predictions {
            let mut w = JsonlWriter::create(&dir.join("predictions.jsonl"))?;
            for (d, p) in docs.iter().zip(&eval.predictions) {
                w.write(&serde_json::json!({"id": d.id, "gold": d.label, "label": p.label, "score": p.score, "top_k": p.top_k}))?;
            }
            w.finish()?;
        }
        eprintln!("naba: wrote {}", dir.display());
    }
    Ok(())
}
