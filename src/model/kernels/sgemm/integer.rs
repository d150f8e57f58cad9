//! Integer products for [`super::WeightFormat::Int16`]: the weight quantised once per output
//! column, the activations per row as each product starts, both to 16-bit integers of at most
//! [`LIMIT`] in magnitude, and their dot products summed exactly in 32-bit integers (AVX2's
//! `vpmaddwd`: sixteen multiply-adds per instruction, twice an f32 FMA's eight). Each depth
//! block's integer sums are scaled back to f32 and added to the output, so the rest of the
//! product (row blocks, the bias and residual start, `finish`) is [`super::matmul`]'s.
//!
//! Precision: the exact integer sums of a depth block of [`KC`] must fit in `i32`, which bounds
//! the magnitudes to `LIMIT = floor(sqrt(i32::MAX / KC))` = 2,896 (11.5 bits), for weights and
//! activations alike: a finer grid than 8-bit dynamic quantisation's (255 steps), with no
//! saturation anywhere. Integer sums do not depend on the order they are added in, so every
//! kernel (portable, AVX2, AVX-512BW, AVX-512 VNNI) computes the same sums, bit for bit; only
//! the rounding of the f32 epilogue may differ.
//!
//! Layout: panels of [`NR`] columns as for f32 weights, the depth taken two at a time (odd
//! depths are padded with a zero): for each pair of depths a run of `2 NR` values (64 bytes),
//! columns 0-7 then 8-15, each column's two depths side by side, so that one 32-bit broadcast
//! of a row's two activations meets eight columns in one AVX2 `vpmaddwd`, or all sixteen in one
//! AVX-512 instruction. A row group's activations are interleaved the same way (see
//! [`gemm_rows`]).

use rayon::prelude::*;

use super::micro::Init;
use super::{check_weight_shape, column_chunk, next_step, run_share, Output, MR, NR};

/// Depths summed in integers before the sum is scaled to f32 and added to the output.
pub(super) const KC: usize = 256;

/// Largest magnitude of a quantised value: `KC` products of two such values fit in `i32`.
pub const LIMIT: i32 = 2896;

/// A weight `[n, k]` as 16-bit integers in panels (see the module docs), one f32 scale per
/// output column.
#[derive(Debug, Clone)]
pub struct IntPanels {
    values: Vec<i16>,
    /// Per column, padded to whole panels with zeros.
    scales: Vec<f32>,
    n: usize,
    /// `k` rounded up to even.
    depth: usize,
}

/// Quantises `x` into `out` (same length) as integers of magnitude at most [`LIMIT`] with one
/// scale, `max |x| / LIMIT` (0 for all zeros, NaN when `x` holds an infinity, so that the
/// product is not finite either), rounding to the nearest; returns the scale.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn quantize(x: &[f32], out: &mut [i16]) -> f32 {
    const LANES: usize = 8;
    let mut lanes = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            *m = if v.abs() > *m { v.abs() } else { *m };
        }
    }
    let amax = rest
        .iter()
        .chain(&lanes)
        .fold(0f32, |m, &v| if v.abs() > m { v.abs() } else { m });
    if amax == 0.0 || !amax.is_finite() {
        out.fill(0);
        return if amax == 0.0 { 0.0 } else { f32::NAN };
    }
    let inv = LIMIT as f32 / amax;
    let limit = LIMIT as f32;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v * inv).round_ties_even().clamp(-limit, limit) as i16;
    }
    amax / limit
}

impl IntPanels {
    /// Quantises `w`, row-major `[n, k]`, column by column (each row of `w` is one output
    /// column).
    pub fn new(w: &[f32], n: usize, k: usize) -> Self {
        check_weight_shape(w, n, k);
        let depth = k.next_multiple_of(2);
        let panels = n.div_ceil(NR);
        let mut values = vec![0i16; panels * depth * NR];
        let mut scales = vec![0f32; panels * NR];
        values
            .par_chunks_mut((depth * NR).max(1))
            .zip(scales.par_chunks_mut(NR))
            .enumerate()
            .for_each(|(p, (panel, scales))| {
                let mut column = vec![0i16; k];
                for (c, scale) in scales.iter_mut().enumerate().take(n.saturating_sub(p * NR)) {
                    *scale = quantize(&w[(p * NR + c) * k..][..k], &mut column);
                    // column c sits in half c / 8 of each run, at lane c % 8
                    let lane = (c / 8) * NR + (c % 8) * 2;
                    for (d, &q) in column.iter().enumerate() {
                        panel[(d / 2) * 2 * NR + lane + d % 2] = q;
                    }
                }
            });
        Self {
            values,
            scales,
            n,
            depth,
        }
    }

    /// Bytes the values and scales take.
    pub fn bytes(&self) -> usize {
        2 * self.values.len() + 4 * self.scales.len()
    }

    /// Panel `p`'s runs from (even) depth `pc` on.
    fn sliver(&self, p: usize, pc: usize) -> &[i16] {
        &self.values[p * self.depth * NR + pc * NR..(p + 1) * self.depth * NR]
    }
}

/// A task's buffers, reused from call to call: its rows of `A`, quantised.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The rows by group of [`MR`], each group's rows interleaved by depth pair (see
    /// [`gemm_rows`]).
    rows: Vec<i16>,
    /// Each row's scale.
    scales: Vec<f32>,
    /// One row as it is quantised.
    row: Vec<i16>,
}

/// `C = start + A W^T` (or `C += A W^T`, see [`Output`]) for `m` rows of `a` (`[m, k]`,
/// row-major), on this thread; `C`'s rows are `ldc` apart from `c`.
///
/// # Safety
/// `c` must cover `m` rows of `w.n` values, `ldc` apart, that no one else touches meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_rows(
    a: &[f32],
    k: usize,
    m: usize,
    w: &IntPanels,
    scratch: &mut Scratch,
    c: *mut f32,
    ldc: usize,
    output: Output,
) {
    let n = w.n;
    if m == 0 {
        return;
    }
    assert!(a.len() >= m * k, "gemm: A smaller than {m} rows");
    let groups = m.div_ceil(MR);
    let depth = w.depth;
    let Scratch { rows, scales, row } = scratch;
    quantize_rows(&a[..m * k], m, k, depth, rows, scales, row);
    let kernel = Kernel::detected();
    let panels = n.div_ceil(NR);
    let chunk_panels = column_chunk(n).div_ceil(NR);
    let mut edge = [0f32; MR * NR];
    for first_panel in (0..panels).step_by(chunk_panels) {
        let chunk = first_panel..(first_panel + chunk_panels).min(panels);
        for pc in (0..depth.max(1)).step_by(KC) {
            let kc = KC.min(depth - pc);
            for p in chunk.clone() {
                let b = w.sliver(p, pc);
                let cols = NR.min(n - p * NR);
                let col_scales = &w.scales[p * NR..][..NR];
                let next = next_sliver(w, &chunk, p, pc);
                for g in 0..groups {
                    let ahead = next.map_or(Ahead::NONE, |next| next.share(g, groups));
                    let a = &rows[g * MR * depth + pc * MR..];
                    let row_scales = &scales[g * MR..][..MR];
                    let init = if pc == 0 {
                        output.first_block_init(g * MR, p * NR, n)
                    } else {
                        Init::C
                    };
                    let c = c.add(g * MR * ldc + p * NR);
                    let tile_rows = MR.min(m - g * MR);
                    if tile_rows == MR && cols == NR {
                        kernel.run(
                            a,
                            b,
                            kc / 2,
                            TileOut {
                                c,
                                ldc,
                                init,
                                row_scales,
                                col_scales,
                            },
                            ahead,
                        );
                        continue;
                    }
                    // a tile partly outside C: computed on the stack, then its part inside
                    // added to its starting values
                    let tile = TileOut {
                        c: edge.as_mut_ptr(),
                        ldc: NR,
                        init: Init::Zero,
                        row_scales,
                        col_scales,
                    };
                    kernel.run(a, b, kc / 2, tile, ahead);
                    for (i, row) in edge.chunks_exact(NR).take(tile_rows).enumerate() {
                        for (j, &v) in row[..cols].iter().enumerate() {
                            *c.add(i * ldc + j) = init.value(c, ldc, i, j) + v;
                        }
                    }
                }
            }
        }
    }
}

/// Quantises the `m` rows of `a` (`[m, k]`) into `rows` and their scales into `scales`, padded
/// to whole row groups and to an even `depth` with zeros, a group's rows interleaved by depth
/// pair (`MR` pairs of values, one per row, then the next depth pair) so that the kernels read
/// them from one pointer at fixed offsets; `row` is a buffer.
fn quantize_rows(
    a: &[f32],
    m: usize,
    k: usize,
    depth: usize,
    rows: &mut Vec<i16>,
    scales: &mut Vec<f32>,
    row: &mut Vec<i16>,
) {
    rows.clear();
    rows.resize(m.div_ceil(MR) * MR * depth, 0);
    scales.clear();
    scales.resize(m.div_ceil(MR) * MR, 0.0);
    row.resize(depth, 0);
    for (i, a_row) in a.chunks_exact(k.max(1)).take(m).enumerate() {
        scales[i] = quantize(a_row, &mut row[..k]);
        let group = &mut rows[(i / MR) * MR * depth..][..MR * depth];
        for (t, pair) in row.chunks_exact(2).enumerate() {
            group[t * 2 * MR + 2 * (i % MR)..][..2].copy_from_slice(pair);
        }
    }
}

/// The sliver that the panel step after panel `p` of depth block `pc` reads (see
/// [`next_step`]).
fn next_sliver(
    w: &IntPanels,
    chunk: &std::ops::Range<usize>,
    p: usize,
    pc: usize,
) -> Option<NextSliver> {
    let (p, pc) = next_step(chunk, p + 1, pc, KC, w.depth, w.n.div_ceil(NR))?;
    Some(NextSliver {
        start: w.sliver(p, pc).as_ptr(),
        runs: KC.min(w.depth - pc) / 2,
    })
}

/// The next panel step's sliver, whose runs the tiles of the current step prefetch.
#[derive(Clone, Copy)]
struct NextSliver {
    start: *const i16,
    runs: usize,
}

impl NextSliver {
    /// Row group `g`'s share of the runs, of `groups` ([`run_share`]).
    fn share(self, g: usize, groups: usize) -> Ahead {
        let (first, count) = run_share(self.runs, groups, g);
        Ahead {
            runs: self.start.wrapping_add(first * 2 * NR),
            count,
        }
    }
}

/// Where a tile's integer sums go: `C[i][j] = start + row_scales[i] col_scales[j] sum[i][j]`,
/// the starting values as `init` says, `C`'s rows `ldc` apart from `c`.
struct TileOut<'a> {
    c: *mut f32,
    ldc: usize,
    init: Init,
    row_scales: &'a [f32],
    col_scales: &'a [f32],
}

/// Weight runs (each `2 NR` values, one cache line) that a tile prefetches for the tiles after
/// it, one per depth pair from its first: `count` runs from `runs`.
#[derive(Clone, Copy)]
struct Ahead {
    runs: *const i16,
    count: usize,
}

impl Ahead {
    /// Nothing to prefetch.
    const NONE: Self = Self {
        runs: std::ptr::null(),
        count: 0,
    };
}

/// The integer micro-kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// One multiply-add of two 16-bit pairs at a time.
    Portable,
    /// `vpmaddwd` on 8 lanes, an `MR x NR` tile in 12 registers.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// `vpmaddwd` + `vpaddd` on 16 lanes (AVX-512BW): a tile row in one register.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// `vpdpwssd` (AVX-512 VNNI): the multiply-adds and the sum in one instruction.
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
}

impl Kernel {
    /// The widest kernel this CPU runs (decided once; `NABA_NO_AVX512` keeps a CPU with
    /// AVX-512 on the AVX2 kernel, as for f32).
    fn detected() -> Self {
        use std::sync::OnceLock;
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            let mut all = Self::available();
            if std::env::var_os("NABA_NO_AVX512").is_some() {
                all.retain(|k| !k.is_avx512());
            }
            *all.last().expect("the portable kernel runs anywhere")
        })
    }

    /// The kernels this CPU runs, narrowest first.
    fn available() -> Vec<Self> {
        let mut all = vec![Self::Portable];
        #[cfg(target_arch = "x86_64")]
        if super::super::avx2_fma() {
            all.push(Self::Avx2);
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
                all.push(Self::Avx512);
                if is_x86_feature_detected!("avx512vnni") {
                    all.push(Self::Avx512Vnni);
                }
            }
        }
        all
    }

    /// Whether this is an AVX-512 kernel.
    fn is_avx512(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if matches!(self, Self::Avx512 | Self::Avx512Vnni) {
            return true;
        }
        false
    }

    /// The tile of `C` for the sums over depth pairs `t < pairs` of `A[i][2t..2t + 2] ·
    /// W[j][2t..2t + 2]`, `a` a row group's sliver (its rows interleaved by depth pair, see
    /// [`gemm_rows`]), `b` a panel sliver (see the module docs).
    ///
    /// # Safety
    /// `out.c` and `out.init`'s values must cover `MR` rows of `NR` values, `out.ldc` apart.
    unsafe fn run(self, a: &[i16], b: &[i16], pairs: usize, out: TileOut, ahead: Ahead) {
        assert!(
            a.len() >= pairs * 2 * MR
                && b.len() >= pairs * 2 * NR
                && out.row_scales.len() == MR
                && out.col_scales.len() == NR,
            "integer gemm: tile out of bounds"
        );
        match self {
            Self::Portable => portable(a, b, pairs, out, ahead),
            // SAFETY (these three): available() lists them on CPUs that run them; bounds are
            // checked above.
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => avx2(a.as_ptr(), b.as_ptr(), pairs, out, ahead),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => avx512(a.as_ptr(), b.as_ptr(), pairs, out, ahead),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512Vnni => avx512_vnni(a.as_ptr(), b.as_ptr(), pairs, out, ahead),
        }
    }
}

/// The kernel on plain integers.
///
/// # Safety
/// As for [`Kernel::run`].
unsafe fn portable(a: &[i16], b: &[i16], pairs: usize, out: TileOut, _: Ahead) {
    let mut sums = [[0i32; NR]; MR];
    for t in 0..pairs {
        let run = &b[t * 2 * NR..][..2 * NR];
        for (r, sums) in sums.iter_mut().enumerate() {
            let pair = &a[t * 2 * MR + 2 * r..];
            let (a0, a1) = (i32::from(pair[0]), i32::from(pair[1]));
            for (c, sum) in sums.iter_mut().enumerate() {
                let lane = (c / 8) * NR + (c % 8) * 2;
                *sum += a0 * i32::from(run[lane]) + a1 * i32::from(run[lane + 1]);
            }
        }
    }
    for (i, row) in sums.iter().enumerate() {
        for (j, &sum) in row.iter().enumerate() {
            let start = out.init.value(out.c, out.ldc, i, j);
            let scale = out.row_scales[i] * out.col_scales[j];
            *out.c.add(i * out.ldc + j) = start + sum as f32 * scale;
        }
    }
}

/// The kernel on AVX2: per pair of depths, two loads of the weight run, a 32-bit broadcast of
/// each row's two values and twelve `vpmaddwd` + `vpaddd`; then each sum converted, scaled and
/// added to its starting value in registers.
///
/// # Safety
/// The CPU must run AVX2 and FMA; `a` must cover `pairs` runs of `2 MR` values, `b` `pairs`
/// runs of `2 NR` values, and `out` as for [`Kernel::run`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(a: *const i16, b: *const i16, pairs: usize, out: TileOut, ahead: Ahead) {
    use super::micro::{store_started, Avx2Lanes};
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_si256(); 2]; MR];
    let step = |acc: &mut [[__m256i; 2]; MR], t: usize| {
        let b0 = _mm256_loadu_si256(b.add(t * 2 * NR).cast());
        let b1 = _mm256_loadu_si256(b.add(t * 2 * NR + NR).cast());
        for (r, acc) in acc.iter_mut().enumerate() {
            let pair = a.add(t * 2 * MR + 2 * r);
            let pair = _mm256_set1_epi32(pair.cast::<i32>().read_unaligned());
            acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(pair, b0));
            acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(pair, b1));
        }
    };
    // the prefetching steps first, then the rest without a test per step (one step per
    // iteration: unrolled, the loop runs out of registers and spills accumulators)
    let prefetching = pairs.min(ahead.count);
    for t in 0..prefetching {
        _mm_prefetch::<_MM_HINT_T0>(ahead.runs.wrapping_add(t * 2 * NR).cast());
        step(&mut acc, t);
    }
    for t in prefetching..pairs {
        step(&mut acc, t);
    }
    for (i, acc) in acc.iter().enumerate() {
        let row_scale = _mm256_set1_ps(out.row_scales[i]);
        for (half, &sums) in acc.iter().enumerate() {
            let j = half * 8;
            let scale = _mm256_mul_ps(row_scale, _mm256_loadu_ps(out.col_scales.as_ptr().add(j)));
            let v = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), scale);
            store_started(out.init, out.c, out.ldc, i, j, Avx2Lanes(v));
        }
    }
}

/// The kernel on AVX-512BW: see [`wide`].
///
/// # Safety
/// As for [`avx2`], on a CPU with AVX-512F and BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
unsafe fn avx512(a: *const i16, b: *const i16, pairs: usize, out: TileOut, ahead: Ahead) {
    wide::<false>(a, b, pairs, out, ahead)
}

/// The kernel on AVX-512 VNNI: see [`wide`].
///
/// # Safety
/// As for [`avx2`], on a CPU with AVX-512F, BW and VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
unsafe fn avx512_vnni(a: *const i16, b: *const i16, pairs: usize, out: TileOut, ahead: Ahead) {
    wide::<true>(a, b, pairs, out, ahead)
}

/// The AVX-512 kernels: a weight run (`NR` columns x one depth pair, 64 bytes) fills one
/// register, so each row of the tile is one accumulator; each row keeps two, for even and odd
/// depth pairs, so that twelve independent sums are in flight. Per pair of depths: one load,
/// six broadcasts and six `vpdpwssd` (`VNNI`) or `vpmaddwd` + `vpaddd`.
///
/// # Safety
/// As for [`avx512`] or [`avx512_vnni`]; inlined into them, which enable the instructions.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn wide<const VNNI: bool>(
    a: *const i16,
    b: *const i16,
    pairs: usize,
    out: TileOut,
    ahead: Ahead,
) {
    use super::micro::{store_started, Avx512Lanes};
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_si512(); MR]; 2];
    let step = |acc: &mut [__m512i; MR], t: usize| {
        let w = _mm512_loadu_si512(b.add(t * 2 * NR).cast());
        for (r, acc) in acc.iter_mut().enumerate() {
            let pair = a.add(t * 2 * MR + 2 * r);
            let pair = _mm512_set1_epi32(pair.cast::<i32>().read_unaligned());
            *acc = if VNNI {
                _mm512_dpwssd_epi32(*acc, pair, w)
            } else {
                _mm512_add_epi32(*acc, _mm512_madd_epi16(pair, w))
            };
        }
    };
    let [even, odd] = &mut acc;
    let prefetching = pairs.min(ahead.count) / 2 * 2;
    let mut t = 0;
    while t < prefetching {
        _mm_prefetch::<_MM_HINT_T0>(ahead.runs.wrapping_add(t * 2 * NR).cast());
        _mm_prefetch::<_MM_HINT_T0>(ahead.runs.wrapping_add((t + 1) * 2 * NR).cast());
        step(even, t);
        step(odd, t + 1);
        t += 2;
    }
    while t + 2 <= pairs {
        step(even, t);
        step(odd, t + 1);
        t += 2;
    }
    if t < pairs {
        step(even, t);
    }
    let col_scales = _mm512_loadu_ps(out.col_scales.as_ptr());
    for (i, (&even, &odd)) in even.iter().zip(odd.iter()).enumerate() {
        let scale = _mm512_mul_ps(_mm512_set1_ps(out.row_scales[i]), col_scales);
        let sums = _mm512_add_epi32(even, odd);
        let v = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), scale);
        store_started(out.init, out.c, out.ldc, i, 0, Avx512Lanes(v));
    }
}

// `KC` products of two values of magnitude `LIMIT` fit in an `i32` sum.
const _: () = assert!(KC as i64 * LIMIT as i64 * LIMIT as i64 <= i32::MAX as i64);
const _: () = assert!(KC.is_multiple_of(2));

#[cfg(test)]
mod tests {
    use super::super::tests::values;
    use super::super::{matmul, matmul_acc, PackedWeight, Start, WeightFormat};
    use super::*;

    /// Column `c` of panel sliver `b` at depth pair `t`, both depths.
    fn weight_pair(b: &[i16], t: usize, c: usize) -> (i32, i32) {
        let lane = t * 2 * NR + (c / 8) * NR + (c % 8) * 2;
        (i32::from(b[lane]), i32::from(b[lane + 1]))
    }

    #[test]
    fn quantised_values_span_the_limit_and_round_to_the_nearest_step() {
        // more than one vector's worth, the largest magnitude in the tail
        let x = [0.5f32, 0.3, 1.0, 0.0, 1.999, -0.7, 0.1, 0.2, 0.4, -2.0, 1.5];
        let mut q = [0i16; 11];
        let scale = quantize(&x, &mut q);
        assert_eq!(scale, 2.0 / LIMIT as f32);
        assert_eq!(q[9], -LIMIT as i16);
        for (&v, &q) in x.iter().zip(&q) {
            assert!(
                (f32::from(q) * scale - v).abs() <= scale * 0.5 + 1e-6,
                "{v}: {q}"
            );
        }
        let mut q = [5i16; 3];
        assert_eq!(quantize(&[0.0; 3], &mut q), 0.0);
        assert_eq!(q, [0; 3]);
        assert!(quantize(&[1.0, f32::INFINITY, 0.0], &mut q).is_nan());
    }

    #[test]
    fn every_kernel_sums_exactly_even_at_the_limit() {
        let pairs = KC / 2;
        // values at the limit make the largest sums the format allows
        // a row group interleaved by depth pair: A[r][2t + e] at t * 2 MR + 2 r + e
        let a: Vec<i16> = (0..pairs * 2 * MR)
            .map(|i| {
                if i % 7 == 3 {
                    -LIMIT as i16
                } else {
                    (LIMIT - (i % 5) as i32) as i16
                }
            })
            .collect();
        let b: Vec<i16> = (0..pairs * 2 * NR)
            .map(|i| {
                if i % 3 == 0 {
                    LIMIT as i16
                } else {
                    (i as i32 % 2896 - 1448) as i16
                }
            })
            .collect();
        let mut want = [0f32; MR * NR];
        for (r, row) in want.chunks_exact_mut(NR).enumerate() {
            for (c, sum) in row.iter_mut().enumerate() {
                let exact: i64 = (0..pairs)
                    .map(|t| {
                        let (w0, w1) = weight_pair(&b, t, c);
                        let pair = &a[t * 2 * MR + 2 * r..];
                        i64::from(pair[0]) * i64::from(w0) + i64::from(pair[1]) * i64::from(w1)
                    })
                    .sum();
                // fits in i32 (or the kernels' sums would wrap); f32 rounds it as they do
                *sum = i32::try_from(exact).expect("the sum fits in i32") as f32;
            }
        }
        let kernels = Kernel::available();
        println!("integer kernels this CPU runs: {kernels:?}");
        for kernel in kernels {
            let mut tile = [7f32; MR * NR];
            let out = TileOut {
                c: tile.as_mut_ptr(),
                ldc: NR,
                init: Init::Zero,
                row_scales: &[1.0; MR],
                col_scales: &[1.0; NR],
            };
            // SAFETY: the tile covers MR rows of NR values.
            unsafe { kernel.run(&a, &b, pairs, out, Ahead::NONE) };
            assert_eq!(tile, want, "{kernel:?}");
        }
    }

    #[test]
    fn integer_products_match_f32_within_the_quantisation_error() {
        // odd depths, depths over one integer block, partial row groups and panels
        for (m, n, k) in [
            (1, 1, 1),
            (3, 5, 0),
            (7, 17, 3),
            (13, 33, 2 * KC + 3),
            (6, 16, KC),
            (25, 40, 300),
        ] {
            let a = values(m * k, 0.3);
            let w = values(n * k, 1.7);
            let bias = values(n, 2.9);
            let residual = values(m * n, 4.1);
            let packed = PackedWeight::with_format(&w, n, k, WeightFormat::Int16);
            let got = matmul(
                &a,
                m,
                &packed,
                Start::BiasResidual {
                    bias: &bias,
                    residual: &residual,
                },
                |_| {},
            );
            let mut acc = residual.clone();
            matmul_acc(&a, m, &packed, &mut acc);
            for i in 0..m {
                let row = &a[i * k..][..k];
                let row_max = row.iter().fold(0f32, |s, v| s.max(v.abs()));
                for j in 0..n {
                    let col = &w[j * k..][..k];
                    let col_max = col.iter().fold(0f32, |s, v| s.max(v.abs()));
                    let exact: f32 = row.iter().zip(col).map(|(x, y)| x * y).sum();
                    // each factor is within half a step: |error| <= sum |a| h_w + |w| h_a + h_a h_w
                    let (ha, hw) = (row_max / LIMIT as f32 / 2.0, col_max / LIMIT as f32 / 2.0);
                    let bound: f32 = row
                        .iter()
                        .zip(col)
                        .map(|(x, y)| x.abs() * hw + y.abs() * ha + ha * hw)
                        .sum::<f32>()
                        + 1e-5;
                    let want = bias[j] + residual[i * n + j] + exact;
                    let g = got[i * n + j];
                    assert!(
                        (g - want).abs() <= bound,
                        "{m}x{n}x{k} ({i}, {j}): {g} vs {want}"
                    );
                    let g = acc[i * n + j];
                    let want = residual[i * n + j] + exact;
                    assert!(
                        (g - want).abs() <= bound,
                        "add {m}x{n}x{k} ({i}, {j}): {g} vs {want}"
                    );
                }
            }
        }
    }
}
