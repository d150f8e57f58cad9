//! `C += A W^T` for inference with the weight `W` packed once, when a model is prepared for
//! inference, into the layout the micro-kernels read (BLIS-style blocking). General gemm
//! routines pack `W` again on every call; here nothing is packed per call: the micro-kernel
//! reads the activations `A` in place, row by row (as ONNX Runtime's MLAS kernels do).
//!
//! Layout: `W` (`[n, k]`, row-major) becomes panels of [`NR`] output columns; inside a panel, for
//! each `k`, the [`NR`] weights of those columns are contiguous (the panel's last columns are
//! zero-padded). A micro-kernel (`micro`) keeps an `MR x NR` tile of `C` (AVX2) or an
//! `MR x 2NR` tile from two adjacent panels (AVX-512) in 12 registers while it walks `k`,
//! broadcasting one value of each of [`MR`] rows of `A` per step. An 8- or 4-bit weight
//! ([`PackedWeight::new_quantized`], `super::block_quant`) has the same layout with per-block
//! scales; each panel sliver is dequantised into a buffer in cache before the micro-kernel reads
//! it.
//! A weight of 16- or 8-bit integers ([`WeightFormat::Int16`], [`WeightFormat::Int8`]) takes
//! integer kernels instead (`integer`): the activations are quantised as each product starts
//! and multiplied exactly.
//!
//! A task sweeps the weight from L3 once per block of rows. While the tiles of one panel sliver
//! are computed, each tile also prefetches its share of the next sliver's runs, so the sweep
//! does not stall on L3 at each sliver: measured +8-9% on BERT-base's projections on one
//! thread, +14-16% on two (`scripts/bench/paired_gemm.py --baseline`).
//!
//! CPUs without AVX2 and FMA (and other architectures) take the same packed data through a
//! portable loop, so results do not depend on the dispatch beyond float rounding.

use rayon::prelude::*;

mod integer;
mod micro;

pub use integer::{Int16, Int8, IntPanels, Scheme};

use super::block_quant::{Bits, QuantizedPanels};
use super::{MatView, SharedMut};
use micro::{Column, Init, Micro, Tile};

/// Rows of `C` per micro-tile.
pub const MR: usize = 6;
/// Columns of `C` per micro-tile (two 8-lane registers).
pub const NR: usize = 16;
/// Depth of one block of `k`: an `MR x KC` sliver of `A` and a `KC x NR` sliver of `W` stay in
/// L1 while a micro-tile is computed.
const KC: usize = 256;
/// Most rows of `C` per parallel task (an `MC x KC` block of `A` stays in L2).
const MC: usize = 192;
/// Output columns a task finishes (all of `k` summed into them) before it moves on to the next
/// ones, for outputs too wide to keep [`WIDE_MIN_ROWS`] whole rows in L2 (BERT-base's 2,304-wide
/// q|k|v and 3,072-wide FFN): a block's rows of `NC` columns stay in L2 across the depth blocks,
/// so such outputs still get blocks of many rows, and the weight is swept once per block of rows
/// rather than once per few rows. Narrower outputs (all of e5-small's) keep whole rows: measured
/// 3-4% faster there than chunked.
const NC: usize = 256;
/// Fewest rows per block that whole output rows must leave room for (see [`NC`]).
const WIDE_MIN_ROWS: usize = 48;
/// Fewest rows per block for which [`matmul_two`] keeps the intermediate in cache: with fewer,
/// both weights would be swept from L3 once per handful of rows, which costs more than the
/// intermediate's trip through memory, and the two products run one after the other instead.
const FUSED_MIN_ROWS: usize = 36;
/// Bytes of a core's L2 cache (512 KiB on Zen 3, 1-2 MiB on recent Intel cores) that one
/// task's `A` block and output rows may take, leaving room for the weight's panels.
const L2_BUDGET: usize = 384 * 1024;
/// Tasks per thread to aim for, so that uneven tasks still balance.
const TASKS_PER_THREAD: usize = 4;

/// A weight `[n, k]` packed into `NR`-column panels (see the module docs), with f32 values or
/// quantised ones.
#[derive(Debug, Clone, Default)]
pub struct PackedWeight {
    values: Values,
    n: usize,
    k: usize,
}

/// How a [`PackedWeight`] keeps its values, and so how its products are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightFormat {
    /// f32, as trained.
    #[default]
    F32,
    /// 8- or 4-bit blocks with f32 scales, dequantised to f32 one panel sliver at a time
    /// (`super::block_quant`): less memory, f32 products.
    Blocks(Bits),
    /// 16-bit integers with a scale per output column, multiplied by the activations quantised
    /// per row as each product starts, in exact integer sums (`integer`): faster products.
    Int16,
    /// 7-bit integers (signed bytes of at most 63) with a scale per output column, multiplied
    /// by the activations quantised per row to bytes with a zero point, in exact integer sums
    /// (`integer`): the fastest products, the coarsest.
    Int8,
}

/// The values of a [`PackedWeight`], panel after panel.
#[derive(Debug, Clone)]
enum Values {
    /// f32: panel `p` is `k` runs of [`NR`] values.
    F32(Vec<f32>),
    /// 8- or 4-bit blocks with their scales, in the same layout.
    Quantized(Box<QuantizedPanels>),
    /// 16-bit integers, depths in pairs (see [`integer`]).
    Int16(Box<IntPanels<Int16>>),
    /// 7-bit integers in bytes, depths by four (see [`integer`]).
    Int8(Box<IntPanels<Int8>>),
}

impl Default for Values {
    fn default() -> Self {
        Self::F32(Vec::new())
    }
}

/// Panics unless `w` holds an `[n, k]` weight.
fn check_weight_shape(w: &[f32], n: usize, k: usize) {
    assert_eq!(
        w.len(),
        n * k,
        "weight of {} values is not {n} x {k}",
        w.len()
    );
}

impl PackedWeight {
    /// Packs `w`, row-major `[n, k]`.
    pub fn new(w: &[f32], n: usize, k: usize) -> Self {
        check_weight_shape(w, n, k);
        let mut packed = Self::default();
        packed.pack(w, MatView::row_major(0, n, k), true);
        packed
    }

    /// Packs the `[n, k]` matrix `view` of `src` (any strides) into this buffer, reusing its
    /// allocation; panels are packed in parallel when `parallel`.
    pub(crate) fn pack(&mut self, src: &[f32], view: MatView, parallel: bool) {
        let (n, k) = (view.rows, view.cols);
        self.n = n;
        self.k = k;
        let mut data = match std::mem::take(&mut self.values) {
            Values::F32(data) => data,
            Values::Quantized(_) | Values::Int16(_) | Values::Int8(_) => Vec::new(),
        };
        data.clear();
        data.resize(n.div_ceil(NR) * k * NR, 0.0);
        let pack_panel = |(p, panel): (usize, &mut [f32])| {
            let first = view.offset + p * NR * view.rs;
            for (kk, run) in panel.chunks_exact_mut(NR).enumerate() {
                let start = first + kk * view.cs;
                for (c, v) in run.iter_mut().take(NR.min(n - p * NR)).enumerate() {
                    *v = src[start + c * view.rs];
                }
            }
        };
        let panel_len = (k * NR).max(1);
        if parallel {
            data.par_chunks_mut(panel_len)
                .enumerate()
                .for_each(pack_panel);
        } else {
            data.chunks_mut(panel_len).enumerate().for_each(pack_panel);
        }
        self.values = Values::F32(data);
    }

    /// Packs `w`, row-major `[n, k]`, with quantised values: each column (row of `w`) in
    /// blocks of `super::block_quant::BLOCK` depths, each block with its own scale (see
    /// `super::block_quant`). A quarter (8-bit) or an eighth (4-bit) of the f32 memory; the product
    /// dequantises one panel sliver at a time into cache.
    pub fn new_quantized(w: &[f32], n: usize, k: usize, bits: Bits) -> Self {
        Self {
            values: Values::Quantized(Box::new(QuantizedPanels::new(w, n, k, bits))),
            n,
            k,
        }
    }

    /// Packs `w`, row-major `[n, k]`, in `format`.
    pub fn with_format(w: &[f32], n: usize, k: usize, format: WeightFormat) -> Self {
        match format {
            WeightFormat::F32 => Self::new(w, n, k),
            WeightFormat::Blocks(bits) => Self::new_quantized(w, n, k, bits),
            WeightFormat::Int16 => Self {
                values: Values::Int16(Box::new(IntPanels::new(w, n, k))),
                n,
                k,
            },
            WeightFormat::Int8 => Self {
                values: Values::Int8(Box::new(IntPanels::new(w, n, k))),
                n,
                k,
            },
        }
    }

    /// Bytes the packed values take.
    pub fn bytes(&self) -> usize {
        match &self.values {
            Values::F32(data) => 4 * data.len(),
            Values::Quantized(q) => q.bytes(),
            Values::Int16(q) => q.bytes(),
            Values::Int8(q) => q.bytes(),
        }
    }

    /// Output width `n`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input width `k`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The panels as the f32 micro-kernel reads them (f32 or block-quantised values; integer
    /// weights go through [`rows_product`]).
    pub(crate) fn panels(&self) -> Panels<'_> {
        let data = match &self.values {
            Values::F32(data) => PanelData::F32(data),
            Values::Quantized(q) => PanelData::Quantized(q),
            Values::Int16(_) | Values::Int8(_) => {
                panic!("gemm: integer weights have no f32 panels")
            }
        };
        Panels {
            data,
            n: self.n,
            k: self.k,
            panel_stride: self.k * NR,
            ldb: NR,
        }
    }
}

/// The right-hand side `W^T` (`[k, n]`) as the micro-kernel reads it: panels of [`NR`] output
/// columns, each `k` runs of [`NR`] values. A [`PackedWeight`] has them contiguous; a row-major
/// `[k, n]` matrix already has that shape in place, its runs one row apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Panels<'a> {
    data: PanelData<'a>,
    n: usize,
    k: usize,
    /// Values between the starts of consecutive panels.
    panel_stride: usize,
    /// Values between consecutive runs of a panel.
    ldb: usize,
}

/// Where the runs of [`Panels`] are.
#[derive(Debug, Clone, Copy)]
enum PanelData<'a> {
    /// f32 values, read in place.
    F32(&'a [f32]),
    /// Quantised blocks (see [`PackedWeight::new_quantized`]), dequantised per sliver.
    Quantized(&'a QuantizedPanels),
}

impl<'a> Panels<'a> {
    /// The row-major `[k, n]` matrix at `src[offset..]`, rows `ld` apart, read in place; `n` must
    /// be a multiple of [`NR`].
    pub(crate) fn in_place(src: &'a [f32], offset: usize, k: usize, n: usize, ld: usize) -> Self {
        assert!(
            n.is_multiple_of(NR) && k > 0 && offset + (k - 1) * ld + n <= src.len(),
            "gemm: in-place panels out of bounds"
        );
        Self {
            data: PanelData::F32(&src[offset..]),
            n,
            k,
            panel_stride: NR,
            ldb: ld,
        }
    }

    /// Where the f32 runs of panel `p` from depth `pc` start, when read in place (`None` for
    /// quantised values).
    fn in_place_sliver(&self, p: usize, pc: usize) -> Option<*const f32> {
        match self.data {
            PanelData::F32(data) => Some(
                data.as_ptr()
                    .wrapping_add(p * self.panel_stride + pc * self.ldb),
            ),
            PanelData::Quantized(_) => None,
        }
    }

    /// Start of the `kc` runs of panel `p` from depth `pc`, and the distance between runs: in
    /// place for f32 values, dequantised into `buf` for quantised ones.
    fn sliver(&self, p: usize, pc: usize, kc: usize, buf: &mut Vec<f32>) -> (*const f32, usize) {
        let start = p * self.panel_stride + pc * self.ldb;
        match self.data {
            PanelData::F32(data) => {
                assert!(start + (kc - 1) * self.ldb + NR <= data.len());
                (data[start..].as_ptr(), self.ldb)
            }
            PanelData::Quantized(q) => {
                buf.resize(kc * NR, 0.0);
                q.dequantize(p, pc, buf);
                (buf.as_ptr(), NR)
            }
        }
    }
}

/// A task's buffers for [`gemm_rows`], reused from call to call.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The last, partial group of rows of `A`, zero-padded.
    edge: Vec<f32>,
    /// One dequantised panel sliver of a quantised weight.
    sliver: Vec<f32>,
    /// The next panel's sliver, for kernels that read two panels at once.
    next_sliver: Vec<f32>,
    /// A block's rows of the intermediate of [`matmul_two`].
    between: Vec<f32>,
    /// The rows of `A` quantised for an integer weight.
    int: integer::Scratch,
}

/// What the output holds before the product is added (see [`matmul`]).
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// The bias (`[n]`) in every row.
    Bias(&'a [f32]),
    /// The bias plus the matching row of `residual` (`[m, n]`).
    BiasResidual {
        /// `[n]`.
        bias: &'a [f32],
        /// `[m, n]`, row-major.
        residual: &'a [f32],
    },
}

impl Start<'_> {
    fn check(&self, m: usize, n: usize) {
        match *self {
            Start::Bias(bias) => assert_eq!(bias.len(), n, "matmul: bias is not {n} wide"),
            Start::BiasResidual { bias, residual } => {
                assert_eq!(bias.len(), n, "matmul: bias is not {n} wide");
                assert!(
                    residual.len() >= m * n,
                    "matmul: residual smaller than {m} x {n}"
                );
            }
        }
    }
}

/// `finish(start + a w^T)` for `a`: `[m, k]` row-major; returns `[m, n]` row-major.
///
/// The output is made block of rows by block of rows, in parallel: one task computes a block's
/// rows (the micro-kernel adds the starting values as it first stores each tile) and runs
/// `finish` on them (a whole number of rows of `n` values) while they are still in cache. No pass over the whole output is spent zero-filling it, adding the
/// bias or residual, or applying the activation.
pub fn matmul(
    a: &[f32],
    m: usize,
    w: &PackedWeight,
    start: Start<'_>,
    finish: impl Fn(&mut [f32]) + Sync,
) -> Vec<f32> {
    let n = w.n;
    assert!(
        a.len() >= m * w.k,
        "matmul: input smaller than {m} x {}",
        w.k
    );
    start.check(m, n);
    let mut c: Vec<f32> = Vec::with_capacity(m * n);
    let dst = SharedMut(c.as_mut_ptr());
    for_each_row_block(m, rows_in_cache(product_row_width(n)), |rows, scratch| {
        // SAFETY: this task alone owns rows `rows` of the `m x n` allocation.
        unsafe {
            let a_rows = &a[rows.start * w.k..];
            let block = dst.ptr().add(rows.start * n);
            block_product(a_rows, rows, w, start, scratch, block, &finish);
        }
    });
    // SAFETY: the row blocks cover rows 0..m, and each was initialised by its task.
    unsafe { c.set_len(m * n) };
    c
}

/// Two products in a row, `finish(start + mid(first_start + a W1^T) W2^T)`, for `a`: `[m, k]`
/// row-major (a transformer's feed-forward block: `W1` widens, `mid` is the activation, `W2`
/// narrows back). Each block of rows goes through both products in one task: its `[rows, n1]`
/// intermediate stays in that task's cache-sized buffer and is never written to the output's
/// memory, so the widest activation of the block never travels to and from DRAM. When so wide
/// an intermediate leaves room for fewer than `FUSED_MIN_ROWS` rows, the two products run one
/// after the other instead.
#[allow(clippy::too_many_arguments)]
pub fn matmul_two(
    a: &[f32],
    m: usize,
    first: &PackedWeight,
    first_start: Start<'_>,
    mid: impl Fn(&mut [f32]) + Sync,
    second: &PackedWeight,
    start: Start<'_>,
    finish: impl Fn(&mut [f32]) + Sync,
) -> Vec<f32> {
    let (between_n, n) = (first.n, second.n);
    assert_eq!(
        second.k, between_n,
        "matmul_two: the second product takes {} inputs, the first gives {between_n}",
        second.k
    );
    assert!(
        a.len() >= m * first.k,
        "matmul_two: input smaller than {m} x {}",
        first.k
    );
    first_start.check(m, between_n);
    start.check(m, n);
    let most = fused_rows(between_n, n);
    if most < FUSED_MIN_ROWS {
        let between = matmul(a, m, first, first_start, mid);
        return matmul(&between, m, second, start, finish);
    }
    let mut c: Vec<f32> = Vec::with_capacity(m * n);
    let dst = SharedMut(c.as_mut_ptr());
    for_each_row_block(m, most, |rows, scratch| {
        let mut between = std::mem::take(&mut scratch.between);
        between.resize(rows.len() * between_n, 0.0);
        // SAFETY: `between` holds the block's rows of the intermediate; this task alone owns
        // rows `rows` of the `m x n` allocation.
        unsafe {
            let a_rows = &a[rows.start * first.k..];
            let (rows_between, mid) = (between.as_mut_ptr(), &mid);
            block_product(
                a_rows,
                rows.clone(),
                first,
                first_start,
                scratch,
                rows_between,
                mid,
            );
            let block = dst.ptr().add(rows.start * n);
            block_product(&between, rows, second, start, scratch, block, &finish);
        }
        scratch.between = between;
    });
    // SAFETY: the row blocks cover rows 0..m, and each was initialised by its task.
    unsafe { c.set_len(m * n) };
    c
}

/// Rows `rows` of `finish(start + a w^T)` written at `dst` (rows `w.n` apart), `a` starting at
/// the block's first row: one task's share of [`matmul`].
///
/// # Safety
/// `dst` must be valid for `rows.len()` rows of `w.n` values that no one else touches
/// meanwhile; they are initialised before `finish` sees them.
unsafe fn block_product(
    a: &[f32],
    rows: std::ops::Range<usize>,
    w: &PackedWeight,
    start: Start<'_>,
    scratch: &mut Scratch,
    dst: *mut f32,
    finish: &impl Fn(&mut [f32]),
) {
    let n = w.n;
    let output = Output::Start {
        start,
        first_row: rows.start,
    };
    rows_product(a, rows.len(), w, scratch, dst, n, output);
    finish(std::slice::from_raw_parts_mut(dst, rows.len() * n));
}

/// `C (+)= A W^T` for `m` rows of `a` (`[m, w.k]`, row-major) on this thread, by the kernels
/// of `w`'s format; `C`'s rows are `ldc` apart from `c`.
///
/// # Safety
/// As for [`gemm_rows`].
unsafe fn rows_product(
    a: &[f32],
    m: usize,
    w: &PackedWeight,
    scratch: &mut Scratch,
    c: *mut f32,
    ldc: usize,
    output: Output,
) {
    match &w.values {
        Values::Int16(q) => integer::gemm_rows(a, w.k, m, q, &mut scratch.int, c, ldc, output),
        Values::Int8(q) => integer::gemm_rows(a, w.k, m, q, &mut scratch.int, c, ldc, output),
        _ => gemm_rows(a, w.k, m, &w.panels(), scratch, c, ldc, output),
    }
}

/// `c += a w^T` for `a`: `[m, k]` row-major, `c`: `[m, n]` row-major, in parallel over row
/// blocks of `c`.
pub fn matmul_acc(a: &[f32], m: usize, w: &PackedWeight, c: &mut [f32]) {
    assert!(
        a.len() >= m * w.k && c.len() >= m * w.n,
        "matmul: buffers too small"
    );
    let dst = SharedMut(c.as_mut_ptr());
    let (n, k) = (w.n, w.k);
    // SAFETY: each task writes only the rows `rows` of `c`, which it alone owns.
    for_each_row_block(
        m,
        rows_in_cache(product_row_width(n)),
        |rows, scratch| unsafe {
            let c = dst.ptr().add(rows.start * n);
            rows_product(
                &a[rows.start * k..],
                rows.len(),
                w,
                scratch,
                c,
                n,
                Output::Add,
            )
        },
    );
}

/// Runs `body` on blocks of rows covering `0..m`, in parallel, each with scratch buffers. The
/// number of blocks is a multiple of the thread count (given enough rows), and the blocks are as
/// even as whole groups of [`MR`] rows allow (one group apart at most), so that the threads
/// finish together; a block is at most `most` rows (see [`rows_in_cache`]).
fn for_each_row_block(
    m: usize,
    most: usize,
    body: impl Fn(std::ops::Range<usize>, &mut Scratch) + Sync,
) {
    if m == 0 {
        return;
    }
    let threads = rayon::current_num_threads().max(1);
    let blocks = row_block_count(m.div_ceil(MR), (most / MR).max(1), threads);
    (0..blocks)
        .into_par_iter()
        .for_each_init(Scratch::default, |scratch, block| {
            body(row_block(block, blocks, m), scratch)
        });
}

/// Rows of block `block` of `blocks` over `m` rows: whole groups of [`MR`] rows shared out as
/// evenly as they go (the last group may be partial).
fn row_block(block: usize, blocks: usize, m: usize) -> std::ops::Range<usize> {
    let groups = m.div_ceil(MR);
    let group_start = |b: usize| (b * groups / blocks * MR).min(m);
    group_start(block)..group_start(block + 1)
}

/// Blocks for `groups` groups of rows, at most `most_groups` per block: [`TASKS_PER_THREAD`] per
/// thread or more and a multiple of `threads`, but never more blocks than groups (so that no
/// block is empty; `groups` is still at least the bound's `groups / most_groups`).
fn row_block_count(groups: usize, most_groups: usize, threads: usize) -> usize {
    let blocks = groups
        .div_ceil(most_groups)
        .max(threads * TASKS_PER_THREAD)
        .div_ceil(threads)
        * threads;
    blocks.min(groups.max(1))
}

/// The most rows (a multiple of [`MR`], at most [`MC`]) of which `width` floats each fit in
/// [`L2_BUDGET`]: a task then sweeps the weight's panels over them without their lines leaving
/// L2.
fn rows_in_cache(width: usize) -> usize {
    let bytes_per_row = width * std::mem::size_of::<f32>();
    (L2_BUDGET / bytes_per_row.max(1) / MR * MR).clamp(MR, MC)
}

/// Rows per block of [`matmul_two`] with an intermediate `between_n` wide and an output `n`
/// wide: each row keeps its whole intermediate row in cache (the first product's output, the
/// second's input), an `A` sliver and the second product's current output columns.
fn fused_rows(between_n: usize, n: usize) -> usize {
    rows_in_cache(between_n + KC + column_chunk(n))
}

/// Output columns computed together for an output `n` wide: all of them, or [`NC`] at a time
/// when whole rows would leave room for fewer than [`WIDE_MIN_ROWS`] rows.
fn column_chunk(n: usize) -> usize {
    if rows_in_cache(KC + n) >= WIDE_MIN_ROWS {
        n.max(1)
    } else {
        NC
    }
}

/// What one row of a plain product keeps in cache: its `A` sliver (`KC` deep) and its outputs of
/// the current [`column_chunk`].
fn product_row_width(n: usize) -> usize {
    KC + column_chunk(n)
}

/// What a product does with the values `C` held before it (see [`gemm_rows`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Output<'a> {
    /// `C += A W^T`.
    Add,
    /// `C = A W^T`: `C`'s old values are never read (it may hold anything, even be
    /// uninitialised floats), which saves zero-filling it first.
    Overwrite,
    /// `C = start + A W^T`, `C`'s row `i` starting from `start`'s row `first_row + i`; `C`'s old
    /// values are never read. The micro-kernel adds the starting values as it stores its first
    /// depth block, so they are never written to `C` and read back.
    Start {
        /// The starting values.
        start: Start<'a>,
        /// `start`'s row for `C`'s first row.
        first_row: usize,
    },
}

impl Output<'_> {
    /// What the first depth block of the tile at `C`'s row `row`, column `col` (`C` being `n`
    /// wide) adds its product to.
    fn first_block_init(self, row: usize, col: usize, n: usize) -> Init {
        match self {
            Output::Add => Init::C,
            Output::Overwrite => Init::Zero,
            Output::Start { start, first_row } => {
                let (bias, residual) = match start {
                    Start::Bias(bias) => (bias, None),
                    Start::BiasResidual { bias, residual } => (bias, Some(residual)),
                };
                Init::Bias {
                    bias: bias[col..].as_ptr(),
                    residual: residual.map_or(std::ptr::null(), |r| {
                        r[(first_row + row) * n + col..].as_ptr()
                    }),
                    ldr: n,
                }
            }
        }
    }
}

/// `C += A W^T` (or `C = A W^T`, see [`Output`]) for `m` rows, on this thread: row `i` of `A`
/// starts at `a[i * lda]`, row `i` of `C` at `c + i * ldc`. `A` is read in place; only a last
/// group of fewer than [`MR`] rows is copied, zero-padded, into the scratch.
///
/// # Safety
/// `c` must cover `m` rows of `n` values, `ldc` apart, that no one else touches meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_rows(
    a: &[f32],
    lda: usize,
    m: usize,
    w: &Panels<'_>,
    scratch: &mut Scratch,
    c: *mut f32,
    ldc: usize,
    output: Output,
) {
    gemm_rows_with(Micro::detected(), a, lda, m, w, scratch, c, ldc, output)
}

/// [`gemm_rows`] with the micro-kernel `micro`.
///
/// # Safety
/// As for [`gemm_rows`]; the CPU must run `micro`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_rows_with(
    micro: Micro,
    a: &[f32],
    lda: usize,
    m: usize,
    w: &Panels<'_>,
    scratch: &mut Scratch,
    c: *mut f32,
    ldc: usize,
    output: Output,
) {
    let Scratch {
        edge,
        sliver,
        next_sliver,
        ..
    } = scratch;
    let (n, k) = (w.n, w.k);
    if m == 0 {
        return;
    }
    assert!(
        a.len() >= (m - 1) * lda + k,
        "gemm: A smaller than {m} rows"
    );
    if k == 0 {
        // an empty sum: each row is its starting values
        for i in 0..m {
            let (row, init) = (c.add(i * ldc), output.first_block_init(i, 0, n));
            for j in 0..n {
                *row.add(j) = init.value(row, ldc, 0, j);
            }
        }
        return;
    }
    let full_groups = m / MR;
    let rest = m % MR;
    let groups = full_groups + usize::from(rest > 0);
    let panels = n.div_ceil(NR);
    // a chunk of columns at a time: their C rows stay in cache while every depth block adds to
    // them
    let chunk_panels = column_chunk(n).div_ceil(NR);
    for first_panel in (0..panels).step_by(chunk_panels) {
        let chunk = first_panel..(first_panel + chunk_panels).min(panels);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            if rest > 0 {
                edge.clear();
                edge.resize(MR * kc, 0.0);
                for i in 0..rest {
                    let src = (full_groups * MR + i) * lda + pc;
                    edge[i * kc..(i + 1) * kc].copy_from_slice(&a[src..src + kc]);
                }
            }
            for p in chunk.clone().step_by(micro.panels()) {
                // a kernel reading two panels takes a last, unpaired one with its one-panel
                // sibling
                let micro = if p + micro.panels() <= chunk.end {
                    micro
                } else {
                    micro.single()
                };
                let (b, ldb) = w.sliver(p, pc, kc, sliver);
                let b1 = if micro.panels() == 2 {
                    let (b1, ldb1) = w.sliver(p + 1, pc, kc, next_sliver);
                    debug_assert_eq!(ldb, ldb1);
                    b1
                } else {
                    std::ptr::null()
                };
                let width = micro.panels() * NR;
                let cols = width.min(n - p * NR);
                // this panel step's tiles share out the runs of the next step's slivers, to
                // prefetch them while they compute
                let (ahead, ahead1, ahead_runs) = next_runs(
                    w,
                    next_step_sliver(w, &chunk, p + micro.panels(), pc),
                    micro,
                    kc,
                );
                let column = Column {
                    first: Tile {
                        a: a.as_ptr().add(pc),
                        lda,
                        b,
                        b1,
                        ldb,
                        kc,
                        c: c.add(p * NR),
                        ldc,
                        // later blocks of depths add to what the first one wrote
                        init: if pc == 0 {
                            output.first_block_init(0, p * NR, n)
                        } else {
                            Init::C
                        },
                        ahead,
                        ahead1,
                        ahead_runs,
                    },
                    groups: full_groups,
                    share: share_size(ahead_runs, groups),
                };
                // whole tiles in one kernel call (measured 3-5% faster than a call per tile),
                // then any partial ones one by one
                let first_partial = if cols == width {
                    micro.run_column(column);
                    full_groups
                } else {
                    0
                };
                for g in first_partial..groups {
                    let tile = column.tile(g);
                    if g < full_groups {
                        edge_tile(micro, tile, MR, cols);
                    } else {
                        let tile = Tile {
                            a: edge.as_ptr(),
                            lda: kc,
                            ..tile
                        };
                        edge_tile(micro, tile, rest, cols);
                    }
                }
            }
        }
    }
}

/// Where the panel step after the one ending at panel `next_p` of depth block `pc` starts to
/// read the weight (f32 weights only): the chunk's next panel, else the chunk's first panel at
/// the next depth block, else the next chunk's first panel.
fn next_step_sliver(
    w: &Panels<'_>,
    chunk: &std::ops::Range<usize>,
    next_p: usize,
    pc: usize,
) -> Option<*const f32> {
    let (p, pc) = next_step(chunk, next_p, pc, KC, w.k, w.n.div_ceil(NR))?;
    w.in_place_sliver(p, pc)
}

/// The panel and depth at which the panel step after the one ending at panel `next_p` of the
/// depth block from `pc` starts, in a product of `panels` panels, `depth` deep, taken in depth
/// blocks of `block` within column chunks: the chunk's next panel, else the chunk's first panel
/// at the next depth block, else the next chunk's first panel (`None`: no next step).
fn next_step(
    chunk: &std::ops::Range<usize>,
    next_p: usize,
    pc: usize,
    block: usize,
    depth: usize,
    panels: usize,
) -> Option<(usize, usize)> {
    if next_p < chunk.end {
        Some((next_p, pc))
    } else if pc + block < depth {
        Some((chunk.start, pc + block))
    } else if chunk.end < panels {
        Some((chunk.end, 0))
    } else {
        None
    }
}

/// Row group `g`'s share of `runs` weight runs prefetched by `groups` tiles, one share each:
/// the first run and how many.
fn run_share(runs: usize, groups: usize, g: usize) -> (usize, usize) {
    share_at(runs, share_size(runs, groups), g)
}

/// Runs per tile when `groups` tiles share out `runs` runs.
fn share_size(runs: usize, groups: usize) -> usize {
    runs.div_ceil(groups.max(1))
}

/// Row group `g`'s share of `runs` runs in shares of `share`: the first run and how many.
#[inline(always)]
fn share_at(runs: usize, share: usize, g: usize) -> (usize, usize) {
    let first = (g * share).min(runs);
    (first, share.min(runs - first))
}

/// The runs of the next panel step's slivers, which the tiles of the current step (one per row
/// group) share out ([`run_share`]) and prefetch while they compute, so that the next step finds
/// its weight in cache instead of waiting on L3: where they start in the first and (for a kernel
/// reading two panels) the second panel, and how many there are (none when there is no next
/// step, `start` being `None`, or the weight is quantised).
fn next_runs(
    w: &Panels<'_>,
    start: Option<*const f32>,
    micro: Micro,
    kc: usize,
) -> (*const f32, *const f32, usize) {
    let Some(start) = start else {
        return (std::ptr::null(), std::ptr::null(), 0);
    };
    let start1 = if micro.panels() == 2 {
        start.wrapping_add(w.panel_stride)
    } else {
        std::ptr::null()
    };
    (start, start1, kc)
}

/// Computes a tile of which only `rows x cols` lie inside `C`: into a full tile on the stack that
/// starts from the part's starting values ([`Init`]), then copies back the part inside.
///
/// # Safety
/// As for [`Micro::run`], except that `t.c` need only cover `rows` rows of `cols` values.
unsafe fn edge_tile(micro: Micro, t: Tile, rows: usize, cols: usize) {
    let width = micro.panels() * NR;
    let mut tile = [0f32; MR * 2 * NR];
    for (i, row) in tile.chunks_mut(width).take(rows).enumerate() {
        for (j, x) in row[..cols].iter_mut().enumerate() {
            *x = t.init.value(t.c, t.ldc, i, j);
        }
    }
    micro.run(Tile {
        c: tile.as_mut_ptr(),
        ldc: width,
        init: Init::C,
        ..t
    });
    for (i, row) in tile.chunks(width).take(rows).enumerate() {
        std::slice::from_raw_parts_mut(t.c.add(i * t.ldc), cols).copy_from_slice(&row[..cols]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::block_quant;

    /// Deterministic pseudo-random values in -0.5..0.5.
    pub(super) fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as f32 * 12.9898 + seed).sin() * 43_758.547).fract() - 0.5)
            .collect()
    }

    /// Row `i` of `a` (`k` wide) times row `j` of `w` (`k` wide): the naive product's value.
    fn naive(a: &[f32], w: &[f32], k: usize, i: usize, j: usize) -> f32 {
        (0..k).map(|t| a[i * k + t] * w[j * k + t]).sum()
    }

    /// Asserts that each of the `m x n` values of `c` (rows `ldc` apart) is within `tol` of
    /// `want(i, j)`, relative to its size (plus `tol` absolute); `what` names the case.
    fn assert_close_to(
        c: &[f32],
        (m, n, ldc): (usize, usize, usize),
        tol: f32,
        what: &str,
        want: impl Fn(usize, usize) -> f32,
    ) {
        for i in 0..m {
            for j in 0..n {
                let (got, want) = (c[i * ldc + j], want(i, j));
                assert!(
                    (got - want).abs() <= tol * (1.0 + want.abs()),
                    "{what} at ({i}, {j}): {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn row_blocks_cover_the_rows_evenly_within_the_cache_bound() {
        for m in [0usize, 1, 5, 6, 7, 64, 100, 511, 512, 1024, 4099] {
            for threads in [1, 2, 3, 8] {
                for most in [MR, 36, 90, MC] {
                    let groups = m.div_ceil(MR);
                    let blocks = row_block_count(groups, most / MR, threads);
                    let ranges: Vec<_> = (0..blocks).map(|b| row_block(b, blocks, m)).collect();
                    let mut next = 0;
                    for r in &ranges {
                        assert_eq!(r.start, next, "m {m}: blocks leave a gap or overlap");
                        assert!(r.len() <= most, "m {m}: a block of {} rows", r.len());
                        assert!(r.start.is_multiple_of(MR));
                        next = r.end;
                    }
                    assert_eq!(next, m, "m {m}: blocks do not reach the last row");
                    let full = ranges.iter().filter(|r| r.end < m || m.is_multiple_of(MR));
                    let sizes: Vec<usize> = full.map(|r| r.len()).collect();
                    if let (Some(lo), Some(hi)) = (sizes.iter().min(), sizes.iter().max()) {
                        assert!(hi - lo <= MR, "m {m}, {threads} threads: blocks {sizes:?}");
                    }
                    assert!(
                        blocks.is_multiple_of(threads) || blocks == groups.max(1),
                        "m {m}, {threads} threads: {blocks} blocks"
                    );
                }
            }
        }
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
            // a wide output taken NC columns at a time, the last chunk partial
            (13, 3000, 300),
            // no depth: C keeps or starts from its starting values
            (7, 17, 0),
        ] {
            let a = values(m * k, 1.0);
            let w = values(n * k, 2.0);
            let packed = PackedWeight::new(&w, n, k);
            let check = |c: &[f32], init: &dyn Fn(usize, usize) -> f32, what: &str| {
                assert_close_to(
                    c,
                    (m, n, n),
                    1e-4,
                    &format!("{what} {m}x{n}x{k}"),
                    |i, j| init(i, j) + naive(&a, &w, k, i, j),
                );
            };
            // added to what C holds
            let held = values(m * n, 3.0);
            let mut c = held.clone();
            matmul_acc(&a, m, &packed, &mut c);
            check(&c, &|i, j| held[i * n + j], "C +=");
            // a new C from bias + residual, finished in row blocks
            let (bias, residual) = (values(n, 4.0), values(m * n, 5.0));
            let start = Start::BiasResidual {
                bias: &bias,
                residual: &residual,
            };
            let c = matmul(&a, m, &packed, start, |_| {});
            check(
                &c,
                &|i, j| bias[j] + residual[i * n + j],
                "C = bias + residual +",
            );
        }
    }

    #[test]
    fn two_products_in_a_row_match_their_naive_composition() {
        // an intermediate narrow enough to stay in cache (fused), and one so wide that the two
        // products run one after the other
        for &(m, k, between_n, n) in &[(20, 24, 50, 24), (20, 8, 3000, 8)] {
            assert_eq!(fused_rows(between_n, n) >= FUSED_MIN_ROWS, between_n == 50);
            let a = values(m * k, 1.0);
            let (w1, w2) = (values(between_n * k, 2.0), values(n * between_n, 3.0));
            let (b1, b2) = (values(between_n, 4.0), values(n, 5.0));
            let residual = values(m * n, 6.0);
            let relu = |x: &mut [f32]| x.iter_mut().for_each(|v| *v = v.max(0.0));
            let got = matmul_two(
                &a,
                m,
                &PackedWeight::new(&w1, between_n, k),
                Start::Bias(&b1),
                relu,
                &PackedWeight::new(&w2, n, between_n),
                Start::BiasResidual {
                    bias: &b2,
                    residual: &residual,
                },
                |x| x.iter_mut().for_each(|v| *v *= 2.0),
            );
            let h: Vec<f32> = (0..m * between_n)
                .map(|x| {
                    (b1[x % between_n] + naive(&a, &w1, k, x / between_n, x % between_n)).max(0.0)
                })
                .collect();
            assert_close_to(
                &got,
                (m, n, n),
                1e-3,
                &format!("{between_n} wide"),
                |i, j| 2.0 * (b2[j] + residual[i * n + j] + naive(&h, &w2, between_n, i, j)),
            );
        }
    }

    #[test]
    fn an_overwriting_product_ignores_what_c_held() {
        // depth over one KC block (the second block adds to the first), edge rows and columns,
        // and an empty depth (all zeros)
        for &(m, n, k) in &[(13, 40, 300), (6, 16, 32), (7, 17, 0)] {
            let a = values(m * k, 1.0);
            let w = values(n * k, 2.0);
            let packed = PackedWeight::new(&w, n, k);
            // C starts as garbage, a NaN included, rows 3 values wider than n
            let ldc = n + 3;
            let mut c = values(m * ldc, 3.0);
            c[0] = f32::NAN;
            let before = c.clone();
            // SAFETY: `c` holds m rows of n values, ldc apart.
            unsafe {
                gemm_rows(
                    &a,
                    k,
                    m,
                    &packed.panels(),
                    &mut Scratch::default(),
                    c.as_mut_ptr(),
                    ldc,
                    Output::Overwrite,
                );
            }
            for (row, before) in c.chunks(ldc).zip(before.chunks(ldc)) {
                for (got, before) in row[n..].iter().zip(&before[n..]) {
                    assert_eq!(got.to_bits(), before.to_bits(), "padding");
                }
            }
            assert_close_to(&c, (m, n, ldc), 1e-4, &format!("{m}x{n}x{k}"), |i, j| {
                naive(&a, &w, k, i, j)
            });
        }
    }

    #[test]
    fn quantised_weights_give_the_product_of_their_dequantised_values() {
        // k over one KC block and not a multiple of the quantisation block; n not a multiple
        // of NR
        let (m, n, k) = (13, 21, 300);
        let a = values(m * k, 7.0);
        let w = values(n * k, 8.0);
        for (bits, quantize, steps) in [
            (
                Bits::Eight,
                block_quant::quantize_block_q8 as fn(&[f32], &mut [i8]) -> f32,
                127.0,
            ),
            // 4-bit: a value of the other sign than the extreme may clamp from +8 to +7, a
            // whole step
            (Bits::Four, block_quant::quantize_block_q4, 4.0),
        ] {
            // each row of w as its blocks dequantise it
            let mut dequantised = vec![0f32; n * k];
            for (row, out) in w.chunks(k).zip(dequantised.chunks_mut(k)) {
                for (block, out) in row
                    .chunks(block_quant::BLOCK)
                    .zip(out.chunks_mut(block_quant::BLOCK))
                {
                    let mut q = [0i8; block_quant::BLOCK];
                    let scale = quantize(block, &mut q[..block.len()]);
                    let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
                    for ((o, &q), &x) in out.iter_mut().zip(&q).zip(block) {
                        *o = f32::from(q) * scale;
                        // within half a step of the f32 value
                        assert!((*o - x).abs() <= amax / steps * 0.5 + 1e-6, "{bits:?}");
                    }
                }
            }
            let mut c = vec![0f32; m * n];
            matmul_acc(&a, m, &PackedWeight::new_quantized(&w, n, k, bits), &mut c);
            assert_close_to(&c, (m, n, n), 1e-4, &format!("{bits:?}"), |i, j| {
                naive(&a, &dequantised, k, i, j)
            });
        }
    }

    #[test]
    fn the_dispatch_takes_the_widest_kernel_this_cpu_runs() {
        let runnable = Micro::runnable();
        let widest = runnable.last().copied().unwrap_or(Micro::Portable);
        let expected = match widest {
            #[cfg(target_arch = "x86_64")]
            Micro::Avx512 if std::env::var_os("NABA_NO_AVX512").is_some() => widest.single(),
            Micro::Emulated512 => Micro::Portable,
            other => other,
        };
        assert_eq!(Micro::detected(), expected, "runnable: {runnable:?}");
        // scripts/test-avx512 checks this line to know the AVX-512 kernel really ran
        println!("dispatched micro-kernel: {:?}", Micro::detected());
    }

    #[test]
    fn every_micro_kernel_reads_a_weight_in_place_at_any_stride() {
        // `[k, n]` read in place, runs `ld` apart (not a packed weight's NR): the kernels'
        // run-time stride; two depth blocks and edge rows
        let (m, n, k, ld) = (13, 48, 300, 48 + 5);
        let a = values(m * k, 1.0);
        let src = values(k * ld, 2.0);
        for micro in Micro::runnable() {
            let mut c = vec![f32::NAN; m * n];
            // SAFETY: `c` holds m rows of n values; this CPU runs `micro`.
            unsafe {
                gemm_rows_with(
                    micro,
                    &a,
                    k,
                    m,
                    &Panels::in_place(&src, 0, k, n, ld),
                    &mut Scratch::default(),
                    c.as_mut_ptr(),
                    n,
                    Output::Overwrite,
                );
            }
            assert_close_to(&c, (m, n, n), 1e-4, &format!("{micro:?}"), |i, j| {
                (0..k).map(|t| a[i * k + t] * src[t * ld + j]).sum()
            });
        }
    }

    #[test]
    fn every_micro_kernel_this_cpu_runs_matches_a_naive_product() {
        // pairs of panels whole and cut, an unpaired last panel, edge rows, two depth blocks,
        // and a wide output in column chunks; each output adding to C, overwriting it and
        // starting from a bias, with and without a residual (from its third row on)
        let shapes = [
            (7, 17, 5),
            (13, 40, 300),
            (12, 48, 9),
            (200, 33, 530),
            (13, 3000, 300),
        ];
        for micro in Micro::runnable() {
            for &(m, n, k) in &shapes {
                let a = values(m * k, 1.0);
                let w = values(n * k, 2.0);
                let held = values(m * n, 3.0);
                let bias = values(n, 4.0);
                let residual = values((m + 2) * n, 5.0);
                let outputs = [
                    Output::Add,
                    Output::Overwrite,
                    Output::Start {
                        start: Start::Bias(&bias),
                        first_row: 0,
                    },
                    Output::Start {
                        start: Start::BiasResidual {
                            bias: &bias,
                            residual: &residual,
                        },
                        first_row: 2,
                    },
                ];
                for output in outputs {
                    let mut c = held.clone();
                    // SAFETY: `c` holds m rows of n values; this CPU runs `micro`.
                    unsafe {
                        gemm_rows_with(
                            micro,
                            &a,
                            k,
                            m,
                            &PackedWeight::new(&w, n, k).panels(),
                            &mut Scratch::default(),
                            c.as_mut_ptr(),
                            n,
                            output,
                        );
                    }
                    let what = format!("{micro:?} {output:?} {m}x{n}x{k}");
                    assert_close_to(&c, (m, n, n), 1e-4, &what, |i, j| {
                        let start = match output {
                            Output::Add => held[i * n + j],
                            Output::Overwrite => 0.0,
                            Output::Start {
                                start: Start::Bias(bias),
                                ..
                            } => bias[j],
                            Output::Start {
                                start: Start::BiasResidual { bias, residual },
                                first_row,
                            } => bias[j] + residual[(first_row + i) * n + j],
                        };
                        start + naive(&a, &w, k, i, j)
                    });
                }
            }
        }
    }
}
