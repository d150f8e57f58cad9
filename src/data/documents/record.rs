//! The checks and assembly shared by the record formats (JSON Lines, CSV/TSV): title joined in
//! front, empty text and empty labels rejected, an id made up where the record has none.

use std::path::Path;

use serde_json::{Map, Value};

use super::{input, Document, ReaderOptions};
use crate::error::{Error, Result};

/// The fields of one record, as found, before the checks.
pub(super) struct RawRecord {
    /// The text field's value.
    pub text: String,
    /// The title field's value, if configured and present.
    pub title: Option<String>,
    /// The label field's value, if present.
    pub label: Option<String>,
    /// The id field's value, if present.
    pub id: Option<String>,
    /// Every other field.
    pub extra: Map<String, Value>,
}

impl RawRecord {
    /// Checks the record read from `path` at `line` and turns it into a [`Document`].
    pub(super) fn into_document(
        self,
        path: &Path,
        line: usize,
        opts: &ReaderOptions,
    ) -> Result<Document> {
        if self.text.trim().is_empty() {
            return Err(Error::format(
                path,
                line,
                format!("empty text in field '{}'", opts.text_field),
            ));
        }
        let label = match self.label {
            Some(label) if label.trim().is_empty() => {
                if opts.require_label {
                    return Err(Error::format(
                        path,
                        line,
                        format!("empty label in field '{}'", opts.label_field),
                    ));
                }
                None
            }
            label => label,
        };
        let text = match self.title {
            Some(title) if !title.trim().is_empty() => format!("{title}\n{}", self.text),
            _ => self.text,
        };
        let id = self
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("{}:{line}", input::file_name(path)));
        Ok(Document {
            id,
            text,
            label,
            extra: self.extra,
        })
    }
}
