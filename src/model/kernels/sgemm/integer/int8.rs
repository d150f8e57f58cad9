//! The 8-bit scheme: activations as unsigned bytes with a scale and a zero point per row
//! (asymmetric: 256 steps from the row's minimum to its maximum, both widened to take in 0),
//! weights as signed bytes of at most [`WEIGHT_LIMIT`] = 63 in magnitude, symmetric, one scale per
//! column; depths by four. AVX2's `vpmaddubsw` multiplies a row's four bytes with four weights
//! of each of eight columns and adds them in pairs into 16-bit lanes, which never saturate since
//! `2 x 255 x 63` < 32,768; `vpmaddwd` by ones adds the pairs into 32-bit sums. AVX-512 VNNI's
//! `vpdpbusd` does all of it in one instruction.
//!
//! Sums are of `u (w)` where `u = q + zero`, so each column's sum carries `zero x (the column's
//! weight sum)`, which the epilogue subtracts in f32, exactly: both terms are integers below 2^24
//! (checked at compile time).

use super::{range, round_small, Ahead, Kernel, QuantizedRows, Scheme, Scratch, TileOut};
use super::{MR, NR};

/// Largest magnitude of a quantised weight: 7 bits, so that two products with an unsigned byte
/// fit in an `i16`.
pub const WEIGHT_LIMIT: i16 = 63;

/// Activations as bytes with zero points, weights as 7-bit integers (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Int8;

impl Scheme for Int8 {
    type Weight = i8;
    type Act = u8;
    const DEPTHS: usize = 4;
    const KC: usize = 768;
    const WEIGHT_LIMIT: i16 = WEIGHT_LIMIT;
    const ZERO_POINTS: bool = true;

    fn weight(q: i16) -> i8 {
        q as i8
    }

    fn quantize_row(x: &[f32], out: &mut [u8]) -> (f32, f32) {
        quantize_asymmetric(x, out)
    }

    fn rows(scratch: &mut Scratch) -> &mut QuantizedRows<u8> {
        &mut scratch.rows8
    }

    unsafe fn run(kernel: Kernel, a: &[u8], b: &[i8], quads: usize, out: TileOut, ahead: Ahead) {
        match kernel {
            Kernel::Portable => portable(a, b, quads, out),
            // SAFETY (these three): the caller runs only kernels the CPU runs, on slices
            // run_tile checked.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => avx2(a.as_ptr(), b.as_ptr(), quads, out, ahead),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => avx512(a.as_ptr(), b.as_ptr(), quads, out, ahead),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => avx512_vnni(a.as_ptr(), b.as_ptr(), quads, out, ahead),
        }
    }
}

/// Quantises `x` into `out` (same length) as bytes `u` with `x ≈ scale (u - zero)`: `scale`
/// spreads 255 steps over `[min(x, 0), max(x, 0)]` and `zero` (an integer in 0..=255) is where 0
/// falls, so that 0 is exact; rounds to the nearest. Returns `(scale, zero)`: `(0, 0)` for all
/// zeros, a NaN scale when `x` holds an infinity or a NaN (so that the product is not finite either).
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma"
))]
fn quantize_asymmetric(x: &[f32], out: &mut [u8]) -> (f32, f32) {
    let Some((lo, hi)) = range(x) else {
        out.fill(0);
        return (f32::NAN, 0.0);
    };
    if hi == lo {
        out.fill(0);
        return (0.0, 0.0);
    }
    let scale = (hi - lo) / 255.0;
    let zero = (-lo / scale).round_ties_even().clamp(0.0, 255.0);
    let inv = 1.0 / scale;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = round_small((v * inv + zero).clamp(0.0, 255.0)) as u8;
    }
    (scale, zero)
}

/// Column `c`'s lane in a weight run: half `c / 8`, its four depths side by side.
fn lane(c: usize) -> usize {
    (c / 8) * 32 + (c % 8) * 4
}

/// The kernel on plain integers.
///
/// # Safety
/// As for [`super::run_tile`].
unsafe fn portable(a: &[u8], b: &[i8], quads: usize, out: TileOut) {
    let mut sums = [[0i32; NR]; MR];
    for t in 0..quads {
        let run = &b[t * 4 * NR..][..4 * NR];
        for (r, sums) in sums.iter_mut().enumerate() {
            let values = &a[(t * MR + r) * 4..][..4];
            for (c, sum) in sums.iter_mut().enumerate() {
                let weights = &run[lane(c)..][..4];
                *sum += values
                    .iter()
                    .zip(weights)
                    .map(|(&u, &w)| i32::from(u) * i32::from(w))
                    .sum::<i32>();
            }
        }
    }
    super::store_sums(&sums, &out);
}

/// The kernel on AVX2: per four depths, two loads of the weight run, a 32-bit broadcast of each
/// row's four bytes and twelve `vpmaddubsw` + `vpmaddwd` (by ones) + `vpaddd`; then each sum
/// less its zero-point term, scaled and added to its starting value in registers.
///
/// # Safety
/// The CPU must run AVX2 and FMA; `a` must cover `quads` runs of `4 MR` values, `b` `quads`
/// runs of `4 NR` values, and `out` as for [`super::run_tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(a: *const u8, b: *const i8, quads: usize, out: TileOut, ahead: Ahead) {
    use std::arch::x86_64::*;
    let ones = _mm256_set1_epi16(1);
    let acc = super::x86::sweep_avx2(quads, ahead, |acc, t| {
        let b0 = _mm256_loadu_si256(b.add(t * 4 * NR).cast());
        let b1 = _mm256_loadu_si256(b.add(t * 4 * NR + 32).cast());
        for (r, acc) in acc.iter_mut().enumerate() {
            let quad = a.add((t * MR + r) * 4);
            let quad = _mm256_set1_epi32(quad.cast::<i32>().read_unaligned());
            let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(quad, b0), ones);
            let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(quad, b1), ones);
            acc[0] = _mm256_add_epi32(acc[0], p0);
            acc[1] = _mm256_add_epi32(acc[1], p1);
        }
    });
    super::x86::store_avx2(&acc, &out);
}

/// The kernel on AVX-512BW: see [`wide_step`].
///
/// # Safety
/// As for [`avx2`], on a CPU with AVX-512F and BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
unsafe fn avx512(a: *const u8, b: *const i8, quads: usize, out: TileOut, ahead: Ahead) {
    // the step's closure is written here, so it has this function's target features
    let acc = super::x86::sweep_wide(quads, ahead, |acc, t| wide_step::<false>(a, b, acc, t));
    super::x86::store_wide(&acc, &out);
}

/// The kernel on AVX-512 VNNI: see [`wide_step`].
///
/// # Safety
/// As for [`avx2`], on a CPU with AVX-512F, BW and VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
unsafe fn avx512_vnni(a: *const u8, b: *const i8, quads: usize, out: TileOut, ahead: Ahead) {
    // the step's closure is written here, so it has this function's target features
    let acc = super::x86::sweep_wide(quads, ahead, |acc, t| wide_step::<true>(a, b, acc, t));
    super::x86::store_wide(&acc, &out);
}

/// One depth group of the AVX-512 kernels: a weight run (`NR` columns x four depths, 64 bytes)
/// fills one register, so each row of the tile is one accumulator (two, for even and odd depth
/// groups, see [`super::x86::sweep_wide`]). Per four depths: one load, six broadcasts and six
/// `vpdpbusd` (`VNNI`) or `vpmaddubsw` + `vpmaddwd` + `vpaddd`.
///
/// # Safety
/// As for [`avx512`] or [`avx512_vnni`]; called from the step closures written in them, which
/// have their target features, so that it and its intrinsics are inlined there.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn wide_step<const VNNI: bool>(
    a: *const u8,
    b: *const i8,
    acc: &mut super::x86::WideSums,
    t: usize,
) {
    use std::arch::x86_64::*;
    let w = _mm512_loadu_si512(b.add(t * 4 * NR).cast());
    for (r, acc) in acc.iter_mut().enumerate() {
        let quad = a.add((t * MR + r) * 4);
        let quad = _mm512_set1_epi32(quad.cast::<i32>().read_unaligned());
        *acc = if VNNI {
            _mm512_dpbusd_epi32(*acc, quad, w)
        } else {
            let ones = _mm512_set1_epi16(1);
            _mm512_add_epi32(*acc, _mm512_madd_epi16(_mm512_maddubs_epi16(quad, w), ones))
        };
    }
}

// two products of a byte and a weight fit in vpmaddubsw's 16-bit lanes without saturating
const _: () = assert!(2 * 255 * WEIGHT_LIMIT as i32 <= i16::MAX as i32);
// a depth block's sums, and zero x column sum, are integers that f32 holds exactly
const _: () = assert!(Int8::KC as i64 * 255 * WEIGHT_LIMIT as i64 <= 1 << 24);
const _: () = assert!(Int8::KC.is_multiple_of(Int8::DEPTHS));
