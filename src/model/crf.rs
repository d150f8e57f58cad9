//! A linear-chain CRF over tag sequences (`crf.transitions` `[L, L]` from row to column,
//! `crf.start_transitions`, `crf.end_transitions`): the negative log-likelihood as differentiable
//! tensor ops (the forward algorithm, batched and masked), and Viterbi decoding on the host with
//! transitions that IOB2 forbids ruled out.

use candle_core::{Device, Result, Tensor};
use candle_nn::VarBuilder;

/// The learned CRF scores.
pub struct Crf {
    /// `[L, L]`: score of moving from tag `i` (row) to tag `j` (column).
    pub transitions: Tensor,
    /// `[L]`: score of starting with each tag.
    pub start: Tensor,
    /// `[L]`: score of ending with each tag.
    pub end: Tensor,
}

/// `log(sum(exp(x)))` over dimension `dim`, stable and differentiable (the shift is detached,
/// which leaves value and gradient unchanged).
fn logsumexp(x: &Tensor, dim: usize) -> Result<Tensor> {
    let shift = x.max_keepdim(dim)?.detach();
    let sum = x.broadcast_sub(&shift)?.exp()?.sum_keepdim(dim)?;
    (sum.log()? + shift)?.squeeze(dim)
}

/// One sentence of a CRF batch: emissions rows and gold tags, for [`Crf::nll`].
#[derive(Debug, Clone)]
pub struct CrfSequence {
    /// Row of each position in the flattened emissions `[rows, L]`.
    pub rows: Vec<u32>,
    /// Gold tag id of each position.
    pub tags: Vec<u32>,
}

impl Crf {
    /// Loads `crf.*` under `vb` (a new head starts uniform in ±0.1, as pytorch-crf does).
    pub fn load(vb: VarBuilder, num_labels: usize) -> Result<Self> {
        let vb = vb.pp("crf");
        let init = candle_nn::Init::Uniform { lo: -0.1, up: 0.1 };
        Ok(Self {
            transitions: vb.get_with_hints((num_labels, num_labels), "transitions", init)?,
            start: vb.get_with_hints(num_labels, "start_transitions", init)?,
            end: vb.get_with_hints(num_labels, "end_transitions", init)?,
        })
    }

    /// Number of tags.
    pub fn num_labels(&self) -> Result<usize> {
        self.start.dim(0)
    }

    /// Mean negative log-likelihood of the gold tag sequences. `emissions` `[rows, L]` holds the
    /// scores of every position of every sequence (each sequence names its rows); empty
    /// sequences are skipped.
    pub fn nll(&self, emissions: &Tensor, sequences: &[CrfSequence]) -> Result<Tensor> {
        let device = emissions.device();
        let l = self.num_labels()?;
        let seqs: Vec<&CrfSequence> = sequences.iter().filter(|s| !s.rows.is_empty()).collect();
        if seqs.is_empty() {
            return Tensor::zeros((), emissions.dtype(), device);
        }
        let b = seqs.len();
        let width = seqs.iter().map(|s| s.rows.len()).max().unwrap_or(0);
        // dense [b, width, L] emissions (padding rows repeat row 0 and are masked)
        let mut gather = Vec::with_capacity(b * width);
        let mut mask = vec![0f32; b * width];
        for (i, s) in seqs.iter().enumerate() {
            for t in 0..width {
                gather.push(s.rows.get(t).copied().unwrap_or(s.rows[0]));
                if t < s.rows.len() {
                    mask[t * b + i] = 1.0;
                }
            }
        }
        let gather = Tensor::new(gather, device)?;
        let dense = emissions.index_select(&gather, 0)?.reshape((b, width, l))?;
        let mask = Tensor::from_vec(mask, (width, b, 1), device)?;
        // forward algorithm
        let mut alpha = dense
            .narrow(1, 0, 1)?
            .squeeze(1)?
            .broadcast_add(&self.start)?;
        for t in 1..width {
            let emit = dense.narrow(1, t, 1)?; // [b, 1, L]
            let scores = alpha
                .unsqueeze(2)?
                .broadcast_add(&self.transitions.unsqueeze(0)?)?
                .broadcast_add(&emit)?; // [b, L, L]
            let next = logsumexp(&scores, 1)?;
            let m = mask.get(t)?; // [b, 1]
            alpha = (next.broadcast_mul(&m)? + alpha.broadcast_mul(&(1.0 - &m)?)?)?;
        }
        let log_z = logsumexp(&alpha.broadcast_add(&self.end)?, 1)?.sum_all()?;
        // gold path score
        let (mut emit_idx, mut trans_idx, mut first, mut last) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for s in &seqs {
            for (t, (&row, &tag)) in s.rows.iter().zip(&s.tags).enumerate() {
                emit_idx.push(row * l as u32 + tag);
                if t > 0 {
                    trans_idx.push(s.tags[t - 1] * l as u32 + tag);
                }
            }
            first.push(s.tags[0]);
            last.push(*s.tags.last().unwrap_or(&0));
        }
        let pick = |t: &Tensor, idx: Vec<u32>| -> Result<Tensor> {
            if idx.is_empty() {
                return Tensor::zeros((), t.dtype(), device);
            }
            t.flatten_all()?
                .index_select(&Tensor::new(idx, device)?, 0)?
                .sum_all()
        };
        let gold = (pick(emissions, emit_idx)?
            + pick(&self.transitions, trans_idx)?
            + pick(&self.start, first)?
            + pick(&self.end, last)?)?;
        (log_z - gold)? / b as f64
    }

    /// The CRF scores on the host: `(transitions, start, end)`.
    pub fn host_scores(&self) -> Result<CrfScores> {
        Ok(CrfScores {
            transitions: self.transitions.to_vec2::<f32>()?,
            start: self.start.to_vec1::<f32>()?,
            end: self.end.to_vec1::<f32>()?,
        })
    }
}

/// CRF scores copied to the host for decoding, with forbidden moves set to `-inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrfScores {
    /// `[L][L]` from row tag to column tag.
    pub transitions: Vec<Vec<f32>>,
    /// Per tag.
    pub start: Vec<f32>,
    /// Per tag.
    pub end: Vec<f32>,
}

impl CrfScores {
    /// Forbids what IOB2 does not allow for `labels`: `O -> I-X`, `B-X -> I-Y`, `I-X -> I-Y`
    /// (X ≠ Y) and starting with `I-X`.
    pub fn forbid_iob2(mut self, labels: &[String]) -> Self {
        let inside = |l: &str| l.strip_prefix("I-").map(str::to_string);
        let kind = |l: &str| {
            l.strip_prefix("B-")
                .or_else(|| l.strip_prefix("I-"))
                .map(str::to_string)
        };
        for (j, to) in labels.iter().enumerate() {
            let Some(x) = inside(to) else { continue };
            self.start[j] = f32::NEG_INFINITY;
            for (i, from) in labels.iter().enumerate() {
                if kind(from).as_deref() != Some(x.as_str()) {
                    self.transitions[i][j] = f32::NEG_INFINITY;
                }
            }
        }
        self
    }

    /// The best tag sequence for `emissions` (`[T][L]`), by Viterbi.
    pub fn viterbi(&self, emissions: &[Vec<f32>]) -> Vec<usize> {
        let Some(first) = emissions.first() else {
            return Vec::new();
        };
        let l = self.start.len();
        let mut score: Vec<f32> = (0..l).map(|j| self.start[j] + first[j]).collect();
        let mut back: Vec<Vec<usize>> = Vec::with_capacity(emissions.len());
        for emit in &emissions[1..] {
            let mut next = vec![f32::NEG_INFINITY; l];
            let mut from = vec![0usize; l];
            for j in 0..l {
                for (i, prev) in score.iter().enumerate() {
                    let s = prev + self.transitions[i][j];
                    if s > next[j] {
                        next[j] = s;
                        from[j] = i;
                    }
                }
                next[j] += emit[j];
            }
            back.push(from);
            score = next;
        }
        let mut best = 0;
        for j in 0..l {
            if score[j] + self.end[j] > score[best] + self.end[best] {
                best = j;
            }
        }
        let mut path = vec![best];
        for from in back.iter().rev() {
            best = from[best];
            path.push(best);
        }
        path.reverse();
        path
    }
}

/// Tensors of a CRF built from host values (for tests and tools).
pub fn crf_from_host(scores: &CrfScores, device: &Device) -> Result<Crf> {
    let l = scores.start.len();
    let flat: Vec<f32> = scores.transitions.iter().flatten().copied().collect();
    Ok(Crf {
        transitions: Tensor::from_vec(flat, (l, l), device)?,
        start: Tensor::new(scores.start.as_slice(), device)?,
        end: Tensor::new(scores.end.as_slice(), device)?,
    })
}

/// Softmax of each row (probabilities of the tags at one position).
pub fn softmax_rows(rows: &[Vec<f32>]) -> Vec<Vec<f32>> {
    rows.iter()
        .map(|r| {
            let m = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = r.iter().map(|x| (x - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.into_iter().map(|x| x / s).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random scores.
    fn scores(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 4.0
            })
            .collect()
    }

    fn random_crf(l: usize, seed: u64) -> CrfScores {
        let t = scores(l * l, seed);
        CrfScores {
            transitions: t.chunks(l).map(<[f32]>::to_vec).collect(),
            start: scores(l, seed + 1),
            end: scores(l, seed + 2),
        }
    }

    fn path_score(c: &CrfScores, e: &[Vec<f32>], p: &[usize]) -> f32 {
        let mut s = c.start[p[0]] + c.end[p[p.len() - 1]];
        for (t, &j) in p.iter().enumerate() {
            s += e[t][j];
            if t > 0 {
                s += c.transitions[p[t - 1]][j];
            }
        }
        s
    }

    /// Every tag sequence of length `t` over `l` tags.
    fn all_paths(t: usize, l: usize) -> Vec<Vec<usize>> {
        (0..l.pow(t as u32))
            .map(|mut k| {
                (0..t)
                    .map(|_| {
                        let j = k % l;
                        k /= l;
                        j
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn viterbi_equals_brute_force() {
        for (seed, (t, l)) in [(1, 3), (4, 3), (5, 2), (3, 4), (1, 5)]
            .into_iter()
            .enumerate()
        {
            let crf = random_crf(l, seed as u64 * 7);
            let e: Vec<Vec<f32>> = scores(t * l, seed as u64 + 100)
                .chunks(l)
                .map(<[f32]>::to_vec)
                .collect();
            let best = all_paths(t, l)
                .into_iter()
                .max_by(|a, b| path_score(&crf, &e, a).total_cmp(&path_score(&crf, &e, b)))
                .unwrap();
            assert_eq!(crf.viterbi(&e), best, "t={t} l={l}");
        }
    }

    #[test]
    fn iob2_constraints_rule_out_illegal_paths() {
        let labels: Vec<String> = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let crf = random_crf(5, 9).forbid_iob2(&labels);
        // emissions that strongly prefer I-PER, then I-LOC
        let e = vec![
            vec![0.0, 0.0, 0.0, 0.0, 9.0],
            vec![0.0, 0.0, 9.0, 0.0, 0.0],
            vec![0.0, 0.0, 9.0, 0.0, 0.0],
        ];
        let path = crf.viterbi(&e);
        let tags: Vec<&str> = path.iter().map(|&i| labels[i].as_str()).collect();
        assert!(!tags[0].starts_with("I-"), "{tags:?}");
        for w in tags.windows(2) {
            if let Some(x) = w[1].strip_prefix("I-") {
                assert!(w[0].ends_with(x) && w[0] != "O", "{tags:?}");
            }
        }
    }

    #[test]
    fn nll_equals_brute_force_log_partition() {
        let dev = Device::Cpu;
        let l = 3;
        let host = random_crf(l, 21);
        let crf = crf_from_host(&host, &dev).unwrap();
        // two sequences of lengths 3 and 2 over 5 emission rows
        let e: Vec<Vec<f32>> = scores(5 * l, 77).chunks(l).map(<[f32]>::to_vec).collect();
        let emissions = Tensor::new(e.clone(), &dev).unwrap();
        let seqs = vec![
            CrfSequence {
                rows: vec![0, 1, 2],
                tags: vec![2, 0, 1],
            },
            CrfSequence {
                rows: vec![4, 3],
                tags: vec![1, 1],
            },
        ];
        let got = crf
            .nll(&emissions, &seqs)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let mut want = 0.0f64;
        for s in &seqs {
            let es: Vec<Vec<f32>> = s.rows.iter().map(|&r| e[r as usize].clone()).collect();
            let log_z = all_paths(es.len(), l)
                .iter()
                .map(|p| path_score(&host, &es, p) as f64)
                .map(f64::exp)
                .sum::<f64>()
                .ln();
            let gold: Vec<usize> = s.tags.iter().map(|&t| t as usize).collect();
            want += log_z - path_score(&host, &es, &gold) as f64;
        }
        want /= seqs.len() as f64;
        assert!((got as f64 - want).abs() < 1e-4, "{got} vs {want}");
    }
}
