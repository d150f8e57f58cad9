//! The machine's multiply-add ceilings, to set inference figures against (docs/results.md: what
//! fraction of the peak an engine's tokens/s amount to), on 1 thread and on N:
//! - `fma`: f32 AVX2 FMAs on 12 independent accumulators, no memory traffic (the FMA peak);
//! - `f32-tile`: the shape of naba's f32 micro-kernel, a 6 x 16 tile of 12 accumulators fed by
//!   two weight loads and six broadcasts per depth step, all from L1 (the ceiling of that loop);
//! - `i8-tile`: the shape of the i8 kernel, `vpmaddubsw` + `vpmaddwd` (by ones) + `vpaddd` on a
//!   6 x 16 tile, four depths per step, from L1; counted as 2 operations per multiply-add.
//!
//! `cargo run --release --example fma_peak -- [THREADS] [SECONDS]` (default 2 threads, 1 s each).

use std::time::Instant;

/// Depth steps per pass of the tile loops: their operands (at most 16 KB) stay in L1.
const STEPS: usize = 256;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_ps(); 12];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = _mm256_set1_ps(i as f32 * 1e-3);
    }
    let (mul, add) = (_mm256_set1_ps(0.999_9), _mm256_set1_ps(1e-5));
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, mul, add);
        }
    }
    sum_ps(&acc)
}

/// The lanes of `acc` added up (keeps the loops' results observable).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sum_ps(acc: &[std::arch::x86_64::__m256]) -> f32 {
    use std::arch::x86_64::*;
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, &a| _mm256_add_ps(s, a));
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
    lanes.iter().sum()
}

/// `iters` passes of [`STEPS`] depth steps of a 6 x 16 f32 tile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn f32_tile_loop(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a: Vec<f32> = (0..STEPS * 6).map(|i| (i % 97) as f32 * 1e-4).collect();
    let b: Vec<f32> = (0..STEPS * 16).map(|i| (i % 89) as f32 * 1e-4).collect();
    let mut acc = [_mm256_setzero_ps(); 12];
    for _ in 0..iters {
        for s in 0..STEPS {
            let b0 = _mm256_loadu_ps(b.as_ptr().add(s * 16));
            let b1 = _mm256_loadu_ps(b.as_ptr().add(s * 16 + 8));
            for i in 0..6 {
                let av = _mm256_broadcast_ss(&a[s * 6 + i]);
                acc[2 * i] = _mm256_fmadd_ps(av, b0, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_ps(av, b1, acc[2 * i + 1]);
            }
        }
    }
    sum_ps(&acc)
}

/// `iters` passes of [`STEPS`] depth steps (four depths each) of a 6 x 16 i8 tile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn i8_tile_loop(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a: Vec<u8> = (0..STEPS * 24).map(|i| (i % 251) as u8).collect();
    let b: Vec<i8> = (0..STEPS * 64).map(|i| (i % 127) as i8 - 63).collect();
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_si256(); 12];
    for _ in 0..iters {
        for s in 0..STEPS {
            let b0 = _mm256_loadu_si256(b.as_ptr().add(s * 64).cast());
            let b1 = _mm256_loadu_si256(b.as_ptr().add(s * 64 + 32).cast());
            for i in 0..6 {
                let quad = a
                    .as_ptr()
                    .add(s * 24 + i * 4)
                    .cast::<i32>()
                    .read_unaligned();
                let av = _mm256_set1_epi32(quad);
                let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones);
                let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones);
                acc[2 * i] = _mm256_add_epi32(acc[2 * i], p0);
                acc[2 * i + 1] = _mm256_add_epi32(acc[2 * i + 1], p1);
            }
        }
    }
    let floats: Vec<__m256> = acc.iter().map(|&v| _mm256_cvtepi32_ps(v)).collect();
    sum_ps(&floats)
}

/// A loop to measure: its name, operations per iteration and the loop itself.
#[cfg(target_arch = "x86_64")]
struct Loop {
    name: &'static str,
    ops_per_iter: f64,
    run: unsafe fn(u64) -> f32,
}

/// Giga-operations per second of `threads` threads each running `iters` iterations of `l` at
/// once.
#[cfg(target_arch = "x86_64")]
fn measure(l: &Loop, threads: usize, iters: u64) -> f64 {
    let t0 = Instant::now();
    let sums: Vec<f32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            // SAFETY: main checked that the CPU runs AVX2 and FMA.
            .map(|_| s.spawn(move || unsafe { (l.run)(iters) }))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    // keep the sums observable so the loop is not optimised away
    std::hint::black_box(sums);
    threads as f64 * iters as f64 * l.ops_per_iter / secs / 1e9
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            eprintln!("fma_peak: this CPU has no AVX2 + FMA");
            std::process::exit(1);
        }
        let mut args = std::env::args().skip(1);
        let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
        let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1.0);
        let tile_ops = (STEPS * 6 * 16 * 2) as f64;
        let loops = [
            Loop {
                name: "fma: f32 AVX2 FMA, 12 chains in registers",
                ops_per_iter: 12.0 * 8.0 * 2.0,
                run: fma_loop,
            },
            Loop {
                name: "f32-tile: 6 x 16 FMA tile from L1",
                ops_per_iter: tile_ops,
                run: f32_tile_loop,
            },
            Loop {
                name: "i8-tile: 6 x 16 vpmaddubsw tile from L1",
                ops_per_iter: tile_ops * 4.0,
                run: i8_tile_loop,
            },
        ];
        for l in &loops {
            // calibrate: iterations for about `seconds` on one thread
            let probe = (2e8 / l.ops_per_iter) as u64 + 1;
            let rate = measure(l, 1, probe) * 1e9 / l.ops_per_iter;
            let iters = (rate * seconds) as u64 + 1;
            for t in [1, threads] {
                println!(
                    "{t} thread(s): {:6.1} G op/s ({})",
                    measure(l, t, iters),
                    l.name
                );
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    eprintln!("fma_peak: x86_64 only");
}
