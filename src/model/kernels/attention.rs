//! Per-head matrix products of attention that read the heads straight out of `[batch, seq,
//! hidden]` projections and write the context back in that layout: no split/merge copies.
//! One gemm per (batch, head), the pairs spread over rayon.

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{f32_output, f32_slice, MatView, Product, SharedMut};

/// How one attention tensor is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadLayout {
    /// `[batch, seq, heads * head_dim]`: head `h` is columns `h * head_dim..`, a `seq x head_dim`
    /// matrix per (batch, head).
    Heads,
    /// `[batch, heads, seq, seq]`: one `seq x seq` matrix per (batch, head).
    Square,
}

/// An operand: its storage and whether the product uses its transpose.
#[derive(Debug, Clone, Copy)]
pub struct Operand {
    /// Storage of the tensor.
    pub layout: HeadLayout,
    /// Whether the product uses the transpose of each per-head matrix.
    pub transposed: bool,
}

impl Operand {
    /// The matrix as stored, untransposed.
    pub fn plain(layout: HeadLayout) -> Self {
        Self {
            layout,
            transposed: false,
        }
    }

    /// Its transpose.
    pub fn t(layout: HeadLayout) -> Self {
        Self {
            layout,
            transposed: true,
        }
    }

    fn flipped(self) -> Self {
        Self {
            transposed: !self.transposed,
            ..self
        }
    }
}

/// Sizes of an attention block.
#[derive(Debug, Clone, Copy)]
pub struct AttentionDims {
    /// Batch size.
    pub batch: usize,
    /// Number of heads.
    pub heads: usize,
    /// Sequence length.
    pub seq: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl AttentionDims {
    fn shape(&self, layout: HeadLayout) -> Shape {
        match layout {
            HeadLayout::Heads => (self.batch, self.seq, self.heads * self.head_dim).into(),
            HeadLayout::Square => (self.batch, self.heads, self.seq, self.seq).into(),
        }
    }

    /// The stored matrix of (batch `b`, head `h`).
    fn view(&self, layout: HeadLayout, b: usize, h: usize) -> MatView {
        let hidden = self.heads * self.head_dim;
        match layout {
            HeadLayout::Heads => MatView {
                offset: b * self.seq * hidden + h * self.head_dim,
                rows: self.seq,
                cols: self.head_dim,
                rs: hidden,
                cs: 1,
            },
            HeadLayout::Square => MatView::row_major(
                (b * self.heads + h) * self.seq * self.seq,
                self.seq,
                self.seq,
            ),
        }
    }

    fn operand_view(&self, op: Operand, b: usize, h: usize) -> MatView {
        let v = self.view(op.layout, b, h);
        if op.transposed {
            v.t()
        } else {
            v
        }
    }
}

/// `out[b, h] = scale * lhs[b, h] * rhs[b, h]` for every batch item and head.
#[derive(Debug, Clone, Copy)]
pub struct HeadMatmul {
    /// Sizes.
    pub dims: AttentionDims,
    /// Left operand.
    pub lhs: Operand,
    /// Right operand.
    pub rhs: Operand,
    /// Storage of the result.
    pub out: HeadLayout,
    /// Factor applied to the product.
    pub scale: f32,
}

impl CustomOp2 for HeadMatmul {
    fn name(&self) -> &'static str {
        "naba-head-matmul"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let lhs = f32_slice(s1, l1, self.name())?;
        let rhs = f32_slice(s2, l2, self.name())?;
        let d = self.dims;
        for (name, layout, op) in [("lhs", l1, self.lhs), ("rhs", l2, self.rhs)] {
            if layout.shape() != &d.shape(op.layout) {
                bail!("head matmul: {name} has shape {:?}", layout.dims())
            }
        }
        let (lv, rv, ov) = (
            d.operand_view(self.lhs, 0, 0),
            d.operand_view(self.rhs, 0, 0),
            d.view(self.out, 0, 0),
        );
        if lv.cols != rv.rows || ov.rows != lv.rows || ov.cols != rv.cols {
            bail!("head matmul: operands {lv:?} x {rv:?} do not give {ov:?}")
        }
        let shape = d.shape(self.out);
        let mut out = vec![0f32; shape.elem_count()];
        let dst = SharedMut(out.as_mut_ptr());
        (0..d.batch * d.heads).into_par_iter().for_each(|bh| {
            let (b, h) = (bh / d.heads, bh % d.heads);
            let product = Product {
                lhs,
                lhs_view: d.operand_view(self.lhs, b, h),
                rhs,
                rhs_view: d.operand_view(self.rhs, b, h),
                scale: self.scale,
            };
            // SAFETY: each (batch, head) writes its own disjoint matrix of `out`.
            unsafe { product.write(dst.ptr(), d.view(self.out, b, h), false, false) };
        });
        f32_output(out, shape)
    }

    /// For `C = s A B`: `dA = s dC B^T` and `dB = s A^T dC`, each written in its operand's
    /// storage (for a transposed operand, the transpose of those).
    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _c: &Tensor,
        dc: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dc = dc.contiguous()?;
        let grad = Operand::plain(self.out);
        let op = |lhs, rhs, out| HeadMatmul {
            lhs,
            rhs,
            out,
            ..*self
        };
        let da = match (a.track_op(), self.lhs.transposed) {
            (false, _) => None,
            (true, false) => {
                Some(dc.apply_op2_no_bwd(b, &op(grad, self.rhs.flipped(), self.lhs.layout))?)
            }
            (true, true) => {
                Some(b.apply_op2_no_bwd(&dc, &op(self.rhs, grad.flipped(), self.lhs.layout))?)
            }
        };
        let db = match (b.track_op(), self.rhs.transposed) {
            (false, _) => None,
            (true, false) => {
                Some(a.apply_op2_no_bwd(&dc, &op(self.lhs.flipped(), grad, self.rhs.layout))?)
            }
            (true, true) => {
                Some(dc.apply_op2_no_bwd(a, &op(grad.flipped(), self.lhs, self.rhs.layout))?)
            }
        };
        Ok((da, db))
    }
}
