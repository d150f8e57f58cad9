//! The normaliser on real news text: agreement with CAMeL Tools on a committed golden sample,
//! and entity spans found in normalised sentences mapped back to the original.

use naba::text::{Normalizer, NormalizerConfig};

/// `datasets/text/camel_golden.tsv`: ANERcorp and SANAD lines with CAMeL Tools' output
/// (normalize_unicode, dediac_ar, normalize_alef_ar, normalize_alef_maksura_ar,
/// normalize_teh_marbuta_ar), written by `scripts/normalize_vs_camel.py --golden`.
#[test]
fn agrees_with_camel_tools_on_the_golden_sample() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/datasets/text/camel_golden.tsv"
    );
    let golden = std::fs::read_to_string(path).expect("golden sample");
    let mut lines = golden.lines();
    let spec = lines
        .next()
        .and_then(|h| h.strip_prefix("# spec\t"))
        .expect("spec header");
    let normalizer = Normalizer::new(NormalizerConfig::parse(spec).unwrap());
    let mut checked = 0;
    for (i, line) in lines.enumerate() {
        let (input, expected) = line.split_once('\t').expect("input<TAB>expected");
        assert_eq!(normalizer.normalize_text(input), expected, "line {}", i + 2);
        checked += 1;
    }
    assert!(checked > 100, "only {checked} golden lines");
}

/// Finds `needle` in the normalised `original` and returns the original text it came from.
fn find_in_original<'a>(normalizer: &Normalizer, original: &'a str, needle: &str) -> &'a str {
    let normalized = normalizer.normalize(original);
    let at = normalized.text().find(needle).unwrap_or_else(|| {
        panic!("{needle:?} not in {:?}", normalized.text());
    });
    &original[normalized.original_byte_range(at..at + needle.len())]
}

#[test]
fn entities_in_diacritised_text_map_back_with_their_marks() {
    let arabert = Normalizer::new(NormalizerConfig::preset("arabert").unwrap());
    let sentence = "واللافت أنّ السبب الأوّل للادّخار في عُمان كان للزفاف، وهو عامل جاء في مراتب متأخّرة .";
    assert_eq!(find_in_original(&arabert, sentence, "عمان"), "عُمان");
    assert_eq!(find_in_original(&arabert, sentence, "الأول"), "الأوّل");
    let sentence = "قال بعد تنهيدة طويلة: عَمَّر الله الجامعة، فما أمتن ميثاقها";
    assert_eq!(find_in_original(&arabert, sentence, "عمر الله"), "عَمَّر الله");
}

#[test]
fn tatweel_and_invisible_controls_stay_inside_mapped_spans() {
    let arabert = Normalizer::new(NormalizerConfig::preset("arabert").unwrap());
    let sentence = "قال: نجده في قوله ــ علت كلمته ــ: «إن الأبرار لفي نعيم»";
    let normalized = arabert.normalize(sentence);
    assert_eq!(
        normalized.text(),
        "قال: نجده في قوله علت كلمته : «إن الأبرار لفي نعيم»"
    );
    let sentence = "لاشك أن السعي\u{202e} \u{202c}في\u{202e} \u{202c}طلب الرزق الحلال مطلب شرعي";
    assert_eq!(
        find_in_original(&arabert, sentence, "السعي في طلب"),
        "السعي\u{202e} \u{202c}في\u{202e} \u{202c}طلب"
    );
    assert_eq!(
        find_in_original(&arabert, sentence, "في"),
        "في",
        "edge controls are left out"
    );
}

#[test]
fn digits_and_latin_in_mixed_text() {
    let arabert = Normalizer::new(NormalizerConfig::preset("arabert").unwrap());
    let sentence = "لكن في لائحة العام ١٩٨٢، ظهر اسمه على شاشة Windows Vista Premium";
    let normalized = arabert.normalize(sentence);
    assert_eq!(
        normalized.text(),
        "لكن في لائحة العام 1982، ظهر اسمه على شاشة Windows Vista Premium"
    );
    assert_eq!(find_in_original(&arabert, sentence, "1982"), "١٩٨٢");
    assert_eq!(
        find_in_original(&arabert, sentence, "Windows Vista"),
        "Windows Vista"
    );
    let chars = normalized.original_char_range(19..23);
    assert_eq!(
        sentence
            .chars()
            .skip(chars.start)
            .take(chars.len())
            .collect::<String>(),
        "١٩٨٢"
    );
}

#[test]
fn presets_differ_as_documented() {
    let text = "إِلَى الْمَدْرَسَةِ ﻻ ٢٠٢٤\u{200F}";
    let out = |preset: &str| {
        Normalizer::new(NormalizerConfig::preset(preset).unwrap()).normalize_text(text)
    };
    assert_eq!(out("none"), text);
    assert_eq!(out("e5"), text);
    assert_eq!(out("arabert"), "إلى المدرسة لا 2024");
    assert_eq!(out("camelbert"), "إلى المدرسة لا ٢٠٢٤");
    assert_eq!(out("full"), "الي المدرسه لا 2024");
}
