//! Turning token-id sequences into padded tensors.

use candle_core::{Device, Result, Tensor};

/// A right-padded batch: ids and a 0/1 attention mask, both `[batch, seq]` u32.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Token ids, padded with the tokenizer's pad id.
    pub input_ids: Tensor,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Tensor,
    /// Real length of each row.
    pub lengths: Vec<usize>,
}

impl Batch {
    /// Pads `rows` to the longest one (dynamic padding).
    pub fn from_rows(rows: &[&[u32]], pad_id: u32, device: &Device) -> Result<Self> {
        let width = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(rows.len() * width);
        let mut mask = Vec::with_capacity(rows.len() * width);
        for r in rows {
            ids.extend_from_slice(r);
            ids.extend(std::iter::repeat_n(pad_id, width - r.len()));
            mask.extend(std::iter::repeat_n(1u32, r.len()));
            mask.extend(std::iter::repeat_n(0u32, width - r.len()));
        }
        let shape = (rows.len(), width);
        Ok(Self {
            input_ids: Tensor::from_vec(ids, shape, device)?,
            attention_mask: Tensor::from_vec(mask, shape, device)?,
            lengths: rows.iter().map(|r| r.len()).collect(),
        })
    }
}

/// Groups item indices into batches of similar length whose padded size stays within
/// `max_tokens` (and at most `max_rows` rows), longest first. Order inside the input is kept in
/// the returned indices so callers can put results back in place.
pub fn length_buckets(lengths: &[usize], max_tokens: usize, max_rows: usize) -> Vec<Vec<usize>> {
    length_buckets_of((0..lengths.len()).collect(), lengths, max_tokens, max_rows)
}

/// [`length_buckets`] of the items `order` only (indices into `lengths`); items of equal
/// length keep their order in `order`.
pub fn length_buckets_of(
    mut order: Vec<usize>,
    lengths: &[usize],
    max_tokens: usize,
    max_rows: usize,
) -> Vec<Vec<usize>> {
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut width = 0;
    for i in order {
        let w = width.max(lengths[i]);
        if !current.is_empty()
            && (w * (current.len() + 1) > max_tokens || current.len() >= max_rows)
        {
            batches.push(std::mem::take(&mut current));
            width = 0;
        }
        width = width.max(lengths[i]);
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_right_and_masks() {
        let b = Batch::from_rows(&[&[0, 5, 2], &[0, 2]], 1, &Device::Cpu).unwrap();
        assert_eq!(
            b.input_ids.to_vec2::<u32>().unwrap(),
            vec![vec![0, 5, 2], vec![0, 2, 1]]
        );
        assert_eq!(
            b.attention_mask.to_vec2::<u32>().unwrap(),
            vec![vec![1, 1, 1], vec![1, 1, 0]]
        );
    }

    #[test]
    fn buckets_respect_the_token_budget_and_cover_everything() {
        let lengths = [5, 100, 7, 98, 6, 50];
        let batches = length_buckets(&lengths, 210, 8);
        let mut all: Vec<usize> = batches.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
        for b in &batches {
            let w = b.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(w * b.len() <= 210 || b.len() == 1);
        }
        assert_eq!(batches[0], vec![1, 3]);
    }
}
