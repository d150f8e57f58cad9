//! Entity-level NER scores identical to seqeval 1.2.2 (`classification_report`, `f1_score` ...
//! with `zero_division=0`): per-type precision, recall, F1 and support, and micro, macro and
//! weighted averages, in the default (conlleval-compatible) mode or in strict mode.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::chunks::{corpus_chunks, default_chunks, Chunk};
use super::prf::{macro_average, micro_average, weighted_average, Counts, F1Formula, Prf};
use super::scheme::{strict_chunks, Scheme};
use super::table::{render_table, Row};
use crate::error::{Error, Result};

/// How entities are read from tags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityMode {
    /// seqeval's default mode (`mode=None`), compatible with conlleval: loose chunking where
    /// an `I-` without `B-` starts an entity and a type change ends one.
    #[default]
    Default,
    /// seqeval's `mode='strict'` with the given scheme: only well-formed entities count, and a
    /// prefix the scheme does not allow is an error.
    Strict(Scheme),
}

impl std::fmt::Display for EntityMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntityMode::Default => f.write_str("default"),
            EntityMode::Strict(scheme) => write!(f, "strict {scheme}"),
        }
    }
}

/// Options of entity scoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntityOptions {
    /// How entities are read.
    pub mode: EntityMode,
    /// Tags carry the prefix at the end (`PER-B`), seqeval's `suffix=True`.
    pub suffix: bool,
}

/// Entity-level scores of a corpus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityReport {
    /// The mode the scores were computed in (`default`, `strict IOB2` ...).
    pub mode: String,
    /// Scores of each entity type found in the gold or the predicted tags, sorted by type.
    pub per_type: BTreeMap<String, Prf>,
    /// True positives, predicted and gold entity counts of each type.
    pub counts: BTreeMap<String, Counts>,
    /// Micro average: scores of the counts summed over types (the usual "entity F1").
    pub micro: Prf,
    /// Macro average: unweighted mean over types (NaN, as in seqeval, when there are no types).
    pub macro_avg: Prf,
    /// Mean over types weighted by gold support (all 0 when there are no gold entities).
    pub weighted: Prf,
}

impl EntityReport {
    /// The report as seqeval's `classification_report` prints it, with `digits` decimals.
    pub fn render(&self, digits: usize) -> String {
        let mut rows: Vec<Row> = self
            .per_type
            .iter()
            .map(|(kind, prf)| Row::Scores(kind, *prf))
            .collect();
        rows.push(Row::Blank);
        rows.push(Row::Scores("micro avg", self.micro));
        rows.push(Row::Scores("macro avg", self.macro_avg));
        rows.push(Row::Scores("weighted avg", self.weighted));
        render_table(&rows, digits)
    }
}

/// Entity-level scores of `pred` against `gold` (one tag sequence per sentence), with seqeval's
/// prefix-first tags. Errors when the shapes differ or, in strict mode, a tag is not allowed.
pub fn entity_report<S: AsRef<str>>(
    gold: &[Vec<S>],
    pred: &[Vec<S>],
    mode: EntityMode,
) -> Result<EntityReport> {
    entity_report_with(
        gold,
        pred,
        EntityOptions {
            mode,
            suffix: false,
        },
    )
}

/// [`entity_report`] with every option.
pub fn entity_report_with<S: AsRef<str>>(
    gold: &[Vec<S>],
    pred: &[Vec<S>],
    options: EntityOptions,
) -> Result<EntityReport> {
    check_same_shape(gold, pred)?;
    let gold_entities = corpus_entities(gold, options)?;
    let pred_entities = corpus_entities(pred, options)?;
    let kinds: BTreeSet<&String> = gold_entities.keys().chain(pred_entities.keys()).collect();

    let empty = BTreeSet::new();
    let mut counts = BTreeMap::new();
    for kind in kinds {
        let gold_set = gold_entities.get(kind).unwrap_or(&empty);
        let pred_set = pred_entities.get(kind).unwrap_or(&empty);
        let class_counts = Counts {
            true_positives: gold_set.intersection(pred_set).count(),
            predicted: pred_set.len(),
            gold: gold_set.len(),
        };
        counts.insert(kind.clone(), class_counts);
    }
    let per_type: BTreeMap<String, Prf> = counts
        .iter()
        .map(|(kind, c)| (kind.clone(), c.scores(F1Formula::FromRatios)))
        .collect();
    let type_scores: Vec<Prf> = per_type.values().copied().collect();
    let all_counts: Vec<Counts> = counts.values().copied().collect();
    Ok(EntityReport {
        mode: options.mode.to_string(),
        micro: micro_average(&all_counts, F1Formula::FromRatios),
        macro_avg: macro_average(&type_scores),
        weighted: weighted_average(&type_scores),
        per_type,
        counts,
    })
}

/// Micro-averaged entity F1 (seqeval's `f1_score` with `average='micro'`).
pub fn entity_f1<S: AsRef<str>>(gold: &[Vec<S>], pred: &[Vec<S>], mode: EntityMode) -> Result<f64> {
    Ok(entity_report(gold, pred, mode)?.micro.f1)
}

/// The entities of one sentence's tags, as the given options read them (end exclusive).
pub fn sentence_entities<S: AsRef<str>>(tags: &[S], options: EntityOptions) -> Result<Vec<Chunk>> {
    match options.mode {
        EntityMode::Default => default_chunks(tags, options.suffix),
        EntityMode::Strict(scheme) => strict_chunks(tags, scheme, options.suffix, 0),
    }
}

/// Entity positions grouped by type: `(sentence or 0, start, end)`.
type EntitySets = BTreeMap<String, BTreeSet<(usize, usize, usize)>>;

fn corpus_entities<S: AsRef<str>>(
    sentences: &[Vec<S>],
    options: EntityOptions,
) -> Result<EntitySets> {
    let mut sets = EntitySets::new();
    match options.mode {
        EntityMode::Default => {
            // Positions in the flattened corpus, as seqeval's default mode counts them.
            for chunk in corpus_chunks(sentences, options.suffix)? {
                sets.entry(chunk.kind)
                    .or_default()
                    .insert((0, chunk.start, chunk.end));
            }
        }
        EntityMode::Strict(scheme) => {
            for (s, tags) in sentences.iter().enumerate() {
                for chunk in strict_chunks(tags, scheme, options.suffix, s)? {
                    sets.entry(chunk.kind)
                        .or_default()
                        .insert((s, chunk.start, chunk.end));
                }
            }
        }
    }
    Ok(sets)
}

/// seqeval's `check_consistent_length`: same number of sentences, same length each.
fn check_same_shape<S: AsRef<str>>(gold: &[Vec<S>], pred: &[Vec<S>]) -> Result<()> {
    if gold.len() != pred.len() {
        return Err(Error::Invalid(format!(
            "{} gold sentences but {} predicted sentences",
            gold.len(),
            pred.len()
        )));
    }
    for (s, (g, p)) in gold.iter().zip(pred).enumerate() {
        if g.len() != p.len() {
            return Err(Error::Invalid(format!(
                "sentence {}: {} gold tags but {} predicted tags",
                s + 1,
                g.len(),
                p.len()
            )));
        }
    }
    Ok(())
}
