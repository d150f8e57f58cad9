//! Topic classification as a training task: documents tokenised and truncated, cross-entropy
//! (optionally class-weighted), accuracy and macro-F1 on the dev set.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use crate::data::documents::Document;
use crate::error::{Error, Result};
use crate::infer::windows::{truncate, Truncation};
use crate::metrics::classification::ClassificationReport;
use crate::model::batch::{length_buckets, Batch};
use crate::model::classifier::TopicClassifier;
use crate::model::{Mode, TextTokenizer};
use crate::train::task::Task;

/// Token ids of documents, truncated to `max_len`, in parallel.
pub fn encode_documents(
    tokenizer: &TextTokenizer,
    texts: &[&str],
    max_len: usize,
    how: Truncation,
) -> Result<Vec<Vec<u32>>> {
    let encoded = tokenizer.encode_batch(texts, false)?;
    Ok(encoded
        .into_iter()
        .map(|e| truncate(&e.ids, max_len, how, tokenizer.cls_id, tokenizer.sep_id))
        .collect())
}

/// Label ids of `docs` in `labels`; an error naming labels that are not in the model.
pub fn label_ids(docs: &[Document], labels: &[String], source: &Path) -> Result<Vec<usize>> {
    let index: BTreeMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut unknown = std::collections::BTreeSet::new();
    let ids: Vec<usize> = docs
        .iter()
        .map(|d| {
            let l = d.label.as_deref().unwrap_or("");
            *index.get(l).unwrap_or_else(|| {
                unknown.insert(l.to_string());
                &usize::MAX
            })
        })
        .collect();
    if !unknown.is_empty() {
        return Err(Error::format(
            source,
            0,
            format!(
                "labels not known to the model: {} (model labels: {})",
                unknown.into_iter().collect::<Vec<_>>().join(", "),
                labels.join(", ")
            ),
        ));
    }
    Ok(ids)
}

/// Encoded examples with their label ids.
pub struct Encoded {
    /// Token ids with special tokens.
    pub ids: Vec<Vec<u32>>,
    /// Label id of each example.
    pub labels: Vec<usize>,
}

/// Topic classification bound to a model, training examples and a dev set.
pub struct TopicTask {
    /// The model being trained.
    pub model: TopicClassifier,
    varmap: VarMap,
    train: Encoded,
    lengths: Vec<usize>,
    dev: Encoded,
    class_weights: Option<Tensor>,
    device: Device,
    eval_batch_tokens: usize,
}

impl TopicTask {
    /// Binds `model` (whose variables live in `varmap`) to encoded training and dev data.
    pub fn new(
        model: TopicClassifier,
        varmap: VarMap,
        train: Encoded,
        dev: Encoded,
        class_weights: Option<Vec<f32>>,
        device: Device,
    ) -> Result<Self> {
        let lengths = train.ids.iter().map(Vec::len).collect();
        let class_weights = class_weights.map(|w| Tensor::new(w, &device)).transpose()?;
        Ok(Self {
            model,
            varmap,
            train,
            lengths,
            dev,
            class_weights,
            device,
            eval_batch_tokens: 16384,
        })
    }

    /// Predicted label ids for encoded inputs (batched by length).
    pub fn predict_ids(&self, ids: &[Vec<u32>]) -> Result<Vec<usize>> {
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let mut out = vec![0; ids.len()];
        for bucket in length_buckets(&lengths, self.eval_batch_tokens, 64) {
            let rows: Vec<&[u32]> = bucket.iter().map(|&i| ids[i].as_slice()).collect();
            let batch = Batch::from_rows(&rows, self.model.folder.tokenizer.pad_id, &self.device)?;
            let pred = self
                .model
                .logits(&batch, &Mode::Eval)?
                .argmax(1)?
                .to_vec1::<u32>()?;
            for (p, &i) in pred.into_iter().zip(&bucket) {
                out[i] = p as usize;
            }
        }
        Ok(out)
    }
}

impl Task for TopicTask {
    fn train_lengths(&self) -> &[usize] {
        &self.lengths
    }

    fn loss(&self, indices: &[usize], mode: &Mode) -> Result<(Tensor, usize)> {
        let rows: Vec<&[u32]> = indices
            .iter()
            .map(|&i| self.train.ids[i].as_slice())
            .collect();
        let batch = Batch::from_rows(&rows, self.model.folder.tokenizer.pad_id, &self.device)?;
        let targets: Vec<u32> = indices
            .iter()
            .map(|&i| self.train.labels[i] as u32)
            .collect();
        let targets = Tensor::new(targets, &self.device)?;
        let logits = self.model.logits(&batch, mode)?;
        let loss = super::losses::cross_entropy(&logits, &targets, self.class_weights.as_ref())?;
        Ok((loss, batch.lengths.iter().sum()))
    }

    fn evaluate(&self) -> Result<BTreeMap<String, f64>> {
        let pred = self.predict_ids(&self.dev.ids)?;
        let report =
            ClassificationReport::from_indices(&self.dev.labels, &pred, &self.model.labels)?;
        Ok(BTreeMap::from([
            ("accuracy".to_string(), report.accuracy),
            ("macro_f1".to_string(), report.macro_avg.f1),
            ("weighted_f1".to_string(), report.weighted.f1),
        ]))
    }

    fn model(&self) -> &dyn crate::train::task::TrainedModel {
        &self.model
    }

    fn varmap(&self) -> &VarMap {
        &self.varmap
    }
}

/// Everything a topic-classifier training run needs besides the loop settings.
#[derive(Debug, Clone)]
pub struct TopicTrainSpec {
    /// Base model (folder, hub id or `pypi:multilingual-e5-small`).
    pub base_model: String,
    /// Training documents.
    pub train: Vec<Document>,
    /// Dev documents.
    pub dev: Vec<Document>,
    /// Where the training documents came from (for error messages).
    pub dev_source: std::path::PathBuf,
    /// Pooling, lengths, truncation, normaliser ...
    pub meta: crate::model::meta::NabaMeta,
    /// Frozen parts of the encoder.
    pub freeze: crate::model::Freeze,
    /// Weight classes by inverse frequency.
    pub balanced_class_weights: bool,
}

/// Trains a topic classifier as `spec` and `cfg` say; the best model (by the dev metric) ends
/// up in `cfg.output_dir`.
pub fn train_topic(
    spec: TopicTrainSpec,
    cfg: &crate::train::trainer::TrainConfig,
    resume: bool,
) -> Result<crate::train::trainer::TrainSummary> {
    let device = Device::Cpu;
    let base = crate::model::ModelFolder::open(&spec.base_model)?;
    let labels: Vec<String> = crate::data::documents::label_counts(&spec.train)
        .into_keys()
        .collect();
    if labels.len() < 2 {
        return Err(Error::Invalid(format!(
            "training data has {} label(s); a classifier needs at least 2",
            labels.len()
        )));
    }
    let train_labels = label_ids(&spec.train, &labels, Path::new("training data"))?;
    let dev_labels = label_ids(&spec.dev, &labels, &spec.dev_source)?;
    let mut meta = spec.meta.clone();
    meta.base_model = spec.base_model.clone();
    let max_len = meta.max_len.min(base.config.max_sequence_length());
    meta.max_len = max_len;
    let varmap = VarMap::new();
    let mut model = TopicClassifier::for_training(
        &base,
        labels.clone(),
        meta.clone(),
        spec.freeze,
        &varmap,
        &device,
        cfg.seed,
    )?;
    if cfg.adamw.lazy_embeddings && !spec.freeze.embeddings {
        model.encoder_mut().track_word_rows();
    }
    let encode = |docs: &[Document]| -> Result<Vec<Vec<u32>>> {
        let texts: Vec<String> = docs.iter().map(|d| model.prepare_text(&d.text)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        encode_documents(&base.tokenizer, &refs, max_len, meta.truncation)
    };
    let train = Encoded {
        ids: encode(&spec.train)?,
        labels: train_labels,
    };
    let dev = Encoded {
        ids: encode(&spec.dev)?,
        labels: dev_labels,
    };
    let weights = spec.balanced_class_weights.then(|| {
        let mut counts = vec![0usize; labels.len()];
        for &l in &train.labels {
            counts[l] += 1;
        }
        super::losses::balanced_weights(&counts)
    });
    let task = TopicTask::new(model, varmap, train, dev, weights, device)?;
    crate::train::trainer::train(&task, cfg, resume)
}

/// A topic evaluation: scores and the per-document predictions.
pub struct TopicEvaluation {
    /// Accuracy, P/R/F1 (micro, macro, weighted, per class), confusion matrix.
    pub report: ClassificationReport,
    /// One prediction per document, in input order.
    pub predictions: Vec<crate::infer::classify::Prediction>,
}

/// Scores `model` on labelled `docs` (from `source`, named in errors for unknown labels).
pub fn evaluate_topic(
    model: &TopicClassifier,
    docs: &[Document],
    source: &Path,
    opts: &crate::infer::classify::ClassifyOptions,
) -> Result<TopicEvaluation> {
    let gold = label_ids(docs, &model.labels, source)?;
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let predictions = crate::infer::classify::classify(model, &texts, opts, &Device::Cpu)?;
    let pred: Vec<usize> = predictions.iter().map(|p| p.label_id).collect();
    let report = ClassificationReport::from_indices(&gold, &pred, &model.labels)?;
    Ok(TopicEvaluation {
        report,
        predictions,
    })
}
