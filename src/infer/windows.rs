//! Fitting token sequences into the encoder's length: truncation (head, or head + tail) for
//! training, overlapping windows for long documents and sentences at prediction time.

use std::ops::Range;

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

/// Overlapping windows over a sentence's words, cut at word boundaries: each holds at most
/// `width` tokens (a single word longer than that counts as `width`, its extra tokens are
/// dropped), consecutive windows start about `stride` tokens apart, and together they cover every
/// word. `tokens_per_word[i]` is the token count of word `i`. No words, no windows.
pub fn word_windows(tokens_per_word: &[usize], width: usize, stride: usize) -> Vec<Range<usize>> {
    let width = width.max(1);
    let n = tokens_per_word.len();
    let counts: Vec<usize> = tokens_per_word.iter().map(|&c| c.clamp(1, width)).collect();
    let mut before = vec![0usize; n + 1];
    for (i, c) in counts.iter().enumerate() {
        before[i + 1] = before[i] + c;
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && before[end + 1] - before[start] <= width {
            end += 1;
        }
        out.push(start..end);
        if end >= n {
            break;
        }
        let mut next = start + 1;
        while next < end && before[next] - before[start] < stride.max(1) {
            next += 1;
        }
        start = next;
    }
    out
}

/// For every word of `n`, the window (index into `windows`) that sees it with the most context:
/// where its distance to the nearer window edge is largest (the earlier window on ties). Every
/// word gets exactly one window that contains it; words no window contains get `usize::MAX`.
pub fn best_window_per_word(windows: &[Range<usize>], n: usize) -> Vec<usize> {
    let mut best = vec![(usize::MAX, 0usize); n];
    for (w, range) in windows.iter().enumerate() {
        for word in range.clone().take_while(|&i| i < n) {
            let margin = (word - range.start).min(range.end - 1 - word);
            let slot = &mut best[word];
            if slot.0 == usize::MAX || margin > slot.1 {
                *slot = (w, margin);
            }
        }
    }
    best.into_iter().map(|(w, _)| w).collect()
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

    #[test]
    fn word_windows_cover_every_word_within_the_budget() {
        let counts = [3, 1, 2, 5, 1, 1, 4, 2, 2, 1, 3];
        for (width, stride) in [(6, 3), (5, 5), (8, 2), (4, 100), (30, 10)] {
            let ws = word_windows(&counts, width, stride);
            assert_eq!(ws[0].start, 0);
            assert_eq!(ws.last().unwrap().end, counts.len());
            for pair in ws.windows(2) {
                assert!(pair[1].start > pair[0].start && pair[1].start <= pair[0].end);
            }
            for w in &ws {
                let tokens: usize = counts[w.clone()].iter().map(|&c| c.min(width)).sum();
                assert!(tokens <= width || w.len() == 1, "{w:?} {tokens} > {width}");
            }
            let best = best_window_per_word(&ws, counts.len());
            for (word, &b) in best.iter().enumerate() {
                assert!(ws[b].contains(&word), "word {word} -> window {b}");
            }
        }
        assert!(word_windows(&[], 4, 2).is_empty());
        assert_eq!(word_windows(&[9], 4, 2), vec![0..1]);
    }

    #[test]
    fn each_word_keeps_the_window_where_it_is_most_central() {
        let ws = vec![0..6, 3..9, 6..10];
        let best = best_window_per_word(&ws, 10);
        // word 4 ties between windows 0 and 1 (margin 1 each): the earlier wins
        assert_eq!(best, vec![0, 0, 0, 0, 0, 1, 1, 1, 2, 2]);
    }
}
