//! `naba normalize`: show what the model sees (stdin -> stdout, line by line).

use std::path::Path;

use clap::Args;
use naba::text::{normalize_stream, Normalizer, NormalizerConfig};

#[derive(Args, Debug)]
pub struct NormalizeArgs {
    /// Preset and step changes, e.g. `arabert`, `camelbert+unify_alef`, `arabert-remove_tatweel`.
    #[arg(long, default_value = "arabert")]
    preset: String,
    /// List the presets and steps.
    #[arg(long)]
    list: bool,
}

pub fn run(a: NormalizeArgs) -> anyhow::Result<()> {
    if a.list {
        println!("presets: {}", NormalizerConfig::preset_names().join(", "));
        println!("steps:   {}", NormalizerConfig::step_names().join(", "));
        return Ok(());
    }
    let normalizer = Normalizer::new(NormalizerConfig::parse(&a.preset)?);
    let stdout = std::io::stdout();
    normalize_stream(
        std::io::stdin().lock(),
        std::io::BufWriter::new(stdout.lock()),
        &normalizer,
        Path::new("<stdin>"),
        Path::new("<stdout>"),
    )?;
    Ok(())
}
