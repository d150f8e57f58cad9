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
pub mod meta;
pub mod ops;
pub mod pypi_e5;
pub mod save;
pub mod tagger;
pub mod tokenizer;
pub mod weights;

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
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(Error::model(dir, "no config.json in the model folder"));
        }
        let config = EncoderConfig::from_file(&config_path)?;
        let tokenizer = TextTokenizer::from_dir(dir)?;
        let largest = tokenizer
            .inner()
            .get_vocab(true)
            .values()
            .copied()
            .max()
            .unwrap_or(0) as usize;
        if largest >= config.vocab_size {
            return Err(Error::model(
                tokenizer.source(),
                format!(
                    "tokenizer ids reach {largest} but config.json has vocab_size {}",
                    config.vocab_size
                ),
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            tokenizer,
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

    /// Loads the encoder for inference.
    pub fn load_encoder(&self, device: &Device) -> Result<BertModel> {
        let vb = self.inference_vars(device)?;
        BertModel::load(vb.pp(self.family().prefix()), &self.config, false)
            .map_err(|e| self.load_error(e))
    }

    /// Wraps a Candle error raised while building modules (missing tensor, wrong shape).
    pub fn load_error(&self, e: candle_core::Error) -> Error {
        let msg = e.to_string();
        let msg = msg.lines().next().unwrap_or_default().to_string();
        if msg.contains(&self.dir.display().to_string()) {
            Error::Invalid(msg)
        } else {
            Error::model(&self.dir, msg)
        }
    }
}
