//! Every reader error names the file, the 1-based line (where there is one) and the problem.

use std::path::PathBuf;

use naba::data::documents::{read_documents, DocumentFormat, ReaderOptions};

fn bad(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/docs/bad")
        .join(name)
}

/// Reads `name` with `opts` and returns the error message, which must start with `path:line`
/// (just `path` when `line` is 0).
fn error_at(name: &str, line: usize, opts: &ReaderOptions) -> String {
    error_in(name, name, line, opts)
}

/// Reads `name` and returns the error message, which must start with `at:line` (`at` when
/// `line` is 0), `at` being the file named in the error (a file inside a folder, say).
fn error_in(name: &str, at: &str, line: usize, opts: &ReaderOptions) -> String {
    let err = read_documents(&bad(name), opts)
        .expect_err(name)
        .to_string();
    let path = bad(at);
    let location = if line > 0 {
        format!("{}:{line}: ", path.display())
    } else {
        format!("{}: ", path.display())
    };
    assert!(
        err.starts_with(&location),
        "expected '{location}...', got '{err}'"
    );
    assert!(!err.contains('\n'), "one line: {err}");
    err[location.len()..].to_string()
}

fn default_error(name: &str, line: usize) -> String {
    error_at(name, line, &ReaderOptions::default())
}

#[test]
fn missing_field_names_it_and_lists_the_fields_present() {
    assert_eq!(
        default_error("missing_field.jsonl", 2),
        "field 'label' is missing (fields present: id, text)"
    );
    assert_eq!(
        default_error("null_label.jsonl", 1),
        "field 'label' is null (fields present: id, label, text)"
    );
}

#[test]
fn missing_label_is_fine_for_unlabelled_input() {
    let docs =
        read_documents(&bad("missing_field.jsonl"), &ReaderOptions::unlabelled()).expect("read");
    assert_eq!(
        docs.iter().map(|d| d.label.is_some()).collect::<Vec<_>>(),
        [true, false]
    );
}

#[test]
fn wrong_json_types() {
    assert_eq!(
        default_error("wrong_type.jsonl", 3),
        "field 'text' must be a string, found an array"
    );
    assert_eq!(
        default_error("label_type.jsonl", 1),
        "field 'label' must be a string, found a decimal number"
    );
    assert_eq!(
        default_error("not_object.jsonl", 1),
        "expected a JSON object, found an array"
    );
}

#[test]
fn invalid_json_gives_the_column() {
    assert_eq!(
        default_error("invalid_json.jsonl", 2),
        "invalid JSON at column 24: expected value"
    );
}

#[test]
fn empty_text_and_empty_label() {
    assert_eq!(
        default_error("empty_text.jsonl", 2),
        "empty text in field 'text'"
    );
    assert_eq!(
        default_error("empty_label.csv", 3),
        "empty label in field 'label'"
    );
}

#[test]
fn invalid_utf8_gives_the_byte_offset() {
    assert_eq!(
        default_error("invalid_utf8.jsonl", 2),
        "invalid UTF-8 at byte offset 43"
    );
    assert_eq!(
        default_error("invalid_utf8.jsonl.gz", 2),
        "invalid UTF-8 at byte offset 46 of the decompressed data",
        "the BOM counts in the offset"
    );
    assert_eq!(
        default_error("invalid_utf8.csv", 3),
        "invalid UTF-8 at byte offset 19"
    );
}

#[test]
fn corrupt_gzip() {
    // The truncated file still holds line 1 whole; reading line 2 runs into the cut.
    let truncated = default_error("truncated.jsonl.gz", 2);
    assert!(
        truncated.starts_with("gzip data is corrupt or truncated"),
        "{truncated}"
    );
    let corrupt = default_error("corrupt.jsonl.gz", 1);
    assert!(
        corrupt.starts_with("gzip data is corrupt or truncated"),
        "{corrupt}"
    );
}

#[test]
fn csv_column_errors() {
    assert_eq!(
        default_error("columns.csv", 3),
        "row has 3 fields but the header has 2"
    );
    assert_eq!(
        default_error("unknown_column.csv", 1),
        "no text column 'text' in the header (columns: body, label)"
    );
    let opts = ReaderOptions {
        text_field: "body".into(),
        title_field: Some("title".into()),
        ..ReaderOptions::default()
    };
    assert_eq!(
        error_at("unknown_column.csv", 1, &opts),
        "no title column 'title' in the header (columns: body, label)"
    );
}

#[test]
fn folder_errors() {
    let message = default_error("no_labels", 0);
    assert!(message.starts_with("no label sub-folders"), "{message}");
    let opts = ReaderOptions::default();
    assert_eq!(
        error_in("utf8_folder", "utf8_folder/Sports/001.txt", 2, &opts),
        "invalid UTF-8 at byte offset 7"
    );
    assert_eq!(
        error_in(
            "empty_doc_folder",
            "empty_doc_folder/Sports/001.txt",
            0,
            &opts
        ),
        "empty document"
    );
}

#[test]
fn nested_folder_inside_a_label_folder_is_rejected() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("Sports/extra")).expect("mkdir");
    let err = read_documents(root.path(), &ReaderOptions::default())
        .expect_err("nested")
        .to_string();
    assert!(
        err.contains("Sports/extra: unexpected folder inside a label folder"),
        "{err}"
    );
}

#[test]
fn unknown_extension_and_missing_file() {
    let message = default_error("unknown.xyz", 0);
    assert!(
        message.starts_with("cannot tell the document format"),
        "{message}"
    );
    let err =
        read_documents(&bad("no-such-file.jsonl"), &ReaderOptions::default()).expect_err("missing");
    assert!(err.to_string().contains("no-such-file.jsonl"), "{err}");
}

#[test]
fn plain_text_cannot_serve_labelled_data() {
    let opts = ReaderOptions::default().with_format(DocumentFormat::Lines);
    let err = read_documents(&bad("unknown.xyz"), &opts)
        .expect_err("labels needed")
        .to_string();
    assert!(err.contains("has no labels"), "{err}");
}
