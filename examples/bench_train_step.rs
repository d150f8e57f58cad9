//! Times one token-classification training step (forward, backward, AdamW) on a model folder.
//! `cargo run --release --example bench_train_step -- MODEL [BATCH] [SEQ] [REPEATS]`

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use naba::model::heads::TokenClassifier;
use naba::model::{BertModel, DropoutRng, Mode, ModelFolder};
use naba::train::optim::{AdamW, AdamWConfig};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let model = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| naba::model::hub::E5_ALIAS.into());
    let b: usize = args.get(2).map_or(Ok(16), |s| s.parse())?;
    let s: usize = args.get(3).map_or(Ok(128), |s| s.parse())?;
    let repeats: usize = args.get(4).map_or(Ok(3), |s| s.parse())?;
    let lazy = std::env::var("LAZY").is_ok();
    let folder = ModelFolder::open(&model)?;
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let (vb, _) = folder.trainable_vars(&varmap, &dev, 0)?;
    let encoder = BertModel::load(vb.pp(folder.family().prefix()), &folder.config, false)?;
    let head = TokenClassifier::load(vb, &folder.config, 9)?;
    let vars: Vec<(String, candle_core::Var)> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut opt = AdamW::new(
        vars,
        AdamWConfig {
            weight_decay: 0.01,
            lazy_embeddings: lazy,
            ..Default::default()
        },
    );
    let rng = DropoutRng::new(0);
    let ids: Vec<u32> = (0..b * s).map(|i| (i * 7919 % 30000) as u32 + 5).collect();
    let ids = Tensor::from_vec(ids, (b, s), &dev)?;
    let mask = Tensor::ones((b, s), DType::U32, &dev)?;
    let labels = Tensor::from_vec(
        (0..b * s).map(|i| (i % 9) as u32).collect::<Vec<_>>(),
        b * s,
        &dev,
    )?;
    for r in 0..repeats {
        let t0 = Instant::now();
        let hidden = encoder.forward(&ids, &mask, &Mode::Train(&rng))?;
        let logits = head.forward(&hidden, &Mode::Train(&rng))?;
        let loss = candle_nn::loss::cross_entropy(&logits.reshape((b * s, 9))?, &labels)?;
        let _ = loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        opt.step(&grads, 1e-4, 1.0)?;
        let t3 = Instant::now();
        println!(
            "step {r}: forward {:.2}s backward {:.2}s adamw {:.2}s total {:.2}s",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
            (t3 - t0).as_secs_f64()
        );
    }
    Ok(())
}
