//! Opening document files: gzip (detected by its magic bytes), byte-order mark, UTF-8 checks
//! with byte offsets, and line-by-line reading that keeps count of line numbers.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BOM: &[u8] = "\u{feff}".as_bytes();
const BUFFER_SIZE: usize = 1 << 16;

/// An opened file: its (decompressed) bytes after any byte-order mark.
struct Opened {
    reader: Box<dyn BufRead + Send>,
    compressed: bool,
    /// Bytes skipped at the start (the BOM), so offsets still count from the file's start.
    skipped: u64,
}

/// Opens `path`, decompressing gzip and skipping a UTF-8 byte-order mark.
fn open(path: &Path) -> Result<Opened> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut raw = BufReader::with_capacity(BUFFER_SIZE, file);
    let compressed = raw
        .fill_buf()
        .map_err(|e| Error::io(path, e))?
        .starts_with(&GZIP_MAGIC);
    let mut reader: Box<dyn BufRead + Send> = if compressed {
        Box::new(BufReader::with_capacity(
            BUFFER_SIZE,
            MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    let has_bom = reader
        .fill_buf()
        .map_err(|e| read_error(path, 1, compressed, e))?
        .starts_with(BOM);
    if has_bom {
        reader.consume(BOM.len());
    }
    let skipped = if has_bom { BOM.len() as u64 } else { 0 };
    Ok(Opened {
        reader,
        compressed,
        skipped,
    })
}

/// Maps a read failure: inside gzip data it means corrupt or truncated compressed data.
fn read_error(path: &Path, line: usize, compressed: bool, e: io::Error) -> Error {
    if compressed {
        Error::format(
            path,
            line,
            format!("gzip data is corrupt or truncated ({e})"),
        )
    } else {
        Error::io(path, e)
    }
}

/// The error for invalid UTF-8 at `offset` bytes from the start of the (decompressed) file.
fn utf8_error(path: &Path, line: usize, offset: u64, compressed: bool) -> Error {
    let of = if compressed {
        " of the decompressed data"
    } else {
        ""
    };
    Error::format(
        path,
        line,
        format!("invalid UTF-8 at byte offset {offset}{of}"),
    )
}

/// A short name for `path` used in generated ids: its file name.
pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads a whole file (gzip allowed) as UTF-8 text without its byte-order mark.
pub(super) fn read_text(path: &Path) -> Result<String> {
    let mut opened = open(path)?;
    let mut bytes = Vec::new();
    opened
        .reader
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(path, 0, opened.compressed, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        utf8_error(path, line, opened.skipped + valid as u64, opened.compressed)
    })
}

/// Reads a file line by line as UTF-8, counting 1-based line numbers and byte offsets.
pub(super) struct LineReader {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    compressed: bool,
    /// Number of the line last returned.
    line: usize,
    /// Byte offset of the next line's start.
    offset: u64,
    buffer: Vec<u8>,
}

impl LineReader {
    /// Opens `path` (gzip allowed; a byte-order mark is skipped).
    pub(super) fn open(path: &Path) -> Result<Self> {
        let opened = open(path)?;
        Ok(LineReader {
            path: path.to_path_buf(),
            reader: opened.reader,
            compressed: opened.compressed,
            line: 0,
            offset: opened.skipped,
            buffer: Vec::new(),
        })
    }

    /// The file being read.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The next line as `(line number, text without its line ending)`, `None` at the end.
    pub(super) fn next_line(&mut self) -> Option<Result<(usize, String)>> {
        self.buffer.clear();
        let line = self.line + 1;
        match self.reader.read_until(b'\n', &mut self.buffer) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(read_error(&self.path, line, self.compressed, e))),
        }
        self.line = line;
        let start = self.offset;
        self.offset += self.buffer.len() as u64;
        let mut end = self.buffer.len();
        if self.buffer[..end].ends_with(b"\n") {
            end -= 1;
        }
        if self.buffer[..end].ends_with(b"\r") {
            end -= 1;
        }
        Some(match std::str::from_utf8(&self.buffer[..end]) {
            Ok(text) => Ok((line, text.to_string())),
            Err(e) => Err(utf8_error(
                &self.path,
                line,
                start + e.valid_up_to() as u64,
                self.compressed,
            )),
        })
    }

    /// Like [`next_line`](LineReader::next_line), skipping lines that are blank or whitespace.
    pub(super) fn next_nonblank_line(&mut self) -> Option<Result<(usize, String)>> {
        loop {
            match self.next_line()? {
                Ok((_, text)) if text.trim().is_empty() => continue,
                next => return Some(next),
            }
        }
    }
}

/// Presents the checked lines of a [`LineReader`] as a byte stream (each line ending in `\n`),
/// for parsers such as the CSV reader. When reading fails, the `io::Error` handed to the parser
/// only says so; the naba [`Error`] with file, line and problem waits in [`take_error`].
///
/// [`take_error`]: CheckedStream::take_error
pub(super) struct CheckedStream {
    lines: LineReader,
    pending: Vec<u8>,
    position: usize,
    error: Option<Error>,
}

impl CheckedStream {
    /// Streams the lines of `lines`.
    pub(super) fn new(lines: LineReader) -> Self {
        CheckedStream {
            lines,
            pending: Vec::new(),
            position: 0,
            error: None,
        }
    }

    /// The file being read.
    pub(super) fn path(&self) -> &Path {
        self.lines.path()
    }

    /// The error behind the last failed read, if any.
    pub(super) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }
}

impl Read for CheckedStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position == self.pending.len() {
            match self.lines.next_line() {
                None => return Ok(0),
                Some(Err(e)) => {
                    let message = e.to_string();
                    self.error = Some(e);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, message));
                }
                Some(Ok((_, text))) => {
                    self.pending = text.into_bytes();
                    self.pending.push(b'\n');
                    self.position = 0;
                }
            }
        }
        let n = out.len().min(self.pending.len() - self.position);
        out[..n].copy_from_slice(&self.pending[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}
