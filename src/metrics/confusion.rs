//! Confusion matrices of single-label classification: counting, row normalisation, a text
//! rendering and CSV output. (SVG output lives in `confusion_svg`.)

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::prf::Counts;
use super::write_text;
use crate::error::{Error, Result};

/// Counts of (gold class, predicted class) pairs: `counts[gold][predicted]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Class names; row and column `i` belong to `labels[i]`.
    pub labels: Vec<String>,
    /// `counts[g][p]`: items of gold class `g` predicted as class `p`.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// Counts pairs of class indices into `labels`. Errors when the lengths differ, an index is
    /// out of range, or a label is repeated.
    pub fn from_indices(gold: &[usize], pred: &[usize], labels: &[String]) -> Result<Self> {
        check_lengths(gold.len(), pred.len())?;
        check_unique(labels)?;
        let n = labels.len();
        let mut counts = vec![vec![0; n]; n];
        for (i, (&g, &p)) in gold.iter().zip(pred).enumerate() {
            if g >= n || p >= n {
                return Err(Error::Invalid(format!(
                    "item {}: class index {} is out of range for {n} labels",
                    i + 1,
                    g.max(p)
                )));
            }
            counts[g][p] += 1;
        }
        Ok(ConfusionMatrix {
            labels: labels.to_vec(),
            counts,
        })
    }

    /// Counts pairs of class names. With `labels` = `None` the classes are the sorted union of
    /// the gold and predicted names (scikit-learn's default); with a list, every name must be in
    /// it, and listed classes that never occur still get a row and column.
    pub fn from_labels<S: AsRef<str>>(
        gold: &[S],
        pred: &[S],
        labels: Option<&[String]>,
    ) -> Result<Self> {
        check_lengths(gold.len(), pred.len())?;
        let labels: Vec<String> = match labels {
            Some(list) => list.to_vec(),
            None => {
                let union: BTreeSet<&str> = gold.iter().chain(pred).map(AsRef::as_ref).collect();
                union.into_iter().map(str::to_string).collect()
            }
        };
        let position: HashMap<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let index_of = |name: &str, item: usize| {
            position.get(name).copied().ok_or_else(|| {
                Error::Invalid(format!(
                    "item {}: label '{name}' is not in the label list",
                    item + 1
                ))
            })
        };
        let mut gold_ids = Vec::with_capacity(gold.len());
        let mut pred_ids = Vec::with_capacity(pred.len());
        for (i, (g, p)) in gold.iter().zip(pred).enumerate() {
            gold_ids.push(index_of(g.as_ref(), i)?);
            pred_ids.push(index_of(p.as_ref(), i)?);
        }
        Self::from_indices(&gold_ids, &pred_ids, &labels)
    }

    /// Number of items counted.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Number of items whose prediction equals the gold class (the diagonal).
    pub fn correct(&self) -> usize {
        self.counts.iter().enumerate().map(|(i, row)| row[i]).sum()
    }

    /// True positives, predicted and gold counts of each class, in label order.
    pub fn class_counts(&self) -> Vec<Counts> {
        (0..self.labels.len())
            .map(|c| Counts {
                true_positives: self.counts[c][c],
                predicted: self.counts.iter().map(|row| row[c]).sum(),
                gold: self.counts[c].iter().sum(),
            })
            .collect()
    }

    /// Each row divided by its sum (a row without items stays all 0): the share of each gold
    /// class's items that went to each predicted class.
    pub fn row_normalised(&self) -> Vec<Vec<f64>> {
        self.counts
            .iter()
            .map(|row| {
                let sum: usize = row.iter().sum();
                row.iter()
                    .map(|&c| if sum == 0 { 0.0 } else { c as f64 / sum as f64 })
                    .collect()
            })
            .collect()
    }

    /// The matrix as an aligned text table: gold classes down, predicted classes across.
    pub fn render(&self) -> String {
        let corner = "gold \\ pred";
        let name_width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .chain([corner.len()])
            .max()
            .unwrap_or(0);
        let cell_width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .chain(self.counts.iter().flatten().map(|c| c.to_string().len()))
            .max()
            .unwrap_or(1);
        let mut out = format!("{corner:>name_width$}");
        for label in &self.labels {
            out.push_str(&format!(" {label:>cell_width$}"));
        }
        out.push('\n');
        for (label, row) in self.labels.iter().zip(&self.counts) {
            out.push_str(&format!("{label:>name_width$}"));
            for count in row {
                out.push_str(&format!(" {count:>cell_width$}"));
            }
            out.push('\n');
        }
        out
    }

    /// The matrix as CSV: a header `gold\pred,<labels...>`, then one row per gold class.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("gold\\pred");
        for label in &self.labels {
            out.push(',');
            out.push_str(&csv_field(label));
        }
        out.push('\n');
        for (label, row) in self.labels.iter().zip(&self.counts) {
            out.push_str(&csv_field(label));
            for count in row {
                out.push_str(&format!(",{count}"));
            }
            out.push('\n');
        }
        out
    }

    /// Writes [`ConfusionMatrix::to_csv`] to `path`.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        write_text(path.as_ref(), &self.to_csv())
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn check_lengths(gold: usize, pred: usize) -> Result<()> {
    if gold != pred {
        return Err(Error::Invalid(format!(
            "{gold} gold labels but {pred} predicted labels"
        )));
    }
    Ok(())
}

fn check_unique(labels: &[String]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for label in labels {
        if !seen.insert(label) {
            return Err(Error::Invalid(format!(
                "label '{label}' appears twice in the label list"
            )));
        }
    }
    Ok(())
}
