//! Inference: turns model outputs into user results (embeddings, labels, spans with offsets).

pub mod classify;
pub mod embed;
pub mod entities;
pub mod tag;
pub mod windows;
