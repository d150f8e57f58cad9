//! Softmax over the last dimension, optionally after adding a per-batch additive mask
//! (the attention mask bias), with a backward pass.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{f32_output, f32_slice, math, MIN_ROWS_PER_TASK};

/// Writes `softmax(x + mask)` of one row into `y` (`mask` may be empty: no mask).
#[inline(always)]
fn softmax_row(x: &[f32], mask: &[f32], y: &mut [f32]) {
    if mask.is_empty() {
        y.copy_from_slice(x);
    } else {
        for ((y, &x), &m) in y.iter_mut().zip(x).zip(mask) {
            *y = x + m;
        }
    }
    let max = math::max(y);
    for v in y.iter_mut() {
        *v = math::exp(*v - max);
    }
    let inv = 1.0 / math::sum_map(y, |v| v);
    for v in y.iter_mut() {
        *v *= inv;
    }
}

/// Softmax of the rows of `x` (last dimension `width`); row `r` adds mask row
/// `r / (rows / mask_rows)` when a mask is given.
fn softmax_rows(x: &[f32], width: usize, mask: Option<&[f32]>) -> Result<Vec<f32>> {
    let rows = x.len() / width.max(1);
    let (mask, rows_per_mask) = match mask {
        None => (&[][..], usize::MAX),
        Some(m) => {
            let mask_rows = m.len() / width.max(1);
            if !m.len().is_multiple_of(width) || mask_rows == 0 || !rows.is_multiple_of(mask_rows) {
                bail!(
                    "masked softmax: mask of {} values does not fit rows of {width}",
                    m.len()
                )
            }
            (m, rows / mask_rows)
        }
    };
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(width)
        .zip(x.par_chunks(width))
        .enumerate()
        .with_min_len(MIN_ROWS_PER_TASK)
        .for_each(|(row, (y, x))| {
            let m = if mask.is_empty() {
                mask
            } else {
                let r = row / rows_per_mask;
                &mask[r * width..(r + 1) * width]
            };
            softmax_row(x, m, y)
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
        f32_output(softmax_rows(x, last_dim(l), None)?, l.shape().clone())
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            y.apply_op2_no_bwd(&dy.contiguous()?, &SoftmaxBackward)?,
        ))
    }
}

/// `softmax(x + mask)` over the last dimension; `mask` (e.g. `[batch, 1, 1, seq]` for scores
/// `[batch, heads, seq, seq]`) is repeated over the rows in between and gets no gradient.
#[derive(Debug, Clone, Copy)]
pub struct MaskedSoftmaxOp;

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
            softmax_rows(x, last_dim(l1), Some(mask))?,
            l1.shape().clone(),
        )
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _mask: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((
            Some(y.apply_op2_no_bwd(&dy.contiguous()?, &SoftmaxBackward)?),
            None,
        ))
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
            .for_each(|(dx, (y, dy))| {
                let s = math::dot(y, dy);
                for i in 0..width {
                    dx[i] = y[i] * (dy[i] - s);
                }
            });
        f32_output(dx, l1.shape().clone())
    }
}
