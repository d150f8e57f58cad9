//! Fitting token sequences into the encoder's length: truncation (head, or head + tail) for
//! training, overlapping windows for long documents and sentences at prediction time.

use serde::{Deserialize, Serialize};

/// Which tokens of a long text to keep when truncating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// The first tokens.
    #[default]
    Head,
    /// A quarter from the start and the rest from the end (Sun et al., 2019).
    HeadTail,
}

/// Wraps `ids` (no special tokens) as `[cls] ids [sep]`, truncated to `max_len` tokens in all.
pub fn truncate(ids: &[u32], max_len: usize, how: Truncation, cls: u32, sep: u32) -> Vec<u32> {
    let room = max_len.saturating_sub(2).max(1);
    let mut out = Vec::with_capacity(ids.len().min(room) + 2);
    out.push(cls);
    if ids.len() <= room {
        out.extend_from_slice(ids);
    } else {
        match how {
            Truncation::Head => out.extend_from_slice(&ids[..room]),
            Truncation::HeadTail => {
                let head = room / 4;
                out.extend_from_slice(&ids[..head]);
                out.extend_from_slice(&ids[ids.len() - (room - head)..]);
            }
        }
    }
    out.push(sep);
    out
}

/// Start offsets of windows of `width` tokens moving by `stride` over `len` tokens; the last
/// window ends at `len` (so every token is covered).
pub fn window_starts(len: usize, width: usize, stride: usize) -> Vec<usize> {
    let width = width.max(1);
    if len <= width {
        return vec![0];
    }
    let stride = stride.clamp(1, width);
    let mut starts: Vec<usize> = (0..)
        .map(|i| i * stride)
        .take_while(|s| s + width < len)
        .collect();
    starts.push(len - width);
    starts
}

/// Overlapping windows over `ids` (no special tokens), each wrapped as `[cls] ... [sep]` and at
/// most `max_len` long; `stride` tokens between window starts.
pub fn windows(ids: &[u32], max_len: usize, stride: usize, cls: u32, sep: u32) -> Vec<Vec<u32>> {
    let width = max_len.saturating_sub(2).max(1);
    window_starts(ids.len(), width, stride)
        .into_iter()
        .map(|s| {
            let mut w = Vec::with_capacity(width + 2);
            w.push(cls);
            w.extend_from_slice(&ids[s..(s + width).min(ids.len())]);
            w.push(sep);
            w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_head_or_head_and_tail() {
        let ids: Vec<u32> = (10..30).collect();
        assert_eq!(
            truncate(&ids, 7, Truncation::Head, 0, 2),
            vec![0, 10, 11, 12, 13, 14, 2]
        );
        assert_eq!(
            truncate(&ids, 10, Truncation::HeadTail, 0, 2),
            vec![0, 10, 11, 24, 25, 26, 27, 28, 29, 2]
        );
        assert_eq!(
            truncate(&ids[..3], 10, Truncation::HeadTail, 0, 2),
            vec![0, 10, 11, 12, 2]
        );
    }

    #[test]
    fn windows_cover_every_token() {
        assert_eq!(window_starts(10, 4, 2), vec![0, 2, 4, 6]);
        assert_eq!(window_starts(3, 4, 2), vec![0]);
        assert_eq!(window_starts(11, 4, 3), vec![0, 3, 6, 7]);
        let ids: Vec<u32> = (100..111).collect();
        let w = windows(&ids, 6, 3, 0, 2);
        assert!(w
            .iter()
            .all(|w| w.len() <= 6 && w[0] == 0 && *w.last().unwrap() == 2));
        let covered: std::collections::BTreeSet<u32> =
            w.iter().flat_map(|w| w[1..w.len() - 1].to_vec()).collect();
        assert_eq!(covered.len(), 11);
    }
}
