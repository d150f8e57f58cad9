//! naba's packed-weight sgemm (`kernels::sgemm`) against the gemm crate on the encoder's
//! projection shapes (e5-small's and BERT-base's), 2 threads: best-of-N GFLOP/s of `C += A W^T`.
//! `cargo run --release --example bench_gemm -- [REPEATS]`

use std::time::Instant;

use naba::model::sgemm::{matmul_acc, PackedWeight};

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// Best seconds of `f` over `repeats` runs.
fn best(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .map_or(15, |s| s.parse().expect("REPEATS"));
    let threads = rayon::current_num_threads();
    for (m, n, k) in [
        (1024, 384, 384),
        (1024, 1152, 384),
        (1024, 1536, 384),
        (1024, 384, 1536),
        (512, 1152, 384),
        (512, 1536, 384),
        (512, 384, 1536),
        (2048, 1536, 384),
        (2048, 384, 1536),
        // BERT-base's (768 hidden, 3,072 FFN) at 512 and 1,024 rows
        (512, 2304, 768),
        (512, 3072, 768),
        (512, 768, 3072),
        (1024, 2304, 768),
        (1024, 768, 3072),
    ] {
        let (a, w) = (values(m * k), values(n * k));
        let mut c = vec![0f32; m * n];
        let packed = PackedWeight::new(&w, n, k);
        let flops = 2.0 * (m * n * k) as f64;
        let ours = best(repeats, || matmul_acc(&a, m, &packed, &mut c));
        let crate_gemm = best(repeats, || unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                true,
                a.as_ptr(),
                1,
                k as isize,
                w.as_ptr(),
                k as isize,
                1,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(threads),
            )
        });
        println!(
            "{m:>5} x {n:>5} x {k:>5}: naba {:6.1} GFLOP/s  gemm crate {:6.1} GFLOP/s",
            flops / ours / 1e9,
            flops / crate_gemm / 1e9
        );
    }
}
