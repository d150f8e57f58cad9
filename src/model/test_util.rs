//! Helpers shared by the unit tests of the model modules.

use candle_core::Tensor;

/// The largest absolute value of `t`.
pub fn max_abs(t: &Tensor) -> f32 {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .expect("f32 tensor")
        .iter()
        .fold(0f32, |m, x| m.max(x.abs()))
}

/// The largest absolute difference between `a` and `b` (same shape).
pub fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    max_abs(&(a - b).expect("same shape"))
}
