//! Plain-text score tables in the layout of scikit-learn's and seqeval's
//! `classification_report`.

use super::prf::Prf;

/// One row of a score table.
pub(crate) enum Row<'a> {
    /// A named row of precision, recall, F1 and support.
    Scores(&'a str, Prf),
    /// scikit-learn's `accuracy` row: only the F1 column (holding the accuracy) and support.
    Accuracy(f64, usize),
    /// An empty line.
    Blank,
}

const HEADERS: [&str; 4] = ["precision", "recall", "f1-score", "support"];

/// Renders `rows` under a header, right-aligned, numbers with `digits` decimals.
pub(crate) fn render_table(rows: &[Row], digits: usize) -> String {
    let longest_name = rows
        .iter()
        .map(|row| match row {
            Row::Scores(name, _) => name.chars().count(),
            Row::Accuracy(..) => "accuracy".len(),
            Row::Blank => 0,
        })
        .max()
        .unwrap_or(0);
    let width = longest_name.max("weighted avg".len()).max(digits);

    let mut out = format!("{:>width$} ", "");
    for header in HEADERS {
        out.push_str(&format!(" {header:>9}"));
    }
    out.push_str("\n\n");
    for row in rows {
        match row {
            Row::Scores(name, prf) => {
                out.push_str(&format!(
                    "{name:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}\n",
                    prf.precision, prf.recall, prf.f1, prf.support
                ));
            }
            Row::Accuracy(accuracy, support) => {
                out.push_str(&format!(
                    "{:>width$}  {:>9} {:>9} {accuracy:>9.digits$} {support:>9}\n",
                    "accuracy", "", ""
                ));
            }
            Row::Blank => out.push('\n'),
        }
    }
    out
}
