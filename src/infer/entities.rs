//! Entities in raw text: the text is normalised as the model expects (keeping the map back to
//! the original), split into words, tagged, and IOB2 tags are decoded into spans whose offsets
//! point into the ORIGINAL text.

use candle_core::Device;
use serde::Serialize;

use super::tag::{tag_sentences, TagOptions, WordTag};
use crate::error::Result;
use crate::metrics::{sentence_entities, EntityOptions};
use crate::model::tagger::TokenTagger;
use crate::text::{split_words, Normalized};

/// One entity found in a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntitySpan {
    /// The entity as written in the original text
    /// (`original.chars().skip(start).take(end - start)`).
    pub text: String,
    /// Entity type (`PERS`, `LOC` ...).
    pub label: String,
    /// First character (Unicode scalar value) in the original text, 0-based.
    pub start: usize,
    /// One past the last character in the original text.
    pub end: usize,
    /// First byte in the original text (UTF-8).
    pub start_byte: usize,
    /// One past the last byte in the original text.
    pub end_byte: usize,
    /// Mean probability of the tags chosen for the entity's words.
    pub score: f32,
}

/// Decodes one text's word tags into entity spans. `words` are byte ranges in the normalised
/// text, `tags` their IOB2 tags with scores, `labels` the tag names; entities are read as
/// seqeval's default mode reads them (an `I-X` after `O` starts an entity).
pub fn spans_from_tags(
    original: &str,
    normalized: &Normalized,
    words: &[std::ops::Range<usize>],
    tags: &[WordTag],
    labels: &[String],
) -> Result<Vec<EntitySpan>> {
    let names: Vec<&str> = tags.iter().map(|t| labels[t.label_id].as_str()).collect();
    let mut out = Vec::new();
    for chunk in sentence_entities(&names, EntityOptions::default())? {
        let (first, last) = (&words[chunk.start], &words[chunk.end - 1]);
        let bytes = normalized.original_byte_range(first.start..last.end);
        let start = original[..bytes.start].chars().count();
        let text = original[bytes.clone()].to_string();
        let end = start + text.chars().count();
        let score = tags[chunk.start..chunk.end]
            .iter()
            .map(|t| t.score)
            .sum::<f32>()
            / (chunk.end - chunk.start) as f32;
        out.push(EntitySpan {
            text,
            label: chunk.kind,
            start,
            end,
            start_byte: bytes.start,
            end_byte: bytes.end,
            score,
        });
    }
    Ok(out)
}

/// Finds the entities of each text.
pub fn extract_entities(
    model: &TokenTagger,
    texts: &[&str],
    opts: &TagOptions,
    device: &Device,
) -> Result<Vec<Vec<EntitySpan>>> {
    let normalized: Vec<Normalized> = texts
        .iter()
        .map(|t| model.normalizer().normalize(t))
        .collect();
    let word_ranges: Vec<Vec<std::ops::Range<usize>>> = normalized
        .iter()
        .map(|n| {
            split_words(n.text())
                .into_iter()
                .map(|w| w.start..w.end)
                .collect()
        })
        .collect();
    let sentences: Vec<Vec<String>> = normalized
        .iter()
        .zip(&word_ranges)
        .map(|(n, ws)| ws.iter().map(|r| n.text()[r.clone()].to_string()).collect())
        .collect();
    let tags = tag_sentences(model, &sentences, opts, device)?;
    texts
        .iter()
        .zip(&normalized)
        .zip(&word_ranges)
        .zip(&tags)
        .map(|(((t, n), ws), tags)| spans_from_tags(t, n, ws, tags, &model.labels))
        .collect()
}
