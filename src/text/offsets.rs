//! The offset map from normalised text back to the original: [`Normalized`].
//!
//! Every character of the normalised text records the byte and char range of the original
//! that produced it. Characters that a step removes either join the range of the character
//! before them (diacritics and tatweel belong to their letter; a collapsed whitespace run
//! becomes one space covering the run) or are left out as gaps (invisible marks, whitespace
//! trimmed at either end, marks with nothing before them). A span of normalised text therefore
//! maps back to the original from the start of its first character to the end of its last,
//! interior gaps included, edge gaps excluded.
//!
//! Why not `tokenizers::NormalizedString`: its `filter` and `transform` drop the alignment of
//! every removed character, so `كَتَبَ` → `كتب` maps back to `كَتَب` (the last fatha is cut
//! off an entity), and canonical composition (ا + ٓ → آ) keeps only the first character's
//! range. It also stores one `(usize, usize)` per normalised *byte* and rebuilds string and
//! alignments at every step, and its NFKC works on the whole string only. This map is one
//! entry per normalised *char*, built in a single pass.

use std::ops::Range;

/// Where one normalised character came from in the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    /// First byte in the original.
    pub byte_start: usize,
    /// One past the last byte in the original.
    pub byte_end: usize,
    /// First char index in the original.
    pub char_start: usize,
    /// One past the last char index in the original.
    pub char_end: usize,
}

impl Origin {
    /// The smallest origin covering both.
    pub fn union(&self, other: &Origin) -> Origin {
        Origin {
            byte_start: self.byte_start.min(other.byte_start),
            byte_end: self.byte_end.max(other.byte_end),
            char_start: self.char_start.min(other.char_start),
            char_end: self.char_end.max(other.char_end),
        }
    }
}

/// One normalised character: its first byte in the normalised text and its origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub norm_byte: usize,
    pub origin: Origin,
}

/// Normalised text with the map back to the original it was made from.
#[derive(Debug, Clone)]
pub struct Normalized {
    text: String,
    /// One entry per char of `text`; `None` when `text` is the original unchanged.
    map: Option<Vec<Entry>>,
    original_bytes: usize,
    original_chars: usize,
}

impl Normalized {
    /// The original text itself (nothing changed).
    pub(crate) fn identity(original: &str) -> Self {
        Self {
            text: original.to_string(),
            map: None,
            original_bytes: original.len(),
            original_chars: original.chars().count(),
        }
    }

    /// Text built together with its per-char map from an original of the given length.
    pub(crate) fn mapped(text: String, map: Vec<Entry>, original: &str) -> Self {
        Self {
            text,
            map: Some(map),
            original_bytes: original.len(),
            original_chars: original.chars().count(),
        }
    }

    /// The normalised text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The normalised text, by value.
    pub fn into_text(self) -> String {
        self.text
    }

    /// Whether the normalised text is the original unchanged, every char mapping to itself.
    pub fn is_identity(&self) -> bool {
        self.map.is_none()
    }

    /// The original byte range that the normalised byte range `normalized_bytes` came from.
    ///
    /// Ends past the text are clamped, a range that does not fall on char boundaries is widened
    /// to the chars it touches, an empty range maps to the empty range at the original position
    /// of the char it precedes (the original end past the last char), and a reversed range
    /// counts as empty at its end.
    pub fn original_byte_range(&self, normalized_bytes: Range<usize>) -> Range<usize> {
        let end = normalized_bytes.end.min(self.text.len());
        let start = normalized_bytes.start.min(end);
        let Some(map) = &self.map else {
            let text = &self.text;
            let ceil = |b: usize| {
                (b..=text.len())
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(b)
            };
            if start == end {
                return ceil(start)..ceil(start);
            }
            let floor = (0..=start)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            return floor..ceil(end);
        };
        // First char holding `start` (or, for an empty range, starting at or after it), and the
        // chars starting before `end`.
        let chars = if start == end {
            let at = map.partition_point(|e| e.norm_byte < start);
            at..at
        } else {
            map.partition_point(|e| e.norm_byte <= start)
                .saturating_sub(1)..map.partition_point(|e| e.norm_byte < end)
        };
        map_chars(
            map,
            chars,
            self.original_bytes,
            |o| o.byte_start,
            |o| o.byte_end,
        )
    }

    /// The original char range that the normalised char range `normalized_chars` came from
    /// (char indices on both sides; clamping as in [`Normalized::original_byte_range`]).
    pub fn original_char_range(&self, normalized_chars: Range<usize>) -> Range<usize> {
        match &self.map {
            None => {
                let end = normalized_chars.end.min(self.original_chars);
                normalized_chars.start.min(end)..end
            }
            Some(map) => map_chars(
                map,
                normalized_chars,
                self.original_chars,
                |o| o.char_start,
                |o| o.char_end,
            ),
        }
    }

    /// For every char of the normalised text: its byte range there and the original byte range
    /// it came from, in order.
    pub fn alignments(&self) -> impl Iterator<Item = (Range<usize>, Range<usize>)> + '_ {
        let map = self.map.as_deref();
        self.text
            .char_indices()
            .enumerate()
            .map(move |(i, (b, c))| {
                let normalized = b..b + c.len_utf8();
                let original = map.and_then(|m| m.get(i)).map_or(normalized.clone(), |e| {
                    e.origin.byte_start..e.origin.byte_end
                });
                (normalized, original)
            })
    }
}

/// Maps the normalised chars `chars` through `map`, reading positions with `start`/`end`;
/// `original_len` is where an empty range past the last char lands.
fn map_chars(
    map: &[Entry],
    chars: Range<usize>,
    original_len: usize,
    start: impl Fn(&Origin) -> usize,
    end: impl Fn(&Origin) -> usize,
) -> Range<usize> {
    let last = chars.end.min(map.len());
    let first = chars.start.min(last);
    if first == last {
        let at = map.get(first).map_or(original_len, |e| start(&e.origin));
        return at..at;
    }
    start(&map[first].origin)..end(&map[last - 1].origin)
}
