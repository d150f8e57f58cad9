//! Flags shared by the NER commands: how to read tagged files.

use std::path::Path;

use clap::Args;
use naba::data::conll::TagColumn;
use naba::data::tagged::{read_tagged_file, TaggedCorpus};
use naba::data::tags::TagScheme;

/// How NER data files are read.
#[derive(Args, Debug, Clone)]
pub struct NerDataArgs {
    /// Tag scheme of NER files: auto, iob1, iob2, bioes, bilou (converted to IOB2).
    #[arg(long, default_value = "auto")]
    pub tag_scheme: String,
    /// 0-based CoNLL column with the NER tag (the token is column 0; default: the last).
    #[arg(long)]
    pub tag_column: Option<usize>,
}

impl NerDataArgs {
    /// Reads a CoNLL or JSONL NER file as these flags say, reporting lenient repairs.
    pub fn read(&self, path: &Path) -> anyhow::Result<TaggedCorpus> {
        let scheme = match self.tag_scheme.as_str() {
            "auto" => None,
            s => Some(
                s.parse::<TagScheme>()
                    .map_err(|e| anyhow::anyhow!("--tag-scheme: {e}"))?,
            ),
        };
        let column = self.tag_column.map_or(TagColumn::Last, TagColumn::Index);
        let corpus = read_tagged_file(path, scheme, column)?;
        if !corpus.repairs.is_empty() {
            eprintln!(
                "naba: {}: {} tag sequence(s) broke the {} scheme and were read leniently (first: line {}: {})",
                path.display(),
                corpus.repairs.len(),
                corpus.scheme.name(),
                corpus.repairs[0].line,
                corpus.repairs[0].message
            );
        }
        Ok(corpus)
    }
}
