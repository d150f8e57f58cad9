//! An embedding table read in place from a memory-mapped safetensors file, row by row.
//!
//! multilingual-e5-small's word embedding is 250k x 384 f32 values, 384 MB: two thirds of what
//! an inference process held, and most of its start-up time went into copying it out of the
//! file. A batch needs a few thousand of its rows. Looked up in the mapping, only the pages of
//! rows that texts use become resident (clean file pages, which the kernel can drop again), and
//! loading costs nothing. Used for inference; training needs the table as a variable.
//!
//! The file must not change while it is mapped. naba writes models to a temporary file and
//! renames it, which leaves a running process its old file; copying over a model file in place
//! (`cp new/model.safetensors old/`) under a running `naba predict` would not, and can crash it.
//! `NABA_NO_MMAP=1` loads the table into memory instead.

use std::sync::Arc;

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{bail, DType, Result, Tensor};

use super::weights::extend_decoded;

/// The rows of one `[rows, width]` f32, f16 or bf16 tensor of a mapped safetensors checkpoint.
#[derive(Clone)]
pub struct MappedRows {
    file: Arc<MmapedSafetensors>,
    name: String,
    dtype: DType,
    rows: usize,
    width: usize,
}

impl MappedRows {
    /// The tensor `name` of `file`, when it is a matrix of f32, f16 or bf16 values (other dtypes
    /// and shapes: `None`, load it as a tensor instead).
    pub fn new(file: Arc<MmapedSafetensors>, name: &str) -> Option<Self> {
        let view = file.get(name).ok()?;
        let dtype = DType::try_from(view.dtype()).ok()?;
        let &[rows, width] = view.shape() else {
            return None;
        };
        if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16)
            || view.data().len() != rows * width * dtype.size_in_bytes()
        {
            return None;
        }
        Some(Self {
            file,
            name: name.to_string(),
            dtype,
            rows,
            width,
        })
    }

    /// `[rows, width]`.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.width)
    }

    /// `table[ids]` as f32: `[..ids dims, width]`.
    pub fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        let flat = ids.flatten_all()?.to_vec1::<u32>()?;
        let view = self.file.get(&self.name)?;
        let data = view.data();
        let row_bytes = self.width * self.dtype.size_in_bytes();
        let mut out = Vec::with_capacity(flat.len() * self.width);
        for &id in &flat {
            let id = id as usize;
            if id >= self.rows {
                bail!("token id {id} outside the embedding ({} rows)", self.rows)
            }
            let row = &data[id * row_bytes..(id + 1) * row_bytes];
            extend_decoded(&mut out, self.dtype, row);
        }
        let mut shape = ids.dims().to_vec();
        shape.push(self.width);
        Tensor::from_vec(out, shape, ids.device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, IndexOp};

    fn mapped(table: &Tensor, dir: &std::path::Path) -> MappedRows {
        let path = dir.join("t.safetensors");
        candle_core::safetensors::save(&[("table", table.clone())].into_iter().collect(), &path)
            .unwrap();
        // SAFETY: the file is not written while mapped.
        let file = unsafe { MmapedSafetensors::new(&path) }.unwrap();
        MappedRows::new(Arc::new(file), "table").unwrap()
    }

    #[test]
    fn looks_rows_up_in_the_file_as_the_loaded_table_would() {
        let dir = tempfile::tempdir().unwrap();
        let table = Tensor::randn(0f32, 1.0, (50, 12), &Device::Cpu).unwrap();
        let ids = Tensor::new(&[[3u32, 49, 0], [7, 3, 3]], &Device::Cpu).unwrap();
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            let stored = table.to_dtype(dtype).unwrap();
            let rows = mapped(&stored, dir.path());
            assert_eq!(rows.dims(), (50, 12));
            let got = rows.lookup(&ids).unwrap();
            assert_eq!(got.dims(), &[2, 3, 12]);
            let want = stored.to_dtype(DType::F32).unwrap();
            let want = want.embedding(&ids.flatten_all().unwrap()).unwrap();
            let got = got.reshape((6, 12)).unwrap();
            assert_eq!(
                got.to_vec2::<f32>().unwrap(),
                want.to_vec2::<f32>().unwrap(),
                "{dtype:?}"
            );
        }
        let rows = mapped(&table, dir.path());
        let err = rows.lookup(&Tensor::new(&[50u32], &Device::Cpu).unwrap());
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("outside the embedding"));
        // a vector is not a table
        let vector = table.i(0).unwrap();
        let path = dir.path().join("v.safetensors");
        candle_core::safetensors::save(&[("v", vector)].into_iter().collect(), &path).unwrap();
        // SAFETY: as above.
        let file = unsafe { MmapedSafetensors::new(&path) }.unwrap();
        assert!(MappedRows::new(Arc::new(file), "v").is_none());
    }
}
