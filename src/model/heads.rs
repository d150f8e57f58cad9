//! Task heads on top of the encoder, named as in transformers so saved checkpoints load as
//! `BertForSequenceClassification` / `BertForTokenClassification` (or the RoBERTa classes).

use candle_core::{Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde::{Deserialize, Serialize};

use super::config::{EncoderConfig, Family};
use super::dropout::Mode;
use super::encoder::{linear, mean_pool, BertModel};
use super::ops;

/// How a sequence classifier turns hidden states into one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The first token through the pooler (`BertForSequenceClassification`; for RoBERTa, the
    /// `classifier.dense` + tanh head of `RobertaForSequenceClassification`).
    #[default]
    Cls,
    /// Mean of the real tokens' hidden states (the e5 / sentence-transformers convention).
    Mean,
}

/// The classifier dropout: `classifier_dropout` when set, else `hidden_dropout_prob`.
fn classifier_dropout(cfg: &EncoderConfig) -> f64 {
    cfg.extra
        .get("classifier_dropout")
        .and_then(|v| v.as_f64())
        .unwrap_or(cfg.hidden_dropout_prob)
}

/// Sentence-level head: pooling, dropout, linear to `num_labels` logits.
pub struct SequenceClassifier {
    pooling: Pooling,
    /// RoBERTa's `classifier.dense` (CLS pooling only).
    roberta_dense: Option<Linear>,
    classifier: Linear,
    dropout: f64,
}

impl SequenceClassifier {
    /// Whether this head reads the encoder's pooler (BERT with CLS pooling).
    pub fn needs_pooler(cfg: &EncoderConfig, pooling: Pooling) -> bool {
        pooling == Pooling::Cls && cfg.family().ok() == Some(Family::Bert)
    }

    /// Loads from the checkpoint root (`classifier.*`), creating fresh weights when absent.
    pub fn load(
        vb: VarBuilder,
        cfg: &EncoderConfig,
        num_labels: usize,
        pooling: Pooling,
    ) -> Result<Self> {
        let h = cfg.hidden_size;
        let roberta = cfg.family().ok() == Some(Family::Roberta) && pooling == Pooling::Cls;
        let (roberta_dense, classifier) = if roberta {
            let head = vb.pp("classifier");
            (
                Some(linear(head.pp("dense"), h, h)?),
                linear(head.pp("out_proj"), h, num_labels)?,
            )
        } else {
            (None, linear(vb.pp("classifier"), h, num_labels)?)
        };
        Ok(Self {
            pooling,
            roberta_dense,
            classifier,
            dropout: classifier_dropout(cfg),
        })
    }

    /// Logits `[batch, num_labels]`.
    pub fn forward(
        &self,
        encoder: &BertModel,
        hidden: &Tensor,
        attention_mask: &Tensor,
        mode: &Mode,
    ) -> Result<Tensor> {
        let pooled = match (self.pooling, &self.roberta_dense) {
            (Pooling::Mean, _) => mean_pool(hidden, attention_mask)?,
            (Pooling::Cls, Some(dense)) => {
                let first = mode.dropout(&hidden.narrow(1, 0, 1)?.squeeze(1)?, self.dropout)?;
                ops::linear(&first, dense)?.tanh()?
            }
            (Pooling::Cls, None) => match encoder.pooler() {
                Some(p) => p.forward(hidden)?,
                None => candle_core::bail!("CLS pooling needs the encoder loaded with its pooler"),
            },
        };
        let pooled = mode.dropout(&pooled, self.dropout)?;
        ops::linear(&pooled, &self.classifier)
    }
}

/// Token-level head: dropout, linear to `num_labels` logits per token.
pub struct TokenClassifier {
    classifier: Linear,
    dropout: f64,
}

impl TokenClassifier {
    /// Loads `classifier.*` from the checkpoint root, creating fresh weights when absent.
    pub fn load(vb: VarBuilder, cfg: &EncoderConfig, num_labels: usize) -> Result<Self> {
        Ok(Self {
            classifier: linear(vb.pp("classifier"), cfg.hidden_size, num_labels)?,
            dropout: classifier_dropout(cfg),
        })
    }

    /// Logits `[batch, seq, num_labels]`.
    pub fn forward(&self, hidden: &Tensor, mode: &Mode) -> Result<Tensor> {
        ops::linear(&mode.dropout(hidden, self.dropout)?, &self.classifier)
    }
}
