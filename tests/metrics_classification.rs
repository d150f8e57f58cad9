//! Classification metrics against numbers computed with scikit-learn 1.9
//! (`precision_recall_fscore_support(..., zero_division=0)`, `classification_report`).

use naba::metrics::{accuracy, ClassificationReport, ConfusionMatrix, Prf};

const GOLD: [&str; 9] = [
    "cat", "dog", "pig", "cat", "dog", "pig", "cat", "cat", "bird",
];
const PRED: [&str; 9] = [
    "cat", "pig", "dog", "cat", "cat", "dog", "cat", "dog", "cat",
];

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn assert_prf(actual: &Prf, expected: [f64; 3], support: usize) {
    assert_eq!(
        [actual.precision, actual.recall, actual.f1],
        expected,
        "precision/recall/F1 differ from scikit-learn"
    );
    assert_eq!(actual.support, support);
}

#[test]
fn matches_scikit_learn_on_a_small_case() {
    let report = ClassificationReport::from_labels(&GOLD, &PRED, None).unwrap();
    assert_eq!(report.labels, strings(&["bird", "cat", "dog", "pig"]));
    assert_prf(&report.per_class[1], [0.6, 0.75, 0.6666666666666666], 4);
    assert_prf(report.class("bird").unwrap(), [0.0, 0.0, 0.0], 1);
    assert_eq!(report.accuracy, 0.3333333333333333);
    assert_prf(&report.micro, [0.3333333333333333; 3], 9);
    assert_prf(&report.macro_avg, [0.15, 0.1875, 0.16666666666666666], 9);
    assert_prf(
        &report.weighted,
        [0.26666666666666666, 0.3333333333333333, 0.2962962962962963],
        9,
    );
}

#[test]
fn text_report_is_laid_out_like_scikit_learn() {
    let report = ClassificationReport::from_labels(&GOLD, &PRED, None).unwrap();
    // classification_report(GOLD, PRED, zero_division=0, digits=4), byte for byte.
    let expected = "              precision    recall  f1-score   support\n\n        bird     0.0000    0.0000    0.0000         1\n         cat     0.6000    0.7500    0.6667         4\n         dog     0.0000    0.0000    0.0000         2\n         pig     0.0000    0.0000    0.0000         2\n\n    accuracy                         0.3333         9\n   macro avg     0.1500    0.1875    0.1667         9\nweighted avg     0.2667    0.3333    0.2963         9\n";
    assert_eq!(report.render(4), expected);
}

#[test]
fn an_explicit_label_list_keeps_absent_classes_in_the_macro_average() {
    let labels = strings(&["pig", "dog", "cat", "bird", "fish"]);
    let report = ClassificationReport::from_labels(&GOLD, &PRED, Some(&labels)).unwrap();
    assert_eq!(report.labels, labels);
    assert_prf(report.class("fish").unwrap(), [0.0, 0.0, 0.0], 0);
    // precision_recall_fscore_support(..., labels=[...], average='macro')
    assert_prf(&report.macro_avg, [0.12, 0.15, 0.13333333333333333], 9);
}

#[test]
fn averages_over_more_than_eight_classes_match_numpy_summation() {
    let gold = "c09 c04 c05 c08 c00 c07 c03 c00 c02 c01 c05 c07 c03 c06 c08 c01 c09 c03 c00 c03 c06 c04 c02 c06 c02 c01 c02 c09 c09 c07 c02 c02 c00 c00 c03 c03 c02 c02 c04 c05 c03 c08 c03 c02 c03 c06 c04 c00 c05 c06 c02 c02 c04 c01 c05 c04 c09 c09 c00 c09";
    let pred = "c05 c04 c05 c08 c02 c02 c03 c00 c05 c00 c06 c07 c00 c02 c03 c01 c09 c07 c00 c03 c07 c04 c05 c00 c01 c01 c05 c05 c09 c01 c02 c02 c00 c00 c03 c07 c02 c02 c08 c00 c03 c04 c06 c02 c10 c06 c03 c00 c02 c06 c02 c02 c04 c02 c09 c08 c07 c05 c04 c02";
    let gold: Vec<&str> = gold.split(' ').collect();
    let pred: Vec<&str> = pred.split(' ').collect();
    let report = ClassificationReport::from_labels(&gold, &pred, None).unwrap();
    assert_eq!(report.labels.len(), 11);
    assert_eq!(report.accuracy, 0.4666666666666667);
    assert_prf(&report.micro, [0.4666666666666667; 3], 60);
    assert_prf(
        &report.macro_avg,
        [0.42759462759462763, 0.39522497704315884, 0.3983241505968779],
        60,
    );
    assert_prf(
        &report.weighted,
        [0.5148819698819699, 0.4666666666666667, 0.4744991582491583],
        60,
    );
}

#[test]
fn indices_and_names_give_the_same_report() {
    let labels = strings(&["bird", "cat", "dog", "pig"]);
    let index = |w: &&str| labels.iter().position(|l| l == w).unwrap();
    let gold: Vec<usize> = GOLD.iter().map(index).collect();
    let pred: Vec<usize> = PRED.iter().map(index).collect();
    let by_index = ClassificationReport::from_indices(&gold, &pred, &labels).unwrap();
    let by_name = ClassificationReport::from_labels(&GOLD, &PRED, None).unwrap();
    assert_eq!(by_index, by_name);
}

#[test]
fn confusion_matrix_counts_gold_rows_and_predicted_columns() {
    let matrix = ConfusionMatrix::from_labels(&GOLD, &PRED, None).unwrap();
    // sklearn.metrics.confusion_matrix(GOLD, PRED)
    assert_eq!(
        matrix.counts,
        vec![
            vec![0, 1, 0, 0],
            vec![0, 3, 1, 0],
            vec![0, 1, 0, 1],
            vec![0, 0, 2, 0]
        ]
    );
    assert_eq!((matrix.total(), matrix.correct()), (9, 3));
    assert_eq!(matrix.row_normalised()[1], vec![0.0, 0.75, 0.25, 0.0]);
    let text = matrix.render();
    assert_eq!(
        text.lines().next().unwrap(),
        "gold \\ pred bird  cat  dog  pig"
    );
    assert_eq!(
        text.lines().nth(2).unwrap(),
        "        cat    0    3    1    0"
    );
}

#[test]
fn csv_quotes_labels_that_need_it() {
    let labels = strings(&["a,b", "say \"hi\""]);
    let matrix = ConfusionMatrix::from_indices(&[0, 1, 1], &[0, 0, 1], &labels).unwrap();
    assert_eq!(
        matrix.to_csv(),
        "gold\\pred,\"a,b\",\"say \"\"hi\"\"\"\n\"a,b\",1,0\n\"say \"\"hi\"\"\",1,1\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confusion.csv");
    matrix.write_csv(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), matrix.to_csv());
}

#[test]
fn svg_has_labels_counts_and_row_shading() {
    let labels = strings(&["سياسة", "R&D"]);
    let matrix = ConfusionMatrix::from_indices(&[0, 0, 0, 1], &[0, 0, 1, 1], &labels).unwrap();
    let svg = matrix.to_svg("Topic <dev>");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(">Topic &lt;dev&gt;</text>"));
    assert!(svg.contains(">سياسة</text>") && svg.contains(">R&amp;D</text>"));
    // Row 1 is 2 of 3 right: the diagonal cell is shaded at 2/3, the other at 1/3; row 2 is full.
    assert!(svg.contains(">2</text>") && svg.contains(">1</text>"));
    assert!(
        svg.contains("fill=\"#08306b\""),
        "a share of 1 gets the darkest blue"
    );
    assert!(
        svg.contains("fill=\"#f7fbff\""),
        "a share of 0 gets the lightest blue"
    );
    assert_eq!(svg.matches("<rect x=").count(), 4);
    assert!(svg.contains(">Gold label</text>") && svg.contains(">Predicted label</text>"));
}

#[test]
fn report_round_trips_through_json() {
    let report = ClassificationReport::from_labels(&GOLD, &PRED, None).unwrap();
    let json = report.to_json().unwrap();
    let back: ClassificationReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    report.write_json(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), json);
}

#[test]
fn bad_inputs_are_errors() {
    let err = ClassificationReport::from_labels(&["a", "b"], &["a"], None).unwrap_err();
    assert_eq!(err.to_string(), "2 gold labels but 1 predicted labels");
    let labels = strings(&["a"]);
    let err =
        ClassificationReport::from_labels(&["a", "b"], &["a", "a"], Some(&labels)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "item 2: label 'b' is not in the label list"
    );
    let err = ConfusionMatrix::from_indices(&[0, 3], &[0, 0], &labels).unwrap_err();
    assert_eq!(
        err.to_string(),
        "item 2: class index 3 is out of range for 1 labels"
    );
    let twice = strings(&["a", "a"]);
    assert!(ConfusionMatrix::from_indices(&[0], &[0], &twice).is_err());
    let empty: [&str; 0] = [];
    assert_eq!(
        ClassificationReport::from_labels(&empty, &empty, None)
            .unwrap_err()
            .to_string(),
        "no items to score"
    );
}

#[test]
fn accuracy_counts_equal_positions() {
    assert_eq!(accuracy(&[1, 2, 3, 4], &[1, 2, 0, 0]).unwrap(), 0.5);
    assert!(accuracy::<u8>(&[], &[]).is_err());
    assert!(accuracy(&[1], &[1, 2]).is_err());
}
