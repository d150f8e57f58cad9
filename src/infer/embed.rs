//! Sentence embeddings: mean-pooled last hidden states (the multilingual-e5 convention).

use candle_core::{Device, Tensor};

use crate::error::Result;
use crate::model::batch::{length_buckets, Batch};
use crate::model::encoder::mean_pool;
use crate::model::{BertModel, Mode, ModelFolder, TextTokenizer};

/// How texts are embedded.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Longest input in tokens, special tokens included; longer texts are truncated.
    pub max_len: usize,
    /// Padded tokens per batch.
    pub batch_tokens: usize,
    /// Text put in front of every input (e5: `"query: "` or `"passage: "`).
    pub prefix: String,
    /// Scale every vector to unit length.
    pub normalize: bool,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        Self {
            max_len: 512,
            batch_tokens: 8192,
            prefix: String::new(),
            normalize: true,
        }
    }
}

/// An encoder and its tokenizer, ready to embed texts.
pub struct Embedder {
    model: BertModel,
    tokenizer: TextTokenizer,
    device: Device,
    max_positions: usize,
}

impl Embedder {
    /// Readies the encoder for inference, with weights quantised as `q` (see
    /// [`crate::model::BertModel::prepare_for_inference`]).
    pub fn prepare_for_inference(&mut self, q: crate::model::quantize::Quantization) -> Result<()> {
        Ok(self.model.prepare_for_inference(q)?)
    }

    /// Loads the encoder of `folder` for inference.
    pub fn new(folder: &ModelFolder, device: &Device) -> Result<Self> {
        Ok(Self::from_parts(
            folder,
            folder.load_encoder(device)?,
            device,
        ))
    }

    /// Opens the model `spec` (folder, hub id or alias), loading tokenizer and weights in parallel.
    pub fn open(spec: &str, device: &Device) -> Result<Self> {
        let dir = crate::model::hub::resolve(spec)?;
        let (folder, model) = ModelFolder::open_with_encoder(&dir, device)?;
        Ok(Self::from_parts(&folder, model, device))
    }

    fn from_parts(folder: &ModelFolder, model: BertModel, device: &Device) -> Self {
        Self {
            model,
            tokenizer: folder.tokenizer.clone(),
            device: device.clone(),
            max_positions: folder.config.max_sequence_length(),
        }
    }

    /// Token ids of `text` with special tokens, truncated to `max_len`.
    fn ids(&self, text: &str, opts: &EmbedOptions) -> Result<Vec<u32>> {
        let full = format!("{}{}", opts.prefix, text);
        let mut ids = self.tokenizer.encode(&full)?.ids;
        let limit = opts.max_len.min(self.max_positions).max(2);
        if ids.len() > limit {
            let sep = ids[ids.len() - 1];
            ids.truncate(limit - 1);
            ids.push(sep);
        }
        Ok(ids)
    }

    /// One vector per text, in input order.
    pub fn embed(&self, texts: &[&str], opts: &EmbedOptions) -> Result<Vec<Vec<f32>>> {
        let ids = texts
            .iter()
            .map(|t| self.ids(t, opts))
            .collect::<Result<Vec<_>>>()?;
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let mut out = vec![Vec::new(); texts.len()];
        for bucket in length_buckets(&lengths, opts.batch_tokens, 256) {
            let rows: Vec<&[u32]> = bucket.iter().map(|&i| ids[i].as_slice()).collect();
            let batch = Batch::from_rows(&rows, self.tokenizer.pad_id, &self.device)?;
            let hidden =
                self.model
                    .forward(&batch.input_ids, &batch.attention_mask, &Mode::Eval)?;
            let mut pooled = mean_pool(&hidden, &batch.attention_mask)?;
            if opts.normalize {
                pooled = l2_normalize(&pooled)?;
            }
            for (row, &i) in pooled.to_vec2::<f32>()?.into_iter().zip(&bucket) {
                out[i] = row;
            }
        }
        Ok(out)
    }
}

/// Scales each row of `x` (`[n, d]`) to unit length.
pub fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    x.broadcast_div(&norm)
}
