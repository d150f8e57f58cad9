//! # naba (نبأ) — Arabic news topic classification and named-entity recognition
//!
//! A pretrained Arabic encoder (AraBERT, CAMeLBERT, MARBERT, mBERT, XLM-R, multilingual-e5 ...)
//! in Hugging Face layout is loaded through Candle; fine-tuned heads classify article topics and
//! tag named entities with character offsets into the original text.
//!
//! Modules, in the order data flows through them:
//! - [`text`]: Arabic normalisation with offset maps, word splitting.
//! - [`data`]: readers and writers for documents (JSONL/CSV/folders) and tagged sentences (CoNLL).
//! - [`model`]: configs, weights, tokenizers, hub download, the encoder and task heads.
//! - [`train`]: the training loop shared by every task.
//! - [`metrics`]: accuracy, P/R/F1, confusion matrices, seqeval-exact entity scores.
//! - [`infer`]: windows over long texts, sub-token to word to span aggregation.

pub mod alloc;
pub mod data;
pub mod error;
pub mod infer;
pub mod metrics;
pub mod model;
pub mod tasks;
pub mod text;

pub mod train;

pub use error::{Error, Result};
