//! Each document reader on the committed dataset samples and the small fixtures.

use std::path::PathBuf;

use naba::data::documents::{
    label_counts, read_documents, stratified_subsample, DocumentFormat, DocumentReader,
    ReaderOptions,
};

fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn fixture(name: &str) -> PathBuf {
    repo("tests/fixtures/docs/good").join(name)
}

#[test]
fn sanad_sample_reads_with_seven_balanced_classes() {
    let train = read_documents(
        &repo("datasets/sanad-sample/train.jsonl"),
        &ReaderOptions::default(),
    )
    .expect("train");
    let dev = read_documents(
        &repo("datasets/sanad-sample/dev.jsonl"),
        &ReaderOptions::default(),
    )
    .expect("dev");
    assert_eq!((train.len(), dev.len()), (210, 70));
    let counts = label_counts(&train);
    let classes: Vec<&str> = counts.keys().map(String::as_str).collect();
    assert_eq!(
        classes,
        [
            "Culture",
            "Finance",
            "Medical",
            "Politics",
            "Religion",
            "Sports",
            "Technology"
        ]
    );
    assert!(counts.values().all(|&n| n == 30), "{counts:?}");
    assert!(label_counts(&dev).values().all(|&n| n == 10));
    for doc in &train {
        // SANAD ids are "Class/NNNN.txt", and the class is the label.
        assert!(
            doc.id
                .starts_with(&format!("{}/", doc.label.as_deref().unwrap_or("?"))),
            "{}",
            doc.id
        );
        assert!(doc.text.chars().count() < 1500);
        assert!(
            doc.text
                .chars()
                .any(|c| ('\u{0621}'..='\u{064A}').contains(&c)),
            "Arabic text"
        );
        assert!(doc.extra.is_empty());
    }
}

#[test]
fn asnd_sample_keeps_the_platform_field_and_the_skew() {
    let train = read_documents(
        &repo("datasets/asnd-sample/train.jsonl"),
        &ReaderOptions::default(),
    )
    .expect("train");
    let dev = read_documents(
        &repo("datasets/asnd-sample/dev.jsonl"),
        &ReaderOptions::default(),
    )
    .expect("dev");
    assert_eq!((train.len(), dev.len()), (200, 60));
    let counts = label_counts(&train);
    assert_eq!(counts.len(), 12);
    assert_eq!(
        counts
            .iter()
            .max_by_key(|(_, &n)| n)
            .map(|(label, _)| label.as_str()),
        Some("politics")
    );
    for doc in train.iter().chain(&dev) {
        let platform = doc.extra.get("platform").and_then(|v| v.as_str());
        assert!(
            matches!(platform, Some("facebook" | "twitter" | "youtube")),
            "{}: {platform:?}",
            doc.id
        );
    }
}

#[test]
fn stratified_subsample_of_asnd_keeps_proportions() {
    let train = read_documents(
        &repo("datasets/asnd-sample/train.jsonl"),
        &ReaderOptions::default(),
    )
    .expect("train");
    let picked = stratified_subsample(&train, 50, 42);
    assert_eq!(picked.len(), 50);
    let subset: Vec<_> = picked.iter().map(|&i| train[i].clone()).collect();
    let (full, sub) = (label_counts(&train), label_counts(&subset));
    assert_eq!(sub.len(), 12, "every class kept: {sub:?}");
    for (label, &n) in &full {
        let share = n as f64 * 50.0 / 200.0;
        assert!(
            (sub[label] as f64 - share).abs() <= 1.5,
            "{label}: {} vs {share}",
            sub[label]
        );
    }
}

#[test]
fn gzip_jsonl_with_bom_and_blank_line() {
    let docs = read_documents(&fixture("news.jsonl.gz"), &ReaderOptions::default()).expect("read");
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2", "s3"]);
    assert_eq!(docs[0].text, "فاز المنتخب الوطني بالمباراة النهائية");
    assert_eq!(docs[1].label.as_deref(), Some("Finance"));
    assert_eq!(
        docs[2].extra.get("platform").and_then(|v| v.as_str()),
        Some("twitter")
    );
}

#[test]
fn jsonl_with_configured_field_names_and_title() {
    let opts = ReaderOptions {
        text_field: "body".into(),
        label_field: "category".into(),
        title_field: Some("headline".into()),
        id_field: "doc_id".into(),
        ..ReaderOptions::default()
    };
    let docs = read_documents(&fixture("titled.jsonl"), &opts).expect("read");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].id, "101", "integer ids are written out");
    assert_eq!(
        docs[0].text, "أخبار الرياضة\nفاز الفريق",
        "title joined in front"
    );
    assert_eq!(docs[0].label.as_deref(), Some("Sports"));
    assert!(
        docs[0].extra.is_empty(),
        "configured fields are not repeated in extra"
    );
    assert_eq!(
        (docs[1].id.as_str(), docs[1].text.as_str()),
        ("x-2", "تراجع المؤشر")
    );
}

#[test]
fn unlabelled_jsonl_passes_ids_and_other_fields_through() {
    let docs =
        read_documents(&fixture("unlabelled.jsonl"), &ReaderOptions::unlabelled()).expect("read");
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].id, "p1");
    assert_eq!(docs[0].label, None);
    assert_eq!(
        docs[0].extra.get("meta"),
        Some(&serde_json::json!({"n": 1}))
    );
    assert_eq!(
        docs[1].id, "unlabelled.jsonl:2",
        "no id field: file name and line"
    );
}

#[test]
fn csv_with_bom_crlf_quotes_and_multiline_fields() {
    let docs = read_documents(&fixture("news.csv"), &ReaderOptions::default()).expect("read");
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[0].id, "c1");
    assert_eq!(docs[0].text, "قال الوزير، في بيان: \"نعم\"");
    assert_eq!(docs[0].label.as_deref(), Some("Politics"));
    assert_eq!(
        docs[0].extra.get("source").and_then(|v| v.as_str()),
        Some("agency")
    );
    assert_eq!(docs[1].text, "سطر أول\nسطر ثان");
    assert_eq!(
        docs[2].id, "news.csv:6",
        "empty id cell: file name and the row's line"
    );
}

#[test]
fn tsv_without_quoting() {
    let docs = read_documents(&fixture("news.tsv"), &ReaderOptions::default()).expect("read");
    let labels: Vec<_> = docs.iter().filter_map(|d| d.label.as_deref()).collect();
    assert_eq!(labels, ["Sports", "Finance", "Culture"]);
    assert_eq!(
        docs[2].text, "\"نص\" بين علامتي تنصيص",
        "quotes are plain characters in TSV"
    );
    assert_eq!(docs[0].id, "news.tsv:2");
}

#[test]
fn folder_per_label_in_name_order() {
    let docs = read_documents(&fixture("folder"), &ReaderOptions::default()).expect("read");
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        ["Culture/001.txt", "Sports/001.txt", "Sports/002.txt"],
        "README and hidden files skipped"
    );
    assert_eq!(docs[1].label.as_deref(), Some("Sports"));
    assert_eq!(
        docs[1].text, "فاز الفريق بالكأس\n",
        "BOM stripped, text otherwise untouched"
    );
}

#[test]
fn plain_text_lines_and_whole_file() {
    let opts = ReaderOptions::unlabelled();
    let lines = read_documents(&fixture("lines.txt"), &opts).expect("lines");
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|d| (d.id.as_str(), d.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("lines.txt:1", "الخبر الأول"),
            ("lines.txt:4", "الخبر الثاني"),
            ("lines.txt:5", "الخبر الثالث")
        ]
    );
    let whole = read_documents(
        &fixture("article.txt"),
        &opts.with_format(DocumentFormat::Text),
    )
    .expect("text");
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].id, "article.txt");
    assert_eq!(whole[0].text, "عنوان المقال\n\nفقرة أولى.\nفقرة ثانية.\n");
}

#[test]
fn streaming_reader_reports_its_format() {
    let reader =
        DocumentReader::open(&fixture("news.jsonl.gz"), &ReaderOptions::default()).expect("open");
    assert_eq!(reader.format(), DocumentFormat::Jsonl);
    let first = reader
        .take(1)
        .collect::<Result<Vec<_>, _>>()
        .expect("first");
    assert_eq!(first[0].id, "s1");
}

#[test]
fn format_detection_and_names() {
    let detect = |name: &str| DocumentFormat::Auto.detect(&fixture(name)).expect(name);
    assert_eq!(detect("news.jsonl.gz"), DocumentFormat::Jsonl);
    assert_eq!(detect("news.csv"), DocumentFormat::Csv);
    assert_eq!(detect("news.tsv"), DocumentFormat::Tsv);
    assert_eq!(detect("folder"), DocumentFormat::Folder);
    assert_eq!(detect("lines.txt"), DocumentFormat::Lines);
    for name in DocumentFormat::NAMES {
        let format: DocumentFormat = name.parse().expect(name);
        assert_eq!(format.to_string(), name);
    }
    assert!("xml".parse::<DocumentFormat>().is_err());
}
