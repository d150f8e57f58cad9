//! Elementwise math without libm calls: 8-lane sums, maxima and dot products, `exp` and `erf`
//! written as scalar code the compiler vectorises, and AVX2 + FMA versions of the two hot
//! loops (softmax's shifted `exp` with its sum, GELU) where the CPU has them.

/// Independent accumulators in the vectorisable reductions: one AVX2 register of `f32`.
pub const LANES: usize = 8;

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

// Cephes `expf`: e^x = 2^n e^r with n = round(x log2 e), |r| <= ln 2 / 2, e^r by a polynomial.
const EXP_LOWEST: f32 = -87.3;
const EXP_HIGHEST: f32 = 88.0;
const LOG2E: f32 = std::f32::consts::LOG2_E;
const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];

/// `e^x` within about 2 ulp (Cephes `expf`); exactly 0 below -87.3, saturates above 88.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let below = x < EXP_LOWEST;
    let x = x.clamp(EXP_LOWEST, EXP_HIGHEST);
    // `shifted` holds round(x log2 e) in its low mantissa bits: read it as an integer without a
    // float-to-int conversion (Rust's saturating `as i32` would stop vectorisation)
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = EXP_POLY[1..].iter().fold(EXP_POLY[0], |p, &c| p * r + c);
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n_int + 127) << 23) as u32);
    if below {
        0.0
    } else {
        y * scale
    }
}

// Softmax's `e^(x - shift)` for `x <= shift`, as `2^t` with `t = x log2 e - shift log2 e` taken
// from one fused multiply-add: `2^t = 2^n 2^f` with `n = round(t)`, `|f| <= 1/2`, and `2^f` by a
// polynomial of degree 5 (a least-squares fit of the relative error with Lawson's reweighting,
// the constant term held at 1 so that the maximum maps to exactly 1; 1.9e-7 relative error
// evaluated in f32). Leaner than `exp` (no Cody-Waite reduction, one clamp)
// at the price of `t`'s own rounding: a relative error of about 6e-8 per unit of `|x - shift|`,
// nothing for the values near the row's maximum that dominate a softmax, and the same factor
// for the whole row where it comes from `shift log2 e`. `t` is clamped to `[-127, 127]`: below
// -126.5, `n = -127` makes the power of two's bits, and so the value, exactly 0 (masked keys get
// no weight at all).
const EXP2_LOWEST: f32 = -127.0;
const EXP2_HIGHEST: f32 = 127.0;
// the linear coefficient is fitted, 3 ulp from ln 2
#[allow(clippy::approx_constant)]
const EXP2_POLY: [f32; 6] = [
    1.326_469_4e-3,
    9.671_502e-3,
    5.550_733_6e-2,
    0.240_222_42,
    0.693_147,
    1.0,
];

/// `2^t` with `t` clamped to `[EXP2_LOWEST, EXP2_HIGHEST]` first (see the constants).
#[inline(always)]
fn exp2_clamped(t: f32) -> f32 {
    let t = t.clamp(EXP2_LOWEST, EXP2_HIGHEST);
    // `shifted` holds round(t) in its low mantissa bits, as in `exp`
    let shifted = t + ROUND;
    let f = t - (shifted - ROUND);
    let p = EXP2_POLY[1..].iter().fold(EXP2_POLY[0], |p, &c| p * f + c);
    let n = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    p * f32::from_bits(((n + 127) << 23) as u32)
}

/// Replaces each `x[i]` by `e^(x[i] - shift)` and returns their sum: the core of a softmax,
/// with `shift` the row's maximum. The values must not exceed `shift` by more than 88; those
/// more than 87.7 below it come out as 0 (see the constants above). Runs
/// eight lanes at a time with fused multiply-adds where the CPU has AVX2 and FMA (the compiler
/// does not fuse `a * b + c` on its own).
pub fn exp_shifted_in_place(x: &mut [f32], shift: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if super::avx2_fma() {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { exp_shifted_in_place_avx2(x, shift) };
        }
    }
    exp_shifted_in_place_portable(x, shift)
}

/// [`exp_shifted_in_place`] without FMA: `t = (x - shift) log2 e`, rounded twice.
fn exp_shifted_in_place_portable(x: &mut [f32], shift: f32) -> f32 {
    for v in x.iter_mut() {
        *v = exp2_clamped((*v - shift) * LOG2E);
    }
    sum_map(x, |v| v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_shifted_in_place_avx2(x: &mut [f32], shift: f32) -> f32 {
    use std::arch::x86_64::*;
    let offset = shift * LOG2E;
    let offset_v = _mm256_set1_ps(offset);
    let mut sums = [_mm256_setzero_ps(); 2];
    let mut chunks = x.chunks_exact_mut(2 * LANES);
    for chunk in &mut chunks {
        let p = chunk.as_mut_ptr();
        for (half, sum) in sums.iter_mut().enumerate() {
            let t = _mm256_fmsub_ps(
                _mm256_loadu_ps(p.add(half * LANES)),
                _mm256_set1_ps(LOG2E),
                offset_v,
            );
            let v = exp2_avx2(t);
            _mm256_storeu_ps(p.add(half * LANES), v);
            *sum = _mm256_add_ps(*sum, v);
        }
    }
    let mut lanes = [0f32; LANES];
    _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(sums[0], sums[1]));
    let mut total = 0f32;
    for v in chunks.into_remainder() {
        *v = exp2_clamped(v.mul_add(LOG2E, -offset));
        total += *v;
    }
    lanes.iter().fold(total, |t, &l| t + l)
}

/// [`exp2_clamped`] of eight lanes (a NaN lane becomes 0 here).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn exp2_avx2(t: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let t = _mm256_min_ps(
        _mm256_max_ps(t, _mm256_set1_ps(EXP2_LOWEST)),
        _mm256_set1_ps(EXP2_HIGHEST),
    );
    let round = _mm256_set1_ps(ROUND);
    let shifted = _mm256_add_ps(t, round);
    let f = _mm256_sub_ps(t, _mm256_sub_ps(shifted, round));
    let mut p = _mm256_set1_ps(EXP2_POLY[0]);
    for &c in &EXP2_POLY[1..] {
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(c));
    }
    // (n + 127) << 23 with n = shifted's bits - ROUND's bits
    let scale = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_castps_si256(shifted),
        _mm256_set1_epi32(127i32.wrapping_sub(ROUND.to_bits() as i32)),
    ));
    _mm256_mul_ps(p, _mm256_castsi256_ps(scale))
}

// Eigen / XLA's erf: odd numerator of degree 13 and even denominator of degree 8 in x.
const ERF_ALPHA: [f32; 7] = [
    -2.726_142_3e-10,
    2.770_681_4e-8,
    -2.101_024e-6,
    -5.692_506_4e-5,
    -7.349_906_3e-4,
    -2.954_600_1e-3,
    -1.609_603_3e-2,
];
const ERF_BETA: [f32; 5] = [
    -1.456_607_2e-5,
    -2.133_740_6e-4,
    -1.682_827e-3,
    -7.373_329_3e-3,
    -1.426_474e-2,
];
const ERF_LIMIT: f32 = 4.0;

/// The error function, absolute error below 4e-7: the rational approximation of Eigen and XLA
/// (odd numerator of degree 13, even denominator of degree 8, input clamped to [-4, 4]), with
/// no `exp` and one division.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-ERF_LIMIT, ERF_LIMIT);
    let x2 = x * x;
    let p = ERF_ALPHA[1..].iter().fold(ERF_ALPHA[0], |p, &a| p * x2 + a) * x;
    let q = ERF_BETA[1..].iter().fold(ERF_BETA[0], |q, &b| q * x2 + b);
    p / q
}

/// GELU (the exact, erf form) of each value in place: `x / 2 (1 + erf(x / sqrt 2))`. Runs eight
/// lanes at a time with fused multiply-adds where the CPU has AVX2 and FMA.
pub fn gelu_in_place(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if super::avx2_fma() {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { gelu_in_place_avx2(xs) };
        }
    }
    xs.iter_mut().for_each(|x| *x = gelu(*x));
}

/// GELU of one value (see [`gelu_in_place`]).
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_in_place_avx2(xs: &mut [f32]) {
    use std::arch::x86_64::*;
    let mut chunks = xs.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        let p = chunk.as_mut_ptr();
        let x = _mm256_loadu_ps(p);
        let e = erf_avx2(_mm256_mul_ps(
            x,
            _mm256_set1_ps(std::f32::consts::FRAC_1_SQRT_2),
        ));
        let half_x = _mm256_mul_ps(x, _mm256_set1_ps(0.5));
        _mm256_storeu_ps(p, _mm256_fmadd_ps(half_x, e, half_x));
    }
    chunks
        .into_remainder()
        .iter_mut()
        .for_each(|x| *x = gelu(*x));
}

/// [`erf`] of eight lanes, with the same coefficients.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn erf_avx2(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let x = _mm256_min_ps(
        _mm256_max_ps(x, _mm256_set1_ps(-ERF_LIMIT)),
        _mm256_set1_ps(ERF_LIMIT),
    );
    let x2 = _mm256_mul_ps(x, x);
    let mut p = _mm256_set1_ps(ERF_ALPHA[0]);
    for &a in &ERF_ALPHA[1..] {
        p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(a));
    }
    let mut q = _mm256_set1_ps(ERF_BETA[0]);
    for &b in &ERF_BETA[1..] {
        q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(b));
    }
    _mm256_div_ps(_mm256_mul_ps(p, x), q)
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
    fn vector_gelu_matches_the_scalar_one() {
        // 37 values: four 8-lane blocks and a scalar tail, past erf's clamp on both sides
        let xs: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 0.4).collect();
        let mut ys = xs.clone();
        gelu_in_place(&mut ys);
        for (&x, &y) in xs.iter().zip(&ys) {
            let want =
                0.5 * x as f64 * (1.0 + candle_core::cpu::erf::erf_f64(x as f64 / 2f64.sqrt()));
            assert!(
                (y as f64 - want).abs() < 2e-6,
                "gelu({x}) = {y}, want {want}"
            );
        }
    }

    #[test]
    fn shifted_exp_in_place_matches_exp_and_sums() {
        // 37 values: two 16-lane blocks and a scalar tail, spanning underflow to e^0, shifted
        // by a maximum whose own rounding in `shift log2 e` shows
        let shift = 3.0;
        let xs: Vec<f32> = (0..37).map(|i| shift - i as f32 * 2.9).collect();
        for vector in [true, false] {
            let exp_shifted: fn(&mut [f32], f32) -> f32 = if vector {
                exp_shifted_in_place
            } else {
                exp_shifted_in_place_portable
            };
            let mut ys = xs.clone();
            let sum = exp_shifted(&mut ys, shift);
            let mut want_sum = 0f64;
            for (&x, &y) in xs.iter().zip(&ys) {
                let d = (x - shift) as f64;
                if d < -87.3 {
                    assert!((0.0..1.2e-38).contains(&y), "e^({d}) = {y}");
                    continue;
                }
                let want = d.exp();
                want_sum += want;
                // the polynomial's 1.9e-7, and t's rounding: 6e-8 per unit of |x - shift| and of
                // shift with FMA, 1.2e-7 per unit of |x - shift| without
                let tolerance = 3e-7 + 1.2e-7 * (d.abs() + shift as f64);
                assert!(
                    (y as f64 - want).abs() <= tolerance * want,
                    "e^({d}) = {y}, want {want} (vector: {vector})"
                );
            }
            assert!((sum as f64 - want_sum).abs() < 1e-6 * want_sum);
            // far below the shift (a masked key): exactly 0
            let mut far = vec![0.0, -88.0, -1e30, f32::MIN];
            far.extend([-1e30; 16]);
            exp_shifted(&mut far, 0.0);
            assert_eq!(far[0], 1.0);
            assert!(far[1..].iter().all(|&v| v == 0.0), "{far:?}");
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
