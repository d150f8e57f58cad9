//! Entity scores against seqeval 1.2.2: the examples of seqeval's docs, hand-made edge cases,
//! and 100 random cases whose answers seqeval computed (tests/metrics_seqeval_fixture.json,
//! made by `scripts/seqeval_parity.py --make-fixture`).

use naba::metrics::{
    default_chunks, entity_f1, entity_report, entity_report_with, sentence_entities, Chunk,
    EntityMode, EntityOptions, EntityReport, Prf, Scheme,
};
use serde_json::Value;

fn seqs(sentences: &[&[&str]]) -> Vec<Vec<String>> {
    sentences
        .iter()
        .map(|s| s.iter().map(|t| t.to_string()).collect())
        .collect()
}

fn chunk(kind: &str, start: usize, end: usize) -> Chunk {
    Chunk {
        kind: kind.to_string(),
        start,
        end,
    }
}

#[test]
fn seqeval_documentation_example() {
    let gold = seqs(&[
        &["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"],
        &["B-PER", "I-PER", "O"],
    ]);
    let pred = seqs(&[
        &["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"],
        &["B-PER", "I-PER", "O"],
    ]);
    let report = entity_report(&gold, &pred, EntityMode::Default).unwrap();
    assert_eq!(
        report.per_type["MISC"],
        Prf {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            support: 1
        }
    );
    assert_eq!(
        report.per_type["PER"],
        Prf {
            precision: 1.0,
            recall: 1.0,
            f1: 1.0,
            support: 1
        }
    );
    for average in [report.micro, report.macro_avg, report.weighted] {
        assert_eq!(
            average,
            Prf {
                precision: 0.5,
                recall: 0.5,
                f1: 0.5,
                support: 2
            }
        );
    }
    let expected = "              precision    recall  f1-score   support\n\n        MISC       0.00      0.00      0.00         1\n         PER       1.00      1.00      1.00         1\n\n   micro avg       0.50      0.50      0.50         2\n   macro avg       0.50      0.50      0.50         2\nweighted avg       0.50      0.50      0.50         2\n";
    assert_eq!(report.render(2), expected);
}

#[test]
fn seqeval_f1_docstring_example() {
    let gold = seqs(&[
        &["O", "O", "B-MISC", "I-MISC", "B-MISC", "O", "O"],
        &["B-PER", "I-PER", "O"],
    ]);
    let pred = seqs(&[
        &["O", "O", "B-MISC", "I-MISC", "B-MISC", "I-MISC", "O"],
        &["B-PER", "I-PER", "O"],
    ]);
    assert_eq!(
        entity_f1(&gold, &pred, EntityMode::Default).unwrap(),
        0.6666666666666666
    );
    let report = entity_report(&gold, &pred, EntityMode::Default).unwrap();
    assert_eq!(report.macro_avg.f1, 0.75);
    assert_eq!(report.weighted.f1, 0.6666666666666666);
}

#[test]
fn default_mode_reads_tags_loosely_like_conlleval() {
    // I- without B- starts an entity; a type change ends one; E-/S- close one.
    let tags = [
        "I-PER", "I-PER", "I-LOC", "O", "B-ORG", "E-ORG", "S-PER", "I-MISC",
    ];
    let chunks = default_chunks(&tags, false).unwrap();
    let expected = vec![
        chunk("PER", 0, 2),
        chunk("LOC", 2, 3),
        chunk("ORG", 4, 6),
        chunk("PER", 6, 7),
        chunk("MISC", 7, 8),
    ];
    assert_eq!(chunks, expected);
    // Without a prefix the first letter is read as one: "PER" is prefix P, type "ER".
    assert_eq!(
        default_chunks(&["B", "PER"], false).unwrap(),
        vec![chunk("_", 0, 1), chunk("ER", 1, 2)]
    );
    // Suffix style: PER-B PER-I.
    assert_eq!(
        default_chunks(&["PER-B", "PER-I", "O"], true).unwrap(),
        vec![chunk("PER", 0, 2)]
    );
}

#[test]
fn strict_mode_keeps_only_well_formed_entities() {
    let options = EntityOptions {
        mode: EntityMode::Strict(Scheme::Iob2),
        suffix: false,
    };
    // The I-PER without B- is not an entity in strict IOB2 mode.
    let tags = ["I-PER", "O", "B-LOC", "I-LOC", "B-LOC"];
    assert_eq!(
        sentence_entities(&tags, options).unwrap(),
        vec![chunk("LOC", 2, 4), chunk("LOC", 4, 5)]
    );

    let gold = seqs(&[&["B-PER", "I-PER", "O"]]);
    let pred = seqs(&[&["I-PER", "I-PER", "O"]]);
    assert_eq!(entity_f1(&gold, &pred, EntityMode::Default).unwrap(), 1.0);
    assert_eq!(
        entity_f1(&gold, &pred, EntityMode::Strict(Scheme::Iob2)).unwrap(),
        0.0
    );

    let bioes = EntityOptions {
        mode: EntityMode::Strict(Scheme::Iobes),
        suffix: false,
    };
    let tags = ["B-PER", "E-PER", "S-LOC", "B-ORG", "O", "E-ORG"];
    assert_eq!(
        sentence_entities(&tags, bioes).unwrap(),
        vec![chunk("PER", 0, 2), chunk("LOC", 2, 3)]
    );
}

#[test]
fn strict_mode_rejects_prefixes_outside_the_scheme() {
    let gold = seqs(&[&["O"], &["B-PER", "E-PER"]]);
    let err = entity_report(&gold, &gold, EntityMode::Strict(Scheme::Iob2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sentence 2, token 2: tag 'E-PER' has a prefix that the IOB2 scheme does not allow"
    );
    let odd = seqs(&[&["X-PER"]]);
    let err = entity_report(&odd, &odd, EntityMode::Strict(Scheme::Iobes)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sentence 1, token 1: tag 'X-PER' has no known prefix (one of I, O, B, E, S, U, L)"
    );
}

#[test]
fn scheme_auto_detection_follows_seqeval() {
    assert_eq!(
        Scheme::auto_detect(&seqs(&[&["B-PER", "I-PER", "O"]]), false).unwrap(),
        Scheme::Iob2
    );
    assert_eq!(
        Scheme::auto_detect(&seqs(&[&["S-PER", "B-LOC", "E-LOC"]]), false).unwrap(),
        Scheme::Iobes
    );
    assert_eq!(
        Scheme::auto_detect(&seqs(&[&["U-PER"]]), false).unwrap(),
        Scheme::Bilou
    );
    assert!(Scheme::auto_detect(&seqs(&[&["O", "O"]]), false).is_err());
    assert_eq!("bioes".parse::<Scheme>().unwrap(), Scheme::Iobes);
}

#[test]
fn shapes_must_match() {
    let gold = seqs(&[&["O", "B-PER"]]);
    let err = entity_report(&gold, &seqs(&[&["O"]]), EntityMode::Default).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sentence 1: 2 gold tags but 1 predicted tags"
    );
    let err = entity_report(&gold, &seqs(&[]), EntityMode::Default).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 gold sentences but 0 predicted sentences"
    );
    let err = entity_report(&seqs(&[&[""]]), &seqs(&[&["O"]]), EntityMode::Default).unwrap_err();
    assert_eq!(err.to_string(), "sentence 1, token 1: empty tag");
}

#[test]
fn no_entities_at_all_gives_zero_micro_and_nan_macro_like_seqeval() {
    let none = seqs(&[&["O", "O"]]);
    let report = entity_report(&none, &none, EntityMode::Default).unwrap();
    assert!(report.per_type.is_empty());
    assert_eq!(
        report.micro,
        Prf {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            support: 0
        }
    );
    assert!(report.macro_avg.f1.is_nan());
    assert_eq!(report.weighted.f1, 0.0);
}

fn check_against_fixture(
    case: usize,
    label: &str,
    ours: &naba::Result<EntityReport>,
    expected: &Value,
) {
    if expected.get("error").is_some() {
        assert!(
            ours.is_err(),
            "case {case} {label}: seqeval fails, naba gives {ours:?}"
        );
        return;
    }
    let ours = match ours {
        Ok(report) => report,
        Err(e) => panic!("case {case} {label}: seqeval succeeds, naba fails: {e}"),
    };
    let check = |name: &str, prf: &Prf, row: &Value| {
        let number = |i: usize| row[i].as_f64().unwrap_or(f64::NAN);
        for (i, value) in [prf.precision, prf.recall, prf.f1].into_iter().enumerate() {
            let want = number(i);
            let same = (value.is_nan() && want.is_nan()) || (value - want).abs() <= 1e-12;
            assert!(
                same,
                "case {case} {label} {name}[{i}]: naba {value}, seqeval {want}"
            );
        }
        assert_eq!(
            prf.support as u64,
            row[3].as_u64().unwrap(),
            "case {case} {label} {name} support"
        );
    };
    let types = expected["per_type"].as_object().unwrap();
    let our_types: Vec<&String> = ours.per_type.keys().collect();
    assert_eq!(
        our_types,
        types.keys().collect::<Vec<_>>(),
        "case {case} {label}: entity types"
    );
    for (kind, row) in types {
        check(kind, &ours.per_type[kind], row);
    }
    check("micro", &ours.micro, &expected["micro"]);
    check("macro", &ours.macro_avg, &expected["macro_avg"]);
    check("weighted", &ours.weighted, &expected["weighted"]);
}

#[test]
fn equals_seqeval_on_random_cases() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/metrics_seqeval_fixture.json"
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 100);
    let mut compared = 0;
    for (n, case) in cases.iter().enumerate() {
        let gold: Vec<Vec<String>> = serde_json::from_value(case["gold"].clone()).unwrap();
        let pred: Vec<Vec<String>> = serde_json::from_value(case["pred"].clone()).unwrap();
        let suffix = case["suffix"].as_bool().unwrap();
        let mut modes = vec![("default".to_string(), EntityMode::Default)];
        modes.extend(
            Scheme::ALL
                .iter()
                .map(|&s| (format!("strict {}", s.name()), EntityMode::Strict(s))),
        );
        for (label, mode) in modes {
            let ours = entity_report_with(&gold, &pred, EntityOptions { mode, suffix });
            check_against_fixture(n, &label, &ours, &case["expected"][&label]);
            compared += 1;
        }
    }
    assert_eq!(compared, 700);
}
