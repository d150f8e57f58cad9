//! CPU kernels behind [`super::ops`]: Candle custom ops with hand-written backward passes.
//!
//! Every op works on contiguous f32 tensors (the wrappers in `ops` make inputs contiguous),
//! runs its rows in parallel with rayon and sums across rows in a fixed order, so results do
//! not depend on the number of threads.

pub mod attention;
pub mod block_quant;
pub mod dropout;
pub mod fused_attention;
pub mod gelu;
pub mod inference_linear;
pub mod layer_norm;
pub mod linear;
pub mod math;
pub mod sgemm;
pub mod softmax;
pub mod spin;

use candle_core::{bail, CpuStorage, Layout, Result, Shape};
use rayon::prelude::*;

/// Rows handed to one rayon task at a time (keeps tasks large enough to amortise scheduling).
pub(crate) const MIN_ROWS_PER_TASK: usize = 8;

/// Whether this CPU runs AVX2 and FMA, which the hand-vectorised kernels need (checked once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

/// Rows whose partial column sums are added up together before the fixed-order final sum.
const ROWS_PER_PARTIAL_SUM: usize = 64;

/// The f32 elements of a contiguous input, or an error naming `op`.
pub(crate) fn f32_slice<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &'static str,
) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{op}: only f32 tensors are supported")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{op}: input must be contiguous"),
    }
}

/// Wraps a result vector as Candle CPU storage of `shape`.
pub(crate) fn f32_output(data: Vec<f32>, shape: impl Into<Shape>) -> Result<(CpuStorage, Shape)> {
    Ok((CpuStorage::F32(data), shape.into()))
}

/// Sums, over `rows` rows, the `width` values that `row_values(row, acc)` adds into `acc`.
/// Rows are split into fixed blocks whose partial sums are added in order: deterministic.
pub(crate) fn column_sums<F>(rows: usize, width: usize, row_values: F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let blocks = rows.div_ceil(ROWS_PER_PARTIAL_SUM);
    let partials: Vec<Vec<f32>> = (0..blocks)
        .into_par_iter()
        .map(|block| {
            let mut acc = vec![0f32; width];
            let end = ((block + 1) * ROWS_PER_PARTIAL_SUM).min(rows);
            for row in block * ROWS_PER_PARTIAL_SUM..end {
                row_values(row, &mut acc);
            }
            acc
        })
        .collect();
    let mut total = vec![0f32; width];
    for partial in partials {
        for (t, p) in total.iter_mut().zip(partial) {
            *t += p;
        }
    }
    total
}

/// A raw pointer that rayon tasks may share because each writes a disjoint region.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub *mut f32);
// SAFETY: callers only write disjoint elements through the pointer from different tasks.
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    pub fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// A strided matrix inside a slice: element `(i, j)` is at `offset + i * rs + j * cs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MatView {
    /// Index of element `(0, 0)`.
    pub offset: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between rows.
    pub rs: usize,
    /// Distance between columns.
    pub cs: usize,
}

impl MatView {
    /// A row-major `rows x cols` matrix starting at `offset`.
    pub fn row_major(offset: usize, rows: usize, cols: usize) -> Self {
        Self {
            offset,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, viewing the same memory.
    pub fn t(self) -> Self {
        Self {
            offset: self.offset,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Index one past the last element the view touches.
    fn end(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return self.offset;
        }
        self.offset + (self.rows - 1) * self.rs + (self.cols - 1) * self.cs + 1
    }
}

/// One matrix product `scale * lhs * rhs` on strided views, computed by gemm.
#[derive(Clone, Copy)]
pub(crate) struct Product<'a> {
    /// Memory of the left factor.
    pub lhs: &'a [f32],
    /// The left factor inside `lhs`.
    pub lhs_view: MatView,
    /// Memory of the right factor.
    pub rhs: &'a [f32],
    /// The right factor inside `rhs`.
    pub rhs_view: MatView,
    /// Factor applied to the product.
    pub scale: f32,
}

impl Product<'_> {
    /// `scale * lhs * rhs` as a new row-major matrix, computed on the rayon pool.
    pub fn compute(&self) -> Vec<f32> {
        let (rows, cols) = (self.lhs_view.rows, self.rhs_view.cols);
        let mut out = vec![0f32; rows * cols];
        // SAFETY: `out` holds rows x cols elements and nothing else sees it.
        unsafe {
            self.write(
                out.as_mut_ptr(),
                MatView::row_major(0, rows, cols),
                false,
                true,
            )
        };
        out
    }

    /// `dst = (accumulate ? dst : 0) + scale * lhs * rhs`; `parallel` lets gemm use the rayon
    /// pool (leave it off when already inside a parallel loop).
    ///
    /// # Safety
    /// `dst` must point to a buffer covering `dst_view` that nothing else accesses in that
    /// region meanwhile.
    pub unsafe fn write(&self, dst: *mut f32, dst_view: MatView, accumulate: bool, parallel: bool) {
        let (lhs_view, rhs_view) = (self.lhs_view, self.rhs_view);
        let (m, k, n) = (lhs_view.rows, lhs_view.cols, rhs_view.cols);
        assert!(rhs_view.rows == k && dst_view.rows == m && dst_view.cols == n);
        assert!(lhs_view.end() <= self.lhs.len() && rhs_view.end() <= self.rhs.len());
        let threads = rayon::current_num_threads();
        let parallelism = if parallel && threads > 1 {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        gemm::gemm(
            m,
            n,
            k,
            dst.add(dst_view.offset),
            dst_view.cs as isize,
            dst_view.rs as isize,
            accumulate,
            self.lhs.as_ptr().add(lhs_view.offset),
            lhs_view.cs as isize,
            lhs_view.rs as isize,
            self.rhs.as_ptr().add(rhs_view.offset),
            rhs_view.cs as isize,
            rhs_view.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            self.scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}
