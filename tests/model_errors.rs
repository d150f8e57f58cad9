//! Bad model folders give one-line errors naming the file and the problem, never a panic.

mod common;

use std::path::Path;

use candle_core::Device;
use naba::model::ModelFolder;

fn copy_tiny(to: &Path) {
    let src = common::fixtures().join("tiny-bert");
    for f in [
        "config.json",
        "vocab.txt",
        "tokenizer_config.json",
        "model.safetensors",
    ] {
        std::fs::copy(src.join(f), to.join(f)).unwrap();
    }
}

fn load_error(dir: &Path) -> String {
    let err = match ModelFolder::open_dir(dir) {
        Err(e) => e.to_string(),
        Ok(folder) => match folder.load_encoder(&Device::Cpu) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{} loaded", dir.display()),
        },
    };
    assert!(!err.contains('\n'), "multi-line error: {err}");
    err
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("no weights") && err.contains("model.safetensors"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("vocab.txt")).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("no tokenizer"), "{err}");
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("no config.json"), "{err}");
}

#[test]
fn wrong_shapes_name_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let cfg = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        cfg.replace("\"intermediate_size\": 64", "\"intermediate_size\": 48"),
    )
    .unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("intermediate.dense.weight") && err.contains("shape"),
        "{err}"
    );
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn corrupt_safetensors_is_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("model.safetensors"), "{err}");
    std::fs::write(&path, b"not a safetensors file at all").unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("model.safetensors") && err.contains("corrupt"),
        "{err}"
    );
}

#[test]
fn unknown_model_type_and_bad_json_are_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    let cfg_path = dir.path().join("config.json");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(
        &cfg_path,
        cfg.replace("\"model_type\": \"bert\"", "\"model_type\": \"t5\""),
    )
    .unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("config.json") && err.contains("\"t5\""),
        "{err}"
    );
    std::fs::write(&cfg_path, "{\"hidden_size\": 32,\n oops}").unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("config.json:2"), "{err}");
}

#[test]
fn corrupt_e5s1_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("e5-small-q4.bin");
    let tok = common::fixtures().join("tiny-bert").join("vocab.txt");
    let mut bytes = b"E5S1".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    for v in [384i32, 12, 12, 1536, 250037, 512, 2] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&1e-12f32.to_le_bytes());
    bytes.extend_from_slice(&32i32.to_le_bytes());
    bytes.extend_from_slice(&5i32.to_le_bytes()); // 5 pieces, then the file ends
    std::fs::write(&bin, &bytes).unwrap();
    let err = naba::model::e5s1::convert(&bin, &tok, &dir.path().join("out"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("e5-small-q4.bin") && err.contains("truncated"),
        "{err}"
    );
    assert!(!dir.path().join("out").join("model.safetensors").exists());
}
