//! Times inference (`Mode::Eval`) forward passes of the encoder on a model folder.
//! `cargo run --release --example bench_forward -- MODEL [BATCH] [SEQ] [REPEATS]`

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use naba::model::{Mode, ModelFolder};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let model = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| naba::model::hub::E5_ALIAS.into());
    let b: usize = args.get(2).map_or(Ok(8), |s| s.parse())?;
    let s: usize = args.get(3).map_or(Ok(128), |s| s.parse())?;
    let repeats: usize = args.get(4).map_or(Ok(4), |s| s.parse())?;
    let folder = ModelFolder::open(&model)?;
    let dev = Device::Cpu;
    let encoder = folder.load_encoder(&dev)?;
    let ids: Vec<u32> = (0..b * s).map(|i| (i * 7919 % 30000) as u32 + 5).collect();
    let ids = Tensor::from_vec(ids, (b, s), &dev)?;
    let mask = Tensor::ones((b, s), DType::U32, &dev)?;
    for r in 0..repeats {
        let t0 = Instant::now();
        let hidden = encoder.forward(&ids, &mask, &Mode::Eval)?;
        let _ = hidden.sum_all()?.to_scalar::<f32>()?;
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "b{b} s{s} run {r}: {:.3}s, {:.0} tokens/s",
            secs,
            (b * s) as f64 / secs
        );
    }
    Ok(())
}
