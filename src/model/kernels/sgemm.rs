//! `C += A W^T` for inference with the weight `W` packed once, when a model is prepared for
//! inference, into the layout the AVX2/FMA micro-kernel reads (BLIS-style blocking). General
//! gemm routines pack `W` again on every call; here only the activations `A` are packed.
//!
//! Layout: `W` (`[n, k]`, row-major) becomes panels of [`NR`] output columns; inside a panel, for
//! each `k`, the [`NR`] weights of those columns are contiguous (the panel's last columns are
//! zero-padded). `A` is packed per call into groups of [`MR`] rows, `k`-major. The micro-kernel
//! keeps an `MR x NR` tile of `C` in 12 registers while it walks `k`.
//!
//! CPUs without AVX2 and FMA (and other architectures) take the same packed data through a
//! portable loop, so results do not depend on the dispatch beyond float rounding.

use rayon::prelude::*;

use super::SharedMut;

/// Rows of `C` per micro-tile.
pub const MR: usize = 6;
/// Columns of `C` per micro-tile (two 8-lane registers).
pub const NR: usize = 16;
/// Depth of one block of `k`: an `MR x KC` sliver of `A` and a `KC x NR` sliver of `W` stay in
/// L1 while a micro-tile is computed.
const KC: usize = 256;
/// Most rows of `C` per parallel task (an `MC x KC` block of packed `A` stays in L2).
const MC: usize = 192;
/// Tasks per thread to aim for, so that uneven tasks still balance.
const TASKS_PER_THREAD: usize = 4;

/// A weight `[n, k]` packed into `NR`-column panels (see the module docs).
#[derive(Debug, Clone)]
pub struct PackedWeight {
    data: Vec<f32>,
    n: usize,
    k: usize,
}

impl PackedWeight {
    /// Packs `w`, row-major `[n, k]`.
    pub fn new(w: &[f32], n: usize, k: usize) -> Self {
        assert_eq!(
            w.len(),
            n * k,
            "weight of {} values is not {n} x {k}",
            w.len()
        );
        let panels = n.div_ceil(NR);
        let mut data = vec![0f32; panels * k * NR];
        data.par_chunks_mut((k * NR).max(1))
            .enumerate()
            .for_each(|(p, panel)| {
                for c in 0..NR.min(n - p * NR) {
                    let row = &w[(p * NR + c) * k..(p * NR + c + 1) * k];
                    for (kk, &v) in row.iter().enumerate() {
                        panel[kk * NR + c] = v;
                    }
                }
            });
        Self { data, n, k }
    }

    /// Output width `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input width `k`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The `kc x NR` sliver of panel `p` starting at depth `pc`.
    fn sliver(&self, p: usize, pc: usize, kc: usize) -> &[f32] {
        let start = p * self.k * NR + pc * NR;
        &self.data[start..start + kc * NR]
    }
}

/// `c += a w^T` for `a`: `[m, k]` row-major, `c`: `[m, n]` row-major, in parallel over row
/// blocks of `c`.
pub fn matmul_acc(a: &[f32], m: usize, w: &PackedWeight, c: &mut [f32]) {
    let (n, k) = (w.n, w.k);
    assert!(
        a.len() >= m * k && c.len() >= m * n,
        "matmul: buffers too small"
    );
    let dst = SharedMut(c.as_mut_ptr());
    let tasks = rayon::current_num_threads() * TASKS_PER_THREAD;
    let mc = (m.div_ceil(tasks).div_ceil(MR) * MR).clamp(MR, MC);
    (0..m.div_ceil(mc)).into_par_iter().for_each_init(
        || vec![0f32; mc * KC],
        |packed_a, block| {
            let rows = block * mc..((block + 1) * mc).min(m);
            // SAFETY: each task writes only the rows `rows` of `c`, which it alone owns.
            unsafe { row_block(a, rows, w, packed_a, dst) }
        },
    );
}

/// Computes rows `rows` of `c` (see [`matmul_acc`]).
///
/// # Safety
/// `dst` points to `c` (`[m, n]`), and no one else touches its rows `rows` meanwhile.
unsafe fn row_block(
    a: &[f32],
    rows: std::ops::Range<usize>,
    w: &PackedWeight,
    packed_a: &mut [f32],
    dst: SharedMut,
) {
    let (n, k) = (w.n, w.k);
    let m = rows.len();
    let groups = m.div_ceil(MR);
    let mut tile = [0f32; MR * NR];
    for pc in (0..k).step_by(KC) {
        let kc = KC.min(k - pc);
        pack_a(a, k, rows.clone(), pc, kc, packed_a);
        for p in 0..n.div_ceil(NR) {
            let b = w.sliver(p, pc, kc);
            let cols = NR.min(n - p * NR);
            for g in 0..groups {
                let a_sliver = &packed_a[g * MR * kc..(g + 1) * MR * kc];
                let r = rows.start + g * MR;
                let tile_rows = MR.min(rows.end - r);
                let c = dst.ptr().add(r * n + p * NR);
                if tile_rows == MR && cols == NR {
                    kernel(a_sliver, b, kc, c, n);
                } else {
                    // an edge tile: compute into a full scratch tile, add back the valid part
                    for (i, row) in tile.chunks_mut(NR).enumerate() {
                        row.fill(0.0);
                        if i < tile_rows {
                            row[..cols]
                                .copy_from_slice(std::slice::from_raw_parts(c.add(i * n), cols));
                        }
                    }
                    kernel(a_sliver, b, kc, tile.as_mut_ptr(), NR);
                    for (i, row) in tile.chunks(NR).take(tile_rows).enumerate() {
                        std::slice::from_raw_parts_mut(c.add(i * n), cols)
                            .copy_from_slice(&row[..cols]);
                    }
                }
            }
        }
    }
}

/// Packs rows `rows`, depths `pc..pc + kc` of `a` (`[.., k]`) into `MR`-row groups, `k`-major;
/// missing rows of the last group are zeros.
fn pack_a(
    a: &[f32],
    k: usize,
    rows: std::ops::Range<usize>,
    pc: usize,
    kc: usize,
    out: &mut [f32],
) {
    for (g, group) in out[..rows.len().div_ceil(MR) * MR * kc]
        .chunks_mut(MR * kc)
        .enumerate()
    {
        for i in 0..MR {
            let r = rows.start + g * MR + i;
            if r < rows.end {
                let src = &a[r * k + pc..r * k + pc + kc];
                for (kk, &v) in src.iter().enumerate() {
                    group[kk * MR + i] = v;
                }
            } else {
                for kk in 0..kc {
                    group[kk * MR + i] = 0.0;
                }
            }
        }
    }
}

/// `C[MR x NR] += A_sliver · B_sliver` with `C` at `c`, rows `ldc` apart.
///
/// # Safety
/// `c` must cover `MR` rows of `NR` values, `ldc` apart; `a` holds `MR * kc`, `b` `kc * NR`.
#[inline]
unsafe fn kernel(a: &[f32], b: &[f32], kc: usize, c: *mut f32, ldc: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2_fma() {
            return kernel_avx2(a, b, kc, c, ldc);
        }
    }
    kernel_portable(a, b, kc, c, ldc)
}

/// Whether the AVX2 + FMA micro-kernel can run here (checked once).
#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

/// The portable micro-kernel (same arithmetic, one multiply-add at a time).
unsafe fn kernel_portable(a: &[f32], b: &[f32], kc: usize, c: *mut f32, ldc: usize) {
    let mut acc = [[0f32; NR]; MR];
    for kk in 0..kc {
        let bk = &b[kk * NR..(kk + 1) * NR];
        for (i, row) in acc.iter_mut().enumerate() {
            let av = a[kk * MR + i];
            for (x, &bv) in row.iter_mut().zip(bk) {
                *x = av.mul_add(bv, *x);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            *c.add(i * ldc + j) += v;
        }
    }
}

/// The AVX2 + FMA micro-kernel: 12 accumulators (6 rows x 2 vectors of 8).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_avx2(a: &[f32], b: &[f32], kc: usize, c: *mut f32, ldc: usize) {
    use std::arch::x86_64::*;
    debug_assert!(a.len() >= MR * kc && b.len() >= NR * kc);
    let (mut a_ptr, mut b_ptr) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 2 * MR];
    for _ in 0..kc {
        let b0 = _mm256_loadu_ps(b_ptr);
        let b1 = _mm256_loadu_ps(b_ptr.add(8));
        for i in 0..MR {
            let av = _mm256_broadcast_ss(&*a_ptr.add(i));
            acc[2 * i] = _mm256_fmadd_ps(av, b0, acc[2 * i]);
            acc[2 * i + 1] = _mm256_fmadd_ps(av, b1, acc[2 * i + 1]);
        }
        a_ptr = a_ptr.add(MR);
        b_ptr = b_ptr.add(NR);
    }
    for i in 0..MR {
        let row = c.add(i * ldc);
        _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[2 * i]));
        let hi = row.add(8);
        _mm256_storeu_ps(hi, _mm256_add_ps(_mm256_loadu_ps(hi), acc[2 * i + 1]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 * 12.9898 + seed).sin() * 43_758.547).fract() - 0.5)
            .collect()
    }

    #[test]
    fn matches_a_naive_product_on_edge_shapes() {
        // rows and columns not multiples of the tile, depth over one KC block
        for &(m, n, k) in &[
            (1, 1, 1),
            (7, 17, 5),
            (13, 40, 300),
            (200, 33, 530),
            (6, 16, 256),
        ] {
            let a = values(m * k, 1.0);
            let w = values(n * k, 2.0);
            let init = values(m * n, 3.0);
            let mut c = init.clone();
            matmul_acc(&a, m, &PackedWeight::new(&w, n, k), &mut c);
            for i in 0..m {
                for j in 0..n {
                    let want: f32 =
                        init[i * n + j] + (0..k).map(|t| a[i * k + t] * w[j * k + t]).sum::<f32>();
                    let got = c[i * n + j];
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "{m}x{n}x{k} at ({i}, {j}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_portable_kernel_matches_the_dispatched_one() {
        let kc = 37;
        let (a, b) = (values(MR * kc, 4.0), values(NR * kc, 5.0));
        let (mut c1, mut c2) = (values(MR * NR, 6.0), values(MR * NR, 6.0));
        // SAFETY: both tiles hold MR x NR values with rows NR apart.
        unsafe {
            kernel(&a, &b, kc, c1.as_mut_ptr(), NR);
            kernel_portable(&a, &b, kc, c2.as_mut_ptr(), NR);
        }
        for (x, y) in c1.iter().zip(&c2) {
            assert!((x - y).abs() < 1e-5);
        }
    }
}
