//! Readers and writers of data files, turning them into plain structs (no tensors).
//!
//! - [`tagged`]: [`tagged::TaggedSentence`], the corpus NER readers return, JSON Lines NER files.
//! - [`conll`]: CoNLL-style column files (read, read gold/predicted, write).
//! - [`tags`]: tag schemes (IOB1, IOB2, BIOES, BILOU): detection, checks, conversion.

pub mod conll;
pub mod tagged;
pub mod tags;
