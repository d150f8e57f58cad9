//! CSV and TSV documents with a header line naming the columns.
//!
//! CSV follows RFC 4180 (quoted fields may hold commas, quotes and newlines); TSV has no
//! quoting. Blank lines are skipped. Columns other than text, label, title and id are passed
//! through as strings.

use std::path::Path;

use csv::{Reader, ReaderBuilder, StringRecord};
use serde_json::{Map, Value};

use super::input::{CheckedStream, LineReader};
use super::record::RawRecord;
use super::{Document, ReaderOptions};
use crate::error::{Error, Result};

/// Where the wanted columns are in each row.
struct Columns {
    text: usize,
    label: Option<usize>,
    title: Option<usize>,
    id: Option<usize>,
    /// The header, for naming the pass-through columns.
    header: Vec<String>,
}

/// Streams the documents of a CSV or TSV file.
pub(super) struct CsvDocuments {
    reader: Reader<CheckedStream>,
    columns: Columns,
    record: StringRecord,
    opts: ReaderOptions,
}

impl CsvDocuments {
    /// Opens `path` (plain or gzip) with `delimiter` (`b','` or `b'\t'`) and reads its header.
    pub(super) fn open(path: &Path, delimiter: u8, opts: &ReaderOptions) -> Result<Self> {
        let stream = CheckedStream::new(LineReader::open(path)?);
        let mut reader = ReaderBuilder::new()
            .delimiter(delimiter)
            .quoting(delimiter != b'\t')
            .flexible(true)
            .has_headers(true)
            .from_reader(stream);
        let header = match reader.headers() {
            Ok(header) => header.iter().map(str::to_string).collect::<Vec<_>>(),
            Err(e) => return Err(csv_error(&mut reader, e)),
        };
        if header.iter().all(|name| name.trim().is_empty()) {
            return Err(Error::format(
                path,
                1,
                "no header line (the first line must name the columns)",
            ));
        }
        let columns = Columns::find(path, header, opts)?;
        Ok(CsvDocuments {
            reader,
            columns,
            record: StringRecord::new(),
            opts: opts.clone(),
        })
    }

    /// Turns the current row into a document.
    fn document(&self) -> Result<Document> {
        let path = self.reader.get_ref().path();
        let line = self.record.position().map_or(0, |p| p.line() as usize);
        let expected = self.columns.header.len();
        if self.record.len() != expected {
            let found = self.record.len();
            return Err(Error::format(
                path,
                line,
                format!("row has {found} fields but the header has {expected}"),
            ));
        }
        let cell =
            |index: Option<usize>| index.and_then(|i| self.record.get(i)).map(str::to_string);
        let used = [
            Some(self.columns.text),
            self.columns.label,
            self.columns.title,
            self.columns.id,
        ];
        let extra: Map<String, Value> = self
            .columns
            .header
            .iter()
            .zip(self.record.iter())
            .enumerate()
            .filter(|(i, _)| !used.contains(&Some(*i)))
            .map(|(_, (name, value))| (name.clone(), Value::String(value.to_string())))
            .collect();
        RawRecord {
            text: cell(Some(self.columns.text)).unwrap_or_default(),
            title: cell(self.columns.title),
            label: cell(self.columns.label),
            id: cell(self.columns.id),
            extra,
        }
        .into_document(path, line, &self.opts)
    }
}

impl Iterator for CsvDocuments {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) if self.record.iter().all(str::is_empty) => continue,
                Ok(true) => return Some(self.document()),
                Err(e) => return Some(Err(csv_error(&mut self.reader, e))),
            }
        }
    }
}

impl Columns {
    /// Finds the configured columns in `header`; text (and label, when required) must exist.
    fn find(path: &Path, header: Vec<String>, opts: &ReaderOptions) -> Result<Self> {
        let position = |name: &str| header.iter().position(|column| column.trim() == name);
        let require = |name: &str, role: &str| {
            position(name).ok_or_else(|| {
                let present = header.join(", ");
                Error::format(
                    path,
                    1,
                    format!("no {role} column '{name}' in the header (columns: {present})"),
                )
            })
        };
        let text = require(&opts.text_field, "text")?;
        let label = if opts.require_label {
            Some(require(&opts.label_field, "label")?)
        } else {
            position(&opts.label_field)
        };
        let title = match &opts.title_field {
            Some(name) => Some(require(name, "title")?),
            None => None,
        };
        let id = position(&opts.id_field);
        Ok(Columns {
            text,
            label,
            title,
            id,
            header,
        })
    }
}

/// Turns a CSV parser error into a naba error with file and line.
fn csv_error(reader: &mut Reader<CheckedStream>, e: csv::Error) -> Error {
    if let Some(error) = reader.get_mut().take_error() {
        return error;
    }
    let path = reader.get_ref().path().to_path_buf();
    let line = e.position().map_or(0, |p| p.line() as usize);
    Error::format(path, line, format!("malformed CSV: {e}"))
}
