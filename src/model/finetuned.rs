//! What every fine-tuned model (topic classifier, NER tagger) shares: the `naba` block of its
//! config, the `architectures` name transformers reads, frozen-variable prefixes, and writing the
//! model folder (config, weights, tokenizer).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Tensor};
use candle_nn::VarMap;

use super::meta::{NabaMeta, TaskKind};
use super::{EncoderConfig, Family, Freeze, ModelFolder};
use crate::error::{Error, Result};

/// Reads the `naba` block of a config, if any.
pub fn read_meta(cfg: &EncoderConfig, path: &Path) -> Result<Option<NabaMeta>> {
    match cfg.extra.get("naba") {
        None => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            Error::model(
                path.join("config.json"),
                format!("invalid \"naba\" block: {e}"),
            )
        }),
    }
}

/// The task of the fine-tuned model in `dir`: from its `naba` block, else guessed from its
/// `architectures` (`*ForTokenClassification` is NER, anything else topic classification).
pub fn task_of(dir: &Path) -> Result<TaskKind> {
    let path = dir.join("config.json");
    let cfg = EncoderConfig::from_file(&path)?;
    if let Some(meta) = read_meta(&cfg, dir)? {
        return Ok(meta.task);
    }
    let token = cfg
        .extra
        .get("architectures")
        .and_then(|a| a.as_array())
        .is_some_and(|a| {
            a.iter().any(|n| {
                n.as_str()
                    .is_some_and(|n| n.ends_with("ForTokenClassification"))
            })
        });
    Ok(if token {
        TaskKind::Ner
    } else {
        TaskKind::Topic
    })
}

/// The `architectures` entry for a model of `cfg`'s family with the head of `task`
/// (`BertForSequenceClassification`, `XLMRobertaForTokenClassification` ...).
pub fn architecture(cfg: &EncoderConfig, task: TaskKind) -> String {
    let family = match (cfg.family(), cfg.model_type.as_str()) {
        (Ok(Family::Roberta), "xlm-roberta") => "XLMRoberta",
        (Ok(Family::Roberta), _) => "Roberta",
        _ => "Bert",
    };
    let head = match task {
        TaskKind::Topic => "SequenceClassification",
        TaskKind::Ner => "TokenClassification",
    };
    format!("{family}For{head}")
}

/// The config.json of a fine-tuned model: the base config with `labels` (`id2label` /
/// `label2id`), the architecture of `meta.task` and the `naba` block.
pub fn finetuned_config(
    base: &EncoderConfig,
    labels: &[String],
    meta: &NabaMeta,
) -> Result<EncoderConfig> {
    let mut cfg = base.clone();
    cfg.set_labels(labels);
    cfg.extra.insert(
        "architectures".into(),
        serde_json::json!([architecture(&cfg, meta.task)]),
    );
    let value = serde_json::to_value(meta).map_err(|e| Error::Invalid(e.to_string()))?;
    cfg.extra.insert("naba".into(), value);
    Ok(cfg)
}

/// Name prefixes of the variables that `freeze` keeps fixed, under base prefix `prefix`.
pub fn frozen_prefixes(prefix: &str, freeze: Freeze) -> Vec<String> {
    let mut out: Vec<String> = (0..freeze.lower_layers)
        .map(|i| format!("{prefix}.encoder.layer.{i}."))
        .collect();
    if freeze.embeddings {
        out.push(format!("{prefix}.embeddings."));
    }
    out
}

/// Writes a fine-tuned model folder: config, weights (every variable), tokenizer.
pub fn save_folder(
    dir: &Path,
    config: &EncoderConfig,
    base: &ModelFolder,
    varmap: &VarMap,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| Error::Invalid("variable map lock poisoned".into()))?
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().to_dtype(DType::F32)?)))
        .collect::<Result<_>>()?;
    super::save::save_safetensors(&tensors, &dir.join("model.safetensors"))?;
    base.tokenizer.save(&dir.join("tokenizer.json"))?;
    crate::data::atomic::write_atomic(&dir.join("config.json"), config.to_json().as_bytes())
}

/// What a fine-tuned folder gives the code that builds its modules.
pub struct FinetunedParts<'a> {
    /// The model folder.
    pub dir: &'a Path,
    /// Its `config.json`.
    pub config: &'a EncoderConfig,
    /// Label names by id (`id2label`).
    pub labels: Vec<String>,
    /// The `naba` block, or transformers' defaults for checkpoints made elsewhere.
    pub meta: NabaMeta,
    /// The weights.
    pub vars: candle_nn::VarBuilder<'static>,
    /// The word embedding read in place from the file (inference from safetensors), else
    /// `None`: load it from `vars`.
    pub word_table: Option<super::mapped_rows::MappedRows>,
}

/// The parts for training a new head on `base`: variables in `varmap`, the encoder initialised
/// from the checkpoint, new tensors drawn from a generator seeded by `seed`.
pub fn training_parts<'a>(
    base: &'a ModelFolder,
    labels: Vec<String>,
    meta: NabaMeta,
    varmap: &VarMap,
    device: &candle_core::Device,
    seed: u64,
) -> Result<FinetunedParts<'a>> {
    let (vars, _) = base.trainable_vars(varmap, device, seed)?;
    Ok(FinetunedParts {
        dir: &base.dir,
        config: &base.config,
        labels,
        meta,
        vars,
        word_table: None,
    })
}

/// Opens the fine-tuned model in `dir`, checking that it is a `task` model with labels (`what`
/// names the kind in errors: "topic classifier", "NER tagger"), and runs `build` on its parts
/// while the tokenizer loads on another thread.
pub fn open_finetuned<T: Send>(
    dir: &Path,
    task: TaskKind,
    what: &str,
    device: &candle_core::Device,
    build: impl FnOnce(FinetunedParts<'_>) -> Result<T> + Send,
) -> Result<(ModelFolder, T)> {
    let config_path = dir.join("config.json");
    ModelFolder::open_dir_with(dir, |config| {
        let labels = config.labels().map_err(|m| Error::model(&config_path, m))?;
        if labels.is_empty() {
            return Err(Error::model(
                &config_path,
                format!("no id2label: not a fine-tuned {what}"),
            ));
        }
        let meta = match read_meta(config, dir)? {
            Some(m) if m.task != task => {
                return Err(Error::model(
                    &config_path,
                    format!("this is a {:?} model, not a {what}", m.task),
                ))
            }
            Some(m) => m,
            None => NabaMeta::foreign(task, config.max_sequence_length()),
        };
        let family = config.family().map_err(|m| Error::model(&config_path, m))?;
        let checkpoint = super::Checkpoint::new(super::Weights::open_dir(dir)?, family.prefix());
        let word_table = checkpoint.mapped_word_embeddings(config);
        let vars =
            candle_nn::VarBuilder::from_backend(Box::new(checkpoint), DType::F32, device.clone());
        build(FinetunedParts {
            dir,
            config,
            labels,
            meta,
            vars,
            word_table,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_names_follow_transformers() {
        let mut cfg: EncoderConfig = serde_json::from_value(serde_json::json!({
            "model_type": "xlm-roberta", "vocab_size": 10, "hidden_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
            "max_position_embeddings": 20
        }))
        .unwrap();
        assert_eq!(
            architecture(&cfg, TaskKind::Ner),
            "XLMRobertaForTokenClassification"
        );
        cfg.model_type = "bert".into();
        assert_eq!(
            architecture(&cfg, TaskKind::Topic),
            "BertForSequenceClassification"
        );
    }
}
