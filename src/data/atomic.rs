//! Files that appear whole or not at all.
//!
//! [`AtomicFile`] writes into a temporary file next to the target, flushes it to disk and
//! renames it over the target on [`AtomicFile::commit`]. A reader never sees half a file, and an
//! interrupted write (error, panic, Ctrl-C before commit) leaves any previous file untouched:
//! the temporary file is removed when an uncommitted `AtomicFile` is dropped.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Makes temporary names unique among the `AtomicFile`s of this process.
static NEXT_TEMP_ID: AtomicU64 = AtomicU64::new(0);

/// A file under construction that replaces its target only when committed.
///
/// Write to it through [`std::io::Write`] (writes are buffered), then call
/// [`commit`](AtomicFile::commit). Dropping it without committing deletes the temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: BufWriter<File>,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing `path`: creates a temporary file in the same folder (the folder must exist).
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let target = path.as_ref().to_path_buf();
        let name = target
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{}: not a file path", target.display())))?;
        let dir = parent_dir(&target);
        loop {
            let id = NEXT_TEMP_ID.fetch_add(1, Ordering::Relaxed);
            let temp_name = format!(
                ".{}.{}.{}.tmp",
                name.to_string_lossy(),
                std::process::id(),
                id
            );
            let temp = dir.join(temp_name);
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        target,
                        temp,
                        writer: BufWriter::with_capacity(1 << 16, file),
                        committed: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&target, e)),
            }
        }
    }

    /// The file this will become.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Flushes, syncs to disk and renames the temporary file over the target.
    pub fn commit(mut self) -> Result<()> {
        self.writer
            .flush()
            .map_err(|e| Error::io(&self.target, e))?;
        self.writer
            .get_ref()
            .sync_all()
            .map_err(|e| Error::io(&self.target, e))?;
        fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.committed = true;
        sync_dir(&parent_dir(&self.target));
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the temporary file is hidden and named as such if this fails.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`AtomicFile`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.commit()
}

/// The folder holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes a rename durable by syncing its folder. Best effort: some file systems refuse it.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read test dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_creates_and_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.json");
        write_atomic(&path, b"first").expect("write");
        write_atomic(&path, b"second").expect("overwrite");
        assert_eq!(fs::read(&path).expect("read"), b"second");
        assert_eq!(entries(dir.path()), vec!["out.json"]);
    }

    #[test]
    fn uncommitted_file_leaves_target_alone_and_cleans_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ckpt.bin");
        fs::write(&path, b"old").expect("seed");
        {
            let mut file = AtomicFile::create(&path).expect("create");
            file.write_all(b"half a checkpoint").expect("write");
            assert_eq!(
                entries(dir.path()).len(),
                2,
                "temp file sits beside the target"
            );
        }
        assert_eq!(fs::read(&path).expect("read"), b"old");
        assert_eq!(entries(dir.path()), vec!["ckpt.bin"]);
    }

    #[test]
    fn missing_folder_is_an_error_naming_the_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no-such-dir").join("x.txt");
        let err = write_atomic(&path, b"x").expect_err("must fail");
        assert!(err.to_string().contains("no-such-dir/x.txt"), "{err}");
    }
}
