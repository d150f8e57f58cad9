//! Softmax over the last dimension, optionally after adding a per-batch additive mask
//! (the attention mask bias), with a backward pass.

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};
use rayon::prelude::*;

use super::dropout::DropoutOp;
use super::{f32_output, f32_slice, math, MIN_ROWS_PER_TASK};

/// Writes `softmax(x + mask)` of one row into `y` (`mask` may be empty: no mask).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn softmax_row(x: &[f32], mask: &[f32], y: &mut [f32]) {
    if mask.is_empty() {
        y.copy_from_slice(x);
    } else {
        for ((y, &x), &m) in y.iter_mut().zip(x).zip(mask) {
            *y = x + m;
        }
    }
    let max = math::max(y);
    let inv = 1.0 / math::exp_shifted_in_place(y, max);
    for v in y.iter_mut() {
        *v *= inv;
    }
}

/// Replaces one row `x` by `exp(scale x + mask - max)` and returns the sum of the new values:
/// an unnormalised softmax whose division is left to the caller (`mask` may be empty: no mask).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
pub(crate) fn exp_row_in_place(x: &mut [f32], mask: &[f32], scale: f32) -> f32 {
    let max = if mask.is_empty() {
        scale_max(x, &[], scale)
    } else {
        scale_max(x, &mask[..x.len()], scale)
    };
    math::exp_shifted_in_place(x, max)
}

/// Replaces `x` by `scale x + mask` (`mask` empty: none, else as long as `x`) and returns the
/// largest new value, in one pass with [`math::LANES`] running maxima (vectorisable).
#[inline(always)]
fn scale_max(x: &mut [f32], mask: &[f32], scale: f32) -> f32 {
    const L: usize = math::LANES;
    let mut acc = [f32::NEG_INFINITY; L];
    let full = x.len() / L * L;
    let (body, tail) = x.split_at_mut(full);
    let keep_max = |a: &mut f32, v: f32| *a = if v > *a { v } else { *a };
    if mask.is_empty() {
        for chunk in body.chunks_exact_mut(L) {
            for (a, v) in acc.iter_mut().zip(chunk) {
                *v *= scale;
                keep_max(a, *v);
            }
        }
        tail.iter_mut().for_each(|v| *v *= scale);
    } else {
        for (chunk, m) in body.chunks_exact_mut(L).zip(mask.chunks_exact(L)) {
            for ((a, v), &m) in acc.iter_mut().zip(chunk).zip(m) {
                *v = *v * scale + m;
                keep_max(a, *v);
            }
        }
        for (v, &m) in tail.iter_mut().zip(&mask[full..]) {
            *v = *v * scale + m;
        }
    }
    tail.iter()
        .chain(acc.iter())
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// Which mask row each row of `x` adds: `(mask, rows per mask row)`; an empty mask for none.
fn mask_rows(x_len: usize, width: usize, mask: Option<&[f32]>) -> Result<(&[f32], usize)> {
    let rows = x_len / width.max(1);
    match mask {
        None => Ok((&[][..], usize::MAX)),
        Some(m) => {
            let mask_rows = m.len() / width.max(1);
            if !m.len().is_multiple_of(width) || mask_rows == 0 || !rows.is_multiple_of(mask_rows) {
                bail!(
                    "masked softmax: mask of {} values does not fit rows of {width}",
                    m.len()
                )
            }
            Ok((m, rows / mask_rows))
        }
    }
}

/// The mask row added to row `row` (empty when there is no mask).
#[inline(always)]
fn mask_row(mask: &[f32], rows_per_mask: usize, width: usize, row: usize) -> &[f32] {
    if mask.is_empty() {
        mask
    } else {
        let r = row / rows_per_mask;
        &mask[r * width..(r + 1) * width]
    }
}

/// Softmax of the rows of `x` (last dimension `width`); row `r` adds mask row
/// `r / (rows / mask_rows)` when a mask is given, and the result goes through `dropout`.
fn softmax_rows(
    x: &[f32],
    width: usize,
    mask: Option<&[f32]>,
    dropout: Option<&DropoutOp>,
) -> Result<Vec<f32>> {
    let (mask, rows_per_mask) = mask_rows(x.len(), width, mask)?;
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(width)
        .zip(x.par_chunks(width))
        .enumerate()
        .with_min_len(MIN_ROWS_PER_TASK)
        .for_each(|(row, (y, x))| {
            softmax_row(x, mask_row(mask, rows_per_mask, width, row), y);
            if let Some(d) = dropout {
                d.apply_in_place(row * width, y);
            }
        });
    Ok(y)
}

fn last_dim(layout: &Layout) -> usize {
    layout.dims().last().copied().unwrap_or(1)
}

/// Softmax over the last dimension.
#[derive(Debug, Clone, Copy)]
pub struct SoftmaxOp;

impl CustomOp1 for SoftmaxOp {
    fn name(&self) -> &'static str {
        "naba-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        f32_output(softmax_rows(x, last_dim(l), None, None)?, l.shape().clone())
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            y.apply_op2_no_bwd(&dy.contiguous()?, &SoftmaxBackward)?,
        ))
    }
}

/// `dropout(softmax(x + mask))` over the last dimension; `mask` (e.g. `[batch, 1, 1, seq]`
/// for scores `[batch, heads, seq, seq]`) is repeated over the rows in between and gets no
/// gradient. With dropout, the backward pass recomputes the softmax from `x`.
#[derive(Debug, Clone, Copy)]
pub struct MaskedSoftmaxOp {
    /// Dropout applied to the probabilities, if any.
    pub dropout: Option<DropoutOp>,
}

impl CustomOp2 for MaskedSoftmaxOp {
    fn name(&self) -> &'static str {
        "naba-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let mask = f32_slice(s2, l2, self.name())?;
        f32_output(
            softmax_rows(x, last_dim(l1), Some(mask), self.dropout.as_ref())?,
            l1.shape().clone(),
        )
    }

    fn bwd(
        &self,
        x: &Tensor,
        mask: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        let dx = match self.dropout {
            None => y.apply_op2_no_bwd(&dy, &SoftmaxBackward)?,
            Some(dropout) => x.apply_op3_no_bwd(mask, &dy, &SoftmaxDropoutBackward(dropout))?,
        };
        Ok((Some(dx), None))
    }
}

/// `dx = y * (dy - sum(dy * y))` per row, from the softmax output `y` and its gradient `dy`.
struct SoftmaxBackward;

impl CustomOp2 for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "naba-softmax-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = f32_slice(s1, l1, self.name())?;
        let dy = f32_slice(s2, l2, self.name())?;
        if y.len() != dy.len() {
            bail!("{}: gradient and output sizes differ", self.name())
        }
        let width = last_dim(l1);
        let mut dx = vec![0f32; y.len()];
        dx.par_chunks_mut(width)
            .zip(y.par_chunks(width).zip(dy.par_chunks(width)))
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each(|(dx, (y, dy))| softmax_backward_row(dx, y, dy));
        f32_output(dx, l1.shape().clone())
    }
}

/// `dx = y * (dy - sum(dy * y))` of one row.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn softmax_backward_row(dx: &mut [f32], y: &[f32], dy: &[f32]) {
    let s = math::dot(y, dy);
    for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
        *dx = y * (dy - s);
    }
}

/// Gradient of [`MaskedSoftmaxOp`] with dropout from `(x, mask, dy)`: recomputes
/// `p = softmax(x + mask)`, then `dp = dy * dropout mask` and `dx = p * (dp - sum(dp * p))`.
struct SoftmaxDropoutBackward(DropoutOp);

impl CustomOp3 for SoftmaxDropoutBackward {
    fn name(&self) -> &'static str {
        "naba-softmax-dropout-backward"
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
        let mask = f32_slice(s2, l2, self.name())?;
        let dy = f32_slice(s3, l3, self.name())?;
        if x.len() != dy.len() {
            bail!("{}: gradient and input sizes differ", self.name())
        }
        let width = last_dim(l1);
        let (mask, rows_per_mask) = mask_rows(x.len(), width, Some(mask))?;
        let mut dx = vec![0f32; x.len()];
        dx.par_chunks_mut(width)
            .zip(x.par_chunks(width).zip(dy.par_chunks(width)))
            .enumerate()
            .with_min_len(MIN_ROWS_PER_TASK)
            .for_each_init(
                || vec![0f32; width],
                |dp, (row, (dx, (x, dy)))| {
                    softmax_row(x, mask_row(mask, rows_per_mask, width, row), dx);
                    dp.copy_from_slice(dy);
                    self.0.apply_in_place(row * width, dp);
                    let s = math::dot(dx, dp);
                    for (p, &g) in dx.iter_mut().zip(dp.iter()) {
                        *p *= g - s;
                    }
                },
            );
        f32_output(dx, l1.shape().clone())
    }
}
