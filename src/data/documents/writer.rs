//! Writing JSON Lines: to a file atomically (it appears complete on [`JsonlWriter::finish`] or
//! not at all) or to standard output.

use std::io::{self, BufWriter, Stdout, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::data::atomic::AtomicFile;
use crate::error::{Error, Result};

/// Where the lines go.
enum Sink {
    File(AtomicFile),
    Stdout(BufWriter<Stdout>),
}

/// Writes one JSON value a line, e.g. predictions or [`Document`](super::Document)s.
pub struct JsonlWriter {
    sink: Sink,
    /// Named in errors (`<stdout>` for standard output).
    name: PathBuf,
    lines: usize,
}

impl JsonlWriter {
    /// Writes to `path`, which is replaced only when [`finish`](JsonlWriter::finish) succeeds.
    pub fn create(path: &Path) -> Result<Self> {
        Ok(JsonlWriter {
            sink: Sink::File(AtomicFile::create(path)?),
            name: path.to_path_buf(),
            lines: 0,
        })
    }

    /// Writes to standard output.
    pub fn stdout() -> Self {
        JsonlWriter {
            sink: Sink::Stdout(BufWriter::new(io::stdout())),
            name: PathBuf::from("<stdout>"),
            lines: 0,
        }
    }

    /// Appends `record` as one line of JSON (UTF-8, non-ASCII characters written as they are).
    pub fn write<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<()> {
        let out: &mut dyn Write = match &mut self.sink {
            Sink::File(file) => file,
            Sink::Stdout(stdout) => stdout,
        };
        serde_json::to_writer(&mut *out, record).map_err(|e| Error::io(&self.name, e.into()))?;
        out.write_all(b"\n").map_err(|e| Error::io(&self.name, e))?;
        self.lines += 1;
        Ok(())
    }

    /// Pushes the lines written so far to standard output (a file sink shows nothing before
    /// [`finish`](JsonlWriter::finish), so there is nothing to push).
    pub fn flush(&mut self) -> Result<()> {
        match &mut self.sink {
            Sink::File(_) => Ok(()),
            Sink::Stdout(stdout) => stdout.flush().map_err(|e| Error::io(&self.name, e)),
        }
    }

    /// How many lines were written so far.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Flushes everything; a file is then moved into place.
    pub fn finish(self) -> Result<()> {
        match self.sink {
            Sink::File(file) => file.commit(),
            Sink::Stdout(mut stdout) => stdout.flush().map_err(|e| Error::io(&self.name, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::documents::Document;

    #[test]
    fn writes_one_object_a_line_and_commits_on_finish() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pred.jsonl");
        let mut writer = JsonlWriter::create(&path).expect("create");
        let mut doc = Document {
            id: "a:1".into(),
            text: "خبر".into(),
            label: Some("Sports".into()),
            ..Document::default()
        };
        doc.extra.insert("platform".into(), "twitter".into());
        writer.write(&doc).expect("write");
        writer
            .write(&serde_json::json!({"id": "b", "label": null}))
            .expect("write");
        assert_eq!(writer.lines(), 2);
        assert!(!path.exists(), "nothing visible before finish");
        writer.finish().expect("finish");
        let written = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            written,
            "{\"id\":\"a:1\",\"text\":\"خبر\",\"label\":\"Sports\",\"platform\":\"twitter\"}\n{\"id\":\"b\",\"label\":null}\n"
        );
    }

    #[test]
    fn dropped_writer_leaves_no_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pred.jsonl");
        let mut writer = JsonlWriter::create(&path).expect("create");
        writer.write("x").expect("write");
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
