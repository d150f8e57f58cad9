//! Inference-only projections with the weight packed once (see [`super::sgemm`]) and the next
//! step run on the product while it is still in hand: `x W^T + b`, `gelu(x W^T + b)` (the
//! feed-forward's first half) and `LayerNorm(x W^T + b + residual)` (the end of every attention
//! and feed-forward block). Each writes one output buffer once, instead of allocating and
//! re-reading a tensor per step. A whole feed-forward block,
//! `LayerNorm(gelu(x W1^T + b1) W2^T + b2 + x)`, runs as one op ([`PackedFeedForwardOp`]) whose
//! wide intermediate never leaves the cache. No backward pass: training uses
//! [`super::linear::LinearOp`] and the separate ops.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape};

use super::layer_norm::normalize_row_in_place;
use super::linear::with_last_dim;
use super::sgemm::{matmul, matmul_two, PackedWeight, Start, WeightFormat};
use super::{f32_output, f32_slice, math};

/// A projection ready for inference: the weight packed for [`matmul`], and the bias.
#[derive(Debug, Clone)]
pub struct PackedLinear {
    weight: PackedWeight,
    bias: Vec<f32>,
}

impl PackedLinear {
    /// From a row-major weight `[out, in]` and its bias `[out]`, the weight kept in `format`
    /// ([`PackedWeight::with_format`]).
    pub fn new(
        weight: &[f32],
        out: usize,
        input: usize,
        bias: Vec<f32>,
        format: WeightFormat,
    ) -> Result<Self> {
        if weight.len() != out * input {
            bail!(
                "linear: weight of {} values is not {out} x {input}",
                weight.len()
            )
        }
        if bias.len() != out {
            bail!("linear: bias of {} values for {out} outputs", bias.len())
        }
        let weight = PackedWeight::with_format(weight, out, input, format);
        Ok(Self { weight, bias })
    }

    /// `finish(x W^T + b [+ residual])` for `x`: `[rows, in]`; `finish` runs on blocks of whole
    /// rows as soon as each is computed (see [`matmul`]).
    fn product(
        &self,
        x: &[f32],
        layout: &Layout,
        residual: Option<&[f32]>,
        finish: impl Fn(&mut [f32]) + Sync,
    ) -> Result<Vec<f32>> {
        let input = self.weight.k();
        if layout.dims().last() != Some(&input) {
            bail!("linear: input {:?} does not end in {input}", layout.dims())
        }
        let rows = x.len() / input.max(1);
        let start = match residual {
            Some(residual) => Start::BiasResidual {
                bias: &self.bias,
                residual,
            },
            None => Start::Bias(&self.bias),
        };
        Ok(matmul(x, rows, &self.weight, start, finish))
    }
}

/// What happens to `x W^T + b` before it is returned.
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    /// Nothing.
    Identity,
    /// Exact GELU (`x Φ(x)`).
    Gelu,
    /// `LayerNorm(y + residual)` with this weight, bias and epsilon; the residual is the op's
    /// second input.
    ResidualLayerNorm {
        /// LayerNorm weight.
        weight: &'a [f32],
        /// LayerNorm bias.
        bias: &'a [f32],
        /// Added to the variance.
        eps: f32,
    },
}

/// `epilogue(x W^T + b)` with the packed projection `linear`.
#[derive(Debug, Clone, Copy)]
pub struct PackedLinearOp<'a> {
    /// The projection.
    pub linear: &'a PackedLinear,
    /// The step fused after the product.
    pub epilogue: Epilogue<'a>,
}

impl CustomOp1 for PackedLinearOp<'_> {
    fn name(&self) -> &'static str {
        "naba-packed-linear"
    }

    /// `x W^T + b` or `gelu(x W^T + b)`.
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, CustomOp1::name(self))?;
        let y = match self.epilogue {
            Epilogue::Identity => self.linear.product(x, l, None, |_| {})?,
            Epilogue::Gelu => self.linear.product(x, l, None, math::gelu_in_place)?,
            Epilogue::ResidualLayerNorm { .. } => {
                bail!(
                    "{}: this epilogue needs the residual",
                    CustomOp1::name(self)
                )
            }
        };
        f32_output(y, with_last_dim(l.shape(), self.linear.weight.n()))
    }
}

/// LayerNorm weight, bias and epsilon of a fused epilogue.
pub type LayerNormValues<'a> = (&'a [f32], &'a [f32], f32);

/// `LayerNorm(x W^T + b + residual)` on rows of the product, in place.
fn residual_layer_norm(rows: &mut [f32], (weight, bias, eps): LayerNormValues<'_>) {
    for row in rows.chunks_mut(weight.len().max(1)) {
        normalize_row_in_place(row, weight, bias, eps)
    }
}

/// A transformer feed-forward block for inference, `LayerNorm(gelu(x W1^T + b1) W2^T + b2 +
/// x)`, block of rows by block of rows (see [`matmul_two`]).
#[derive(Debug, Clone, Copy)]
pub struct PackedFeedForwardOp<'a> {
    /// `intermediate.dense` (`W1`, `b1`), followed by exact GELU.
    pub up: &'a PackedLinear,
    /// `output.dense` (`W2`, `b2`).
    pub down: &'a PackedLinear,
    /// `output.LayerNorm`.
    pub layer_norm: LayerNormValues<'a>,
}

impl CustomOp1 for PackedFeedForwardOp<'_> {
    fn name(&self) -> &'static str {
        "naba-packed-feed-forward"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let name = CustomOp1::name(self);
        let x = f32_slice(s, l, name)?;
        let (up, down) = (&self.up.weight, &self.down.weight);
        let width = up.k();
        let (ln_weight, ln_bias, _) = self.layer_norm;
        if l.dims().last() != Some(&width)
            || down.k() != up.n()
            || down.n() != width
            || ln_weight.len() != width
            || ln_bias.len() != width
        {
            bail!(
                "{name}: input {:?}, {} -> {} -> {} projections and LayerNorm of {} do not fit",
                l.dims(),
                up.k(),
                up.n(),
                down.n(),
                ln_weight.len()
            )
        }
        let rows = x.len() / width.max(1);
        let y = matmul_two(
            x,
            rows,
            up,
            Start::Bias(&self.up.bias),
            math::gelu_in_place,
            down,
            Start::BiasResidual {
                bias: &self.down.bias,
                residual: x,
            },
            |block| residual_layer_norm(block, self.layer_norm),
        );
        f32_output(y, l.shape().clone())
    }
}

impl CustomOp2 for PackedLinearOp<'_> {
    fn name(&self) -> &'static str {
        "naba-packed-linear-residual-layer-norm"
    }

    /// `LayerNorm(x W^T + b + residual)`.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = CustomOp2::name(self);
        let x = f32_slice(s1, l1, name)?;
        let residual = f32_slice(s2, l2, name)?;
        let out = self.linear.weight.n();
        let Epilogue::ResidualLayerNorm { weight, bias, eps } = self.epilogue else {
            bail!("{name}: the epilogue takes no residual")
        };
        let shape = with_last_dim(l1.shape(), out);
        if l2.shape() != &shape || weight.len() != out || bias.len() != out {
            bail!(
                "{name}: residual {:?} or LayerNorm width does not fit {out} outputs",
                l2.dims()
            )
        }
        let y = self.linear.product(x, l1, Some(residual), |rows| {
            residual_layer_norm(rows, (weight, bias, eps))
        })?;
        f32_output(y, shape)
    }
}
