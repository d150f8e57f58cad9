//! Inference-only projections whose next step runs on the product while it is still in hand:
//! `gelu(x W^T + b)` (the feed-forward's first half) and `LayerNorm(x W^T + b + residual)` (the
//! end of every attention and feed-forward block). Each writes one output buffer once, instead
//! of allocating and re-reading a tensor per step. No backward pass: training uses
//! [`super::linear::LinearOp`] and the separate ops.

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape};
use rayon::prelude::*;

use super::layer_norm::normalize_row_in_place;
use super::linear::{linear_dims, with_last_dim};
use super::{f32_output, f32_slice, gelu, MatView, Product, MIN_ROWS_PER_TASK};

/// What happens to `x W^T + b` before it is returned.
#[derive(Debug, Clone)]
pub enum Epilogue {
    /// Exact GELU (`x Φ(x)`).
    Gelu,
    /// `LayerNorm(y + residual)` with this weight, bias and epsilon; the residual is the op's
    /// third input.
    ResidualLayerNorm {
        /// LayerNorm weight.
        weight: Vec<f32>,
        /// LayerNorm bias.
        bias: Vec<f32>,
        /// Added to the variance.
        eps: f32,
    },
}

/// `epilogue(x W^T + b)` for `x`: `[..., in]`, `W`: `[out, in]` (op inputs), `b` held here.
#[derive(Debug, Clone)]
pub struct InferenceLinear {
    /// `[out]`.
    pub bias: Vec<f32>,
    /// The step fused after the product.
    pub epilogue: Epilogue,
}

impl InferenceLinear {
    /// The product with its bias, every row of `y` first set to `b` (plus `residual`'s row when
    /// given) and then accumulated into by gemm.
    fn product(
        &self,
        x: &[f32],
        w: &[f32],
        dims: (usize, usize, usize),
        residual: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        let (rows, input, out) = dims;
        if self.bias.len() != out {
            bail!(
                "linear: bias of {} values for {out} outputs",
                self.bias.len()
            )
        }
        let mut y = vec![0f32; rows * out];
        y.par_chunks_mut(out)
            .enumerate()
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(row, y)| match residual {
                Some(r) => {
                    for ((y, &b), &r) in y.iter_mut().zip(&self.bias).zip(&r[row * out..]) {
                        *y = b + r;
                    }
                }
                None => y.copy_from_slice(&self.bias),
            });
        let product = Product {
            lhs: x,
            lhs_view: MatView::row_major(0, rows, input),
            rhs: w,
            rhs_view: MatView::row_major(0, out, input).t(),
            scale: 1.0,
        };
        // SAFETY: `y` holds rows x out elements and is only written here.
        unsafe { product.write(y.as_mut_ptr(), MatView::row_major(0, rows, out), true, true) };
        Ok(y)
    }
}

impl CustomOp2 for InferenceLinear {
    fn name(&self) -> &'static str {
        "naba-inference-linear"
    }

    /// `gelu(x W^T + b)`.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, CustomOp2::name(self))?;
        let w = f32_slice(s2, l2, CustomOp2::name(self))?;
        let dims = linear_dims(l1, l2)?;
        if !matches!(self.epilogue, Epilogue::Gelu) {
            bail!(
                "{}: this epilogue needs the residual input",
                CustomOp2::name(self)
            )
        }
        let mut y = self.product(x, w, dims, None)?;
        gelu::gelu_in_place(&mut y);
        f32_output(y, with_last_dim(l1.shape(), dims.2))
    }
}

impl CustomOp3 for InferenceLinear {
    fn name(&self) -> &'static str {
        "naba-inference-linear-residual-layer-norm"
    }

    /// `LayerNorm(x W^T + b + residual)`.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, CustomOp3::name(self))?;
        let w = f32_slice(s2, l2, CustomOp3::name(self))?;
        let residual = f32_slice(s3, l3, CustomOp3::name(self))?;
        let dims @ (rows, _, out) = linear_dims(l1, l2)?;
        let Epilogue::ResidualLayerNorm { weight, bias, eps } = &self.epilogue else {
            bail!("{}: the epilogue takes no residual", CustomOp3::name(self))
        };
        if residual.len() != rows * out || weight.len() != out || bias.len() != out {
            bail!(
                "{}: residual {:?} or LayerNorm width does not match {out} outputs",
                CustomOp3::name(self),
                l3.dims()
            )
        }
        let mut y = self.product(x, w, dims, Some(residual))?;
        y.par_chunks_mut(out)
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|row| normalize_row_in_place(row, weight, bias, *eps));
        f32_output(y, with_last_dim(l1.shape(), out))
    }
}
