//! Weights quantised in blocks for the inference gemm ([`super::sgemm`]): each output column's
//! weights in blocks of [`BLOCK`] input depths, each block with one f32 scale, as GGML's `Q8_0`
//! (8-bit values, `scale = max |x| / 127`) and `Q4_0` (4-bit values, the value of largest
//! magnitude mapped to -8) do.
//!
//! The codes keep the gemm's panel layout: panel after panel of [`NR`] columns, each `k` runs
//! of [`NR`] values. An 8-bit run is [`NR`] bytes; a 4-bit run is `NR / 2` bytes, byte `j`
//! holding column `j` in its low nibble and column `j + NR / 2` in its high one, so that a run
//! unpacks into two 8-lane halves. The product dequantises one panel sliver at a time into a
//! buffer in cache ([`QuantizedPanels::dequantize`]) and runs the f32 micro-kernel on it.

use rayon::prelude::*;

use super::sgemm::NR;

/// Input depths per quantisation block.
pub const BLOCK: usize = 32;

/// Bits per quantised weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bits {
    /// `Q8_0`-style blocks: values in -127..=127.
    Eight,
    /// `Q4_0`-style blocks: values in -8..=7.
    Four,
}

impl Bits {
    /// Bytes of one run of [`NR`] values.
    fn run_bytes(self) -> usize {
        match self {
            Self::Eight => NR,
            Self::Four => NR / 2,
        }
    }
}

/// Quantises `block` to `out` (same length) as `round(x / scale)` with `scale = max |x| / 127`,
/// and returns the scale (0 for an all-zero block).
pub fn quantize_block_q8(block: &[f32], out: &mut [i8]) -> f32 {
    let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = amax / 127.0;
    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    for (q, x) in out.iter_mut().zip(block) {
        *q = (x * inv).round() as i8;
    }
    scale
}

/// Quantises `block` to `out` (same length) in -8..=7 as GGML's `Q4_0` does: the value of
/// largest magnitude becomes -8 exactly (`scale = that value / -8`, negative when it is
/// positive), the others `round(x / scale)`. Returns the scale (0 for an all-zero block).
///
/// multilingual-e5-small ships as `Q4_0` blocks made by this rule, so its encoder re-quantises
/// without loss. (A least-squares search over scales, as llama.cpp's `make_qx_quants`, gave no
/// better ANERcorp F1 on a model fine-tuned from it: see docs/results.md.)
pub fn quantize_block_q4(block: &[f32], out: &mut [i8]) -> f32 {
    let extreme = block
        .iter()
        .fold(0f32, |m, &x| if x.abs() > m.abs() { x } else { m });
    let scale = extreme / -8.0;
    let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
    for (q, x) in out.iter_mut().zip(block) {
        *q = (x * inv).round().clamp(-8.0, 7.0) as i8;
    }
    scale
}

/// A weight `[n, k]` as quantised blocks in the gemm's panel layout (see the module docs).
#[derive(Debug, Clone)]
pub struct QuantizedPanels {
    bits: Bits,
    /// Panel after panel: `k` runs of [`NR`] codes each.
    codes: Vec<u8>,
    /// Per panel and block of [`BLOCK`] depths, the [`NR`] columns' scales.
    scales: Vec<f32>,
    k: usize,
}

impl QuantizedPanels {
    /// Quantises `w`, row-major `[n, k]`, column block by column block.
    pub fn new(w: &[f32], n: usize, k: usize, bits: Bits) -> Self {
        assert_eq!(
            w.len(),
            n * k,
            "weight of {} values is not {n} x {k}",
            w.len()
        );
        let (panels, blocks) = (n.div_ceil(NR), k.div_ceil(BLOCK));
        let run_bytes = bits.run_bytes();
        let mut codes = vec![0u8; panels * k * run_bytes];
        let mut scales = vec![0f32; panels * blocks * NR];
        codes
            .par_chunks_mut((k * run_bytes).max(1))
            .zip(scales.par_chunks_mut((blocks * NR).max(1)))
            .enumerate()
            .for_each(|(p, (codes, scales))| {
                let mut q = [0i8; BLOCK];
                for c in 0..NR.min(n - p * NR) {
                    let row = &w[(p * NR + c) * k..(p * NR + c + 1) * k];
                    for (g, block) in row.chunks(BLOCK).enumerate() {
                        let q = &mut q[..block.len()];
                        scales[g * NR + c] = match bits {
                            Bits::Eight => quantize_block_q8(block, q),
                            Bits::Four => quantize_block_q4(block, q),
                        };
                        for (i, &v) in q.iter().enumerate() {
                            let run = (g * BLOCK + i) * run_bytes;
                            match bits {
                                Bits::Eight => codes[run + c] = v as u8,
                                Bits::Four => {
                                    let half = NR / 2;
                                    codes[run + c % half] |= ((v + 8) as u8) << (4 * (c / half));
                                }
                            }
                        }
                    }
                }
            });
        Self {
            bits,
            codes,
            scales,
            k,
        }
    }

    /// Bytes the codes and scales take.
    pub fn bytes(&self) -> usize {
        self.codes.len() + 4 * self.scales.len()
    }

    /// Writes the `out.len() / NR` runs of panel `p` from depth `first` on as f32 values.
    pub fn dequantize(&self, p: usize, first: usize, out: &mut [f32]) {
        let runs = out.len() / NR;
        let blocks = self.k.div_ceil(BLOCK);
        let run_bytes = self.bits.run_bytes();
        let start = (p * self.k + first) * run_bytes;
        let codes = &self.codes[start..start + runs * run_bytes];
        let scales = &self.scales[p * blocks * NR..(p + 1) * blocks * NR];
        match self.bits {
            Bits::Eight => dequantize_q8(codes, scales, first, out),
            Bits::Four => dequantize_q4(codes, scales, first, out),
        }
    }
}

/// 8-bit runs from depth `first` on, times their columns' scales.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn dequantize_q8(codes: &[u8], scales: &[f32], first: usize, out: &mut [f32]) {
    for (i, (run, out)) in codes
        .chunks_exact(NR)
        .zip(out.chunks_exact_mut(NR))
        .enumerate()
    {
        let block = (first + i) / BLOCK;
        let scale = &scales[block * NR..(block + 1) * NR];
        for ((o, &q), &s) in out.iter_mut().zip(run).zip(scale) {
            *o = f32::from(q as i8) * s;
        }
    }
}

/// 4-bit runs (two columns per byte) from depth `first` on, times their columns' scales.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn dequantize_q4(codes: &[u8], scales: &[f32], first: usize, out: &mut [f32]) {
    const HALF: usize = NR / 2;
    for (i, (run, out)) in codes
        .chunks_exact(HALF)
        .zip(out.chunks_exact_mut(NR))
        .enumerate()
    {
        let block = (first + i) / BLOCK;
        let scale = &scales[block * NR..(block + 1) * NR];
        let (lo_out, hi_out) = out.split_at_mut(HALF);
        let (lo_scale, hi_scale) = scale.split_at(HALF);
        for j in 0..HALF {
            lo_out[j] = (f32::from(run[j] & 15) - 8.0) * lo_scale[j];
            hi_out[j] = (f32::from(run[j] >> 4) - 8.0) * hi_scale[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_maps_the_extreme_value_to_minus_eight_and_rounds_the_rest() {
        let block = [0.8f32, -0.4, 0.1, 0.0, -0.74, 0.42];
        let mut q = [0i8; 6];
        let scale = quantize_block_q4(&block, &mut q);
        assert_eq!(scale, -0.1);
        assert_eq!(q, [-8, 4, -1, 0, 7, -4]);
        assert_eq!(quantize_block_q4(&[0.0; 4], &mut [0; 4]), 0.0);
    }

    #[test]
    fn q4_gives_a_block_on_its_grid_back_exactly() {
        // Q4_0 codes times a scale, the extreme at -8 (how the e5-small weights are stored)
        let codes = [-8i8, 7, -3, 0, 5, -6, 1, 2];
        let block: Vec<f32> = codes.iter().map(|&q| f32::from(q) * 0.0625).collect();
        let mut q = [0i8; 8];
        let scale = quantize_block_q4(&block, &mut q);
        assert_eq!(q, codes);
        for (&x, &q) in block.iter().zip(&q) {
            assert_eq!(f32::from(q) * scale, x);
        }
    }

    #[test]
    fn dequantised_panels_match_each_blocks_quantised_values() {
        // n not a multiple of NR, k over one block and not a multiple of it
        let (n, k) = (21, 70);
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 30.0)
            .collect();
        for bits in [Bits::Eight, Bits::Four] {
            let panels = QuantizedPanels::new(&w, n, k, bits);
            for p in 0..n.div_ceil(NR) {
                let first = 3;
                let mut out = vec![0f32; (k - first) * NR];
                panels.dequantize(p, first, &mut out);
                for c in 0..NR.min(n - p * NR) {
                    let col = p * NR + c;
                    let row = &w[col * k..(col + 1) * k];
                    for (g, block) in row.chunks(BLOCK).enumerate() {
                        let mut q = [0i8; BLOCK];
                        let scale = match bits {
                            Bits::Eight => quantize_block_q8(block, &mut q[..block.len()]),
                            Bits::Four => quantize_block_q4(block, &mut q[..block.len()]),
                        };
                        for (i, &q) in q[..block.len()].iter().enumerate() {
                            let depth = g * BLOCK + i;
                            if depth >= first {
                                let got = out[(depth - first) * NR + c];
                                assert_eq!(got, f32::from(q) * scale, "{bits:?} {col} {depth}");
                            }
                        }
                    }
                }
            }
        }
    }
}
