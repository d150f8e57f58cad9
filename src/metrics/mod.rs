//! Evaluation metrics: pure functions over labels (no tensors), plus optional writers that take
//! a path.
//!
//! - [`classification`]: accuracy and per-class / micro / macro / weighted precision, recall and
//!   F1 exactly as scikit-learn defines them (`zero_division=0`), a text report and JSON.
//! - [`confusion`] (+ SVG drawing): confusion matrices, text, CSV and SVG output.
//! - [`entity`]: entity-level NER scores identical to seqeval, default (conlleval) or strict
//!   mode; [`chunks`] and [`scheme`] read entities out of tag sequences as seqeval does.

pub mod chunks;
pub mod classification;
pub mod confusion;
mod confusion_svg;
pub mod entity;
mod prf;
pub mod scheme;
mod table;

use std::path::Path;

pub use chunks::{default_chunks, Chunk};
pub use classification::{accuracy, ClassificationReport};
pub use confusion::ConfusionMatrix;
pub use entity::{
    entity_f1, entity_report, entity_report_with, sentence_entities, EntityMode, EntityOptions,
    EntityReport,
};
pub use prf::{Counts, Prf};
pub use scheme::Scheme;

use crate::error::{Error, Result};

/// Writes a report file (text, CSV, JSON or SVG).
fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}
