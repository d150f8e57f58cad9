//! Entity chunks in seqeval's default mode, which is compatible with conlleval: a line-by-line
//! port of `seqeval.metrics.sequence_labeling.get_entities`, `end_of_chunk` and
//! `start_of_chunk` (seqeval 1.2.2).
//!
//! The reading is loose on purpose: an `I-X` after `O` or after another type starts an entity,
//! a type change ends one, `E-`/`S-` prefixes close one, and tags without a known prefix are
//! read letter by letter as seqeval does (the first character is the prefix, the rest after the
//! first `-` the type; with `suffix` the last character and what precedes the last `-`).

use crate::error::{Error, Result};

/// One entity found in a tag sequence: its type and the token range `start..end` (end exclusive).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Chunk {
    /// Entity type (`PER`, `LOC` ...; `_` when the tag has none).
    pub kind: String,
    /// Index of the first token.
    pub start: usize,
    /// Index one past the last token (exclusive, as seqeval's strict mode counts; its default
    /// mode's `get_entities` gives the last token instead).
    pub end: usize,
}

/// The chunks of one flat tag sequence in seqeval's default mode (`get_entities(seq, suffix)`;
/// seqeval reports the last index, naba one past it).
///
/// To score a corpus, seqeval joins its sentences with an `O` between them and reads the
/// result as one sequence; [`crate::metrics::entity_report`] does the same. An empty tag is an
/// error (seqeval fails on it too).
pub fn default_chunks<S: AsRef<str>>(tags: &[S], suffix: bool) -> Result<Vec<Chunk>> {
    let mut chunks = Vec::new();
    let mut prev_prefix = 'O';
    let mut prev_kind = String::new();
    let mut begin = 0;
    let closing = ["O"];
    for (i, tag) in tags.iter().map(AsRef::as_ref).chain(closing).enumerate() {
        let (prefix, kind) = split_tag(tag, suffix)
            .ok_or_else(|| Error::Invalid(format!("empty tag at position {}", i + 1)))?;
        if ends_chunk(prev_prefix, prefix, &prev_kind, &kind) {
            chunks.push(Chunk {
                kind: prev_kind.clone(),
                start: begin,
                end: i,
            });
        }
        if starts_chunk(prev_prefix, prefix, &prev_kind, &kind) {
            begin = i;
        }
        prev_prefix = prefix;
        prev_kind = kind;
    }
    Ok(chunks)
}

/// The chunks of a corpus as seqeval's default mode sees it: sentences flattened with one `O`
/// after each, positions counted in that flat sequence. Errors name the sentence and token.
pub(crate) fn corpus_chunks<S: AsRef<str>>(
    sentences: &[Vec<S>],
    suffix: bool,
) -> Result<Vec<Chunk>> {
    let mut flat: Vec<&str> = Vec::new();
    for (s, sentence) in sentences.iter().enumerate() {
        for (t, tag) in sentence.iter().enumerate() {
            if tag.as_ref().is_empty() {
                return Err(Error::Invalid(format!(
                    "sentence {}, token {}: empty tag",
                    s + 1,
                    t + 1
                )));
            }
            flat.push(tag.as_ref());
        }
        flat.push("O");
    }
    default_chunks(&flat, suffix)
}

/// Prefix letter and type of a tag, as seqeval's `get_entities` splits it; `None` for "".
fn split_tag(tag: &str, suffix: bool) -> Option<(char, String)> {
    let (prefix, rest) = if suffix {
        let prefix = tag.chars().next_back()?;
        let rest = &tag[..tag.len() - prefix.len_utf8()];
        (
            prefix,
            rest.rsplit_once('-').map_or(rest, |(before, _)| before),
        )
    } else {
        let prefix = tag.chars().next()?;
        let rest = &tag[prefix.len_utf8()..];
        (
            prefix,
            rest.split_once('-').map_or(rest, |(_, after)| after),
        )
    };
    let kind = if rest.is_empty() { "_" } else { rest };
    Some((prefix, kind.to_string()))
}

/// seqeval's `end_of_chunk`: did a chunk end between the previous and the current token?
fn ends_chunk(prev_prefix: char, prefix: char, prev_kind: &str, kind: &str) -> bool {
    matches!(prev_prefix, 'E' | 'S')
        || (matches!(prev_prefix, 'B' | 'I') && matches!(prefix, 'B' | 'S' | 'O'))
        || (prev_prefix != 'O' && prev_prefix != '.' && prev_kind != kind)
}

/// seqeval's `start_of_chunk`: did a chunk start at the current token?
fn starts_chunk(prev_prefix: char, prefix: char, prev_kind: &str, kind: &str) -> bool {
    matches!(prefix, 'B' | 'S')
        || (matches!(prev_prefix, 'E' | 'S' | 'O') && matches!(prefix, 'E' | 'I'))
        || (prefix != 'O' && prefix != '.' && prev_kind != kind)
}
