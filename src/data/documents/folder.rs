//! A folder per label: `root/<label>/<document file>`, one UTF-8 text file per document.
//! Hidden entries (names starting with `.`) and files directly under the root (a README, say)
//! are ignored; labels and files are read in name order.

use std::fs;
use std::path::{Path, PathBuf};

use super::{input, Document};
use crate::error::{Error, Result};

/// Streams the documents of a folder-per-label tree.
pub(super) struct FolderDocuments {
    /// `(label, file)` pairs still to read, last one first.
    pending: Vec<(String, PathBuf)>,
}

impl FolderDocuments {
    /// Lists the label folders of `root` and their files.
    pub(super) fn open(root: &Path) -> Result<Self> {
        let labels = visible_entries(root)?
            .into_iter()
            .filter(|path| path.is_dir())
            .collect::<Vec<_>>();
        if labels.is_empty() {
            return Err(Error::format(
                root,
                0,
                "no label sub-folders (expected one folder per label, each holding one text file per document)",
            ));
        }
        let mut pending = Vec::new();
        for dir in labels {
            let label = dir
                .file_name()
                .and_then(|name| name.to_str())
                .ok_or_else(|| Error::format(&dir, 0, "label folder name is not valid UTF-8"))?
                .to_string();
            for file in visible_entries(&dir)? {
                if file.is_dir() {
                    return Err(Error::format(
                        &file,
                        0,
                        "unexpected folder inside a label folder (expected only text files)",
                    ));
                }
                pending.push((label.clone(), file));
            }
        }
        pending.reverse();
        Ok(FolderDocuments { pending })
    }
}

impl Iterator for FolderDocuments {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        let (label, file) = self.pending.pop()?;
        Some(read_document(label, &file))
    }
}

/// Reads one document file of the folder `label`.
fn read_document(label: String, file: &Path) -> Result<Document> {
    let text = input::read_text(file)?;
    if text.trim().is_empty() {
        return Err(Error::format(file, 0, "empty document"));
    }
    let id = format!("{label}/{}", input::file_name(file));
    Ok(Document {
        id,
        text,
        label: Some(label),
        ..Document::default()
    })
}

/// The entries of `dir` not starting with `.`, sorted by name.
fn visible_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            entries.push(entry.path());
        }
    }
    entries.sort();
    Ok(entries)
}
