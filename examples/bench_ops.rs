//! Times naba's fused ops (forward, and forward + backward) at e5-small training sizes.
//! `cargo run --release --example bench_ops -- [BATCH] [SEQ] [REPEATS]`

use std::time::Instant;

use candle_core::{Device, Result, Tensor, Var};
use candle_nn::Linear;
use naba::model::ops;

fn var(shape: &[usize]) -> Result<Var> {
    Var::from_tensor(&Tensor::randn(0f32, 0.5, shape, &Device::Cpu)?)
}

/// Best-of-`repeats` seconds of `f` forward, and of forward + backward of `sum(f * r)`.
fn time(name: &str, repeats: usize, f: impl Fn() -> Result<Tensor>) -> Result<()> {
    let r = Tensor::randn(0f32, 1., f()?.shape(), &Device::Cpu)?;
    let (mut fwd, mut both) = (f64::MAX, f64::MAX);
    for _ in 0..repeats {
        let t0 = Instant::now();
        let y = f()?;
        fwd = fwd.min(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        let _ = (f()? * &r)?.sum_all()?.backward()?;
        both = both.min(t0.elapsed().as_secs_f64());
        drop(y);
    }
    println!(
        "{name:<28} forward {:7.2} ms   forward+backward {:7.2} ms",
        fwd * 1e3,
        both * 1e3
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    naba::alloc::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let b: usize = args.get(1).map_or(Ok(16), |s| s.parse())?;
    let s: usize = args.get(2).map_or(Ok(128), |s| s.parse())?;
    let repeats: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let (h, heads, inter) = (384, 12, 1536);
    let x = var(&[b, s, h])?;
    let xi = var(&[b, s, inter])?;
    let (w1, b1) = (var(&[inter, h])?, var(&[inter])?);
    let (w2, b2) = (var(&[h, inter])?, var(&[h])?);
    let (wq, bq) = (var(&[h, h])?, var(&[h])?);
    let up = Linear::new(w1.as_tensor().clone(), Some(b1.as_tensor().clone()));
    let down = Linear::new(w2.as_tensor().clone(), Some(b2.as_tensor().clone()));
    let square = Linear::new(wq.as_tensor().clone(), Some(bq.as_tensor().clone()));
    let scores = var(&[b, heads, s, s])?;
    let mask = Tensor::zeros((b, 1, 1, s), candle_core::DType::F32, &Device::Cpu)?;
    let (ln_w, ln_b) = (var(&[h])?, var(&[h])?);
    let (xt, xit, st) = (x.as_tensor(), xi.as_tensor(), scores.as_tensor());
    time("linear 384->384", repeats, || ops::linear(xt, &square))?;
    time("linear 384->1536", repeats, || ops::linear(xt, &up))?;
    time("linear 1536->384", repeats, || ops::linear(xit, &down))?;
    time("attention scores", repeats, || {
        ops::attention_scores(xt, xt, heads, 0.17)
    })?;
    time("attention context", repeats, || {
        ops::attention_context(st, xt, heads)
    })?;
    time("masked softmax", repeats, || {
        ops::masked_softmax_last_dim(st, &mask)
    })?;
    time("dropout on scores", repeats, || ops::dropout(st, 3, 0.1))?;
    time("gelu 1536", repeats, || ops::gelu_erf(xit))?;
    time("layer norm 384", repeats, || {
        ops::layer_norm(xt, ln_w.as_tensor(), ln_b.as_tensor(), 1e-12)
    })?;
    Ok(())
}
