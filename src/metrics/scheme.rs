//! Entities in seqeval's strict mode (`mode='strict', scheme=...`): a port of `seqeval.scheme`
//! (seqeval 1.2.2). Each scheme is a table of (previous prefix, current prefix, type condition)
//! patterns saying where an entity starts, continues and ends; an entity counts only when it
//! starts, continues and ends by the scheme's rules, and a tag whose prefix the scheme does not
//! allow is an error.

use serde::{Deserialize, Serialize};

use super::chunks::Chunk;
use crate::error::{Error, Result};

/// A tagging scheme of seqeval's strict mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scheme {
    /// IOB1: `I-` inside, `B-` only between two adjacent entities of one type.
    Iob1,
    /// IOE1: `I-` inside, `E-` only between two adjacent entities of one type.
    Ioe1,
    /// IOB2 (BIO): every entity starts with `B-`.
    Iob2,
    /// IOE2: every entity ends with `E-`.
    Ioe2,
    /// IOBES (BIOES): `B-` begin, `I-` inside, `E-` end, `S-` single-token entity.
    Iobes,
    /// BILOU: `B-` begin, `I-` inside, `L-` last, `U-` unit-length entity.
    Bilou,
}

impl Scheme {
    /// Every scheme, in a fixed order.
    pub const ALL: [Scheme; 6] = [
        Scheme::Iob1,
        Scheme::Ioe1,
        Scheme::Iob2,
        Scheme::Ioe2,
        Scheme::Iobes,
        Scheme::Bilou,
    ];

    /// The scheme's name as seqeval spells its class (`IOB2`, `IOBES` ...).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Iob1 => "IOB1",
            Scheme::Ioe1 => "IOE1",
            Scheme::Iob2 => "IOB2",
            Scheme::Ioe2 => "IOE2",
            Scheme::Iobes => "IOBES",
            Scheme::Bilou => "BILOU",
        }
    }

    /// seqeval's `auto_detect`: the scheme whose prefix set matches the prefixes used in `gold`
    /// (IOB2, IOE2, IOBES or BILOU only); an error when none does or a prefix is unknown.
    pub fn auto_detect<S: AsRef<str>>(gold: &[Vec<S>], suffix: bool) -> Result<Scheme> {
        let mut used = 0u8;
        for (s, sentence) in gold.iter().enumerate() {
            for (t, tag) in sentence.iter().enumerate() {
                used |= parse(tag.as_ref(), suffix)
                    .map_err(|m| located(s, t, m))?
                    .prefix;
            }
        }
        let candidates: [(Scheme, &[u8]); 4] = [
            (Scheme::Iob2, &[I | O | B, I | B, B | O, B]),
            (Scheme::Ioe2, &[I | O | E, I | E, E | O, E]),
            (
                Scheme::Iobes,
                &[
                    I | O | B | E | S,
                    I | B | E | S,
                    I | O | B | E,
                    O | B | E | S,
                    I | B | E,
                    B | E | S,
                    O | B | E,
                    B | E,
                    S,
                ],
            ),
            (
                Scheme::Bilou,
                &[
                    I | O | B | L | U,
                    I | B | L | U,
                    I | O | B | L,
                    O | B | L | U,
                    I | B | L,
                    B | L | U,
                    O | B | L,
                    B | L,
                    U,
                ],
            ),
        ];
        candidates
            .iter()
            .find(|(_, sets)| sets.contains(&used))
            .map(|(scheme, _)| *scheme)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "cannot detect the tagging scheme: the prefixes used ({}) match none of IOB2, IOE2, IOBES, BILOU",
                    prefix_names(used)
                ))
            })
    }

    fn rules(self) -> &'static Rules {
        match self {
            Scheme::Iob1 => &IOB1,
            Scheme::Ioe1 => &IOE1,
            Scheme::Iob2 => &IOB2,
            Scheme::Ioe2 => &IOE2,
            Scheme::Iobes => &IOBES,
            Scheme::Bilou => &BILOU,
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scheme {
    type Err = Error;

    /// Parses a scheme name, case-insensitively; `BIO` is IOB2 and `BIOES` is IOBES.
    fn from_str(name: &str) -> Result<Scheme> {
        match name.to_ascii_uppercase().as_str() {
            "IOB1" => Ok(Scheme::Iob1),
            "IOE1" => Ok(Scheme::Ioe1),
            "IOB2" | "BIO" => Ok(Scheme::Iob2),
            "IOE2" => Ok(Scheme::Ioe2),
            "IOBES" | "BIOES" => Ok(Scheme::Iobes),
            "BILOU" => Ok(Scheme::Bilou),
            _ => Err(Error::Invalid(format!(
                "unknown tagging scheme '{name}' (expected IOB1, IOE1, IOB2, IOE2, IOBES or BILOU)"
            ))),
        }
    }
}

// Prefix letters as bit flags, like seqeval's `Prefix` enum.Flag.
const I: u8 = 1;
const O: u8 = 2;
const B: u8 = 4;
const E: u8 = 8;
const S: u8 = 16;
const U: u8 = 32;
const L: u8 = 64;
const ANY: u8 = I | O | B | E | S | U | L;
const LETTERS: [(char, u8); 7] = [
    ('I', I),
    ('O', O),
    ('B', B),
    ('E', E),
    ('S', S),
    ('U', U),
    ('L', L),
];

/// How the types of the previous and the current token must relate for a pattern to match.
#[derive(Clone, Copy)]
enum TypeRule {
    Same,
    Diff,
    Any,
}

/// (previous prefixes, current prefixes, type rule).
type Pattern = (u8, u8, TypeRule);

struct Rules {
    allowed: u8,
    start: &'static [Pattern],
    inside: &'static [Pattern],
    end: &'static [Pattern],
}

use TypeRule::{Any, Diff, Same};

static IOB1: Rules = Rules {
    allowed: I | O | B,
    start: &[
        (O, I, Any),
        (I, I, Diff),
        (B, I, Any),
        (I, B, Same),
        (B, B, Same),
    ],
    inside: &[(B, I, Same), (I, I, Same)],
    end: &[
        (I, I, Diff),
        (I, O, Any),
        (I, B, Any),
        (B, O, Any),
        (B, I, Diff),
        (B, B, Same),
    ],
};
static IOE1: Rules = Rules {
    allowed: I | O | E,
    start: &[(O, I, Any), (I, I, Diff), (E, I, Any), (E, E, Same)],
    inside: &[(I, I, Same), (I, E, Same)],
    end: &[
        (I, I, Diff),
        (I, O, Any),
        (I, E, Diff),
        (E, I, Same),
        (E, E, Same),
    ],
};
static IOB2: Rules = Rules {
    allowed: I | O | B,
    start: &[(ANY, B, Any)],
    inside: &[(B, I, Same), (I, I, Same)],
    end: &[
        (I, O, Any),
        (I, I, Diff),
        (I, B, Any),
        (B, O, Any),
        (B, I, Diff),
        (B, B, Any),
    ],
};
static IOE2: Rules = Rules {
    allowed: I | O | E,
    start: &[
        (O, I, Any),
        (O, E, Any),
        (E, I, Any),
        (E, E, Any),
        (I, I, Diff),
        (I, E, Diff),
    ],
    inside: &[(I, E, Same), (I, I, Same)],
    end: &[(E, ANY, Any)],
};
static IOBES: Rules = Rules {
    allowed: I | O | B | E | S,
    start: &[(ANY, B, Any), (ANY, S, Any)],
    inside: &[(B, I, Same), (B, E, Same), (I, I, Same), (I, E, Same)],
    end: &[(S, ANY, Any), (E, ANY, Any)],
};
static BILOU: Rules = Rules {
    allowed: B | I | L | O | U,
    start: &[(ANY, B, Any), (ANY, U, Any)],
    inside: &[(B, I, Same), (B, L, Same), (I, I, Same), (I, L, Same)],
    end: &[(U, ANY, Any), (L, ANY, Any)],
};

/// A tag as seqeval's `Token` reads it: one prefix flag and a type (`_` when empty).
#[derive(Clone, Copy)]
struct Token<'a> {
    prefix: u8,
    kind: &'a str,
}

const OUTSIDE: Token<'static> = Token {
    prefix: O,
    kind: "_",
};

/// seqeval's `Token.__init__`: the prefix is the first (or, with `suffix`, last) character and
/// the type the rest with `-` stripped from both ends.
fn parse(tag: &str, suffix: bool) -> std::result::Result<Token<'_>, String> {
    let letter = if suffix {
        tag.chars().next_back()
    } else {
        tag.chars().next()
    };
    let Some(letter) = letter else {
        return Err("empty tag".to_string());
    };
    let Some(&(_, prefix)) = LETTERS.iter().find(|(c, _)| *c == letter) else {
        return Err(format!(
            "tag '{tag}' has no known prefix (one of I, O, B, E, S, U, L)"
        ));
    };
    let rest = if suffix {
        &tag[..tag.len() - letter.len_utf8()]
    } else {
        &tag[letter.len_utf8()..]
    };
    let kind = rest.trim_matches('-');
    Ok(Token {
        prefix,
        kind: if kind.is_empty() { "_" } else { kind },
    })
}

fn matches(patterns: &[Pattern], prev: Token, current: Token) -> bool {
    patterns.iter().any(|&(prev_set, current_set, rule)| {
        prev.prefix & prev_set != 0
            && current.prefix & current_set != 0
            && match rule {
                Any => true,
                Same => prev.kind == current.kind,
                Diff => prev.kind != current.kind,
            }
    })
}

/// The entities of one sentence under `scheme` in strict mode (seqeval's `Tokens.entities`).
/// `sentence` is the 0-based sentence index used in error messages.
pub(crate) fn strict_chunks<S: AsRef<str>>(
    tags: &[S],
    scheme: Scheme,
    suffix: bool,
    sentence: usize,
) -> Result<Vec<Chunk>> {
    let rules = scheme.rules();
    let mut tokens = Vec::with_capacity(tags.len() + 1);
    for (t, tag) in tags.iter().enumerate() {
        let token = parse(tag.as_ref(), suffix).map_err(|m| located(sentence, t, m))?;
        if token.prefix & rules.allowed == 0 {
            let message = format!(
                "tag '{}' has a prefix that the {scheme} scheme does not allow",
                tag.as_ref()
            );
            return Err(located(sentence, t, message));
        }
        tokens.push(token);
    }
    tokens.push(OUTSIDE);

    let mut chunks = Vec::new();
    let mut i = 0;
    let mut prev = OUTSIDE;
    while i < tokens.len() {
        let token = tokens[i];
        if matches(rules.start, prev, token) {
            let end = forward(&tokens, i + 1, token, rules);
            if matches(rules.end, tokens[end - 1], tokens[end]) {
                chunks.push(Chunk {
                    kind: token.kind.to_string(),
                    start: i,
                    end,
                });
            }
            i = end;
        } else {
            i += 1;
        }
        prev = tokens[i - 1];
    }
    Ok(chunks)
}

/// seqeval's `Tokens._forward`: the first index from `start` that does not continue the entity.
fn forward<'a>(tokens: &[Token<'a>], start: usize, mut prev: Token<'a>, rules: &Rules) -> usize {
    for (i, &token) in tokens.iter().enumerate().skip(start) {
        if matches(rules.inside, prev, token) {
            prev = token;
        } else {
            return i;
        }
    }
    // Not reached: the closing outside token never continues an entity.
    tokens.len() - 1
}

fn located(sentence: usize, token: usize, message: String) -> Error {
    Error::Invalid(format!(
        "sentence {}, token {}: {message}",
        sentence + 1,
        token + 1
    ))
}

fn prefix_names(flags: u8) -> String {
    let names: Vec<String> = LETTERS
        .iter()
        .filter(|(_, flag)| flags & flag != 0)
        .map(|(c, _)| c.to_string())
        .collect();
    names.join(", ")
}
