//! Command-line parsing and the small amount of glue between flags and the library.

mod embed;
mod eval;
mod model_cmd;
mod ner_args;
mod normalize;
mod predict;
mod topic_args;
mod train;

use clap::{Parser, Subcommand};

/// naba (نبأ): Arabic news topic classification and named-entity recognition on pretrained
/// transformers (AraBERT, CAMeLBERT, MARBERT, XLM-R, multilingual-e5), in Rust.
#[derive(Parser, Debug)]
#[command(name = "naba", version, about, long_about = None)]
pub struct Cli {
    /// Worker threads for tensor maths (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sentence embeddings (mean-pooled, unit length) as JSON Lines.
    Embed(embed::EmbedArgs),
    /// Fine-tune a base model (topic classification; NER).
    Train(Box<train::TrainArgs>),
    /// Score a fine-tuned model on labelled data.
    Eval(eval::EvalArgs),
    /// Run a fine-tuned model on new text (JSON Lines out).
    Predict(predict::PredictArgs),
    /// Normalise Arabic text from stdin to stdout as a model preset would.
    Normalize(normalize::NormalizeArgs),
    /// Inspect or install base models.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .ok();
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    match cli.command {
        Command::Embed(a) => embed::run(a),
        Command::Model(c) => model_cmd::run(c),
        Command::Train(a) => train::run(*a),
        Command::Eval(a) => eval::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Normalize(a) => normalize::run(a),
    }
}
