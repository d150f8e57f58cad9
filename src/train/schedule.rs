//! Learning-rate schedules: linear warmup, then linear or cosine decay to zero (transformers'
//! `get_linear_schedule_with_warmup` / `get_cosine_schedule_with_warmup`).

use serde::{Deserialize, Serialize};

/// The decay after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Decay {
    /// Linear to zero at the last step.
    #[default]
    Linear,
    /// Half a cosine to zero at the last step.
    Cosine,
    /// Constant after warmup.
    Constant,
}

/// A warmup + decay schedule over `total` optimiser steps.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Schedule {
    /// Peak learning rate.
    pub peak: f64,
    /// Warmup steps.
    pub warmup: u64,
    /// Total optimiser steps.
    pub total: u64,
    /// Decay shape.
    pub decay: Decay,
}

impl Schedule {
    /// The learning rate for optimiser step `step` (0-based), as transformers computes it.
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.peak * step as f64 / self.warmup.max(1) as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let progress = ((step - self.warmup) as f64 / span).min(1.0);
        match self.decay {
            Decay::Linear => self.peak * (1.0 - progress).max(0.0),
            Decay::Cosine => self.peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
            Decay::Constant => self.peak,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_linear_decay() {
        let s = Schedule {
            peak: 1e-3,
            warmup: 10,
            total: 110,
            decay: Decay::Linear,
        };
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(5) - 5e-4).abs() < 1e-12);
        assert!((s.lr(10) - 1e-3).abs() < 1e-12);
        assert!((s.lr(60) - 5e-4).abs() < 1e-12);
        assert_eq!(s.lr(110), 0.0);
        let c = Schedule {
            decay: Decay::Cosine,
            ..s
        };
        assert!((c.lr(60) - 5e-4).abs() < 1e-12);
    }
}
