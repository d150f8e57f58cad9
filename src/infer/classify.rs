//! Topic prediction: long documents in overlapping windows (logits averaged) or truncated as in
//! training, probabilities by softmax, top-k labels.

use candle_core::{Device, D};
use serde::Serialize;

use super::windows::{truncate, windows};
use crate::error::Result;
use crate::model::batch::{length_buckets, Batch};
use crate::model::classifier::TopicClassifier;
use crate::model::Mode;

/// How documents longer than the model's `max_len` are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LongText {
    /// Overlapping windows of `max_len` tokens, `stride` apart; logits averaged.
    Windows,
    /// Only the tokens kept by the training truncation (the default: on SANAD news it was both
    /// more accurate and 6x faster than windows, see docs/results.md).
    #[default]
    Truncate,
}

/// Prediction settings.
#[derive(Debug, Clone)]
pub struct ClassifyOptions {
    /// Long-document strategy.
    pub long_text: LongText,
    /// Labels reported with their probabilities.
    pub top_k: usize,
    /// Padded tokens per batch.
    pub batch_tokens: usize,
}

impl Default for ClassifyOptions {
    fn default() -> Self {
        Self {
            long_text: LongText::Windows,
            top_k: 3,
            batch_tokens: 8192,
        }
    }
}

/// One label with its probability.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Scored {
    /// Label name.
    pub label: String,
    /// Probability.
    pub score: f32,
}

/// The prediction for one document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prediction {
    /// Most probable label.
    pub label: String,
    /// Its probability.
    pub score: f32,
    /// The `top_k` most probable labels.
    pub top_k: Vec<Scored>,
    /// Windows the document was read in.
    pub windows: usize,
    /// Label id of `label`.
    #[serde(skip)]
    pub label_id: usize,
}

/// Classifies `texts` with `model`. For speed, load the model once and call
/// `model.encoder_mut().prepare_for_inference(..)` before the first call, as `naba predict` does.
pub fn classify(
    model: &TopicClassifier,
    texts: &[&str],
    opts: &ClassifyOptions,
    device: &Device,
) -> Result<Vec<Prediction>> {
    let tok = &model.folder.tokenizer;
    let meta = &model.meta;
    let prepared: Vec<String> = texts.iter().map(|t| model.prepare_text(t)).collect();
    let refs: Vec<&str> = prepared.iter().map(String::as_str).collect();
    let encoded = tok.encode_batch(&refs, false)?;
    // every input row, with the document it belongs to
    let mut rows: Vec<Vec<u32>> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (d, e) in encoded.iter().enumerate() {
        let doc_rows = match opts.long_text {
            LongText::Windows => windows(&e.ids, meta.max_len, meta.stride, tok.cls_id, tok.sep_id),
            LongText::Truncate => vec![truncate(
                &e.ids,
                meta.max_len,
                meta.truncation,
                tok.cls_id,
                tok.sep_id,
            )],
        };
        owner.extend(std::iter::repeat_n(d, doc_rows.len()));
        rows.extend(doc_rows);
    }
    let n_labels = model.labels.len();
    let mut sums = vec![vec![0f32; n_labels]; texts.len()];
    let mut counts = vec![0usize; texts.len()];
    let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
    for bucket in length_buckets(&lengths, opts.batch_tokens, 64) {
        let batch_rows: Vec<&[u32]> = bucket.iter().map(|&i| rows[i].as_slice()).collect();
        let batch = Batch::from_rows(&batch_rows, tok.pad_id, device)?;
        let logits = model.logits(&batch, &Mode::Eval)?.to_vec2::<f32>()?;
        for (row, &i) in logits.into_iter().zip(&bucket) {
            let d = owner[i];
            counts[d] += 1;
            for (s, l) in sums[d].iter_mut().zip(row) {
                *s += l;
            }
        }
    }
    let mut out = Vec::with_capacity(texts.len());
    for (sum, n) in sums.into_iter().zip(counts) {
        let mean = candle_core::Tensor::new(sum, device)? / n.max(1) as f64;
        let probs = candle_nn::ops::softmax(&mean?, D::Minus1)?.to_vec1::<f32>()?;
        let mut order: Vec<usize> = (0..n_labels).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        let top_k = order
            .iter()
            .take(opts.top_k.max(1))
            .map(|&i| Scored {
                label: model.labels[i].clone(),
                score: probs[i],
            })
            .collect();
        out.push(Prediction {
            label: model.labels[order[0]].clone(),
            score: probs[order[0]],
            top_k,
            windows: n,
            label_id: order[0],
        });
    }
    Ok(out)
}
