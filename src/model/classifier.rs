//! A topic classifier: the encoder with a sequence-classification head ([`TaskModel`] with a
//! [`SequenceClassifier`]), built for training from a base model or loaded from a fine-tuned
//! folder (naba's or a transformers `*ForSequenceClassification` checkpoint), and saved in the
//! layout transformers reads.

use candle_core::Tensor;

use super::finetuned::FinetunedParts;
use super::heads::SequenceClassifier;
use super::meta::{NabaMeta, TaskKind};
use super::task_model::{Encoded, TaskHead, TaskModel};
use super::{EncoderConfig, Mode};

pub use super::finetuned::read_meta;

/// Encoder + sequence-classification head, with its labels and settings.
pub type TopicClassifier = TaskModel<SequenceClassifier>;

impl TaskHead for SequenceClassifier {
    const TASK: TaskKind = TaskKind::Topic;
    const WHAT: &'static str = "topic classifier";

    fn needs_pooler(config: &EncoderConfig, meta: &NabaMeta) -> bool {
        SequenceClassifier::needs_pooler(config, meta.pooling)
    }

    fn load(parts: &FinetunedParts<'_>) -> candle_core::Result<Self> {
        let (labels, pooling) = (parts.labels.len(), parts.meta.pooling);
        SequenceClassifier::load(parts.vars.clone(), parts.config, labels, pooling)
    }

    fn logits(&self, x: &Encoded<'_>, mode: &Mode) -> candle_core::Result<Tensor> {
        self.forward(x.encoder, &x.hidden, x.attention_mask, mode)
    }

    fn finish_config(config: &mut EncoderConfig) {
        config
            .extra
            .insert("problem_type".into(), "single_label_classification".into());
    }
}
