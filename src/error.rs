//! The error type of the library: every variant says which file (and where possible which line)
//! and what is wrong, so the CLI can print it on one line.

use std::path::{Path, PathBuf};

/// Errors raised by naba. Each one renders as a single line naming the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's content is not what it should be (`line` is 1-based; 0 when not line-oriented).
    #[error("{}{}: {message}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Format {
        /// The file involved.
        path: PathBuf,
        /// 1-based line number, 0 when the problem is not tied to a line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A model folder, checkpoint or configuration is unusable.
    #[error("{}: {message}", path.display())]
    Model {
        /// The file or folder involved.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The Hugging Face hub could not provide a model.
    #[error("hub: {0}")]
    Hub(String),
    /// The user asked for something that cannot be done (bad flag values, mismatched inputs ...).
    #[error("{0}")]
    Invalid(String),
    /// A tensor operation failed.
    #[error("tensor: {0}")]
    Candle(#[from] candle_core::Error),
    /// The tokenizer library failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A format error in `path` at 1-based `line` (0 = whole file).
    pub fn format(path: impl AsRef<Path>, line: usize, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.as_ref().to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// A model error about `path`.
    pub fn model(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Model {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }
}
