//! Times each inference op of one e5-small-shaped encoder layer (random weights), to compare op
//! by op with ONNX Runtime's profile (`scripts/bench/ort_profile.py`); then the ops chained
//! through 12 layers, op by op on 1 thread and on 2 (how each op scales); then 12 chained
//! layers with one set of weights and with 12 (whether streaming 85 MB of weights from DRAM
//! costs).
//! `cargo run --release --example bench_layer -- BxS [REPEATS] [e5|bert-base]` (layer shape,
//! default e5: 384 hidden, 1,536 FFN; bert-base: 768 and 3,072; 12 heads both); threads from
//! `RAYON_NUM_THREADS`.

use std::time::Instant;

use anyhow::Context;
use candle_core::{Device, Result, Tensor};
use candle_nn::Linear;
use naba::model::ops;

fn linear(out: usize, input: usize) -> Result<Linear> {
    let w = Tensor::randn(0f32, 0.05, (out, input), &Device::Cpu)?;
    let b = Tensor::randn(0f32, 0.05, out, &Device::Cpu)?;
    Ok(Linear::new(w, Some(b)))
}

/// Median milliseconds of `f` over `repeats` calls (after one warm-up call).
fn median_ms(repeats: usize, mut f: impl FnMut() -> Result<Tensor>) -> Result<f64> {
    f()?;
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t0 = Instant::now();
            f().map(|_| t0.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Attention heads of both layer shapes.
const HEADS: usize = 12;

/// Hidden and feed-forward widths of a named layer shape.
fn layer_shape(name: &str) -> anyhow::Result<(usize, usize)> {
    match name {
        "e5" => Ok((384, 1536)),
        "bert-base" => Ok((768, 3072)),
        other => anyhow::bail!("unknown layer shape {other:?} (e5 or bert-base)"),
    }
}

/// One layer's weights: q|k|v, attention output, FFN up, FFN down.
type LayerWeights = [ops::PackedLinear; 4];

/// One encoder layer's five inference ops on `y`, `lap(op, start)` called after each (ops
/// numbered 0-4 in order: q|k|v, attention, output + LN, up + GELU, down + LN).
fn layer(
    y: &Tensor,
    [qkv_w, out_w, up_w, down_w]: &LayerWeights,
    mask: &Tensor,
    ln: ops::LayerNormParams<'_>,
    lap: &mut impl FnMut(usize, Instant),
) -> Result<Tensor> {
    let t = Instant::now();
    let qkv = ops::packed_linear(y, qkv_w, false)?;
    lap(0, t);
    let t = Instant::now();
    let ctx = ops::attention_inference(&qkv, mask, HEADS, 0.17)?;
    lap(1, t);
    let t = Instant::now();
    let a = ops::packed_linear_residual_layer_norm(&ctx, out_w, y, ln)?;
    lap(2, t);
    let t = Instant::now();
    let h = ops::packed_linear(&a, up_w, true)?;
    lap(3, t);
    let t = Instant::now();
    let out = ops::packed_linear_residual_layer_norm(&h, down_w, &a, ln)?;
    lap(4, t);
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    naba::alloc::keep_freed_memory();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let spec = args
        .first()
        .context("usage: bench_layer BxS [REPEATS] [e5|bert-base]")?;
    let (b, s) = spec.split_once('x').context("shape is BxS")?;
    let (b, s): (usize, usize) = (b.parse()?, s.parse()?);
    let repeats: usize = args.get(1).map_or(Ok(20), |r| r.parse())?;
    let (hidden, ffn) = layer_shape(args.get(2).map_or("e5", String::as_str))?;
    let rows = b * s;
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (b, s, hidden), &dev)?;
    let h = Tensor::randn(0f32, 1.0, (b, s, ffn), &dev)?;
    let qkv = Tensor::randn(0f32, 1.0, (b, s, 3 * hidden), &dev)?;
    let mask = Tensor::zeros((b, 1, 1, s), candle_core::DType::F32, &dev)?;
    let ln_w = vec![1f32; hidden];
    let ln_b = vec![0f32; hidden];
    let pack = |out, input| -> Result<_> {
        ops::pack_linear(&linear(out, input)?, naba::model::sgemm::WeightFormat::F32)
    };
    let (p_qkv, p_out, p_up, p_down) = (
        pack(3 * hidden, hidden)?,
        pack(hidden, hidden)?,
        pack(ffn, hidden)?,
        pack(hidden, ffn)?,
    );
    let gflops = |flops: f64, ms: f64| flops / ms / 1e6;
    let mm = |n: usize, k: usize| 2.0 * (rows * n * k) as f64;
    let mut total = 0.0;
    let mut report = |name: &str, flops: f64, ms: f64| {
        total += ms;
        println!("{name:<22} {ms:8.3} ms  {:6.1} GFLOP/s", gflops(flops, ms));
    };
    let ms = median_ms(repeats, || ops::packed_linear(&x, &p_qkv, false))?;
    report("q|k|v projection", mm(3 * hidden, hidden), ms);
    let ms = median_ms(repeats, || {
        ops::attention_inference(&qkv, &mask, HEADS, 0.17)
    })?;
    report("attention", 4.0 * (b * s * s * hidden) as f64, ms);
    let ln = (&ln_w[..], &ln_b[..], 1e-12);
    let ms = median_ms(repeats, || {
        ops::packed_linear_residual_layer_norm(&x, &p_out, &x, ln)
    })?;
    report("output + residual + LN", mm(hidden, hidden), ms);
    let ms = median_ms(repeats, || ops::packed_linear(&x, &p_up, true))?;
    report("FFN up + GELU", mm(ffn, hidden), ms);
    let ms = median_ms(repeats, || {
        ops::packed_linear_residual_layer_norm(&h, &p_down, &x, ln)
    })?;
    report("FFN down + residual + LN", mm(hidden, ffn), ms);
    let ms = median_ms(repeats, || ops::packed_feed_forward(&x, &p_up, &p_down, ln))?;
    println!(
        "  (the two FFN ops fused   {ms:8.3} ms  {:6.1} GFLOP/s; not in the layer's sum)",
        gflops(2.0 * mm(ffn, hidden), ms)
    );
    println!(
        "layer {total:.3} ms -> {:.0} tokens/s for 12 layers",
        rows as f64 / (12.0 * total / 1e3)
    );
    // the same ops through 12 layers with weights of their own (85 MB, more than the L3 holds)
    let layers = (0..12)
        .map(|_| {
            Ok([
                pack(3 * hidden, hidden)?,
                pack(hidden, hidden)?,
                pack(ffn, hidden)?,
                pack(hidden, ffn)?,
            ])
        })
        .collect::<Result<Vec<_>>>()?;
    let chain = |shared: bool| {
        median_ms(repeats.div_ceil(4), || {
            let mut y = x.clone();
            for (i, weights) in layers.iter().enumerate() {
                let weights = if shared && i > 0 { &layers[0] } else { weights };
                y = layer(&y, weights, &mask, ln, &mut |_, _| {})?;
            }
            Ok(y)
        })
    };
    // where the chained time goes, op by op, on 1 thread and on 2 (the same five ops as
    // above, in a chain), pools alternating
    let chained = |pool: &rayon::ThreadPool, spent: &mut [f64; 5]| -> Result<()> {
        pool.install(|| {
            let mut y = x.clone();
            let mut lap = |op: usize, t0: Instant| spent[op] += t0.elapsed().as_secs_f64();
            for weights in &layers {
                y = layer(&y, weights, &mask, ln, &mut lap)?;
            }
            Ok(())
        })
    };
    let pools = [1, 2].map(|n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    });
    let mut spent = [[0f64; 5]; 2];
    let rounds = repeats.div_ceil(4);
    for _ in 0..rounds {
        for (pool, spent) in pools.iter().zip(spent.iter_mut()) {
            chained(pool, spent)?;
        }
    }
    let per_layer = (12 * rounds) as f64;
    let names = ["q|k|v", "attention", "output+LN", "up+GELU", "down+LN"];
    for (i, name) in names.iter().enumerate() {
        let (one, two) = (spent[0][i] * 1e3 / per_layer, spent[1][i] * 1e3 / per_layer);
        println!(
            "  chained {name:<12} 1 thread {one:7.3} ms  2 threads {two:7.3} ms  speed-up {:.2}",
            one / two
        );
    }
    for shared in [true, false, true, false] {
        let ms = chain(shared)?;
        let what = if shared {
            "one layer's weights x 12"
        } else {
            "12 layers' weights"
        };
        println!(
            "{what:<26} {ms:6.1} ms -> {:.0} tokens/s",
            rows as f64 / (ms / 1e3)
        );
    }
    Ok(())
}
