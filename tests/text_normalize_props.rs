//! Property tests of the normaliser on arbitrary Unicode (biased towards Arabic): no panic,
//! monotone offsets, a map that accounts for every original char, and spans that map back to
//! the original text they came from.

use naba::text::{Normalized, Normalizer, NormalizerConfig};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// Characters that exercise every step, next to arbitrary ones.
const INTERESTING: &[char] = &[
    'ا', 'أ', 'إ', 'آ', 'ٱ', 'ى', 'ي', 'ة', 'ه', 'ب', 'ل', 'م', '\u{0640}', '\u{064B}', '\u{064E}',
    '\u{0651}', '\u{0652}', '\u{0653}', '\u{0654}', '\u{0670}', '\u{06D6}', '\u{06DD}', '٠', '٩',
    '۵', '1', 'a', 'Z', 'é', '\u{0301}', '\u{0327}', ' ', ' ', '\t', '\n', '\u{00A0}', '\u{3000}',
    '\u{200B}', '\u{200C}', '\u{200F}', '\u{061C}', '\u{FEFF}', '\u{202E}', '\u{00AD}', 'ﻻ', 'ﻷ',
    'ﷲ', '﷼', '﷽', 'ﺑ', '\u{FE70}', '\u{FE71}', '\u{FE7C}', 'Ａ', '…', 'ﬁ', '가', '\u{1161}',
    '\u{11A8}', '،', '«', '»', '؟',
];

fn text() -> impl Strategy<Value = String> {
    let c = prop_oneof![3 => proptest::sample::select(INTERESTING), 1 => any::<char>()];
    proptest::collection::vec(c, 0..40).prop_map(|cs| cs.into_iter().collect())
}

fn config() -> impl Strategy<Value = NormalizerConfig> {
    let steps = NormalizerConfig::step_names();
    proptest::collection::vec(any::<bool>(), steps.len()).prop_map(move |on| {
        let mut cfg = NormalizerConfig::default();
        for (step, on) in steps.iter().zip(on) {
            cfg.set_step(step, on).expect("known step");
        }
        cfg
    })
}

/// The original byte range of every normalised char, in order.
fn origins(n: &Normalized) -> Vec<std::ops::Range<usize>> {
    n.alignments().map(|(_, o)| o).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn offsets_are_monotone_and_on_char_boundaries(original in text(), cfg in config()) {
        let n = Normalizer::new(cfg).normalize(&original);
        let ranges = origins(&n);
        prop_assert_eq!(ranges.len(), n.text().chars().count());
        for r in &ranges {
            prop_assert!(r.start < r.end && r.end <= original.len());
            prop_assert!(original.is_char_boundary(r.start) && original.is_char_boundary(r.end));
        }
        for pair in ranges.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            // Either disjoint and in order, or the same origin (one original char or segment
            // that produced several chars).
            prop_assert!(b.start >= a.end || a == b, "{:?} then {:?}", a, b);
        }
    }

    #[test]
    fn every_gap_in_the_map_normalises_to_nothing(original in text(), cfg in config()) {
        let normalizer = Normalizer::new(cfg);
        let n = normalizer.normalize(&original);
        let mut covered_to = 0;
        let mut gaps = Vec::new();
        for r in origins(&n) {
            if r.start > covered_to {
                gaps.push(covered_to..r.start);
            }
            covered_to = covered_to.max(r.end);
        }
        gaps.push(covered_to..original.len());
        for gap in gaps {
            let dropped = &original[gap];
            prop_assert_eq!(normalizer.normalize_text(dropped), "", "gap {:?}", dropped);
        }
    }

    #[test]
    fn spans_map_back_to_the_original_they_came_from(
        original in text(), cfg in config(), a in 0usize..50, b in 0usize..50,
    ) {
        let normalizer = Normalizer::new(cfg.clone());
        let n = normalizer.normalize(&original);
        let ranges = origins(&n);
        let chars: Vec<(usize, char)> = n.text().char_indices().collect();
        let (first, last) = (a.min(b).min(chars.len()), a.max(b).min(chars.len()));
        // Byte and char mappings agree and give a substring of the original.
        let bytes_start = chars.get(first).map_or(n.text().len(), |c| c.0);
        let bytes_end = chars.get(last).map_or(n.text().len(), |c| c.0);
        let span = n.original_byte_range(bytes_start..bytes_end);
        let char_span = n.original_char_range(first..last);
        let by_chars: String =
            original.chars().skip(char_span.start).take(char_span.len()).collect();
        prop_assert_eq!(original.get(span.clone()), Some(by_chars.as_str()));
        if first == last {
            return Ok(());
        }
        // A span that starts and ends on whole origins (not inside an expanded ligature) and not
        // on a collapsed space normalises back to itself.
        let whole = (first == 0 || ranges[first - 1] != ranges[first])
            && (last == chars.len() || ranges[last] != ranges[last - 1]);
        let edge_space = cfg.collapse_whitespace
            && (chars[first].1 == ' ' || chars[last - 1].1 == ' ');
        if whole && !edge_space {
            prop_assert_eq!(
                normalizer.normalize_text(&original[span]),
                &n.text()[bytes_start..bytes_end]
            );
        }
    }

    #[test]
    fn text_only_path_matches_the_mapped_path(original in text(), cfg in config()) {
        let normalizer = Normalizer::new(cfg);
        let mapped = normalizer.normalize(&original);
        prop_assert_eq!(normalizer.normalize_text(&original), mapped.text());
    }

    #[test]
    fn unicode_step_is_nfkc(original in text()) {
        let n = Normalizer::new(NormalizerConfig::parse("none+unicode_nfkc").unwrap());
        // As CAMeL Tools: the rial sign and the basmala ligature are replaced before NFKC.
        let fixed = original.replace('﷼', "ريال").replace('﷽', "بسم الله الرحمن الرحيم");
        prop_assert_eq!(n.normalize_text(&original), fixed.nfkc().collect::<String>());
    }
}
