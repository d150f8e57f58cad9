//! A token tagger for NER: the encoder with a token-classification head (`classifier.*`, as
//! transformers' `*ForTokenClassification`) and an optional CRF (`crf.*`), built for training
//! from a base model or loaded from a fine-tuned folder, and saved in the layout transformers
//! reads (the CRF tensors are extra; transformers ignores them).

use candle_core::Tensor;

use super::crf::{Crf, CrfScores};
use super::finetuned::FinetunedParts;
use super::heads::TokenClassifier;
use super::meta::{NabaMeta, TaskKind};
use super::task_model::{Encoded, TaskHead, TaskModel};
use super::{EncoderConfig, Mode};
use crate::error::Result;

/// Encoder + token-classification head (+ CRF), with its IOB2 labels and settings.
pub type TokenTagger = TaskModel<TaggerHead>;

/// A tagger's head: per-token logits, and the CRF over them when the model has one.
pub struct TaggerHead {
    classifier: TokenClassifier,
    crf: Option<Crf>,
}

impl TaskHead for TaggerHead {
    const TASK: TaskKind = TaskKind::Ner;
    const WHAT: &'static str = "NER tagger";

    fn needs_pooler(_config: &EncoderConfig, _meta: &NabaMeta) -> bool {
        false
    }

    fn load(parts: &FinetunedParts<'_>) -> candle_core::Result<Self> {
        let labels = parts.labels.len();
        let classifier = TokenClassifier::load(parts.vars.clone(), parts.config, labels)?;
        let crf = (parts.meta.crf)
            .then(|| Crf::load(parts.vars.clone(), labels))
            .transpose()?;
        Ok(Self { classifier, crf })
    }

    /// Emission scores `[batch, seq, labels]`.
    fn logits(&self, x: &Encoded<'_>, mode: &Mode) -> candle_core::Result<Tensor> {
        self.classifier.forward(&x.hidden, mode)
    }
}

impl TokenTagger {
    /// The CRF, when the model has one.
    pub fn crf(&self) -> Option<&Crf> {
        self.head().crf.as_ref()
    }

    /// The CRF scores on the host with IOB2-illegal moves forbidden, when the model has a CRF.
    pub fn decoding_crf(&self) -> Result<Option<CrfScores>> {
        self.crf()
            .map(|c| Ok(c.host_scores()?.forbid_iob2(&self.labels)))
            .transpose()
    }
}
