//! Hub ids resolve through the standard Hugging Face cache layout
//! (`models--org--name/refs/main` + `snapshots/<rev>/...`), offline when HF_HUB_OFFLINE=1.

mod common;

#[test]
fn hub_id_loads_from_a_populated_cache_offline() {
    let cache = tempfile::tempdir().unwrap();
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let repo = cache.path().join("models--naba-test--tiny-bert");
    let snapshot = repo.join("snapshots").join(rev);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs").join("main"), rev).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer_config.json",
    ] {
        std::fs::copy(
            common::fixtures().join("tiny-bert").join(f),
            snapshot.join(f),
        )
        .unwrap();
    }
    std::env::set_var("HF_HUB_CACHE", cache.path());
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let folder = naba::model::ModelFolder::open("naba-test/tiny-bert").unwrap();
    assert_eq!(folder.dir, snapshot);
    assert_eq!(folder.config.hidden_size, 32);
    folder.load_encoder(&candle_core::Device::Cpu).unwrap();
    let err = naba::model::ModelFolder::open("naba-test/absent")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("naba-test/absent") && err.contains("not in the cache"),
        "{err}"
    );
}
