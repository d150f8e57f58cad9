//! [`Normalizer`]: applies a [`NormalizerConfig`] to text in one pass, building the offset map
//! back to the original (see [`super::offsets`]).

use super::chars::{
    alef_maksura_to_yeh, ascii_digit, is_arabic_diacritic, is_invisible, teh_marbuta_to_heh,
    unified_alef, TATWEEL,
};
use super::config::NormalizerConfig;
use super::offsets::{Entry, Normalized, Origin};
use super::unicode::{for_each_char, UnicodeStep};

/// Applies one [`NormalizerConfig`]; build it once and share it (it is `Send + Sync`).
#[derive(Debug, Clone)]
pub struct Normalizer {
    config: NormalizerConfig,
    /// The Unicode step the config asks for.
    unicode: UnicodeStep,
    /// No step is on: the text passes unchanged.
    noop: bool,
}

/// A letter or digit map: the replacement of a char, `None` when it does not apply.
type CharMap = fn(char) -> Option<char>;

/// What the per-character steps do with one character.
enum Action {
    /// Leave no trace; the original char becomes a gap in the map.
    Drop,
    /// Remove it, its range joining the character before it.
    Absorb,
    /// Whitespace to collapse.
    Space,
    /// Output this char.
    Keep(char),
}

impl Normalizer {
    /// A normaliser for `config`.
    pub fn new(config: NormalizerConfig) -> Self {
        let unicode = if config.unicode_nfkc {
            UnicodeStep::Nfkc
        } else if config.presentation_forms {
            UnicodeStep::PresentationForms
        } else {
            UnicodeStep::Keep
        };
        let noop = config.is_noop();
        Self {
            config,
            unicode,
            noop,
        }
    }

    /// The config this normaliser applies.
    pub fn config(&self) -> &NormalizerConfig {
        &self.config
    }

    /// Normalises `text`, keeping the map from every normalised char back to `text`.
    pub fn normalize(&self, text: &str) -> Normalized {
        if self.noop {
            return Normalized::identity(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut map = Vec::with_capacity(text.len());
        if self.run(text, &mut out, Some(&mut map)) {
            Normalized::mapped(out, map, text)
        } else {
            Normalized::identity(text)
        }
    }

    /// Normalises `text` without building the offset map (faster; for streaming).
    pub fn normalize_text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        self.normalize_into(text, &mut out);
        out
    }

    /// Appends the normalised `text` to `out` (no offset map).
    pub fn normalize_into(&self, text: &str, out: &mut String) {
        if self.noop {
            out.push_str(text);
        } else {
            self.run(text, out, None);
        }
    }

    /// Runs every step over `text`, appending to `out` (and `map`); returns whether anything
    /// changed.
    fn run(&self, text: &str, out: &mut String, map: Option<&mut Vec<Entry>>) -> bool {
        let start = out.len();
        let mut sink = Sink {
            out,
            start,
            map,
            pending_space: None,
            changed: false,
        };
        for_each_char(text, self.unicode, |c, origin, changed| {
            sink.changed |= changed;
            match self.action(c) {
                Action::Drop => sink.changed = true,
                Action::Absorb => sink.absorb(&origin),
                Action::Space => sink.space(c, origin, changed),
                Action::Keep(mapped) => sink.push(mapped, origin, mapped != c),
            }
        });
        sink.finish()
    }

    fn action(&self, c: char) -> Action {
        let cfg = &self.config;
        if c.is_ascii() {
            return if cfg.collapse_whitespace && c.is_whitespace() {
                Action::Space
            } else {
                Action::Keep(c)
            };
        }
        if cfg.drop_invisible && is_invisible(c) {
            return Action::Drop;
        }
        if (cfg.remove_diacritics && is_arabic_diacritic(c)) || (cfg.remove_tatweel && c == TATWEEL)
        {
            return Action::Absorb;
        }
        if cfg.collapse_whitespace && c.is_whitespace() {
            return Action::Space;
        }
        let maps: [(bool, CharMap); 4] = [
            (cfg.unify_alef, unified_alef),
            (cfg.alef_maksura_to_yeh, alef_maksura_to_yeh),
            (cfg.teh_marbuta_to_heh, teh_marbuta_to_heh),
            (cfg.digits_to_ascii, ascii_digit),
        ];
        let mapped = maps
            .iter()
            .find_map(|&(on, map)| if on { map(c) } else { None });
        Action::Keep(mapped.unwrap_or(c))
    }
}

/// Collects output chars and their origins.
struct Sink<'a> {
    out: &'a mut String,
    /// Length of `out` before this text.
    start: usize,
    map: Option<&'a mut Vec<Entry>>,
    /// A whitespace run not yet written: its origin and whether it is one plain space.
    pending_space: Option<(Origin, bool)>,
    changed: bool,
}

impl Sink<'_> {
    fn push(&mut self, c: char, origin: Origin, changed: bool) {
        if let Some((space, plain)) = self.pending_space.take() {
            if self.out.len() == self.start {
                self.changed = true; // leading whitespace trimmed
            } else {
                self.changed |= !plain;
                self.write(' ', space);
            }
        }
        self.changed |= changed;
        self.write(c, origin);
    }

    /// Writes `c`. An origin that overlaps the previous char's (part of one original char was
    /// absorbed into it) merges with it, so that origins stay disjoint or equal.
    fn write(&mut self, c: char, mut origin: Origin) {
        if let Some(map) = self.map.as_deref_mut() {
            if let Some(last) = map.last().map(|e| e.origin) {
                if origin.byte_start < last.byte_end && origin != last {
                    origin = origin.union(&last);
                    for entry in map.iter_mut().rev().take_while(|e| e.origin == last) {
                        entry.origin = origin;
                    }
                }
            }
            let norm_byte = self.out.len() - self.start;
            map.push(Entry { norm_byte, origin });
        }
        self.out.push(c);
    }

    fn space(&mut self, c: char, origin: Origin, changed: bool) {
        match &mut self.pending_space {
            Some((space, plain)) => {
                *space = space.union(&origin);
                *plain = false;
            }
            None => self.pending_space = Some((origin, c == ' ' && !changed)),
        }
    }

    /// A removed char joins the pending space, else the last output char (and the chars that
    /// share its origin, e.g. both letters of an expanded ligature); with neither it is a gap.
    fn absorb(&mut self, origin: &Origin) {
        self.changed = true;
        if let Some((space, _)) = &mut self.pending_space {
            *space = space.union(origin);
        } else if let Some(map) = self.map.as_deref_mut() {
            let Some(last) = map.last().map(|e| e.origin) else {
                return;
            };
            for entry in map.iter_mut().rev().take_while(|e| e.origin == last) {
                entry.origin = entry.origin.union(origin);
            }
        }
    }

    /// Trailing whitespace is trimmed; returns whether anything changed.
    fn finish(self) -> bool {
        self.changed || self.pending_space.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalizer(spec: &str) -> Normalizer {
        Normalizer::new(NormalizerConfig::parse(spec).unwrap())
    }

    /// The original text each normalised char maps back to.
    fn origins<'a>(n: &Normalized, original: &'a str) -> Vec<&'a str> {
        n.alignments().map(|(_, o)| &original[o]).collect()
    }

    #[test]
    fn none_is_identity() {
        let text = "  كَتَبَ ـ ١٢ ";
        let n = normalizer("none").normalize(text);
        assert!(n.is_identity());
        assert_eq!(n.text(), text);
        assert_eq!(n.original_byte_range(2..4), 2..4);
        assert_eq!(n.original_byte_range(3..4), 2..4, "mid-char start widens");
    }

    #[test]
    fn unchanged_text_stays_identity() {
        let n = normalizer("full").normalize("كتب الولد 12");
        assert!(n.is_identity());
    }

    #[test]
    fn diacritics_join_their_letter() {
        let text = "كَتَبَ";
        let n = normalizer("none+remove_diacritics").normalize(text);
        assert_eq!(n.text(), "كتب");
        assert_eq!(origins(&n, text), ["كَ", "تَ", "بَ"]);
        assert_eq!(&text[n.original_byte_range(0..n.text().len())], text);
        assert_eq!(n.original_char_range(1..3), 2..6);
    }

    #[test]
    fn tatweel_joins_its_letter_and_leading_marks_are_gaps() {
        let text = "\u{064E}عـــربي";
        let n = normalizer("none+remove_tatweel+remove_diacritics").normalize(text);
        assert_eq!(n.text(), "عربي");
        assert_eq!(
            origins(&n, text),
            ["ع\u{0640}\u{0640}\u{0640}", "ر", "ب", "ي"]
        );
        assert_eq!(n.original_char_range(0..1), 1..5);
    }

    #[test]
    fn whitespace_collapses_and_trims() {
        let text = " \t أحمد \u{200F}  \n علي\u{00A0}";
        let n = normalizer("none+collapse_whitespace+drop_invisible").normalize(text);
        assert_eq!(n.text(), "أحمد علي");
        let space = n.original_byte_range(8..9);
        assert_eq!(&text[space], " \u{200F}  \n ");
        let ali = n.original_byte_range(9..n.text().len());
        assert_eq!(&text[ali], "علي");
    }

    #[test]
    fn letter_and_digit_maps() {
        let n =
            normalizer("none+unify_alef+alef_maksura_to_yeh+teh_marbuta_to_heh+digits_to_ascii")
                .normalize("إلى مدرسة آمنة ٢٠٢٤ ۱۹");
        assert_eq!(n.text(), "الي مدرسه امنه 2024 19");
    }

    #[test]
    fn presentation_forms_expand_and_map_to_their_ligature() {
        let text = "ﻻ ﷲ ﷼";
        let n = normalizer("none+presentation_forms").normalize(text);
        assert_eq!(n.text(), "لا الله ريال");
        assert_eq!(origins(&n, text)[..2], ["ﻻ", "ﻻ"]);
        assert_eq!(
            &text[n.original_byte_range(7..9)],
            "ﷲ",
            "a part maps to the ligature"
        );
        // Only the presentation forms: full-width letters stay.
        assert_eq!(
            normalizer("none+presentation_forms").normalize("Ａ").text(),
            "Ａ"
        );
        assert_eq!(normalizer("none+unicode_nfkc").normalize("Ａ").text(), "A");
    }

    #[test]
    fn nfkc_composition_maps_to_both_chars() {
        let text = "ب\u{0627}\u{0653}";
        let n = normalizer("none+unicode_nfkc").normalize(text);
        assert_eq!(n.text(), "بآ");
        assert_eq!(origins(&n, text), ["ب", "\u{0627}\u{0653}"]);
    }

    #[test]
    fn isolated_diacritic_forms_then_removal() {
        // U+FE70 is the isolated fathatan: NFKC gives a space and the mark.
        let text = "ب\u{FE70}ت";
        let n = normalizer("none+presentation_forms+remove_diacritics").normalize(text);
        assert_eq!(n.text(), "ب ت");
    }

    #[test]
    fn absorbed_marks_extend_every_char_of_a_ligature() {
        let text = "ﻻ\u{064E}";
        let n = normalizer("none+presentation_forms+remove_diacritics").normalize(text);
        assert_eq!(n.text(), "لا");
        assert_eq!(origins(&n, text), [text, text]);
    }

    #[test]
    fn empty_and_out_of_range_spans_do_not_panic() {
        let text = "\u{200F}كَتَبَ ";
        let n = normalizer("arabert").normalize(text);
        assert_eq!(n.text(), "كتب");
        assert_eq!(n.original_byte_range(0..0), 3..3);
        assert_eq!(n.original_byte_range(6..6), text.len()..text.len());
        assert_eq!(
            n.original_byte_range(3..100),
            7..text.len() - 1,
            "mid-char start widens"
        );
        assert_eq!(
            n.original_char_range(std::ops::Range { start: 5, end: 2 }),
            5..5,
            "reversed: empty at its end"
        );
        assert_eq!(normalizer("arabert").normalize("").text(), "");
    }

    #[test]
    fn text_only_path_matches_mapped_path() {
        let text = "  الإِمَارَاتُ   العـــربية ﻻ ١٢\u{200F} ";
        for preset in NormalizerConfig::preset_names() {
            let n = normalizer(preset);
            assert_eq!(n.normalize_text(text), n.normalize(text).text(), "{preset}");
        }
    }
}
