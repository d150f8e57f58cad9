//! Reading and writing naba's data files.
//!
//! - [`documents`]: labelled (or unlabelled) documents for topic classification, from JSON Lines,
//!   CSV/TSV, a folder per label or plain text; stratified subsampling; a JSON Lines writer.
//! - [`atomic`]: files that appear whole or not at all (checkpoints, predictions, reports).

pub mod atomic;
pub mod documents;
