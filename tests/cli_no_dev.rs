//! `naba train --dev-split 0` without `--dev`: every training example is used, nothing is
//! evaluated, and the last model is saved (transformers' `Trainer` without an eval set).

mod common;

use std::path::Path;
use std::process::Command;

fn train_without_dev(task: &str, data: &str, out: &Path) {
    let train = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(data);
    let run = Command::new(env!("CARGO_BIN_EXE_naba"))
        .args(["train", "--task", task, "--model"])
        .arg(common::fixtures().join("tiny-bert"))
        .arg("--train")
        .arg(&train)
        .args(["--dev-split", "0", "--max-len", "32", "--max-steps", "3"])
        .args(["--batch-size", "8", "--output"])
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains(" 0 dev"), "{stderr}");
    assert!(stderr.contains("saving the model at step 3"), "{stderr}");
    assert!(!stderr.contains("evaluating"), "{stderr}");
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(out.join(file).is_file(), "{file} of {task}");
    }
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap_or_default();
    assert!(log.trim().is_empty(), "no evaluations logged: {log}");
}

#[test]
fn topic_training_without_dev_keeps_the_last_model() {
    let dir = tempfile::tempdir().unwrap();
    train_without_dev("topic", "sanad-sample/train.jsonl", &dir.path().join("m"));
}

#[test]
fn ner_training_without_dev_keeps_the_last_model() {
    let dir = tempfile::tempdir().unwrap();
    train_without_dev("ner", "anercorp-sample/train.conll", &dir.path().join("m"));
}
