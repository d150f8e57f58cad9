//! Dropout whose mask is a pure function of a 64-bit key and the element index (a counter-based
//! generator), so it is generated in parallel, never stored, and recomputed in the backward pass.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{f32_output, f32_slice};

/// Elements per rayon task (even, so each task starts on a fresh 64-bit draw).
const CHUNK: usize = 8192;

/// The SplitMix64 finaliser: a bijective, well-mixed hash of `z`.
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Multiplies element `i` by `scale` when its draw is below `threshold` and by 0 otherwise.
#[derive(Debug, Clone, Copy)]
pub struct DropoutOp {
    /// Identifies this mask (derived from the seed and a call counter).
    pub key: u64,
    /// An element is kept when its 32-bit draw is below this (keep probability times 2^32).
    pub threshold: u64,
    /// `1 / keep probability`.
    pub scale: f32,
}

impl DropoutOp {
    /// Dropout with drop probability `p` under mask `key`.
    pub fn new(key: u64, p: f64) -> Self {
        let keep = (1.0 - p).clamp(0.0, 1.0);
        Self {
            key,
            threshold: (keep * 4_294_967_296.0).round() as u64,
            scale: if keep > 0.0 { (1.0 / keep) as f32 } else { 0.0 },
        }
    }

    /// `x * mask` on a chunk starting at element `start` (even).
    #[inline(always)]
    fn apply_chunk(&self, start: usize, x: &[f32], y: &mut [f32]) {
        let base = self.key ^ 0x9e37_79b9_7f4a_7c15;
        for (pair, (y, x)) in y.chunks_mut(2).zip(x.chunks(2)).enumerate() {
            let draw = mix64(
                base.wrapping_add(((start / 2 + pair) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            );
            let draws = [draw & 0xffff_ffff, draw >> 32];
            for ((y, &x), d) in y.iter_mut().zip(x).zip(draws) {
                *y = if d < self.threshold {
                    x * self.scale
                } else {
                    0.0
                };
            }
        }
    }
}

impl CustomOp1 for DropoutOp {
    fn name(&self) -> &'static str {
        "naba-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, self.name())?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .enumerate()
            .for_each(|(i, (y, x))| self.apply_chunk(i * CHUNK, x, y));
        f32_output(y, l.shape().clone())
    }

    /// The same mask applied to the gradient.
    fn bwd(&self, _x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(dy.contiguous()?.apply_op1_no_bwd(self)?))
    }
}
