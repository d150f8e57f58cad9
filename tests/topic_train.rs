//! Topic classification end to end on the committed SANAD sample with a tiny model: training
//! lowers the loss, the saved model reloads with identical predictions, eval/predict run.

mod common;

use std::path::Path;

use candle_core::Device;
use candle_nn::VarMap;
use naba::data::documents::{read_documents, ReaderOptions};
use naba::infer::classify::{classify, ClassifyOptions, LongText};
use naba::model::classifier::TopicClassifier;
use naba::model::heads::Pooling;
use naba::model::meta::{NabaMeta, TaskKind};
use naba::model::{Freeze, ModelFolder};
use naba::tasks::topic::{encode_documents, label_ids, Encoded, TopicTask};
use naba::train::batches::BatchPlan;
use naba::train::optim::AdamWConfig;
use naba::train::schedule::Decay;
use naba::train::trainer::{train, EvalStrategy, TrainConfig};

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join("sanad-sample")
        .join(name)
}

pub fn config(output: &Path, steps: u64) -> TrainConfig {
    TrainConfig {
        output_dir: output.to_path_buf(),
        num_train_epochs: 1.0,
        max_steps: Some(steps),
        learning_rate: 5e-3,
        warmup_ratio: 0.1,
        lr_scheduler: Decay::Linear,
        adamw: AdamWConfig {
            weight_decay: 0.01,
            ..Default::default()
        },
        max_grad_norm: 1.0,
        gradient_accumulation_steps: 2,
        batches: BatchPlan {
            batch_size: 8,
            max_tokens: 1024,
            pool: 64,
        },
        seed: 3,
        eval: EvalStrategy::Steps(10),
        metric_for_best_model: "accuracy".into(),
        early_stopping_patience: None,
        save_steps: None,
    }
}

#[test]
fn training_lowers_the_loss_and_the_saved_model_predicts_the_same() {
    let base = ModelFolder::open_dir(&common::fixtures().join("tiny-bert")).unwrap();
    let train_docs = read_documents(&sample("train.jsonl"), &ReaderOptions::default()).unwrap();
    let dev_docs = read_documents(&sample("dev.jsonl"), &ReaderOptions::default()).unwrap();
    let labels: Vec<String> = naba::data::documents::label_counts(&train_docs)
        .into_keys()
        .collect();
    assert_eq!(labels.len(), 7);
    let meta = NabaMeta {
        pooling: Pooling::Mean,
        max_len: 32,
        ..NabaMeta::foreign(TaskKind::Topic, 32)
    };
    let varmap = VarMap::new();
    let model = TopicClassifier::for_training(
        &base,
        labels.clone(),
        meta,
        Freeze::default(),
        &varmap,
        &Device::Cpu,
        1,
    )
    .unwrap();
    let texts = |docs: &[naba::data::documents::Document]| {
        docs.iter().map(|d| d.text.clone()).collect::<Vec<_>>()
    };
    let enc = |t: &[String]| {
        encode_documents(
            &base.tokenizer,
            &t.iter().map(String::as_str).collect::<Vec<_>>(),
            32,
            Default::default(),
        )
        .unwrap()
    };
    let train_set = Encoded {
        ids: enc(&texts(&train_docs)),
        labels: label_ids(&train_docs, &labels, Path::new("train")).unwrap(),
    };
    let dev_set = Encoded {
        ids: enc(&texts(&dev_docs)),
        labels: label_ids(&dev_docs, &labels, Path::new("dev")).unwrap(),
    };
    let task = TopicTask::new(model, varmap, train_set, dev_set, None, Device::Cpu).unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = train(&task, &config(out.path(), 80), false).unwrap();
    assert_eq!(summary.steps, 80);
    let log: Vec<serde_json::Value> = std::fs::read_to_string(out.path().join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log.len(), 8);
    let first = log[0]["loss"].as_f64().unwrap();
    let last = log[7]["loss"].as_f64().unwrap();
    assert!(last < first * 0.9, "loss {first} -> {last}");
    assert!(log[0]["metrics"]["accuracy"].as_f64().is_some());

    // save the final weights and reload: identical probabilities
    let saved = tempfile::tempdir().unwrap();
    use naba::train::task::Task;
    task.save_model(saved.path()).unwrap();
    let reloaded = TopicClassifier::load(saved.path(), &Device::Cpu).unwrap();
    let opts = ClassifyOptions {
        long_text: LongText::Windows,
        top_k: 7,
        batch_tokens: 4096,
    };
    let dev_texts: Vec<&str> = dev_docs.iter().map(|d| d.text.as_str()).collect();
    let before = classify(&task.model, &dev_texts, &opts, &Device::Cpu).unwrap();
    let after = classify(&reloaded, &dev_texts, &opts, &Device::Cpu).unwrap();
    assert_eq!(
        before, after,
        "predictions before saving and after loading differ"
    );
    // and a second load gives bit-identical results
    let again = classify(
        &TopicClassifier::load(saved.path(), &Device::Cpu).unwrap(),
        &dev_texts,
        &opts,
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(after, again);
    assert!(
        before.iter().any(|p| p.windows > 1),
        "some dev articles span several windows"
    );
    // the saved folder is a transformers checkpoint
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["architectures"][0], "BertForSequenceClassification");
    assert_eq!(cfg["id2label"]["0"], labels[0].as_str());
    assert_eq!(cfg["naba"]["task"], "topic");
    let names =
        candle_core::safetensors::load(saved.path().join("model.safetensors"), &Device::Cpu)
            .unwrap();
    assert!(
        names.contains_key("bert.encoder.layer.1.output.LayerNorm.weight")
            && names.contains_key("classifier.weight")
    );
}
