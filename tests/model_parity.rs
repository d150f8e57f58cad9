//! naba's encoder and token-classification head against PyTorch + transformers on tiny random
//! checkpoints (BERT and XLM-R, safetensors and pytorch_model.bin). The reference outputs were
//! written once by scripts/make_parity_fixtures.py.

mod common;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use naba::model::heads::TokenClassifier;
use naba::model::quantize::Quantization;
use naba::model::{BertModel, Mode, ModelFolder, Weights};

fn expected(dir: &Path) -> std::collections::HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("expected.safetensors"), &Device::Cpu).unwrap()
}

/// Runs encoder + head on the fixture's batch and compares with transformers.
fn check(
    folder: &ModelFolder,
    vb: candle_nn::VarBuilder,
    exp: &std::collections::HashMap<String, Tensor>,
) {
    let ids = exp["input_ids"].to_dtype(DType::U32).unwrap();
    let mask = exp["attention_mask"].to_dtype(DType::U32).unwrap();
    let mut encoder =
        BertModel::load(vb.pp(folder.family().prefix()), &folder.config, false).unwrap();
    // integer products (`--quantize i16`, `i8`) stay within a small fraction of the hidden
    // states
    for (quantization, tolerance) in [(Quantization::I16, 5e-3), (Quantization::I8, 5e-2)] {
        let mut integer =
            BertModel::load(vb.pp(folder.family().prefix()), &folder.config, false).unwrap();
        integer.prepare_for_inference(quantization).unwrap();
        let hidden = integer.forward(&ids, &mask, &Mode::Eval).unwrap();
        let want = &exp["last_hidden_state"];
        let (d, scale) = (common::max_abs_diff(&hidden, want), common::max_abs(want));
        eprintln!("{quantization:?}: hidden states differ by {d} (largest {scale})");
        assert!(
            d > 0.0 && d <= tolerance * scale,
            "{quantization:?}: hidden states differ by {d} (largest {scale})"
        );
    }
    let head = TokenClassifier::load(vb, &folder.config, 5).unwrap();
    // as loaded (trainable layout), then prepared for inference (packed q, k, v)
    for prepared in [false, true] {
        if prepared {
            encoder.prepare_for_inference(Quantization::None).unwrap();
        }
        let hidden = encoder.forward(&ids, &mask, &Mode::Eval).unwrap();
        let logits = head.forward(&hidden, &Mode::Eval).unwrap();
        let dh = common::max_abs_diff(&hidden, &exp["last_hidden_state"]);
        let dl = common::max_abs_diff(&logits, &exp["logits"]);
        assert!(
            dh <= 1e-4,
            "prepared {prepared}: hidden states differ by {dh}"
        );
        assert!(dl <= 1e-4, "prepared {prepared}: logits differ by {dl}");
    }
    // a prepared encoder refuses to train instead of training stale weights
    let rng = naba::model::DropoutRng::new(1);
    let err = encoder
        .forward(&ids, &mask, &Mode::Train(&rng))
        .unwrap_err();
    assert!(err.to_string().contains("prepared for inference"), "{err}");
}

fn check_model(name: &str) {
    let dir = common::fixtures().join(name);
    let folder = ModelFolder::open_dir(&dir).unwrap();
    let exp = expected(&dir);
    // model.safetensors (preferred by the folder loader)
    check(&folder, folder.inference_vars(&Device::Cpu).unwrap(), &exp);
    // pytorch_model.bin
    let ck = naba::model::Checkpoint::new(
        Weights::open_pytorch(&dir.join("pytorch_model.bin")).unwrap(),
        folder.family().prefix(),
    );
    let vb = candle_nn::VarBuilder::from_backend(Box::new(ck), DType::F32, Device::Cpu);
    check(&folder, vb, &exp);
}

#[test]
fn tiny_bert_matches_transformers() {
    check_model("tiny-bert");
}

#[test]
fn tiny_xlm_roberta_matches_transformers() {
    check_model("tiny-xlmr");
}

#[test]
fn vocab_txt_tokenizer_matches_bert_tokenizer_fast() {
    let dir = common::fixtures().join("tiny-bert");
    let folder = ModelFolder::open_dir(&dir).unwrap();
    let exp = expected(&dir);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let texts = meta["tokenizer_texts"].as_array().unwrap();
    assert!(texts.len() >= 4);
    for (i, text) in texts.iter().enumerate() {
        let text = text.as_str().unwrap();
        let want: Vec<u32> = exp[&format!("tokenizer_ids_{i}")]
            .to_dtype(DType::U32)
            .unwrap()
            .to_vec1()
            .unwrap();
        let got = folder.tokenizer.encode(text).unwrap();
        assert_eq!(got.ids, want, "{text}");
        // offsets point into the text given
        for (&(s, e), word) in got.offsets.iter().zip(&got.words) {
            if word.is_some() {
                assert!(
                    text.get(s..e).is_some_and(|t| !t.is_empty()),
                    "{text}: bad span {s}..{e}"
                );
            }
        }
    }
}

#[test]
fn sharded_safetensors_load_like_a_single_file() {
    let src = common::fixtures().join("tiny-bert");
    let dir = tempfile::tempdir().unwrap();
    let all = candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu).unwrap();
    let mut names: Vec<_> = all.keys().cloned().collect();
    names.sort();
    let (a, b) = names.split_at(names.len() / 2);
    let mut weight_map = serde_json::Map::new();
    for (file, part) in [
        ("model-00001-of-00002.safetensors", a),
        ("model-00002-of-00002.safetensors", b),
    ] {
        let shard: std::collections::HashMap<_, _> =
            part.iter().map(|n| (n.clone(), all[n].clone())).collect();
        candle_core::safetensors::save(&shard, dir.path().join(file)).unwrap();
        for n in part {
            weight_map.insert(n.clone(), file.into());
        }
    }
    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        serde_json::json!({"metadata": {}, "weight_map": weight_map}).to_string(),
    )
    .unwrap();
    for f in ["config.json", "vocab.txt", "tokenizer_config.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let folder = ModelFolder::open_dir(dir.path()).unwrap();
    check(
        &folder,
        folder.inference_vars(&Device::Cpu).unwrap(),
        &expected(&src),
    );
}
