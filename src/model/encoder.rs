//! The BERT / XLM-RoBERTa encoder, one struct per checkpoint module, named as in the checkpoint.
//!
//! Owned here rather than taken from candle-transformers because training needs dropout
//! (hidden and attention, from the config), differentiable LayerNorm and softmax, RoBERTa
//! position ids, and freezing of lower layers.

use std::sync::Arc;

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{Embedding, Linear, VarBuilder};

use super::mapped_rows::MappedRows;
use super::quantize::{Proj, Q8Embedding, Quantization};

use super::config::{Activation, EncoderConfig, Family};
use super::dropout::Mode;
use super::ops::{self, LayerNormParams, PackedLinear};
use super::word_rows::WordRows;

/// A LayerNorm module (`weight`, `bias`) that stays differentiable when training.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
    /// Weight and bias as plain values, once prepared for inference (for fused kernels).
    values: Option<(Vec<f32>, Vec<f32>)>,
}

impl LayerNorm {
    /// Loads `weight` and `bias` of width `size`.
    pub fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        let weight = vb.get_with_hints(size, "weight", candle_nn::Init::Const(1.0))?;
        let bias = vb.get_with_hints(size, "bias", candle_nn::Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            eps,
            values: None,
        })
    }

    /// Keeps weight and bias as plain values for the fused inference kernels.
    fn prepare(&mut self) -> Result<()> {
        self.values = Some((self.weight.to_vec1()?, self.bias.to_vec1()?));
        Ok(())
    }

    /// Normalises the last dimension of `x`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

/// Hugging Face's initialisation of BERT weights: normal(0, 0.02).
const BERT_INIT: candle_nn::Init = candle_nn::Init::Randn {
    mean: 0.0,
    stdev: 0.02,
};

/// A linear layer (`weight` `[output, input]`, `bias`) initialised as BERT's when new.
pub(crate) fn linear(vb: VarBuilder, input: usize, output: usize) -> Result<Linear> {
    let weight = vb.get_with_hints((output, input), "weight", BERT_INIT)?;
    let bias = vb.get_with_hints(output, "bias", candle_nn::Init::Const(0.0))?;
    Ok(Linear::new(weight, Some(bias)))
}

fn embedding(vb: VarBuilder, rows: usize, width: usize) -> Result<Embedding> {
    let weight = vb.get_with_hints((rows, width), "weight", BERT_INIT)?;
    Ok(Embedding::new(weight, width))
}

/// `embeddings`: word + position + token-type embeddings, LayerNorm, dropout.
pub struct BertEmbeddings {
    word_embeddings: WordTable,
    position_embeddings: Embedding,
    token_type_embeddings: Option<Embedding>,
    layer_norm: LayerNorm,
    dropout: f64,
    /// When set, training passes look words up through row-sparse variables.
    word_rows: Option<Arc<WordRows>>,
}

impl BertEmbeddings {
    /// Loads from `vb` = `<prefix>.embeddings`; the word embedding from `word_table` instead
    /// when given (read in place, inference only).
    pub fn load(
        vb: VarBuilder,
        cfg: &EncoderConfig,
        word_table: Option<MappedRows>,
    ) -> Result<Self> {
        let h = cfg.hidden_size;
        let word_embeddings = match word_table {
            Some(rows) => WordTable::Mapped(rows),
            None => WordTable::F32(embedding(vb.pp("word_embeddings"), cfg.vocab_size, h)?),
        };
        Ok(Self {
            word_embeddings,
            position_embeddings: embedding(
                vb.pp("position_embeddings"),
                cfg.max_position_embeddings,
                h,
            )?,
            token_type_embeddings: if cfg.type_vocab_size > 0 {
                Some(embedding(
                    vb.pp("token_type_embeddings"),
                    cfg.type_vocab_size,
                    h,
                )?)
            } else {
                None
            },
            layer_norm: LayerNorm::load(vb.pp("LayerNorm"), h, cfg.layer_norm_eps)?,
            dropout: cfg.hidden_dropout_prob,
            word_rows: None,
        })
    }

    /// Stores a loaded f32 word embedding as 8-bit rows (inference only; training needs f32).
    /// A table read in place from the file stays so: only the rows in use are in memory.
    fn quantize(&mut self, q: Quantization) -> Result<()> {
        if let (WordTable::F32(e), true) = (&self.word_embeddings, q.quantizes_embedding()) {
            self.word_embeddings = WordTable::Q8(Q8Embedding::new(e.embeddings())?);
        }
        Ok(())
    }

    /// `input_ids`, `position_ids`: `[batch, seq]` u32. Token types are all 0 (single texts).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        position_ids: &Tensor,
        mode: &Mode,
    ) -> Result<Tensor> {
        let words = match (&self.word_embeddings, &self.word_rows) {
            (WordTable::F32(e), Some(rows)) if mode.is_train() => {
                rows.lookup(e.embeddings(), input_ids)?
            }
            (WordTable::F32(e), _) => e.forward(input_ids)?,
            (WordTable::Q8(q), _) => q.lookup(input_ids)?,
            (WordTable::Mapped(rows), _) => rows.lookup(input_ids)?,
        };
        let positions = self.position_embeddings.forward(position_ids)?;
        let mut x = (words + positions)?;
        if let Some(types) = &self.token_type_embeddings {
            x = x.broadcast_add(&types.embeddings().get(0)?)?;
        }
        let x = self.layer_norm.forward(&x)?;
        mode.dropout(&x, self.dropout)
    }
}

/// The word-embedding matrix: f32, 8-bit rows for quantised inference, or rows read in place
/// from the mapped checkpoint (inference).
enum WordTable {
    F32(Embedding),
    Q8(Q8Embedding),
    Mapped(MappedRows),
}

/// The query, key and value projections: three layers as in the checkpoint, or, once
/// prepared for inference, one layer writing `[q | k | v]` per position.
enum QkvProjections {
    /// `query`, `key`, `value` (trainable).
    Separate {
        /// `query`.
        query: Proj,
        /// `key`.
        key: Proj,
        /// `value`.
        value: Proj,
    },
    /// The three stacked into one (inference only).
    Stacked(Proj),
}

/// `attention.self`: query, key, value projections and scaled dot-product attention.
pub struct BertSelfAttention {
    projections: QkvProjections,
    heads: usize,
    head_dim: usize,
    dropout: f64,
}

impl BertSelfAttention {
    /// Loads from `vb` = `...attention.self`.
    pub fn load(vb: VarBuilder, cfg: &EncoderConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            projections: QkvProjections::Separate {
                query: linear(vb.pp("query"), h, h)?.into(),
                key: linear(vb.pp("key"), h, h)?.into(),
                value: linear(vb.pp("value"), h, h)?.into(),
            },
            heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
            dropout: cfg.attention_probs_dropout_prob,
        })
    }

    /// Stacks f32 query, key and value into one projection (one product instead of three), to
    /// be prepared for inference like the others. Quantised or already stacked projections stay
    /// as they are.
    fn stack(&mut self) -> Result<()> {
        if let QkvProjections::Separate {
            query: Proj::Dense(query),
            key: Proj::Dense(key),
            value: Proj::Dense(value),
        } = &self.projections
        {
            let layers = [query, key, value];
            self.projections = QkvProjections::Stacked(Proj::Dense(ops::stack_linear(&layers)?));
        }
        Ok(())
    }

    /// The projections, for quantisation.
    fn projections_mut(&mut self) -> Vec<&mut Proj> {
        match &mut self.projections {
            QkvProjections::Separate { query, key, value } => vec![query, key, value],
            QkvProjections::Stacked(p) => vec![p],
        }
    }

    /// `x`: `[batch, seq, hidden]`; `mask_bias`: `[batch, 1, 1, seq]` (0 or a large negative).
    pub fn forward(&self, x: &Tensor, mask_bias: &Tensor, mode: &Mode) -> Result<Tensor> {
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let (query, key, value) = match (&self.projections, mode) {
            (QkvProjections::Stacked(p), Mode::Eval) => {
                return ops::attention_inference(&p.forward(x)?, mask_bias, self.heads, scale)
            }
            (QkvProjections::Stacked(_), _) => {
                candle_core::bail!("this encoder was prepared for inference and cannot train")
            }
            (QkvProjections::Separate { query, key, value }, _) => (query, key, value),
        };
        let q = query.forward(x)?;
        let k = key.forward(x)?;
        let v = value.forward(x)?;
        if matches!(mode, Mode::Eval) {
            let qkv = Tensor::cat(&[&q, &k, &v], 2)?;
            return ops::attention_inference(&qkv, mask_bias, self.heads, scale);
        }
        let scores = ops::attention_scores(&q, &k, self.heads, scale)?;
        let dropout = mode
            .dropout_key(self.dropout)?
            .map(|key| (key, self.dropout));
        let probs = ops::attention_probs(&scores, mask_bias, dropout)?;
        ops::attention_context(&probs, &v, self.heads)
    }
}

/// `attention.output` and `output`: dense, dropout, residual, LayerNorm.
pub struct BertResidualOutput {
    dense: Proj,
    layer_norm: LayerNorm,
    dropout: f64,
}

impl BertResidualOutput {
    /// Loads from `vb` = `...attention.output` (width `input` = hidden) or `...output`
    /// (`input` = intermediate size).
    pub fn load(vb: VarBuilder, input: usize, cfg: &EncoderConfig) -> Result<Self> {
        Ok(Self {
            dense: linear(vb.pp("dense"), input, cfg.hidden_size)?.into(),
            layer_norm: LayerNorm::load(vb.pp("LayerNorm"), cfg.hidden_size, cfg.layer_norm_eps)?,
            dropout: cfg.hidden_dropout_prob,
        })
    }

    /// The packed projection and LayerNorm values, when prepared for inference and in `Eval`
    /// mode (no dropout): what the fused kernels take.
    fn packed(&self, mode: &Mode) -> Option<(&PackedLinear, LayerNormParams<'_>)> {
        let ln = &self.layer_norm;
        match (&self.dense, mode, &ln.values) {
            (Proj::Packed(dense), Mode::Eval, Some((w, b))) => Some((dense, (w, b, ln.eps))),
            _ => None,
        }
    }

    /// `LayerNorm(dropout(dense(x)) + residual)`.
    pub fn forward(&self, x: &Tensor, residual: &Tensor, mode: &Mode) -> Result<Tensor> {
        if let Some((dense, ln)) = self.packed(mode) {
            return ops::packed_linear_residual_layer_norm(x, dense, residual, ln);
        }
        let x = mode.dropout(&self.dense.forward(x)?, self.dropout)?;
        self.layer_norm.forward(&(x + residual)?)
    }
}

/// `attention`: self-attention followed by its output block.
pub struct BertAttention {
    self_attention: BertSelfAttention,
    output: BertResidualOutput,
}

impl BertAttention {
    /// Loads from `vb` = `...attention`.
    pub fn load(vb: VarBuilder, cfg: &EncoderConfig) -> Result<Self> {
        Ok(Self {
            self_attention: BertSelfAttention::load(vb.pp("self"), cfg)?,
            output: BertResidualOutput::load(vb.pp("output"), cfg.hidden_size, cfg)?,
        })
    }

    /// Attention sub-layer with residual connection.
    pub fn forward(&self, x: &Tensor, mask_bias: &Tensor, mode: &Mode) -> Result<Tensor> {
        let a = self.self_attention.forward(x, mask_bias, mode)?;
        self.output.forward(&a, x, mode)
    }
}

/// `intermediate`: dense then activation.
pub struct BertIntermediate {
    dense: Proj,
    activation: Activation,
}

impl BertIntermediate {
    /// Loads from `vb` = `...intermediate`.
    pub fn load(vb: VarBuilder, cfg: &EncoderConfig) -> Result<Self> {
        Ok(Self {
            dense: linear(vb.pp("dense"), cfg.hidden_size, cfg.intermediate_size)?.into(),
            activation: cfg.hidden_act,
        })
    }

    /// The packed projection when prepared for inference, in `Eval` mode, with exact GELU:
    /// what the fused kernels take.
    fn packed_gelu(&self, mode: &Mode) -> Option<&PackedLinear> {
        match (&self.dense, self.activation, mode) {
            (Proj::Packed(dense), Activation::Gelu, Mode::Eval) => Some(dense),
            _ => None,
        }
    }

    /// `act(dense(x))`.
    pub fn forward(&self, x: &Tensor, mode: &Mode) -> Result<Tensor> {
        if let Some(dense) = self.packed_gelu(mode) {
            return ops::packed_linear(x, dense, true);
        }
        let x = self.dense.forward(x)?;
        match self.activation {
            Activation::Gelu => ops::gelu_erf(&x),
            Activation::GeluNew => x.gelu(),
            Activation::Relu => x.relu(),
        }
    }
}

/// `encoder.layer.{i}`: attention then feed-forward.
pub struct BertLayer {
    attention: BertAttention,
    intermediate: BertIntermediate,
    output: BertResidualOutput,
}

impl BertLayer {
    /// Loads from `vb` = `encoder.layer.{i}`.
    pub fn load(vb: VarBuilder, cfg: &EncoderConfig) -> Result<Self> {
        Ok(Self {
            attention: BertAttention::load(vb.pp("attention"), cfg)?,
            intermediate: BertIntermediate::load(vb.pp("intermediate"), cfg)?,
            output: BertResidualOutput::load(vb.pp("output"), cfg.intermediate_size, cfg)?,
        })
    }

    /// One transformer block.
    pub fn forward(&self, x: &Tensor, mask_bias: &Tensor, mode: &Mode) -> Result<Tensor> {
        let a = self.attention.forward(x, mask_bias, mode)?;
        if let (Some(up), Some((down, ln))) = (
            self.intermediate.packed_gelu(mode),
            self.output.packed(mode),
        ) {
            return ops::packed_feed_forward(&a, up, down, ln);
        }
        let f = self.intermediate.forward(&a, mode)?;
        self.output.forward(&f, &a, mode)
    }
}

/// `pooler`: dense + tanh on the first token (used by `BertForSequenceClassification`).
pub struct BertPooler {
    dense: Proj,
}

impl BertPooler {
    /// Loads from `vb` = `<prefix>.pooler`.
    pub fn load(vb: VarBuilder, cfg: &EncoderConfig) -> Result<Self> {
        Ok(Self {
            dense: linear(vb.pp("dense"), cfg.hidden_size, cfg.hidden_size)?.into(),
        })
    }

    /// `tanh(dense(hidden[:, 0]))`.
    pub fn forward(&self, hidden: &Tensor) -> Result<Tensor> {
        self.dense
            .forward(&hidden.narrow(1, 0, 1)?.squeeze(1)?)?
            .tanh()
    }
}

/// Which parts of the encoder stay fixed during fine-tuning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Freeze {
    /// Keep the embeddings fixed.
    pub embeddings: bool,
    /// Keep the lowest this-many transformer layers fixed.
    pub lower_layers: usize,
}

/// The whole encoder (`bert` / `roberta` in `*For*` checkpoints).
pub struct BertModel {
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
    pooler: Option<BertPooler>,
    family: Family,
    position_offset: u32,
    pad_token_id: u32,
    freeze: Freeze,
}

impl BertModel {
    /// Loads from `vb` = the base-model prefix. The pooler is loaded only when `with_pooler`.
    pub fn load(vb: VarBuilder, cfg: &EncoderConfig, with_pooler: bool) -> Result<Self> {
        Self::load_with(vb, cfg, with_pooler, None)
    }

    /// As [`BertModel::load`], with the word embedding read in place from `word_table` when
    /// given ([`super::Checkpoint::mapped_word_embeddings`]; inference only: it gets no
    /// gradient).
    pub fn load_with(
        vb: VarBuilder,
        cfg: &EncoderConfig,
        with_pooler: bool,
        word_table: Option<MappedRows>,
    ) -> Result<Self> {
        let family = cfg.family().map_err(candle_core::Error::Msg)?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| BertLayer::load(vb.pp(format!("encoder.layer.{i}")), cfg))
            .collect::<Result<Vec<_>>>()?;
        let pooler = if with_pooler {
            Some(BertPooler::load(vb.pp("pooler"), cfg)?)
        } else {
            None
        };
        Ok(Self {
            embeddings: BertEmbeddings::load(vb.pp("embeddings"), cfg, word_table)?,
            layers,
            pooler,
            family,
            position_offset: cfg.position_offset() as u32,
            pad_token_id: cfg.pad_token_id,
            freeze: Freeze::default(),
        })
    }

    /// Sets which parts are frozen (their outputs are detached from the gradient graph).
    pub fn set_freeze(&mut self, freeze: Freeze) {
        self.freeze = freeze;
    }

    /// From now on, training passes read the word embedding through row-sparse variables
    /// (see [`WordRows`]): the dense embedding gets no gradient, and the optimiser must apply
    /// the row gradients (lazy embedding updates).
    pub fn track_word_rows(&mut self) {
        self.embeddings.word_rows = Some(Arc::new(WordRows::new()));
    }

    /// The recorder of word-embedding rows, when [`BertModel::track_word_rows`] was called.
    pub fn word_rows(&self) -> Option<&WordRows> {
        self.embeddings.word_rows.as_deref()
    }

    /// Readies the encoder for inference (do not train it afterwards): query, key and value
    /// stacked into one projection per layer; then every projection packed for naba's
    /// inference gemm with its GELU or residual + LayerNorm fused in (f32 weights, or 8-bit
    /// blocks for [`Quantization::Q8`], 4-bit blocks for [`Quantization::Q4`], 16-bit integers
    /// for [`Quantization::I16`], 7-bit integers for [`Quantization::I8`]); with `Q8` or `Q4`
    /// the word embedding in 8-bit rows (see
    /// [`super::quantize`]).
    pub fn prepare_for_inference(&mut self, q: Quantization) -> Result<()> {
        self.embeddings.quantize(q)?;
        for layer in &mut self.layers {
            let a = &mut layer.attention;
            a.self_attention.stack()?;
            a.output.layer_norm.prepare()?;
            layer.output.layer_norm.prepare()?;
            let mut projections = a.self_attention.projections_mut();
            projections.extend([
                &mut a.output.dense,
                &mut layer.intermediate.dense,
                &mut layer.output.dense,
            ]);
            for p in projections {
                p.prepare(q)?;
            }
        }
        if let Some(pooler) = &mut self.pooler {
            pooler.dense.prepare(q)?;
        }
        Ok(())
    }

    /// Which parts are frozen.
    pub fn freeze(&self) -> Freeze {
        self.freeze
    }

    /// The embeddings module.
    pub fn embeddings(&self) -> &BertEmbeddings {
        &self.embeddings
    }

    /// The pooler, when loaded.
    pub fn pooler(&self) -> Option<&BertPooler> {
        self.pooler.as_ref()
    }

    /// Position ids `[batch, seq]` for a right-padded batch: `0..seq` for BERT; for RoBERTa,
    /// `pad + 1 + i` on real tokens and `pad` on padding, as transformers computes them.
    pub fn position_ids(&self, attention_mask: &Tensor) -> Result<Tensor> {
        let (b, s) = attention_mask.dims2()?;
        match self.family {
            Family::Bert => Tensor::arange(
                self.position_offset,
                self.position_offset + s as u32,
                attention_mask.device(),
            )?
            .unsqueeze(0)?
            .expand((b, s))?
            .contiguous(),
            Family::Roberta => {
                let mask = attention_mask.to_dtype(DType::U32)?;
                let running = mask.to_dtype(DType::F32)?.cumsum(1)?.to_dtype(DType::U32)?;
                (running * &mask)? + self.pad_token_id as f64
            }
        }
    }

    /// The additive attention bias `[batch, 1, 1, seq]` from a 0/1 mask.
    pub fn mask_bias(attention_mask: &Tensor) -> Result<Tensor> {
        let (b, s) = attention_mask.dims2()?;
        let m = attention_mask.to_dtype(DType::F32)?;
        ((m - 1.0)? * f32::MAX as f64)?.reshape((b, 1, 1, s))
    }

    /// Last hidden states `[batch, seq, hidden]` for `input_ids` and `attention_mask`
    /// (`[batch, seq]`, u32, 1 = real token).
    pub fn forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        mode: &Mode,
    ) -> Result<Tensor> {
        if !mode.is_train() && input_ids.elem_count() <= SPIN_MAX_TOKENS {
            // a short inference pass: the pool's threads spin between its parallel regions
            return super::kernels::spin::with_spinning_pool(|| {
                self.layers_forward(input_ids, attention_mask, mode)
            });
        }
        self.layers_forward(input_ids, attention_mask, mode)
    }

    /// [`Self::forward`]'s body.
    fn layers_forward(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        mode: &Mode,
    ) -> Result<Tensor> {
        let position_ids = self.position_ids(attention_mask)?;
        let mask_bias = Self::mask_bias(attention_mask)?;
        let mut x = self.embeddings.forward(input_ids, &position_ids, mode)?;
        if self.freeze.embeddings {
            x = x.detach();
        }
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x, &mask_bias, mode)?;
            if i < self.freeze.lower_layers {
                x = x.detach();
            }
        }
        Ok(x)
    }
}

/// Most tokens (batch x sequence) of an inference pass that runs with the pool's threads
/// spinning ([`super::kernels::spin`]). Measured in paired runs on e5-small: 1.2-1.6x at
/// b1 x s64-s128, 0.98-1.00x at b1 x s512; back to back at b8 x s128, 0.94-0.95x (polling
/// costs more than the sleeps it saves once regions are long).
const SPIN_MAX_TOKENS: usize = 256;

/// Mean of the hidden states over real tokens (`[batch, hidden]`), the e5 / sentence-embedding
/// convention.
pub fn mean_pool(hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
    let m = attention_mask
        .to_dtype(hidden.dtype())?
        .unsqueeze(D::Minus1)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let count = m.sum(1)?.clamp(1e-9, f64::MAX)?;
    sum.broadcast_div(&count)
}
