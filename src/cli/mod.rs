//! Command-line parsing and the small amount of glue between flags and the library.

mod embed;
mod eval;
mod model_cmd;
mod ner_args;
mod normalize;
mod predict;
mod topic_args;
mod train;

use std::path::Path;

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

/// Warns on stderr about each text argument that is the path of an existing file: it is read
/// as text, as given (the string `notes.txt`, not the file), which is rarely what was meant.
/// `flag` is how the command reads files instead.
fn warn_texts_naming_files(texts: &[String], flag: &str) {
    for text in texts_naming_files(texts) {
        eprintln!(
            "naba: note: the argument `{text}` is read as text, not as the file of that name; \
             to read the file, pass it with {flag}"
        );
    }
}

/// The texts that name an existing file: one line, no surrounding spaces, a file on disk.
fn texts_naming_files(texts: &[String]) -> impl Iterator<Item = &str> {
    texts
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty() && !t.contains('\n') && t.trim() == *t && Path::new(t).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_texts_that_are_paths_of_existing_files_are_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("article.txt");
        std::fs::write(&file, "نص").unwrap();
        let file = file.to_str().unwrap().to_string();
        let texts = vec![
            file.clone(),
            "أعلن الاتحاد أمس".to_string(),
            format!(" {file}"),
            dir.path().to_str().unwrap().to_string(),
            dir.path().join("missing.txt").to_str().unwrap().to_string(),
            String::new(),
        ];
        let flagged: Vec<&str> = texts_naming_files(&texts).collect();
        assert_eq!(flagged, [file.as_str()]);
    }
}
