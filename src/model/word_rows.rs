//! Row-sparse gradients for the word embedding.
//!
//! A batch looks up a few thousand of multilingual-e5-small's 250,002 word-embedding rows, yet
//! autograd's gradient of a lookup is a dense `[vocab, hidden]` tensor (384 MB for e5-small),
//! allocated, zeroed, scattered into, normed and scanned by the optimiser at every step. When
//! the embedding is updated lazily anyway (only the rows a batch used), the lookup can go
//! through a small variable holding just the distinct rows of the batch: its gradient is the
//! row gradient, and the optimiser applies it to those rows of the full matrix.

use std::sync::Mutex;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, TensorId, Var};

/// The distinct rows one forward pass looked up, as a variable of their own.
struct RowLookup {
    /// The full embedding matrix the rows came from.
    table: TensorId,
    /// Sorted distinct row ids.
    ids: Vec<u32>,
    /// `[ids.len(), hidden]`: a copy of those rows that the pass read through.
    rows: Var,
}

/// The gradient of some rows of an embedding matrix.
#[derive(Debug, Clone)]
pub struct RowGrad {
    /// The full embedding matrix (a variable's tensor id) the rows belong to.
    pub table: TensorId,
    /// Sorted distinct row ids.
    pub ids: Vec<u32>,
    /// Row-major `[ids.len(), width]` gradient values.
    pub values: Vec<f32>,
}

/// Records the word-embedding lookups of training passes so that their row gradients can be
/// collected after `backward`.
#[derive(Default)]
pub struct WordRows {
    lookups: Mutex<Vec<RowLookup>>,
}

impl WordRows {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// `table[input_ids]` (`[.., hidden]`), read through a fresh variable of the distinct rows
    /// so that `backward` gives their gradient and not a dense one for the whole table.
    pub fn lookup(&self, table: &Tensor, input_ids: &Tensor) -> Result<Tensor> {
        let flat = input_ids.flatten_all()?.to_vec1::<u32>()?;
        let mut ids = flat.clone();
        ids.sort_unstable();
        ids.dedup();
        let position: Vec<u32> = flat
            .iter()
            .map(|id| ids.partition_point(|x| x < id) as u32)
            .collect();
        let device = table.device();
        let rows = table
            .detach()
            .index_select(&Tensor::new(ids.as_slice(), device)?, 0)?;
        let rows = Var::from_tensor(&rows)?;
        let hidden = table.dim(1)?;
        let mut shape = input_ids.dims().to_vec();
        shape.push(hidden);
        let out = rows
            .as_tensor()
            .index_select(&Tensor::new(position, device)?, 0)?
            .reshape(shape)?;
        self.lookups
            .lock()
            .map_err(|_| candle_core::Error::Msg("word-row recorder poisoned".into()))?
            .push(RowLookup {
                table: table.id(),
                ids,
                rows,
            });
        Ok(out)
    }

    /// The row gradients in `grads` of the lookups recorded since the last call (which are
    /// forgotten); lookups that got no gradient are skipped.
    pub fn take_grads(&self, grads: &GradStore) -> Result<Vec<RowGrad>> {
        let lookups = std::mem::take(
            &mut *self
                .lookups
                .lock()
                .map_err(|_| candle_core::Error::Msg("word-row recorder poisoned".into()))?,
        );
        let mut out = Vec::with_capacity(lookups.len());
        for l in lookups {
            if let Some(g) = grads.get(l.rows.as_tensor()) {
                out.push(RowGrad {
                    table: l.table,
                    ids: l.ids,
                    values: g.flatten_all()?.to_vec1::<f32>()?,
                });
            }
        }
        Ok(out)
    }
}

/// Merges row gradients of one table (e.g. from accumulated micro-batches) into one: sorted
/// distinct ids, values summed in the order given (deterministic).
pub fn merge_row_grads(parts: &[&RowGrad], width: usize) -> (Vec<u32>, Vec<f32>) {
    let mut entries: Vec<(u32, usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, g)| g.ids.iter().enumerate().map(move |(r, &id)| (id, p, r)))
        .collect();
    // stable: equal ids keep the order of the parts
    entries.sort_by_key(|e| e.0);
    let mut ids: Vec<u32> = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    for (id, p, r) in entries {
        let src = &parts[p].values[r * width..(r + 1) * width];
        if ids.last() == Some(&id) {
            let start = values.len() - width;
            for (d, s) in values[start..].iter_mut().zip(src) {
                *d += s;
            }
        } else {
            ids.push(id);
            values.extend_from_slice(src);
        }
    }
    (ids, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The row gradient equals the matching rows of the dense gradient of a plain lookup.
    #[test]
    fn row_gradients_equal_dense_rows() {
        let dev = Device::Cpu;
        let table =
            Var::from_vec((0..40).map(|x| x as f32 * 0.1).collect(), (10, 4), &dev).unwrap();
        let ids = Tensor::new(&[[3u32, 7, 3], [0, 7, 9]], &dev).unwrap();
        let weights = Tensor::arange(0f32, 24.0, &dev)
            .unwrap()
            .reshape((2, 3, 4))
            .unwrap();
        let loss = |x: Tensor| (x.sqr().unwrap() * &weights).unwrap().sum_all().unwrap();

        let dense = loss(
            table
                .as_tensor()
                .embedding(&ids.flatten_all().unwrap())
                .unwrap()
                .reshape((2, 3, 4))
                .unwrap(),
        )
        .backward()
        .unwrap();
        let dense = dense.get(table.as_tensor()).unwrap();

        let rec = WordRows::new();
        let out = rec.lookup(table.as_tensor(), &ids).unwrap();
        assert_eq!(out.dims(), &[2, 3, 4]);
        let grads = loss(out).backward().unwrap();
        assert!(grads.get(table.as_tensor()).is_none(), "no dense gradient");
        let rows = rec.take_grads(&grads).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].ids, vec![0, 3, 7, 9]);
        for (r, &id) in rows[0].ids.iter().enumerate() {
            let want = dense.get(id as usize).unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(&rows[0].values[r * 4..(r + 1) * 4], want.as_slice());
        }
        assert!(rec.take_grads(&grads).unwrap().is_empty(), "taken once");
    }

    #[test]
    fn merging_sums_shared_rows_in_order() {
        let table = Var::from_vec(vec![0f32; 8], (4, 2), &Device::Cpu).unwrap();
        let a = RowGrad {
            table: table.as_tensor().id(),
            ids: vec![1, 3],
            values: vec![1.0, 2.0, 3.0, 4.0],
        };
        let b = RowGrad {
            table: table.as_tensor().id(),
            ids: vec![0, 3],
            values: vec![5.0, 6.0, 0.5, 0.25],
        };
        let (ids, values) = merge_row_grads(&[&a, &b], 2);
        assert_eq!(ids, vec![0, 1, 3]);
        assert_eq!(values, vec![5.0, 6.0, 1.0, 2.0, 3.5, 4.25]);
    }
}
