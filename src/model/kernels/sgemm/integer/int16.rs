//! The 16-bit scheme: weights and activations as 16-bit integers of at most [`LIMIT`] in
//! magnitude, symmetric (no zero points), depths in pairs: one `vpmaddwd` multiplies a pair of
//! depths for eight (AVX2) or sixteen (AVX-512BW) columns and adds the two products.

use super::{quantize_symmetric, Ahead, Kernel, QuantizedRows, Scheme, Scratch, TileOut};
use super::{MR, NR};

/// Largest magnitude of a quantised value: `Int16::KC` (256) products of two such values fit in `i32`.
pub const LIMIT: i16 = 2896;

/// Weights and activations as 16-bit integers (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Int16;

impl Scheme for Int16 {
    type Weight = i16;
    type Act = i16;
    const DEPTHS: usize = 2;
    const KC: usize = 256;
    const WEIGHT_LIMIT: i16 = LIMIT;
    const ZERO_POINTS: bool = false;

    fn weight(q: i16) -> i16 {
        q
    }

    fn quantize_row(x: &[f32], out: &mut [i16]) -> (f32, f32) {
        (quantize_symmetric(x, LIMIT, out), 0.0)
    }

    fn rows(scratch: &mut Scratch) -> &mut QuantizedRows<i16> {
        &mut scratch.rows16
    }

    unsafe fn run(kernel: Kernel, a: &[i16], b: &[i16], pairs: usize, out: TileOut, ahead: Ahead) {
        match kernel {
            Kernel::Portable => portable(a, b, pairs, out),
            // SAFETY (these three): the caller runs only kernels the CPU runs, on slices
            // run_tile checked.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => avx2(a.as_ptr(), b.as_ptr(), pairs, out, ahead),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => avx512(a.as_ptr(), b.as_ptr(), pairs, out, ahead),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => avx512_vnni(a.as_ptr(), b.as_ptr(), pairs, out, ahead),
        }
    }
}

/// The kernel on plain integers.
///
/// # Safety
/// As for [`super::run_tile`].
unsafe fn portable(a: &[i16], b: &[i16], pairs: usize, out: TileOut) {
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
    super::store_sums(&sums, &out);
}
/// The kernel on AVX2: per pair of depths, two loads of the weight run, a 32-bit broadcast of
/// each row's two values and twelve `vpmaddwd` + `vpaddd`; then each sum converted, scaled and
/// added to its starting value in registers.
///
/// # Safety
/// The CPU must run AVX2 and FMA; `a` must cover `pairs` runs of `2 MR` values, `b` `pairs`
/// runs of `2 NR` values, and `out` as for [`super::run_tile`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(a: *const i16, b: *const i16, pairs: usize, out: TileOut, ahead: Ahead) {
    use std::arch::x86_64::*;
    let acc = super::x86::sweep_avx2(pairs, ahead, |acc, t| {
        let b0 = _mm256_loadu_si256(b.add(t * 2 * NR).cast());
        let b1 = _mm256_loadu_si256(b.add(t * 2 * NR + NR).cast());
        for (r, acc) in acc.iter_mut().enumerate() {
            let pair = a.add(t * 2 * MR + 2 * r);
            let pair = _mm256_set1_epi32(pair.cast::<i32>().read_unaligned());
            acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(pair, b0));
            acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(pair, b1));
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
unsafe fn avx512(a: *const i16, b: *const i16, pairs: usize, out: TileOut, ahead: Ahead) {
    // the step's closure is written here, so it has this function's target features
    let acc = super::x86::sweep_wide(pairs, ahead, |acc, t| wide_step::<false>(a, b, acc, t));
    super::x86::store_wide(&acc, &out);
}

/// The kernel on AVX-512 VNNI: see [`wide_step`].
///
/// # Safety
/// As for [`avx2`], on a CPU with AVX-512F, BW and VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
unsafe fn avx512_vnni(a: *const i16, b: *const i16, pairs: usize, out: TileOut, ahead: Ahead) {
    // the step's closure is written here, so it has this function's target features
    let acc = super::x86::sweep_wide(pairs, ahead, |acc, t| wide_step::<true>(a, b, acc, t));
    super::x86::store_wide(&acc, &out);
}

/// One depth pair of the AVX-512 kernels: a weight run (`NR` columns x one depth pair, 64
/// bytes) fills one register, so each row of the tile is one accumulator (two, for even and odd
/// depth pairs, see [`super::x86::sweep_wide`]). Per pair of depths: one load, six broadcasts
/// and six `vpdpwssd` (`VNNI`) or `vpmaddwd` + `vpaddd`.
///
/// # Safety
/// As for [`avx512`] or [`avx512_vnni`]; called from the step closures written in them, which
/// have their target features, so that it and its intrinsics are inlined there.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn wide_step<const VNNI: bool>(
    a: *const i16,
    b: *const i16,
    acc: &mut super::x86::WideSums,
    t: usize,
) {
    use std::arch::x86_64::*;
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
}

// `Int16::KC` products of two values of magnitude `LIMIT` fit in an `i32` sum.
const _: () = assert!(Int16::KC as i64 * LIMIT as i64 * LIMIT as i64 <= i32::MAX as i64);
const _: () = assert!(Int16::KC.is_multiple_of(Int16::DEPTHS));
