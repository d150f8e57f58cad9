//! NER as a training task: sentences tokenised word by word, long ones split into overlapping
//! windows (never truncated), labels on the first sub-token of each word (or on all, `B-X`
//! becoming `I-X` after the first), cross-entropy over labelled tokens or a CRF's negative
//! log-likelihood, and seqeval entity F1 on the dev set.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use crate::data::tagged::TaggedSentence;
use crate::error::{Error, Result};
use crate::infer::tag::{encode_sentences, tag_names, window_rows, TagOptions, WindowRow};
use crate::metrics::{entity_report, EntityMode, EntityReport, Scheme};
use crate::model::batch::Batch;
use crate::model::crf::CrfSequence;
use crate::model::meta::NabaMeta;
use crate::model::tagger::TokenTagger;
use crate::model::{Freeze, Mode, ModelFolder};
use crate::train::task::Task;
use crate::train::trainer::{TrainConfig, TrainSummary};

/// Encoder rows with the tag id of each labelled position (`None`: left out of the loss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NerExamples {
    /// Input rows (`[cls] ... [sep]`).
    pub ids: Vec<Vec<u32>>,
    /// Per row and position, the target tag id.
    pub targets: Vec<Vec<Option<u32>>>,
}

/// The tag that continues `tag` on later sub-tokens: `B-X` becomes `I-X`, others stay.
fn continuation(tag: &str) -> String {
    match tag.strip_prefix("B-") {
        Some(kind) => format!("I-{kind}"),
        None => tag.to_string(),
    }
}

/// Tag ids of `tags` in `labels`; an error naming the tags the model does not know.
pub fn tag_ids(
    sentences: &[TaggedSentence],
    labels: &[String],
    source: &Path,
) -> Result<Vec<Vec<u32>>> {
    let index: BTreeMap<&str, u32> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i as u32))
        .collect();
    sentences
        .iter()
        .map(|s| {
            s.tags
                .iter()
                .map(|t| {
                    index.get(t.as_str()).copied().ok_or_else(|| {
                        Error::format(
                            source,
                            s.line,
                            format!(
                                "tag {t} is not known to the model (model tags: {})",
                                labels.join(", ")
                            ),
                        )
                    })
                })
                .collect()
        })
        .collect()
}

/// Turns tagged sentences into training rows for `model`.
pub fn encode_examples(
    model: &TokenTagger,
    sentences: &[TaggedSentence],
    source: &Path,
) -> Result<NerExamples> {
    let tok = &model.folder.tokenizer;
    let normalizer = model.normalizer();
    let words: Vec<Vec<String>> = sentences.iter().map(|s| s.tokens.clone()).collect();
    let pieces = encode_sentences(tok, &words, &|w| normalizer.normalize_text(w))?;
    let tags = tag_ids(sentences, &model.labels, source)?;
    let index: BTreeMap<&str, u32> = model
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i as u32))
        .collect();
    let later: Vec<u32> = model
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            index
                .get(continuation(l).as_str())
                .copied()
                .unwrap_or(i as u32)
        })
        .collect();
    let rows: Vec<WindowRow> = window_rows(
        &pieces,
        model.meta.max_len,
        model.meta.stride,
        tok.cls_id,
        tok.sep_id,
    );
    let mut out = NerExamples {
        ids: Vec::with_capacity(rows.len()),
        targets: Vec::with_capacity(rows.len()),
    };
    for row in rows {
        let mut targets = vec![None; row.ids.len()];
        for (k, w) in row.words.clone().enumerate() {
            let tag = tags[row.sentence][w];
            for (j, p) in row.positions[k].clone().enumerate() {
                targets[p] = match j {
                    0 => Some(tag),
                    _ if model.meta.label_all_subtokens => Some(later[tag as usize]),
                    _ => None,
                };
            }
        }
        out.ids.push(row.ids);
        out.targets.push(targets);
    }
    Ok(out)
}

/// Entity scores of predicted against gold tags: seqeval's default-mode report and its strict
/// IOB2 counterpart.
#[derive(Debug, Clone)]
pub struct NerScores {
    /// Default (conlleval) mode.
    pub default: EntityReport,
    /// Strict IOB2 mode.
    pub strict: EntityReport,
}

impl NerScores {
    /// Scores `pred` against `gold`.
    pub fn compute(gold: &[Vec<String>], pred: &[Vec<String>]) -> Result<Self> {
        Ok(Self {
            default: entity_report(gold, pred, EntityMode::Default)?,
            strict: entity_report(gold, pred, EntityMode::Strict(Scheme::Iob2))?,
        })
    }

    /// The dev metrics the trainer logs and selects on (`f1` is micro F1, default mode).
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("f1".to_string(), self.default.micro.f1),
            ("precision".to_string(), self.default.micro.precision),
            ("recall".to_string(), self.default.micro.recall),
            ("macro_f1".to_string(), self.default.macro_avg.f1),
            ("strict_f1".to_string(), self.strict.micro.f1),
        ])
    }
}

/// NER bound to a model, training rows and a dev set.
pub struct NerTask {
    /// The model being trained.
    pub model: TokenTagger,
    varmap: VarMap,
    train: NerExamples,
    lengths: Vec<usize>,
    dev: Vec<TaggedSentence>,
    device: Device,
}

impl NerTask {
    /// Binds `model` (variables in `varmap`) to training rows and dev sentences.
    pub fn new(
        model: TokenTagger,
        varmap: VarMap,
        train: NerExamples,
        dev: Vec<TaggedSentence>,
        device: Device,
    ) -> Self {
        let lengths = train.ids.iter().map(Vec::len).collect();
        Self {
            model,
            varmap,
            train,
            lengths,
            dev,
            device,
        }
    }
}

impl Task for NerTask {
    fn train_lengths(&self) -> &[usize] {
        &self.lengths
    }

    fn loss(&self, indices: &[usize], mode: &Mode) -> Result<(Tensor, usize)> {
        let rows: Vec<&[u32]> = indices
            .iter()
            .map(|&i| self.train.ids[i].as_slice())
            .collect();
        let batch = Batch::from_rows(&rows, self.model.folder.tokenizer.pad_id, &self.device)?;
        let logits = self.model.logits(&batch, mode)?;
        let (b, width, l) = logits.dims3()?;
        let flat = logits.reshape((b * width, l))?;
        let mut sequences = Vec::with_capacity(b);
        for (r, &i) in indices.iter().enumerate() {
            let mut seq = CrfSequence {
                rows: Vec::new(),
                tags: Vec::new(),
            };
            for (p, t) in self.train.targets[i].iter().enumerate() {
                if let Some(t) = t {
                    seq.rows.push((r * width + p) as u32);
                    seq.tags.push(*t);
                }
            }
            sequences.push(seq);
        }
        let loss = match self.model.crf() {
            Some(crf) => crf.nll(&flat, &sequences)?,
            None => {
                let positions: Vec<u32> = sequences.iter().flat_map(|s| s.rows.clone()).collect();
                let targets: Vec<u32> = sequences.iter().flat_map(|s| s.tags.clone()).collect();
                if positions.is_empty() {
                    (flat.sum_all()? * 0.0)?
                } else {
                    let picked = flat.index_select(&Tensor::new(positions, &self.device)?, 0)?;
                    let targets = Tensor::new(targets, &self.device)?;
                    super::losses::cross_entropy(&picked, &targets, None)?
                }
            }
        };
        Ok((loss, batch.lengths.iter().sum()))
    }

    fn evaluate(&self) -> Result<BTreeMap<String, f64>> {
        let words: Vec<Vec<String>> = self.dev.iter().map(|s| s.tokens.clone()).collect();
        let pred = tag_names(&self.model, &words, &TagOptions::default(), &self.device)?;
        let gold: Vec<Vec<String>> = self.dev.iter().map(|s| s.tags.clone()).collect();
        Ok(NerScores::compute(&gold, &pred)?.metrics())
    }

    fn model(&self) -> &dyn crate::train::task::TrainedModel {
        &self.model
    }

    fn varmap(&self) -> &VarMap {
        &self.varmap
    }
}

/// Everything a NER training run needs besides the loop settings.
#[derive(Debug, Clone)]
pub struct NerTrainSpec {
    /// Base model (folder, hub id or `pypi:multilingual-e5-small`).
    pub base_model: String,
    /// Training sentences (IOB2 tags).
    pub train: Vec<TaggedSentence>,
    /// Dev sentences (IOB2 tags).
    pub dev: Vec<TaggedSentence>,
    /// Where the training sentences came from (for error messages).
    pub train_source: std::path::PathBuf,
    /// CRF, sub-token labelling, lengths, normaliser (task must be NER).
    pub meta: NabaMeta,
    /// Frozen parts of the encoder.
    pub freeze: Freeze,
}

/// The IOB2 label list of `sentences`: `O`, then `B-T`, `I-T` for each sorted type.
pub fn labels_of(sentences: &[TaggedSentence]) -> Vec<String> {
    let seqs: Vec<&[String]> = sentences.iter().map(|s| s.tags.as_slice()).collect();
    crate::data::tags::iob2_labels(crate::data::tags::entity_types(&seqs))
}

/// Trains a NER tagger as `spec` and `cfg` say; the best model (by the dev metric, `f1` by
/// default) ends up in `cfg.output_dir`.
pub fn train_ner(spec: NerTrainSpec, cfg: &TrainConfig, resume: bool) -> Result<TrainSummary> {
    let device = Device::Cpu;
    let base = ModelFolder::open(&spec.base_model)?;
    let mut all = spec.train.clone();
    all.extend(spec.dev.iter().cloned());
    let labels = labels_of(&all);
    if labels.len() < 2 {
        return Err(Error::Invalid(
            "the training data has no entity tags".to_string(),
        ));
    }
    let mut meta = spec.meta.clone();
    meta.base_model = spec.base_model.clone();
    meta.max_len = meta.max_len.min(base.config.max_sequence_length());
    let varmap = VarMap::new();
    let mut model =
        TokenTagger::for_training(&base, labels, meta, spec.freeze, &varmap, &device, cfg.seed)?;
    if cfg.adamw.lazy_embeddings && !spec.freeze.embeddings {
        model.encoder_mut().track_word_rows();
    }
    let train = encode_examples(&model, &spec.train, &spec.train_source)?;
    let task = NerTask::new(model, varmap, train, spec.dev, device);
    crate::train::trainer::train(&task, cfg, resume)
}

/// A NER evaluation: scores and the predicted tags of every sentence.
pub struct NerEvaluation {
    /// Default and strict IOB2 scores.
    pub scores: NerScores,
    /// Predicted IOB2 tags, one sequence per sentence.
    pub predictions: Vec<Vec<String>>,
}

/// Tags `sentences` with `model` and scores the result against their gold tags.
pub fn evaluate_ner(
    model: &TokenTagger,
    sentences: &[TaggedSentence],
    opts: &TagOptions,
) -> Result<NerEvaluation> {
    let words: Vec<Vec<String>> = sentences.iter().map(|s| s.tokens.clone()).collect();
    let predictions = tag_names(model, &words, opts, &Device::Cpu)?;
    let gold: Vec<Vec<String>> = sentences.iter().map(|s| s.tags.clone()).collect();
    Ok(NerEvaluation {
        scores: NerScores::compute(&gold, &predictions)?,
        predictions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_sub_tokens_continue_the_entity() {
        assert_eq!(continuation("B-LOC"), "I-LOC");
        assert_eq!(continuation("I-LOC"), "I-LOC");
        assert_eq!(continuation("O"), "O");
    }
}
