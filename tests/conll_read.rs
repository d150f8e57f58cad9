//! The CoNLL reader on the committed ANERcorp and AQMAR samples and on small bad inputs: every
//! error names the file and the 1-based line.

use std::path::{Path, PathBuf};

use naba::data::conll::{read_conll, read_gold_pred, ConllOptions, TagColumn};
use naba::data::tagged::TagOptions;
use naba::data::tags::TagScheme;

fn sample(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(path)
}

/// Writes `bytes` to a file named `name` in a fresh temporary folder.
fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

fn strict() -> ConllOptions {
    ConllOptions {
        tags: TagOptions {
            scheme: None,
            strict: true,
        },
        ..ConllOptions::default()
    }
}

/// The error message of reading `text` with `options`, with the temp folder cut off.
fn error_of(text: &str, options: &ConllOptions) -> String {
    let (dir, path) = temp_file("bad.conll", text.as_bytes());
    let message = read_conll(&path, options).unwrap_err().to_string();
    message.replace(&format!("{}/", dir.path().display()), "")
}

#[test]
fn reads_the_anercorp_sample_and_repairs_its_i_after_o() {
    let corpus = read_conll(
        sample("anercorp-sample/train.conll"),
        &ConllOptions::default(),
    )
    .unwrap();
    assert_eq!(corpus.sentences.len(), 150);
    assert_eq!(
        corpus.sentences.iter().map(|s| s.len()).sum::<usize>(),
        4384
    );
    assert_eq!(corpus.scheme, TagScheme::Iob2);
    assert_eq!(corpus.sentences[0].line, 1);
    assert_eq!(corpus.sentences[0].tokens[0], "فرانكفورت");
    assert_eq!(corpus.sentences[0].tags[0], "B-LOC");
    assert_eq!(corpus.repairs.len(), 1);
    assert_eq!(corpus.repairs[0].line, 2779);
    assert_eq!(
        corpus.repairs[0].message,
        "tag I-MISC does not continue an entity (previous tag O)"
    );
    // The repaired token now starts its entity.
    let (sentence, token) = corpus
        .sentences
        .iter()
        .find_map(|s| (s.line <= 2779 && 2779 < s.line + s.len()).then(|| (s, 2779 - s.line)))
        .unwrap();
    assert_eq!(sentence.tags[token], "B-MISC");
    let types: Vec<String> = corpus.entity_types().into_iter().collect();
    assert_eq!(types, ["LOC", "MISC", "ORG", "PERS"]);
    assert_eq!(corpus.iob2_labels()[..3], ["O", "B-LOC", "I-LOC"]);
}

#[test]
fn strict_mode_rejects_the_anercorp_i_after_o_with_its_line() {
    let path = sample("anercorp-sample/train.conll");
    let err = read_conll(&path, &strict()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:2779: tag I-MISC does not continue an entity (previous tag O)",
            path.display()
        )
    );
}

#[test]
fn reads_the_aqmar_sample() {
    let corpus = read_conll(sample("aqmar-sample/dev.conll"), &strict()).unwrap();
    assert_eq!(corpus.sentences.len(), 150);
    assert_eq!(
        corpus.sentences.iter().map(|s| s.len()).sum::<usize>(),
        3314
    );
    assert!(corpus.repairs.is_empty());
    let types: Vec<String> = corpus.entity_types().into_iter().collect();
    assert_eq!(types, ["LOC", "MIS", "ORG", "PER"]);
    // Sentence lines: the second sentence starts after the first and its blank line.
    assert_eq!(corpus.sentences[1].line, corpus.sentences[0].len() + 2);
}

#[test]
fn accepts_bom_crlf_tabs_docstart_and_invisible_marks() {
    let text = "\u{FEFF}-DOCSTART- O\r\n\r\nمحمد\tB-PER\r\n\u{200F}علي\u{200E}  I-PER\r\n\u{200F}\tO\r\nفي O\r\n-DOCSTART- O\r\nبغداد B-LOC\r\n";
    let (_dir, path) = temp_file("marks.conll", text.as_bytes());
    let corpus = read_conll(&path, &strict()).unwrap();
    assert_eq!(corpus.sentences.len(), 2, "-DOCSTART- ends a sentence");
    let first = &corpus.sentences[0];
    assert_eq!(
        first.tokens,
        ["محمد", "علي", "في"],
        "the mark-only token is skipped"
    );
    assert_eq!(first.tags, ["B-PER", "I-PER", "O"], "and its tag with it");
    assert_eq!(first.line, 3);
    assert_eq!(corpus.sentences[1].line, 8);
}

#[test]
fn reads_a_chosen_tag_column() {
    let text = "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n";
    let (_dir, path) = temp_file("conll2003.conll", text.as_bytes());
    let last = read_conll(&path, &ConllOptions::default()).unwrap();
    let third = ConllOptions {
        tag_column: TagColumn::Index(3),
        ..ConllOptions::default()
    };
    assert_eq!(read_conll(&path, &third).unwrap(), last);
    assert_eq!(last.sentences[0].tags, ["B-ORG", "O"]);
    let chunk_column = ConllOptions {
        tag_column: TagColumn::Index(2),
        ..ConllOptions::default()
    };
    assert_eq!(
        read_conll(&path, &chunk_column).unwrap().sentences[0].tags,
        ["B-NP", "B-VP"]
    );
    let pos_column = ConllOptions {
        tag_column: TagColumn::Index(1),
        ..ConllOptions::default()
    };
    let err = read_conll(&path, &pos_column).unwrap_err().to_string();
    assert!(err.ends_with("conll2003.conll:1: illegal tag 'NNP' (expected O or B-, I-, E-, S-, L-, U- followed by a type)"), "{err}");
}

#[test]
fn detects_and_converts_other_schemes() {
    let bioes = "a B-PER\nb I-PER\nc E-PER\nd S-LOC\ne O\n";
    let (_dir, path) = temp_file("bioes.conll", bioes.as_bytes());
    let corpus = read_conll(&path, &strict()).unwrap();
    assert_eq!(corpus.scheme, TagScheme::Bioes);
    assert_eq!(
        corpus.sentences[0].tags,
        ["B-PER", "I-PER", "I-PER", "B-LOC", "O"]
    );

    let bilou = "a U-PER\nb B-LOC\nc L-LOC\n";
    let (_dir, path) = temp_file("bilou.conll", bilou.as_bytes());
    let corpus = read_conll(&path, &strict()).unwrap();
    assert_eq!(corpus.scheme, TagScheme::Bilou);
    assert_eq!(corpus.sentences[0].tags, ["B-PER", "B-LOC", "I-LOC"]);

    let iob1 = "a I-PER\nb I-PER\nc B-PER\nd O\ne I-LOC\n";
    let (_dir, path) = temp_file("iob1.conll", iob1.as_bytes());
    let corpus = read_conll(&path, &strict()).unwrap();
    assert_eq!(corpus.scheme, TagScheme::Iob1);
    assert_eq!(
        corpus.sentences[0].tags,
        ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    );
}

#[test]
fn malformed_lines_are_errors_with_file_and_line() {
    let default = ConllOptions::default();
    assert_eq!(
        error_of("word\nother\n", &default),
        "bad.conll:1: expected a token and a tag, found 1 column"
    );
    assert_eq!(
        error_of("a O\nb O\n\nc x O\n", &default),
        "bad.conll:4: 3 columns, but line 1 has 2"
    );
    assert_eq!(
        error_of("a O\nb\n", &default),
        "bad.conll:2: 1 column, but line 1 has 2"
    );
    assert_eq!(
        error_of("a O\nb B_PER\n", &default),
        "bad.conll:2: illegal tag 'B_PER' (expected O or B-, I-, E-, S-, L-, U- followed by a type)"
    );
    assert_eq!(
        error_of("a O\nb B-\n", &default),
        "bad.conll:2: illegal tag 'B-' (expected O or B-, I-, E-, S-, L-, U- followed by a type)"
    );
    assert_eq!(
        error_of("a O\nb \u{200F}\n", &default),
        "bad.conll:2: column 1 holds only invisible marks"
    );
    let tag_column_5 = ConllOptions {
        tag_column: TagColumn::Index(5),
        ..ConllOptions::default()
    };
    assert_eq!(
        error_of("\na O\n", &tag_column_5),
        "bad.conll:2: tag column 5 requested but lines have 2 columns (0-based, the token is column 0)"
    );
    let tag_column_0 = ConllOptions {
        tag_column: TagColumn::Index(0),
        ..ConllOptions::default()
    };
    assert_eq!(
        error_of("a O\n", &tag_column_0),
        "tag column 0 is the token column (columns are 0-based)"
    );
}

#[test]
fn illegal_tag_sequences_are_errors_with_file_and_line() {
    assert_eq!(
        error_of("a B-PER\nb E-PER\n\nc U-LOC\n", &ConllOptions::default()),
        "bad.conll:4: the tags mix BIOES prefixes (E-, S-) with BILOU prefixes (L-, U-)"
    );
    assert_eq!(
        error_of("a S-PER\nb B-LOC\nc O\n", &strict()),
        "bad.conll:3: tag O comes before the entity of B-LOC is closed"
    );
    assert_eq!(
        error_of("a S-PER\n\nb B-LOC\nc I-LOC\n", &strict()),
        "bad.conll:4: the sentence ends inside an entity (last tag I-LOC)"
    );
    let iob2 = ConllOptions {
        tags: TagOptions {
            scheme: Some(TagScheme::Iob2),
            strict: false,
        },
        ..ConllOptions::default()
    };
    assert_eq!(
        error_of("a O\nb S-PER\n", &iob2),
        "bad.conll:2: tag 'S-PER' uses the prefix S-, which the IOB2 scheme does not have"
    );
}

#[test]
fn lenient_mode_records_each_repair() {
    let (_dir, path) = temp_file("broken.conll", b"a S-PER\nb B-LOC\nc O\nd E-ORG\n");
    let corpus = read_conll(&path, &ConllOptions::default()).unwrap();
    let lines: Vec<usize> = corpus.repairs.iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 4]);
    assert_eq!(corpus.sentences[0].tags, ["B-PER", "B-LOC", "O", "B-ORG"]);
}

#[test]
fn unreadable_files_are_errors_naming_the_file() {
    let (dir, path) = temp_file("latin1.conll", b"a O\nb O\nc\xe9 O\n");
    let err = read_conll(&path, &ConllOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("{}/latin1.conll:3: not valid UTF-8", dir.path().display())
    );
    let missing = dir.path().join("missing.conll");
    let err = read_conll(&missing, &ConllOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{}: ", missing.display())),
        "{err}"
    );
}

#[test]
fn empty_files_give_empty_corpora() {
    let (_dir, path) = temp_file("empty.conll", b"\n\n-DOCSTART- O\n");
    let corpus = read_conll(&path, &ConllOptions::default()).unwrap();
    assert!(corpus.sentences.is_empty());
}

#[test]
fn gold_pred_files_keep_tags_as_written() {
    let text = "a B-PER I-PER\nb I-PER O\n\nc O I-LOC\n";
    let (_dir, path) = temp_file("scored.conll", text.as_bytes());
    let data = read_gold_pred(&path).unwrap();
    assert_eq!(data.tokens, [vec!["a", "b"], vec!["c"]]);
    assert_eq!(data.gold, [vec!["B-PER", "I-PER"], vec!["O"]]);
    assert_eq!(
        data.pred,
        [vec!["I-PER", "O"], vec!["I-LOC"]],
        "an I- after O is not repaired"
    );
    assert_eq!(data.lines, [1, 4]);
    let (dir, path) = temp_file("two.conll", b"a O\n");
    let err = read_gold_pred(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}/two.conll:1: expected token, gold and predicted columns, found 2",
            dir.path().display()
        )
    );
}
