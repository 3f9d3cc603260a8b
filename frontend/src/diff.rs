//! What changed between a key's previous and new value, as a line diff for
//! the events page: text line by line, JSON after pretty-printing both sides
//! (so a one-line JSON value diffs by field), binary values as hex dumps
//! ([`format::hex_dump`]), 16 bytes a line. Inputs are cut at
//! [`MAX_DIFF_BYTES`] and the diff table at [`MAX_CELLS`] so a huge value
//! never stalls the page.

use etcdeck_shared::Bytes;

use crate::format::{self, ViewMode};

/// Each side is diffed up to this many bytes (of its rendering).
pub const MAX_DIFF_BYTES: usize = 64 * 1024;
/// Above this many line pairs in the changed middle, the diff shows the
/// middle as removed-then-added instead of computing the shortest edit.
pub const MAX_CELLS: usize = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Same,
    Removed,
    Added,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffLine {
    pub change: Change,
    pub text: String,
}

/// How the two values were compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffKind {
    Text,
    Json,
    Hex,
}

impl DiffKind {
    pub fn label(self) -> &'static str {
        match self {
            DiffKind::Text => "text",
            DiffKind::Json => "JSON",
            DiffKind::Hex => "hex",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueDiff {
    pub kind: DiffKind,
    pub lines: Vec<DiffLine>,
    /// A side was longer than [`MAX_DIFF_BYTES`] and was cut.
    pub truncated: bool,
}

impl ValueDiff {
    /// Lines removed and added.
    pub fn counts(&self) -> (usize, usize) {
        let count = |c| self.lines.iter().filter(|l| l.change == c).count();
        (count(Change::Removed), count(Change::Added))
    }
}

/// Diffs two values in the form that suits them.
pub fn value_diff(old: &Bytes, new: &Bytes) -> ValueDiff {
    match (old.as_text(), new.as_text()) {
        (Some(a), Some(b)) => {
            let json = |v: &Bytes, t: &str| {
                (format::detect(v) == ViewMode::Json)
                    .then(|| format::pretty_json(t))
                    .flatten()
            };
            let (a_cut, b_cut) = (cut(a), cut(b));
            let truncated = a_cut.len() < a.len() || b_cut.len() < b.len();
            if truncated {
                return ValueDiff {
                    kind: DiffKind::Text,
                    lines: line_diff(a_cut, b_cut),
                    truncated,
                };
            }
            match (json(old, a), json(new, b)) {
                (Some(pa), Some(pb)) => ValueDiff {
                    kind: DiffKind::Json,
                    lines: line_diff(&pa, &pb),
                    truncated: false,
                },
                _ => ValueDiff {
                    kind: DiffKind::Text,
                    lines: line_diff(a, b),
                    truncated: false,
                },
            }
        }
        _ => {
            // A hex dump line is about 4 characters per byte.
            let take = MAX_DIFF_BYTES / 4;
            let a = &old.as_slice()[..old.len().min(take)];
            let b = &new.as_slice()[..new.len().min(take)];
            ValueDiff {
                kind: DiffKind::Hex,
                lines: line_diff(&format::hex_dump(a), &format::hex_dump(b)),
                truncated: a.len() < old.len() || b.len() < new.len(),
            }
        }
    }
}

/// At most [`MAX_DIFF_BYTES`] of `text`, cut at a character boundary.
fn cut(text: &str) -> &str {
    if text.len() <= MAX_DIFF_BYTES {
        return text;
    }
    let mut end = MAX_DIFF_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A shortest line diff (longest common subsequence), with the common
/// prefix and suffix taken off first so the usual small edit is cheap.
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mid_a, mid_b) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);

    let line = |change, text: &str| DiffLine {
        change,
        text: text.to_owned(),
    };
    let mut out: Vec<DiffLine> = a[..prefix].iter().map(|t| line(Change::Same, t)).collect();
    if mid_a.len().saturating_mul(mid_b.len()) > MAX_CELLS {
        out.extend(mid_a.iter().map(|t| line(Change::Removed, t)));
        out.extend(mid_b.iter().map(|t| line(Change::Added, t)));
    } else {
        out.extend(lcs_diff(mid_a, mid_b));
    }
    out.extend(a[a.len() - suffix..].iter().map(|t| line(Change::Same, t)));
    out
}

fn lcs_diff(a: &[&str], b: &[&str]) -> Vec<DiffLine> {
    let (n, m) = (a.len(), b.len());
    // table[i][j]: length of the LCS of a[i..] and b[j..].
    let width = m + 1;
    let mut table = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i * width + j] = if a[i] == b[j] {
                table[(i + 1) * width + j + 1] + 1
            } else {
                table[(i + 1) * width + j].max(table[i * width + j + 1])
            };
        }
    }
    let mut out = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        let line = if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
            (Change::Same, a[i - 1])
        } else if j < m && (i == n || table[i * width + j + 1] >= table[(i + 1) * width + j]) {
            j += 1;
            (Change::Added, b[j - 1])
        } else {
            i += 1;
            (Change::Removed, a[i - 1])
        };
        out.push(DiffLine {
            change: line.0,
            text: line.1.to_owned(),
        });
    }
    // Show removals before additions within each changed run, as people
    // read diffs.
    let mut k = 0;
    while k < out.len() {
        if out[k].change == Change::Same {
            k += 1;
            continue;
        }
        let end = (k..out.len())
            .find(|&e| out[e].change == Change::Same)
            .unwrap_or(out.len());
        out[k..end].sort_by_key(|l| l.change != Change::Removed);
        k = end;
    }
    out
}

/// A diff line to show, or a run of unchanged lines folded away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shown {
    Line(DiffLine),
    Folded(usize),
}

/// Keeps `context` unchanged lines around each change and folds the rest.
pub fn fold(lines: &[DiffLine], context: usize) -> Vec<Shown> {
    let near_change = |i: usize| {
        let lo = i.saturating_sub(context);
        let hi = (i + context + 1).min(lines.len());
        lines[lo..hi].iter().any(|l| l.change != Change::Same)
    };
    let mut out = Vec::new();
    let mut folded = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.change == Change::Same && !near_change(i) {
            folded += 1;
            continue;
        }
        if folded > 0 {
            out.push(Shown::Folded(folded));
            folded = 0;
        }
        out.push(Shown::Line(line.clone()));
    }
    if folded > 0 {
        out.push(Shown::Folded(folded));
    }
    out
}
