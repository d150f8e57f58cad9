//! NER end to end on the tiny fixture model: training lowers the loss (softmax and CRF heads),
//! saved models predict exactly as the trained one, entity spans map back exactly to the original
//! text, long sentences get exactly one tag per word, and pre-tokenized encoding matches
//! per-word encoding.

mod common;

use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_nn::VarMap;
use naba::data::conll::{read_conll, ConllOptions};
use naba::data::tagged::TaggedSentence;
use naba::infer::entities::extract_entities;
use naba::infer::tag::{tag_sentences, TagOptions};
use naba::model::meta::{NabaMeta, TaskKind};
use naba::model::tagger::TokenTagger;
use naba::model::{Freeze, Mode, ModelFolder};
use naba::tasks::ner::{encode_examples, labels_of, NerTask};
use naba::train::batches::BatchPlan;
use naba::train::optim::AdamWConfig;
use naba::train::schedule::Decay;
use naba::train::task::Task;
use naba::train::trainer::{train, EvalStrategy, TrainConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn anercorp(n: usize) -> Vec<TaggedSentence> {
    let path = root().join("datasets/anercorp-sample/train.conll");
    let mut s = read_conll(&path, &ConllOptions::default())
        .unwrap()
        .sentences;
    s.truncate(n);
    s
}

fn meta(crf: bool, normalizer: &str) -> NabaMeta {
    NabaMeta {
        max_len: 24,
        stride: 8,
        crf,
        normalizer: Some(naba::text::NormalizerConfig::parse(normalizer).unwrap()),
        ..NabaMeta::foreign(TaskKind::Ner, 24)
    }
}

fn tagger(meta: NabaMeta, labels: Vec<String>, varmap: &VarMap) -> TokenTagger {
    let base = ModelFolder::open_dir(&common::fixtures().join("tiny-bert")).unwrap();
    TokenTagger::for_training(
        &base,
        labels,
        meta,
        Freeze::default(),
        varmap,
        &Device::Cpu,
        3,
    )
    .unwrap()
}

fn config(out: &Path) -> TrainConfig {
    TrainConfig {
        output_dir: out.to_path_buf(),
        num_train_epochs: 1.0,
        max_steps: Some(25),
        learning_rate: 2e-3,
        warmup_ratio: 0.0,
        lr_scheduler: Decay::Constant,
        adamw: AdamWConfig::default(),
        max_grad_norm: 1.0,
        gradient_accumulation_steps: 1,
        batches: BatchPlan {
            batch_size: 8,
            max_tokens: 4096,
            pool: 64,
        },
        seed: 5,
        eval: EvalStrategy::Steps(25),
        metric_for_best_model: "f1".into(),
        early_stopping_patience: None,
        save_steps: None,
    }
}

fn train_and_reload(crf: bool) {
    let sentences = anercorp(60);
    let (train_s, dev) = (sentences[..50].to_vec(), sentences[50..].to_vec());
    let varmap = VarMap::new();
    let model = tagger(meta(crf, "none"), labels_of(&sentences), &varmap);
    let examples = encode_examples(&model, &train_s, Path::new("train")).unwrap();
    // long sentences were split into windows, none longer than max_len
    assert!(examples.ids.len() > train_s.len());
    assert!(examples.ids.iter().all(|r| r.len() <= 24));
    let task = NerTask::new(model, varmap, examples, dev.clone(), Device::Cpu);
    let all: Vec<usize> = (0..task.train_lengths().len()).collect();
    let loss = |t: &NerTask| {
        t.loss(&all, &Mode::Eval)
            .unwrap()
            .0
            .to_scalar::<f32>()
            .unwrap()
    };
    let before = loss(&task);
    let out = tempfile::tempdir().unwrap();
    let summary = train(&task, &config(out.path()), false).unwrap();
    assert_eq!(summary.steps, 25);
    let after = loss(&task);
    assert!(after < before * 0.8, "loss {before} -> {after}");

    // the saved best model is the final one here (one evaluation); it predicts identically
    let loaded = TokenTagger::load(out.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded.meta.crf, crf);
    assert_eq!(loaded.labels, task.model.labels);
    let words: Vec<Vec<String>> = dev.iter().map(|s| s.tokens.clone()).collect();
    let opts = TagOptions::default();
    let a = tag_sentences(&task.model, &words, &opts, &Device::Cpu).unwrap();
    let b = tag_sentences(&loaded, &words, &opts, &Device::Cpu).unwrap();
    assert_eq!(
        a, b,
        "tags and probabilities before saving and after loading differ"
    );
    assert_eq!(a.iter().flatten().count(), b.iter().flatten().count());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["architectures"][0], "BertForTokenClassification");
    assert_eq!(config["id2label"]["0"], "O");
}

#[test]
fn training_lowers_the_loss_and_saved_models_predict_the_same() {
    train_and_reload(false);
}

#[test]
fn crf_training_lowers_the_loss_and_saved_models_predict_the_same() {
    train_and_reload(true);
}

#[test]
fn long_sentences_get_exactly_one_tag_per_word() {
    let varmap = VarMap::new();
    let sentences = anercorp(120);
    let model = tagger(meta(true, "none"), labels_of(&sentences), &varmap);
    // sentences of a few hundred words, far longer than the 24-token windows
    let words: Vec<Vec<String>> = sentences
        .chunks(20)
        .map(|c| c.iter().flat_map(|s| s.tokens.clone()).collect())
        .collect();
    assert!(
        words.iter().any(|w| w.len() > 100),
        "need sentences longer than max_len"
    );
    let tags = tag_sentences(&model, &words, &TagOptions::default(), &Device::Cpu).unwrap();
    for (w, t) in words.iter().zip(&tags) {
        assert_eq!(w.len(), t.len());
        assert!(t.iter().all(|t| t.label_id < model.labels.len()));
    }
}

/// Sentences from the SANAD sample with tashkeel, tatweel, Latin words and digits mixed in.
fn decorated_texts() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("datasets/sanad-sample/dev.jsonl")).unwrap();
    text.lines()
        .take(12)
        .enumerate()
        .map(|(i, line)| {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            let body: String = doc["text"].as_str().unwrap().chars().take(400).collect();
            let decorated: String = body
                .chars()
                .enumerate()
                .flat_map(|(k, c)| {
                    let mut v = vec![c];
                    if c == 'م' && k % 3 == 0 {
                        v.push('\u{0651}'); // shadda
                        v.push('\u{064E}'); // fatha
                    }
                    if c == 'ل' && k % 2 == 0 {
                        v.push('ـ'); // tatweel
                    }
                    v
                })
                .collect();
            format!("  قال مُحَمَّـــد بن راشد لـ Reuters (رويترز) في 2024: {decorated} ، وذلك في Paris‏ {i}")
        })
        .collect()
}

#[test]
fn entity_offsets_point_into_the_original_text() {
    let texts = decorated_texts();
    let labels: Vec<String> = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (crf, normalizer) in [(false, "arabert"), (true, "arabert"), (false, "none")] {
        let varmap = VarMap::new();
        let model = tagger(meta(crf, normalizer), labels.clone(), &varmap);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let found = extract_entities(&model, &refs, &TagOptions::default(), &Device::Cpu).unwrap();
        let mut count = 0;
        for (text, entities) in texts.iter().zip(&found) {
            for e in entities {
                let by_chars: String = text.chars().skip(e.start).take(e.end - e.start).collect();
                assert_eq!(by_chars, e.text);
                assert_eq!(&text[e.start_byte..e.end_byte], e.text);
                assert!(
                    !e.text.is_empty() && e.text.trim() == e.text,
                    "{:?}",
                    e.text
                );
                assert!((0.0..=1.0).contains(&e.score));
                count += 1;
            }
        }
        // an untrained head tags plenty of words as entities
        assert!(count > 10, "only {count} entities");
    }
}

#[test]
fn word_encoding_matches_per_word_encoding() {
    let dirs = [
        common::fixtures().join("tiny-bert"),
        common::fixtures().join("tiny-xlmr"),
        dirs_e5(),
    ];
    let words = ["قال", "الرئيس", "محمد", "،", "Google", "2024", "دبي"];
    for dir in dirs.iter().filter(|d| d.join("config.json").is_file()) {
        let folder = ModelFolder::open_dir(dir).unwrap();
        let tok = &folder.tokenizer;
        let enc = tok.encode_words(&words).unwrap();
        let mut want = Vec::new();
        let mut owners = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let ids = tok.encode_with(w, false).unwrap().ids;
            owners.extend(std::iter::repeat_n(Some(i as u32), ids.len()));
            want.extend(ids);
        }
        assert_eq!(enc.ids, want, "{}", dir.display());
        assert_eq!(enc.words, owners);
    }
}

/// The multilingual-e5-small folder when it is installed (not in CI).
fn dirs_e5() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/naba/multilingual-e5-small")
}
