//! The Unicode step: turns the original text into a stream of characters, each with the
//! original range it came from, applying NFKC to the whole text or to the Arabic presentation
//! forms only.
//!
//! Whole-text NFKC is computed segment by segment: a segment starts at a character that nothing
//! before it can combine with (a starter whose compatibility decomposition starts with a
//! starter that never composes backwards), so the NFKC of the text is the concatenation of the
//! segments' NFKC. A segment whose characters normalise independently maps char by char;
//! otherwise (reordered or composed marks, e.g. ا + ٓ → آ) each output char maps to the whole
//! segment.

use std::iter::once;
use std::sync::OnceLock;

use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

use super::chars::{is_presentation_form, presentation_form_override};
use super::offsets::Origin;

/// Which Unicode normalisation the first step applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnicodeStep {
    /// Characters pass unchanged.
    Keep,
    /// NFKC on Arabic presentation forms only.
    PresentationForms,
    /// NFKC on the whole text.
    Nfkc,
}

/// Calls `emit(c, origin, changed)` for every character of `text` after `step`, in order;
/// `changed` says whether `c` differs from the original character at `origin`.
pub(crate) fn for_each_char(
    text: &str,
    step: UnicodeStep,
    mut emit: impl FnMut(char, Origin, bool),
) {
    let mut char_index = 0;
    match step {
        UnicodeStep::Keep => {
            for (b, c) in text.char_indices() {
                emit(c, single(b, c, char_index), false);
                char_index += 1;
            }
        }
        UnicodeStep::PresentationForms => {
            for (b, c) in text.char_indices() {
                let origin = single(b, c, char_index);
                if is_presentation_form(c) {
                    emit_nfkc_of_char(c, origin, &mut emit);
                } else {
                    emit(c, origin, false);
                }
                char_index += 1;
            }
        }
        UnicodeStep::Nfkc => {
            let mut segment: Option<Segment> = None;
            for (b, c) in text.char_indices() {
                let info = CharInfo::of(c);
                if info.starts_segment {
                    if let Some(done) = segment.take() {
                        done.emit(text, b, &mut emit);
                    }
                }
                match &mut segment {
                    Some(open) => open.push(info),
                    None => segment = Some(Segment::new(b, char_index, info)),
                }
                char_index += 1;
            }
            if let Some(done) = segment {
                done.emit(text, text.len(), &mut emit);
            }
        }
    }
}

/// What whole-text NFKC needs to know about one character.
#[derive(Debug, Clone, Copy)]
struct CharInfo {
    /// Canonical combining class.
    ccc: u8,
    /// NFKC leaves it unchanged (quick check Yes, no CAMeL override).
    stable: bool,
    /// Nothing before it can combine or reorder with it.
    starts_segment: bool,
}

/// Chars below this (Latin, Arabic, Arabic Supplement) are looked up in a table.
const TABLED: usize = 0x800;

impl CharInfo {
    fn of(c: char) -> CharInfo {
        static TABLE: OnceLock<Vec<CharInfo>> = OnceLock::new();
        match TABLE
            .get_or_init(|| {
                (0..TABLED as u32)
                    .filter_map(char::from_u32)
                    .map(Self::compute)
                    .collect()
            })
            .get(c as usize)
        {
            Some(info) => *info,
            None => Self::compute(c),
        }
    }

    fn compute(c: char) -> CharInfo {
        CharInfo {
            ccc: canonical_combining_class(c),
            stable: is_nfkc_quick(once(c)) == IsNormalized::Yes
                && presentation_form_override(c).is_none(),
            starts_segment: starts_segment(c),
        }
    }
}

/// An open NFKC segment: where it starts and whether its chars are already in NFKC.
struct Segment {
    start: usize,
    start_char: usize,
    stable: bool,
    last_ccc: u8,
}

impl Segment {
    fn new(start: usize, start_char: usize, first: CharInfo) -> Self {
        Segment {
            start,
            start_char,
            stable: first.stable,
            last_ccc: first.ccc,
        }
    }

    /// Adds a char that does not start a segment; marks out of canonical order make the
    /// segment unstable.
    fn push(&mut self, info: CharInfo) {
        self.stable &= info.stable && (info.ccc == 0 || self.last_ccc <= info.ccc);
        self.last_ccc = info.ccc;
    }

    /// Emits the NFKC of `text[self.start..end]`.
    fn emit(self, text: &str, end: usize, emit: &mut impl FnMut(char, Origin, bool)) {
        let segment = &text[self.start..end];
        if self.stable {
            for (i, (b, c)) in segment.char_indices().enumerate() {
                emit(c, single(self.start + b, c, self.start_char + i), false);
            }
        } else {
            emit_nfkc_of_segment(segment, self.start, self.start_char, emit);
        }
    }
}

fn single(byte: usize, c: char, char_index: usize) -> Origin {
    Origin {
        byte_start: byte,
        byte_end: byte + c.len_utf8(),
        char_start: char_index,
        char_end: char_index + 1,
    }
}

/// Whether no character before `c` can combine or reorder with it under NFKC.
fn starts_segment(c: char) -> bool {
    if c.is_ascii() {
        return true;
    }
    let never_composes_backwards = |d: char| {
        canonical_combining_class(d) == 0 && is_nfkc_quick(once(d)) != IsNormalized::Maybe
    };
    match is_nfkc_quick(once(c)) {
        IsNormalized::Yes => canonical_combining_class(c) == 0,
        IsNormalized::Maybe => false,
        IsNormalized::No => {
            let mut first = None;
            decompose_compatible(c, |d| {
                first.get_or_insert(d);
            });
            canonical_combining_class(c) == 0 && first.is_some_and(never_composes_backwards)
        }
    }
}

/// NFKC of one character (with CAMeL Tools' overrides), every output char mapping to it.
fn emit_nfkc_of_char(c: char, origin: Origin, emit: &mut impl FnMut(char, Origin, bool)) {
    if let Some(replacement) = presentation_form_override(c) {
        replacement.chars().for_each(|r| emit(r, origin, true));
    } else if is_nfkc_quick(once(c)) == IsNormalized::Yes {
        emit(c, origin, false);
    } else {
        let mut out = once(c).nfkc();
        let (first, second) = (out.next(), out.next());
        let changed = first != Some(c) || second.is_some();
        first
            .into_iter()
            .chain(second)
            .chain(out)
            .for_each(|r| emit(r, origin, changed));
    }
}

/// NFKC of one segment starting at byte `start` and char `start_char` of the original.
fn emit_nfkc_of_segment(
    segment: &str,
    start: usize,
    start_char: usize,
    emit: &mut impl FnMut(char, Origin, bool),
) {
    let mut chars = segment.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return emit_nfkc_of_char(c, single(start, c, start_char), emit);
    }
    let overridden = segment
        .chars()
        .any(|c| presentation_form_override(c).is_some());
    if !overridden && is_nfkc_quick(segment.chars()) == IsNormalized::Yes {
        for (i, (b, c)) in segment.char_indices().enumerate() {
            emit(c, single(start + b, c, start_char + i), false);
        }
        return;
    }
    // Rare: marks that reorder or compose, or a character with a compatibility decomposition
    // followed by marks. Map char by char when that gives the same text, else as one block.
    let with_overrides: String = segment
        .chars()
        .map(|c| presentation_form_override(c).map_or_else(|| c.to_string(), str::to_string))
        .collect();
    let whole: String = with_overrides.nfkc().collect();
    let mut per_char = Vec::new();
    for (i, (b, c)) in segment.char_indices().enumerate() {
        emit_nfkc_of_char(c, single(start + b, c, start_char + i), &mut |r, o, ch| {
            per_char.push((r, o, ch))
        });
    }
    if per_char.iter().map(|p| p.0).eq(whole.chars()) {
        per_char.into_iter().for_each(|(r, o, ch)| emit(r, o, ch));
    } else {
        let origin = Origin {
            byte_start: start,
            byte_end: start + segment.len(),
            char_start: start_char,
            char_end: start_char + segment.chars().count(),
        };
        whole.chars().for_each(|r| emit(r, origin, true));
    }
}
