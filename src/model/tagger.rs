//! A token tagger for NER: the encoder with a token-classification head (`classifier.*`, as
//! transformers' `*ForTokenClassification`) and an optional CRF (`crf.*`), built for training
//! from a base model or loaded from a fine-tuned folder, and saved in the layout transformers
//! reads (the CRF tensors are extra; transformers ignores them).

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::batch::Batch;
use super::crf::{Crf, CrfScores};
use super::finetuned::{finetuned_config, frozen_prefixes, save_folder};
use super::heads::TokenClassifier;
use super::meta::{NabaMeta, TaskKind};
use super::{BertModel, EncoderConfig, Freeze, Mode, ModelFolder};
use crate::error::Result;

/// Encoder + token-classification head (+ CRF), with its IOB2 labels and settings.
pub struct TokenTagger {
    /// Config (with labels and the `naba` block) and tokenizer.
    pub folder: ModelFolder,
    /// Tag names by id (IOB2: `O`, `B-X`, `I-X` ...).
    pub labels: Vec<String>,
    /// How the model was trained (CRF, sub-token labelling, lengths, normaliser).
    pub meta: NabaMeta,
    encoder: BertModel,
    head: TokenClassifier,
    crf: Option<Crf>,
    normalizer: crate::text::Normalizer,
}

impl TokenTagger {
    /// A tagger for `labels` on top of `base`, its variables in `varmap` (encoder from the
    /// checkpoint, head and CRF freshly initialised unless the checkpoint has fitting ones).
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

    /// Loads a fine-tuned tagger for inference (naba's, or a transformers
    /// `*ForTokenClassification` folder without CRF).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let m = super::finetuned::open_finetuned(dir, TaskKind::Ner, "NER tagger", device)?;
        Self::build(m.folder, m.labels, m.meta, m.vars)
    }

    fn build(
        folder: ModelFolder,
        labels: Vec<String>,
        meta: NabaMeta,
        vb: VarBuilder<'static>,
    ) -> Result<Self> {
        let cfg = &folder.config;
        let encoder = BertModel::load(vb.pp(folder.family().prefix()), cfg, false)
            .map_err(|e| folder.load_error(e))?;
        let head = TokenClassifier::load(vb.clone(), cfg, labels.len())
            .map_err(|e| folder.load_error(e))?;
        let crf = if meta.crf {
            Some(Crf::load(vb, labels.len()).map_err(|e| folder.load_error(e))?)
        } else {
            None
        };
        let normalizer = meta.normalizer();
        Ok(Self {
            folder,
            labels,
            meta,
            encoder,
            head,
            crf,
            normalizer,
        })
    }

    /// Name prefixes of the frozen variables (embeddings, lower layers).
    pub fn frozen_prefixes(&self) -> Vec<String> {
        frozen_prefixes(self.folder.family().prefix(), self.encoder.freeze())
    }

    /// The normaliser the model was trained with.
    pub fn normalizer(&self) -> &crate::text::Normalizer {
        &self.normalizer
    }

    /// The CRF, when the model has one.
    pub fn crf(&self) -> Option<&Crf> {
        self.crf.as_ref()
    }

    /// The CRF scores on the host with IOB2-illegal moves forbidden, when the model has a CRF.
    pub fn decoding_crf(&self) -> Result<Option<CrfScores>> {
        self.crf
            .as_ref()
            .map(|c| Ok(c.host_scores()?.forbid_iob2(&self.labels)))
            .transpose()
    }

    /// Emission scores (logits) `[batch, seq, labels]`.
    pub fn logits(&self, batch: &Batch, mode: &Mode) -> Result<Tensor> {
        let hidden = self
            .encoder
            .forward(&batch.input_ids, &batch.attention_mask, mode)?;
        Ok(self.head.forward(&hidden, mode)?)
    }

    /// The config.json this model is saved with.
    pub fn saved_config(&self) -> Result<EncoderConfig> {
        finetuned_config(&self.folder.config, &self.labels, &self.meta)
    }

    /// Writes config.json, model.safetensors (from `varmap`) and tokenizer.json into `dir`.
    pub fn save(&self, dir: &Path, varmap: &VarMap) -> Result<()> {
        save_folder(dir, &self.saved_config()?, &self.folder, varmap)
    }
}
