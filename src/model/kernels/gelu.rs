//! Exact (erf) GELU, `x * Φ(x)`, as PyTorch's `gelu` computes it, with a backward pass.

use std::f32::consts::FRAC_1_SQRT_2;

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{f32_output, f32_slice, math};

/// Elements per rayon task.
const CHUNK: usize = 4096;

/// `1 / sqrt(2 pi)`.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// Replaces every value `x` of `xs` by `gelu(x)`, in parallel chunks.
pub(crate) fn gelu_in_place(xs: &mut [f32]) {
    xs.par_chunks_mut(CHUNK).for_each(math::gelu_in_place);
}

/// `gelu(x) = x / 2 * (1 + erf(x / sqrt 2))`.
#[derive(Debug, Clone, Copy)]
pub struct GeluErfOp;

impl CustomOp1 for GeluErfOp {
    fn name(&self) -> &'static str {
        "naba-gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let mut y = x.to_vec();
        gelu_in_place(&mut y);
        f32_output(y, l.shape().clone())
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            x.apply_op2_no_bwd(&dy.contiguous()?, &GeluErfBackward)?,
        ))
    }
}

/// `dx = dy * (Φ(x) + x φ(x))` from `(x, dy)`.
struct GeluErfBackward;

impl CustomOp2 for GeluErfBackward {
    fn name(&self) -> &'static str {
        "naba-gelu-erf-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, self.name())?;
        let dy = f32_slice(s2, l2, self.name())?;
        if x.len() != dy.len() {
            bail!("{}: gradient and input sizes differ", self.name())
        }
        let mut dx = vec![0f32; x.len()];
        dx.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
            .for_each(|(dx, (x, dy))| gelu_backward_chunk(dx, x, dy));
        f32_output(dx, l1.shape().clone())
    }
}

/// `dx = dy * (Φ(x) + x φ(x))` over one chunk.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn gelu_backward_chunk(dx: &mut [f32], x: &[f32], dy: &[f32]) {
    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
        let cdf = 0.5 * (1.0 + math::erf(x * FRAC_1_SQRT_2));
        let pdf = FRAC_1_SQRT_2PI * math::exp(-0.5 * x * x);
        *dx = dy * (cdf + x * pdf);
    }
}
