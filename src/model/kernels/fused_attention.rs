//! Inference attention in one pass per block of queries: scores, mask, softmax and the product
//! with the values, without ever storing the `[batch, heads, seq, seq]` score tensor.
//!
//! Each rayon task takes one (batch, head, block of up to [`QUERY_BLOCK`] queries), computes
//! that block's scores into a buffer of its own (`block x seq`, in cache), turns them into
//! unnormalised probabilities `exp(s - max)` in place, writes their product with `v` straight
//! into the context (laid out as `[batch, seq, heads * head_dim]`) and divides each context row
//! by its sum (`head_dim` divisions instead of `seq` per row). The projections come packed,
//! `[q | k | v]` per position, as one fused projection writes them. Training keeps the separate
//! ops, whose backward passes need the probabilities.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::attention::AttentionDims;
use super::softmax::exp_row_in_place;
use super::{f32_output, f32_slice, MatView, Product, SharedMut};

/// Queries per task: small enough that a block's scores stay in cache.
const QUERY_BLOCK: usize = 64;

/// `softmax(scale q_h k_h^T + mask) v_h` for every batch item and head.
#[derive(Debug, Clone)]
pub struct FusedAttention {
    /// Sizes.
    pub dims: AttentionDims,
    /// Factor applied to the scores.
    pub scale: f32,
    /// Additive mask, `batch x seq` (0 or a large negative per key).
    pub mask: Vec<f32>,
}

/// Which third of a packed `[q | k | v]` row a head is read from.
#[derive(Clone, Copy)]
enum Part {
    Query = 0,
    Key = 1,
    Value = 2,
}

impl FusedAttention {
    /// The head-`h` matrix (`rows x head_dim`, from sequence position `row` on) of batch item
    /// `b` in the packed `[batch, seq, 3 * hidden]` projections (`part` = q, k or v), or in the
    /// `[batch, seq, hidden]` output when `part` is `None`.
    fn head_view(
        &self,
        part: Option<Part>,
        b: usize,
        h: usize,
        row: usize,
        rows: usize,
    ) -> MatView {
        let d = self.dims;
        let hidden = d.heads * d.head_dim;
        let (width, start) = match part {
            Some(p) => (3 * hidden, p as usize * hidden),
            None => (hidden, 0),
        };
        MatView {
            offset: (b * d.seq + row) * width + start + h * d.head_dim,
            rows,
            cols: d.head_dim,
            rs: width,
            cs: 1,
        }
    }
}

impl CustomOp1 for FusedAttention {
    fn name(&self) -> &'static str {
        "naba-fused-attention"
    }

    /// From the packed projections `[batch, seq, 3 * hidden]` (`[q | k | v]` per position).
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let qkv = f32_slice(s, l, self.name())?;
        let d = self.dims;
        let hidden = d.heads * d.head_dim;
        if l.dims() != [d.batch, d.seq, 3 * hidden] {
            bail!("fused attention: packed q, k, v have shape {:?}", l.dims())
        }
        if self.mask.len() != d.batch * d.seq {
            bail!("fused attention: mask of {} values", self.mask.len())
        }
        let shape: Shape = (d.batch, d.seq, hidden).into();
        let blocks = d.seq.div_ceil(QUERY_BLOCK);
        let mut out = vec![0f32; shape.elem_count()];
        let dst = SharedMut(out.as_mut_ptr());
        (0..d.batch * d.heads * blocks)
            .into_par_iter()
            .for_each_init(
                || (vec![0f32; QUERY_BLOCK * d.seq], [0f32; QUERY_BLOCK]),
                |(scores, sums), task| {
                    let (bh, block) = (task / blocks, task % blocks);
                    let (b, h) = (bh / d.heads, bh % d.heads);
                    let row = block * QUERY_BLOCK;
                    let rows = QUERY_BLOCK.min(d.seq - row);
                    let block_view = MatView::row_major(0, rows, d.seq);
                    let logits = Product {
                        lhs: qkv,
                        lhs_view: self.head_view(Some(Part::Query), b, h, row, rows),
                        rhs: qkv,
                        rhs_view: self.head_view(Some(Part::Key), b, h, 0, d.seq).t(),
                        scale: self.scale,
                    };
                    // SAFETY: `scores` is this task's own buffer, large enough for the block.
                    unsafe { logits.write(scores.as_mut_ptr(), block_view, false, false) };
                    let mask = &self.mask[b * d.seq..(b + 1) * d.seq];
                    for (x, sum) in scores.chunks_mut(d.seq).zip(sums.iter_mut()).take(rows) {
                        *sum = exp_row_in_place(x, mask);
                    }
                    let out_view = self.head_view(None, b, h, row, rows);
                    let context = Product {
                        lhs: scores,
                        lhs_view: block_view,
                        rhs: qkv,
                        rhs_view: self.head_view(Some(Part::Value), b, h, 0, d.seq),
                        scale: 1.0,
                    };
                    // SAFETY: each task writes its own rows of its own head's columns of `out`,
                    // first the unnormalised product, then each row divided by its sum.
                    unsafe {
                        context.write(dst.ptr(), out_view, false, false);
                        for (i, &sum) in sums.iter().enumerate().take(rows) {
                            let start = dst.ptr().add(out_view.offset + i * out_view.rs);
                            let inv = 1.0 / sum;
                            for v in std::slice::from_raw_parts_mut(start, d.head_dim) {
                                *v *= inv;
                            }
                        }
                    };
                },
            );
        f32_output(out, shape)
    }
}
