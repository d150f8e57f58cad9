//! The JSON Lines NER reader (Hugging Face style `tokens` / `tags` arrays) and its errors.

use std::path::Path;

use naba::data::tagged::{parse_tagged_jsonl, read_tagged_jsonl, JsonlTagOptions, TagOptions};
use naba::data::tags::TagScheme;

fn labels() -> Option<Vec<String>> {
    Some(
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}

fn error_of(text: &str, options: &JsonlTagOptions) -> String {
    parse_tagged_jsonl(text, Path::new("ner.jsonl"), options)
        .unwrap_err()
        .to_string()
}

#[test]
fn reads_string_tags() {
    let text = "\n{\"tokens\": [\"محمد\", \"\u{200F}\", \"في\", \"بغداد\"], \"tags\": [\"B-PER\", \"O\", \"O\", \"B-LOC\"]}\n\n{\"tokens\": [], \"tags\": []}\n";
    let corpus =
        parse_tagged_jsonl(text, Path::new("ner.jsonl"), &JsonlTagOptions::default()).unwrap();
    assert_eq!(
        corpus.sentences.len(),
        1,
        "records without tokens are skipped"
    );
    let sentence = &corpus.sentences[0];
    assert_eq!(
        sentence.tokens,
        ["محمد", "في", "بغداد"],
        "the mark-only token is dropped"
    );
    assert_eq!(sentence.tags, ["B-PER", "O", "B-LOC"], "with its tag");
    assert_eq!(sentence.line, 2);
}

#[test]
fn reads_integer_tags_with_label_names_and_other_field_names() {
    let options = JsonlTagOptions {
        tokens_field: "words".to_string(),
        tags_field: "ner_tags".to_string(),
        label_names: labels(),
        tags: TagOptions {
            scheme: Some(TagScheme::Iob2),
            strict: true,
        },
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hf.jsonl");
    std::fs::write(&path, "\u{FEFF}{\"words\":[\"a\",\"b\",\"c\"],\"ner_tags\":[1,2,3]}\r\n{\"words\":[\"d\"],\"ner_tags\":[\"I-LOC\"]}\r\n")
        .unwrap();
    let err = read_tagged_jsonl(&path, &options).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:2: token 1: tag I-LOC does not continue an entity (at the start of the sentence)",
            path.display()
        )
    );
    let lenient = JsonlTagOptions {
        tags: TagOptions::default(),
        ..options
    };
    let corpus = read_tagged_jsonl(&path, &lenient).unwrap();
    assert_eq!(corpus.sentences[0].tags, ["B-PER", "I-PER", "B-LOC"]);
    assert_eq!(corpus.sentences[1].tags, ["B-LOC"]);
    assert_eq!(corpus.repairs.len(), 1);
    assert_eq!(corpus.repairs[0].line, 2);
}

#[test]
fn bad_records_are_errors_with_file_and_line() {
    let default = JsonlTagOptions::default();
    let ok = "{\"tokens\":[\"a\"],\"tags\":[\"O\"]}\n";
    assert!(error_of(&format!("{ok}{{\"tokens\": [\"a\"]"), &default)
        .starts_with("ner.jsonl:2: invalid JSON: "));
    assert_eq!(
        error_of(&format!("{ok}[1, 2]"), &default),
        "ner.jsonl:2: expected a JSON object"
    );
    assert_eq!(
        error_of(&format!("{ok}{{\"tokens\":[\"a\"]}}"), &default),
        "ner.jsonl:2: missing field 'tags'"
    );
    assert_eq!(
        error_of("{\"tokens\":\"a b\",\"tags\":[\"O\"]}", &default),
        "ner.jsonl:1: field 'tokens' is not an array"
    );
    assert_eq!(
        error_of("{\"tokens\":[\"a\",\"b\"],\"tags\":[\"O\"]}", &default),
        "ner.jsonl:1: 2 tokens but 1 tags in 'tokens' and 'tags'"
    );
    assert_eq!(
        error_of("{\"tokens\":[7],\"tags\":[\"O\"]}", &default),
        "ner.jsonl:1: tokens[0] is not a string"
    );
    assert_eq!(
        error_of("{\"tokens\":[\"a\"],\"tags\":[1]}", &default),
        "ner.jsonl:1: tags[0]: integer tag 1 but no label names were given"
    );
    let with_labels = JsonlTagOptions {
        label_names: labels(),
        ..JsonlTagOptions::default()
    };
    assert_eq!(
        error_of("{\"tokens\":[\"a\"],\"tags\":[9]}", &with_labels),
        "ner.jsonl:1: tags[0]: tag index 9 is out of range for 5 label names"
    );
    assert_eq!(
        error_of("{\"tokens\":[\"a\"],\"tags\":[-1]}", &with_labels),
        "ner.jsonl:1: tags[0]: -1 is neither a string nor a non-negative integer"
    );
    assert_eq!(
        error_of("{\"tokens\":[\"a\", \"b\"],\"tags\":[\"O\", \"PER\"]}", &default),
        "ner.jsonl:1: token 2: illegal tag 'PER' (expected O or B-, I-, E-, S-, L-, U- followed by a type)"
    );
}
