//! Inference attention in one pass per block of queries: scores, mask, softmax and the product
//! with the values, without ever storing the `[batch, heads, seq, seq]` score tensor.
//!
//! Each rayon task takes one (batch, head): it packs that head's keys and values once into the
//! panel layout of naba's gemm ([`super::sgemm`]), then, block of [`QUERY_BLOCK`] queries by
//! block, computes the block's scores into a buffer of its own (`block x seq`, in cache), turns
//! them into unnormalised probabilities `exp(scale s + mask - max)` in place, writes their
//! product with `v` straight into the context (laid out as `[batch, seq, heads * head_dim]`) and
//! divides each context row by its sum (`head_dim` divisions instead of `seq` per row). Queries
//! and scores are read in place by the gemm micro-kernel. The projections come packed,
//! `[q | k | v]` per position, as one fused projection writes them. Training keeps the separate
//! ops, whose backward passes need the probabilities.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::attention::AttentionDims;
use super::sgemm::{gemm_rows, Output, PackedWeight, Panels, Scratch as GemmScratch, MR, NR};
use super::softmax::exp_row_in_place;
use super::{f32_output, f32_slice, MatView, SharedMut};

/// Queries per block: few enough that a block's scores stay in cache, and a whole number of the
/// gemm's row groups ([`MR`]), so that only a sequence's last block has a partial group (a
/// partial group is computed through a zeroed tile on the stack and copied).
const QUERY_BLOCK: usize = 16 * MR;

/// Sequence length from which the values are packed rather than read in place. Read in place,
/// a head's values are one cache line per position, `3 hidden` floats apart: with hundreds of
/// positions those lines fall into a few L1 sets and evict each other while the micro-kernel
/// walks them (packing measured 4-6% faster attention from 128 positions on, 4-8% slower at
/// 64-96).
const PACK_VALUES_FROM: usize = 128;

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

/// One task's buffers, reused from head to head.
#[derive(Default)]
struct Scratch {
    keys: PackedWeight,
    values: PackedWeight,
    scores: Vec<f32>,
    sums: Vec<f32>,
    gemm: GemmScratch,
}

impl FusedAttention {
    /// Attention of head `h` of batch item `b`, written into its columns of the context at
    /// `dst` (`[batch, seq, hidden]`, whatever is there on entry is overwritten).
    ///
    /// # Safety
    /// `dst` must point to the context, whose head-`h` columns of batch item `b` no one else
    /// touches meanwhile.
    unsafe fn head(&self, qkv: &[f32], b: usize, h: usize, s: &mut Scratch, dst: SharedMut) {
        let d = self.dims;
        // scores = q k^T: the keys are the packed weight, `[seq, head_dim]`
        s.keys
            .pack(qkv, self.head_view(Some(Part::Key), b, h, 0, d.seq), false);
        // context = p v: v (`[seq, head_dim]`, rows `3 hidden` apart) is read in place when its
        // width is a whole number of panels and the sequence short, else packed
        let values = self.head_view(Some(Part::Value), b, h, 0, d.seq);
        let values = if d.head_dim.is_multiple_of(NR) && d.seq < PACK_VALUES_FROM {
            Panels::in_place(qkv, values.offset, d.seq, d.head_dim, values.rs)
        } else {
            s.values.pack(qkv, values.t(), false);
            s.values.panels()
        };
        // an item without padding adds nothing: skip its all-zero mask
        let mask = &self.mask[b * d.seq..(b + 1) * d.seq];
        let mask = if mask.iter().all(|&m| m == 0.0) {
            &[][..]
        } else {
            mask
        };
        for row in (0..d.seq).step_by(QUERY_BLOCK) {
            let rows = QUERY_BLOCK.min(d.seq - row);
            // the product overwrites the scores: the buffer only has to be long enough
            if s.scores.len() < rows * d.seq {
                s.scores.resize(rows * d.seq, 0.0);
            }
            let scores = &mut s.scores[..rows * d.seq];
            let queries = self.head_view(Some(Part::Query), b, h, row, rows);
            let q = &qkv[queries.offset..];
            let keys = s.keys.panels();
            gemm_rows(
                q,
                queries.rs,
                rows,
                &keys,
                &mut s.gemm,
                scores.as_mut_ptr(),
                d.seq,
                Output::Overwrite,
            );
            s.sums.clear();
            s.sums.extend(
                scores
                    .chunks_mut(d.seq)
                    .map(|x| exp_row_in_place(x, mask, self.scale)),
            );
            let out = self.head_view(None, b, h, row, rows);
            let context = dst.ptr().add(out.offset);
            gemm_rows(
                scores,
                d.seq,
                rows,
                &values,
                &mut s.gemm,
                context,
                out.rs,
                Output::Overwrite,
            );
            for (i, &sum) in s.sums.iter().enumerate() {
                let inv = 1.0 / sum;
                for v in std::slice::from_raw_parts_mut(context.add(i * out.rs), d.head_dim) {
                    *v *= inv;
                }
            }
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
        let mut out: Vec<f32> = Vec::with_capacity(shape.elem_count());
        let dst = SharedMut(out.as_mut_ptr());
        (0..d.batch * d.heads)
            .into_par_iter()
            .for_each_init(Scratch::default, |scratch, task| {
                let (b, h) = (task / d.heads, task % d.heads);
                // SAFETY: each task writes only its own head's columns of `out`.
                unsafe { self.head(qkv, b, h, scratch, dst) }
            });
        // SAFETY: the tasks together wrote every value: each (batch item, head) its columns of
        // all positions, the product with the values overwriting them.
        unsafe { out.set_len(shape.elem_count()) };
        f32_output(out, shape)
    }
}
