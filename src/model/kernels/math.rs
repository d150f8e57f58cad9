//! Scalar math written so that the compiler vectorises it: an 8-lane sum, `exp` and `erf`
//! without libm calls.

const LANES: usize = 8;

/// Sum of `f(x)` over `xs` with 8 independent accumulators (vectorisable, fixed order).
#[inline(always)]
pub fn sum_map(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a += f(x);
        }
    }
    let mut total = tail.iter().map(|&x| f(x)).sum::<f32>();
    for a in acc {
        total += a;
    }
    total
}

/// Dot product with 8 independent accumulators.
#[inline(always)]
pub fn dot(xs: &[f32], ys: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let n = xs.len().min(ys.len());
    let full = n / LANES * LANES;
    for (cx, cy) in xs[..full]
        .chunks_exact(LANES)
        .zip(ys[..full].chunks_exact(LANES))
    {
        for i in 0..LANES {
            acc[i] += cx[i] * cy[i];
        }
    }
    let mut total = 0f32;
    for i in full..n {
        total += xs[i] * ys[i];
    }
    for a in acc {
        total += a;
    }
    total
}

/// Largest element (`-inf` for an empty slice).
#[inline(always)]
pub fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = if x > *a { x } else { *a };
        }
    }
    tail.iter()
        .chain(acc.iter())
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

/// `e^x` within about 2 ulp (Cephes `expf`); exactly 0 below -87.3, saturates above 88.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let below = x < -87.3;
    let x = x.clamp(-87.3, 88.0);
    // `shifted` holds round(x log2 e) in its low mantissa bits: read it as an integer without a
    // float-to-int conversion (Rust's saturating `as i32` would stop vectorisation)
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n_int + 127) << 23) as u32);
    if below {
        0.0
    } else {
        y * scale
    }
}

/// The error function, absolute error below 4e-7: the rational approximation of Eigen and XLA
/// (odd numerator of degree 13, even denominator of degree 8, input clamped to [-4, 4]), with
/// no `exp` and one division.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_600_1e-3,
        -1.609_603_3e-2,
    ];
    const BETA: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329_3e-3,
        -1.426_474e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = ALPHA[1..].iter().fold(ALPHA[0], |p, &a| p * x2 + a) * x;
    let q = BETA[1..].iter().fold(BETA[0], |q, &b| q * x2 + b);
    p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_match_std_and_libm() {
        for i in -1740..1760 {
            let x = i as f32 * 0.05;
            let e = exp(x);
            let want = (x as f64).exp();
            assert!(
                ((e as f64 - want) / want).abs() < 3e-7,
                "exp({x}) = {e}, want {want}"
            );
        }
        assert_eq!(exp(-1e30), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        for i in -800..800 {
            let x = i as f32 * 0.01;
            let want = candle_core::cpu::erf::erf_f64(x as f64);
            assert!(
                (erf(x) as f64 - want).abs() < 4e-7,
                "erf({x}) = {}, want {want}",
                erf(x)
            );
        }
    }

    #[test]
    fn reductions_match_naive_loops() {
        let xs: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let ys: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive_dot: f32 = xs.iter().zip(&ys).map(|(a, b)| a * b).sum();
        assert!((dot(&xs, &ys) - naive_dot).abs() < 1e-5);
        assert!((sum_map(&xs, |x| x * 2.0) - 2.0 * xs.iter().sum::<f32>()).abs() < 1e-5);
        let m = xs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(max(&xs), m);
    }
}
