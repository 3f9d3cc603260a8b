//! How a value is shown: detecting its likely format and rendering it as
//! text in each view mode (text, pretty JSON, YAML, hex dump, base64), with a
//! size limit so a huge value never freezes the page.

use etcdeck_shared::Bytes;

/// Values larger than this are rendered truncated until the user asks for
/// all of it: a few hundred KiB of text (and its highlighting spans) is what
/// a browser lays out without a visible stall.
pub const TRUNCATE_AT: usize = 256 * 1024;

/// A way of showing a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViewMode {
    Text,
    Json,
    Yaml,
    Hex,
    Base64,
}

impl ViewMode {
    pub const ALL: [ViewMode; 5] = [
        ViewMode::Text,
        ViewMode::Json,
        ViewMode::Yaml,
        ViewMode::Hex,
        ViewMode::Base64,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ViewMode::Text => "Text",
            ViewMode::Json => "JSON",
            ViewMode::Yaml => "YAML",
            ViewMode::Hex => "Hex",
            ViewMode::Base64 => "Base64",
        }
    }
}

/// The best mode for a value: JSON if it is a JSON object or array, YAML if
/// it looks like a YAML document, text if it is printable UTF-8, hex
/// otherwise. Bare JSON scalars (`1`, `"a"`, `true`) are shown as text: they
/// gain nothing from pretty-printing.
pub fn detect(value: &Bytes) -> ViewMode {
    let Some(text) = value.as_text() else {
        return ViewMode::Hex;
    };
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(text).is_ok()
    {
        return ViewMode::Json;
    }
    if looks_like_yaml(text) {
        return ViewMode::Yaml;
    }
    ViewMode::Text
}

/// A conservative YAML sniff: an explicit `---` document start, or every
/// significant line is a mapping entry (`key:` / `key: value`), a list item
/// (`- x`) or an indented continuation, with at least one mapping entry and
/// an unindented first line. Prose like "Error: disk full. Retry later" on
/// one line does pass, which is harmless: YAML mode shows the text verbatim.
pub fn looks_like_yaml(text: &str) -> bool {
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .peekable();
    let Some(first) = lines.peek() else {
        return false;
    };
    if first.trim_end() == "---" || first.starts_with("--- ") {
        return true;
    }
    if first.starts_with(char::is_whitespace) {
        return false;
    }
    let mut mapping = false;
    for line in lines {
        let body = line.trim_start();
        let indented = body.len() != line.len();
        let item = body
            .strip_prefix("- ")
            .or(if body == "-" { Some("") } else { None });
        let entry = item.unwrap_or(body);
        if is_mapping_entry(entry) {
            mapping = true;
        } else if item.is_none() && !indented {
            return false;
        }
    }
    mapping
}

/// `key:` or `key: value`, where the key is a plain or quoted scalar without
/// spaces around odd characters (so URLs like `http://x` are not keys).
fn is_mapping_entry(line: &str) -> bool {
    let Some(colon) = find_mapping_colon(line) else {
        return false;
    };
    let key = line[..colon].trim();
    !key.is_empty()
        && (key.starts_with('"')
            || key.starts_with('\'')
            || !key.contains(['{', '[', '}', ']', ',']))
}

/// The byte offset of the colon that ends a YAML mapping key on this line:
/// the first `:` followed by a space or the end of the line, outside quotes.
pub(crate) fn find_mapping_colon(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if (b == b'"' || b == b'\'') && i == 0 => quote = Some(b),
            None if b == b'#' && i > 0 && bytes[i - 1] == b' ' => return None,
            None if b == b':' && matches!(bytes.get(i + 1), None | Some(b' ' | b'\t')) => {
                return Some(i);
            }
            None => {}
        }
    }
    None
}

/// Pretty-prints JSON with two-space indentation, keeping object key order
/// as written (serde_json's `preserve_order` is not needed: we re-indent the
/// text instead of re-serialising a map, so order and number spelling are
/// exactly the value's own). `None` if the text is not JSON.
pub fn pretty_json(text: &str) -> Option<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                // Empty containers stay on one line: `{}` / `[]`.
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(c);
                    out.push(close);
                } else {
                    depth += 1;
                    out.push(c);
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A classic hex dump: offset, 16 bytes in hex, and the printable ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 + 16);
    for (line, chunk) in bytes.chunks(16).enumerate() {
        if line > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{:08x}  ", line * 16));
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
            if i == 7 {
                out.push(' ');
            }
        }
        out.push(' ');
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
    }
    out
}

/// A value rendered for one mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rendered {
    /// The text to show, and whether it was cut at the size limit.
    Shown { text: String, truncated: bool },
    /// The mode does not apply to this value; the message says why.
    NotApplicable(String),
}

/// Renders `value` in `mode`, cutting the output near `limit` bytes unless
/// `limit` is `None`.
pub fn render(value: &Bytes, mode: ViewMode, limit: Option<usize>) -> Rendered {
    let bytes = value.as_slice();
    let cut = |len: usize| limit.is_some_and(|l| len > l);
    match mode {
        ViewMode::Hex => {
            // 16 bytes per line; cutting the input keeps the dump aligned.
            let take = limit.map_or(bytes.len(), |l| (l / 4).min(bytes.len()));
            Rendered::Shown {
                text: hex_dump(&bytes[..take]),
                truncated: take < bytes.len(),
            }
        }
        ViewMode::Base64 => {
            // A multiple of 3 input bytes is a prefix of the full encoding.
            let take = limit.map_or(bytes.len(), |l| (l / 4 * 3).min(bytes.len()));
            Rendered::Shown {
                text: Bytes::from(&bytes[..take]).to_base64(),
                truncated: take < bytes.len(),
            }
        }
        ViewMode::Text | ViewMode::Yaml | ViewMode::Json => {
            let Some(text) = value.as_text() else {
                return Rendered::NotApplicable(
                    "This value is binary (not printable UTF-8): see Hex or Base64.".into(),
                );
            };
            let full = if mode == ViewMode::Json {
                match pretty_json(text) {
                    Some(pretty) => pretty,
                    None => {
                        return Rendered::NotApplicable("This value is not valid JSON.".into());
                    }
                }
            } else {
                text.to_owned()
            };
            if cut(full.len()) {
                let mut end = limit.unwrap_or(full.len());
                while !full.is_char_boundary(end) {
                    end -= 1;
                }
                Rendered::Shown {
                    text: full[..end].to_owned(),
                    truncated: true,
                }
            } else {
                Rendered::Shown {
                    text: full,
                    truncated: false,
                }
            }
        }
    }
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.0 MiB`.
pub fn human_size(len: usize) -> String {
    const KIB: f64 = 1024.0;
    let n = len as f64;
    if len < 1024 {
        format!("{len} B")
    } else if n < KIB * KIB {
        format!("{:.1} KiB", n / KIB)
    } else {
        format!("{:.1} MiB", n / (KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    #[unit_test]
    fn detects_each_format() {
        assert_eq!(detect(&Bytes::from(r#"{"a": [1, 2]}"#)), ViewMode::Json);
        assert_eq!(detect(&Bytes::from(" [1,2]\n")), ViewMode::Json);
        assert_eq!(
            detect(&Bytes::from("a: 1\nb:\n  - x\n  - y\n")),
            ViewMode::Yaml
        );
        assert_eq!(detect(&Bytes::from("---\nfoo")), ViewMode::Yaml);
        assert_eq!(detect(&Bytes::from("hello world")), ViewMode::Text);
        assert_eq!(detect(&Bytes::from("42")), ViewMode::Text);
        assert_eq!(detect(&Bytes::from("")), ViewMode::Text);
        assert_eq!(detect(&Bytes::from("{not json")), ViewMode::Text);
        assert_eq!(detect(&Bytes::from("see http://x.org/a:b")), ViewMode::Text);
        assert_eq!(detect(&Bytes::new(vec![0xff, 0x00, 0x10])), ViewMode::Hex);
        assert_eq!(detect(&Bytes::new(vec![b'a', 0x07])), ViewMode::Hex);
    }

    #[unit_test]
    fn yaml_sniff_rejects_prose() {
        assert!(!looks_like_yaml("first line\nsecond: line"));
        assert!(!looks_like_yaml("  indented: first"));
        assert!(looks_like_yaml(
            "# comment\nname: x # trailing\nlist:\n- a\n- b"
        ));
        assert!(looks_like_yaml("url: http://example.org:80/"));
    }

    #[unit_test]
    fn pretty_prints_json_keeping_order_and_numbers() {
        let pretty =
            pretty_json(r#"{"z":1.50,"a":{"s":"x:{,}\"y"},"e":[],"o":{ }, "l":[true,null]}"#);
        let expected = "{\n  \"z\": 1.50,\n  \"a\": {\n    \"s\": \"x:{,}\\\"y\"\n  },\n  \"e\": [],\n  \"o\": {},\n  \"l\": [\n    true,\n    null\n  ]\n}";
        assert_eq!(pretty.as_deref(), Some(expected));
        assert_eq!(pretty_json("{"), None);
        assert_eq!(pretty_json("  7 ").as_deref(), Some("7"));
    }

    #[unit_test]
    fn hex_dump_lines() {
        let dump = hex_dump(b"0123456789abcdefXY\x00");
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  0123456789abcdef"
        );
        assert!(lines[1].starts_with("00000010  58 59 00 "));
        assert!(lines[1].ends_with("XY."));
    }

    #[unit_test]
    fn render_truncates_huge_values() {
        let big = Bytes::new(vec![b'a'; TRUNCATE_AT + 10]);
        match render(&big, ViewMode::Text, Some(TRUNCATE_AT)) {
            Rendered::Shown { text, truncated } => {
                assert!(truncated);
                assert_eq!(text.len(), TRUNCATE_AT);
            }
            other => panic!("unexpected {other:?}"),
        }
        match render(&big, ViewMode::Text, None) {
            Rendered::Shown { text, truncated } => {
                assert!(!truncated);
                assert_eq!(text.len(), TRUNCATE_AT + 10);
            }
            other => panic!("unexpected {other:?}"),
        }
        match render(&big, ViewMode::Base64, Some(400)) {
            Rendered::Shown { text, truncated } => {
                assert!(truncated);
                assert!(big.to_base64().starts_with(&text));
                assert_eq!(text.len(), 400);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[unit_test]
    fn render_explains_modes_that_do_not_apply() {
        let binary = Bytes::new(vec![0xff]);
        assert!(matches!(
            render(&binary, ViewMode::Json, None),
            Rendered::NotApplicable(_)
        ));
        assert!(matches!(
            render(&Bytes::from("plain"), ViewMode::Json, None),
            Rendered::NotApplicable(_)
        ));
        assert_eq!(
            render(&binary, ViewMode::Hex, None),
            Rendered::Shown {
                text: hex_dump(&[0xff]),
                truncated: false
            }
        );
    }

    #[unit_test]
    fn sizes_for_people() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
