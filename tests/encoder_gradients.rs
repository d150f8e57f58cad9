//! Every trainable weight of encoder + heads (CRF included) receives a non-zero gradient (Candle's fused
//! LayerNorm and softmax have no backward pass; this proves naba does not use them in training).

mod common;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use naba::model::crf::{Crf, CrfSequence};
use naba::model::heads::{Pooling, SequenceClassifier, TokenClassifier};
use naba::model::{BertModel, DropoutRng, Mode, ModelFolder};

fn batch(dev: &Device) -> (Tensor, Tensor) {
    let ids = Tensor::new(&[[2u32, 5, 6, 7, 8, 3], [2, 9, 10, 3, 0, 0]], dev).unwrap();
    let mask = Tensor::new(&[[1u32, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dev).unwrap();
    (ids, mask)
}

fn check_all_vars_get_gradients(model_type: &str, pooling: Pooling) {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_model(dir.path(), model_type, 11);
    let folder = ModelFolder::open_dir(dir.path()).unwrap();
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let (vb, ck) = folder.trainable_vars(&varmap, &dev, 0).unwrap();
    let prefix = folder.family().prefix();
    let encoder = BertModel::load(
        vb.pp(prefix),
        &folder.config,
        SequenceClassifier::needs_pooler(&folder.config, pooling),
    )
    .unwrap();
    let seq_head = SequenceClassifier::load(vb.clone(), &folder.config, 3, pooling).unwrap();
    let tok_head = TokenClassifier::load(vb.pp("ner"), &folder.config, 5).unwrap();
    let crf = Crf::load(vb.pp("ner"), 5).unwrap();
    let rng = DropoutRng::new(1);
    let mode = Mode::Train(&rng);
    let (ids, mask) = batch(&dev);
    let hidden = encoder.forward(&ids, &mask, &mode).unwrap();
    let seq = seq_head.forward(&encoder, &hidden, &mask, &mode).unwrap();
    let tok = tok_head.forward(&hidden, &mode).unwrap();
    // the CRF's negative log-likelihood over the real tokens of each row
    let (b, t, l) = tok.dims3().unwrap();
    let flat = tok.reshape((b * t, l)).unwrap();
    let sequences = [
        CrfSequence {
            rows: vec![0, 1, 2, 3, 4, 5],
            tags: vec![0, 1, 2, 0, 3, 4],
        },
        CrfSequence {
            rows: vec![6, 7, 8, 9],
            tags: vec![1, 2, 2, 0],
        },
    ];
    let nll = crf.nll(&flat, &sequences).unwrap();
    let loss =
        (seq.sqr().unwrap().sum_all().unwrap() + tok.sqr().unwrap().sum_all().unwrap() + nll)
            .unwrap();
    let grads = loss.backward().unwrap();
    let vars = varmap.data().lock().unwrap();
    assert!(vars.len() > 40, "only {} variables", vars.len());
    let mut from_checkpoint = 0;
    for (name, var) in vars.iter() {
        assert_eq!(var.dtype(), DType::F32);
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name}: no gradient"));
        let norm = g
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(norm > 0.0, "{name}: zero gradient");
        from_checkpoint += ck.has(name) as usize;
    }
    // everything but the new heads comes from the checkpoint
    let fresh: Vec<_> = vars.keys().filter(|n| !ck.has(n)).cloned().collect();
    assert!(
        fresh
            .iter()
            .all(|n| n.starts_with("classifier") || n.starts_with("ner")),
        "{fresh:?}"
    );
    assert!(from_checkpoint >= 37, "{from_checkpoint}");
}

#[test]
fn bert_every_weight_gets_a_gradient() {
    check_all_vars_get_gradients("bert", Pooling::Cls);
}

#[test]
fn xlm_roberta_every_weight_gets_a_gradient() {
    check_all_vars_get_gradients("xlm-roberta", Pooling::Cls);
}

#[test]
fn mean_pooling_every_weight_gets_a_gradient() {
    check_all_vars_get_gradients("bert", Pooling::Mean);
}
