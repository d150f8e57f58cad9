//! Dropout whose mask is a pure function of a 64-bit key and the element index (a counter-based
//! generator), so it is generated in parallel, never stored, and recomputed in the backward pass.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{f32_output, f32_slice};

/// Elements per rayon task.
const CHUNK: usize = 8192;

/// The golden-ratio increment of SplitMix64.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

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

    /// The two 32-bit draws of elements `2 * pair` and `2 * pair + 1`.
    #[inline(always)]
    fn draws(&self, pair: usize) -> [u64; 2] {
        let d = mix64((self.key ^ GOLDEN).wrapping_add((pair as u64).wrapping_mul(GOLDEN)));
        [d & 0xffff_ffff, d >> 32]
    }

    #[inline(always)]
    fn masked(&self, x: f32, draw: u64) -> f32 {
        if draw < self.threshold {
            x * self.scale
        } else {
            0.0
        }
    }

    /// Multiplies `y`, the elements `start..start + y.len()` of a tensor, by their mask values.
    #[inline(always)]
    pub fn apply_in_place(&self, start: usize, y: &mut [f32]) {
        let (mut y, mut start) = (y, start);
        if start % 2 == 1 {
            let Some((first, rest)) = y.split_first_mut() else {
                return;
            };
            *first = self.masked(*first, self.draws(start / 2)[1]);
            (y, start) = (rest, start + 1);
        }
        for (pair, values) in y.chunks_mut(2).enumerate() {
            let draws = self.draws(start / 2 + pair);
            for (v, d) in values.iter_mut().zip(draws) {
                *v = self.masked(*v, d);
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
        let mut y = x.to_vec();
        y.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(i, y)| self.apply_in_place(i * CHUNK, y));
        f32_output(y, l.shape().clone())
    }

    /// The same mask applied to the gradient.
    fn bwd(&self, _x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(dy.contiguous()?.apply_op1_no_bwd(self)?))
    }
}
