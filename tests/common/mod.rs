//! Helpers shared by integration tests: tiny random models in Hugging Face layout.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

/// The folder of committed test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// A WordPiece vocabulary with Arabic letters and a few words.
pub fn tiny_vocab() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for w in [
        "وزارة",
        "الدفاع",
        "في",
        "من",
        "قال",
        "مدينة",
        "دبي",
        "الرئيس",
        ".",
        ",",
    ] {
        v.push(w.to_string());
    }
    for c in 'ء'..='ي' {
        v.push(c.to_string());
        v.push(format!("##{c}"));
    }
    v
}

/// Writes a tiny random BERT (`model_type`, hidden 32, 2 layers) with bare tensor names into
/// `dir`: config.json, model.safetensors, vocab.txt.
pub fn write_tiny_model(dir: &Path, model_type: &str, seed: u64) {
    let vocab = tiny_vocab();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("vocab.txt"), vocab.join("\n")).unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"do_lower_case": false}"#,
    )
    .unwrap();
    let (pad, positions) = if model_type == "bert" {
        (0, 40)
    } else {
        (0, 42)
    };
    let config = serde_json::json!({
        "model_type": model_type, "vocab_size": vocab.len(), "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu",
        "max_position_embeddings": positions, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
        "pad_token_id": pad, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1
    });
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
    let mut t: HashMap<String, Tensor> = HashMap::new();
    let mut rng = seed;
    let mut randn = |shape: &[usize], scale: f32| {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((rng >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 2.0 * scale
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    };
    let h = 32;
    t.insert(
        "embeddings.word_embeddings.weight".into(),
        randn(&[vocab.len(), h], 0.5),
    );
    t.insert(
        "embeddings.position_embeddings.weight".into(),
        randn(&[positions, h], 0.5),
    );
    t.insert(
        "embeddings.token_type_embeddings.weight".into(),
        randn(&[2, h], 0.5),
    );
    let ln = |t: &mut HashMap<String, Tensor>,
              p: &str,
              randn: &mut dyn FnMut(&[usize], f32) -> Tensor| {
        t.insert(format!("{p}.weight"), (randn(&[h], 0.1) + 1.0).unwrap());
        t.insert(format!("{p}.bias"), randn(&[h], 0.1));
    };
    ln(&mut t, "embeddings.LayerNorm", &mut randn);
    for l in 0..2 {
        let p = format!("encoder.layer.{l}");
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", 64, h),
            ("output.dense", h, 64),
        ] {
            t.insert(format!("{p}.{name}.weight"), randn(&[out, inp], 0.3));
            t.insert(format!("{p}.{name}.bias"), randn(&[out], 0.1));
        }
        ln(
            &mut t,
            &format!("{p}.attention.output.LayerNorm"),
            &mut randn,
        );
        ln(&mut t, &format!("{p}.output.LayerNorm"), &mut randn);
    }
    t.insert("pooler.dense.weight".into(), randn(&[h, h], 0.3));
    t.insert("pooler.dense.bias".into(), randn(&[h], 0.1));
    candle_core::safetensors::save(&t, dir.join("model.safetensors")).unwrap();
}

/// Largest absolute difference between two tensors.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    max_abs(&(a - b).unwrap())
}

/// Largest absolute value of a tensor.
pub fn max_abs(a: &Tensor) -> f32 {
    a.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}
