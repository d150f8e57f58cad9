//! A SentencePiece Unigram model for the `tokenizers` pipeline that loads in a fraction of the
//! time of `tokenizers`' own, with the same output.
//!
//! `tokenizers::models::unigram::Unigram` builds a byte trie with one hash map per node; for the
//! 250k pieces of XLM-R / multilingual-e5 that takes about a second, most of `naba predict`'s
//! cold start. Here every byte prefix of every piece is one entry of a flat table keyed by a
//! rolling 64-bit hash, built in one pass; the Viterbi search walks the input byte by byte,
//! extending the hash, and stops at the first prefix no piece has. A hash hit is accepted only
//! when the piece's bytes equal the input's, so collisions can cost time but never change the
//! result. The search is the one of `Unigram::encode_optimized` (SentencePiece's), with the same
//! tie-breaking, unknown-character penalty, fusion of unknown runs and byte fallback, so ids and
//! offsets are identical (checked against `tokenizers` in the tests).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokenizers::models::unigram::UnigramTrainer;
use tokenizers::{Model, Token};

/// SentencePiece's penalty below the lowest piece score for an unknown character.
const UNK_PENALTY: f64 = 10.0;

/// Marks a table entry that is a prefix of some piece but no piece itself.
const PREFIX_ONLY: u32 = u32::MAX;

/// The hash of the empty byte string.
const HASH_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Extends a prefix hash by one byte.
#[inline]
fn hash_step(h: u64, byte: u8) -> u64 {
    (h.rotate_left(5) ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3_9e37)
}

/// The keys are hashes already: the table uses them as they are.
#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type PrefixTable = HashMap<u64, u32, BuildHasherDefault<KeyIsHash>>;

/// A Unigram (SentencePiece) tokenization model: pieces with log-probability scores.
#[derive(Clone)]
pub struct FastUnigram {
    vocab: Vec<(String, f64)>,
    unk_id: Option<usize>,
    byte_fallback: bool,
    min_score: f64,
    /// Longest piece in bytes.
    max_piece_len: usize,
    /// Hash of every byte prefix of every piece -> the piece id, or [`PREFIX_ONLY`].
    prefixes: PrefixTable,
}

/// Where a Viterbi path ending at one byte position comes from.
#[derive(Clone, Copy)]
struct PathEnd {
    id: usize,
    score: f64,
    start: Option<usize>,
}

impl FastUnigram {
    /// Builds the model from `(piece, score)` pairs in id order.
    pub fn new(
        vocab: Vec<(String, f64)>,
        unk_id: Option<usize>,
        byte_fallback: bool,
    ) -> Result<Self, String> {
        if let Some(unk) = unk_id {
            if unk >= vocab.len() {
                return Err(format!(
                    "unk_id {unk} is outside the vocabulary of {} pieces",
                    vocab.len()
                ));
            }
        }
        let total_bytes: usize = vocab.iter().map(|(p, _)| p.len()).sum();
        let mut prefixes = PrefixTable::with_capacity_and_hasher(total_bytes, Default::default());
        let mut min_score = f64::INFINITY;
        let mut max_piece_len = 0;
        for (id, (piece, score)) in vocab.iter().enumerate() {
            min_score = min_score.min(*score);
            max_piece_len = max_piece_len.max(piece.len());
            let mut h = HASH_START;
            let bytes = piece.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                h = hash_step(h, b);
                let slot = prefixes.entry(h).or_insert(PREFIX_ONLY);
                if i + 1 == bytes.len() {
                    if *slot != PREFIX_ONLY && vocab[*slot as usize].0 != *piece {
                        return Err(format!(
                            "hash collision between pieces {:?} and {piece:?}",
                            vocab[*slot as usize].0
                        ));
                    }
                    // a repeated piece maps to its last id, as in `tokenizers`' map
                    *slot = id as u32;
                }
            }
        }
        Ok(Self {
            vocab,
            unk_id,
            byte_fallback,
            min_score,
            max_piece_len,
            prefixes,
        })
    }

    /// The id of `piece`, if it is one.
    fn piece_id(&self, piece: &str) -> Option<u32> {
        let h = piece.bytes().fold(HASH_START, hash_step);
        match self.prefixes.get(&h) {
            Some(&id) if id != PREFIX_ONLY && self.vocab[id as usize].0 == piece => Some(id),
            _ => None,
        }
    }

    /// The best segmentation of `text` as byte ranges with their piece id (`None` = unknown,
    /// runs of unknown characters fused into one range).
    fn segment(&self, text: &str) -> tokenizers::Result<Vec<(usize, usize, Option<u32>)>> {
        let bytes = text.as_bytes();
        let size = bytes.len();
        let unk_score = self.min_score - UNK_PENALTY;
        let unset = PathEnd {
            id: 0,
            score: 0.0,
            start: None,
        };
        let mut best = vec![unset; size + 1];
        let offer = |best: &mut [PathEnd], end: usize, start: usize, id: usize, score: f64| {
            let node = &mut best[end];
            if node.start.is_none() || score > node.score {
                *node = PathEnd {
                    id,
                    score,
                    start: Some(start),
                };
            }
        };
        let mut start = 0;
        while start < size {
            let here = best[start].score;
            let char_len = utf8_len(bytes[start]);
            let mut has_single_char = false;
            let mut h = HASH_START;
            let limit = size.min(start + self.max_piece_len);
            for end in start..limit {
                h = hash_step(h, bytes[end]);
                let Some(&id) = self.prefixes.get(&h) else {
                    break;
                };
                if id == PREFIX_ONLY {
                    continue;
                }
                let (piece, score) = &self.vocab[id as usize];
                if piece.as_bytes() != &bytes[start..=end] {
                    continue;
                }
                offer(&mut best, end + 1, start, id as usize, score + here);
                has_single_char |= end + 1 - start == char_len;
            }
            if !has_single_char {
                let unk = self
                    .unk_id
                    .ok_or("the text has a character the vocabulary lacks and no unk_id")?;
                offer(&mut best, start + char_len, start, unk, unk_score + here);
            }
            start += char_len;
        }
        let mut out = Vec::new();
        let mut end = size;
        while end > 0 {
            let node = best[end];
            let start = node.start.expect("every char boundary is reached");
            let is_unk = Some(node.id) == self.unk_id;
            match out.last_mut() {
                // fuse runs of unknown characters, as `tokenizers` does by default
                Some((s, _, None)) if is_unk => *s = start,
                _ => out.push((start, end, (!is_unk).then_some(node.id as u32))),
            }
            end = start;
        }
        out.reverse();
        Ok(out)
    }
}

/// Bytes of the UTF-8 character starting with `first`.
fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

impl Model for FastUnigram {
    type Trainer = UnigramTrainer;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<Token>> {
        let mut tokens = Vec::new();
        for (start, end, id) in self.segment(sequence)? {
            let text = &sequence[start..end];
            // an unknown piece (`tokenizers` looks the fused string up again: a run of unknown
            // characters may itself be a piece)
            let id = match id.or_else(|| self.piece_id(text)) {
                Some(id) => id,
                None => {
                    let bytes: Option<Vec<Token>> = self
                        .byte_fallback
                        .then(|| {
                            text.bytes()
                                .map(|b| {
                                    let piece = format!("<0x{b:02X}>");
                                    let id = self.piece_id(&piece)?;
                                    Some(Token::new(id, piece, (start, end)))
                                })
                                .collect()
                        })
                        .flatten();
                    if let Some(bytes) = bytes {
                        tokens.extend(bytes);
                        continue;
                    }
                    self.unk_id.ok_or("no unk_id")? as u32
                }
            };
            tokens.push(Token::new(id, text.to_string(), (start, end)));
        }
        Ok(tokens)
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.piece_id(token)
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        self.vocab.get(id as usize).map(|(p, _)| p.clone())
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        self.vocab
            .iter()
            .enumerate()
            .map(|(id, (p, _))| (p.clone(), id as u32))
            .collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.vocab.len()
    }

    fn save(&self, folder: &Path, prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        let name = match prefix {
            Some(p) => format!("{p}-unigram.json"),
            None => "unigram.json".into(),
        };
        let path = folder.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(self)?)?;
        Ok(vec![path])
    }

    fn get_trainer(&self) -> UnigramTrainer {
        UnigramTrainer::default()
    }
}

impl Serialize for FastUnigram {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut model = serializer.serialize_struct("Unigram", 4)?;
        model.serialize_field("type", "Unigram")?;
        model.serialize_field("unk_id", &self.unk_id)?;
        model.serialize_field("vocab", &self.vocab)?;
        model.serialize_field("byte_fallback", &self.byte_fallback)?;
        model.end()
    }
}

impl<'de> Deserialize<'de> for FastUnigram {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(
            "Unigram",
            &["type", "vocab", "unk_id", "byte_fallback"],
            UnigramVisitor,
        )
    }
}

struct UnigramVisitor;

impl<'de> Visitor<'de> for UnigramVisitor {
    type Value = FastUnigram;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Unigram model")
    }

    fn visit_map<V: MapAccess<'de>>(self, mut map: V) -> Result<FastUnigram, V::Error> {
        let (mut vocab, mut unk_id, mut byte_fallback) = (None, None, false);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => {
                    let kind: String = map.next_value()?;
                    if kind != "Unigram" {
                        return Err(de::Error::custom(format!("not a Unigram model: {kind}")));
                    }
                }
                "vocab" => vocab = Some(map.next_value::<Vec<(String, f64)>>()?),
                "unk_id" => unk_id = map.next_value()?,
                "byte_fallback" => byte_fallback = map.next_value()?,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let vocab = vocab.ok_or_else(|| de::Error::missing_field("vocab"))?;
        FastUnigram::new(vocab, unk_id, byte_fallback).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokenizers::models::unigram::Unigram;

    fn both(vocab: &[(&str, f64)], unk: usize, fallback: bool) -> (FastUnigram, Unigram) {
        let v: Vec<(String, f64)> = vocab.iter().map(|(p, s)| (p.to_string(), *s)).collect();
        (
            FastUnigram::new(v.clone(), Some(unk), fallback).unwrap(),
            Unigram::from(v, Some(unk), fallback).unwrap(),
        )
    }

    fn same_tokens(fast: &FastUnigram, reference: &Unigram, text: &str) {
        let got = fast.tokenize(text).unwrap();
        let want = reference.tokenize(text).unwrap();
        let view = |t: &[Token]| -> Vec<(u32, String, (usize, usize))> {
            t.iter()
                .map(|t| (t.id, t.value.clone(), t.offsets))
                .collect()
        };
        assert_eq!(view(&got), view(&want), "on {text:?}");
    }

    const VOCAB: &[(&str, f64)] = &[
        ("<unk>", 0.0),
        ("▁", -2.0),
        ("ا", -3.0),
        ("ل", -3.1),
        ("ال", -2.5),
        ("▁ال", -2.2),
        ("كتاب", -4.0),
        ("ك", -3.5),
        ("ت", -3.6),
        ("ب", -3.7),
        ("كت", -3.9),
        ("اب", -3.8),
        ("a", -1.0),
        ("ab", -1.5),
        ("b", -1.0),
        ("abc", -2.0),
        ("<0xC3>", -5.0),
        ("<0xA9>", -5.0),
    ];

    #[test]
    fn segments_like_tokenizers() {
        let (fast, reference) = both(VOCAB, 0, false);
        for text in [
            "▁الكتاب",
            "abcab",
            "ababab",
            "xyzال",
            "ééa",
            "",
            "كتابكتاب▁",
        ] {
            same_tokens(&fast, &reference, text);
        }
    }

    #[test]
    fn falls_back_to_bytes_like_tokenizers() {
        let (fast, reference) = both(VOCAB, 0, true);
        for text in ["éa", "aéb", "zé"] {
            same_tokens(&fast, &reference, text);
        }
    }

    #[test]
    fn looks_up_pieces_and_round_trips_json() {
        let (fast, _) = both(VOCAB, 0, false);
        assert_eq!(fast.token_to_id("▁ال"), Some(5));
        assert_eq!(fast.token_to_id("▁ا"), None);
        assert_eq!(fast.id_to_token(6).as_deref(), Some("كتاب"));
        let json = serde_json::to_string(&fast).unwrap();
        let back: FastUnigram = serde_json::from_str(&json).unwrap();
        assert_eq!(back.vocab, fast.vocab);
        let theirs: Unigram = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&theirs).unwrap(), json);
    }

    #[test]
    fn refuses_other_models() {
        let err = serde_json::from_str::<FastUnigram>(r#"{"type":"WordPiece","vocab":[]}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("not a Unigram model"), "{err}");
    }

    proptest! {
        #[test]
        fn any_text_any_scores(
            scores in proptest::collection::vec(-8.0f64..-0.5, VOCAB.len()),
            text in "[a-cالكتب▁éz]{0,24}",
        ) {
            let vocab: Vec<(&str, f64)> = VOCAB
                .iter()
                .zip(&scores)
                .map(|((p, _), s)| (*p, *s))
                .collect();
            let (fast, reference) = both(&vocab, 0, false);
            same_tokens(&fast, &reference, &text);
        }
    }
}
