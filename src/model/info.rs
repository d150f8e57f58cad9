//! A summary of a model folder for `naba model info`.

use serde::Serialize;

use super::ModelFolder;
use crate::error::Result;

/// What a model folder holds.
#[derive(Debug, Serialize)]
pub struct ModelInfo {
    /// Local folder.
    pub dir: String,
    /// `model_type` and architecture names from `config.json`.
    pub model_type: String,
    /// `architectures` from `config.json`, if any.
    pub architectures: Vec<String>,
    /// Layers x hidden (heads) / intermediate.
    pub layers: usize,
    /// Hidden width.
    pub hidden_size: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Word-embedding rows.
    pub vocab_size: usize,
    /// Longest input in tokens.
    pub max_sequence_length: usize,
    /// Parameters stored in the checkpoint.
    pub parameters: usize,
    /// Weights file.
    pub weights: String,
    /// Tokenizer file and its model type (WordPiece, Unigram, BPE).
    pub tokenizer: String,
    /// Tokenizer model type.
    pub tokenizer_model: String,
    /// Tokenizer vocabulary size.
    pub tokenizer_vocab: usize,
    /// Task labels (`id2label`), if fine-tuned.
    pub labels: Vec<String>,
}

/// Describes `folder`.
pub fn describe(folder: &ModelFolder) -> Result<ModelInfo> {
    let ck = folder.checkpoint()?;
    let parameters = ck
        .weights()
        .shapes()
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    let cfg = &folder.config;
    let tokenizer_model = folder.tokenizer.model_kind();
    Ok(ModelInfo {
        dir: folder.dir.display().to_string(),
        model_type: cfg.model_type.clone(),
        architectures: cfg
            .extra
            .get("architectures")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        layers: cfg.num_hidden_layers,
        hidden_size: cfg.hidden_size,
        heads: cfg.num_attention_heads,
        intermediate_size: cfg.intermediate_size,
        vocab_size: cfg.vocab_size,
        max_sequence_length: cfg.max_sequence_length(),
        parameters,
        weights: ck.weights().path().display().to_string(),
        tokenizer: folder.tokenizer.source().display().to_string(),
        tokenizer_model: tokenizer_model.into(),
        tokenizer_vocab: folder.tokenizer.vocab_size(),
        labels: cfg.labels().unwrap_or_default(),
    })
}
