//! Seeded dropout, so that training runs (and resumed runs) are reproducible.

use std::sync::Mutex;

use candle_core::{Result, Tensor};

use super::kernels::dropout::mix64;
use super::ops;

/// Whether a forward pass trains (dropout on) or evaluates (dropout off).
pub enum Mode<'a> {
    /// Inference: dropout is the identity.
    Eval,
    /// Training: dropout draws its masks from this generator.
    Train(&'a DropoutRng),
}

impl Mode<'_> {
    /// Applies dropout with probability `p` to `x` in training mode; returns `x` otherwise.
    pub fn dropout(&self, x: &Tensor, p: f64) -> Result<Tensor> {
        match self {
            Mode::Train(rng) if p > 0.0 => rng.apply(x, p),
            _ => Ok(x.clone()),
        }
    }

    /// The key of a fresh dropout mask with probability `p` (see [`ops::dropout`]), or `None`
    /// when this pass drops nothing; for ops that fuse dropout into another kernel.
    pub fn dropout_key(&self, p: f64) -> Result<Option<u64>> {
        match self {
            Mode::Train(rng) if p > 0.0 => rng.next_key().map(Some),
            _ => Ok(None),
        }
    }

    /// Whether this is a training pass.
    pub fn is_train(&self) -> bool {
        matches!(self, Mode::Train(_))
    }
}

/// The random generator behind dropout masks; its state can be saved and restored.
///
/// Each call draws a fresh 64-bit mask key from `(seed, call number)`; the mask elements are
/// a hash of that key and the element index, so they are generated in parallel and the
/// masks depend only on the seed and the order of calls.
pub struct DropoutRng {
    state: Mutex<KeyState>,
}

/// The seed and how many masks were drawn since seeding.
struct KeyState {
    seed: u64,
    calls: u64,
}

impl DropoutRng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: Mutex::new(KeyState { seed, calls: 0 }),
        }
    }

    /// Reseeds (e.g. per step when resuming, so masks depend only on the seed and the step).
    pub fn reseed(&self, seed: u64) {
        if let Ok(mut state) = self.state.lock() {
            *state = KeyState { seed, calls: 0 };
        }
    }

    /// The key of the next mask.
    fn next_key(&self) -> Result<u64> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| candle_core::Error::Msg("dropout rng poisoned".into()))?;
        state.calls += 1;
        Ok(mix64(mix64(state.seed) ^ state.calls))
    }

    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`.
    pub fn apply(&self, x: &Tensor, p: f64) -> Result<Tensor> {
        ops::dropout(x, self.next_key()?, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn dropout_is_seeded_scaled_and_off_in_eval() {
        let x = Tensor::ones((100, 100), candle_core::DType::F32, &Device::Cpu).unwrap();
        let a = DropoutRng::new(7);
        let b = DropoutRng::new(7);
        let ya = Mode::Train(&a).dropout(&x, 0.1).unwrap();
        let yb = Mode::Train(&b).dropout(&x, 0.1).unwrap();
        let va: Vec<f32> = ya.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(va, yb.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        let zeros = va.iter().filter(|v| **v == 0.0).count();
        assert!((700..1300).contains(&zeros), "{zeros} zeros of 10000");
        let mean = va.iter().sum::<f32>() / va.len() as f32;
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        let yc = Mode::Train(&a).dropout(&x, 0.1).unwrap();
        assert_ne!(va, yc.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        a.reseed(7);
        let yr = Mode::Train(&a).dropout(&x, 0.1).unwrap();
        assert_eq!(va, yr.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        let ye = Mode::Eval.dropout(&x, 0.1).unwrap();
        assert_eq!(ye.sum_all().unwrap().to_scalar::<f32>().unwrap(), 10000.0);
    }
}
