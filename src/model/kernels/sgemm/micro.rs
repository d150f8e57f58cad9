//! The micro-kernels of [`super`]: each computes tiles of `C`, each from an `MR`-row sliver of
//! `A` and one or two `NR`-column panel slivers of `W`, keeping the tile in registers while it
//! walks the depth. One call computes a [`Column`] of tiles, all the whole row groups of a panel
//! step (a single tile is a column of one).
//!
//! - AVX-512F: `MR x 2NR` from two adjacent panels, 12 accumulators of 16 lanes.
//! - AVX2 + FMA: `MR x NR` from one panel, 12 accumulators of 8 lanes.
//! - Portable: `MR x NR`, one multiply-add at a time.
//!
//! The AVX2 and AVX-512 kernels are one kernel, [`paired`], over [`Lanes`]; tests run that same
//! code with 16 lanes on plain float arrays ([`Micro::Emulated512`]), so the paired-panel path
//! is checked on CPUs without AVX-512 too. Setting `NABA_NO_AVX512` (to anything) keeps a CPU that has AVX-512 on
//! the AVX2 kernel.

#[cfg(target_arch = "x86_64")]
use super::super::avx2_fma;
use super::{MR, NR};

/// One micro-tile product, `C[MR x cols] = init + A[MR x kc] · B[kc x cols]` (see [`Init`]),
/// `cols` being `NR` per panel the kernel reads: `A`'s rows `lda` apart from `a`; the first
/// panel's rows `ldb` apart from `b`, the second's (paired kernels only) `ldb` apart from `b1`;
/// `C`'s rows `ldc` apart from `c`.
#[derive(Clone, Copy)]
pub(super) struct Tile {
    pub a: *const f32,
    pub lda: usize,
    pub b: *const f32,
    pub b1: *const f32,
    pub ldb: usize,
    pub kc: usize,
    pub c: *mut f32,
    pub ldc: usize,
    pub init: Init,
    /// Runs (`ldb` apart) of the panels the next tiles read, to prefetch while this one is
    /// computed: `ahead_runs` from `ahead` (and from `ahead1` for two panels).
    pub ahead: *const f32,
    pub ahead1: *const f32,
    pub ahead_runs: usize,
}

/// What a tile's product is added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Init {
    /// Nothing: `C = A·B`, `C`'s old values never read.
    Zero,
    /// `C`'s values: `C += A·B`.
    C,
    /// The tile's columns of a bias in every row, plus, unless `residual` is null, the tile's
    /// rows of a residual (`ldr` apart, from the tile's first column): `C = bias + residual +
    /// A·B`, `C`'s old values never read. This saves writing the starting values to `C` and
    /// reading them back.
    Bias {
        bias: *const f32,
        residual: *const f32,
        ldr: usize,
    },
}

impl Init {
    /// The starting value of the tile's row `i`, column `j`.
    ///
    /// # Safety
    /// `c` (for [`Init::C`]) and the bias and residual must cover row `i`, column `j`.
    pub unsafe fn value(self, c: *const f32, ldc: usize, i: usize, j: usize) -> f32 {
        match self {
            Init::Zero => 0.0,
            Init::C => *c.add(i * ldc + j),
            Init::Bias {
                bias,
                residual,
                ldr,
            } => {
                let b = *bias.add(j);
                if residual.is_null() {
                    b
                } else {
                    b + *residual.add(i * ldr + j)
                }
            }
        }
    }

    /// The same start for the rows `rows` further down.
    ///
    /// # Safety
    /// The residual (if any) must cover those rows.
    #[inline(always)]
    unsafe fn down(self, rows: usize) -> Self {
        match self {
            Init::Bias {
                bias,
                residual,
                ldr,
            } if !residual.is_null() => Init::Bias {
                bias,
                residual: residual.add(rows * ldr),
                ldr,
            },
            other => other,
        }
    }
}

/// The tiles of one panel step down `groups` whole row groups, run by one call of a kernel
/// ([`Micro::run_column`]) rather than one call per tile: tile `g` starts `g MR` rows further
/// down `A`, `C` and the residual than `first`, and prefetches its share of the next step's
/// runs ([`super::run_share`]). `first.ahead` (and `first.ahead1`) is where those runs start and
/// `first.ahead_runs` how many there are in all.
#[derive(Clone, Copy)]
pub(super) struct Column {
    /// The top tile, with all the next step's runs to share out.
    pub first: Tile,
    /// Whole row groups, one tile each.
    pub groups: usize,
    /// Runs per tile's share (`first.ahead_runs` shared among all the step's row groups).
    pub share: usize,
}

impl Column {
    /// A column of one tile, `t`.
    fn single(t: Tile) -> Self {
        Self {
            first: t,
            groups: 1,
            share: t.ahead_runs,
        }
    }

    /// Tile `g` (`g` may be `groups`: the tile of a last, partial row group).
    ///
    /// # Safety
    /// `A`, `C` and the residual must reach row `g MR`.
    #[inline(always)]
    pub unsafe fn tile(&self, g: usize) -> Tile {
        let t = self.first;
        let (first_run, runs) = super::share_at(t.ahead_runs, self.share, g);
        let skip = first_run * t.ldb;
        Tile {
            a: t.a.add(g * MR * t.lda),
            c: t.c.add(g * MR * t.ldc),
            init: t.init.down(g * MR),
            ahead: t.ahead.wrapping_add(skip),
            ahead1: if t.ahead1.is_null() {
                t.ahead1
            } else {
                t.ahead1.wrapping_add(skip)
            },
            ahead_runs: runs,
            ..t
        }
    }

    /// Runs `tile` on each tile, top to bottom. Kernels pass a closure written in their own
    /// body, so that it has their target features and is inlined there.
    ///
    /// # Safety
    /// As for [`Column::tile`], for every tile.
    #[inline(always)]
    unsafe fn each(&self, mut tile: impl FnMut(Tile)) {
        for g in 0..self.groups {
            tile(self.tile(g));
        }
    }
}

/// A micro-kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Micro {
    /// One multiply-add at a time, one panel.
    Portable,
    /// AVX2 + FMA, one panel.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512F, two panels.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// The AVX-512 kernel's code on 16-float arrays: runs on any CPU, two panels.
    #[cfg(test)]
    Emulated512,
}

impl Micro {
    /// The fastest kernel this CPU runs (decided once).
    pub fn detected() -> Self {
        use std::sync::OnceLock;
        static BEST: OnceLock<Micro> = OnceLock::new();
        *BEST.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if is_x86_feature_detected!("avx512f")
                    && avx2_fma()
                    && std::env::var_os("NABA_NO_AVX512").is_none()
                {
                    return Micro::Avx512;
                }
                if avx2_fma() {
                    return Micro::Avx2;
                }
            }
            Micro::Portable
        })
    }

    /// Panels the kernel reads at once: its tile is `MR x (panels * NR)`.
    pub fn panels(self) -> usize {
        match self {
            #[cfg(target_arch = "x86_64")]
            Micro::Avx512 => 2,
            #[cfg(test)]
            Micro::Emulated512 => 2,
            _ => 1,
        }
    }

    /// The one-panel kernel to take for a last, unpaired panel.
    pub fn single(self) -> Self {
        match self {
            #[cfg(target_arch = "x86_64")]
            Micro::Avx512 => Micro::Avx2,
            #[cfg(test)]
            Micro::Emulated512 => Micro::Portable,
            other => other,
        }
    }

    /// Computes `t`.
    ///
    /// # Safety
    /// The CPU must run this kernel (see [`Micro::detected`]). `t.a` must cover `MR` rows of
    /// `kc` values, `lda` apart; `t.b` (and `t.b1` for two panels) `kc` rows of `NR` values,
    /// `ldb` apart; `t.c` `MR` rows of `panels * NR` values, `ldc` apart.
    pub unsafe fn run(self, t: Tile) {
        self.run_column(Column::single(t))
    }

    /// Computes the tiles of `column`, whole tiles of this kernel's width.
    ///
    /// # Safety
    /// As for [`Micro::run`], for every tile of `column`.
    #[inline]
    pub unsafe fn run_column(self, column: Column) {
        match self {
            Micro::Portable => column.each(|t| portable(t)),
            #[cfg(target_arch = "x86_64")]
            Micro::Avx2 => avx2(column),
            #[cfg(target_arch = "x86_64")]
            Micro::Avx512 => avx512(column),
            #[cfg(test)]
            Micro::Emulated512 => column.each(|t| {
                if t.ldb == NR {
                    paired::<Emulated16, NR>(t)
                } else {
                    paired::<Emulated16, 0>(t)
                }
            }),
        }
    }
}

/// The portable kernel (same arithmetic, one multiply-add at a time).
unsafe fn portable(t: Tile) {
    let mut acc = [[0f32; NR]; MR];
    for kk in 0..t.kc {
        let bk = std::slice::from_raw_parts(t.b.add(kk * t.ldb), NR);
        for (i, row) in acc.iter_mut().enumerate() {
            let av = *t.a.add(i * t.lda + kk);
            for (x, &bv) in row.iter_mut().zip(bk) {
                *x = av.mul_add(bv, *x);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            *t.c.add(i * t.ldc + j) = t.init.value(t.c, t.ldc, i, j) + v;
        }
    }
}

/// Hints that the cache line at `p` will be read soon (no-op off x86_64).
#[inline(always)]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8)
    }
}

/// Prefetches the [`MR`] rows of `width` values (`NR` or `2 NR`) that a tile writing to `c` (`ldc`
/// apart) from `init` touches at its end: `C`'s, which it writes (and reads for [`Init::C`]), and
/// the residual's, so that neither stalls it.
#[inline(always)]
pub(super) fn prefetch_out(c: *const f32, ldc: usize, init: Init, width: usize) {
    // a row's first and last values, and its middle for two panels: every line it spans
    let rows = |start: *const f32, ld: usize| {
        for i in 0..MR {
            let row = start.wrapping_add(i * ld);
            prefetch(row);
            if width > NR {
                prefetch(row.wrapping_add(NR));
            }
            prefetch(row.wrapping_add(width - 1));
        }
    };
    rows(c, ldc);
    if let Init::Bias { residual, ldr, .. } = init {
        if !residual.is_null() {
            rows(residual, ldr);
        }
    }
}

/// The AVX2 + FMA kernel: [`paired`] on 256-bit registers, its two "panels" the two halves of
/// one, down a column of tiles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(column: Column) {
    // the closure is written here, so it has this function's target features
    column.each(|t| {
        let t = Tile {
            b1: t.b.add(Avx2Lanes::LANES),
            ..t
        };
        if t.ldb == NR {
            paired::<Avx2Lanes, NR>(t)
        } else {
            paired::<Avx2Lanes, 0>(t)
        }
    })
}

/// The AVX-512F kernel: [`paired`] on 512-bit registers, down a column of tiles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn avx512(column: Column) {
    // the closure is written here, so it has this function's target features
    column.each(|t| {
        if t.ldb == NR {
            paired::<Avx512Lanes, NR>(t)
        } else {
            paired::<Avx512Lanes, 0>(t)
        }
    })
}

/// What the paired kernel needs of a vector of f32 lanes.
pub(super) trait Lanes: Copy {
    /// Lanes per vector.
    const LANES: usize;
    /// All lanes zero.
    unsafe fn zero() -> Self;
    /// 16 values from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self;
    /// The value at `p` in every lane.
    unsafe fn splat(p: *const f32) -> Self;
    /// `a * b + c`, lane by lane, rounded once.
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self;
    /// `a + b`, lane by lane.
    unsafe fn add(a: Self, b: Self) -> Self;
    /// Writes the 16 lanes at `p` (unaligned).
    unsafe fn store(self, p: *mut f32);
}

/// One step of the paired kernel: the two panels' row `kk` times column `kk` of the `MR` rows
/// of `A`.
#[inline(always)]
unsafe fn paired_step<V: Lanes>(
    acc: &mut [V; 2 * MR],
    rows: &[*const f32; MR],
    b: *const f32,
    b1: *const f32,
    kk: usize,
) {
    let (v0, v1) = (V::load(b), V::load(b1));
    for i in 0..MR {
        let av = V::splat(rows[i].add(kk));
        acc[2 * i] = V::mul_add(av, v0, acc[2 * i]);
        acc[2 * i + 1] = V::mul_add(av, v1, acc[2 * i + 1]);
    }
}

/// Four steps of the paired kernel from `kk` (see [`paired_step`]), the panels' runs `ldb`
/// apart.
#[inline(always)]
unsafe fn four_steps<V: Lanes>(
    acc: &mut [V; 2 * MR],
    rows: &[*const f32; MR],
    b: *const f32,
    b1: *const f32,
    ldb: usize,
    kk: usize,
) {
    for step in kk..kk + 4 {
        paired_step(acc, rows, b.add(step * ldb), b1.add(step * ldb), step);
    }
}

/// The paired kernel: an `MR x 2 LANES` tile of `C` in 12 accumulators (6 rows x 2 vectors),
/// the vectors' weights read from `b` and `b1` (two panels for 16 lanes, the two halves of one
/// for 8), `k` unrolled by four. In its first `4 ahead_runs` steps it prefetches, every four
/// steps, one run of the weight slivers that the next tiles read (see [`Tile::ahead`]); the rows
/// it touches at its end (see [`prefetch_out`]) are prefetched at its start. `LDB` is the weight's
/// run stride when known at compile time (a packed weight's [`NR`]), else 0 and `t.ldb` is
/// used: a constant stride lets the weight loads take fixed offsets from one register.
#[inline(always)]
unsafe fn paired<V: Lanes, const LDB: usize>(t: Tile) {
    let ldb = if LDB == 0 { t.ldb } else { LDB };
    debug_assert_eq!(ldb, t.ldb);
    let Tile {
        a,
        lda,
        b,
        b1,
        kc,
        c,
        ldc,
        init,
        ahead,
        ahead1,
        ahead_runs,
        ..
    } = t;
    let width = 2 * V::LANES;
    prefetch_out(t.c, t.ldc, t.init, width);
    let rows: [*const f32; MR] = std::array::from_fn(|i| a.add(i * lda));
    let mut acc = [V::zero(); 2 * MR];
    let prefetch_run = |run: usize| {
        prefetch(ahead.wrapping_add(run * ldb));
        if width > NR {
            // a second panel: other cache lines
            prefetch(ahead1.wrapping_add(run * ldb));
        }
    };
    let unrolled = kc / 4 * 4;
    let mut kk = 0;
    if LDB == 0 {
        // one loop: with a stride in a register, two loops leave LLVM too few registers and it
        // spills accumulators
        while kk < unrolled {
            if kk / 4 < ahead_runs {
                prefetch_run(kk / 4);
            }
            four_steps(&mut acc, &rows, b, b1, ldb, kk);
            kk += 4;
        }
    } else {
        // the prefetching steps first, then the rest without a test per step
        while kk < unrolled.min(4 * ahead_runs) {
            prefetch_run(kk / 4);
            four_steps(&mut acc, &rows, b, b1, ldb, kk);
            kk += 4;
        }
        while kk < unrolled {
            four_steps(&mut acc, &rows, b, b1, ldb, kk);
            kk += 4;
        }
    }
    while kk < kc {
        paired_step(&mut acc, &rows, b.add(kk * ldb), b1.add(kk * ldb), kk);
        kk += 1;
    }
    for i in 0..MR {
        for (half, &v) in acc[2 * i..2 * i + 2].iter().enumerate() {
            store_started(init, c, ldc, i, half * V::LANES, v);
        }
    }
}

/// Stores `v` plus the starting values ([`Init`]) at the tile's row `i`, columns `j..j +
/// LANES` (`C`'s rows `ldc` apart from `c`).
///
/// # Safety
/// `c` and the bias and residual of `init` must cover those values.
#[inline(always)]
pub(super) unsafe fn store_started<V: Lanes>(
    init: Init,
    c: *mut f32,
    ldc: usize,
    i: usize,
    j: usize,
    v: V,
) {
    let out = c.add(i * ldc + j);
    let v = match init {
        Init::Zero => v,
        Init::C => V::add(V::load(out), v),
        Init::Bias {
            bias,
            residual,
            ldr,
        } => {
            let v = V::add(V::load(bias.add(j)), v);
            if residual.is_null() {
                v
            } else {
                V::add(V::load(residual.add(i * ldr + j)), v)
            }
        }
    };
    v.store(out);
}

/// 8 lanes in one AVX2 register.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Avx2Lanes(pub std::arch::x86_64::__m256);

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx2Lanes {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Self(std::arch::x86_64::_mm256_setzero_ps())
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Self(std::arch::x86_64::_mm256_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        Self(std::arch::x86_64::_mm256_broadcast_ss(&*p))
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        Self(std::arch::x86_64::_mm256_fmadd_ps(a.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Self(std::arch::x86_64::_mm256_add_ps(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        std::arch::x86_64::_mm256_storeu_ps(p, self.0)
    }
}

/// 16 lanes in one AVX-512 register.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Avx512Lanes(pub std::arch::x86_64::__m512);

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512Lanes {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Self(std::arch::x86_64::_mm512_setzero_ps())
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Self(std::arch::x86_64::_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> Self {
        Self(std::arch::x86_64::_mm512_set1_ps(*p))
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        Self(std::arch::x86_64::_mm512_fmadd_ps(a.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Self(std::arch::x86_64::_mm512_add_ps(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        std::arch::x86_64::_mm512_storeu_ps(p, self.0)
    }
}

/// 16 lanes as plain floats, with the same arithmetic as [`Avx512Lanes`] (a fused
/// multiply-add per lane).
#[cfg(test)]
#[derive(Clone, Copy)]
struct Emulated16([f32; 16]);

#[cfg(test)]
impl Lanes for Emulated16 {
    const LANES: usize = 16;
    unsafe fn zero() -> Self {
        Self([0.0; 16])
    }
    unsafe fn load(p: *const f32) -> Self {
        Self(std::ptr::read_unaligned(p as *const [f32; 16]))
    }
    unsafe fn splat(p: *const f32) -> Self {
        Self([*p; 16])
    }
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        Self(std::array::from_fn(|i| a.0[i].mul_add(b.0[i], c.0[i])))
    }
    unsafe fn add(a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|i| a.0[i] + b.0[i]))
    }
    unsafe fn store(self, p: *mut f32) {
        std::ptr::write_unaligned(p as *mut [f32; 16], self.0)
    }
}

#[cfg(test)]
impl Micro {
    /// Every kernel this CPU runs, the emulated one included.
    pub fn runnable() -> Vec<Micro> {
        let mut all = vec![Micro::Portable, Micro::Emulated512];
        #[cfg(target_arch = "x86_64")]
        {
            if avx2_fma() {
                all.push(Micro::Avx2);
                if is_x86_feature_detected!("avx512f") {
                    all.push(Micro::Avx512);
                }
            }
        }
        all
    }
}
