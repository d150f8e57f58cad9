//! LayerNorm over the last dimension, with a backward pass giving dx, dweight and dbias.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{column_sums, f32_output, f32_slice, math, MIN_ROWS_PER_TASK};

/// `y = (x - mean) / sqrt(var + eps) * weight + bias` over the last dimension.
#[derive(Debug, Clone, Copy)]
pub struct LayerNormOp {
    /// Added to the variance.
    pub eps: f32,
}

/// Mean and `1 / sqrt(var + eps)` of one row.
#[inline(always)]
fn row_stats(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = math::sum_map(x, |v| v) / n;
    let var = math::sum_map(x, |v| (v - mean) * (v - mean)) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// Replaces one row by `(row - mean) / sqrt(var + eps) * weight + bias`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn normalize_row_in_place(row: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let (mean, rstd) = row_stats(row, eps);
    for ((v, &w), &b) in row.iter_mut().zip(weight).zip(bias) {
        *v = (*v - mean) * rstd * w + b;
    }
}

/// dx of one row from its input `x`, output gradient `dy` and the weight `w`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn input_grad_row(dx: &mut [f32], x: &[f32], dy: &[f32], w: &[f32], eps: f32) {
    let (mean, rstd) = row_stats(x, eps);
    let n = x.len() as f32;
    let mut g_sum = 0f32;
    let mut gx_sum = 0f32;
    for ((&dy, &w), &x) in dy.iter().zip(w).zip(x) {
        let g = dy * w;
        g_sum += g;
        gx_sum += g * (x - mean) * rstd;
    }
    let (g_mean, gx_mean) = (g_sum / n, gx_sum / n);
    for (((dx, &dy), &w), &x) in dx.iter_mut().zip(dy).zip(w).zip(x) {
        let xhat = (x - mean) * rstd;
        *dx = rstd * (dy * w - g_mean - xhat * gx_mean);
    }
}

/// Checks that `x` ends in `width` = the lengths of weight and bias; returns the row count.
fn rows_of(x: &[f32], w: &[f32], b: &[f32], width: usize) -> Result<usize> {
    if width == 0 || w.len() != width || b.len() != width || !x.len().is_multiple_of(width) {
        bail!(
            "layer_norm: input width {width} does not fit weight {} and bias {}",
            w.len(),
            b.len()
        )
    }
    Ok(x.len() / width)
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "naba-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let w = f32_slice(s2, l2, self.name())?;
        let b = f32_slice(s3, l3, self.name())?;
        let width = l1.dims().last().copied().unwrap_or(0);
        rows_of(x, w, b, width)?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(width)
            .zip(x.par_chunks(width))
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(y, x)| {
                y.copy_from_slice(x);
                normalize_row_in_place(y, w, b, self.eps);
            });
        f32_output(y, l1.shape().clone())
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let rows = x.elem_count() / weight.elem_count().max(1);
        let packed = x.apply_op3_no_bwd(weight, &dy.contiguous()?, &LayerNormBackward(*self))?;
        let dx = packed.narrow(0, 0, rows)?.reshape(x.shape())?;
        let dw = packed.narrow(0, rows, 1)?.squeeze(0)?;
        let db = packed.narrow(0, rows + 1, 1)?.squeeze(0)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// Gradients of [`LayerNormOp`] from `(x, weight, dy)`, packed as `[rows + 2, width]`:
/// the rows of dx, then dweight, then dbias.
struct LayerNormBackward(LayerNormOp);

impl CustomOp3 for LayerNormBackward {
    fn name(&self) -> &'static str {
        "naba-layer-norm-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let w = f32_slice(s2, l2, self.name())?;
        let dy = f32_slice(s3, l3, self.name())?;
        let width = w.len();
        let rows = rows_of(x, w, w, width)?;
        if dy.len() != x.len() {
            bail!("{}: gradient and input sizes differ", self.name())
        }
        let eps = self.0.eps;
        let mut out = vec![0f32; (rows + 2) * width];
        let (dx, _) = out.split_at_mut(rows * width);
        dx.par_chunks_mut(width)
            .zip(x.par_chunks(width).zip(dy.par_chunks(width)))
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(dx, (x, dy))| input_grad_row(dx, x, dy, w, eps));
        let sums = column_sums(rows, 2 * width, |row, acc| {
            let x = &x[row * width..(row + 1) * width];
            let dy = &dy[row * width..(row + 1) * width];
            let (mean, rstd) = row_stats(x, eps);
            let (dw, db) = acc.split_at_mut(width);
            for i in 0..width {
                dw[i] += dy[i] * (x[i] - mean) * rstd;
                db[i] += dy[i];
            }
        });
        out[rows * width..].copy_from_slice(&sums);
        f32_output(out, (rows + 2, width))
    }
}
