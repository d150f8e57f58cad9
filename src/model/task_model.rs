//! A fine-tuned model: the encoder with a task's head ([`TaskHead`]), its labels and settings;
//! built for training from a base model or loaded from a fine-tuned folder (naba's, or a
//! transformers `*ForSequenceClassification` / `*ForTokenClassification` checkpoint), and saved
//! in the layout transformers reads. [`super::classifier::TopicClassifier`] and
//! [`super::tagger::TokenTagger`] are its two kinds.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use super::batch::Batch;
use super::finetuned::{
    finetuned_config, frozen_prefixes, open_finetuned, save_folder, training_parts, FinetunedParts,
};
use super::meta::{NabaMeta, TaskKind};
use super::word_rows::WordRows;
use super::{load_error, BertModel, EncoderConfig, Freeze, Mode, ModelFolder};
use crate::error::{Error, Result};
use crate::text::Normalizer;

/// What a task puts on top of the encoder: the modules that turn hidden states into logits,
/// named as in transformers' checkpoints.
pub trait TaskHead: Sized + Send {
    /// The task this head serves (checked against a folder's `naba` block on load).
    const TASK: TaskKind;
    /// The model's name in errors: "topic classifier", "NER tagger".
    const WHAT: &'static str;
    /// Whether the encoder must load its pooler for this head.
    fn needs_pooler(config: &EncoderConfig, meta: &NabaMeta) -> bool;
    /// Loads the head from the checkpoint root of `parts` (fresh weights where the checkpoint
    /// has none).
    fn load(parts: &FinetunedParts<'_>) -> candle_core::Result<Self>;
    /// Logits from a batch through the encoder.
    fn logits(&self, encoded: &Encoded<'_>, mode: &Mode) -> candle_core::Result<Tensor>;
    /// Adds the head's own keys to the config.json the model is saved with (none by default).
    fn finish_config(_config: &mut EncoderConfig) {}
}

/// A batch through the encoder: what a head reads.
pub struct Encoded<'a> {
    /// The encoder (whose pooler a CLS head uses).
    pub encoder: &'a BertModel,
    /// Hidden states `[batch, seq, hidden]`.
    pub hidden: Tensor,
    /// `[batch, seq]`: 1 for tokens, 0 for padding.
    pub attention_mask: &'a Tensor,
}

/// Encoder + task head, with its labels and settings.
pub struct TaskModel<H> {
    /// Config (with labels and the `naba` block) and tokenizer.
    pub folder: ModelFolder,
    /// Label names by id (for taggers, IOB2: `O`, `B-X`, `I-X` ...).
    pub labels: Vec<String>,
    /// How the model was trained (pooling, CRF, sub-token labelling, lengths, normaliser ...).
    pub meta: NabaMeta,
    encoder: BertModel,
    head: H,
    normalizer: Normalizer,
}

/// The modules of a model, built before the tokenizer is at hand.
struct Built<H> {
    labels: Vec<String>,
    meta: NabaMeta,
    encoder: BertModel,
    head: H,
}

impl<H: TaskHead> TaskModel<H> {
    /// A model for `labels` on top of `base`, its variables in `varmap` (encoder from the
    /// checkpoint, head freshly initialised unless the checkpoint has a fitting one).
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

    /// Loads a fine-tuned model for inference; tokenizer and weights are read in parallel.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (folder, built) = open_finetuned(dir, H::TASK, H::WHAT, device, Self::build)?;
        Ok(Self::assemble(folder, built))
    }

    /// Builds encoder and head from the parts of a folder.
    fn build(mut p: FinetunedParts<'_>) -> Result<Built<H>> {
        let cfg = p.config;
        let family = cfg
            .family()
            .map_err(|m| Error::model(p.dir.join("config.json"), m))?;
        let pooler = H::needs_pooler(cfg, &p.meta);
        let encoder =
            BertModel::load_with(p.vars.pp(family.prefix()), cfg, pooler, p.word_table.take())
                .map_err(|e| load_error(p.dir, e))?;
        let head = H::load(&p).map_err(|e| load_error(p.dir, e))?;
        let mut meta = p.meta;
        meta.max_len = meta.max_len.min(cfg.max_sequence_length());
        Ok(Built {
            labels: p.labels,
            meta,
            encoder,
            head,
        })
    }

    fn assemble(folder: ModelFolder, b: Built<H>) -> Self {
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

    /// The encoder.
    pub fn encoder(&self) -> &BertModel {
        &self.encoder
    }

    /// The encoder, to change how it runs (quantised inference, row-sparse embedding
    /// gradients).
    pub fn encoder_mut(&mut self) -> &mut BertModel {
        &mut self.encoder
    }

    /// The task head.
    pub fn head(&self) -> &H {
        &self.head
    }

    /// Name prefixes of the frozen variables (embeddings, lower layers).
    pub fn frozen_prefixes(&self) -> Vec<String> {
        frozen_prefixes(self.folder.family().prefix(), self.encoder.freeze())
    }

    /// The recorder of word-embedding rows that training passes look up, when the embedding
    /// is trained through row-sparse gradients.
    pub fn word_rows(&self) -> Option<&WordRows> {
        self.encoder.word_rows()
    }

    /// The normaliser the model was trained with.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// The text as the model reads it (the normalisation chosen at training time).
    pub fn prepare_text(&self, text: &str) -> String {
        self.normalizer.normalize_text(text)
    }

    /// Logits: `[batch, labels]` for a classifier, `[batch, seq, labels]` for a tagger.
    pub fn logits(&self, batch: &Batch, mode: &Mode) -> Result<Tensor> {
        let encoded = Encoded {
            encoder: &self.encoder,
            hidden: (self.encoder).forward(&batch.input_ids, &batch.attention_mask, mode)?,
            attention_mask: &batch.attention_mask,
        };
        Ok(self.head.logits(&encoded, mode)?)
    }

    /// The config.json this model is saved with.
    pub fn saved_config(&self) -> Result<EncoderConfig> {
        let mut cfg = finetuned_config(&self.folder.config, &self.labels, &self.meta)?;
        H::finish_config(&mut cfg);
        Ok(cfg)
    }

    /// Writes config.json, model.safetensors (from `varmap`) and tokenizer.json into `dir`.
    pub fn save(&self, dir: &Path, varmap: &VarMap) -> Result<()> {
        save_folder(dir, &self.saved_config()?, &self.folder, varmap)
    }
}
