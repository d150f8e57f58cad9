//! What the training loop needs from a task (topic classification, NER ...).

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Tensor, Var};

use crate::error::Result;
use crate::model::task_model::{TaskHead, TaskModel};
use crate::model::word_rows::WordRows;
use crate::model::Mode;

/// What the training loop needs from the model being trained, whatever its head.
pub trait TrainedModel {
    /// Name prefixes of the frozen variables.
    fn frozen_prefixes(&self) -> Vec<String>;
    /// The recorder of word-embedding rows looked up by training passes, when the embedding
    /// is trained through row-sparse gradients.
    fn word_rows(&self) -> Option<&WordRows>;
    /// Writes the model with the variables of `varmap` in Hugging Face layout into `dir`
    /// (config.json, model.safetensors, tokenizer.json).
    fn save(&self, dir: &Path, varmap: &candle_nn::VarMap) -> Result<()>;
}

impl<H: TaskHead> TrainedModel for TaskModel<H> {
    fn frozen_prefixes(&self) -> Vec<String> {
        TaskModel::frozen_prefixes(self)
    }

    fn word_rows(&self) -> Option<&WordRows> {
        TaskModel::word_rows(self)
    }

    fn save(&self, dir: &Path, varmap: &candle_nn::VarMap) -> Result<()> {
        TaskModel::save(self, dir, varmap)
    }
}

/// A trainable task: examples, a loss, an evaluation and a way to save the model.
pub trait Task {
    /// Token lengths of the training examples (for length bucketing).
    fn train_lengths(&self) -> &[usize];
    /// The mean loss over the training examples `indices`, and the number of tokens it covers.
    fn loss(&self, indices: &[usize], mode: &Mode) -> Result<(Tensor, usize)>;
    /// Scores on the dev set (higher is better for every metric used to pick the best model).
    fn evaluate(&self) -> Result<BTreeMap<String, f64>>;
    /// The model being trained.
    fn model(&self) -> &dyn TrainedModel;
    /// The variables of the model being trained.
    fn varmap(&self) -> &candle_nn::VarMap;
    /// Name prefixes of the frozen variables.
    fn frozen_prefixes(&self) -> Vec<String> {
        self.model().frozen_prefixes()
    }
    /// The recorder of word-embedding rows looked up by training passes, when the embedding
    /// is trained through row-sparse gradients.
    fn word_rows(&self) -> Option<&WordRows> {
        self.model().word_rows()
    }
    /// Every trainable variable by checkpoint name (frozen ones left out).
    fn variables(&self) -> Vec<(String, Var)> {
        without_frozen(self.all_variables(), &self.frozen_prefixes())
    }
    /// Every variable, frozen ones included (what a checkpoint holds), sorted by name.
    fn all_variables(&self) -> Vec<(String, Var)> {
        varmap_variables(self.varmap())
    }
    /// Writes the model in Hugging Face layout into `dir` (config.json, model.safetensors,
    /// tokenizer.json).
    fn save_model(&self, dir: &Path) -> Result<()> {
        self.model().save(dir, self.varmap())
    }
}

/// Every variable of `varmap` by name, sorted (a task's [`Task::all_variables`]).
pub fn varmap_variables(varmap: &candle_nn::VarMap) -> Vec<(String, Var)> {
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// `vars` without those whose name starts with one of `frozen` (a task's [`Task::variables`]).
pub fn without_frozen(vars: Vec<(String, Var)>, frozen: &[String]) -> Vec<(String, Var)> {
    vars.into_iter()
        .filter(|(n, _)| !frozen.iter().any(|p| n.starts_with(p)))
        .collect()
}
