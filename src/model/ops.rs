//! Differentiable tensor operations of the encoder, each one fused CPU kernel with a
//! hand-written backward pass (see `super::kernels`).
//!
//! Candle's own fused `layer_norm` and `softmax_last_dim` have no backward pass, and its
//! composed versions are slow; these ops serve training and inference alike.

use candle_core::{Result, Tensor};
use candle_nn::Linear;

use super::kernels::attention::{AttentionDims, HeadLayout, HeadMatmul, Operand};
use super::kernels::dropout::DropoutOp;
use super::kernels::fused_attention::FusedAttention;
use super::kernels::gelu::GeluErfOp;
pub use super::kernels::inference_linear::PackedLinear;
use super::kernels::inference_linear::{Epilogue, PackedFeedForwardOp, PackedLinearOp};
use super::kernels::layer_norm::LayerNormOp;
use super::kernels::linear::LinearOp;
use super::kernels::sgemm::WeightFormat;
use super::kernels::softmax::{MaskedSoftmaxOp, SoftmaxOp};

/// LayerNorm over the last dimension: `(x - mean) / sqrt(var + eps) * weight + bias`.
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &weight.contiguous()?,
        &bias.contiguous()?,
        LayerNormOp { eps: eps as f32 },
    )
}

/// Softmax over the last dimension.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(SoftmaxOp)
}

/// `softmax(x + mask)` over the last dimension. `mask` holds whole rows (e.g. `[batch, 1, 1,
/// seq]` for `x`: `[batch, heads, seq, seq]`), each repeated over the rows of `x` in between;
/// it receives no gradient.
pub fn masked_softmax_last_dim(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    attention_probs(x, mask, None)
}

/// Attention probabilities `dropout(softmax(scores + mask))` in one pass, the dropout given
/// as `(key, p)` (see [`dropout`]); `mask` as for [`masked_softmax_last_dim`].
pub fn attention_probs(
    scores: &Tensor,
    mask: &Tensor,
    dropout: Option<(u64, f64)>,
) -> Result<Tensor> {
    let op = MaskedSoftmaxOp {
        dropout: dropout
            .filter(|&(_, p)| p > 0.0)
            .map(|(key, p)| DropoutOp::new(key, p)),
    };
    scores
        .contiguous()?
        .apply_op2(&mask.detach().contiguous()?, op)
}

/// Exact GELU, `x / 2 * (1 + erf(x / sqrt 2))` (PyTorch's default `gelu`).
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GeluErfOp)
}

/// `x W^T + b` for `x`: `[..., in]` as one 2-D product over all leading dimensions.
pub fn linear(x: &Tensor, layer: &Linear) -> Result<Tensor> {
    let x = x.contiguous()?;
    let weight = layer.weight().contiguous()?;
    match layer.bias() {
        Some(bias) => x.apply_op3(&weight, &bias.contiguous()?, LinearOp),
        None => {
            let mut dims = x.dims().to_vec();
            let input = dims.pop().unwrap_or(1);
            let y = x.reshape(((), input))?.matmul(&weight.t()?)?;
            dims.push(weight.dim(0)?);
            y.reshape(dims)
        }
    }
}

/// Sizes of attention over `[batch, seq, hidden]` projections split into `heads`.
fn attention_dims(x: &Tensor, heads: usize) -> Result<AttentionDims> {
    let (batch, seq, hidden) = x.dims3()?;
    split_heads(batch, seq, hidden, heads)
}

/// [`AttentionDims`] of `hidden` split into `heads`, or an error when it does not divide.
fn split_heads(batch: usize, seq: usize, hidden: usize, heads: usize) -> Result<AttentionDims> {
    if heads == 0 || !hidden.is_multiple_of(heads) {
        candle_core::bail!("attention: hidden size {hidden} is not a multiple of {heads} heads")
    }
    Ok(AttentionDims {
        batch,
        heads,
        seq,
        head_dim: hidden / heads,
    })
}

/// Attention scores `scale * q_h k_h^T`, `[batch, heads, seq, seq]`, from the projections
/// `q`, `k`: `[batch, seq, heads * head_dim]` (heads are read in place, not copied out).
pub fn attention_scores(q: &Tensor, k: &Tensor, heads: usize, scale: f64) -> Result<Tensor> {
    let op = HeadMatmul {
        dims: attention_dims(q, heads)?,
        lhs: Operand::plain(HeadLayout::Heads),
        rhs: Operand::t(HeadLayout::Heads),
        out: HeadLayout::Square,
        scale: scale as f32,
    };
    q.contiguous()?.apply_op2(&k.contiguous()?, op)
}

/// Inference attention `softmax(scale q_h k_h^T + mask) v_h` with heads merged back,
/// `[batch, seq, hidden]`, in one pass that never stores the scores. `qkv`: the packed
/// projections `[batch, seq, 3 * hidden]` (`[q | k | v]` per position, see
/// [`pack_linear`]); `mask`: `[batch, 1, 1, seq]` additive. No backward pass: training
/// uses [`attention_scores`], [`attention_probs`] and [`attention_context`].
pub fn attention_inference(
    qkv: &Tensor,
    mask: &Tensor,
    heads: usize,
    scale: f64,
) -> Result<Tensor> {
    let (batch, seq, width) = qkv.dims3()?;
    if width % 3 != 0 {
        candle_core::bail!("attention: packed projections of width {width}, not 3 x hidden")
    }
    let op = FusedAttention {
        dims: split_heads(batch, seq, width / 3, heads)?,
        scale: scale as f32,
        mask: mask.flatten_all()?.to_vec1::<f32>()?,
    };
    qkv.contiguous()?.apply_op1_no_bwd(&op)
}

/// `layers` (same input width) stacked into one layer: the outputs of `layers[0]`, then of
/// `layers[1]`, ... (a missing bias counts as zeros).
pub fn stack_linear(layers: &[&Linear]) -> Result<Linear> {
    let weights: Vec<&Tensor> = layers.iter().map(|l| l.weight()).collect();
    let weight = Tensor::cat(&weights, 0)?;
    if layers.iter().all(|l| l.bias().is_none()) {
        return Ok(Linear::new(weight, None));
    }
    let biases = layers
        .iter()
        .map(|l| match l.bias() {
            Some(b) => Ok(b.clone()),
            None => Tensor::zeros(l.weight().dim(0)?, l.weight().dtype(), l.weight().device()),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Linear::new(weight, Some(Tensor::cat(&biases, 0)?)))
}

/// Runs `f` on the values of an f32 CPU tensor (made contiguous first), without copying them.
pub fn with_f32_values<T>(t: &Tensor, f: impl FnOnce(&[f32]) -> T) -> Result<T> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("expected a CPU tensor")
    };
    let data = cpu.as_slice::<f32>()?;
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("expected a contiguous tensor")
    };
    Ok(f(&data[start..end]))
}

/// `layer` packed for the inference gemm (see [`packed_linear`]), its weight kept in `format`;
/// stack several layers into one first with [`stack_linear`].
pub fn pack_linear(layer: &Linear, format: WeightFormat) -> Result<PackedLinear> {
    let (out, input) = layer.weight().dims2()?;
    let bias = match layer.bias() {
        Some(b) => b.to_vec1::<f32>()?,
        None => vec![0f32; out],
    };
    with_f32_values(layer.weight(), |w| {
        PackedLinear::new(w, out, input, bias, format)
    })?
}

/// Inference only: `x W^T + b`, or `gelu(x W^T + b)` (exact GELU, applied as each output is
/// written) when `gelu`.
pub fn packed_linear(x: &Tensor, layer: &PackedLinear, gelu: bool) -> Result<Tensor> {
    let op = PackedLinearOp {
        linear: layer,
        epilogue: if gelu {
            Epilogue::Gelu
        } else {
            Epilogue::Identity
        },
    };
    x.contiguous()?.apply_op1_no_bwd(&op)
}

/// A LayerNorm as the fused inference kernels take it: `(weight, bias, eps)`.
pub type LayerNormParams<'a> = (&'a [f32], &'a [f32], f64);

/// Inference only: `LayerNorm(x W^T + b + residual)` in one pass over the product.
pub fn packed_linear_residual_layer_norm(
    x: &Tensor,
    layer: &PackedLinear,
    residual: &Tensor,
    (weight, bias, eps): LayerNormParams<'_>,
) -> Result<Tensor> {
    let op = PackedLinearOp {
        linear: layer,
        epilogue: Epilogue::ResidualLayerNorm {
            weight,
            bias,
            eps: eps as f32,
        },
    };
    x.contiguous()?
        .apply_op2_no_bwd(&residual.contiguous()?, &op)
}

/// Inference only: a whole feed-forward block, `LayerNorm(x + b_down + gelu(x up^T + b_up)
/// down^T)`; the `[rows, intermediate]` activation stays in cache, a block of rows at a time.
pub fn packed_feed_forward(
    x: &Tensor,
    up: &PackedLinear,
    down: &PackedLinear,
    (weight, bias, eps): LayerNormParams<'_>,
) -> Result<Tensor> {
    let op = PackedFeedForwardOp {
        up,
        down,
        layer_norm: (weight, bias, eps as f32),
    };
    x.contiguous()?.apply_op1_no_bwd(&op)
}

/// The attention context `probs_h v_h` with heads merged back: `[batch, seq, heads *
/// head_dim]` from `probs`: `[batch, heads, seq, seq]` and `v`: `[batch, seq, heads *
/// head_dim]`.
pub fn attention_context(probs: &Tensor, v: &Tensor, heads: usize) -> Result<Tensor> {
    let op = HeadMatmul {
        dims: attention_dims(v, heads)?,
        lhs: Operand::plain(HeadLayout::Square),
        rhs: Operand::plain(HeadLayout::Heads),
        out: HeadLayout::Heads,
        scale: 1.0,
    };
    probs.contiguous()?.apply_op2(&v.contiguous()?, op)
}

/// Dropout with drop probability `p`; the mask is a pure function of `key` and the element
/// index, so the backward pass recomputes it instead of storing it.
pub fn dropout(x: &Tensor, key: u64, p: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op1(DropoutOp::new(key, p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::max_diff;
    use candle_core::{Device, Var, D};

    fn randn(shape: &[usize], std: f64) -> Var {
        Var::from_tensor(&Tensor::randn(0f32, std as f32, shape, &Device::Cpu).unwrap()).unwrap()
    }

    /// Checks `ours` against `reference` on `inputs`: values within 1e-5, and the gradients
    /// of `sum(y * r)` (random `r`) for every input within 1e-4.
    fn check<F, G>(inputs: &[&Var], ours: F, reference: G)
    where
        F: Fn(&[&Tensor]) -> Tensor,
        G: Fn(&[&Tensor]) -> Tensor,
    {
        let ts: Vec<&Tensor> = inputs.iter().map(|v| v.as_tensor()).collect();
        let y = ours(&ts);
        let y_ref = reference(&ts);
        let d = max_diff(&y, &y_ref);
        assert!(d < 1e-5, "forward differs by {d}");
        let r = Tensor::randn(0f32, 1., y.shape(), &Device::Cpu).unwrap();
        let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g_ref = (y_ref * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for (i, t) in ts.iter().enumerate() {
            let (a, b) = (
                g.get(t).expect("gradient"),
                g_ref.get(t).expect("reference"),
            );
            let d = max_diff(a, b);
            assert!(d < 1e-4, "gradient of input {i} differs by {d}");
            let norm = a
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm > 0.0, "gradient of input {i} is zero");
        }
    }

    #[test]
    fn layer_norm_matches_composed_reference() {
        let x = randn(&[3, 5, 37], 2.0);
        let w = Var::from_tensor(&(randn(&[37], 0.3).as_tensor() + 1.0).unwrap()).unwrap();
        let b = randn(&[37], 0.3);
        check(
            &[&x, &w, &b],
            |t| layer_norm(t[0], t[1], t[2], 1e-12).unwrap(),
            |t| candle_nn::ops::layer_norm_slow(t[0], t[1], t[2], 1e-12).unwrap(),
        );
    }

    #[test]
    fn softmax_matches_composed_reference() {
        let x = randn(&[2, 3, 4, 19], 3.0);
        check(
            &[&x],
            |t| softmax_last_dim(t[0]).unwrap(),
            |t| candle_nn::ops::softmax(t[0], D::Minus1).unwrap(),
        );
    }

    #[test]
    fn masked_softmax_matches_composed_reference() {
        let x = randn(&[2, 3, 4, 19], 3.0);
        let keep: Vec<f32> = (0..2 * 19)
            .map(|i| if i % 19 < 15 || i < 19 { 1. } else { 0. })
            .collect();
        let keep = Tensor::from_vec(keep, (2, 1, 1, 19), &Device::Cpu).unwrap();
        let mask = ((keep - 1.0).unwrap() * f32::MAX as f64).unwrap();
        let y = masked_softmax_last_dim(x.as_tensor(), &mask).unwrap();
        let padded = y.narrow(0, 1, 1).unwrap().narrow(3, 15, 4).unwrap();
        assert_eq!(
            padded
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
            0.0
        );
        check(
            &[&x],
            |t| masked_softmax_last_dim(t[0], &mask).unwrap(),
            |t| candle_nn::ops::softmax(&t[0].broadcast_add(&mask).unwrap(), D::Minus1).unwrap(),
        );
    }

    #[test]
    fn attention_probs_fuse_softmax_and_the_same_dropout() {
        let x = randn(&[2, 3, 4, 19], 3.0);
        let keep: Vec<f32> = (0..2 * 19)
            .map(|i| if i % 19 < 15 { 1. } else { 0. })
            .collect();
        let keep = Tensor::from_vec(keep, (2, 1, 1, 19), &Device::Cpu).unwrap();
        let mask = ((keep - 1.0).unwrap() * f32::MAX as f64).unwrap();
        check(
            &[&x],
            |t| attention_probs(t[0], &mask, Some((9, 0.3))).unwrap(),
            |t| {
                let p = candle_nn::ops::softmax(&t[0].broadcast_add(&mask).unwrap(), D::Minus1);
                dropout(&p.unwrap(), 9, 0.3).unwrap()
            },
        );
    }

    #[test]
    fn fused_inference_attention_matches_the_training_ops() {
        // 150 keys: two full query blocks and a partial one; the second item pads 20 keys.
        // Values are packed for heads of 8 and for long sequences, read in place for heads of
        // 16 over 70 keys.
        for (head_dim, seq) in [(8, 150), (16, 150), (16, 70)] {
            let (batch, heads) = (2, 3);
            let hidden = heads * head_dim;
            let q = randn(&[batch, seq, hidden], 1.0);
            let k = randn(&[batch, seq, hidden], 1.0);
            let v = randn(&[batch, seq, hidden], 1.0);
            let bias: Vec<f32> = (0..batch * seq)
                .map(|i| {
                    if i >= seq && i % seq >= seq - 20 {
                        -1e9
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = Tensor::from_vec(bias, (batch, 1, 1, seq), &Device::Cpu).unwrap();
            let scale = 1.0 / (head_dim as f64).sqrt();
            let (q, k, v) = (q.as_tensor(), k.as_tensor(), v.as_tensor());
            let scores = attention_scores(q, k, heads, scale).unwrap();
            let probs = attention_probs(&scores, &mask, None).unwrap();
            let want = attention_context(&probs, v, heads).unwrap();
            let qkv = Tensor::cat(&[q, k, v], 2).unwrap();
            let got = attention_inference(&qkv, &mask, heads, scale).unwrap();
            let diff = max_diff(&got, &want);
            assert!(diff < 1e-5, "head_dim {head_dim}, {seq} keys: {diff}");
        }
    }

    #[test]
    fn packed_inference_projections_match_the_separate_ops() {
        // 13 rows and 21 outputs: edge tiles of the packed gemm on both sides
        let x = randn(&[1, 13, 40], 1.0);
        let residual = randn(&[1, 13, 21], 1.0);
        let (w, b) = (randn(&[21, 40], 0.3), randn(&[21], 0.3));
        let (ln_w, ln_b) = (randn(&[21], 1.0), randn(&[21], 1.0));
        let (x, residual) = (x.as_tensor(), residual.as_tensor());
        let dense = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        let packed = pack_linear(&dense, WeightFormat::F32).unwrap();
        let plain = linear(x, &dense).unwrap();
        let got = packed_linear(x, &packed, false).unwrap();
        assert!(
            max_diff(&got, &plain) < 1e-5,
            "linear: {}",
            max_diff(&got, &plain)
        );
        let want = gelu_erf(&plain).unwrap();
        let got = packed_linear(x, &packed, true).unwrap();
        assert!(
            max_diff(&got, &want) < 1e-5,
            "gelu: {}",
            max_diff(&got, &want)
        );
        let sum = (&plain + residual).unwrap();
        let want = layer_norm(&sum, ln_w.as_tensor(), ln_b.as_tensor(), 1e-12).unwrap();
        let (lw, lb) = (
            ln_w.as_tensor().to_vec1::<f32>().unwrap(),
            ln_b.as_tensor().to_vec1::<f32>().unwrap(),
        );
        let ln = (&lw[..], &lb[..], 1e-12);
        let got = packed_linear_residual_layer_norm(x, &packed, residual, ln).unwrap();
        assert!(
            max_diff(&got, &want) < 1e-5,
            "layer norm: {}",
            max_diff(&got, &want)
        );
        // a layer without bias; inputs and residuals of the wrong width
        let no_bias =
            pack_linear(&Linear::new(w.as_tensor().clone(), None), WeightFormat::F32).unwrap();
        let want = linear(x, &Linear::new(w.as_tensor().clone(), None)).unwrap();
        assert!(max_diff(&packed_linear(x, &no_bias, false).unwrap(), &want) < 1e-5);
        assert!(packed_linear(residual, &packed, false).is_err());
        assert!(packed_linear_residual_layer_norm(x, &packed, x, ln).is_err());
    }

    #[test]
    fn the_fused_feed_forward_matches_its_separate_ops() {
        // 2 x 70 rows (row blocks and an edge group), 24 -> 50 -> 24 (edge panels)
        let x = randn(&[2, 70, 24], 1.0);
        let x = x.as_tensor();
        let dense = |out, input| {
            let (w, b) = (randn(&[out, input], 0.3), randn(&[out], 0.3));
            let layer = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
            pack_linear(&layer, WeightFormat::F32).unwrap()
        };
        let (up, down) = (dense(50, 24), dense(24, 50));
        let (lw, lb) = (randn(&[24], 1.0), randn(&[24], 1.0));
        let (lw, lb) = (
            lw.as_tensor().to_vec1::<f32>().unwrap(),
            lb.as_tensor().to_vec1::<f32>().unwrap(),
        );
        let ln = (&lw[..], &lb[..], 1e-12);
        let h = packed_linear(x, &up, true).unwrap();
        let want = packed_linear_residual_layer_norm(&h, &down, x, ln).unwrap();
        let got = packed_feed_forward(x, &up, &down, ln).unwrap();
        assert_eq!(got.dims(), want.dims());
        assert!(max_diff(&got, &want) < 1e-5, "{}", max_diff(&got, &want));
        // projections that do not chain, or do not return to the input width
        assert!(packed_feed_forward(x, &up, &up, ln).is_err());
        assert!(packed_feed_forward(&h, &down, &up, ln).is_err());
    }

    #[test]
    fn packed_projections_stack_query_key_value() {
        let x = randn(&[2, 5, 12], 1.0);
        let layers: Vec<Linear> = (0..3)
            .map(|i| {
                let w = randn(&[12 + i, 12], 0.3).as_tensor().clone();
                let b = (i != 1).then(|| randn(&[12 + i], 0.3).as_tensor().clone());
                Linear::new(w, b)
            })
            .collect();
        let stacked = stack_linear(&[&layers[0], &layers[1], &layers[2]]).unwrap();
        let packed = pack_linear(&stacked, WeightFormat::F32).unwrap();
        let got = packed_linear(x.as_tensor(), &packed, false).unwrap();
        let parts: Vec<Tensor> = layers
            .iter()
            .map(|l| linear(x.as_tensor(), l).unwrap())
            .collect();
        let want = Tensor::cat(&parts, 2).unwrap();
        assert!(max_diff(&got, &want) < 1e-5);
    }

    #[test]
    fn gelu_matches_composed_reference() {
        let x = randn(&[7, 301], 3.0);
        check(
            &[&x],
            |t| gelu_erf(t[0]).unwrap(),
            |t| t[0].gelu_erf().unwrap(),
        );
    }

    #[test]
    fn linear_matches_candle_linear() {
        let x = randn(&[3, 5, 7], 1.0);
        let w = randn(&[4, 7], 0.5);
        let b = randn(&[4], 0.5);
        check(
            &[&x, &w, &b],
            |t| linear(t[0], &Linear::new(t[1].clone(), Some(t[2].clone()))).unwrap(),
            |t| {
                use candle_core::Module;
                Linear::new(t[1].clone(), Some(t[2].clone()))
                    .forward(t[0])
                    .unwrap()
            },
        );
    }

    /// `[b, s, heads * d]` → `[b, heads, s, d]`.
    fn split(x: &Tensor, heads: usize) -> Tensor {
        let (b, s, h) = x.dims3().unwrap();
        x.reshape((b, s, heads, h / heads))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
    }

    #[test]
    fn attention_products_match_composed_reference() {
        let (q, k, v) = (
            randn(&[2, 5, 12], 1.0),
            randn(&[2, 5, 12], 1.0),
            randn(&[2, 5, 12], 1.0),
        );
        let ours = |t: &[&Tensor]| {
            let s = attention_scores(t[0], t[1], 3, 0.5).unwrap();
            attention_context(&softmax_last_dim(&s).unwrap(), t[2], 3).unwrap()
        };
        let reference = |t: &[&Tensor]| {
            let (q, k, v) = (split(t[0], 3), split(t[1], 3), split(t[2], 3));
            let s = (q.matmul(&k.t().unwrap()).unwrap() * 0.5).unwrap();
            let p = candle_nn::ops::softmax(&s, D::Minus1).unwrap();
            p.matmul(&v)
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .reshape((2, 5, 12))
                .unwrap()
        };
        check(&[&q, &k, &v], ours, reference);
    }

    #[test]
    fn dropout_is_keyed_and_its_gradient_uses_the_same_mask() {
        let x = Var::from_tensor(
            &Tensor::ones((64, 301), candle_core::DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap();
        let y = dropout(x.as_tensor(), 5, 0.25).unwrap();
        let again = dropout(x.as_tensor(), 5, 0.25).unwrap();
        let other = dropout(x.as_tensor(), 6, 0.25).unwrap();
        assert_eq!(max_diff(&y, &again), 0.0);
        assert!(max_diff(&y, &other) > 0.0);
        let vals: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        let kept = vals.iter().filter(|&&v| v != 0.0).count() as f64 / vals.len() as f64;
        assert!((kept - 0.75).abs() < 0.02, "kept {kept}");
        assert!(vals
            .iter()
            .all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6));
        let r = Tensor::randn(0f32, 1., (64, 301), &Device::Cpu).unwrap();
        let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let want = (y * r).unwrap();
        assert_eq!(max_diff(g.get(x.as_tensor()).unwrap(), &want), 0.0);
    }
}
