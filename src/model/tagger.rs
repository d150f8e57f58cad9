//! A token tagger for NER: the encoder with a token-classification head (`classifier.*`, as
//! transformers' `*ForTokenClassification`) and an optional CRF (`crf.*`), built for training
//! from a base model or loaded from a fine-tuned folder, and saved in the layout transformers
//! reads (the CRF tensors are extra; transformers ignores them).

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use super::batch::Batch;
use super::crf::{Crf, CrfScores};
use super::finetuned::{
    finetuned_config, frozen_prefixes, open_finetuned, save_folder, training_parts, FinetunedParts,
};
use super::heads::TokenClassifier;
use super::meta::{NabaMeta, TaskKind};
use super::{load_error, BertModel, EncoderConfig, Freeze, Mode, ModelFolder};
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

/// The modules of a tagger, built before the tokenizer is at hand.
struct Built {
    labels: Vec<String>,
    meta: NabaMeta,
    encoder: BertModel,
    head: TokenClassifier,
    crf: Option<Crf>,
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

    /// Loads a fine-tuned tagger for inference (naba's, or a transformers
    /// `*ForTokenClassification` folder without CRF); tokenizer and weights read in parallel.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (folder, built) =
            open_finetuned(dir, TaskKind::Ner, "NER tagger", device, Self::build)?;
        Ok(Self::assemble(folder, built))
    }

    /// Builds encoder, head and CRF from the parts of a folder.
    fn build(p: FinetunedParts<'_>) -> Result<Built> {
        let cfg = p.config;
        let family = cfg
            .family()
            .map_err(|m| crate::error::Error::model(p.dir.join("config.json"), m))?;
        let n = p.labels.len();
        let encoder = BertModel::load_with(p.vars.pp(family.prefix()), cfg, false, p.word_table)
            .map_err(|e| load_error(p.dir, e))?;
        let head =
            TokenClassifier::load(p.vars.clone(), cfg, n).map_err(|e| load_error(p.dir, e))?;
        let crf = if p.meta.crf {
            Some(Crf::load(p.vars, n).map_err(|e| load_error(p.dir, e))?)
        } else {
            None
        };
        Ok(Built {
            labels: p.labels,
            meta: p.meta,
            encoder,
            head,
            crf,
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
            crf: b.crf,
            normalizer,
        }
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
