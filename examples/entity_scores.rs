//! Entity-level scores of a `token ... GOLD PRED` CoNLL file, as JSON on stdout: the default
//! (conlleval-compatible) mode and strict mode under every scheme, each either a report or
//! `{"error": "..."}`. `scripts/seqeval_parity.py` compares this output with seqeval.
//!
//! Usage: `cargo run --release --example entity_scores -- FILE [--suffix]`

use std::collections::BTreeMap;
use std::process::ExitCode;

use naba::data::conll::read_gold_pred;
use naba::metrics::{entity_report_with, EntityMode, EntityOptions, Scheme};
use serde_json::{json, Value};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let suffix = args.iter().any(|a| a == "--suffix");
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [path] = files.as_slice() else {
        eprintln!("usage: entity_scores FILE [--suffix]");
        return ExitCode::FAILURE;
    };
    let data = match read_gold_pred(path) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let score = |mode: EntityMode| -> Value {
        match entity_report_with(&data.gold, &data.pred, EntityOptions { mode, suffix }) {
            Ok(report) => {
                serde_json::to_value(report).unwrap_or_else(|e| json!({ "error": e.to_string() }))
            }
            Err(e) => json!({ "error": e.to_string() }),
        }
    };
    let strict: BTreeMap<&str, Value> = Scheme::ALL
        .iter()
        .map(|&scheme| (scheme.name(), score(EntityMode::Strict(scheme))))
        .collect();
    let output = json!({
        "sentences": data.gold.len(),
        "tokens": data.gold.iter().map(Vec::len).sum::<usize>(),
        "default": score(EntityMode::Default),
        "strict": strict,
    });
    println!("{output}");
    ExitCode::SUCCESS
}
