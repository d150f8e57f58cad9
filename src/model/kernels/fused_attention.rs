//! Inference attention in one pass per block of queries: scores, mask, softmax and the product
//! with the values, without ever storing the `[batch, heads, seq, seq]` score tensor.
//!
//! Each rayon task takes one (batch, head, block of up to [`QUERY_BLOCK`] queries), computes
//! that block's scores into a buffer of its own (`block x seq`, in cache), turns them into
//! probabilities in place and writes `probs v` straight into the context, laid out as
//! `[batch, seq, heads * head_dim]`. Training keeps the separate ops, whose backward passes need
//! the probabilities.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape};
use rayon::prelude::*;

use super::attention::AttentionDims;
use super::softmax::softmax_row;
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

impl FusedAttention {
    /// The head-`h` matrix (`seq x head_dim`) of batch item `b`, from row `row` on.
    fn head_view(&self, b: usize, h: usize, row: usize, rows: usize) -> MatView {
        let d = self.dims;
        let hidden = d.heads * d.head_dim;
        MatView {
            offset: (b * d.seq + row) * hidden + h * d.head_dim,
            rows,
            cols: d.head_dim,
            rs: hidden,
            cs: 1,
        }
    }
}

impl CustomOp3 for FusedAttention {
    fn name(&self) -> &'static str {
        "naba-fused-attention"
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
        let (q, k, v) = (
            f32_slice(s1, l1, self.name())?,
            f32_slice(s2, l2, self.name())?,
            f32_slice(s3, l3, self.name())?,
        );
        let d = self.dims;
        let shape: Shape = (d.batch, d.seq, d.heads * d.head_dim).into();
        for (name, layout) in [("q", l1), ("k", l2), ("v", l3)] {
            if layout.shape() != &shape {
                bail!("fused attention: {name} has shape {:?}", layout.dims())
            }
        }
        if self.mask.len() != d.batch * d.seq {
            bail!("fused attention: mask of {} values", self.mask.len())
        }
        let blocks = d.seq.div_ceil(QUERY_BLOCK);
        let mut out = vec![0f32; shape.elem_count()];
        let dst = SharedMut(out.as_mut_ptr());
        (0..d.batch * d.heads * blocks)
            .into_par_iter()
            .for_each_init(
                || {
                    (
                        vec![0f32; QUERY_BLOCK * d.seq],
                        vec![0f32; QUERY_BLOCK * d.seq],
                    )
                },
                |(scores, probs), task| {
                    let (bh, block) = (task / blocks, task % blocks);
                    let (b, h) = (bh / d.heads, bh % d.heads);
                    let row = block * QUERY_BLOCK;
                    let rows = QUERY_BLOCK.min(d.seq - row);
                    let block_view = MatView::row_major(0, rows, d.seq);
                    let logits = Product {
                        lhs: q,
                        lhs_view: self.head_view(b, h, row, rows),
                        rhs: k,
                        rhs_view: self.head_view(b, h, 0, d.seq).t(),
                        scale: self.scale,
                    };
                    // SAFETY: `scores` is this task's own buffer, large enough for the block.
                    unsafe { logits.write(scores.as_mut_ptr(), block_view, false, false) };
                    let mask = &self.mask[b * d.seq..(b + 1) * d.seq];
                    for (x, y) in scores.chunks(d.seq).zip(probs.chunks_mut(d.seq)).take(rows) {
                        softmax_row(x, mask, y);
                    }
                    let context = Product {
                        lhs: probs,
                        lhs_view: block_view,
                        rhs: v,
                        rhs_view: self.head_view(b, h, 0, d.seq),
                        scale: 1.0,
                    };
                    // SAFETY: each task writes its own rows of its own head's columns of `out`.
                    unsafe {
                        context.write(dst.ptr(), self.head_view(b, h, row, rows), false, false)
                    };
                },
            );
        f32_output(out, shape)
    }
}
