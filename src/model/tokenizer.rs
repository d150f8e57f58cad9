//! Tokenizers: `tokenizer.json` as is, or `vocab.txt` (+ `tokenizer_config.json`) built into the
//! WordPiece pipeline that transformers' `BertTokenizerFast` uses.
//!
//! Offsets always point into the text given to [`TextTokenizer::encode`]; naba's own
//! normaliser (`text`) maps them further back to the user's original string.

use std::path::{Path, PathBuf};

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    Tokenizer, TokenizerImpl,
};

use super::unigram::FastUnigram;
use crate::error::{Error, Result};

/// A `tokenizer.json` pipeline with naba's fast-loading Unigram model.
type UnigramPipeline = TokenizerImpl<
    FastUnigram,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// The `tokenizers` pipeline: as `tokenizers` builds it, or with [`FastUnigram`] as its model
/// (same output, loads in a fraction of the time).
#[derive(Clone)]
enum Pipeline {
    Hf(Box<Tokenizer>),
    Unigram(Box<UnigramPipeline>),
}

/// Runs `$body` on whichever pipeline `$p` holds, bound to `$t`.
macro_rules! on_pipeline {
    ($p:expr, $t:ident => $body:expr) => {
        match $p {
            Pipeline::Hf($t) => $body,
            Pipeline::Unigram($t) => $body,
        }
    };
}

/// One tokenised text: ids with special tokens, and the byte span of each id in the input
/// (`(0, 0)` for special tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Token ids, starting with the class token and ending with the separator.
    pub ids: Vec<u32>,
    /// Byte offsets `(start, end)` of each token in the encoded text.
    pub offsets: Vec<(usize, usize)>,
    /// The word index (pre-tokenizer split) each token comes from; `None` for special tokens.
    pub words: Vec<Option<u32>>,
}

/// A Hugging Face tokenizer with the special-token ids naba needs for batching and windows.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Pipeline,
    /// Where it was read from.
    source: PathBuf,
    /// `[CLS]` / `<s>`.
    pub cls_id: u32,
    /// `[SEP]` / `</s>`.
    pub sep_id: u32,
    /// `[PAD]` / `<pad>`.
    pub pad_id: u32,
}

const CLS_NAMES: [&str; 2] = ["[CLS]", "<s>"];
const SEP_NAMES: [&str; 2] = ["[SEP]", "</s>"];
const PAD_NAMES: [&str; 2] = ["[PAD]", "<pad>"];
const UNK_NAMES: [&str; 2] = ["[UNK]", "<unk>"];

impl TextTokenizer {
    /// Loads `tokenizer.json` from `dir`, or builds a WordPiece tokenizer from `vocab.txt`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let json = dir.join("tokenizer.json");
        let vocab = dir.join("vocab.txt");
        if json.is_file() {
            Self::from_json_file(&json)
        } else if vocab.is_file() {
            Self::from_vocab(&vocab, &dir.join("tokenizer_config.json"))
        } else {
            Err(Error::model(
                dir,
                "no tokenizer: expected tokenizer.json or vocab.txt",
            ))
        }
    }

    /// Loads a `tokenizer.json` file.
    ///
    /// A Unigram (SentencePiece) model is built as [`FastUnigram`]; any other model, or a
    /// Unigram file the fast model cannot take, as `tokenizers` builds it.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let json = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let pipeline = match serde_json::from_str::<UnigramPipeline>(&json) {
            Ok(fast) => Pipeline::Unigram(Box::new(fast)),
            Err(_) => {
                Pipeline::Hf(Box::new(json.parse::<Tokenizer>().map_err(|e| {
                    Error::model(path, format!("invalid tokenizer: {e}"))
                })?))
            }
        };
        Self::wrap(pipeline, path)
    }

    /// Builds the BERT WordPiece pipeline from `vocab.txt`; `config` (`tokenizer_config.json`,
    /// optional) gives `do_lower_case`, `strip_accents`, `tokenize_chinese_chars` and the special
    /// tokens.
    pub fn from_vocab(vocab: &Path, config: &Path) -> Result<Self> {
        let cfg: serde_json::Value = if config.is_file() {
            let text = std::fs::read_to_string(config).map_err(|e| Error::io(config, e))?;
            serde_json::from_str(&text)
                .map_err(|e| Error::format(config, e.line(), format!("invalid JSON: {e}")))?
        } else {
            serde_json::Value::Null
        };
        let flag = |k: &str| cfg.get(k).and_then(|v| v.as_bool());
        let special = |k: &str, default: &str| -> String {
            match cfg.get(k) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v
                    .get("content")
                    .and_then(|c| c.as_str())
                    .unwrap_or(default)
                    .to_string(),
                None => default.to_string(),
            }
        };
        let lowercase = flag("do_lower_case").unwrap_or(true);
        let strip_accents = flag("strip_accents");
        let chinese = flag("tokenize_chinese_chars").unwrap_or(true);
        let (unk, cls, sep, pad, mask) = (
            special("unk_token", "[UNK]"),
            special("cls_token", "[CLS]"),
            special("sep_token", "[SEP]"),
            special("pad_token", "[PAD]"),
            special("mask_token", "[MASK]"),
        );
        let vocab_str = vocab
            .to_str()
            .ok_or_else(|| Error::model(vocab, "path is not UTF-8"))?;
        let model = WordPiece::from_file(vocab_str)
            .unk_token(unk.clone())
            .build()
            .map_err(|e| Error::model(vocab, format!("invalid vocab.txt: {e}")))?;
        let mut tok = Tokenizer::new(model);
        let id = |t: &str, tok: &Tokenizer| {
            tok.token_to_id(t).ok_or_else(|| {
                Error::model(vocab, format!("special token {t} is not in the vocabulary"))
            })
        };
        let (cls_id, sep_id) = (id(&cls, &tok)?, id(&sep, &tok)?);
        tok.with_normalizer(Some(BertNormalizer::new(
            true,
            chinese,
            strip_accents,
            lowercase,
        )))
        .map_err(|e| Error::model(vocab, e.to_string()))?;
        tok.with_pre_tokenizer(Some(BertPreTokenizer));
        tok.with_post_processor(Some(BertProcessing::new(
            (sep.clone(), sep_id),
            (cls.clone(), cls_id),
        )));
        tok.with_decoder(Some(WordPieceDecoder::default()));
        let specials: Vec<AddedToken> = [unk, cls, sep, pad, mask]
            .into_iter()
            .filter(|t| tok.token_to_id(t).is_some())
            .map(|t| AddedToken::from(t, true))
            .collect();
        tok.add_special_tokens(specials)
            .map_err(|e| Error::model(vocab, e.to_string()))?;
        Self::wrap(Pipeline::Hf(Box::new(tok)), vocab)
    }

    fn wrap(mut tok: Pipeline, source: &Path) -> Result<Self> {
        on_pipeline!(&mut tok, t => {
            t.with_truncation(None)
                .map_err(|e| Error::model(source, e.to_string()))?;
            t.with_padding(None);
        });
        let find = |names: &[&str], what: &str| {
            names
                .iter()
                .find_map(|n| on_pipeline!(&tok, t => t.token_to_id(n)))
                .ok_or_else(|| {
                    Error::model(
                        source,
                        format!("no {what} token (looked for {})", names.join(", ")),
                    )
                })
        };
        Ok(Self {
            cls_id: find(&CLS_NAMES, "class")?,
            sep_id: find(&SEP_NAMES, "separator")?,
            pad_id: find(&PAD_NAMES, "padding")?,
            inner: tok,
            source: source.to_path_buf(),
        })
    }

    /// Where the tokenizer was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The kind of tokenization model: `WordPiece`, `Unigram`, `BPE` or `WordLevel`.
    pub fn model_kind(&self) -> &'static str {
        match &self.inner {
            Pipeline::Unigram(_) => "Unigram",
            Pipeline::Hf(t) => match t.get_model() {
                tokenizers::ModelWrapper::WordPiece(_) => "WordPiece",
                tokenizers::ModelWrapper::Unigram(_) => "Unigram",
                tokenizers::ModelWrapper::BPE(_) => "BPE",
                tokenizers::ModelWrapper::WordLevel(_) => "WordLevel",
            },
        }
    }

    /// The id of `token` (added tokens included).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        on_pipeline!(&self.inner, t => t.token_to_id(token))
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        on_pipeline!(&self.inner, t => t.get_vocab_size(true))
    }

    /// Tokenises `text` with the class and separator tokens around it.
    pub fn encode(&self, text: &str) -> Result<Encoded> {
        self.encode_with(text, true)
    }

    /// Tokenises `text`; `special` adds the class and separator tokens.
    pub fn encode_with(&self, text: &str, special: bool) -> Result<Encoded> {
        let enc = on_pipeline!(&self.inner, t => t.encode(text, special))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(Encoded {
            ids: enc.get_ids().to_vec(),
            offsets: enc.get_offsets().to_vec(),
            words: enc.get_word_ids().to_vec(),
        })
    }

    /// Tokenises many texts in parallel.
    pub fn encode_batch(&self, texts: &[&str], special: bool) -> Result<Vec<Encoded>> {
        let encs = on_pipeline!(&self.inner, t => t.encode_batch(texts.to_vec(), special))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(encs
            .into_iter()
            .map(|e| Encoded {
                ids: e.get_ids().to_vec(),
                offsets: e.get_offsets().to_vec(),
                words: e.get_word_ids().to_vec(),
            })
            .collect())
    }

    /// Tokenises a sentence already split into words, without special tokens, exactly as
    /// transformers' `tokenizer(words, is_split_into_words=True, add_special_tokens=False)` does
    /// (each word is normalised and pre-tokenised on its own, so a Metaspace tokenizer gives every
    /// word its `▁` prefix). `words[i]` of the result is `Some(i)` for the tokens of word `i`;
    /// offsets are bytes within that word. A word that yields no token at all (only characters
    /// the tokenizer deletes) gets the unknown token, so every word has at least one token when
    /// the vocabulary has one.
    pub fn encode_words(&self, words: &[&str]) -> Result<Encoded> {
        if words.is_empty() {
            return Ok(Encoded {
                ids: Vec::new(),
                offsets: Vec::new(),
                words: Vec::new(),
            });
        }
        let enc = on_pipeline!(&self.inner, t => t.encode(words, false))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let mut out = Encoded {
            ids: Vec::with_capacity(enc.len()),
            offsets: Vec::with_capacity(enc.len()),
            words: Vec::with_capacity(enc.len()),
        };
        let unk = UNK_NAMES.iter().find_map(|n| self.token_to_id(n));
        let mut next_word = 0u32;
        let tokens = enc
            .get_ids()
            .iter()
            .zip(enc.get_offsets())
            .zip(enc.get_word_ids());
        for ((&id, &offset), &word) in tokens {
            let word = word.unwrap_or(next_word.saturating_sub(1));
            while next_word < word {
                if let Some(unk) = unk {
                    out.ids.push(unk);
                    out.offsets.push((0, words[next_word as usize].len()));
                    out.words.push(Some(next_word));
                }
                next_word += 1;
            }
            next_word = next_word.max(word + 1);
            out.ids.push(id);
            out.offsets.push(offset);
            out.words.push(Some(word));
        }
        while (next_word as usize) < words.len() {
            if let Some(unk) = unk {
                out.ids.push(unk);
                out.offsets.push((0, words[next_word as usize].len()));
                out.words.push(Some(next_word));
            }
            next_word += 1;
        }
        Ok(out)
    }

    /// [`TextTokenizer::encode_words`] for many sentences, in parallel.
    pub fn encode_words_batch(&self, sentences: &[Vec<&str>]) -> Result<Vec<Encoded>> {
        use rayon::prelude::*;
        sentences
            .par_iter()
            .map(|words| self.encode_words(words))
            .collect()
    }

    /// Writes `tokenizer.json` (so a model folder saved by naba is self-contained).
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = on_pipeline!(&self.inner, t => t.to_string(true))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        crate::data::atomic::write_atomic(path, json.as_bytes())
    }
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("source", &self.source)
            .field("vocab", &self.vocab_size())
            .finish()
    }
}
