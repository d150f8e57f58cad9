//! Quantised inference: the encoder's projections with 8-bit or 4-bit weights (blocks of 32
//! input values with one f32 scale, as GGML's `Q8_0` / `Q4_0`, see
//! `super::kernels::block_quant`) run by naba's packed gemm, which dequantises one panel
//! sliver at a time in cache, and the word embedding stored as 8-bit rows; or, for speed,
//! integer products: 16-bit weights (a scale per output column) times activations quantised per
//! row as each product starts, summed exactly in 32-bit integers (see
//! [`super::kernels::sgemm::IntPanels`]); or 7-bit weights times activations quantised to bytes
//! with a zero point per row, the fastest and coarsest.
//!
//! Training always runs in f32; quantisation is a choice made when a model is loaded for
//! inference (`--quantize q8|q4|i16|i8`), never stored in the model.

use std::str::FromStr;

use candle_core::{Result, Tensor};
use candle_nn::Linear;

use super::kernels::block_quant::{quantize_block_q8, Bits, BLOCK};
use super::kernels::sgemm::WeightFormat;
use super::ops::{self, PackedLinear};

/// Weight precision of the encoder at inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Quantization {
    /// f32 weights (as trained).
    #[default]
    None,
    /// 8-bit blocks (`Q8_0`'s scheme, f32 scales) for the projections; 8-bit rows for the word
    /// embedding.
    Q8,
    /// 4-bit blocks (`Q4_0`'s scheme, f32 scales) for the projections; 8-bit rows for the word
    /// embedding.
    Q4,
    /// Integer products for the projections: weights and activations as 16-bit integers of at
    /// most 2,896 in magnitude (11.5 bits; a scale per weight column and per activation row),
    /// exact 32-bit sums. Faster than f32 on CPUs with AVX2; the word embedding stays f32.
    I16,
    /// Integer products for the projections: weights as 7-bit integers (at most 63 in
    /// magnitude, a scale per column), activations as bytes with a scale and zero point per row
    /// (as ONNX Runtime's dynamic quantisation, per row rather than per tensor), exact 32-bit
    /// sums. Faster than `I16`, coarser; the word embedding stays f32.
    I8,
}

impl FromStr for Quantization {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "f32" => Ok(Self::None),
            "q8" | "q8_0" | "int8" => Ok(Self::Q8),
            "q4" | "q4_0" | "int4" => Ok(Self::Q4),
            "i16" | "int16" => Ok(Self::I16),
            "i8" => Ok(Self::I8),
            other => Err(format!(
                "unknown quantization {other:?} (none, q8, q4, i16, i8)"
            )),
        }
    }
}

impl Quantization {
    /// How the packed gemm keeps the projections' weights.
    fn weight_format(self) -> WeightFormat {
        match self {
            Self::None => WeightFormat::F32,
            Self::Q8 => WeightFormat::Blocks(Bits::Eight),
            Self::Q4 => WeightFormat::Blocks(Bits::Four),
            Self::I16 => WeightFormat::Int16,
            Self::I8 => WeightFormat::Int8,
        }
    }

    /// Whether the word embedding is kept as 8-bit rows.
    pub fn quantizes_embedding(self) -> bool {
        matches!(self, Self::Q8 | Self::Q4)
    }
}

/// A projection `x W^T + b`: f32 and trainable (through the fused linear op), or packed for
/// inference.
pub enum Proj {
    /// f32 weight and bias.
    Dense(Linear),
    /// Weight packed for the inference gemm, f32 or quantised (inference only).
    Packed(PackedLinear),
}

impl Proj {
    /// `x W^T + b` for `x`: `[..., input]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Dense(l) => ops::linear(x, l),
            Self::Packed(p) => ops::packed_linear(x, p, false),
        }
    }

    /// Readies an f32 projection for inference: packed for naba's inference gemm, with f32
    /// weights, 8- / 4-bit blocks, or 16- or 7-bit integers as `q` says. Projections already
    /// prepared stay as they are.
    pub fn prepare(&mut self, q: Quantization) -> Result<()> {
        if let Self::Dense(l) = &*self {
            *self = Self::Packed(ops::pack_linear(l, q.weight_format())?);
        }
        Ok(())
    }
}

impl From<Linear> for Proj {
    fn from(l: Linear) -> Self {
        Self::Dense(l)
    }
}

/// An embedding matrix stored as 8-bit rows with one f32 scale per 32 values (`Q8_0`'s
/// layout), looked up row by row: a quarter of the f32 memory.
pub struct Q8Embedding {
    values: Vec<i8>,
    scales: Vec<f32>,
    width: usize,
    rows: usize,
}

impl Q8Embedding {
    /// Quantises `table` (`[rows, width]`, f32), read in place.
    pub fn new(table: &Tensor) -> Result<Self> {
        let (rows, width) = table.dims2()?;
        let (values, scales) = ops::with_f32_values(table, |data| {
            let mut values = vec![0i8; data.len()];
            let mut scales = Vec::with_capacity(rows * width.div_ceil(BLOCK));
            for (row, out) in data.chunks(width).zip(values.chunks_mut(width)) {
                for (block, out) in row.chunks(BLOCK).zip(out.chunks_mut(BLOCK)) {
                    scales.push(quantize_block_q8(block, out));
                }
            }
            (values, scales)
        })?;
        Ok(Self {
            values,
            scales,
            width,
            rows,
        })
    }

    /// `table[ids]`: `[..ids dims, width]` f32.
    pub fn lookup(&self, ids: &Tensor) -> Result<Tensor> {
        let flat = ids.flatten_all()?.to_vec1::<u32>()?;
        let blocks_per_row = self.width.div_ceil(BLOCK);
        let mut out = Vec::with_capacity(flat.len() * self.width);
        for &id in &flat {
            let id = id as usize;
            if id >= self.rows {
                candle_core::bail!("token id {id} outside the embedding ({} rows)", self.rows)
            }
            let row = &self.values[id * self.width..(id + 1) * self.width];
            let scales = &self.scales[id * blocks_per_row..(id + 1) * blocks_per_row];
            for (block, scale) in row.chunks(BLOCK).zip(scales) {
                out.extend(block.iter().map(|v| *v as f32 * scale));
            }
        }
        let mut shape = ids.dims().to_vec();
        shape.push(self.width);
        Tensor::from_vec(out, shape, ids.device())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::{max_abs, max_diff};
    use candle_core::{Device, IndexOp};

    /// Deterministic pseudo-random values of about `scale`.
    fn values(rows: usize, cols: usize, scale: f32) -> Tensor {
        let v: Vec<f32> = (0..rows * cols)
            .map(|i| scale * ((i as f32 * 12.9898).sin() * 43_758.547).fract())
            .collect();
        Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap()
    }

    #[test]
    fn quantised_projections_stay_close_to_f32() {
        let w = values(48, 64, 0.05);
        let b = values(1, 48, 0.05).squeeze(0).unwrap();
        let x = values(10, 64, 1.0).reshape((2, 5, 64)).unwrap();
        let dense = Proj::Dense(Linear::new(w.clone(), Some(b.clone())));
        let want = dense.forward(&x).unwrap();
        let scale = max_abs(&want);
        // relative to the largest output: 8-bit within 2%, 4-bit within 15%, 16-bit integer
        // products within 0.2%, 8-bit integer products within 2%
        for (q, tol) in [
            (Quantization::Q8, 0.02 * scale),
            (Quantization::Q4, 0.15 * scale),
            (Quantization::I16, 0.002 * scale),
            (Quantization::I8, 0.02 * scale),
        ] {
            let mut p = Proj::Dense(Linear::new(w.clone(), Some(b.clone())));
            p.prepare(q).unwrap();
            assert!(matches!(p, Proj::Packed(_)));
            let got = p.forward(&x).unwrap();
            assert_eq!(got.dims(), want.dims());
            let d = max_diff(&got, &want);
            assert!(d < tol && d > 0.0, "{q:?}: max diff {d}");
        }
    }

    #[test]
    fn q8_embedding_rows_are_within_half_a_step() {
        let table = values(10, 40, 0.1);
        let q = Q8Embedding::new(&table).unwrap();
        let ids = Tensor::new(&[[3u32, 9], [0, 3]], &Device::Cpu).unwrap();
        let got = q.lookup(&ids).unwrap();
        assert_eq!(got.dims(), &[2, 2, 40]);
        let want = table.i(3).unwrap();
        let amax = want
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(max_diff(&got.i((0, 0)).unwrap(), &want) <= amax / 127.0 * 0.5 + 1e-6);
        assert!(q
            .lookup(&Tensor::new(&[10u32], &Device::Cpu).unwrap())
            .is_err());
    }

    #[test]
    fn parses_names() {
        assert_eq!("q8".parse::<Quantization>(), Ok(Quantization::Q8));
        assert_eq!("Q4_0".parse::<Quantization>(), Ok(Quantization::Q4));
        assert_eq!("int16".parse::<Quantization>(), Ok(Quantization::I16));
        assert_eq!("I8".parse::<Quantization>(), Ok(Quantization::I8));
        assert!("q3".parse::<Quantization>().is_err());
    }
}
