//! `naba embed`: sentence embeddings as JSON Lines.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Args;
use naba::infer::embed::{EmbedOptions, Embedder};

#[derive(Args, Debug)]
pub struct EmbedArgs {
    /// Texts to embed; with none, lines are read from --input or stdin.
    texts: Vec<String>,
    /// Model folder, hub id, or `pypi:multilingual-e5-small`.
    #[arg(long, short, default_value = naba::model::hub::E5_ALIAS)]
    model: String,
    /// Read one text per line from this file (`-` = stdin).
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Text put before each input; e5 models expect "query: " or "passage: ".
    #[arg(long, default_value = "")]
    prefix: String,
    /// Longest input in tokens (longer texts are truncated).
    #[arg(long, default_value_t = 512)]
    max_len: usize,
    /// Padded tokens per batch.
    #[arg(long, default_value_t = 8192)]
    batch_tokens: usize,
    /// Keep raw mean-pooled vectors (no unit-length scaling).
    #[arg(long)]
    no_normalize: bool,
    /// Weight precision of the encoder's projections at inference: none (f32), q8, q4
    /// (8/4-bit blocks, less memory; q4 suits unmodified base encoders, not fine-tuned ones),
    /// i16 (16-bit integer products, faster on AVX2 CPUs) or i8 (8-bit integer products,
    /// faster still, coarser); see README
    #[arg(long, default_value = "none")]
    quantize: naba::model::quantize::Quantization,
}

pub fn run(a: EmbedArgs) -> anyhow::Result<()> {
    let texts: Vec<String> = if !a.texts.is_empty() {
        super::warn_texts_naming_files(&a.texts, "--input (one text per line)");
        a.texts
    } else {
        let reader: Box<dyn BufRead> = match &a.input {
            Some(p) if p.as_os_str() != "-" => Box::new(std::io::BufReader::new(
                std::fs::File::open(p).map_err(|e| naba::Error::io(p, e))?,
            )),
            _ => Box::new(std::io::stdin().lock()),
        };
        reader
            .lines()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect()
    };
    let mut embedder = Embedder::open(&a.model, &candle_core::Device::Cpu)?;
    embedder.prepare_for_inference(a.quantize)?;
    let opts = EmbedOptions {
        max_len: a.max_len,
        batch_tokens: a.batch_tokens,
        prefix: a.prefix,
        normalize: !a.no_normalize,
    };
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs, &opts)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, (text, v)) in texts.iter().zip(vectors).enumerate() {
        let line = serde_json::json!({"id": i, "text": text, "dim": v.len(), "embedding": v});
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}
