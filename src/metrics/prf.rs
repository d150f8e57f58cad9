//! Precision, recall, F1 and support, from counts, and the three ways of averaging them over
//! classes (micro, macro, weighted) exactly as scikit-learn and seqeval do with
//! `zero_division=0`: a ratio whose denominator is 0 is 0.

use serde::{Deserialize, Serialize};

/// Precision, recall, F1 and support (the number of gold items) of one class or of an average.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    /// `tp / predicted` (0 when nothing was predicted).
    pub precision: f64,
    /// `tp / gold` (0 when there is nothing to find).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Number of gold items of the class (for an average: of all classes).
    pub support: usize,
}

/// The counts behind one class's scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Items predicted as the class that are gold items of the class.
    pub true_positives: usize,
    /// Items predicted as the class.
    pub predicted: usize,
    /// Gold items of the class.
    pub gold: usize,
}

/// How F1 is derived; scikit-learn and seqeval use formulas that are equal on paper but can
/// differ in the last bit, and both libraries are matched exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum F1Formula {
    /// scikit-learn: `2·tp / (gold + predicted)`.
    FromCounts,
    /// seqeval: `2·p·r / (p + r)`.
    FromRatios,
}

impl Counts {
    /// Element-wise sum of two count sets.
    pub(crate) fn plus(self, other: Counts) -> Counts {
        Counts {
            true_positives: self.true_positives + other.true_positives,
            predicted: self.predicted + other.predicted,
            gold: self.gold + other.gold,
        }
    }

    /// Precision, recall and F1 of these counts.
    pub(crate) fn scores(self, formula: F1Formula) -> Prf {
        let precision = ratio(self.true_positives as f64, self.predicted as f64);
        let recall = ratio(self.true_positives as f64, self.gold as f64);
        let f1 = match formula {
            F1Formula::FromCounts => ratio(
                2.0 * self.true_positives as f64,
                (self.gold + self.predicted) as f64,
            ),
            F1Formula::FromRatios => ratio(2.0 * precision * recall, precision + recall),
        };
        Prf {
            precision,
            recall,
            f1,
            support: self.gold,
        }
    }
}

/// `numerator / denominator`, or 0 when the denominator is 0 (`zero_division=0`).
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

/// Micro average: the scores of the summed counts.
pub(crate) fn micro_average(counts: &[Counts], formula: F1Formula) -> Prf {
    counts
        .iter()
        .fold(Counts::default(), |total, c| total.plus(*c))
        .scores(formula)
}

/// Macro average: the unweighted mean of the per-class scores (NaN when there are no classes,
/// as numpy's mean of an empty array); support is the total support.
pub(crate) fn macro_average(scores: &[Prf]) -> Prf {
    let mean = |field: fn(&Prf) -> f64| {
        let values: Vec<f64> = scores.iter().map(field).collect();
        numpy_sum(&values) / values.len() as f64
    };
    Prf {
        precision: mean(|s| s.precision),
        recall: mean(|s| s.recall),
        f1: mean(|s| s.f1),
        support: total_support(scores),
    }
}

/// Weighted average: the mean of the per-class scores weighted by support. When the total
/// support is 0 every score is 0 (seqeval's rule with `zero_division=0`).
pub(crate) fn weighted_average(scores: &[Prf]) -> Prf {
    let support = total_support(scores);
    if support == 0 {
        return Prf {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            support,
        };
    }
    let weights: Vec<f64> = scores.iter().map(|s| s.support as f64).collect();
    let weight_sum = numpy_sum(&weights);
    let mean = |field: fn(&Prf) -> f64| {
        let products: Vec<f64> = scores.iter().map(|s| field(s) * s.support as f64).collect();
        numpy_sum(&products) / weight_sum
    };
    Prf {
        precision: mean(|s| s.precision),
        recall: mean(|s| s.recall),
        f1: mean(|s| s.f1),
        support,
    }
}

fn total_support(scores: &[Prf]) -> usize {
    scores.iter().map(|s| s.support).sum()
}

/// Sum in numpy's order (pairwise summation with 8 accumulators), so that averages match
/// numpy to the last bit.
pub(crate) fn numpy_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        values.iter().fold(-0.0, |acc, v| acc + v)
    } else if n <= BLOCK {
        let mut partial = [0.0f64; 8];
        partial.copy_from_slice(&values[..8]);
        let unrolled_end = n - n % 8;
        for chunk in values[8..unrolled_end].chunks_exact(8) {
            for (acc, v) in partial.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut sum = ((partial[0] + partial[1]) + (partial[2] + partial[3]))
            + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
        for v in &values[unrolled_end..] {
            sum += v;
        }
        sum
    } else {
        let half = n / 2;
        let split = half - half % 8;
        numpy_sum(&values[..split]) + numpy_sum(&values[split..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_sum_uses_pairwise_order() {
        // In sequential order 1e16 + 1 + 1 ... loses every 1; numpy's 8 accumulators keep them.
        let mut values = vec![1e16];
        values.extend(std::iter::repeat_n(1.0, 15));
        assert_eq!(numpy_sum(&values), 1e16 + 8.0 + 6.0);
        assert_eq!(numpy_sum(&[]), 0.0);
        assert_eq!(numpy_sum(&[0.5, 0.25]), 0.75);
    }

    #[test]
    fn zero_denominators_give_zero() {
        let prf = Counts {
            true_positives: 0,
            predicted: 0,
            gold: 3,
        }
        .scores(F1Formula::FromRatios);
        assert_eq!(
            (prf.precision, prf.recall, prf.f1, prf.support),
            (0.0, 0.0, 0.0, 3)
        );
        assert!(macro_average(&[]).f1.is_nan());
        assert_eq!(weighted_average(&[prf]).f1, 0.0);
    }
}
