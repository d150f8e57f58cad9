//! Integer products for [`super::WeightFormat::Int16`] and [`super::WeightFormat::Int8`]: the
//! weight quantised once per output column, the activations per row as each product starts, and
//! their dot products summed exactly in 32-bit integers. Each depth block's integer sums are
//! scaled back to f32 and added to the output, so the rest of the product (row blocks, the bias
//! and residual start, `finish`) is [`super::matmul`]'s. Two schemes ([`Scheme`]):
//!
//! - [`Int16`] ([`int16`]): weights and activations as 16-bit integers of at most
//!   [`int16::LIMIT`] = 2,896 in magnitude (11.5 bits), symmetric, multiplied by AVX2's
//!   `vpmaddwd` (sixteen multiply-adds per instruction, twice an f32 FMA's eight). The exact sums
//!   of a depth block of [`Scheme::KC`] = 256 must fit in `i32`, which sets the limit.
//! - [`Int8`] ([`int8`]): activations as unsigned bytes with a zero point per row (asymmetric,
//!   256 steps between the row's minimum and maximum, as ONNX Runtime's dynamic quantisation
//!   but per row instead of per tensor), weights as 7-bit signed values (at most 63 in
//!   magnitude) so that `vpmaddubsw`'s sums of two products never saturate its 16-bit lanes.
//!   Four depths meet one 32-bit broadcast: thirty-two multiply-adds per AVX2 `vpmaddubsw`.
//!
//! No scheme saturates anywhere, and integer sums do not depend on the order they are added in,
//! so every kernel of a scheme (portable, AVX2, AVX-512BW, AVX-512 VNNI) computes the same sums,
//! bit for bit; only the rounding of the f32 epilogue may differ.
//!
//! Layout: panels of [`NR`] columns as for f32 weights, the depth taken [`Scheme::DEPTHS`] at a
//! time (2 or 4; depths past `k` are zero): for each such group of depths a run of 64 bytes,
//! columns 0-7 then 8-15, each column's depths of the group side by side, so that one 32-bit
//! broadcast of a row's values for the group meets eight columns in one AVX2 instruction, or all
//! sixteen in one AVX-512 instruction. A row group's activations are interleaved the same way
//! (see [`quantize_rows`]).

use rayon::prelude::*;

use super::micro::Init;
use super::{check_weight_shape, column_chunk, next_step, run_share, Output, MR, NR};

mod int16;
mod int8;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use int16::Int16;
pub use int8::Int8;

mod sealed {
    /// Implemented by this module's schemes only.
    pub trait Sealed {}
    impl Sealed for super::Int16 {}
    impl Sealed for super::Int8 {}
}

/// Bytes of one weight run: a group of depths for the [`NR`] columns of a panel.
const RUN_BYTES: usize = 64;

/// An integer quantisation scheme: how weights and activations become integers, and the
/// kernels that multiply them. Sealed: the kernels rely on each scheme's bounds.
pub trait Scheme: sealed::Sealed + Sized + Send + Sync + 'static {
    /// A quantised weight.
    type Weight: Copy + Default + Send + Sync + std::fmt::Debug;
    /// A quantised activation.
    type Act: Copy + Default + Send + Sync + std::fmt::Debug;
    /// Depths side by side in a 32-bit lane.
    const DEPTHS: usize;
    /// Depths summed in integers (a whole number of depth groups) before the sum is scaled to
    /// f32 and added to the output: as many as the format's bounds allow, up to what keeps a
    /// tile's slivers in L1.
    const KC: usize;
    /// Largest magnitude of a quantised weight.
    const WEIGHT_LIMIT: i16;
    /// Whether activations carry a zero point, so that the kernels subtract `zero point x the
    /// column's weight sum` from each sum (see [`IntPanels`]'s column sums).
    const ZERO_POINTS: bool;
    /// A weight quantised to at most [`Self::WEIGHT_LIMIT`], as stored.
    fn weight(q: i16) -> Self::Weight;
    /// Quantises one row of activations into `out`: returns its scale and zero point (the
    /// value `x` is `scale (q - zero)`).
    fn quantize_row(x: &[f32], out: &mut [Self::Act]) -> (f32, f32);
    /// The scratch buffers that keep this scheme's quantised rows.
    fn rows(scratch: &mut Scratch) -> &mut QuantizedRows<Self::Act>;
    /// One tile's sums over `groups` depth groups: `a` a row group's sliver, `b` a panel
    /// sliver, both in the layout of the module docs, checked by `run_tile`.
    ///
    /// # Safety
    /// `kernel` must be one that `Kernel::available` lists; `a`, `b` and `out` as
    /// `run_tile` checks them.
    unsafe fn run(
        kernel: Kernel,
        a: &[Self::Act],
        b: &[Self::Weight],
        groups: usize,
        out: TileOut,
        ahead: Ahead,
    );
}

/// Quantises `x` into `out` (same length) as integers of magnitude at most `limit` with one
/// scale, `max |x| / limit` (0 for all zeros, NaN when `x` holds an infinity or a NaN, so that
/// the product is not finite either), rounding to the nearest; returns the scale.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn quantize_symmetric(x: &[f32], limit: i16, out: &mut [i16]) -> f32 {
    let Some((lo, hi)) = range(x) else {
        out.fill(0);
        return f32::NAN;
    };
    let amax = hi.max(-lo);
    if amax == 0.0 {
        out.fill(0);
        return 0.0;
    }
    let limit = f32::from(limit);
    let inv = limit / amax;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = round_small((v * inv).clamp(-limit, limit)) as i16;
    }
    amax / limit
}

/// `y` rounded to the nearest integer (ties to even), for `|y| < 2^22`: adding `1.5 x 2^23`
/// leaves the integer in the low bits of the sum, which the float rounding put there. Unlike `as`
/// (which must saturate and map NaN to 0), this vectorises.
#[inline(always)]
fn round_small(y: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    (y + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32
}

/// The smallest and largest of `x` and 0, in one pass of sixteen independent lanes (so that it
/// vectorises in the callers' builds); `None` if `x` holds an infinity or a NaN. Sixteen, one
/// AVX-512 register per running value: with eight, LLVM's AVX-512 build packed the minima and the
/// maxima into one register and shuffled it at every step, a chain of permutes and mask moves
/// that made quantising the activations 14% of an i8 pass on a Zen 4 (4% with sixteen).
#[inline(always)]
fn range(x: &[f32]) -> Option<(f32, f32)> {
    const LANES: usize = 16;
    let (mut lo, mut hi, mut poison) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in chunk.iter().enumerate() {
            lo[lane] = if v < lo[lane] { v } else { lo[lane] };
            hi[lane] = if v > hi[lane] { v } else { hi[lane] };
            // 0 for finite values, NaN for infinities and NaNs, which sticks
            poison[lane] += v * 0.0;
        }
    }
    let lo = rest
        .iter()
        .chain(&lo)
        .fold(0f32, |m, &v| if v < m { v } else { m });
    let hi = rest
        .iter()
        .chain(&hi)
        .fold(0f32, |m, &v| if v > m { v } else { m });
    let poison = rest.iter().chain(&poison).fold(0f32, |p, &v| p + v * 0.0);
    (poison == 0.0).then_some((lo, hi))
}

/// A weight `[n, k]` as integers in panels (see the module docs), one f32 scale per output
/// column, and for schemes with zero points each column's weight sum per depth block.
#[derive(Debug, Clone)]
pub struct IntPanels<S: Scheme> {
    values: Vec<S::Weight>,
    /// Per column, padded to whole panels with zeros.
    scales: Vec<f32>,
    /// Per panel, per depth block of [`Scheme::KC`], per column of the panel: the sum of the column's
    /// quantised weights in that block (empty without zero points).
    column_sums: Vec<f32>,
    n: usize,
    /// `k` rounded up to a whole depth group.
    depth: usize,
}

impl<S: Scheme> IntPanels<S> {
    /// Quantises `w`, row-major `[n, k]`, column by column (each row of `w` is one output
    /// column).
    pub fn new(w: &[f32], n: usize, k: usize) -> Self {
        check_weight_shape(w, n, k);
        let depth = k.next_multiple_of(S::DEPTHS);
        let panels = n.div_ceil(NR);
        let blocks = if S::ZERO_POINTS {
            depth_blocks::<S>(depth)
        } else {
            0
        };
        let mut values = vec![S::Weight::default(); panels * depth * NR];
        let mut scales = vec![0f32; panels * NR];
        let column_sums: Vec<Vec<f32>> = values
            .par_chunks_mut((depth * NR).max(1))
            .zip(scales.par_chunks_mut(NR))
            .enumerate()
            .map(|(p, (panel, scales))| {
                let mut sums = vec![0f32; blocks * NR];
                let mut column = vec![0i16; k];
                for (c, scale) in scales.iter_mut().enumerate().take(n.saturating_sub(p * NR)) {
                    let w = &w[(p * NR + c) * k..][..k];
                    *scale = quantize_symmetric(w, S::WEIGHT_LIMIT, &mut column);
                    // column c sits in half c / 8 of each run, its depths of a group side by side
                    let lane = (c / 8) * 8 * S::DEPTHS + (c % 8) * S::DEPTHS;
                    for (d, &q) in column.iter().enumerate() {
                        panel[(d / S::DEPTHS) * S::DEPTHS * NR + lane + d % S::DEPTHS] =
                            S::weight(q);
                    }
                    for (b, block) in column.chunks(S::KC).enumerate().take(blocks) {
                        sums[b * NR + c] = block.iter().map(|&q| f32::from(q)).sum();
                    }
                }
                sums
            })
            .collect();
        let mut column_sums = column_sums.concat();
        // with k = 0 there are no panels of values to walk, and every sum is 0
        column_sums.resize(panels * blocks * NR, 0.0);
        Self {
            values,
            scales,
            column_sums,
            n,
            depth,
        }
    }

    /// Bytes the values, scales and column sums take.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(self.values.as_slice())
            + 4 * (self.scales.len() + self.column_sums.len())
    }

    /// Panel `p`'s runs from depth `pc` on (a whole number of groups).
    fn sliver(&self, p: usize, pc: usize) -> &[S::Weight] {
        &self.values[p * self.depth * NR + pc * NR..(p + 1) * self.depth * NR]
    }

    /// Panel `p`'s column sums for the depth block from `pc` (empty without zero points).
    fn column_sums(&self, p: usize, pc: usize) -> &[f32] {
        if !S::ZERO_POINTS {
            return &[];
        }
        let blocks = depth_blocks::<S>(self.depth);
        &self.column_sums[(p * blocks + pc / S::KC) * NR..][..NR]
    }
}

/// Depth blocks of [`Scheme::KC`] that a product `depth` deep takes: at least one, which for
/// `k = 0` only writes the starting values.
fn depth_blocks<S: Scheme>(depth: usize) -> usize {
    depth.div_ceil(S::KC).max(1)
}

/// A task's buffers, reused from call to call: its rows of `A`, quantised by each scheme.
#[derive(Debug, Default)]
pub struct Scratch {
    /// For [`Int16`].
    rows16: QuantizedRows<i16>,
    /// For [`Int8`].
    rows8: QuantizedRows<u8>,
}

/// Rows of `A` quantised for a product.
#[derive(Debug, Default)]
pub struct QuantizedRows<T> {
    /// The rows by group of [`MR`], each group's rows interleaved by depth group (see
    /// [`quantize_rows`]).
    values: Vec<T>,
    /// Each row's scale.
    scales: Vec<f32>,
    /// Each row's zero point.
    zeros: Vec<f32>,
    /// One row as it is quantised.
    row: Vec<T>,
}

/// `C = start + A W^T` (or `C += A W^T`, see [`Output`]) for `m` rows of `a` (`[m, k]`,
/// row-major), on this thread; `C`'s rows are `ldc` apart from `c`.
///
/// # Safety
/// `c` must cover `m` rows of `w.n` values, `ldc` apart, that no one else touches meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_rows<S: Scheme>(
    a: &[f32],
    k: usize,
    m: usize,
    w: &IntPanels<S>,
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
    let row_groups = m.div_ceil(MR);
    let depth = w.depth;
    let rows = S::rows(scratch);
    quantize_rows::<S>(&a[..m * k], m, k, depth, rows);
    let QuantizedRows {
        values: rows,
        scales,
        zeros,
        ..
    } = &*rows;
    let kernel = Kernel::detected();
    let panels = n.div_ceil(NR);
    let chunk_panels = column_chunk(n).div_ceil(NR);
    let mut edge = [0f32; MR * NR];
    for first_panel in (0..panels).step_by(chunk_panels) {
        let chunk = first_panel..(first_panel + chunk_panels).min(panels);
        for pc in (0..depth.max(1)).step_by(S::KC) {
            let groups = S::KC.min(depth - pc) / S::DEPTHS;
            for p in chunk.clone() {
                let b = w.sliver(p, pc);
                let cols = NR.min(n - p * NR);
                let col_scales = &w.scales[p * NR..][..NR];
                let column_sums = w.column_sums(p, pc);
                let next = next_sliver(w, &chunk, p, pc);
                for g in 0..row_groups {
                    let ahead = next.map_or(Ahead::NONE, |next| next.share(g, row_groups));
                    let a = &rows[g * MR * depth + pc * MR..];
                    let init = if pc == 0 {
                        output.first_block_init(g * MR, p * NR, n)
                    } else {
                        Init::C
                    };
                    let c = c.add(g * MR * ldc + p * NR);
                    let tile_rows = MR.min(m - g * MR);
                    let mut out = TileOut {
                        c,
                        ldc,
                        init,
                        row_scales: &scales[g * MR..][..MR],
                        col_scales,
                        row_zeros: &zeros[g * MR..][..MR],
                        column_sums,
                    };
                    if tile_rows == MR && cols == NR {
                        run_tile::<S>(kernel, a, b, groups, out, ahead);
                        continue;
                    }
                    // a tile partly outside C: computed on the stack, then its part inside
                    // added to its starting values
                    out.c = edge.as_mut_ptr();
                    out.ldc = NR;
                    out.init = Init::Zero;
                    run_tile::<S>(kernel, a, b, groups, out, ahead);
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

/// Quantises the `m` rows of `a` (`[m, k]`) into `rows`, padded to whole row groups and to
/// `depth` (a whole number of depth groups) with zeros, a group's rows interleaved by depth group
/// (`MR` groups of [`Scheme::DEPTHS`] values, one per row, then the next depth group) so that the
/// kernels read them from one pointer at fixed offsets. Padding depths meet zero weights, so
/// their values do not matter.
fn quantize_rows<S: Scheme>(
    a: &[f32],
    m: usize,
    k: usize,
    depth: usize,
    rows: &mut QuantizedRows<S::Act>,
) {
    let padded = m.div_ceil(MR) * MR;
    let QuantizedRows {
        values,
        scales,
        zeros,
        row,
    } = rows;
    // every value of the first m rows is written below; the last group's padding rows are
    // zeroed (their sums are not stored, but stay within the bounds of the format)
    values.resize(padded * depth, S::Act::default());
    values[(m / MR) * MR * depth..]
        .chunks_exact_mut(S::DEPTHS * MR)
        .for_each(|run| run[(m % MR) * S::DEPTHS..].fill(S::Act::default()));
    scales.clear();
    scales.resize(padded, 0.0);
    zeros.clear();
    zeros.resize(padded, 0.0);
    row.clear();
    row.resize(depth, S::Act::default());
    for (i, a_row) in a.chunks_exact(k.max(1)).take(m).enumerate() {
        (scales[i], zeros[i]) = S::quantize_row(a_row, &mut row[..k]);
        let group = &mut values[(i / MR) * MR * depth..][..MR * depth];
        let lane = (i % MR) * S::DEPTHS;
        for (run, depths) in group
            .chunks_exact_mut(S::DEPTHS * MR)
            .zip(row.chunks_exact(S::DEPTHS))
        {
            run[lane..lane + S::DEPTHS].copy_from_slice(depths);
        }
    }
}

/// The sliver that the panel step after panel `p` of depth block `pc` reads (see
/// [`next_step`]).
fn next_sliver<S: Scheme>(
    w: &IntPanels<S>,
    chunk: &std::ops::Range<usize>,
    p: usize,
    pc: usize,
) -> Option<NextSliver> {
    let (p, pc) = next_step(chunk, p + 1, pc, S::KC, w.depth, w.n.div_ceil(NR))?;
    Some(NextSliver {
        start: w.sliver(p, pc).as_ptr().cast(),
        runs: S::KC.min(w.depth - pc) / S::DEPTHS,
    })
}

/// The next panel step's sliver, whose runs the tiles of the current step prefetch.
#[derive(Clone, Copy)]
struct NextSliver {
    start: *const u8,
    runs: usize,
}

impl NextSliver {
    /// Row group `g`'s share of the runs, of `groups` ([`run_share`]).
    fn share(self, g: usize, groups: usize) -> Ahead {
        let (first, count) = run_share(self.runs, groups, g);
        Ahead {
            runs: self.start.wrapping_add(first * RUN_BYTES),
            count,
        }
    }
}

/// Where a tile's integer sums go: `C[i][j] = start + row_scales[i] col_scales[j] (sum[i][j] -
/// row_zeros[i] column_sums[j])` (the last term for schemes with zero points only), the
/// starting values as `init` says, `C`'s rows `ldc` apart from `c`.
pub struct TileOut<'a> {
    c: *mut f32,
    ldc: usize,
    init: Init,
    row_scales: &'a [f32],
    col_scales: &'a [f32],
    row_zeros: &'a [f32],
    column_sums: &'a [f32],
}

/// Weight runs (each [`RUN_BYTES`], one cache line) that a tile prefetches for the tiles after
/// it, one per depth group from its first: `count` runs from `runs`.
#[derive(Clone, Copy)]
pub struct Ahead {
    runs: *const u8,
    count: usize,
}

impl Ahead {
    /// Nothing to prefetch.
    const NONE: Self = Self {
        runs: std::ptr::null(),
        count: 0,
    };

    /// Run `t`'s address.
    fn run(self, t: usize) -> *const i8 {
        self.runs.wrapping_add(t * RUN_BYTES).cast()
    }
}

/// The integer micro-kernels: which instructions a scheme's kernel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain integer multiply-adds.
    Portable,
    /// 8-lane AVX2, an `MR x NR` tile in 12 registers.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// 16-lane AVX-512BW: a tile row in one register.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX-512 VNNI (`vpdpwssd`, `vpdpbusd`): the multiply-adds and the sum in one instruction.
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
}

/// Runs `kernel` of scheme `S` on one tile, for the sums over `groups` depth groups of `a` (a
/// row group's sliver, its rows interleaved by depth group, see [`quantize_rows`]) and `b` (a
/// panel sliver, see the module docs), after checking that they are long enough.
///
/// # Safety
/// `kernel` must be one that [`Kernel::available`] lists; `out.c` and `out.init`'s values must
/// cover `MR` rows of `NR` values, `out.ldc` apart.
unsafe fn run_tile<S: Scheme>(
    kernel: Kernel,
    a: &[S::Act],
    b: &[S::Weight],
    groups: usize,
    out: TileOut,
    ahead: Ahead,
) {
    assert!(
        a.len() >= groups * S::DEPTHS * MR
            && b.len() >= groups * S::DEPTHS * NR
            && out.row_scales.len() == MR
            && out.col_scales.len() == NR
            && out.row_zeros.len() == MR
            && out.column_sums.len() == if S::ZERO_POINTS { NR } else { 0 },
        "integer gemm: tile out of bounds"
    );
    // the stores at the tile's end must not wait for C's (and the residual's) lines
    super::micro::prefetch_out(out.c, out.ldc, out.init, NR);
    S::run(kernel, a, b, groups, out, ahead)
}

/// Writes a tile's sums, computed by a portable kernel: `sums[i][j]` as [`TileOut`] says.
///
/// # Safety
/// As for [`run_tile`].
unsafe fn store_sums(sums: &[[i32; NR]; MR], out: &TileOut) {
    for (i, row) in sums.iter().enumerate() {
        for (j, &sum) in row.iter().enumerate() {
            let start = out.init.value(out.c, out.ldc, i, j);
            let mut sum = sum as f32;
            if let Some(&column_sum) = out.column_sums.get(j) {
                sum -= out.row_zeros[i] * column_sum;
            }
            let scale = out.row_scales[i] * out.col_scales[j];
            *out.c.add(i * out.ldc + j) = start + sum * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::values;
    use super::super::{matmul, matmul_acc, PackedWeight, Start, WeightFormat};
    use super::*;

    #[test]
    fn symmetric_values_span_the_limit_and_round_to_the_nearest_step() {
        // more than one vector's worth, the largest magnitude in the tail
        let x = [0.5f32, 0.3, 1.0, 0.0, 1.999, -0.7, 0.1, 0.2, 0.4, -2.0, 1.5];
        for limit in [int16::LIMIT, int8::WEIGHT_LIMIT] {
            let mut q = [0i16; 11];
            let scale = quantize_symmetric(&x, limit, &mut q);
            assert_eq!(scale, 2.0 / f32::from(limit));
            assert_eq!(q[9], -limit);
            for (&v, &q) in x.iter().zip(&q) {
                assert!(
                    (f32::from(q) * scale - v).abs() <= scale * 0.5 + 1e-6,
                    "{v}: {q}"
                );
            }
        }
        let mut q = [5i16; 3];
        assert_eq!(quantize_symmetric(&[0.0; 3], 7, &mut q), 0.0);
        assert_eq!(q, [0; 3]);
        assert!(quantize_symmetric(&[1.0, f32::INFINITY, 0.0], 7, &mut q).is_nan());
        assert!(quantize_symmetric(&[1.0, 0.0, f32::NAN], 7, &mut q).is_nan());
    }

    #[test]
    fn quantising_finds_the_extremes_in_the_lanes_and_the_remainder() {
        // lengths around `range`'s sixteen lanes, the extremes at every position in turn (in
        // the vectorised body or in the remainder), through the quantisers, so that their
        // multiversioned builds (AVX-512 or AVX2 on this CPU) are the ones checked
        let (mut bytes, mut ints) = (vec![0u8; 50], vec![0i16; 50]);
        for len in 1..=50usize {
            for at in 0..len {
                let mut x: Vec<f32> = (0..len)
                    .map(|i| ((i * 7) % 11) as f32 * 0.1 - 0.3)
                    .collect();
                x[len - 1 - at] = 7.25;
                x[at] = -9.5;
                let hi = x.iter().fold(0f32, |m, &v| m.max(v));
                let (scale, _) = Int8::quantize_row(&x, &mut bytes[..len]);
                assert_eq!(scale, (hi + 9.5) / 255.0, "length {len}, minimum at {at}");
                let scale = quantize_symmetric(&x, 100, &mut ints[..len]);
                assert_eq!(scale, 9.5 / 100.0, "length {len}, minimum at {at}");
                x[at] = f32::NAN;
                assert!(Int8::quantize_row(&x, &mut bytes[..len]).0.is_nan());
                assert!(quantize_symmetric(&x, 100, &mut ints[..len]).is_nan());
            }
        }
    }

    #[test]
    fn bytes_with_zero_points_span_the_row_and_keep_zero_exact() {
        let x = [0.5f32, 0.3, 1.0, 0.0, 1.999, -0.7, 0.1, 0.2, 0.4, -0.2, 1.5];
        let mut q = [0u8; 11];
        let (scale, zero) = Int8::quantize_row(&x, &mut q);
        assert_eq!(scale, (1.999 + 0.7) / 255.0);
        assert_eq!(q[5], 0, "the minimum is the first step");
        assert_eq!(q[4], 255, "the maximum the last");
        assert_eq!(f32::from(q[3]), zero, "0 is the zero point, exactly");
        for (&v, &q) in x.iter().zip(&q) {
            let back = (f32::from(q) - zero) * scale;
            assert!((back - v).abs() <= scale * 0.5 + 1e-6, "{v}: {q}");
        }
        // all positive: the range still starts at 0
        let (scale, zero) = Int8::quantize_row(&[0.5, 2.0], &mut q[..2]);
        assert_eq!((scale, zero), (2.0 / 255.0, 0.0));
        assert_eq!(Int8::quantize_row(&[0.0; 3], &mut q[..3]), (0.0, 0.0));
        assert!(Int8::quantize_row(&[1.0, f32::NAN], &mut q[..2]).0.is_nan());
        assert!(Int8::quantize_row(&[f32::NEG_INFINITY; 9], &mut q[..9])
            .0
            .is_nan());
    }

    /// Checks every kernel of `S` this CPU runs against exact sums of a block of `S::KC` depths of
    /// activations `act(i)` and weights `weight(i)` in the layout of the module docs.
    fn check_exact_sums<S: Scheme>(
        act: impl Fn(usize) -> S::Act,
        weight: impl Fn(usize) -> S::Weight,
    ) where
        S::Act: Into<i64>,
        S::Weight: Into<i64>,
    {
        let (d, groups) = (S::DEPTHS, S::KC / S::DEPTHS);
        let a: Vec<S::Act> = (0..S::KC * MR).map(act).collect();
        let b: Vec<S::Weight> = (0..S::KC * NR).map(weight).collect();
        let mut want = [0f32; MR * NR];
        for (r, row) in want.chunks_exact_mut(NR).enumerate() {
            for (c, sum) in row.iter_mut().enumerate() {
                let lane = (c / 8) * 8 * d + (c % 8) * d;
                let exact: i64 = (0..groups)
                    .flat_map(|t| (0..d).map(move |e| (t, e)))
                    .map(|(t, e)| a[(t * MR + r) * d + e].into() * b[t * d * NR + lane + e].into())
                    .sum();
                // fits in i32 (or the kernels' sums would wrap); f32 rounds it as they do
                *sum = i32::try_from(exact).expect("the sum fits in i32") as f32;
            }
        }
        let kernels = Kernel::available();
        println!("integer kernels this CPU runs: {kernels:?}");
        let column_sums = [0f32; NR];
        for kernel in kernels {
            let mut tile = [7f32; MR * NR];
            let out = TileOut {
                c: tile.as_mut_ptr(),
                ldc: NR,
                init: Init::Zero,
                row_scales: &[1.0; MR],
                col_scales: &[1.0; NR],
                row_zeros: &[0.0; MR],
                column_sums: if S::ZERO_POINTS { &column_sums } else { &[] },
            };
            // SAFETY: the kernel is available and the tile covers MR rows of NR values.
            unsafe { run_tile::<S>(kernel, &a, &b, groups, out, Ahead::NONE) };
            assert_eq!(tile, want, "{kernel:?}");
        }
    }

    #[test]
    fn every_kernel_sums_exactly_even_at_the_limit() {
        // values at the limits make the largest sums the formats allow
        let limit = int16::LIMIT;
        check_exact_sums::<Int16>(
            |i| {
                if i % 7 == 3 {
                    -limit
                } else {
                    limit - (i % 5) as i16
                }
            },
            |i| {
                if i % 3 == 0 {
                    limit
                } else {
                    (i % 2896) as i16 - 1448
                }
            },
        );
        let limit = int8::WEIGHT_LIMIT as i8;
        check_exact_sums::<Int8>(
            |i| if i % 7 == 3 { 0 } else { 255 - (i % 3) as u8 },
            |i| match i % 5 {
                0 | 3 => limit,
                1 => -limit,
                _ => (i % 127) as i8 - limit,
            },
        );
    }

    #[test]
    fn integer_products_match_f32_within_the_quantisation_error() {
        // per format: each factor's largest error (half a step) for a row of A and a column of W
        let int16_steps = |row: &[f32], col: &[f32]| {
            let limit = f32::from(int16::LIMIT);
            (amax(row) / limit / 2.0, amax(col) / limit / 2.0)
        };
        let int8_steps = |row: &[f32], col: &[f32]| {
            let lo = row.iter().fold(0f32, |s, &v| s.min(v));
            let hi = row.iter().fold(0f32, |s, &v| s.max(v));
            (
                (hi - lo) / 255.0 / 2.0,
                amax(col) / f32::from(int8::WEIGHT_LIMIT) / 2.0,
            )
        };
        type Steps = fn(&[f32], &[f32]) -> (f32, f32);
        let formats: [(WeightFormat, Steps); 2] = [
            (WeightFormat::Int16, int16_steps),
            (WeightFormat::Int8, int8_steps),
        ];
        // depths not a whole group, depths over one integer block, partial row groups and panels
        for (m, n, k) in [
            (1, 1, 1),
            (3, 5, 0),
            (7, 17, 3),
            (13, 33, 2 * Int8::KC + 3),
            (6, 16, Int16::KC),
            (25, 40, 300),
        ] {
            for (format, steps) in formats {
                // all-positive rows (as after GELU) for the zero points' sake, next to signed ones
                let a: Vec<f32> = values(m * k, 0.3)
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| if (i / k.max(1)) % 3 == 1 { v + 0.5 } else { v })
                    .collect();
                let w = values(n * k, 1.7);
                let bias = values(n, 2.9);
                let residual = values(m * n, 4.1);
                let packed = PackedWeight::with_format(&w, n, k, format);
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
                    for j in 0..n {
                        let col = &w[j * k..][..k];
                        let exact: f32 = row.iter().zip(col).map(|(x, y)| x * y).sum();
                        // each factor is within half a step: |error| <= sum |a| h_w + |w| h_a + h_a h_w
                        let (ha, hw) = steps(row, col);
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
                            "{format:?} {m}x{n}x{k} ({i}, {j}): {g} vs {want}"
                        );
                        let g = acc[i * n + j];
                        let want = residual[i * n + j] + exact;
                        assert!(
                            (g - want).abs() <= bound,
                            "{format:?} add {m}x{n}x{k} ({i}, {j}): {g} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// Largest magnitude in `x`.
    fn amax(x: &[f32]) -> f32 {
        x.iter().fold(0f32, |s, v| s.max(v.abs()))
    }
}
