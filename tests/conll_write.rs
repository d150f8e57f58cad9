//! The CoNLL writer: round trips through the readers, scheme conversion on output, atomic
//! replacement, and errors for what a column file cannot hold.

use std::path::{Path, PathBuf};

use naba::data::conll::{
    format_conll, read_conll, read_gold_pred, write_conll, ConllOptions, TagColumn,
};
use naba::data::tagged::TaggedSentence;
use naba::data::tags::{from_iob2, TagScheme};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/aqmar-sample/dev.conll")
}

fn sentence(tokens: &str, tags: &str) -> TaggedSentence {
    let split = |s: &str| s.split(' ').map(str::to_string).collect();
    TaggedSentence::new(split(tokens), split(tags)).unwrap()
}

#[test]
fn gold_and_predictions_round_trip_in_every_scheme() {
    let corpus = read_conll(sample(), &ConllOptions::default()).unwrap();
    // Predictions: every gold tag shifted by one token, so they differ from gold.
    let predicted: Vec<Vec<String>> = corpus
        .sentences
        .iter()
        .map(|s| {
            std::iter::once("O".to_string())
                .chain(s.tags.iter().cloned())
                .take(s.len())
                .collect()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    for scheme in TagScheme::ALL {
        let path = dir.path().join(format!("{scheme}.conll"));
        write_conll(&path, &corpus.sentences, Some(&predicted), scheme).unwrap();
        let back = read_gold_pred(&path).unwrap();
        assert_eq!(back.gold.len(), corpus.sentences.len());
        for (s, original) in corpus.sentences.iter().enumerate() {
            assert_eq!(back.tokens[s], original.tokens);
            assert_eq!(
                back.gold[s],
                from_iob2(&original.tags, scheme).unwrap(),
                "{scheme}"
            );
            assert_eq!(
                back.pred[s],
                from_iob2(&predicted[s], scheme).unwrap(),
                "{scheme}"
            );
        }
        // Reading the gold column back in its scheme gives the IOB2 sentences again.
        let options = ConllOptions {
            tag_column: TagColumn::Index(1),
            ..ConllOptions::default()
        };
        let reread = read_conll(&path, &options).unwrap();
        let tags: Vec<&Vec<String>> = reread.sentences.iter().map(|s| &s.tags).collect();
        let original: Vec<&Vec<String>> = corpus.sentences.iter().map(|s| &s.tags).collect();
        assert_eq!(tags, original, "{scheme}");
    }
}

#[test]
fn writes_two_columns_without_predictions() {
    let sentences = [
        sentence("محمد علي في", "B-PER I-PER O"),
        sentence("بغداد", "B-LOC"),
    ];
    let text = format_conll(&sentences, None, TagScheme::Bioes).unwrap();
    assert_eq!(text, "محمد B-PER\nعلي E-PER\nفي O\n\nبغداد S-LOC\n\n");
}

#[test]
fn replaces_files_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.conll");
    std::fs::write(&path, "old content").unwrap();
    write_conll(&path, &[sentence("a", "O")], None, TagScheme::Iob2).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a O\n\n");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["out.conll"], "no temporary file is left behind");
    let missing_dir = dir.path().join("no/such/dir/out.conll");
    let err = write_conll(&missing_dir, &[sentence("a", "O")], None, TagScheme::Iob2)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&missing_dir.display().to_string()), "{err}");
}

#[test]
fn what_a_column_file_cannot_hold_is_an_error() {
    let spaced = TaggedSentence {
        tokens: vec!["a b".to_string()],
        tags: vec!["O".to_string()],
        line: 0,
    };
    let err = format_conll(&[spaced], None, TagScheme::Iob2)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "sentence 1, token 1: 'a b' is empty or holds whitespace, which a CoNLL column cannot"
    );
    let sentences = [sentence("a b", "O B-PER")];
    let short = vec![vec!["O".to_string()]];
    let err = format_conll(&sentences, Some(&short), TagScheme::Iob2)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "sentence 1: 2 tokens but 1 predicted tags");
    let err = format_conll(&sentences, Some(&[]), TagScheme::Iob2)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "1 sentences but 0 predicted tag sequences");
    let bad_tag = [sentence("a", "S-PER")];
    let err = format_conll(&bad_tag, None, TagScheme::Bioes)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "sentence 1, token 1: tag 'S-PER' uses the prefix S-, which the IOB2 scheme does not have"
    );
    assert!(TaggedSentence::new(vec!["a".to_string()], vec![]).is_err());
}
