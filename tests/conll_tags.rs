//! Tag schemes: parsing, detection, checks and conversions, including property tests that tie
//! the conversions to seqeval's reading of each scheme (naba::metrics).

use naba::data::tags::{
    detect_scheme, entity_types, from_iob2, iob2_labels, parse_tag, scheme_violations, to_iob2,
    validate, Role, TagScheme,
};
use naba::metrics::{default_chunks, sentence_entities, EntityMode, EntityOptions, Scheme};
use proptest::prelude::*;

fn tags(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[test]
fn parses_tags_into_role_and_type() {
    let tag = parse_tag("B-PER").unwrap();
    assert_eq!((tag.letter, tag.role, tag.kind), ('B', Role::Begin, "PER"));
    assert_eq!(parse_tag("L-ORG-X").unwrap().kind, "ORG-X");
    assert_eq!(parse_tag("U-LOC").unwrap().role, Role::Single);
    assert_eq!(parse_tag("O").unwrap().role, Role::Outside);
    for bad in ["", "o", "B", "B-", "X-PER", "BPER", "b-PER", "O-PER"] {
        assert!(parse_tag(bad).is_err(), "{bad:?} should be illegal");
    }
}

#[test]
fn converts_between_schemes() {
    let iob2 = tags("B-PER I-PER I-PER O B-LOC B-LOC I-LOC B-ORG");
    assert_eq!(
        from_iob2(&iob2, TagScheme::Bioes).unwrap(),
        tags("B-PER I-PER E-PER O S-LOC B-LOC E-LOC S-ORG")
    );
    assert_eq!(
        from_iob2(&iob2, TagScheme::Bilou).unwrap(),
        tags("B-PER I-PER L-PER O U-LOC B-LOC L-LOC U-ORG")
    );
    assert_eq!(
        from_iob2(&iob2, TagScheme::Iob1).unwrap(),
        tags("I-PER I-PER I-PER O I-LOC B-LOC I-LOC I-ORG")
    );
    assert_eq!(from_iob2(&iob2, TagScheme::Iob2).unwrap(), iob2);
    for scheme in TagScheme::ALL {
        assert_eq!(
            to_iob2(&from_iob2(&iob2, scheme).unwrap(), scheme).unwrap(),
            iob2,
            "{scheme}"
        );
    }
}

#[test]
fn broken_iob2_is_read_as_conlleval_reads_it() {
    let broken = tags("I-PER O I-LOC I-ORG");
    assert_eq!(
        to_iob2(&broken, TagScheme::Iob2).unwrap(),
        tags("B-PER O B-LOC B-ORG")
    );
    assert_eq!(
        from_iob2(&broken, TagScheme::Bioes).unwrap(),
        tags("S-PER O S-LOC S-ORG")
    );
    assert_eq!(
        from_iob2(&broken, TagScheme::Iob2).unwrap(),
        broken,
        "IOB2 output is left as written"
    );
    assert!(
        from_iob2(&tags("S-PER"), TagScheme::Bioes).is_err(),
        "input must be IOB2"
    );
}

#[test]
fn violations_name_each_broken_token() {
    let problems = scheme_violations(&tags("I-PER B-LOC I-PER"), TagScheme::Iob2).unwrap();
    let at: Vec<usize> = problems.iter().map(|p| p.token).collect();
    assert_eq!(at, [0, 2]);
    assert_eq!(
        problems[0].message,
        "tag I-PER does not continue an entity (at the start of the sentence)"
    );
    assert_eq!(
        problems[1].to_string(),
        "sentence 1, token 3: tag I-PER does not continue an entity (previous tag B-LOC)"
    );
    assert!(
        scheme_violations(&tags("I-PER B-LOC I-PER"), TagScheme::Iob1)
            .unwrap()
            .is_empty()
    );
    assert!(validate(&tags("B-PER E-PER S-LOC"), TagScheme::Bioes).is_ok());
    assert!(validate(&tags("B-PER S-LOC"), TagScheme::Bioes).is_err());
    assert!(
        validate(&tags("B-PER I-PER"), TagScheme::Bilou).is_err(),
        "ends inside an entity"
    );
    assert!(
        validate(&tags("E-PER"), TagScheme::Iob2).is_err(),
        "E- is not an IOB2 prefix"
    );
}

#[test]
fn detects_schemes() {
    assert_eq!(
        detect_scheme(&[tags("B-PER I-PER O"), tags("I-LOC")]).unwrap(),
        TagScheme::Iob2
    );
    assert_eq!(
        detect_scheme(&[tags("I-PER I-PER B-PER O I-LOC")]).unwrap(),
        TagScheme::Iob1
    );
    assert_eq!(
        detect_scheme(&[tags("O"), tags("S-PER")]).unwrap(),
        TagScheme::Bioes
    );
    assert_eq!(detect_scheme(&[tags("U-PER")]).unwrap(), TagScheme::Bilou);
    assert_eq!(
        detect_scheme::<Vec<String>, String>(&[]).unwrap(),
        TagScheme::Iob2
    );
    let err = detect_scheme(&[tags("O"), tags("O S-PER"), tags("U-LOC")]).unwrap_err();
    assert_eq!((err.sentence, err.token), (2, 0));
    let err = detect_scheme(&[tags("O B-PER"), tags("O PER")]).unwrap_err();
    assert_eq!(err.to_string(), "sentence 2, token 2: illegal tag 'PER' (expected O or B-, I-, E-, S-, L-, U- followed by a type)");
}

#[test]
fn label_lists() {
    let sentences = [tags("B-PER O B-LOC"), tags("I-ORG")];
    let types: Vec<String> = entity_types(&sentences).into_iter().collect();
    assert_eq!(types, ["LOC", "ORG", "PER"]);
    assert_eq!(
        iob2_labels(&types),
        ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    );
    assert_eq!("BIO".parse::<TagScheme>().unwrap(), TagScheme::Iob2);
    assert!("BIOS".parse::<TagScheme>().is_err());
}

/// Any IOB2-looking sequence, valid or not (I- after O included).
fn any_iob2() -> impl Strategy<Value = Vec<String>> {
    let tag = prop_oneof![
        3 => Just("O".to_string()),
        2 => prop::sample::select(vec!["PER", "LOC"]).prop_map(|t| format!("B-{t}")),
        2 => prop::sample::select(vec!["PER", "LOC"]).prop_map(|t| format!("I-{t}")),
    ];
    prop::collection::vec(tag, 0..12)
}

fn metrics_scheme(scheme: TagScheme) -> Scheme {
    match scheme {
        TagScheme::Iob1 => Scheme::Iob1,
        TagScheme::Iob2 => Scheme::Iob2,
        TagScheme::Bioes => Scheme::Iobes,
        TagScheme::Bilou => Scheme::Bilou,
    }
}

proptest! {
    /// Converting to any scheme and back gives the repaired IOB2 sequence; the converted tags are
    /// valid in their scheme, and seqeval's strict reading of them finds exactly the entities
    /// that seqeval's default mode finds in the original.
    #[test]
    fn conversions_keep_entities(original in any_iob2()) {
        let repaired = to_iob2(&original, TagScheme::Iob2).unwrap();
        let expected = default_chunks(&original, false).unwrap();
        prop_assert_eq!(&default_chunks(&repaired, false).unwrap(), &expected);
        for scheme in TagScheme::ALL {
            let converted = from_iob2(&repaired, scheme).unwrap();
            prop_assert!(validate(&converted, scheme).is_ok(), "{} {:?}", scheme, converted);
            prop_assert_eq!(&to_iob2(&converted, scheme).unwrap(), &repaired);
            let strict = EntityOptions { mode: EntityMode::Strict(metrics_scheme(scheme)), suffix: false };
            prop_assert_eq!(&sentence_entities(&converted, strict).unwrap(), &expected, "{}", scheme);
        }
    }
}
