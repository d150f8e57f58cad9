//! Documents for topic classification: labelled ones for training and evaluation, unlabelled
//! ones for prediction.
//!
//! Formats (see [`DocumentFormat`]), picked from the path by default:
//! - JSON Lines (`.jsonl`, `.ndjson`, `.json`, each optionally `.gz`): one object a line, field
//!   names configurable (default `text` / `label` / `id`, optional title joined in front).
//! - CSV / TSV with a header line (`.csv`, `.tsv`), column names configurable as for JSON.
//! - A folder with one sub-folder per label, holding one UTF-8 text file per document.
//! - Plain text (`.txt`): one document per line, or a whole file as one document.
//!
//! Every reader strips a UTF-8 byte-order mark, accepts gzip input (detected by content), and
//! reports bad input as `file:line: problem` (invalid UTF-8 with its byte offset). Use
//! [`read_documents`] for a whole file or [`DocumentReader`] to stream a large one.

mod csv;
mod folder;
mod input;
mod jsonl;
mod plain;
mod record;
mod sampling;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

pub use sampling::{label_counts, stratified_subsample};
pub use writer::JsonlWriter;

/// One document: its id, its text and (for labelled data) its label.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Document {
    /// The record's id field when it has one, else `<file name>:<line>` (JSON Lines, CSV, text
    /// lines), `<label>/<file name>` (folders) or the file name (a whole text file).
    pub id: String,
    /// The text, with the title (when a title field is configured and present) joined in front
    /// by a newline.
    pub text: String,
    /// The label, `None` for unlabelled input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The record's other fields, passed through untouched (JSON values; CSV cells as strings).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How a document file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocumentFormat {
    /// Decide from the path (see [`DocumentFormat::detect`]).
    #[default]
    Auto,
    /// JSON Lines: one JSON object a line.
    Jsonl,
    /// Comma-separated values with a header line (RFC 4180 quoting).
    Csv,
    /// Tab-separated values with a header line (no quoting: fields hold no tab or newline).
    Tsv,
    /// A folder holding one sub-folder per label, one text file per document inside.
    Folder,
    /// Plain text, one document per non-blank line (unlabelled).
    Lines,
    /// Plain text, the whole file is one document (unlabelled).
    Text,
}

impl DocumentFormat {
    /// The names accepted by [`FromStr`], as shown to users.
    pub const NAMES: [&'static str; 7] = ["auto", "jsonl", "csv", "tsv", "folder", "lines", "text"];

    /// Resolves [`Auto`](DocumentFormat::Auto) from `path`: a directory is a folder per label;
    /// otherwise the extension, after an optional `.gz`, decides: `jsonl`, `ndjson`, `json` →
    /// JSON Lines, `csv`, `tsv` / `tab`, `txt` → one document per line. Other formats are
    /// returned as they are.
    pub fn detect(self, path: &Path) -> Result<DocumentFormat> {
        if self != DocumentFormat::Auto {
            return Ok(self);
        }
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Ok(DocumentFormat::Folder);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let extension = name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
        match extension {
            "jsonl" | "ndjson" | "json" => Ok(DocumentFormat::Jsonl),
            "csv" => Ok(DocumentFormat::Csv),
            "tsv" | "tab" => Ok(DocumentFormat::Tsv),
            "txt" => Ok(DocumentFormat::Lines),
            _ => Err(Error::format(
                path,
                0,
                "cannot tell the document format from the file name (expected .jsonl, .jsonl.gz, \
                 .json.gz, .csv, .tsv, .txt or a folder); name the format explicitly",
            )),
        }
    }
}

impl fmt::Display for DocumentFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            DocumentFormat::Auto => "auto",
            DocumentFormat::Jsonl => "jsonl",
            DocumentFormat::Csv => "csv",
            DocumentFormat::Tsv => "tsv",
            DocumentFormat::Folder => "folder",
            DocumentFormat::Lines => "lines",
            DocumentFormat::Text => "text",
        };
        f.write_str(name)
    }
}

impl FromStr for DocumentFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DocumentFormat::Auto),
            "jsonl" | "ndjson" | "json" => Ok(DocumentFormat::Jsonl),
            "csv" => Ok(DocumentFormat::Csv),
            "tsv" => Ok(DocumentFormat::Tsv),
            "folder" | "dir" => Ok(DocumentFormat::Folder),
            "lines" => Ok(DocumentFormat::Lines),
            "text" | "txt" => Ok(DocumentFormat::Text),
            _ => Err(Error::Invalid(format!(
                "unknown document format '{s}' (expected one of: {})",
                DocumentFormat::NAMES.join(", ")
            ))),
        }
    }
}

/// What to read and where the fields are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderOptions {
    /// The layout; [`DocumentFormat::Auto`] decides from the path.
    pub format: DocumentFormat,
    /// The field (JSON) or column (CSV/TSV) holding the text. Default `text`.
    pub text_field: String,
    /// The field or column holding the label. Default `label`.
    pub label_field: String,
    /// A field or column with a title to join in front of the text. Default none.
    pub title_field: Option<String>,
    /// The field or column with the document id; used when present. Default `id`.
    pub id_field: String,
    /// Whether every document must have a label (training, evaluation). When false, a label is
    /// read where present and documents without one get `None` (prediction).
    pub require_label: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            format: DocumentFormat::Auto,
            text_field: "text".to_string(),
            label_field: "label".to_string(),
            title_field: None,
            id_field: "id".to_string(),
            require_label: true,
        }
    }
}

impl ReaderOptions {
    /// Default options for unlabelled input (prediction): labels are optional.
    pub fn unlabelled() -> Self {
        ReaderOptions {
            require_label: false,
            ..ReaderOptions::default()
        }
    }

    /// These options with another format.
    pub fn with_format(self, format: DocumentFormat) -> Self {
        ReaderOptions { format, ..self }
    }
}

/// Streams the documents of a file or folder, one `Result` each. After the first error it
/// yields nothing more.
pub struct DocumentReader {
    inner: Box<dyn Iterator<Item = Result<Document>> + Send>,
    path: PathBuf,
    format: DocumentFormat,
    failed: bool,
}

impl DocumentReader {
    /// Opens `path` with `opts` (the format is detected here when it is `Auto`).
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<Self> {
        let format = opts.format.detect(path)?;
        if opts.require_label && matches!(format, DocumentFormat::Lines | DocumentFormat::Text) {
            return Err(Error::Invalid(format!(
                "{}: plain text ({format}) has no labels; use JSON Lines, CSV/TSV or a folder per \
                 label for labelled documents",
                path.display()
            )));
        }
        let inner: Box<dyn Iterator<Item = Result<Document>> + Send> = match format {
            DocumentFormat::Jsonl => Box::new(jsonl::JsonlDocuments::open(path, opts.clone())?),
            DocumentFormat::Csv => Box::new(csv::CsvDocuments::open(path, b',', opts)?),
            DocumentFormat::Tsv => Box::new(csv::CsvDocuments::open(path, b'\t', opts)?),
            DocumentFormat::Folder => Box::new(folder::FolderDocuments::open(path)?),
            DocumentFormat::Lines => Box::new(plain::LineDocuments::open(path)?),
            DocumentFormat::Text => Box::new(plain::whole_file(path)),
            DocumentFormat::Auto => unreachable!("detect() never returns Auto"),
        };
        Ok(DocumentReader {
            inner,
            path: path.to_path_buf(),
            format,
            failed: false,
        })
    }

    /// The file or folder being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format in use (never `Auto`).
    pub fn format(&self) -> DocumentFormat {
        self.format
    }
}

impl Iterator for DocumentReader {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.inner.next();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

/// Reads every document of `path` (a file or, for the folder format, a directory).
pub fn read_documents(path: &Path, opts: &ReaderOptions) -> Result<Vec<Document>> {
    DocumentReader::open(path, opts)?.collect()
}
