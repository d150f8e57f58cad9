//! Tensor operations that pick a fused kernel when no gradient is needed and a differentiable
//! composition when one is.
//!
//! Candle's fused `layer_norm` and `softmax_last_dim` have no backward pass: a model built on
//! them silently trains nothing below its head. These helpers check [`Tensor::track_op`] so the
//! same model code is fast in inference and exact in training.

use candle_core::{Result, Tensor, D};

/// Whether any of `ts` takes part in a gradient graph.
fn needs_grad(ts: &[&Tensor]) -> bool {
    ts.iter().any(|t| t.track_op())
}

/// LayerNorm over the last dimension: `(x - mean) / sqrt(var + eps) * weight + bias`.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    if needs_grad(&[x, weight, bias]) {
        candle_nn::ops::layer_norm_slow(x, weight, bias, eps as f32)
    } else {
        candle_nn::ops::layer_norm(&x.contiguous()?, weight, bias, eps as f32)
    }
}

/// Softmax over the last dimension.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if needs_grad(&[x]) {
        candle_nn::ops::softmax(x, D::Minus1)
    } else {
        candle_nn::ops::softmax_last_dim(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn fused_and_differentiable_paths_agree_and_train() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1., (3, 5, 8), &dev).unwrap();
        let w = Var::from_tensor(&Tensor::randn(1f32, 0.1, 8, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.1, 8, &dev).unwrap()).unwrap();
        let fused =
            layer_norm(&x, &w.as_tensor().detach(), &b.as_tensor().detach(), 1e-12).unwrap();
        let slow = layer_norm(&x, w.as_tensor(), b.as_tensor(), 1e-12).unwrap();
        let diff = (fused - &slow)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "{diff}");
        let grads = softmax_last_dim(&slow)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&w, &b] {
            let g = grads.get(v.as_tensor()).expect("gradient");
            assert!(
                g.abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    > 0.0
            );
        }
    }
}
