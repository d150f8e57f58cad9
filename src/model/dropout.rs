//! Seeded dropout, so that training runs (and resumed runs) are reproducible.

use std::sync::Mutex;

use candle_core::{Result, Tensor};
use rand::{Rng, SeedableRng};

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

    /// Whether this is a training pass.
    pub fn is_train(&self) -> bool {
        matches!(self, Mode::Train(_))
    }
}

/// The random generator behind dropout masks; its state can be saved and restored.
pub struct DropoutRng {
    rng: Mutex<rand::rngs::StdRng>,
}

impl DropoutRng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
        }
    }

    /// Reseeds (e.g. per step when resuming, so masks depend only on the seed and the step).
    pub fn reseed(&self, seed: u64) {
        if let Ok(mut r) = self.rng.lock() {
            *r = rand::rngs::StdRng::seed_from_u64(seed);
        }
    }

    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`.
    pub fn apply(&self, x: &Tensor, p: f64) -> Result<Tensor> {
        let n = x.elem_count();
        let keep = 1.0 - p;
        let scale = (1.0 / keep) as f32;
        let mask: Vec<f32> = {
            let mut rng = self
                .rng
                .lock()
                .map_err(|_| candle_core::Error::Msg("dropout rng poisoned".into()))?;
            (0..n)
                .map(|_| if rng.gen::<f64>() < keep { scale } else { 0.0 })
                .collect()
        };
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x.mul(&mask)
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
        let ye = Mode::Eval.dropout(&x, 0.1).unwrap();
        assert_eq!(ye.sum_all().unwrap().to_scalar::<f32>().unwrap(), 10000.0);
    }
}
