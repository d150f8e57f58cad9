//! Named-entity tag schemes (IOB1, IOB2, BIOES, BILOU): parsing tags, detecting a corpus's
//! scheme, checking sequences against it, and converting to IOB2 (naba's internal scheme) and
//! back.
//!
//! A tag is `O` or a prefix letter, `-` and an entity type (`B-PER`, `I-LOC`, `E-ORG` ...).
//! Letters: `B` begin, `I` inside, `E`/`L` end (BIOES / BILOU), `S`/`U` single token.
//! Conversions read sequences the way conlleval does: an entity-continuing tag (`I-`, `E-`)
//! that does not follow an open entity of its type starts a new entity.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A named-entity tagging scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TagScheme {
    /// IOB1: `I-` marks entity tokens; `B-` only starts an entity that directly follows another
    /// of the same type.
    Iob1,
    /// IOB2 (BIO): every entity starts with `B-`, continues with `I-`.
    Iob2,
    /// BIOES (IOBES): `B-` begin, `I-` inside, `E-` end, `S-` single-token entity.
    Bioes,
    /// BILOU: `B-` begin, `I-` inside, `L-` last, `U-` unit (single-token) entity.
    Bilou,
}

impl TagScheme {
    /// Every scheme.
    pub const ALL: [TagScheme; 4] = [
        TagScheme::Iob1,
        TagScheme::Iob2,
        TagScheme::Bioes,
        TagScheme::Bilou,
    ];

    /// The scheme's usual name (`IOB1`, `IOB2`, `BIOES`, `BILOU`).
    pub fn name(self) -> &'static str {
        match self {
            TagScheme::Iob1 => "IOB1",
            TagScheme::Iob2 => "IOB2",
            TagScheme::Bioes => "BIOES",
            TagScheme::Bilou => "BILOU",
        }
    }

    /// The prefix letters the scheme uses besides `O`.
    pub fn letters(self) -> &'static [char] {
        match self {
            TagScheme::Iob1 | TagScheme::Iob2 => &['B', 'I'],
            TagScheme::Bioes => &['B', 'I', 'E', 'S'],
            TagScheme::Bilou => &['B', 'I', 'L', 'U'],
        }
    }
}

impl fmt::Display for TagScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TagScheme {
    type Err = Error;

    /// Parses a scheme name case-insensitively: `iob1`, `iob2`/`bio`, `bioes`/`iobes`, `bilou`.
    fn from_str(name: &str) -> Result<Self, Error> {
        match name.to_ascii_lowercase().as_str() {
            "iob1" => Ok(TagScheme::Iob1),
            "iob2" | "bio" => Ok(TagScheme::Iob2),
            "bioes" | "iobes" => Ok(TagScheme::Bioes),
            "bilou" => Ok(TagScheme::Bilou),
            _ => Err(Error::Invalid(format!(
                "unknown tag scheme '{name}' (expected iob1, iob2, bioes or bilou)"
            ))),
        }
    }
}

/// What a tag says about its token, whatever the scheme's letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `O`: outside every entity.
    Outside,
    /// `B-`: first token of an entity.
    Begin,
    /// `I-`: inside an entity.
    Inside,
    /// `E-` / `L-`: last token of an entity.
    End,
    /// `S-` / `U-`: a one-token entity.
    Single,
}

/// A tag split into its prefix letter, role and entity type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedTag<'a> {
    /// The prefix letter (`O` for outside).
    pub letter: char,
    /// What the letter means.
    pub role: Role,
    /// Entity type; empty for `O`.
    pub kind: &'a str,
}

impl ParsedTag<'_> {
    /// Does this token leave an entity open for the next token to continue?
    fn is_open(&self) -> bool {
        matches!(self.role, Role::Begin | Role::Inside)
    }

    /// Does this token continue an entity when it follows `prev`?
    fn continues(&self, prev: Option<&ParsedTag>) -> bool {
        matches!(self.role, Role::Inside | Role::End)
            && prev.is_some_and(|p| p.is_open() && p.kind == self.kind)
    }
}

/// A tag problem at a position: `sentence` and `token` are 0-based indices (`sentence` is 0 for
/// functions that see one sentence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagError {
    /// Index of the sentence.
    pub sentence: usize,
    /// Index of the token in its sentence.
    pub token: usize,
    /// What is wrong, naming the tag.
    pub message: String,
}

impl TagError {
    fn new(token: usize, message: String) -> Self {
        TagError {
            sentence: 0,
            token,
            message,
        }
    }

    /// The same error placed in sentence `sentence`.
    pub(crate) fn in_sentence(mut self, sentence: usize) -> Self {
        self.sentence = sentence;
        self
    }
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sentence {}, token {}: {}",
            self.sentence + 1,
            self.token + 1,
            self.message
        )
    }
}

/// Splits a tag: `O`, or one of the letters B, I, E, S, L, U, then `-` and a non-empty type.
pub fn parse_tag(tag: &str) -> Result<ParsedTag<'_>, String> {
    if tag == "O" {
        return Ok(ParsedTag {
            letter: 'O',
            role: Role::Outside,
            kind: "",
        });
    }
    let illegal =
        || format!("illegal tag '{tag}' (expected O or B-, I-, E-, S-, L-, U- followed by a type)");
    let (prefix, kind) = tag.split_once('-').ok_or_else(illegal)?;
    let role = match prefix {
        "B" => Role::Begin,
        "I" => Role::Inside,
        "E" | "L" => Role::End,
        "S" | "U" => Role::Single,
        _ => return Err(illegal()),
    };
    if kind.is_empty() {
        return Err(illegal());
    }
    let letter = prefix.chars().next().ok_or_else(illegal)?;
    Ok(ParsedTag { letter, role, kind })
}

/// Parses a sentence's tags and checks that each letter belongs to `scheme`.
fn parse_in_scheme<S: AsRef<str>>(
    tags: &[S],
    scheme: TagScheme,
) -> Result<Vec<ParsedTag<'_>>, TagError> {
    tags.iter()
        .enumerate()
        .map(|(i, tag)| {
            let parsed = parse_tag(tag.as_ref()).map_err(|m| TagError::new(i, m))?;
            if parsed.role != Role::Outside && !scheme.letters().contains(&parsed.letter) {
                let message = format!(
                    "tag '{}' uses the prefix {}-, which the {scheme} scheme does not have",
                    tag.as_ref(),
                    parsed.letter
                );
                return Err(TagError::new(i, message));
            }
            Ok(parsed)
        })
        .collect()
}

/// Guesses the scheme of a corpus: `E-`/`S-` tags mean BIOES, `L-`/`U-` BILOU; otherwise IOB1
/// when some `I-` starts an entity and every `B-` follows a token of its own type (IOB1's only
/// use of `B-`), else IOB2 (so an IOB2 corpus with a few `I-` starts, as ANERcorp has, stays
/// IOB2). Errors on an illegal tag or on E/S mixed with L/U.
pub fn detect_scheme<T: AsRef<[S]>, S: AsRef<str>>(sentences: &[T]) -> Result<TagScheme, TagError> {
    let mut bioes_seen: Option<(usize, usize)> = None;
    let mut bilou_seen: Option<(usize, usize)> = None;
    let (mut inside_starts, mut begin_starts) = (0usize, 0usize);
    for (s, tags) in sentences.iter().enumerate() {
        let parsed = tags
            .as_ref()
            .iter()
            .enumerate()
            .map(|(t, tag)| parse_tag(tag.as_ref()).map_err(|m| TagError::new(t, m).in_sentence(s)))
            .collect::<Result<Vec<_>, _>>()?;
        for (t, tag) in parsed.iter().enumerate() {
            let prev = t.checked_sub(1).map(|p| &parsed[p]);
            match tag.letter {
                'E' | 'S' => bioes_seen = bioes_seen.or(Some((s, t))),
                'L' | 'U' => bilou_seen = bilou_seen.or(Some((s, t))),
                'I' if !tag.continues(prev) => inside_starts += 1,
                'B' if !prev.is_some_and(|p| p.role != Role::Outside && p.kind == tag.kind) => {
                    begin_starts += 1
                }
                _ => {}
            }
        }
    }
    match (bioes_seen, bilou_seen) {
        (Some(first), Some(other)) => {
            let (s, t) = first.max(other);
            let message =
                "the tags mix BIOES prefixes (E-, S-) with BILOU prefixes (L-, U-)".to_string();
            Err(TagError::new(t, message).in_sentence(s))
        }
        (Some(_), None) => Ok(TagScheme::Bioes),
        (None, Some(_)) => Ok(TagScheme::Bilou),
        (None, None) if inside_starts > 0 && begin_starts == 0 => Ok(TagScheme::Iob1),
        (None, None) => Ok(TagScheme::Iob2),
    }
}

/// Every place where a sentence breaks `scheme`'s sequence rules (an empty list when it is well
/// formed). IOB1 accepts any order; IOB2 requires `I-X` to follow `B-X` or `I-X`; BIOES and
/// BILOU also require every entity to be closed (`E-`/`L-`) before anything else follows and
/// before the sentence ends. Errors on an illegal tag or a letter outside the scheme.
pub fn scheme_violations<S: AsRef<str>>(
    tags: &[S],
    scheme: TagScheme,
) -> Result<Vec<TagError>, TagError> {
    let parsed = parse_in_scheme(tags, scheme)?;
    let closes_explicitly = matches!(scheme, TagScheme::Bioes | TagScheme::Bilou);
    let mut problems = Vec::new();
    if scheme == TagScheme::Iob1 {
        return Ok(problems);
    }
    let name = |i: usize| tags[i].as_ref();
    for (i, tag) in parsed.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| &parsed[p]);
        let after = match prev {
            Some(_) => format!("previous tag {}", name(i - 1)),
            None => "at the start of the sentence".to_string(),
        };
        if matches!(tag.role, Role::Inside | Role::End) && !tag.continues(prev) {
            problems.push(TagError::new(
                i,
                format!("tag {} does not continue an entity ({after})", name(i)),
            ));
        } else if closes_explicitly && !tag.continues(prev) && prev.is_some_and(ParsedTag::is_open)
        {
            let message = format!(
                "tag {} comes before the entity of {} is closed",
                name(i),
                name(i - 1)
            );
            problems.push(TagError::new(i, message));
        }
    }
    if let (true, Some(last)) = (closes_explicitly, parsed.last()) {
        if last.is_open() {
            let i = parsed.len() - 1;
            problems.push(TagError::new(
                i,
                format!("the sentence ends inside an entity (last tag {})", name(i)),
            ));
        }
    }
    Ok(problems)
}

/// The first problem [`scheme_violations`] finds, as an error.
pub fn validate<S: AsRef<str>>(tags: &[S], scheme: TagScheme) -> Result<(), TagError> {
    match scheme_violations(tags, scheme)?.into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// Converts a sentence's tags from `scheme` to IOB2. Broken sequences are read as conlleval
/// does (a continuing tag without an open entity of its type starts one); illegal tags and
/// letters outside the scheme are errors.
pub fn to_iob2<S: AsRef<str>>(tags: &[S], scheme: TagScheme) -> Result<Vec<String>, TagError> {
    let parsed = parse_in_scheme(tags, scheme)?;
    Ok(parsed
        .iter()
        .enumerate()
        .map(|(i, tag)| match tag.role {
            Role::Outside => "O".to_string(),
            _ if tag.continues(i.checked_sub(1).map(|p| &parsed[p])) => format!("I-{}", tag.kind),
            _ => format!("B-{}", tag.kind),
        })
        .collect())
}

/// Converts a sentence's IOB2 tags to `scheme`. IOB2 output is the input unchanged; for the
/// other schemes an `I-X` without an open `X` entity is read as `B-X` first. Errors on illegal
/// tags and on letters other than B and I.
pub fn from_iob2<S: AsRef<str>>(tags: &[S], scheme: TagScheme) -> Result<Vec<String>, TagError> {
    let parsed = parse_in_scheme(tags, TagScheme::Iob2)?;
    if scheme == TagScheme::Iob2 {
        return Ok(tags.iter().map(|t| t.as_ref().to_string()).collect());
    }
    let (end_letter, single_letter) = if scheme == TagScheme::Bilou {
        ('L', 'U')
    } else {
        ('E', 'S')
    };
    let converted = parsed.iter().enumerate().map(|(i, tag)| {
        if tag.role == Role::Outside {
            return "O".to_string();
        }
        let prev = i.checked_sub(1).map(|p| &parsed[p]);
        let starts = !tag.continues(prev);
        let next_continues = parsed
            .get(i + 1)
            .is_some_and(|next| next.continues(Some(tag)));
        let letter = match scheme {
            TagScheme::Iob1 => {
                let touches_same_type =
                    prev.is_some_and(|p| p.role != Role::Outside && p.kind == tag.kind);
                if starts && touches_same_type {
                    'B'
                } else {
                    'I'
                }
            }
            _ => match (starts, next_continues) {
                (true, true) => 'B',
                (true, false) => single_letter,
                (false, true) => 'I',
                (false, false) => end_letter,
            },
        };
        format!("{letter}-{}", tag.kind)
    });
    Ok(converted.collect())
}

/// The entity types used in some tag sequences (tags that do not parse are skipped).
pub fn entity_types<T: AsRef<[S]>, S: AsRef<str>>(sentences: &[T]) -> BTreeSet<String> {
    sentences
        .iter()
        .flat_map(|tags| tags.as_ref())
        .filter_map(|tag| parse_tag(tag.as_ref()).ok())
        .filter(|tag| tag.role != Role::Outside)
        .map(|tag| tag.kind.to_string())
        .collect()
}

/// The IOB2 label list of a set of entity types: `O`, then `B-T`, `I-T` for each type in order.
pub fn iob2_labels<S: AsRef<str>>(types: impl IntoIterator<Item = S>) -> Vec<String> {
    let mut labels = vec!["O".to_string()];
    for kind in types {
        labels.push(format!("B-{}", kind.as_ref()));
        labels.push(format!("I-{}", kind.as_ref()));
    }
    labels
}
