//! NER tagging of word sequences: words tokenised in pre-tokenized mode, long sentences read in
//! overlapping windows cut at word boundaries (each word keeps the prediction of the window where
//! it is farthest from an edge), sub-token scores aggregated to words (`first`, `average`,
//! `max`), then a tag per word by argmax or, with a CRF, by Viterbi over the whole sentence.

use std::ops::Range;

use candle_core::Device;
use serde::Serialize;

use super::windows::{best_window_per_word, word_windows};
use crate::error::Result;
use crate::model::batch::{length_buckets, Batch};
use crate::model::crf::softmax_rows;
use crate::model::tagger::TokenTagger;
use crate::model::{Mode, TextTokenizer};

/// How the scores of a word's sub-tokens become the word's scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The first sub-token's scores (how the model is trained by default).
    #[default]
    First,
    /// The mean over sub-tokens (of probabilities; of logits for CRF decoding).
    Average,
    /// The sub-token with the most confident prediction.
    Max,
}

/// A sentence's words as token ids (no special tokens) with each word's token range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordPieces {
    /// Token ids of the whole sentence.
    pub ids: Vec<u32>,
    /// Token range of each word in `ids` (never empty when the vocabulary has an unknown token).
    pub words: Vec<Range<usize>>,
}

/// Tokenises sentences given as words (each word normalised with `normalize` first).
pub fn encode_sentences(
    tokenizer: &TextTokenizer,
    sentences: &[Vec<String>],
    normalize: &(dyn Fn(&str) -> String + Sync),
) -> Result<Vec<WordPieces>> {
    let normalized: Vec<Vec<String>> = sentences
        .iter()
        .map(|s| s.iter().map(|w| normalize(w)).collect())
        .collect();
    let refs: Vec<Vec<&str>> = normalized
        .iter()
        .map(|s| s.iter().map(String::as_str).collect())
        .collect();
    let encoded = tokenizer.encode_words_batch(&refs)?;
    Ok(encoded
        .into_iter()
        .zip(sentences)
        .map(|(e, s)| {
            let mut words = vec![0..0; s.len()];
            for (t, w) in e.words.iter().enumerate() {
                if let Some(w) = w.map(|w| w as usize).filter(|&w| w < words.len()) {
                    if words[w].is_empty() {
                        words[w] = t..t + 1;
                    } else {
                        words[w].end = t + 1;
                    }
                }
            }
            WordPieces { ids: e.ids, words }
        })
        .collect())
}

/// One encoder input row: a window of a sentence's words wrapped in special tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRow {
    /// The sentence it comes from.
    pub sentence: usize,
    /// The words it covers.
    pub words: Range<usize>,
    /// `[cls] tokens [sep]`, at most `max_len` long.
    pub ids: Vec<u32>,
    /// Position range of each covered word in `ids` (empty for a word without tokens).
    pub positions: Vec<Range<usize>>,
}

/// Cuts every sentence into windows of at most `max_len` tokens (special tokens included),
/// `stride` tokens apart, cut at word boundaries. Sentences without words give no row.
pub fn window_rows(
    pieces: &[WordPieces],
    max_len: usize,
    stride: usize,
    cls: u32,
    sep: u32,
) -> Vec<WindowRow> {
    let width = max_len.saturating_sub(2).max(1);
    let mut rows = Vec::new();
    for (s, p) in pieces.iter().enumerate() {
        let counts: Vec<usize> = p.words.iter().map(|r| r.len()).collect();
        for words in word_windows(&counts, width, stride) {
            let mut ids = vec![cls];
            let mut positions = Vec::with_capacity(words.len());
            for w in words.clone() {
                let tokens = &p.ids[p.words[w].clone()];
                let take = tokens.len().min(width + 1 - ids.len());
                positions.push(ids.len()..ids.len() + take);
                ids.extend_from_slice(&tokens[..take]);
            }
            ids.push(sep);
            rows.push(WindowRow {
                sentence: s,
                words,
                ids,
                positions,
            });
        }
    }
    rows
}

/// Tagging settings.
#[derive(Debug, Clone, Copy)]
pub struct TagOptions {
    /// Sub-token aggregation.
    pub aggregation: Aggregation,
    /// Padded tokens per batch.
    pub batch_tokens: usize,
}

impl Default for TagOptions {
    fn default() -> Self {
        Self {
            aggregation: Aggregation::First,
            batch_tokens: 8192,
        }
    }
}

/// The tag of one word.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordTag {
    /// Tag id in the model's labels.
    pub label_id: usize,
    /// Probability of that tag (softmax of the word's aggregated scores).
    pub score: f32,
}

/// A word's aggregated logits and probabilities.
type WordScores = (Vec<f32>, Vec<f32>);

/// Aggregates the score rows of one word's sub-tokens into one row of logits and one of
/// probabilities.
fn aggregate(logits: &[Vec<f32>], how: Aggregation) -> WordScores {
    let probs = softmax_rows(logits);
    match how {
        Aggregation::First => (logits[0].clone(), probs[0].clone()),
        Aggregation::Average => {
            let n = logits.len() as f32;
            let mean = |rows: &[Vec<f32>]| -> Vec<f32> {
                (0..rows[0].len())
                    .map(|j| rows.iter().map(|r| r[j]).sum::<f32>() / n)
                    .collect()
            };
            (mean(logits), mean(&probs))
        }
        Aggregation::Max => {
            let top = |p: &Vec<f32>| p.iter().copied().fold(f32::MIN, f32::max);
            let best = (0..probs.len())
                .max_by(|&a, &b| top(&probs[a]).total_cmp(&top(&probs[b])).then(b.cmp(&a)))
                .unwrap_or(0);
            (logits[best].clone(), probs[best].clone())
        }
    }
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len())
        .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// Tags every word of `sentences` (words as in the source; the model's normaliser is applied to
/// each). Words the tokenizer turns into nothing get `O` (id of `O`, else 0) with score 0.
pub fn tag_sentences(
    model: &TokenTagger,
    sentences: &[Vec<String>],
    opts: &TagOptions,
    device: &Device,
) -> Result<Vec<Vec<WordTag>>> {
    let tok = &model.folder.tokenizer;
    let normalizer = model.normalizer();
    let pieces = encode_sentences(tok, sentences, &|w| normalizer.normalize_text(w))?;
    let rows = window_rows(
        &pieces,
        model.meta.max_len,
        model.meta.stride,
        tok.cls_id,
        tok.sep_id,
    );
    // for each sentence, the chosen window of each word
    let mut sentence_rows: Vec<Vec<usize>> = vec![Vec::new(); sentences.len()];
    for (r, row) in rows.iter().enumerate() {
        sentence_rows[row.sentence].push(r);
    }
    let mut chosen: Vec<Vec<usize>> = Vec::with_capacity(sentences.len());
    for (s, rs) in sentence_rows.iter().enumerate() {
        let ranges: Vec<Range<usize>> = rs.iter().map(|&r| rows[r].words.clone()).collect();
        let best = best_window_per_word(&ranges, sentences[s].len());
        chosen.push(
            best.into_iter()
                .map(|b| rs.get(b).copied().unwrap_or(usize::MAX))
                .collect(),
        );
    }
    // word logits / probabilities, filled from the rows that own each word
    let n_labels = model.labels.len();
    let mut word_scores: Vec<Vec<Option<WordScores>>> =
        sentences.iter().map(|s| vec![None; s.len()]).collect();
    let lengths: Vec<usize> = rows.iter().map(|r| r.ids.len()).collect();
    for bucket in length_buckets(&lengths, opts.batch_tokens, 64) {
        let batch_rows: Vec<&[u32]> = bucket.iter().map(|&i| rows[i].ids.as_slice()).collect();
        let batch = Batch::from_rows(&batch_rows, tok.pad_id, device)?;
        let logits = model.logits(&batch, &Mode::Eval)?.to_vec3::<f32>()?;
        for (row_logits, &r) in logits.into_iter().zip(&bucket) {
            let row = &rows[r];
            for (k, w) in row.words.clone().enumerate() {
                let positions = row.positions[k].clone();
                if chosen[row.sentence][w] != r || positions.is_empty() {
                    continue;
                }
                let sub: Vec<Vec<f32>> = positions.map(|p| row_logits[p].clone()).collect();
                word_scores[row.sentence][w] = Some(aggregate(&sub, opts.aggregation));
            }
        }
    }
    let outside = model.labels.iter().position(|l| l == "O").unwrap_or(0);
    let crf = model.decoding_crf()?;
    let mut out = Vec::with_capacity(sentences.len());
    for words in word_scores {
        let tags: Vec<WordTag> = match &crf {
            None => words
                .iter()
                .map(|w| match w {
                    Some((_, probs)) => {
                        let label_id = argmax(probs);
                        WordTag {
                            label_id,
                            score: probs[label_id],
                        }
                    }
                    None => WordTag {
                        label_id: outside,
                        score: 0.0,
                    },
                })
                .collect(),
            Some(crf) => {
                // words without tokens read as a certain O
                let emissions: Vec<Vec<f32>> = words
                    .iter()
                    .map(|w| match w {
                        Some((logits, _)) => logits.clone(),
                        None => (0..n_labels)
                            .map(|j| if j == outside { 0.0 } else { -1e4 })
                            .collect(),
                    })
                    .collect();
                let path = crf.viterbi(&emissions);
                let probs = softmax_rows(&emissions);
                path.into_iter()
                    .zip(probs)
                    .zip(&words)
                    .map(|((label_id, p), w)| WordTag {
                        label_id,
                        score: if w.is_some() { p[label_id] } else { 0.0 },
                    })
                    .collect()
            }
        };
        out.push(tags);
    }
    Ok(out)
}

/// [`tag_sentences`] returning tag names.
pub fn tag_names(
    model: &TokenTagger,
    sentences: &[Vec<String>],
    opts: &TagOptions,
    device: &Device,
) -> Result<Vec<Vec<String>>> {
    Ok(tag_sentences(model, sentences, opts, device)?
        .into_iter()
        .map(|s| {
            s.into_iter()
                .map(|t| model.labels[t.label_id].clone())
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_wrap_windows_and_point_at_each_words_tokens() {
        let pieces = vec![WordPieces {
            ids: vec![10, 11, 12, 13, 14, 15, 16],
            words: vec![0..2, 2..3, 3..6, 6..7],
        }];
        let rows = window_rows(&pieces, 6, 2, 1, 2);
        assert!(rows.len() >= 2);
        for row in &rows {
            assert!(row.ids.len() <= 6 && row.ids[0] == 1 && *row.ids.last().unwrap() == 2);
            for (k, w) in row.words.clone().enumerate() {
                let want = &pieces[0].ids[pieces[0].words[w].clone()];
                assert_eq!(&row.ids[row.positions[k].clone()], want);
            }
        }
        assert_eq!(rows.last().unwrap().words.end, 4);
    }

    #[test]
    fn aggregation_strategies() {
        let logits = vec![vec![2.0, 0.0], vec![0.0, 5.0]];
        assert_eq!(argmax(&aggregate(&logits, Aggregation::First).1), 0);
        assert_eq!(argmax(&aggregate(&logits, Aggregation::Max).1), 1);
        let (mean_logits, mean_probs) = aggregate(&logits, Aggregation::Average);
        assert_eq!(mean_logits, vec![1.0, 2.5]);
        assert!((mean_probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
