//! `y = x W^T + b` on the flattened rows of `x` (no batch broadcast of `W`), with a backward
//! pass giving dx, dW (directly in `W`'s layout) and db. The forward product runs on naba's
//! packed gemm (the weight packed once per call, as it changes every step); the backward
//! products on the gemm crate, which reads the transposed operands they need in place.

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};

use super::sgemm::{matmul, PackedWeight, Start};
use super::{column_sums, f32_output, f32_slice, MatView, Product};

/// `x`: `[..., in]`, `weight`: `[out, in]`, `bias`: `[out]` → `[..., out]`.
#[derive(Debug, Clone, Copy)]
pub struct LinearOp;

/// `(rows, in, out)` of a linear map, checked against the weight's shape.
pub(crate) fn linear_dims(x: &Layout, weight: &Layout) -> Result<(usize, usize, usize)> {
    let Ok((out, input)) = weight.shape().dims2() else {
        bail!("linear: weight must be 2-D, got {:?}", weight.dims())
    };
    let x_in = x.dims().last().copied().unwrap_or(0);
    if x_in != input {
        bail!(
            "linear: input width {x_in} does not match weight {:?}",
            weight.dims()
        )
    }
    Ok((x.shape().elem_count() / input.max(1), input, out))
}

/// `x.shape` with its last dimension replaced by `last`.
pub(crate) fn with_last_dim(shape: &Shape, last: usize) -> Shape {
    let mut dims = shape.dims().to_vec();
    if let Some(d) = dims.last_mut() {
        *d = last;
    }
    Shape::from(dims)
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "naba-linear"
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
        let (rows, input, out) = linear_dims(l1, l2)?;
        if b.len() != out {
            bail!("linear: bias of {} values for {out} outputs", b.len())
        }
        let packed = PackedWeight::new(w, out, input);
        let y = matmul(x, rows, &packed, Start::Bias(b), |_| {});
        f32_output(y, with_last_dim(l1.shape(), out))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        let dx = match x.track_op() {
            true => Some(dy.apply_op2_no_bwd(weight, &LinearInputGrad)?),
            false => None,
        };
        let dw = match weight.track_op() {
            true => Some(dy.apply_op2_no_bwd(x, &LinearWeightGrad)?),
            false => None,
        };
        let db = match bias.track_op() {
            true => Some(dy.apply_op1_no_bwd(&LinearBiasGrad)?),
            false => None,
        };
        Ok((dx, dw, db))
    }
}

/// `dx = dy W` from `(dy, weight)`.
struct LinearInputGrad;

impl CustomOp2 for LinearInputGrad {
    fn name(&self) -> &'static str {
        "naba-linear-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dy = f32_slice(s1, l1, self.name())?;
        let w = f32_slice(s2, l2, self.name())?;
        let (out, input) = l2.shape().dims2()?;
        let rows = dy.len() / out.max(1);
        let dx = Product {
            lhs: dy,
            lhs_view: MatView::row_major(0, rows, out),
            rhs: w,
            rhs_view: MatView::row_major(0, out, input),
            scale: 1.0,
        }
        .compute();
        f32_output(dx, with_last_dim(l1.shape(), input))
    }
}

/// `dW = dy^T x` (`[out, in]`) from `(dy, x)`.
struct LinearWeightGrad;

impl CustomOp2 for LinearWeightGrad {
    fn name(&self) -> &'static str {
        "naba-linear-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dy = f32_slice(s1, l1, self.name())?;
        let x = f32_slice(s2, l2, self.name())?;
        let out = l1.dims().last().copied().unwrap_or(1);
        let input = l2.dims().last().copied().unwrap_or(1);
        let rows = dy.len() / out.max(1);
        let dw = Product {
            lhs: dy,
            lhs_view: MatView::row_major(0, rows, out).t(),
            rhs: x,
            rhs_view: MatView::row_major(0, rows, input),
            scale: 1.0,
        }
        .compute();
        f32_output(dw, (out, input))
    }
}

/// `db = sum of the rows of dy`.
struct LinearBiasGrad;

impl CustomOp1 for LinearBiasGrad {
    fn name(&self) -> &'static str {
        "naba-linear-bias-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let dy = f32_slice(s, l, self.name())?;
        let out = l.dims().last().copied().unwrap_or(1);
        let rows = dy.len() / out.max(1);
        let db = column_sums(rows, out, |row, acc| {
            for (a, &g) in acc.iter_mut().zip(&dy[row * out..(row + 1) * out]) {
                *a += g;
            }
        });
        f32_output(db, out)
    }
}
