//! The `naba` command line for topics: train, eval (reports, unknown labels), predict (JSONL in
//! and out with ids passed through, plain text, stdin).

mod common;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn naba() -> Command {
    Command::new(env!("CARGO_BIN_EXE_naba"))
}

/// Asserts that the command ran successfully, showing its stderr if not.
fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/sanad-sample")
        .join(name)
}

fn trained(dir: &Path) -> PathBuf {
    let out = dir.join("model");
    let status = naba()
        .args(["train", "--model"])
        .arg(common::fixtures().join("tiny-bert"))
        .arg("--train")
        .arg(sample("train.jsonl"))
        .args([
            "--max-len",
            "32",
            "--max-steps",
            "6",
            "--eval-steps",
            "6",
            "--normalizer",
            "arabert",
            "--output",
        ])
        .arg(&out)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    out
}

#[test]
fn eval_and_predict_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(dir.path());
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["naba"]["normalizer"]["preset"], "arabert");

    let report_dir = dir.path().join("report");
    let out = naba()
        .args(["eval", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(sample("dev.jsonl"))
        .arg("--output-dir")
        .arg(&report_dir)
        .arg("--predictions")
        .output()
        .unwrap();
    succeeded(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("macro avg") && stdout.contains("accuracy"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["labels"].as_array().unwrap().len(), 7);
    assert!(std::fs::read_to_string(report_dir.join("confusion.svg"))
        .unwrap()
        .starts_with("<svg"));
    assert_eq!(
        std::fs::read_to_string(report_dir.join("predictions.jsonl"))
            .unwrap()
            .lines()
            .count(),
        70
    );

    // JSONL in: ids and other fields pass through
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"id\": \"a1\", \"text\": \"فاز الفريق بالمباراة\", \"source\": \"x\"}\n{\"id\": 7, \"text\": \"ارتفعت أسعار النفط\"}\n").unwrap();
    let out = naba()
        .args(["predict", "--top-k", "2", "--model"])
        .arg(&model)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    succeeded(&out);
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "a1");
    assert_eq!(lines[0]["source"], "x");
    assert_eq!(lines[1]["id"], "7");
    assert_eq!(lines[0]["top_k"].as_array().unwrap().len(), 2);
    let p = lines[0]["score"].as_f64().unwrap();
    assert!(p > 0.0 && p <= 1.0);

    // a file's path given as a text is classified as that string, with a note on stderr
    let out = naba()
        .args(["predict", "--model"])
        .arg(&model)
        .arg(&input)
        .arg("خبر عاجل")
        .output()
        .unwrap();
    succeeded(&out);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    let note = String::from_utf8(out.stderr).unwrap();
    assert!(
        note.contains(&format!("`{}` is read as text", input.display()))
            && note.contains("--input"),
        "{note}"
    );
    assert!(!note.contains("خبر عاجل"), "{note}");

    // stdin, one document per line
    let mut child = predict_from_stdin(&model);
    child
        .stdin
        .take()
        .unwrap()
        .write_all("خبر أول\n\nخبر ثان\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);

    // a stream: each answer comes while stdin is still open
    let mut child = predict_from_stdin(&model);
    let mut input = child.stdin.take().unwrap();
    let mut answers = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for (n, text) in ["خبر أول", "خبر ثان"].iter().enumerate() {
        writeln!(input, "{text}").unwrap();
        input.flush().unwrap();
        let answer: serde_json::Value =
            serde_json::from_str(&answers.next().unwrap().unwrap()).unwrap();
        assert_eq!(answer["id"], (n + 1).to_string());
    }
    drop(input);
    assert!(answers.next().is_none());
    assert!(child.wait().unwrap().success());
}

/// `naba predict --model model` reading stdin, both ends piped.
fn predict_from_stdin(model: &Path) -> std::process::Child {
    naba()
        .args(["predict", "--model"])
        .arg(model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn unknown_labels_in_eval_data_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained(dir.path());
    let data = dir.path().join("odd.jsonl");
    std::fs::write(
        &data,
        "{\"text\": \"نص\", \"label\": \"Weather\"}\n{\"text\": \"نص\", \"label\": \"Sports\"}\n",
    )
    .unwrap();
    let out = naba()
        .args(["eval", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("odd.jsonl") && err.contains("Weather"),
        "{err}"
    );
}
