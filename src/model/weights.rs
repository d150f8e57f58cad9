//! Reading checkpoint tensors: `model.safetensors`, sharded safetensors with
//! `model.safetensors.index.json`, or PyTorch `pytorch_model.bin`.
//!
//! [`Weights`] hides the container; [`NameMap`] hides how the checkpoint spells names (with or
//! without the `bert.` / `roberta.` prefix, legacy `gamma`/`beta` LayerNorm names), so model code
//! always asks for the names of a Hugging Face `*For*Classification` checkpoint.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;

use super::mapped_rows::MappedRows;
use super::EncoderConfig;
use crate::error::{Error, Result};

/// The tensor container of one checkpoint.
enum Container {
    Safetensors(std::sync::Arc<candle_core::safetensors::MmapedSafetensors>),
    Pytorch(candle_core::pickle::PthTensors),
}

/// The tensors of a checkpoint, read lazily (safetensors are memory-mapped).
pub struct Weights {
    container: Container,
    /// Where the tensors come from (first file for sharded checkpoints), for error messages.
    path: PathBuf,
    names: BTreeSet<String>,
}

impl Weights {
    /// Finds the weights in a model folder: `model.safetensors`, then the sharded index, then
    /// `pytorch_model.bin`.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        let bin = dir.join("pytorch_model.bin");
        if single.is_file() {
            Self::open_safetensors(&[single])
        } else if index.is_file() {
            Self::open_safetensors(&shard_files(&index)?)
        } else if bin.is_file() {
            Self::open_pytorch(&bin)
        } else {
            Err(Error::model(
                dir,
                "no weights: expected model.safetensors, model.safetensors.index.json or pytorch_model.bin",
            ))
        }
    }

    /// Opens one or several safetensors files (memory-mapped).
    pub fn open_safetensors(files: &[PathBuf]) -> Result<Self> {
        let first = files.first().cloned().unwrap_or_default();
        for f in files {
            check_safetensors_header(f)?;
        }
        // SAFETY: the files are mapped read-only; naba never writes to a file it has mapped
        // (saving goes through a temporary file and a rename).
        let st = unsafe { candle_core::safetensors::MmapedSafetensors::multi(files) }
            .map_err(|e| Error::model(&first, format!("unreadable safetensors: {e}")))?;
        let names = st.tensors().into_iter().map(|(n, _)| n).collect();
        Ok(Self {
            container: Container::Safetensors(std::sync::Arc::new(st)),
            path: first,
            names,
        })
    }

    /// Opens a PyTorch pickle checkpoint (`torch.save(state_dict)`, zip format).
    pub fn open_pytorch(file: &Path) -> Result<Self> {
        let pth = candle_core::pickle::PthTensors::new(file, None)
            .map_err(|e| Error::model(file, format!("unreadable PyTorch checkpoint: {e}")))?;
        let names = pth.tensor_infos().keys().cloned().collect();
        Ok(Self {
            container: Container::Pytorch(pth),
            path: file.to_path_buf(),
            names,
        })
    }

    /// The file the tensors come from (the first shard for sharded checkpoints).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every tensor name stored in the checkpoint.
    pub fn names(&self) -> &BTreeSet<String> {
        &self.names
    }

    /// The shape of every stored tensor, read from the headers (nothing is loaded).
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        match &self.container {
            Container::Safetensors(st) => st
                .tensors()
                .into_iter()
                .map(|(n, v)| (n, v.shape().to_vec()))
                .collect(),
            Container::Pytorch(pth) => pth
                .tensor_infos()
                .iter()
                .map(|(n, i)| (n.clone(), i.layout.shape().dims().to_vec()))
                .collect(),
        }
    }

    /// Loads one stored tensor as f32 on `device`.
    pub fn load(&self, stored_name: &str, device: &Device) -> Result<Tensor> {
        let t = match &self.container {
            Container::Safetensors(st) => st
                .get(stored_name)
                .and_then(|view| load_releasing(&view, device)),
            Container::Pytorch(pth) => match pth.get(stored_name) {
                Ok(Some(t)) => t.to_device(device),
                Ok(None) => Err(candle_core::Error::Msg("missing".into())),
                Err(e) => Err(e),
            },
        };
        t.and_then(|t| t.to_dtype(DType::F32))
            .map_err(|e| Error::model(&self.path, format!("tensor {stored_name}: {e}")))
    }
}

/// Bytes converted per step when copying a mapped tensor out.
const COPY_CHUNK: usize = 1 << 22;

/// Copies a memory-mapped safetensors tensor into an f32 tensor chunk by chunk, handing each
/// copied chunk's pages back to the kernel. Without it a loaded model costs twice its size in
/// resident memory (the heap copy and the mapped file pages, until the map is dropped), which is
/// most of `naba predict`'s peak. Other dtypes than f32/f16/bf16 go through candle.
fn load_releasing(
    view: &safetensors::tensor::TensorView<'_>,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let dtype = DType::try_from(view.dtype())?;
    if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) {
        return candle_core::safetensors::Load::load(view, device);
    }
    let width = dtype.size_in_bytes();
    let data = view.data();
    let mut values = Vec::with_capacity(data.len() / width);
    for chunk in data.chunks(COPY_CHUNK - COPY_CHUNK % width) {
        extend_decoded(&mut values, dtype, chunk);
        release_pages(chunk);
    }
    Tensor::from_vec(values, view.shape(), device)
}

/// Appends the little-endian f32, f16 or bf16 values of `bytes` (`dtype`) to `out` as f32:
/// one monomorphic loop per dtype, so that the compiler vectorises the decoding.
pub(crate) fn extend_decoded(out: &mut Vec<f32>, dtype: DType, bytes: &[u8]) {
    match dtype {
        DType::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        DType::BF16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        _ => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
    }
}

/// Tells the kernel that the mapped file pages under `bytes` are not needed any more.
fn release_pages(bytes: &[u8]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = bytes.as_ptr() as usize;
        // whole pages inside the range only: the pages at its ends may hold other tensors
        let first = start.next_multiple_of(PAGE);
        let last = (start + bytes.len()) / PAGE * PAGE;
        if last > first {
            // SAFETY: the range lies inside a read-only private mapping of a file naba does not
            // write while it is mapped; after MADV_DONTNEED the pages read back from the file
            // with the same bytes, so every outstanding borrow still sees what it saw.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_DONTNEED,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

/// Reads the shard list of a sharded safetensors checkpoint.
fn shard_files(index: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(index).map_err(|e| Error::io(index, e))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::format(index, e.line(), format!("invalid JSON: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::format(index, 0, "no \"weight_map\" object"))?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let files: BTreeSet<&str> = map.values().filter_map(|v| v.as_str()).collect();
    let files: Vec<PathBuf> = files.into_iter().map(|f| dir.join(f)).collect();
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        return Err(Error::model(
            index,
            format!("shard {} is missing", missing.display()),
        ));
    }
    Ok(files)
}

/// Rejects files that cannot be safetensors before mapping them, with a precise message.
fn check_safetensors_header(file: &Path) -> Result<()> {
    use std::io::Read;
    let mut f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let len = f.metadata().map_err(|e| Error::io(file, e))?.len();
    let mut head = [0u8; 8];
    if len < 8 || f.read_exact(&mut head).is_err() {
        return Err(Error::model(
            file,
            format!("corrupt safetensors: file is only {len} bytes"),
        ));
    }
    let header_len = u64::from_le_bytes(head);
    if header_len.saturating_add(8) > len {
        return Err(Error::model(
            file,
            format!("corrupt safetensors: header claims {header_len} bytes but the file has {len}"),
        ));
    }
    Ok(())
}

/// How a checkpoint spells the canonical names naba asks for.
///
/// Canonical names are those of a Hugging Face `BertForTokenClassification` checkpoint:
/// `bert.embeddings.word_embeddings.weight`, `bert.encoder.layer.0...`, `classifier.weight`.
#[derive(Debug, Clone)]
pub struct NameMap {
    /// The base-model prefix naba uses (`bert` or `roberta`).
    canonical_prefix: String,
    /// The prefix the checkpoint uses for base-model tensors (`""` for bare `BertModel`s).
    stored_prefix: String,
    /// Whether LayerNorm parameters are stored as `gamma` / `beta`.
    legacy_layer_norm: bool,
}

impl NameMap {
    /// Works out the spelling from the stored names.
    pub fn detect(names: &BTreeSet<String>, canonical_prefix: &str) -> Self {
        let candidates = [
            canonical_prefix,
            "bert",
            "roberta",
            "xlm-roberta",
            "model",
            "encoder_model",
        ];
        let stored_prefix = candidates
            .iter()
            .find(|p| names.contains(&format!("{p}.embeddings.word_embeddings.weight")))
            .map(|p| p.to_string())
            .unwrap_or_default();
        let legacy_layer_norm = names.iter().any(|n| n.ends_with("LayerNorm.gamma"));
        Self {
            canonical_prefix: canonical_prefix.to_string(),
            stored_prefix,
            legacy_layer_norm,
        }
    }

    /// The stored name for a canonical name.
    pub fn stored(&self, canonical: &str) -> String {
        let mut name = match canonical.strip_prefix(&format!("{}.", self.canonical_prefix)) {
            Some(rest) if self.stored_prefix.is_empty() => rest.to_string(),
            Some(rest) => format!("{}.{rest}", self.stored_prefix),
            None => canonical.to_string(),
        };
        if self.legacy_layer_norm && name.contains("LayerNorm.") {
            name = name
                .replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta");
        }
        name
    }
}

/// A checkpoint seen through canonical names: a Candle [`SimpleBackend`] for inference.
pub struct Checkpoint {
    weights: Weights,
    names: NameMap,
}

impl Checkpoint {
    /// Wraps `weights`, whose base-model tensors naba will ask for under `canonical_prefix`.
    pub fn new(weights: Weights, canonical_prefix: &str) -> Self {
        let names = NameMap::detect(weights.names(), canonical_prefix);
        Self { weights, names }
    }

    /// The underlying tensors.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Whether the checkpoint holds the canonical tensor `name`.
    pub fn has(&self, name: &str) -> bool {
        self.weights.names().contains(&self.names.stored(name))
    }

    /// Whether `name` belongs to the base encoder (not a task head).
    pub fn is_base(&self, name: &str) -> bool {
        name.starts_with(&format!("{}.", self.names.canonical_prefix))
    }

    /// The stored shape of the canonical tensor `name`, if present.
    pub fn stored_shape(&self, name: &str) -> Option<Vec<usize>> {
        let stored = self.names.stored(name);
        self.weights
            .shapes()
            .into_iter()
            .find(|(n, _)| *n == stored)
            .map(|(_, s)| s)
    }

    /// The word embedding (`vocab x hidden` as `cfg` says) read in place from the mapped file,
    /// when the checkpoint is safetensors and holds it as a matrix of floats (see
    /// [`MappedRows`]); `None` otherwise, or when the environment sets `NABA_NO_MMAP` (load it
    /// as a tensor).
    pub fn mapped_word_embeddings(&self, cfg: &EncoderConfig) -> Option<MappedRows> {
        let Container::Safetensors(file) = &self.weights.container else {
            return None;
        };
        if std::env::var_os("NABA_NO_MMAP").is_some_and(|v| !v.is_empty()) {
            return None;
        }
        let name = format!(
            "{}.embeddings.word_embeddings.weight",
            self.names.canonical_prefix
        );
        MappedRows::new(file.clone(), &self.names.stored(&name))
            .filter(|m| m.dims() == (cfg.vocab_size, cfg.hidden_size))
    }

    /// Loads the canonical tensor `name`, checking its shape.
    pub fn load(&self, name: &str, shape: &Shape, device: &Device) -> Result<Tensor> {
        let stored = self.names.stored(name);
        if !self.weights.names().contains(&stored) {
            return Err(Error::model(
                self.weights.path(),
                format!("tensor {stored} is missing"),
            ));
        }
        let t = self.weights.load(&stored, device)?;
        if t.shape() != shape {
            return Err(Error::model(
                self.weights.path(),
                format!(
                    "tensor {stored} has shape {:?}, the config implies {:?}",
                    t.dims(),
                    shape.dims()
                ),
            ));
        }
        Ok(t)
    }
}

impl SimpleBackend for Checkpoint {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.load(name, &s, dev)
            .and_then(|t| Ok(t.to_dtype(dtype)?))
            .map_err(|e| candle_core::Error::Msg(e.to_string()))
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.weights
            .load(&self.names.stored(name), dev)
            .and_then(|t| Ok(t.to_dtype(dtype)?))
            .map_err(|e| candle_core::Error::Msg(e.to_string()))
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.has(name)
    }
}

/// A [`SimpleBackend`] for training: every tensor becomes a [`candle_core::Var`] in a
/// [`candle_nn::VarMap`], initialised from the checkpoint when it holds it and from the model's
/// own initialiser otherwise (a new task head).
pub struct TrainableCheckpoint {
    checkpoint: Option<std::sync::Arc<Checkpoint>>,
    varmap: candle_nn::VarMap,
    seed: u64,
}

impl TrainableCheckpoint {
    /// Vars go into `varmap`; `checkpoint` (if any) provides initial values; new tensors are
    /// drawn from a generator seeded by `seed` and the tensor's name (reproducible runs).
    pub fn new(
        checkpoint: Option<std::sync::Arc<Checkpoint>>,
        varmap: candle_nn::VarMap,
        seed: u64,
    ) -> Self {
        Self {
            checkpoint,
            varmap,
            seed,
        }
    }

    /// A new tensor for `name` as `init` says, from the seeded generator.
    fn fresh(
        &self,
        s: &Shape,
        name: &str,
        init: candle_nn::Init,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        use rand::{Rng, SeedableRng};
        use rand_distr::Distribution;
        let n = s.elem_count();
        let name_hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed ^ name_hash);
        let values: Vec<f32> = match init {
            candle_nn::Init::Const(c) => vec![c as f32; n],
            candle_nn::Init::Randn { mean, stdev } => {
                let normal = rand_distr::Normal::new(mean as f32, stdev as f32)
                    .map_err(candle_core::Error::wrap)?;
                (0..n).map(|_| normal.sample(&mut rng)).collect()
            }
            candle_nn::Init::Uniform { lo, up } => (0..n)
                .map(|_| rng.gen_range(lo as f32..up as f32))
                .collect(),
            candle_nn::Init::Kaiming { .. } => {
                let fan_in = s.dims().iter().skip(1).product::<usize>().max(1);
                let bound = (1.0 / fan_in as f32).sqrt();
                (0..n).map(|_| rng.gen_range(-bound..bound)).collect()
            }
        };
        Tensor::from_vec(values, s.clone(), dev)
    }
}

fn poisoned<T>(_: T) -> candle_core::Error {
    candle_core::Error::Msg("variable map lock poisoned".into())
}

impl SimpleBackend for TrainableCheckpoint {
    fn get(
        &self,
        s: Shape,
        name: &str,
        init: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        if let Some(existing) = self.varmap.data().lock().map_err(poisoned)?.get(name) {
            return Ok(existing.as_tensor().clone());
        }
        let t = match &self.checkpoint {
            Some(ck)
                if ck.has(name)
                    && (ck.is_base(name) || ck.stored_shape(name).as_deref() == Some(s.dims())) =>
            {
                ck.load(name, &s, dev)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?
            }
            _ => self.fresh(&s, name, init, dev)?,
        };
        let var = candle_core::Var::from_tensor(&t.to_dtype(dtype)?)?;
        let out = var.as_tensor().clone();
        self.varmap
            .data()
            .lock()
            .map_err(poisoned)?
            .insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        match &self.checkpoint {
            Some(ck) => ck.get_unchecked(name, dtype, dev),
            None => Err(candle_core::Error::Msg(format!(
                "tensor {name} has no initial value"
            ))),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.checkpoint.as_ref().is_some_and(|c| c.has(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bare_bert_names_drop_the_prefix() {
        let map = NameMap::detect(&names(&["embeddings.word_embeddings.weight"]), "bert");
        assert_eq!(
            map.stored("bert.encoder.layer.0.output.dense.weight"),
            "encoder.layer.0.output.dense.weight"
        );
        assert_eq!(map.stored("classifier.weight"), "classifier.weight");
    }

    #[test]
    fn prefixed_and_legacy_names() {
        let map = NameMap::detect(
            &names(&[
                "roberta.embeddings.word_embeddings.weight",
                "roberta.embeddings.LayerNorm.gamma",
            ]),
            "roberta",
        );
        assert_eq!(
            map.stored("roberta.embeddings.LayerNorm.weight"),
            "roberta.embeddings.LayerNorm.gamma"
        );
        assert_eq!(
            map.stored("roberta.embeddings.LayerNorm.bias"),
            "roberta.embeddings.LayerNorm.beta"
        );
    }

    #[test]
    fn truncated_safetensors_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("model.safetensors");
        std::fs::write(&f, [200u8, 0, 0, 0, 0, 0, 0, 0, b'{']).unwrap();
        let err = Weights::open_dir(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("model.safetensors") && err.contains("corrupt"),
            "{err}"
        );
    }

    #[test]
    fn empty_folder_says_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = Weights::open_dir(dir.path()).err().unwrap().to_string();
        assert!(err.contains("no weights"), "{err}");
    }

    #[test]
    fn every_stored_dtype_loads_as_f32_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let dev = Device::Cpu;
        // larger than one copy chunk, so several chunks are copied and released
        let big: Vec<f32> = (0..(COPY_CHUNK / 4 * 2 + 3))
            .map(|i| i as f32 * 0.5)
            .collect();
        let small = Tensor::new(&[1.5f32, -2.25, 3.0], &dev).unwrap();
        let tensors: std::collections::HashMap<String, Tensor> = [
            (
                "big",
                Tensor::from_vec(big.clone(), big.len(), &dev).unwrap(),
            ),
            ("f32", small.clone()),
            ("f16", small.to_dtype(DType::F16).unwrap()),
            ("bf16", small.to_dtype(DType::BF16).unwrap()),
            ("i64", Tensor::new(&[4i64, 5], &dev).unwrap()),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
        let file = dir.path().join("model.safetensors");
        candle_core::safetensors::save(&tensors, &file).unwrap();
        let w = Weights::open_dir(dir.path()).unwrap();
        let values = |name: &str| w.load(name, &dev).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(values("big"), big);
        for name in ["f32", "f16", "bf16"] {
            assert_eq!(values(name), [1.5, -2.25, 3.0], "{name}");
        }
        assert_eq!(values("i64"), [4.0, 5.0]);
        // read again after the pages were released: the same values
        assert_eq!(values("big"), big);
    }
}
