//! Writing tensors as safetensors, atomically, without copying them.
//!
//! `candle_core::safetensors::save` copies every tensor to a byte vector before writing, and a
//! training checkpoint used to copy the optimiser moments into tensors first: for
//! multilingual-e5-small that is 1.4 GB of copies on top of the model and its moments. Here
//! f32 data is written straight from where it lives.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Storage, Tensor};

use crate::error::{Error, Result};

/// A named f32 array, borrowed for writing.
pub struct NamedSlice<'a> {
    /// Tensor name in the file.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: &'a [f32],
}

impl safetensors::View for &NamedSlice<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        if cfg!(target_endian = "little") {
            // SAFETY: f32 has no padding and any byte is a valid u8; the length is exact.
            Cow::Borrowed(unsafe {
                std::slice::from_raw_parts(
                    self.values.as_ptr().cast::<u8>(),
                    std::mem::size_of_val(self.values),
                )
            })
        } else {
            Cow::Owned(self.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
    }

    fn data_len(&self) -> usize {
        std::mem::size_of_val(self.values)
    }
}

/// Writes `items` to `path` as f32 safetensors (temporary file + rename).
pub fn save_f32_slices(items: &[NamedSlice], path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let views = items.iter().map(|i| (i.name.as_str(), i));
    if let Err(e) = safetensors::serialize_to_file(views, None, &tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::model(path, format!("cannot write safetensors: {e}")));
    }
    readable_by_all(&tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Gives `path` the mode a newly created file has under the usual umask (`rw-r--r--`):
/// `safetensors` writes through a private (`rw-------`) temporary file, which would keep a
/// serving process running as another user from reading the model.
fn readable_by_all(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `tensors` (converted to contiguous f32 where they are not) to `path` as
/// safetensors (temporary file + rename).
pub fn save_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let mut held: Vec<(&String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| Ok((n, t.to_dtype(DType::F32)?.contiguous()?)))
        .collect::<Result<_>>()?;
    held.sort_by(|a, b| a.0.cmp(b.0));
    let guards: Vec<_> = held
        .iter()
        .map(|(n, t)| {
            let (storage, layout) = t.storage_and_layout();
            (n, t.dims().to_vec(), storage, layout.contiguous_offsets())
        })
        .collect();
    let items = guards
        .iter()
        .map(|(name, shape, storage, offsets)| {
            let Storage::Cpu(cpu) = &**storage else {
                return Err(Error::model(path, "only CPU tensors can be saved"));
            };
            let (start, end) = offsets.ok_or_else(|| Error::model(path, "non-contiguous"))?;
            Ok(NamedSlice {
                name: name.to_string(),
                shape: shape.clone(),
                values: &cpu.as_slice::<f32>()?[start..end],
            })
        })
        .collect::<Result<Vec<_>>>()?;
    save_f32_slices(&items, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, IndexOp};

    #[test]
    fn tensors_round_trip_including_views_and_other_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Device::Cpu;
        let a = Tensor::arange(0f32, 12.0, &dev)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let mut tensors = HashMap::new();
        tensors.insert("a".to_string(), a.clone());
        tensors.insert("a_t".to_string(), a.t().unwrap());
        tensors.insert("row".to_string(), a.i(1).unwrap());
        tensors.insert("half".to_string(), a.to_dtype(DType::F16).unwrap());
        let path = dir.path().join("x.safetensors");
        save_safetensors(&tensors, &path).unwrap();
        let back = candle_core::safetensors::load(&path, &dev).unwrap();
        for (name, want) in [
            ("a", a.clone()),
            ("a_t", a.t().unwrap().contiguous().unwrap()),
            ("row", a.i(1).unwrap()),
            ("half", a.clone()),
        ] {
            let got = &back[name];
            assert_eq!(got.dtype(), DType::F32, "{name}");
            assert_eq!(got.dims(), want.dims(), "{name}");
            let diff = (got - &want).unwrap().abs().unwrap().sum_all().unwrap();
            assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{name}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644, "readable by other users");
        }
    }
}
