//! Character classes of Arabic text, shared by the normaliser and the word splitter.
//!
//! Each function answers one question about one `char`; the tables follow the issue that
//! defined the normaliser (see `docs/normalization.md`).

/// Arabic tatweel (kashida), U+0640: a stretching stroke with no meaning of its own.
pub const TATWEEL: char = '\u{0640}';

/// Whether `c` is an Arabic diacritic removed by `remove_diacritics`: tashkeel and the other
/// Arabic combining marks U+064B..=U+065F, superscript alef U+0670, and the Quranic annotation
/// marks U+06D6..=U+06ED except the three that are symbols rather than marks (U+06DD end of
/// ayah, U+06DE rub el hizb, U+06E9 place of sajdah).
pub fn is_arabic_diacritic(c: char) -> bool {
    matches!(c,
        '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06DC}' | '\u{06DF}'..='\u{06E8}'
        | '\u{06EA}'..='\u{06ED}')
}

/// Whether `c` is an invisible formatting mark dropped by `drop_invisible`: zero-width space,
/// non-joiner and joiner, left-to-right and right-to-left marks (U+200B..=U+200F), the Arabic
/// letter mark U+061C, the byte-order mark U+FEFF, and the other invisible controls that news
/// text carries: soft hyphen U+00AD, bidi embeddings and overrides U+202A..=U+202E, word joiner
/// U+2060 and bidi isolates U+2066..=U+2069.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Whether `c` lies in the Arabic presentation-form blocks (U+FB50..=U+FDFF, U+FE70..=U+FEFF),
/// whose compatibility decompositions give the base letters.
pub fn is_presentation_form(c: char) -> bool {
    matches!(c, '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// Replacements that CAMeL Tools' `normalize_unicode` applies before NFKC, kept so that both
/// agree: the rial sign's decomposition uses the Farsi yeh, and the basmala ligature has no
/// decomposition at all.
pub fn presentation_form_override(c: char) -> Option<&'static str> {
    match c {
        '\u{FDFC}' => Some("ريال"),
        '\u{FDFD}' => Some("بسم الله الرحمن الرحيم"),
        _ => None,
    }
}

/// The plain alef for the hamza/madda/wasla alef forms (أ إ آ ٱ), `None` for other chars.
pub fn unified_alef(c: char) -> Option<char> {
    matches!(c, '\u{0622}' | '\u{0623}' | '\u{0625}' | '\u{0671}').then_some('\u{0627}')
}

/// Alef maqsura ى (U+0649) becomes yeh ي (U+064A).
pub fn alef_maksura_to_yeh(c: char) -> Option<char> {
    (c == '\u{0649}').then_some('\u{064A}')
}

/// Teh marbuta ة (U+0629) becomes heh ه (U+0647).
pub fn teh_marbuta_to_heh(c: char) -> Option<char> {
    (c == '\u{0629}').then_some('\u{0647}')
}

/// The ASCII digit for an Arabic-Indic (U+0660..=U+0669) or Eastern Arabic-Indic
/// (U+06F0..=U+06F9) digit.
pub fn ascii_digit(c: char) -> Option<char> {
    let zero = match c {
        '\u{0660}'..='\u{0669}' => 0x0660,
        '\u{06F0}'..='\u{06F9}' => 0x06F0,
        _ => return None,
    };
    char::from_digit(c as u32 - zero, 10)
}

/// Whether `c` joins the token before it instead of starting one: combining marks (diacritics
/// included), tatweel, and the zero-width joiner and non-joiner.
pub fn continues_token(c: char) -> bool {
    c == TATWEEL
        || c == '\u{200C}'
        || c == '\u{200D}'
        || unicode_normalization::char::is_combining_mark(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_map_to_ascii() {
        assert_eq!(ascii_digit('٠'), Some('0'));
        assert_eq!(ascii_digit('٩'), Some('9'));
        assert_eq!(ascii_digit('۴'), Some('4'));
        assert_eq!(ascii_digit('4'), None);
        assert_eq!(ascii_digit('ا'), None);
    }

    #[test]
    fn diacritics_cover_tashkeel_but_not_quranic_symbols() {
        for c in [
            '\u{064B}', '\u{0651}', '\u{0652}', '\u{0670}', '\u{06D6}', '\u{06ED}',
        ] {
            assert!(is_arabic_diacritic(c), "{:04X}", c as u32);
        }
        for c in ['\u{06DD}', '\u{06DE}', '\u{06E9}', 'ب', TATWEEL] {
            assert!(!is_arabic_diacritic(c), "{:04X}", c as u32);
        }
    }

    #[test]
    fn letter_maps() {
        assert_eq!(unified_alef('أ'), Some('ا'));
        assert_eq!(unified_alef('ٱ'), Some('ا'));
        assert_eq!(unified_alef('ا'), None);
        assert_eq!(alef_maksura_to_yeh('ى'), Some('ي'));
        assert_eq!(teh_marbuta_to_heh('ة'), Some('ه'));
        assert!(is_invisible('\u{200F}') && is_invisible('\u{FEFF}') && !is_invisible(' '));
        assert!(is_presentation_form('\u{FEFB}') && !is_presentation_form('ل'));
    }
}
