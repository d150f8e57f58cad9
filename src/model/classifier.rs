//! A topic classifier: the encoder with a sequence-classification head, built for training from
//! a base model or loaded from a fine-tuned folder (naba's or a transformers
//! `*ForSequenceClassification` checkpoint), and saved in the layout transformers reads.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::batch::Batch;
use super::finetuned::{finetuned_config, frozen_prefixes, save_folder};
use super::heads::SequenceClassifier;
use super::meta::{NabaMeta, TaskKind};
use super::{BertModel, EncoderConfig, Freeze, Mode, ModelFolder};
use crate::error::Result;

/// Encoder + sequence-classification head, with its labels and settings.
pub struct TopicClassifier {
    /// Config (with labels and the `naba` block) and tokenizer.
    pub folder: ModelFolder,
    /// Label names by id.
    pub labels: Vec<String>,
    /// How the model was trained.
    pub meta: NabaMeta,
    encoder: BertModel,
    head: SequenceClassifier,
    normalizer: crate::text::Normalizer,
}

pub use super::finetuned::read_meta;

impl TopicClassifier {
    /// A classifier for `labels` on top of `base`, its variables in `varmap` (encoder from the
    /// checkpoint, head freshly initialised).
    pub fn for_training(
        base: &ModelFolder,
        labels: Vec<String>,
        meta: NabaMeta,
        freeze: Freeze,
        varmap: &VarMap,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        let (vb, _) = base.trainable_vars(varmap, device, seed)?;
        let mut model = Self::build(base.clone(), labels, meta, vb)?;
        model.encoder.set_freeze(freeze);
        Ok(model)
    }

    /// Loads a fine-tuned classifier for inference.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let m = super::finetuned::open_finetuned(dir, TaskKind::Topic, "topic classifier", device)?;
        Self::build(m.folder, m.labels, m.meta, m.vars)
    }

    fn build(
        folder: ModelFolder,
        labels: Vec<String>,
        mut meta: NabaMeta,
        vb: VarBuilder<'static>,
    ) -> Result<Self> {
        let cfg = &folder.config;
        meta.max_len = meta.max_len.min(cfg.max_sequence_length());
        let pooler = SequenceClassifier::needs_pooler(cfg, meta.pooling);
        let encoder = BertModel::load(vb.pp(folder.family().prefix()), cfg, pooler)
            .map_err(|e| folder.load_error(e))?;
        let head = SequenceClassifier::load(vb, cfg, labels.len(), meta.pooling)
            .map_err(|e| folder.load_error(e))?;
        let normalizer = meta.normalizer();
        Ok(Self {
            folder,
            labels,
            meta,
            encoder,
            head,
            normalizer,
        })
    }

    /// Name prefixes of the frozen variables (embeddings, lower layers).
    pub fn frozen_prefixes(&self) -> Vec<String> {
        frozen_prefixes(self.folder.family().prefix(), self.encoder.freeze())
    }

    /// The text as the model reads it (the normalisation chosen at training time).
    pub fn prepare_text(&self, text: &str) -> String {
        self.normalizer.normalize_text(text)
    }

    /// Logits `[batch, labels]`.
    pub fn logits(&self, batch: &Batch, mode: &Mode) -> Result<Tensor> {
        let hidden = self
            .encoder
            .forward(&batch.input_ids, &batch.attention_mask, mode)?;
        Ok(self
            .head
            .forward(&self.encoder, &hidden, &batch.attention_mask, mode)?)
    }

    /// The config.json this model is saved with.
    pub fn saved_config(&self) -> Result<EncoderConfig> {
        let mut cfg = finetuned_config(&self.folder.config, &self.labels, &self.meta)?;
        cfg.extra
            .insert("problem_type".into(), "single_label_classification".into());
        Ok(cfg)
    }

    /// Writes config.json, model.safetensors (from `varmap`) and tokenizer.json into `dir`.
    pub fn save(&self, dir: &Path, varmap: &VarMap) -> Result<()> {
        save_folder(dir, &self.saved_config()?, &self.folder, varmap)
    }
}
