//! A confusion matrix drawn as a standalone SVG image: gold classes down the left, predicted
//! classes along the bottom, the count in every cell, cells shaded by the row-normalised value
//! (the share of the gold class's items), as scikit-learn's `ConfusionMatrixDisplay` with
//! `normalize='true'` colours them.

use std::fmt::Write as _;
use std::path::Path;

use super::confusion::ConfusionMatrix;
use super::write_text;
use crate::error::Result;

const CELL: f64 = 56.0;
const FONT: f64 = 12.0;
/// Rough width of one character at `FONT` size, for laying out labels.
const CHAR_WIDTH: f64 = 7.2;
const PAD: f64 = 10.0;
const TITLE_HEIGHT: f64 = 34.0;
const AXIS_TITLE: f64 = 22.0;
/// Colour of a row share of 0 and of 1 (scikit-learn's "Blues" ends).
const LIGHT: [f64; 3] = [247.0, 251.0, 255.0];
const DARK: [f64; 3] = [8.0, 48.0, 107.0];

impl ConfusionMatrix {
    /// The matrix as an SVG document, titled `title`.
    pub fn to_svg(&self, title: &str) -> String {
        let n = self.labels.len() as f64;
        let label_width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(1) as f64
            * CHAR_WIDTH;
        // Column labels hang down-left at 45 degrees: about 0.71 of their length below the grid.
        let grid_left = AXIS_TITLE + label_width + PAD;
        let grid_top = TITLE_HEIGHT;
        let grid_size = n * CELL;
        let width = grid_left + grid_size + PAD * 2.0;
        let height = grid_top + grid_size + PAD + label_width * 0.71 + AXIS_TITLE + PAD;

        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="{FONT}">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            width / 2.0,
            escape(title)
        );
        self.draw_cells(&mut svg, grid_left, grid_top);
        self.draw_labels(&mut svg, grid_left, grid_top);

        let gold_y = grid_top + grid_size / 2.0;
        let _ = writeln!(
            svg,
            r#"<text x="14" y="{gold_y:.1}" text-anchor="middle" transform="rotate(-90 14 {gold_y:.1})" font-weight="bold">Gold label</text>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">Predicted label</text>"#,
            grid_left + grid_size / 2.0,
            height - PAD
        );
        svg.push_str("</svg>\n");
        svg
    }

    /// Writes [`ConfusionMatrix::to_svg`] to `path`.
    pub fn write_svg(&self, path: impl AsRef<Path>, title: &str) -> Result<()> {
        write_text(path.as_ref(), &self.to_svg(title))
    }

    fn draw_cells(&self, svg: &mut String, left: f64, top: f64) {
        let shares = self.row_normalised();
        for (g, (row, share_row)) in self.counts.iter().zip(&shares).enumerate() {
            for (p, (count, &share)) in row.iter().zip(share_row).enumerate() {
                let x = left + p as f64 * CELL;
                let y = top + g as f64 * CELL;
                let text_colour = if share > 0.5 { "white" } else { "black" };
                let _ = writeln!(
                    svg,
                    r##"<rect x="{x:.1}" y="{y:.1}" width="{CELL}" height="{CELL}" fill="{}" stroke="#cccccc"><title>{} → {}: {count} ({:.1}% of the row)</title></rect>"##,
                    shade(share),
                    escape(&self.labels[g]),
                    escape(&self.labels[p]),
                    share * 100.0
                );
                let _ = writeln!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{text_colour}">{count}</text>"#,
                    x + CELL / 2.0,
                    y + CELL / 2.0 + FONT / 3.0
                );
            }
        }
    }

    fn draw_labels(&self, svg: &mut String, left: f64, top: f64) {
        let bottom = top + self.labels.len() as f64 * CELL;
        for (i, label) in self.labels.iter().enumerate() {
            let centre = i as f64 * CELL + CELL / 2.0;
            let label = escape(label);
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#,
                left - 6.0,
                top + centre + FONT / 3.0
            );
            let (x, y) = (left + centre, bottom + 14.0);
            let _ = writeln!(
                svg,
                r#"<text x="{x:.1}" y="{y:.1}" text-anchor="end" transform="rotate(-45 {x:.1} {y:.1})">{label}</text>"#
            );
        }
    }
}

/// The fill colour of a cell whose row share is `share` (0..=1), from light to dark blue.
fn shade(share: f64) -> String {
    let t = share.clamp(0.0, 1.0);
    let channel = |i: usize| (LIGHT[i] + (DARK[i] - LIGHT[i]) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", channel(0), channel(1), channel(2))
}

/// Escapes text for SVG/XML content and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}
