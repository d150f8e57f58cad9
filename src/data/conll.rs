//! CoNLL-style column files for NER: reading tagged sentences, reading gold and predicted tag
//! columns for scoring, and writing tokens with gold (and predicted) tags.
//!
//! The format: one token per line, columns separated by spaces or tabs (a run counts as one
//! separator), the token in column 0. A blank line ends a sentence. Lines whose first column is
//! `-DOCSTART-` are skipped and end a sentence. CRLF line ends and a leading byte-order mark are
//! accepted. The invisible marks U+200E, U+200F and U+200B are dropped from every column; a
//! token that is left empty is skipped with its tags, so tags stay aligned with tokens. Every
//! token line of a file must have the same number of columns. Errors name the file and the
//! 1-based line.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::tagged::{
    finish, read_text, strip_invisible_marks, DraftSentence, Origin, TagOptions, TaggedCorpus,
    TaggedSentence,
};
use super::tags::{from_iob2, TagScheme};
use crate::error::{Error, Result};

/// Which column holds the tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TagColumn {
    /// The last column (the usual `token ... TAG` layout).
    #[default]
    Last,
    /// A column by 0-based index: the token is column 0, so the tag of `token TAG` is column 1.
    Index(usize),
}

/// Options of the CoNLL reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConllOptions {
    /// Which column holds the tag.
    pub tag_column: TagColumn,
    /// Scheme detection and checking.
    pub tags: TagOptions,
}

/// Reads a CoNLL NER file: tags are checked against the given or detected scheme and converted
/// to IOB2.
pub fn read_conll(path: impl AsRef<Path>, options: &ConllOptions) -> Result<TaggedCorpus> {
    let path = path.as_ref();
    parse_conll(&read_text(path)?, path, options)
}

/// [`read_conll`] on text already in memory (without BOM handling); `source` names it in errors.
pub fn parse_conll(text: &str, source: &Path, options: &ConllOptions) -> Result<TaggedCorpus> {
    let blocks = parse_blocks(text, source)?;
    let Some(first) = blocks.first().and_then(|b| b.first()) else {
        return finish(Vec::new(), source, &options.tags);
    };
    let columns = first.fields.len();
    let tag_index = match options.tag_column {
        TagColumn::Index(0) => {
            return Err(Error::Invalid(
                "tag column 0 is the token column (columns are 0-based)".to_string(),
            ))
        }
        TagColumn::Index(index) if index >= columns => {
            let message = format!(
                "tag column {index} requested but lines have {columns} columns (0-based, the token is column 0)"
            );
            return Err(Error::format(source, first.line, message));
        }
        TagColumn::Index(index) => index,
        TagColumn::Last if columns < 2 => {
            let message = format!(
                "expected a token and a tag, found {}",
                column_count(columns)
            );
            return Err(Error::format(source, first.line, message));
        }
        TagColumn::Last => columns - 1,
    };
    let drafts = blocks
        .into_iter()
        .map(|rows| {
            let mut draft = DraftSentence {
                tokens: Vec::new(),
                tags: Vec::new(),
                origin: Origin::Lines(Vec::new()),
            };
            let mut lines = Vec::with_capacity(rows.len());
            for mut row in rows {
                draft.tags.push(std::mem::take(&mut row.fields[tag_index]));
                draft.tokens.push(std::mem::take(&mut row.fields[0]));
                lines.push(row.line);
            }
            draft.origin = Origin::Lines(lines);
            draft
        })
        .collect();
    finish(drafts, source, &options.tags)
}

/// Tokens with gold and predicted tags, as a scoring pipeline reads them back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoldPred {
    /// Tokens of each sentence.
    pub tokens: Vec<Vec<String>>,
    /// Gold tags of each sentence, exactly as written.
    pub gold: Vec<Vec<String>>,
    /// Predicted tags of each sentence, exactly as written.
    pub pred: Vec<Vec<String>>,
    /// 1-based line of each sentence's first token.
    pub lines: Vec<usize>,
}

/// Reads a `token ... GOLD PRED` file: gold is the second-to-last column, the prediction the
/// last. Tags are kept as written (no scheme check or conversion), so scores see the file as
/// it is.
pub fn read_gold_pred(path: impl AsRef<Path>) -> Result<GoldPred> {
    let path = path.as_ref();
    parse_gold_pred(&read_text(path)?, path)
}

/// [`read_gold_pred`] on text already in memory; `source` names it in errors.
pub fn parse_gold_pred(text: &str, source: &Path) -> Result<GoldPred> {
    let mut result = GoldPred::default();
    for rows in parse_blocks(text, source)? {
        let Some(first) = rows.first() else { continue };
        if first.fields.len() < 3 {
            let message = format!(
                "expected token, gold and predicted columns, found {}",
                first.fields.len()
            );
            return Err(Error::format(source, first.line, message));
        }
        result.lines.push(first.line);
        let (mut tokens, mut gold, mut pred) = (Vec::new(), Vec::new(), Vec::new());
        for mut row in rows {
            let n = row.fields.len();
            pred.push(std::mem::take(&mut row.fields[n - 1]));
            gold.push(std::mem::take(&mut row.fields[n - 2]));
            tokens.push(std::mem::take(&mut row.fields[0]));
        }
        result.tokens.push(tokens);
        result.gold.push(gold);
        result.pred.push(pred);
    }
    Ok(result)
}

/// Reads a CoNLL file as it is: for each sentence, each token line's columns (any number, at
/// least one), with the same format rules as [`read_conll`] but no tag handling. For echoing a
/// file back with a predicted column added.
pub fn read_conll_rows(path: impl AsRef<Path>) -> Result<Vec<Vec<Vec<String>>>> {
    let path = path.as_ref();
    Ok(parse_blocks(&read_text(path)?, path)?
        .into_iter()
        .map(|rows| rows.into_iter().map(|r| r.fields).collect())
        .collect())
}

/// One token line: its 1-based number and its columns.
struct Row {
    line: usize,
    fields: Vec<String>,
}

/// Splits a file into sentences of rows, applying the format rules of the module docs.
fn parse_blocks(text: &str, source: &Path) -> Result<Vec<Vec<Row>>> {
    let mut blocks = Vec::new();
    let mut current: Vec<Row> = Vec::new();
    // (columns, line) of the first token line, which every other token line must match.
    let mut layout: Option<(usize, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let raw: Vec<&str> = line.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
        if raw.is_empty() || raw[0] == "-DOCSTART-" {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            continue;
        }
        let fields: Vec<String> = raw.iter().map(|f| strip_invisible_marks(f)).collect();
        if fields[0].is_empty() {
            continue;
        }
        if let Some(empty) = fields.iter().position(String::is_empty) {
            let message = format!("column {empty} holds only invisible marks");
            return Err(Error::format(source, line_number, message));
        }
        match layout {
            None => layout = Some((fields.len(), line_number)),
            Some((columns, first_line)) if columns != fields.len() => {
                let message = format!(
                    "{}, but line {first_line} has {columns}",
                    column_count(fields.len())
                );
                return Err(Error::format(source, line_number, message));
            }
            Some(_) => {}
        }
        current.push(Row {
            line: line_number,
            fields,
        });
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    Ok(blocks)
}

/// "1 column", "3 columns".
fn column_count(n: usize) -> String {
    if n == 1 {
        "1 column".to_string()
    } else {
        format!("{n} columns")
    }
}

/// The CoNLL text of `sentences` (IOB2 tags) written in `scheme`: `token gold` per line, or
/// `token gold pred` when predicted IOB2 tags are given, a blank line after each sentence.
/// Errors when a token is empty or holds whitespace, when predictions do not line up with the
/// sentences, or on an illegal tag.
pub fn format_conll(
    sentences: &[TaggedSentence],
    predicted: Option<&[Vec<String>]>,
    scheme: TagScheme,
) -> Result<String> {
    if let Some(pred) = predicted {
        if pred.len() != sentences.len() {
            return Err(Error::Invalid(format!(
                "{} sentences but {} predicted tag sequences",
                sentences.len(),
                pred.len()
            )));
        }
    }
    let mut out = String::new();
    for (s, sentence) in sentences.iter().enumerate() {
        let convert = |tags: &[String]| {
            from_iob2(tags, scheme).map_err(|e| Error::Invalid(e.in_sentence(s).to_string()))
        };
        if sentence.tags.len() != sentence.tokens.len() {
            return Err(Error::Invalid(format!(
                "sentence {}: {} tokens but {} tags",
                s + 1,
                sentence.tokens.len(),
                sentence.tags.len()
            )));
        }
        let gold = convert(&sentence.tags)?;
        let pred = match predicted {
            Some(pred) if pred[s].len() != sentence.tokens.len() => {
                return Err(Error::Invalid(format!(
                    "sentence {}: {} tokens but {} predicted tags",
                    s + 1,
                    sentence.tokens.len(),
                    pred[s].len()
                )));
            }
            Some(pred) => Some(convert(&pred[s])?),
            None => None,
        };
        for (t, token) in sentence.tokens.iter().enumerate() {
            if token.is_empty() || token.contains(char::is_whitespace) {
                return Err(Error::Invalid(format!(
                    "sentence {}, token {}: '{token}' is empty or holds whitespace, which a CoNLL column cannot",
                    s + 1,
                    t + 1
                )));
            }
            out.push_str(token);
            out.push(' ');
            out.push_str(&gold[t]);
            if let Some(pred) = &pred {
                out.push(' ');
                out.push_str(&pred[t]);
            }
            out.push('\n');
        }
        out.push('\n');
    }
    Ok(out)
}

/// Writes [`format_conll`]'s text to `path` atomically.
pub fn write_conll(
    path: impl AsRef<Path>,
    sentences: &[TaggedSentence],
    predicted: Option<&[Vec<String>]>,
    scheme: TagScheme,
) -> Result<()> {
    write_atomic(
        path.as_ref(),
        format_conll(sentences, predicted, scheme)?.as_bytes(),
    )
}

/// Writes `contents` to a temporary file next to `path`, then renames it over `path`, so
/// readers never see a half-written file. (To be replaced by `data::atomic::write_atomic`, which
/// has the same signature, when the branches meet.)
fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{}: not a file path", path.display())))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp: PathBuf = path.with_file_name(temp_name);
    let written = std::fs::File::create(&temp)
        .and_then(|mut file| file.write_all(contents).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        Error::io(path, e)
    })
}
