//! The `naba` block of a saved model's `config.json`: what naba needs to run the model the way
//! it was trained (task, pooling, lengths, normalisation, CRF ...). Transformers ignores it.

use serde::{Deserialize, Serialize};

use super::heads::Pooling;
use crate::infer::windows::Truncation;
use crate::text::{Normalizer, NormalizerConfig};

/// The task a fine-tuned model performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// One label per document (`*ForSequenceClassification`).
    Topic,
    /// One tag per word (`*ForTokenClassification`).
    Ner,
}

fn default_max_len() -> usize {
    512
}
fn default_stride() -> usize {
    128
}

/// Settings stored under `"naba"` in `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NabaMeta {
    /// The task.
    pub task: TaskKind,
    /// Sentence pooling of a topic classifier.
    #[serde(default)]
    pub pooling: Pooling,
    /// Longest encoder input in tokens, special tokens included.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// Tokens between window starts for long inputs.
    #[serde(default = "default_stride")]
    pub stride: usize,
    /// Truncation used in training (topic).
    #[serde(default)]
    pub truncation: Truncation,
    /// Text normalisation applied before tokenisation, in training and prediction alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalizer: Option<NormalizerConfig>,
    /// The base model fine-tuned.
    #[serde(default)]
    pub base_model: String,
    /// Whether a CRF sits on the token classifier.
    #[serde(default)]
    pub crf: bool,
    /// Whether every sub-token was trained with its word's tag (NER).
    #[serde(default)]
    pub label_all_subtokens: bool,
}

impl NabaMeta {
    /// The normaliser this model expects (the identity when none was chosen).
    pub fn normalizer(&self) -> Normalizer {
        Normalizer::new(self.normalizer.clone().unwrap_or_default())
    }

    /// Defaults for a checkpoint made by someone else (no `naba` block): transformers' behaviour.
    pub fn foreign(task: TaskKind, max_len: usize) -> Self {
        Self {
            task,
            pooling: Pooling::Cls,
            max_len,
            stride: default_stride(),
            truncation: Truncation::Head,
            normalizer: None,
            base_model: String::new(),
            crf: false,
            label_all_subtokens: false,
        }
    }
}
