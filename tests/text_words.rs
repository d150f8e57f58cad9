//! Word splitting of raw news text: letters with their marks and tatweel, digit runs, one
//! token per punctuation char, byte offsets into the text.

use naba::text::split_words;

fn words(text: &str) -> Vec<&str> {
    let words = split_words(text);
    for w in &words {
        assert_eq!(&text[w.start..w.end], w.text, "offsets of {:?}", w.text);
    }
    words.iter().map(|w| w.text).collect()
}

#[test]
fn diacritics_and_shadda_stay_inside_words() {
    assert_eq!(
        words("قال بعد تنهيدة طويلة: عَمَّر الله الجامعة، فما أمتن ميثاقها"),
        [
            "قال",
            "بعد",
            "تنهيدة",
            "طويلة",
            ":",
            "عَمَّر",
            "الله",
            "الجامعة",
            "،",
            "فما",
            "أمتن",
            "ميثاقها"
        ]
    );
}

#[test]
fn tatweel_stays_inside_words() {
    assert_eq!(words("الأمريكيـــة العـربية"), ["الأمريكيـــة", "العـربية"]);
}

#[test]
fn latin_digits_and_arabic_punctuation_in_mixed_text() {
    assert_eq!(
        words("وحصلت 2493 HM و2693 HM على شهادة Windows Vista؟ «نعم»؛ العام ١٩٨٢."),
        [
            "وحصلت",
            "2493",
            "HM",
            "و",
            "2693",
            "HM",
            "على",
            "شهادة",
            "Windows",
            "Vista",
            "؟",
            "«",
            "نعم",
            "»",
            "؛",
            "العام",
            "١٩٨٢",
            "."
        ]
    );
    assert_eq!(
        words("CAD-CAM، 3.5%"),
        ["CAD", "-", "CAM", "،", "3", ".", "5", "%"]
    );
}

#[test]
fn invisible_controls_separate_and_are_left_out() {
    let text = "السعي\u{202e} \u{202c}في\u{200F}طلب";
    assert_eq!(words(text), ["السعي", "في", "طلب"]);
    assert_eq!(words("مي\u{200C}خواهم"), ["مي\u{200C}خواهم"], "ZWNJ joins");
}

#[test]
fn offsets_are_bytes_into_the_text() {
    let found = split_words(" «نعم» ");
    let spans: Vec<(usize, usize)> = found.iter().map(|w| (w.start, w.end)).collect();
    assert_eq!(spans, [(1, 3), (3, 9), (9, 11)]);
}
