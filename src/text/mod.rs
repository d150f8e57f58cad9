//! Arabic text normalisation with offset maps back to the original text, and word splitting.
//!
//! - [`NormalizerConfig`]: which steps run (diacritics, tatweel, alef forms, ى, ة, digits,
//!   presentation forms / NFKC, invisible marks, whitespace), named presets, serde for saved
//!   models.
//! - [`Normalizer`]: applies a config; [`Normalized`] holds the result and maps any span of it
//!   back to the original bytes or chars.
//! - [`normalize_stream`]: line-by-line normalisation of a reader into a writer.
//! - [`split_words`]: letters / digits / punctuation tokens of raw text with byte offsets.
//!
//! ```
//! use naba::text::{Normalizer, NormalizerConfig};
//! let normalizer = Normalizer::new(NormalizerConfig::preset("arabert").unwrap());
//! let original = "زارَ محمّـدٌ دبي";
//! let normalized = normalizer.normalize(original);
//! assert_eq!(normalized.text(), "زار محمد دبي");
//! let name = normalized.text().find("محمد").unwrap();
//! let span = normalized.original_byte_range(name..name + "محمد".len());
//! assert_eq!(&original[span], "محمّـدٌ");
//! ```

pub mod chars;
mod config;
mod normalize;
mod offsets;
mod stream;
mod unicode;
mod words;

pub use config::NormalizerConfig;
pub use normalize::Normalizer;
pub use offsets::Normalized;
pub use stream::normalize_stream;
pub use words::{split_words, Word};
