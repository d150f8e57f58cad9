//! A topic classifier: the encoder with a sequence-classification head, built for training from
//! a base model or loaded from a fine-tuned folder (naba's or a transformers
//! `*ForSequenceClassification` checkpoint), and saved in the layout transformers reads.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use super::batch::Batch;
use super::finetuned::{
    finetuned_config, frozen_prefixes, open_finetuned, save_folder, training_parts, FinetunedParts,
};
use super::heads::SequenceClassifier;
use super::meta::{NabaMeta, TaskKind};
use super::{load_error, BertModel, EncoderConfig, Freeze, Mode, ModelFolder};
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

/// The modules of a classifier, built before the tokenizer is at hand.
struct Built {
    labels: Vec<String>,
    meta: NabaMeta,
    encoder: BertModel,
    head: SequenceClassifier,
}

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
        let parts = training_parts(base, labels, meta, varmap, device, seed)?;
        let mut model = Self::assemble(base.clone(), Self::build(parts)?);
        model.encoder.set_freeze(freeze);
        Ok(model)
    }

    /// The encoder.
    pub fn encoder(&self) -> &BertModel {
        &self.encoder
    }

    /// The encoder, to change how it runs (quantised inference, row-sparse embedding
    /// gradients).
    pub fn encoder_mut(&mut self) -> &mut BertModel {
        &mut self.encoder
    }

    /// Loads a fine-tuned classifier for inference (tokenizer and weights read in parallel).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (folder, built) = open_finetuned(
            dir,
            TaskKind::Topic,
            "topic classifier",
            device,
            Self::build,
        )?;
        Ok(Self::assemble(folder, built))
    }

    /// Builds encoder and head from the parts of a folder.
    fn build(p: FinetunedParts<'_>) -> Result<Built> {
        let cfg = p.config;
        let mut meta = p.meta;
        meta.max_len = meta.max_len.min(cfg.max_sequence_length());
        let family = cfg
            .family()
            .map_err(|m| crate::error::Error::model(p.dir.join("config.json"), m))?;
        let pooler = SequenceClassifier::needs_pooler(cfg, meta.pooling);
        let encoder = BertModel::load_with(p.vars.pp(family.prefix()), cfg, pooler, p.word_table)
            .map_err(|e| load_error(p.dir, e))?;
        let head = SequenceClassifier::load(p.vars, cfg, p.labels.len(), meta.pooling)
            .map_err(|e| load_error(p.dir, e))?;
        Ok(Built {
            labels: p.labels,
            meta,
            encoder,
            head,
        })
    }

    fn assemble(folder: ModelFolder, b: Built) -> Self {
        let normalizer = b.meta.normalizer();
        Self {
            folder,
            labels: b.labels,
            meta: b.meta,
            encoder: b.encoder,
            head: b.head,
            normalizer,
        }
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
