//! A training run killed with SIGKILL and resumed ends with exactly the weights and scores of an
//! uninterrupted run with the same seed (data order, dropout and optimiser state are restored).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn train_cmd(output: &Path) -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_naba"));
    c.args(["--threads", "2", "train", "--model"])
        .arg(common::fixtures().join("tiny-bert"))
        .arg("--train")
        .arg(root.join("datasets/sanad-sample/train.jsonl"))
        .arg("--dev")
        .arg(root.join("datasets/sanad-sample/dev.jsonl"))
        .arg("--output")
        .arg(output)
        .args([
            "--max-len",
            "32",
            "--max-steps",
            "60",
            "--eval-steps",
            "20",
            "--save-steps",
            "3",
        ])
        .args([
            "--learning-rate",
            "3e-3",
            "--batch-size",
            "8",
            "--seed",
            "9",
            "--gradient-accumulation-steps",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

fn step_of(output: &Path) -> u64 {
    std::fs::read_to_string(output.join("checkpoint-last/trainer_state.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["global_step"].as_u64())
        .unwrap_or(0)
}

fn last_log_line(output: &Path) -> serde_json::Value {
    let log = std::fs::read_to_string(output.join("log.jsonl")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("elapsed_seconds");
    v
}

#[test]
fn sigkill_then_resume_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (straight, killed) = (dir.path().join("straight"), dir.path().join("killed"));
    assert!(train_cmd(&straight).status().unwrap().success());

    let mut child = train_cmd(&killed).spawn().unwrap();
    let start = Instant::now();
    while step_of(&killed) < 25 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = step_of(&killed);
    assert!(at_kill < 60, "killed at step {at_kill}");
    assert!(train_cmd(&killed)
        .arg("--resume")
        .status()
        .unwrap()
        .success());

    let weights = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(
        weights(&straight),
        weights(&killed),
        "best models differ (killed at step {at_kill})"
    );
    assert_eq!(
        std::fs::read(straight.join("checkpoint-last/model.safetensors")).unwrap(),
        std::fs::read(killed.join("checkpoint-last/model.safetensors")).unwrap(),
        "final weights differ"
    );
    assert_eq!(last_log_line(&straight), last_log_line(&killed));
}
