//! The order of training batches: shuffled, grouped by length so padding stays small, cut by a
//! token budget, and fully determined by the seed and the epoch (so a resumed run sees exactly
//! the batches an uninterrupted one would).

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// How training examples are grouped into micro-batches.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct BatchPlan {
    /// Most examples in one micro-batch.
    pub batch_size: usize,
    /// Most padded tokens in one micro-batch (rows x longest row).
    pub max_tokens: usize,
    /// Examples sorted together by length (a multiple of the batch size).
    pub pool: usize,
}

/// A random generator for `(seed, stream, index)`, independent across streams.
pub fn rng_for(seed: u64, stream: u64, index: u64) -> rand::rngs::StdRng {
    let mixed = seed
        ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    rand::rngs::StdRng::seed_from_u64(mixed)
}

impl BatchPlan {
    /// The micro-batches of `epoch`: lists of example indices.
    pub fn epoch(&self, lengths: &[usize], seed: u64, epoch: u64) -> Vec<Vec<usize>> {
        let mut rng = rng_for(seed, 1, epoch);
        let mut order: Vec<usize> = (0..lengths.len()).collect();
        order.shuffle(&mut rng);
        let mut batches = Vec::new();
        for pool in order.chunks(self.pool.max(self.batch_size).max(1)) {
            batches.extend(crate::model::batch::length_buckets_of(
                pool.to_vec(),
                lengths,
                self.max_tokens,
                self.batch_size,
            ));
        }
        batches.shuffle(&mut rng);
        batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_deterministic_complete_and_within_budget() {
        let lengths: Vec<usize> = (0..500).map(|i| 5 + (i * 37) % 120).collect();
        let plan = BatchPlan {
            batch_size: 16,
            max_tokens: 1024,
            pool: 16 * 8,
        };
        let a = plan.epoch(&lengths, 7, 0);
        assert_eq!(a, plan.epoch(&lengths, 7, 0));
        assert_ne!(a, plan.epoch(&lengths, 7, 1));
        let mut all: Vec<usize> = a.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..500).collect::<Vec<_>>());
        for b in &a {
            let w = b.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(b.len() <= 16 && (w * b.len() <= 1024 || b.len() == 1));
        }
    }
}
