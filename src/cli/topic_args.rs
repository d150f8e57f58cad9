//! Flags shared by the topic commands that read labelled documents (`train`, `eval`).

use clap::Args;
use naba::data::documents::ReaderOptions;

/// Which fields of labelled documents hold what.
#[derive(Args, Debug, Clone)]
pub struct TopicFieldArgs {
    /// Field / column with the text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Field / column with the label.
    #[arg(long, default_value = "label")]
    pub label_field: String,
    /// Field / column with a title to put in front of the text.
    #[arg(long)]
    pub title_field: Option<String>,
}

impl TopicFieldArgs {
    /// Reader options for labelled documents with these fields.
    pub fn reader_options(&self) -> ReaderOptions {
        ReaderOptions {
            text_field: self.text_field.clone(),
            label_field: self.label_field.clone(),
            title_field: self.title_field.clone(),
            ..ReaderOptions::default()
        }
    }
}
