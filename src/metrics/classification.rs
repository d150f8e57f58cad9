//! Single-label classification scores with scikit-learn's definitions
//! (`precision_recall_fscore_support`, `classification_report`, `zero_division=0`): accuracy,
//! per-class precision/recall/F1/support and their micro, macro and weighted averages.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::confusion::ConfusionMatrix;
use super::prf::{macro_average, micro_average, weighted_average, Counts, F1Formula, Prf};
use super::table::{render_table, Row};
use super::write_text;
use crate::error::{Error, Result};

/// Scores of a classification run, serialisable to JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Class names, in the order of `per_class` and of the confusion matrix.
    pub labels: Vec<String>,
    /// Precision, recall, F1 and support of each class.
    pub per_class: Vec<Prf>,
    /// Share of items whose prediction is right.
    pub accuracy: f64,
    /// Micro average (equal to accuracy for single-label classification).
    pub micro: Prf,
    /// Unweighted mean over classes.
    pub macro_avg: Prf,
    /// Mean over classes weighted by support.
    pub weighted: Prf,
    /// The counts everything above is computed from.
    pub confusion: ConfusionMatrix,
}

impl ClassificationReport {
    /// Scores from a confusion matrix; an error when it counts no items.
    pub fn from_confusion(confusion: ConfusionMatrix) -> Result<Self> {
        let total = confusion.total();
        if total == 0 {
            return Err(Error::Invalid("no items to score".to_string()));
        }
        let counts: Vec<Counts> = confusion.class_counts();
        let per_class: Vec<Prf> = counts
            .iter()
            .map(|c| c.scores(F1Formula::FromCounts))
            .collect();
        Ok(ClassificationReport {
            labels: confusion.labels.clone(),
            accuracy: confusion.correct() as f64 / total as f64,
            micro: micro_average(&counts, F1Formula::FromCounts),
            macro_avg: macro_average(&per_class),
            weighted: weighted_average(&per_class),
            per_class,
            confusion,
        })
    }

    /// Scores of gold and predicted class names; see [`ConfusionMatrix::from_labels`] for
    /// `labels` (an explicit list keeps classes that never occur, and they count in the macro
    /// average, as scikit-learn's `labels=` does).
    pub fn from_labels<S: AsRef<str>>(
        gold: &[S],
        pred: &[S],
        labels: Option<&[String]>,
    ) -> Result<Self> {
        Self::from_confusion(ConfusionMatrix::from_labels(gold, pred, labels)?)
    }

    /// Scores of gold and predicted class indices into `labels`.
    pub fn from_indices(gold: &[usize], pred: &[usize], labels: &[String]) -> Result<Self> {
        Self::from_confusion(ConfusionMatrix::from_indices(gold, pred, labels)?)
    }

    /// The scores of the class named `label`.
    pub fn class(&self, label: &str) -> Option<&Prf> {
        self.labels
            .iter()
            .position(|l| l == label)
            .map(|i| &self.per_class[i])
    }

    /// The report as scikit-learn's `classification_report` prints it, with `digits` decimals.
    pub fn render(&self, digits: usize) -> String {
        let mut rows: Vec<Row> = self
            .labels
            .iter()
            .zip(&self.per_class)
            .map(|(label, prf)| Row::Scores(label, *prf))
            .collect();
        rows.push(Row::Blank);
        rows.push(Row::Accuracy(self.accuracy, self.micro.support));
        rows.push(Row::Scores("macro avg", self.macro_avg));
        rows.push(Row::Scores("weighted avg", self.weighted));
        render_table(&rows, digits)
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Invalid(format!("report to JSON: {e}")))
    }

    /// Writes [`ClassificationReport::to_json`] to `path`.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_text(path.as_ref(), &self.to_json()?)
    }
}

/// Share of positions where `pred` equals `gold`; an error when the lengths differ or both are
/// empty.
pub fn accuracy<T: PartialEq>(gold: &[T], pred: &[T]) -> Result<f64> {
    if gold.len() != pred.len() {
        return Err(Error::Invalid(format!(
            "{} gold labels but {} predicted labels",
            gold.len(),
            pred.len()
        )));
    }
    if gold.is_empty() {
        return Err(Error::Invalid("no items to score".to_string()));
    }
    let correct = gold.iter().zip(pred).filter(|(g, p)| g == p).count();
    Ok(correct as f64 / gold.len() as f64)
}
