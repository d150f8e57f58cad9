//! Tagged sentences (tokens with one entity tag each), the corpus the NER readers return, the
//! tag checks every reader applies, and the JSON Lines reader (`{"tokens": [...], "tags": [...]}`
//! per line, as Hugging Face datasets store NER data).

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tags::{
    detect_scheme, entity_types, iob2_labels, scheme_violations, to_iob2, TagError, TagScheme,
};
use crate::error::{Error, Result};

/// One sentence: tokens and their entity tags (IOB2 once read by a naba reader).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedSentence {
    /// The words, as in the source (invisible marks removed).
    pub tokens: Vec<String>,
    /// One tag per token.
    pub tags: Vec<String>,
    /// 1-based line of the sentence's first token in its file; 0 when not read from a file.
    pub line: usize,
}

impl TaggedSentence {
    /// A sentence built in memory; an error when the lengths differ.
    pub fn new(tokens: Vec<String>, tags: Vec<String>) -> Result<Self> {
        if tokens.len() != tags.len() {
            return Err(Error::Invalid(format!(
                "{} tokens but {} tags",
                tokens.len(),
                tags.len()
            )));
        }
        Ok(TaggedSentence {
            tokens,
            tags,
            line: 0,
        })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the sentence has no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// How a reader treats tags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TagOptions {
    /// The scheme of the source; `None` detects it ([`detect_scheme`]).
    pub scheme: Option<TagScheme>,
    /// Reject sequences that break the scheme (for example `I-X` after `O` in IOB2). When false
    /// they are read as conlleval reads them and listed in [`TaggedCorpus::repairs`].
    pub strict: bool,
}

/// A place where a sentence broke its scheme and was read leniently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRepair {
    /// 1-based line in the source file.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// What a NER reader returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedCorpus {
    /// The sentences, tags converted to IOB2.
    pub sentences: Vec<TaggedSentence>,
    /// The scheme of the source (as given or detected); use it to write tags back the same way.
    pub scheme: TagScheme,
    /// Sequences that broke the scheme and were read leniently (empty in strict mode).
    pub repairs: Vec<TagRepair>,
}

impl TaggedCorpus {
    /// The entity types of the corpus, sorted.
    pub fn entity_types(&self) -> BTreeSet<String> {
        let tag_sequences: Vec<&[String]> =
            self.sentences.iter().map(|s| s.tags.as_slice()).collect();
        entity_types(&tag_sequences)
    }

    /// The IOB2 label list of the corpus: `O`, then `B-T`, `I-T` for each sorted type.
    pub fn iob2_labels(&self) -> Vec<String> {
        iob2_labels(self.entity_types())
    }

    /// The tag sequence of every sentence (for scoring).
    pub fn tag_sequences(&self) -> Vec<Vec<String>> {
        self.sentences.iter().map(|s| s.tags.clone()).collect()
    }
}

/// Where the tokens of a sentence under construction came from.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// One line per token (CoNLL).
    Lines(Vec<usize>),
    /// One line for the whole sentence (JSON Lines).
    Record(usize),
}

/// A sentence as read from a file, tags not yet checked.
#[derive(Clone, Debug)]
pub(crate) struct DraftSentence {
    pub tokens: Vec<String>,
    pub tags: Vec<String>,
    pub origin: Origin,
}

impl DraftSentence {
    /// The file error for a tag problem in this sentence.
    fn error(&self, source: &Path, problem: &TagError) -> Error {
        let (line, message) = self.locate(problem);
        Error::format(source, line, message)
    }

    fn locate(&self, problem: &TagError) -> (usize, String) {
        match &self.origin {
            Origin::Lines(lines) => (
                lines.get(problem.token).copied().unwrap_or(0),
                problem.message.clone(),
            ),
            Origin::Record(line) => (
                *line,
                format!("token {}: {}", problem.token + 1, problem.message),
            ),
        }
    }

    fn first_line(&self) -> usize {
        match &self.origin {
            Origin::Lines(lines) => lines.first().copied().unwrap_or(0),
            Origin::Record(line) => *line,
        }
    }
}

/// Checks the drafts' tags against the given or detected scheme and converts them to IOB2.
pub(crate) fn finish(
    drafts: Vec<DraftSentence>,
    source: &Path,
    options: &TagOptions,
) -> Result<TaggedCorpus> {
    let scheme = match options.scheme {
        Some(scheme) => scheme,
        None => {
            let tag_sequences: Vec<&[String]> = drafts.iter().map(|d| d.tags.as_slice()).collect();
            detect_scheme(&tag_sequences).map_err(|e| drafts[e.sentence].error(source, &e))?
        }
    };
    let mut sentences = Vec::with_capacity(drafts.len());
    let mut repairs = Vec::new();
    for draft in drafts {
        let problems =
            scheme_violations(&draft.tags, scheme).map_err(|e| draft.error(source, &e))?;
        if let (true, Some(first)) = (options.strict, problems.first()) {
            return Err(draft.error(source, first));
        }
        for problem in &problems {
            let (line, message) = draft.locate(problem);
            repairs.push(TagRepair { line, message });
        }
        let tags = to_iob2(&draft.tags, scheme).map_err(|e| draft.error(source, &e))?;
        let line = draft.first_line();
        sentences.push(TaggedSentence {
            tokens: draft.tokens,
            tags,
            line,
        });
    }
    Ok(TaggedCorpus {
        sentences,
        scheme,
        repairs,
    })
}

/// Characters dropped from tokens and tags: LEFT-TO-RIGHT MARK (U+200E), RIGHT-TO-LEFT MARK
/// (U+200F) and ZERO WIDTH SPACE (U+200B), which Arabic corpora carry invisibly.
pub const INVISIBLE_MARKS: [char; 3] = ['\u{200E}', '\u{200F}', '\u{200B}'];

/// `text` without [`INVISIBLE_MARKS`].
pub fn strip_invisible_marks(text: &str) -> String {
    text.chars()
        .filter(|c| !INVISIBLE_MARKS.contains(c))
        .collect()
}

/// Reads a UTF-8 text file, without its byte-order mark. Invalid UTF-8 is an error naming the
/// line.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        Error::format(path, line, "not valid UTF-8")
    })?;
    Ok(match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Options of the JSON Lines NER reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonlTagOptions {
    /// Name of the field holding the token array (default `tokens`).
    pub tokens_field: String,
    /// Name of the field holding the tag array (default `tags`; Hugging Face often uses
    /// `ner_tags`).
    pub tags_field: String,
    /// Names of integer tags: tag `i` is `label_names[i]`. Required when tags are integers.
    pub label_names: Option<Vec<String>>,
    /// Scheme handling.
    pub tags: TagOptions,
}

impl Default for JsonlTagOptions {
    fn default() -> Self {
        JsonlTagOptions {
            tokens_field: "tokens".to_string(),
            tags_field: "tags".to_string(),
            label_names: None,
            tags: TagOptions::default(),
        }
    }
}

/// Reads a JSON Lines NER file: one object per line with a token array and a tag array (tags
/// as strings, or integers indexing `label_names`). Blank lines are skipped; invisible marks
/// are dropped and a token left empty is skipped with its tag; records without tokens are
/// skipped. Errors name the file and line.
pub fn read_tagged_jsonl(
    path: impl AsRef<Path>,
    options: &JsonlTagOptions,
) -> Result<TaggedCorpus> {
    let path = path.as_ref();
    parse_tagged_jsonl(&read_text(path)?, path, options)
}

/// [`read_tagged_jsonl`] on text already in memory; `source` names it in errors.
pub fn parse_tagged_jsonl(
    text: &str,
    source: &Path,
    options: &JsonlTagOptions,
) -> Result<TaggedCorpus> {
    let mut drafts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fail = |message: String| Error::format(source, line_number, message);
        let record: Value =
            serde_json::from_str(line).map_err(|e| fail(format!("invalid JSON: {e}")))?;
        let tokens = json_array(&record, &options.tokens_field).map_err(fail)?;
        let tags = json_array(&record, &options.tags_field).map_err(fail)?;
        if tokens.len() != tags.len() {
            return Err(fail(format!(
                "{} tokens but {} tags in '{}' and '{}'",
                tokens.len(),
                tags.len(),
                options.tokens_field,
                options.tags_field
            )));
        }
        let mut draft = DraftSentence {
            tokens: Vec::new(),
            tags: Vec::new(),
            origin: Origin::Record(line_number),
        };
        for (i, (token, tag)) in tokens.iter().zip(tags).enumerate() {
            let token = token
                .as_str()
                .ok_or_else(|| fail(format!("{}[{i}] is not a string", options.tokens_field)))?;
            let tag = json_tag(tag, options)
                .map_err(|m| fail(format!("{}[{i}]: {m}", options.tags_field)))?;
            let token = strip_invisible_marks(token);
            if !token.is_empty() {
                draft.tokens.push(token);
                draft.tags.push(tag);
            }
        }
        if !draft.tokens.is_empty() {
            drafts.push(draft);
        }
    }
    finish(drafts, source, &options.tags)
}

fn json_array<'a>(record: &'a Value, field: &str) -> std::result::Result<&'a Vec<Value>, String> {
    let object = record.as_object().ok_or("expected a JSON object")?;
    let value = object
        .get(field)
        .ok_or_else(|| format!("missing field '{field}'"))?;
    value
        .as_array()
        .ok_or_else(|| format!("field '{field}' is not an array"))
}

/// A tag from its JSON value: a string, or an integer index into the label names.
fn json_tag(value: &Value, options: &JsonlTagOptions) -> std::result::Result<String, String> {
    if let Some(text) = value.as_str() {
        let tag = strip_invisible_marks(text);
        return if tag.is_empty() {
            Err("empty tag".to_string())
        } else {
            Ok(tag)
        };
    }
    let Some(index) = value.as_u64() else {
        return Err(format!(
            "{value} is neither a string nor a non-negative integer"
        ));
    };
    let names = options
        .label_names
        .as_ref()
        .ok_or_else(|| format!("integer tag {index} but no label names were given"))?;
    let name = usize::try_from(index).ok().and_then(|i| names.get(i));
    name.cloned().ok_or_else(|| {
        format!(
            "tag index {index} is out of range for {} label names",
            names.len()
        )
    })
}

/// Reads a NER file by its extension: `.jsonl` / `.json` as JSON Lines (`tokens` / `tags`),
/// anything else as CoNLL columns (`tag_column` picks the tag column there). Tags are converted
/// to IOB2 from `scheme` (detected when `None`).
pub fn read_tagged_file(
    path: impl AsRef<Path>,
    scheme: Option<TagScheme>,
    tag_column: super::conll::TagColumn,
) -> Result<TaggedCorpus> {
    let path = path.as_ref();
    let tags = TagOptions {
        scheme,
        strict: false,
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "jsonl" || ext == "json" {
        let options = JsonlTagOptions {
            tags,
            ..JsonlTagOptions::default()
        };
        read_tagged_jsonl(path, &options)
    } else {
        let options = super::conll::ConllOptions { tag_column, tags };
        super::conll::read_conll(path, &options)
    }
}
