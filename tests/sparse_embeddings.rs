//! Training through row-sparse word-embedding gradients (`--lazy-embeddings`) gives the same
//! weights as lazy AdamW on autograd's dense embedding gradient, and does update the embedding.

mod common;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use naba::model::heads::TokenClassifier;
use naba::model::{BertModel, DropoutRng, Mode, ModelFolder};
use naba::train::optim::{AdamW, AdamWConfig};
use naba::train::task::varmap_variables;

type Values = Vec<(String, Vec<f32>)>;

/// Three lazy AdamW steps on the tiny model; every variable's values before and after.
fn train(folder: &ModelFolder, sparse: bool) -> (Values, Values) {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let (vb, _) = folder.trainable_vars(&varmap, &dev, 0).unwrap();
    let mut encoder =
        BertModel::load(vb.pp(folder.family().prefix()), &folder.config, false).unwrap();
    if sparse {
        encoder.track_word_rows();
    }
    let head = TokenClassifier::load(vb, &folder.config, 4).unwrap();
    let values = || -> Values {
        varmap_variables(&varmap)
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()))
            .collect()
    };
    let before = values();
    let mut opt = AdamW::new(
        varmap_variables(&varmap),
        AdamWConfig {
            weight_decay: 0.01,
            lazy_embeddings: true,
            ..Default::default()
        },
    );
    let rng = DropoutRng::new(7);
    let batches = [
        [[2u32, 5, 6, 7, 3], [2, 9, 5, 3, 0]],
        [[2u32, 8, 8, 8, 3], [2, 10, 11, 12, 3]],
        [[2u32, 5, 13, 3, 0], [2, 6, 3, 0, 0]],
    ];
    for ids in batches {
        let ids = Tensor::new(&ids, &dev).unwrap();
        let mask = ids
            .ne(0u32)
            .unwrap()
            .to_dtype(candle_core::DType::U32)
            .unwrap();
        let hidden = encoder.forward(&ids, &mask, &Mode::Train(&rng)).unwrap();
        let logits = head.forward(&hidden, &Mode::Train(&rng)).unwrap();
        let loss = logits.sqr().unwrap().mean_all().unwrap();
        let grads = loss.backward().unwrap();
        let rows = match encoder.word_rows() {
            Some(w) => w.take_grads(&grads).unwrap(),
            None => Vec::new(),
        };
        assert_eq!(rows.is_empty(), !sparse);
        opt.step(&grads, &rows, 1e-2, 1.0).unwrap();
    }
    (before, values())
}

#[test]
fn row_sparse_training_equals_dense_lazy_adamw() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_model(dir.path(), "bert", 11);
    let folder = ModelFolder::open_dir(dir.path()).unwrap();
    let (before, dense) = train(&folder, false);
    let (_, sparse) = train(&folder, true);
    assert_eq!(dense.len(), sparse.len());
    for (((name, a), (_, b)), (_, before)) in dense.iter().zip(&sparse).zip(&before) {
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        // the gradient norm (for clipping) is summed in another order: last-bit differences
        assert!(diff < 1e-6, "{name}: max diff {diff}");
        if name.ends_with("word_embeddings.weight") {
            let changed = a.iter().zip(before).filter(|(x, y)| x != y).count();
            assert!(changed > 0, "the word embedding was not trained");
            // only rows of tokens in the batches (ids 2..=13; padding has no gradient)
            let hidden = a.len() / folder.config.vocab_size;
            let untouched_row = 20 * hidden..21 * hidden;
            assert_eq!(&a[untouched_row.clone()], &before[untouched_row]);
        }
    }
}
