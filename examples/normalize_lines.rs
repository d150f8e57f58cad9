//! Normalises stdin to stdout line by line with a naba normaliser spec, for the comparison and
//! benchmark scripts (`scripts/normalize_vs_camel.py`, `scripts/bench_normalize.py`).
//!
//! ```text
//! cargo run --release --example normalize_lines -- SPEC < in.txt > out.txt
//! cargo run --release --example normalize_lines -- SPEC --bench ROUNDS [--offsets] < in.txt
//! ```
//! SPEC is a preset with optional `+step`/`-step` changes (e.g. `none+remove_diacritics`).
//! `--bench` reads all of stdin, normalises every line ROUNDS times (with the offset map when
//! `--offsets` is given) and prints one JSON line with bytes, seconds and MB/s.

use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use naba::text::{normalize_stream, Normalizer, NormalizerConfig};
use naba::{Error, Result};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        || Error::Invalid("usage: normalize_lines SPEC [--bench ROUNDS [--offsets]]".into());
    let spec = args.first().ok_or_else(usage)?;
    let normalizer = Normalizer::new(NormalizerConfig::parse(spec)?);
    match args.get(1).map(String::as_str) {
        None => {
            let stdin = io::stdin().lock();
            normalize_stream(
                stdin,
                io::stdout().lock(),
                &normalizer,
                Path::new("<stdin>"),
                Path::new("<stdout>"),
            )?;
            Ok(())
        }
        Some("--bench") => {
            let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).ok_or_else(usage)?;
            let offsets = args.get(3).map(String::as_str) == Some("--offsets");
            bench(&normalizer, rounds, offsets)
        }
        Some(_) => Err(usage()),
    }
}

fn bench(normalizer: &Normalizer, rounds: usize, offsets: bool) -> Result<()> {
    let mut input = String::new();
    io::stdin()
        .lock()
        .read_to_string(&mut input)
        .map_err(|e| Error::io("<stdin>", e))?;
    let lines: Vec<&str> = input.lines().collect();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let mut checksum = 0usize;
    let started = Instant::now();
    for _ in 0..rounds {
        for line in &lines {
            checksum += if offsets {
                normalizer.normalize(line).text().len()
            } else {
                normalizer.normalize_text(line).len()
            };
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let mb = (bytes * rounds) as f64 / 1e6;
    println!(
        "{{\"lines\":{},\"bytes\":{bytes},\"rounds\":{rounds},\"offsets\":{offsets},\"seconds\":{seconds:.4},\"mb_per_s\":{:.2},\"out_bytes\":{}}}",
        lines.len(),
        mb / seconds,
        checksum / rounds.max(1)
    );
    Ok(())
}
