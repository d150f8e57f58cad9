//! Plain text for prediction: one document per line, or a whole file as one document.

use std::path::Path;

use super::input::{self, LineReader};
use super::Document;
use crate::error::{Error, Result};

/// Streams the non-blank lines of a text file as documents with ids `<file name>:<line>`.
pub(super) struct LineDocuments {
    lines: LineReader,
}

impl LineDocuments {
    /// Opens `path` (plain or gzip).
    pub(super) fn open(path: &Path) -> Result<Self> {
        Ok(LineDocuments {
            lines: LineReader::open(path)?,
        })
    }
}

impl Iterator for LineDocuments {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.lines.next_nonblank_line()?;
        Some(next.map(|(line, text)| {
            let id = format!("{}:{line}", input::file_name(self.lines.path()));
            Document {
                id,
                text,
                ..Document::default()
            }
        }))
    }
}

/// The whole of `path` as one document, id = the file name.
pub(super) fn whole_file(path: &Path) -> std::iter::Once<Result<Document>> {
    std::iter::once(read_whole_file(path))
}

fn read_whole_file(path: &Path) -> Result<Document> {
    let text = input::read_text(path)?;
    if text.trim().is_empty() {
        return Err(Error::format(path, 0, "empty document"));
    }
    Ok(Document {
        id: input::file_name(path),
        text,
        ..Document::default()
    })
}
