//! naba's side of the benchmark harness (`scripts/bench/harness.py`): times encoder inference
//! at given shapes, or one token-classification training step, on a model folder, and prints
//! one JSON object (seconds are medians over `--iters` timed runs after one warm-up run; inference
//! also gives the fastest run, `best_seconds`).
//!
//! ```text
//! bench_suite infer MODEL 8x128 1x512 32x64 [--iters N] [--quantize q8|q4|i16|i8]
//! bench_suite train MODEL 16x128 [--iters N]
//! bench_suite tokenize MODEL FILE.jsonl[.gz]
//! bench_suite serve MODEL [--quantize q8|q4|i16|i8]   (single passes on request, see paired.py)
//! ```

use std::time::Instant;

use anyhow::{bail, Context};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use naba::model::heads::TokenClassifier;
use naba::model::quantize::Quantization;
use naba::model::{BertModel, DropoutRng, Mode, ModelFolder};
use naba::train::optim::{AdamW, AdamWConfig};
use serde_json::{json, Map, Value};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `BxS` -> (B, S).
fn shape(spec: &str) -> anyhow::Result<(usize, usize)> {
    let (b, s) = spec
        .split_once('x')
        .with_context(|| format!("shape {spec:?} is not BxS"))?;
    Ok((b.parse()?, s.parse()?))
}

/// Deterministic token ids spread over the vocabulary (no special tokens).
fn ids(b: usize, s: usize, vocab: usize, dev: &Device) -> candle_core::Result<Tensor> {
    let span = (vocab - 10).min(60_000);
    let v: Vec<u32> = (0..b * s).map(|i| (i * 7919 % span) as u32 + 5).collect();
    Tensor::from_vec(v, (b, s), dev)
}

/// Runs `f` once to warm up, then `iters` times; the timed runs' seconds.
fn timed(iters: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Vec<f64>> {
    f()?;
    (0..iters)
        .map(|_| {
            let t = Instant::now();
            f()?;
            Ok(t.elapsed().as_secs_f64())
        })
        .collect()
}

fn infer(
    folder: &ModelFolder,
    shapes: &[String],
    iters: usize,
    quantize: Quantization,
) -> anyhow::Result<Value> {
    let dev = Device::Cpu;
    let mut encoder = folder.load_encoder(&dev)?;
    encoder.prepare_for_inference(quantize)?;
    let mut out = Map::new();
    for spec in shapes {
        let (b, s) = shape(spec)?;
        let input = ids(b, s, folder.config.vocab_size, &dev)?;
        let mask = Tensor::ones((b, s), DType::U32, &dev)?;
        let times = timed(iters, || {
            let h = encoder.forward(&input, &mask, &Mode::Eval)?;
            h.sum_all()?.to_scalar::<f32>()?;
            Ok(())
        })?;
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        let secs = median(times);
        out.insert(
            format!("infer {spec}"),
            json!({"seconds": secs, "tokens_per_s": (b * s) as f64 / secs,
                   "best_seconds": best}),
        );
    }
    Ok(Value::Object(out))
}

fn train(folder: &ModelFolder, spec: &str, iters: usize) -> anyhow::Result<Value> {
    let (b, s) = shape(spec)?;
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let (vb, _) = folder.trainable_vars(&varmap, &dev, 0)?;
    let mut encoder = BertModel::load(vb.pp(folder.family().prefix()), &folder.config, false)?;
    // row-sparse word-embedding gradients with lazy updates, as `naba train` runs by default
    encoder.track_word_rows();
    let labels = 9;
    let head = TokenClassifier::load(vb, &folder.config, labels)?;
    let vars = naba::train::task::varmap_variables(&varmap);
    let mut opt = AdamW::new(
        vars,
        AdamWConfig {
            weight_decay: 0.01,
            lazy_embeddings: true,
            ..Default::default()
        },
    );
    let rng = DropoutRng::new(0);
    let input = ids(b, s, folder.config.vocab_size, &dev)?;
    let mask = Tensor::ones((b, s), DType::U32, &dev)?;
    let gold: Vec<u32> = (0..b * s).map(|i| (i % labels) as u32).collect();
    let gold = Tensor::from_vec(gold, b * s, &dev)?;
    let mut parts = (Vec::new(), Vec::new(), Vec::new());
    timed(iters, || {
        let t0 = Instant::now();
        let hidden = encoder.forward(&input, &mask, &Mode::Train(&rng))?;
        let logits = head.forward(&hidden, &Mode::Train(&rng))?;
        let loss = candle_nn::loss::cross_entropy(&logits.reshape((b * s, labels))?, &gold)?;
        loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let rows = match encoder.word_rows() {
            Some(w) => w.take_grads(&grads)?,
            None => Vec::new(),
        };
        let t2 = Instant::now();
        opt.step(&grads, &rows, 1e-5, 1.0)?;
        let t3 = Instant::now();
        parts.0.push((t1 - t0).as_secs_f64());
        parts.1.push((t2 - t1).as_secs_f64());
        parts.2.push((t3 - t2).as_secs_f64());
        Ok(())
    })?;
    // drop the warm-up run
    let (f, bw, o) = (
        median(parts.0[1..].to_vec()),
        median(parts.1[1..].to_vec()),
        median(parts.2[1..].to_vec()),
    );
    let mut out = Map::new();
    out.insert(
        format!("train {spec}"),
        json!({"seconds": f + bw + o, "forward": f, "backward": bw, "optimizer": o}),
    );
    Ok(Value::Object(out))
}

fn tokenize(folder: &ModelFolder, file: &str) -> anyhow::Result<Value> {
    let docs = naba::data::documents::read_documents(
        std::path::Path::new(file),
        &naba::data::documents::ReaderOptions::default(),
    )?;
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let t = Instant::now();
    let encoded = folder.tokenizer.encode_batch(&texts, true)?;
    let secs = t.elapsed().as_secs_f64();
    let tokens: usize = encoded.iter().map(|e| e.ids.len()).sum();
    let mut out = Map::new();
    out.insert(
        "tokenize".into(),
        json!({"seconds": secs, "documents": texts.len(), "tokens": tokens,
               "docs_per_s": texts.len() as f64 / secs}),
    );
    Ok(Value::Object(out))
}

/// Peak resident memory of this process in MB (`VmHWM`), or 0 where unknown.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        })
        .unwrap_or(0.0)
}

/// Serves single forward passes for `scripts/bench/paired.py`: reads `BxS` lines from stdin and
/// answers each with the seconds of one forward pass at that shape; `rss` is answered with the
/// peak RSS in MB. Ends at end of input.
fn serve(folder: &ModelFolder, quantize: Quantization) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let dev = Device::Cpu;
    let mut encoder = folder.load_encoder(&dev)?;
    encoder.prepare_for_inference(quantize)?;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let request = line.trim();
        if request == "rss" {
            writeln!(out, "{}", peak_rss_mb())?;
        } else {
            let (b, s) = shape(request)?;
            let input = ids(b, s, folder.config.vocab_size, &dev)?;
            let mask = Tensor::ones((b, s), DType::U32, &dev)?;
            let t = Instant::now();
            let h = encoder.forward(&input, &mask, &Mode::Eval)?;
            h.sum_all()?.to_scalar::<f32>()?;
            writeln!(out, "{}", t.elapsed().as_secs_f64())?;
        }
        out.flush()?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    naba::alloc::keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut iters = 3;
    let mut quantize = Quantization::None;
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--iters" => iters = it.next().context("--iters N")?.parse()?,
            "--quantize" => {
                quantize = it
                    .next()
                    .context("--quantize q8|q4|i16|i8")?
                    .parse()
                    .map_err(anyhow::Error::msg)?
            }
            _ => positional.push(a.clone()),
        }
    }
    let [what, model, rest @ ..] = positional.as_slice() else {
        bail!("usage: bench_suite infer|train|tokenize MODEL ...")
    };
    let folder = ModelFolder::open(model)?;
    if what == "serve" {
        return serve(&folder, quantize);
    }
    let result = match what.as_str() {
        "infer" => infer(&folder, rest, iters, quantize)?,
        "train" => train(&folder, rest.first().context("train MODEL BxS")?, iters)?,
        "tokenize" => tokenize(&folder, rest.first().context("tokenize MODEL FILE")?)?,
        other => bail!("unknown benchmark {other:?}"),
    };
    println!("{result}");
    Ok(())
}
