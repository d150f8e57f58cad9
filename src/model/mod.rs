//! Models: configs, checkpoints, tokenizers, hub download, the encoder and its heads.
//! Knows model folders, nothing about other files.

pub mod batch;
pub mod classifier;
pub mod config;
pub mod crf;
pub mod dropout;
pub mod e5s1;
pub mod encoder;
pub mod finetuned;
pub mod heads;
pub mod hub;
pub mod info;
mod kernels;
pub mod mapped_rows;
pub use kernels::sgemm;
pub mod meta;
pub mod ops;
pub mod pypi_e5;
pub mod quantize;
pub mod save;
pub mod tagger;
pub mod task_model;
#[cfg(test)]
mod test_util;
pub mod tokenizer;
pub mod unigram;
pub mod weights;
pub mod word_rows;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};

pub use config::{EncoderConfig, Family};
pub use dropout::{DropoutRng, Mode};
pub use encoder::{BertModel, Freeze};
pub use tokenizer::TextTokenizer;
pub use weights::{Checkpoint, Weights};

use crate::error::{Error, Result};

/// An opened model folder: its config and tokenizer; weights are read on demand.
#[derive(Debug, Clone)]
pub struct ModelFolder {
    /// The local folder (a hub snapshot for hub ids).
    pub dir: PathBuf,
    /// `config.json`.
    pub config: EncoderConfig,
    /// `tokenizer.json` or the WordPiece tokenizer built from `vocab.txt`.
    pub tokenizer: TextTokenizer,
}

impl ModelFolder {
    /// Opens a model given as a folder, a hub id, or [`hub::E5_ALIAS`].
    pub fn open(spec: &str) -> Result<Self> {
        Self::open_dir(&hub::resolve(spec)?)
    }

    /// Opens a local model folder and checks that config and tokenizer fit together.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        Ok(Self::open_dir_with(dir, |_| Ok(()))?.0)
    }

    /// Opens `dir` and, while the tokenizer loads on another thread, runs `build` on the
    /// folder's config (e.g. reading the weights): cold start costs the longer of the two.
    pub fn open_dir_with<T: Send>(
        dir: &Path,
        build: impl FnOnce(&EncoderConfig) -> Result<T> + Send,
    ) -> Result<(Self, T)> {
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(Error::model(dir, "no config.json in the model folder"));
        }
        let config = EncoderConfig::from_file(&config_path)?;
        let (tokenizer, built) = std::thread::scope(|scope| {
            let tokenizer = scope.spawn(|| TextTokenizer::from_dir(dir));
            let built = build(&config);
            let tokenizer = tokenizer
                .join()
                .unwrap_or_else(|_| Err(Error::model(dir, "tokenizer loading panicked")));
            (tokenizer, built)
        });
        let tokenizer = tokenizer?;
        let size = tokenizer.vocab_size();
        if size > config.vocab_size {
            return Err(Error::model(
                tokenizer.source(),
                format!(
                    "tokenizer has {size} entries but config.json has vocab_size {}",
                    config.vocab_size
                ),
            ));
        }
        let built = built?;
        Ok((
            Self {
                dir: dir.to_path_buf(),
                config,
                tokenizer,
            },
            built,
        ))
    }

    /// Opens `dir` and loads its encoder for inference, the two in parallel.
    pub fn open_with_encoder(dir: &Path, device: &Device) -> Result<(Self, BertModel)> {
        Self::open_dir_with(dir, |config| {
            let family = config
                .family()
                .map_err(|m| Error::model(dir.join("config.json"), m))?;
            let ck = Checkpoint::new(Weights::open_dir(dir)?, family.prefix());
            let word_table = ck.mapped_word_embeddings(config);
            let vb = VarBuilder::from_backend(Box::new(ck), DType::F32, device.clone());
            BertModel::load_with(vb.pp(family.prefix()), config, false, word_table)
                .map_err(|e| load_error(dir, e))
        })
    }

    /// The encoder family.
    pub fn family(&self) -> Family {
        self.config.family().unwrap_or(Family::Bert)
    }

    /// The checkpoint, seen through canonical (`bert.` / `roberta.` prefixed) names.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        Ok(Checkpoint::new(
            Weights::open_dir(&self.dir)?,
            self.family().prefix(),
        ))
    }

    /// A variable builder over the checkpoint for inference (no gradients).
    pub fn inference_vars(&self, device: &Device) -> Result<VarBuilder<'static>> {
        let ck = self.checkpoint()?;
        Ok(VarBuilder::from_backend(
            Box::new(ck),
            DType::F32,
            device.clone(),
        ))
    }

    /// A variable builder whose tensors are [`candle_core::Var`]s in `varmap`, initialised from
    /// the checkpoint; returns it with the checkpoint so callers can list what was newly created
    /// (`Checkpoint::has`). New tensors (task heads) are drawn from a generator seeded by `seed`.
    pub fn trainable_vars(
        &self,
        varmap: &VarMap,
        device: &Device,
        seed: u64,
    ) -> Result<(VarBuilder<'static>, Arc<Checkpoint>)> {
        let ck = Arc::new(self.checkpoint()?);
        let backend = weights::TrainableCheckpoint::new(Some(ck.clone()), varmap.clone(), seed);
        Ok((
            VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone()),
            ck,
        ))
    }

    /// Loads the encoder for inference (the word embedding read in place from a safetensors
    /// checkpoint).
    pub fn load_encoder(&self, device: &Device) -> Result<BertModel> {
        let ck = self.checkpoint()?;
        let word_table = ck.mapped_word_embeddings(&self.config);
        let vb = VarBuilder::from_backend(Box::new(ck), DType::F32, device.clone());
        BertModel::load_with(
            vb.pp(self.family().prefix()),
            &self.config,
            false,
            word_table,
        )
        .map_err(|e| self.load_error(e))
    }

    /// Wraps a Candle error raised while building modules (missing tensor, wrong shape).
    pub fn load_error(&self, e: candle_core::Error) -> Error {
        load_error(&self.dir, e)
    }
}

/// A one-line error for a Candle failure while building modules from the folder `dir`.
pub(crate) fn load_error(dir: &Path, e: candle_core::Error) -> Error {
    let msg = e.to_string();
    let msg = msg.lines().next().unwrap_or_default().to_string();
    if msg.contains(&dir.display().to_string()) {
        Error::Invalid(msg)
    } else {
        Error::model(dir, msg)
    }
}
