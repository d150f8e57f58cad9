//! What the x86 kernels of both schemes share: the sweep over a tile's depth groups, which
//! prefetches the tile's share of the next sliver as it goes, and the epilogue that turns the
//! integer sums into f32 (less the zero-point term for schemes with zero points), scales them
//! and adds them to the tile's starting values. A scheme's kernel gives only its step: the
//! multiply-adds of one depth group.
//!
//! These are `#[inline(always)]` and enable no instructions themselves: they are inlined into
//! the kernels, which do.

use std::arch::x86_64::*;

use super::super::micro::{store_started, Avx2Lanes, Avx512Lanes};
use super::{Ahead, TileOut, MR};

/// An AVX2 tile's sums: per row, columns 0-7 and 8-15.
pub(super) type Avx2Sums = [[__m256i; 2]; MR];

/// An AVX-512 tile's sums: per row, all sixteen columns.
pub(super) type WideSums = [__m512i; MR];

/// Sums `step(acc, t)` over depth groups `t < groups` from zero: the prefetching steps first,
/// then the rest without a test per step (one step per iteration: unrolled, the AVX2 loop runs
/// out of registers and spills accumulators).
///
/// # Safety
/// The CPU must run AVX2; `step` and `ahead` as the calling kernel's.
#[inline(always)]
pub(super) unsafe fn sweep_avx2(
    groups: usize,
    ahead: Ahead,
    step: impl Fn(&mut Avx2Sums, usize),
) -> Avx2Sums {
    let mut acc = [[_mm256_setzero_si256(); 2]; MR];
    let prefetching = groups.min(ahead.count);
    for t in 0..prefetching {
        _mm_prefetch::<_MM_HINT_T0>(ahead.run(t));
        step(&mut acc, t);
    }
    for t in prefetching..groups {
        step(&mut acc, t);
    }
    acc
}

/// Sums `step(acc, t)` over depth groups `t < groups` into two tiles, even and odd groups, so
/// that twelve independent sums are in flight; prefetching as [`sweep_avx2`].
///
/// # Safety
/// The CPU must run AVX-512F; `step` and `ahead` as the calling kernel's.
#[inline(always)]
pub(super) unsafe fn sweep_wide(
    groups: usize,
    ahead: Ahead,
    step: impl Fn(&mut WideSums, usize),
) -> [WideSums; 2] {
    let mut acc = [[_mm512_setzero_si512(); MR]; 2];
    let [even, odd] = &mut acc;
    let prefetching = groups.min(ahead.count) / 2 * 2;
    let mut t = 0;
    while t < prefetching {
        _mm_prefetch::<_MM_HINT_T0>(ahead.run(t));
        _mm_prefetch::<_MM_HINT_T0>(ahead.run(t + 1));
        step(even, t);
        step(odd, t + 1);
        t += 2;
    }
    while t + 2 <= groups {
        step(even, t);
        step(odd, t + 1);
        t += 2;
    }
    if t < groups {
        step(even, t);
    }
    acc
}

/// Writes an AVX2 tile's sums as [`TileOut`] says, in registers.
///
/// # Safety
/// The CPU must run AVX2 and FMA; `out` as for [`super::run_tile`].
#[inline(always)]
pub(super) unsafe fn store_avx2(acc: &Avx2Sums, out: &TileOut) {
    let zero_points = !out.column_sums.is_empty();
    for (i, acc) in acc.iter().enumerate() {
        let row_scale = _mm256_set1_ps(out.row_scales[i]);
        for (half, &sums) in acc.iter().enumerate() {
            let j = half * 8;
            let mut sums = _mm256_cvtepi32_ps(sums);
            if zero_points {
                let column_sums = _mm256_loadu_ps(out.column_sums.as_ptr().add(j));
                sums = _mm256_fnmadd_ps(_mm256_set1_ps(out.row_zeros[i]), column_sums, sums);
            }
            let scale = _mm256_mul_ps(row_scale, _mm256_loadu_ps(out.col_scales.as_ptr().add(j)));
            let v = _mm256_mul_ps(sums, scale);
            store_started(out.init, out.c, out.ldc, i, j, Avx2Lanes(v));
        }
    }
}

/// Writes an AVX-512 tile's even and odd sums, added, as [`TileOut`] says, in registers.
///
/// # Safety
/// The CPU must run AVX-512F and FMA; `out` as for [`super::run_tile`].
#[inline(always)]
pub(super) unsafe fn store_wide(acc: &[WideSums; 2], out: &TileOut) {
    let zero_points = !out.column_sums.is_empty();
    let col_scales = _mm512_loadu_ps(out.col_scales.as_ptr());
    // loaded once: the stores below may alias it as far as the compiler knows, so it would not
    // hoist the load out of the row loop itself
    let column_sums = if zero_points {
        _mm512_loadu_ps(out.column_sums.as_ptr())
    } else {
        _mm512_setzero_ps()
    };
    for (i, (&even, &odd)) in acc[0].iter().zip(&acc[1]).enumerate() {
        let scale = _mm512_mul_ps(_mm512_set1_ps(out.row_scales[i]), col_scales);
        let mut sums = _mm512_cvtepi32_ps(_mm512_add_epi32(even, odd));
        if zero_points {
            sums = _mm512_fnmadd_ps(_mm512_set1_ps(out.row_zeros[i]), column_sums, sums);
        }
        let v = _mm512_mul_ps(sums, scale);
        store_started(out.init, out.c, out.ldc, i, 0, Avx512Lanes(v));
    }
}
