//! JSON Lines documents: one JSON object a line, blank lines skipped.

use std::path::Path;

use serde_json::{Map, Value};

use super::input::LineReader;
use super::record::RawRecord;
use super::{Document, ReaderOptions};
use crate::error::{Error, Result};

/// Streams the documents of a JSON Lines file.
pub(super) struct JsonlDocuments {
    lines: LineReader,
    opts: ReaderOptions,
}

impl JsonlDocuments {
    /// Opens `path` (plain or gzip).
    pub(super) fn open(path: &Path, opts: ReaderOptions) -> Result<Self> {
        Ok(JsonlDocuments {
            lines: LineReader::open(path)?,
            opts,
        })
    }
}

impl Iterator for JsonlDocuments {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.lines.next_nonblank_line()?;
        Some(next.and_then(|(line, text)| parse_line(self.lines.path(), line, &text, &self.opts)))
    }
}

/// Parses one JSON Lines record of `path` at 1-based `line`.
pub(super) fn parse_line(
    path: &Path,
    line: usize,
    text: &str,
    opts: &ReaderOptions,
) -> Result<Document> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message);
        Error::format(
            path,
            line,
            format!("invalid JSON at column {}: {message}", e.column()),
        )
    })?;
    let Value::Object(mut object) = value else {
        let found = type_name(&value);
        return Err(Error::format(
            path,
            line,
            format!("expected a JSON object, found {found}"),
        ));
    };
    let fields = Fields {
        path,
        line,
        object: &object,
    };
    let text = match fields.text(&opts.text_field)? {
        Some(text) => text,
        None => return Err(fields.missing(&opts.text_field)),
    };
    let label = fields.string(&opts.label_field)?;
    if label.is_none() && opts.require_label {
        return Err(fields.missing(&opts.label_field));
    }
    let title = match &opts.title_field {
        Some(name) => fields.string(name)?,
        None => None,
    };
    let id = fields.string(&opts.id_field)?;
    let mut used = vec![&opts.text_field, &opts.label_field, &opts.id_field];
    used.extend(opts.title_field.as_ref());
    for name in used {
        object.remove(name);
    }
    RawRecord {
        text,
        title,
        label,
        id,
        extra: object,
    }
    .into_document(path, line, opts)
}

/// Looks up fields of one record, with errors that say where and what.
struct Fields<'a> {
    path: &'a Path,
    line: usize,
    object: &'a Map<String, Value>,
}

impl Fields<'_> {
    /// The field `name` as a string: strings as they are, integers written out (ids and labels
    /// are often numbers); `None` when absent or null; an error for any other type.
    fn string(&self, name: &str) -> Result<Option<String>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
            Some(other) => Err(self.wrong_type(name, type_name(other))),
        }
    }

    /// The field `name` as text: a string, `None` when absent or null, an error otherwise.
    fn text(&self, name: &str) -> Result<Option<String>> {
        match self.object.get(name) {
            Some(Value::Number(_)) => Err(self.wrong_type(name, "a number")),
            _ => self.string(name),
        }
    }

    /// The error for a field of the wrong JSON type.
    fn wrong_type(&self, name: &str, found: &str) -> Error {
        Error::format(
            self.path,
            self.line,
            format!("field '{name}' must be a string, found {found}"),
        )
    }

    /// The error for a required field that is absent (or null).
    fn missing(&self, name: &str) -> Error {
        let present: Vec<&str> = self.object.keys().map(String::as_str).collect();
        let state = if self.object.contains_key(name) {
            "is null"
        } else {
            "is missing"
        };
        let present = if present.is_empty() {
            "none".to_string()
        } else {
            present.join(", ")
        };
        Error::format(
            self.path,
            self.line,
            format!("field '{name}' {state} (fields present: {present})"),
        )
    }
}

/// The JSON type of `value`, for messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
