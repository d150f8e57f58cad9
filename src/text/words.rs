//! Word splitting of raw text for prediction: [`split_words`].

use super::chars::continues_token;

/// One token of raw text with its byte range in that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    /// The token, `&text[start..end]`.
    pub text: &'a str,
    /// First byte in the text.
    pub start: usize,
    /// One past the last byte in the text.
    pub end: usize,
}

/// What kind of token a character starts or continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Letters,
    Digits,
    /// Punctuation and symbols: one char per token.
    Single,
}

/// Splits `text` into words: runs of letters (any script, with their combining marks,
/// diacritics, tatweel and zero-width joiners kept inside), runs of digits, and single
/// punctuation or symbol chars (Arabic ، ؛ ؟ « » included). Whitespace and invisible
/// direction marks separate tokens and belong to none.
pub fn split_words(text: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    // The open token: its kind and first byte.
    let mut open: Option<(Kind, usize)> = None;
    for (b, c) in text.char_indices() {
        let kind = if c.is_whitespace() || is_separator_mark(c) {
            None
        } else if continues_token(c) {
            // A mark or tatweel stays with the token before it, or starts a letter run.
            Some(open.map_or(Kind::Letters, |(k, _)| k))
        } else if c.is_alphabetic() {
            Some(Kind::Letters)
        } else if c.is_numeric() {
            Some(Kind::Digits)
        } else {
            Some(Kind::Single)
        };
        let continues = match (open, kind) {
            (Some((current, _)), Some(next)) => {
                current == next && (next != Kind::Single || continues_token(c))
            }
            _ => false,
        };
        if !continues {
            if let Some((_, start)) = open.take() {
                words.push(Word {
                    text: &text[start..b],
                    start,
                    end: b,
                });
            }
            open = kind.map(|k| (k, b));
        }
    }
    if let Some((_, start)) = open {
        words.push(Word {
            text: &text[start..],
            start,
            end: text.len(),
        });
    }
    words
}

/// Invisible marks that separate words: zero-width space, direction marks and controls, BOM
/// (the joiners U+200C/U+200D stay inside words).
fn is_separator_mark(c: char) -> bool {
    super::chars::is_invisible(c) && !continues_token(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        split_words(text).iter().map(|w| w.text).collect()
    }

    #[test]
    fn offsets_point_into_the_text() {
        let text = " قال: «نعم» ";
        for w in split_words(text) {
            assert_eq!(&text[w.start..w.end], w.text);
        }
        assert_eq!(texts(text), ["قال", ":", "«", "نعم", "»"]);
    }

    #[test]
    fn punctuation_is_one_char_per_token() {
        assert_eq!(texts("...!؟"), [".", ".", ".", "!", "؟"]);
        assert_eq!(texts("أ،ب؛ج"), ["أ", "،", "ب", "؛", "ج"]);
    }

    #[test]
    fn marks_after_punctuation_or_at_start_stay_with_a_token() {
        assert_eq!(texts("\u{064E}ب"), ["\u{064E}ب"]);
        assert_eq!(texts("(\u{0651}"), ["(\u{0651}"]);
        assert_eq!(texts("١٢ـ"), ["١٢ـ"]);
    }

    #[test]
    fn empty_and_blank_text() {
        assert!(split_words("").is_empty());
        assert!(split_words(" \t\u{200F}\n").is_empty());
    }
}
