//! What the training loop needs from a task (topic classification, NER ...).

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Tensor, Var};

use crate::error::Result;
use crate::model::Mode;

/// A trainable task: examples, a loss, an evaluation and a way to save the model.
pub trait Task {
    /// Token lengths of the training examples (for length bucketing).
    fn train_lengths(&self) -> &[usize];
    /// The mean loss over the training examples `indices`, and the number of tokens it covers.
    fn loss(&self, indices: &[usize], mode: &Mode) -> Result<(Tensor, usize)>;
    /// Scores on the dev set (higher is better for every metric used to pick the best model).
    fn evaluate(&self) -> Result<BTreeMap<String, f64>>;
    /// Every trainable variable by checkpoint name (frozen ones left out).
    fn variables(&self) -> Vec<(String, Var)>;
    /// Every variable, frozen ones included (what a checkpoint holds).
    fn all_variables(&self) -> Vec<(String, Var)>;
    /// Writes the model in Hugging Face layout into `dir` (config.json, model.safetensors,
    /// tokenizer.json).
    fn save_model(&self, dir: &Path) -> Result<()>;
}
