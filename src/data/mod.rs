//! Reading and writing naba's data files, turning them into plain structs (no tensors).
//!
//! - [`documents`]: labelled (or unlabelled) documents for topic classification, from JSON Lines,
//!   CSV/TSV, a folder per label or plain text; stratified subsampling; a JSON Lines writer.
//! - [`tagged`]: [`tagged::TaggedSentence`], the corpus NER readers return, JSON Lines NER files.
//! - [`conll`]: CoNLL-style column files (read, read gold/predicted, write).
//! - [`tags`]: tag schemes (IOB1, IOB2, BIOES, BILOU): detection, checks, conversion.
//! - [`atomic`]: files that appear whole or not at all (checkpoints, predictions, reports).

pub mod atomic;
pub mod conll;
pub mod documents;
pub mod tagged;
pub mod tags;
