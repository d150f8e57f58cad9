//! The encoder configuration, read from and written to Hugging Face `config.json`.
//!
//! Every key of the file is kept: the ones naba uses are typed fields, the others travel in
//! [`EncoderConfig::extra`] so a saved model's `config.json` still loads in transformers.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The encoder families naba runs. Each maps to one Hugging Face `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// BERT: AraBERT, CAMeLBERT, MARBERT, mBERT, multilingual-e5, MiniLM. Positions start at 0.
    Bert,
    /// RoBERTa / XLM-RoBERTa: positions start at `pad_token_id + 1`.
    Roberta,
}

impl Family {
    /// The tensor-name prefix of the base model inside `*For*` checkpoints (`bert.`, `roberta.`).
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta => "roberta",
        }
    }
}

/// The activation of the feed-forward block (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Exact GELU with erf (`gelu`).
    #[default]
    Gelu,
    /// Tanh approximation of GELU (`gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`).
    #[serde(alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluNew,
    /// ReLU.
    Relu,
}

fn default_model_type() -> String {
    "bert".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_eps() -> f64 {
    1e-12
}
fn default_type_vocab() -> usize {
    2
}
fn default_max_positions() -> usize {
    512
}

/// A Hugging Face `config.json` for a BERT-like encoder, with optional task labels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncoderConfig {
    /// `bert`, `roberta`, `xlm-roberta`, `camembert` ...
    #[serde(default = "default_model_type")]
    pub model_type: String,
    /// Number of rows of the word-embedding matrix.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    #[serde(default)]
    pub hidden_act: Activation,
    /// Dropout on embeddings and sub-layer outputs (training only).
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities (training only).
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Size of the position-embedding table.
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    /// Rows of the token-type embedding.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Id of the padding token (RoBERTa positions count from it).
    #[serde(default)]
    pub pad_token_id: u32,
    /// Label names by id, for fine-tuned heads (`{"0": "politics", ...}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id2label: BTreeMap<String, String>,
    /// Ids by label name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub label2id: BTreeMap<String, i64>,
    /// Every other key of the file, kept as is.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl EncoderConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: EncoderConfig = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, e.line(), format!("not a valid model config: {e}")))?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// The encoder family, or an error naming the unknown `model_type`.
    pub fn family(&self) -> Result<Family, String> {
        match self.model_type.as_str() {
            "bert" | "megatron-bert" => Ok(Family::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Ok(Family::Roberta),
            other => Err(format!(
                "unsupported model_type {other:?} (naba runs bert, roberta, xlm-roberta, camembert)"
            )),
        }
    }

    /// Checks the sizes fit together; `path` names the file in the error.
    pub fn validate(&self, path: &Path) -> Result<()> {
        self.family().map_err(|m| Error::model(path, m))?;
        let bad = |m: String| Err(Error::model(path, m));
        if self.hidden_size == 0 || self.num_attention_heads == 0 {
            return bad("hidden_size and num_attention_heads must be positive".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if let Some(t) = self
            .extra
            .get("position_embedding_type")
            .and_then(|v| v.as_str())
        {
            if t != "absolute" {
                return bad(format!(
                    "position_embedding_type {t:?} is not supported (only \"absolute\")"
                ));
            }
        }
        if self.is_decoder() {
            return bad("decoder models are not supported".into());
        }
        Ok(())
    }

    fn is_decoder(&self) -> bool {
        self.extra
            .get("is_decoder")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The first position id used for real tokens (0 for BERT, `pad_token_id + 1` for RoBERTa).
    pub fn position_offset(&self) -> usize {
        match self.family() {
            Ok(Family::Roberta) => self.pad_token_id as usize + 1,
            _ => 0,
        }
    }

    /// The longest sequence (special tokens included) the position table can hold.
    pub fn max_sequence_length(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset())
    }

    /// Label names ordered by id, when the config carries `id2label`.
    pub fn labels(&self) -> Result<Vec<String>, String> {
        let mut pairs = Vec::with_capacity(self.id2label.len());
        for (id, name) in &self.id2label {
            let id: usize = id
                .parse()
                .map_err(|_| format!("id2label key {id:?} is not an integer"))?;
            pairs.push((id, name.clone()));
        }
        pairs.sort();
        for (want, (id, _)) in pairs.iter().enumerate() {
            if *id != want {
                return Err(format!(
                    "id2label ids are not 0..{}: {id} is out of place",
                    pairs.len()
                ));
            }
        }
        Ok(pairs.into_iter().map(|(_, n)| n).collect())
    }

    /// Stores `labels` as `id2label` / `label2id`.
    pub fn set_labels(&mut self, labels: &[String]) {
        self.id2label = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.clone()))
            .collect();
        self.label2id = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i as i64))
            .collect();
    }

    /// Renders the config as pretty JSON, as Hugging Face writes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> EncoderConfig {
        serde_json::from_str(s).unwrap()
    }

    const E5: &str = r#"{"architectures":["BertModel"],"model_type":"bert","vocab_size":250037,
        "hidden_size":384,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":1536,
        "hidden_act":"gelu","max_position_embeddings":512,"type_vocab_size":2,"layer_norm_eps":1e-12,
        "pad_token_id":0,"position_embedding_type":"absolute"}"#;

    #[test]
    fn reads_bert_config_and_keeps_unknown_keys() {
        let cfg = parse(E5);
        assert_eq!(cfg.family(), Ok(Family::Bert));
        assert_eq!(cfg.head_dim(), 32);
        assert_eq!(cfg.position_offset(), 0);
        assert_eq!(cfg.max_sequence_length(), 512);
        let back: serde_json::Value = serde_json::from_str(&cfg.to_json()).unwrap();
        assert_eq!(back["architectures"][0], "BertModel");
        assert_eq!(back["position_embedding_type"], "absolute");
    }

    #[test]
    fn roberta_positions_start_after_padding() {
        let cfg = parse(
            &E5.replace("\"bert\"", "\"xlm-roberta\"")
                .replace("\"pad_token_id\":0", "\"pad_token_id\":1"),
        );
        assert_eq!(cfg.family(), Ok(Family::Roberta));
        assert_eq!(cfg.position_offset(), 2);
        assert_eq!(cfg.max_sequence_length(), 510);
    }

    #[test]
    fn unknown_model_type_is_named() {
        let cfg = parse(&E5.replace("\"bert\"", "\"gpt2\""));
        let err = cfg
            .validate(Path::new("m/config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m/config.json") && err.contains("\"gpt2\""),
            "{err}"
        );
    }

    #[test]
    fn labels_round_trip() {
        let mut cfg = parse(E5);
        let labels = vec!["Politics".to_string(), "Sports".to_string()];
        cfg.set_labels(&labels);
        assert_eq!(cfg.labels().unwrap(), labels);
        assert_eq!(cfg.label2id["Sports"], 1);
    }
}
