//! Loss functions over logits.

use candle_core::{DType, Result, Tensor, D};

/// Mean cross-entropy of `logits` `[n, classes]` against `targets` `[n]` (u32); with `weights`
/// (`[classes]`), the weighted mean PyTorch's `CrossEntropyLoss(weight=...)` computes.
pub fn cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    weights: Option<&Tensor>,
) -> Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = log_probs
        .gather(&targets.unsqueeze(1)?, 1)?
        .squeeze(1)?
        .neg()?;
    match weights {
        None => picked.mean_all(),
        Some(w) => {
            let per_item = w.index_select(targets, 0)?.to_dtype(DType::F32)?;
            (picked * &per_item)?.sum_all()? / per_item.sum_all()?.to_scalar::<f32>()? as f64
        }
    }
}

/// Class weights `n / (classes * count)` (scikit-learn's `balanced`).
pub fn balanced_weights(counts: &[usize]) -> Vec<f32> {
    let n: usize = counts.iter().sum();
    let k = counts.len().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n as f32 / (k as f32 * c as f32)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_hand_computed_values() {
        let dev = Device::Cpu;
        let logits = Tensor::new(&[[2.0f32, 0.0], [0.0, 1.0]], &dev).unwrap();
        let targets = Tensor::new(&[0u32, 0], &dev).unwrap();
        let l0 = (1.0f64 + (-2.0f64).exp()).ln();
        let l1 = (1.0f64 + 1f64.exp()).ln();
        let plain = cross_entropy(&logits, &targets, None)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap() as f64;
        assert!((plain - (l0 + l1) / 2.0).abs() < 1e-5);
        let w = Tensor::new(&[3.0f32, 1.0], &dev).unwrap();
        let weighted = cross_entropy(&logits, &targets, Some(&w))
            .unwrap()
            .to_scalar::<f32>()
            .unwrap() as f64;
        assert!((weighted - (l0 + l1) / 2.0).abs() < 1e-5); // both targets share one weight
        assert_eq!(balanced_weights(&[30, 10]), vec![40.0 / 60.0, 2.0]);
    }
}
