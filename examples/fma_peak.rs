//! The machine's f32 multiply-add ceiling: GFLOP/s of AVX2 FMAs on 12 independent accumulators
//! (no memory traffic), on 1 thread and on N, to set inference figures against
//! (docs/results.md: what fraction of the peak an engine's tokens/s amount to).
//! `cargo run --release --example fma_peak -- [THREADS] [SECONDS]` (default 2 threads, 1 s each).

use std::time::Instant;

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
    let mut lanes = [0f32; 8];
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, &a| _mm256_add_ps(s, a));
    _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
    lanes.iter().sum()
}

/// Floating-point operations of one `fma_loop` iteration: 12 FMAs of 8 lanes, 2 flops each.
const FLOPS_PER_ITER: f64 = 12.0 * 8.0 * 2.0;

/// GFLOP/s of `threads` threads each running `iters` iterations at once.
fn measure(threads: usize, iters: u64) -> f64 {
    let t0 = Instant::now();
    let sums: Vec<f32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            // SAFETY: main checked that the CPU runs AVX2 and FMA.
            .map(|_| s.spawn(move || unsafe { fma_loop(iters) }))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    // keep the sums observable so the loop is not optimised away
    std::hint::black_box(sums);
    threads as f64 * iters as f64 * FLOPS_PER_ITER / secs / 1e9
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
        // calibrate: iterations for about `seconds` on one thread
        let probe = 10_000_000;
        let rate = measure(1, probe) * 1e9 / FLOPS_PER_ITER;
        let iters = (rate * seconds) as u64;
        for t in [1, threads] {
            println!(
                "{t} thread(s): {:.1} GFLOP/s (f32 AVX2 FMA)",
                measure(t, iters)
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    eprintln!("fma_peak: x86_64 only");
}
