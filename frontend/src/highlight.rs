//! Syntax highlighting of JSON and YAML text into coloured tokens.
//!
//! Tokenising is lenient: any text gives tokens whose texts concatenate back
//! to the input exactly, so truncated or slightly broken documents still show
//! verbatim, just less colourful.

use crate::format::find_mapping_colon;

/// What a token is, which decides its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An object key (JSON) or mapping key (YAML).
    Key,
    String,
    Number,
    /// `true`, `false`, `null` (and YAML's `~`, `yes`, `no`).
    Literal,
    /// Brackets, commas, colons, list dashes, document markers.
    Punct,
    Comment,
    /// Anything else, including white space.
    Plain,
}

impl TokenKind {
    /// Tailwind classes for the token, readable in light and dark mode.
    pub fn class(self) -> &'static str {
        match self {
            TokenKind::Key => "text-sky-700 dark:text-sky-300",
            TokenKind::String => "text-emerald-700 dark:text-emerald-300",
            TokenKind::Number => "text-amber-700 dark:text-amber-300",
            TokenKind::Literal => "text-fuchsia-700 dark:text-fuchsia-300",
            TokenKind::Punct => "text-slate-500 dark:text-slate-400",
            TokenKind::Comment => "text-slate-500 dark:text-slate-400 italic",
            TokenKind::Plain => "",
        }
    }
}

/// A run of text of one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
}

fn push(out: &mut Vec<Token>, kind: TokenKind, text: &str) {
    if text.is_empty() {
        return;
    }
    // Merge runs of the same kind so the DOM gets fewer spans.
    if let Some(last) = out.last_mut()
        && last.kind == kind
    {
        last.text.push_str(text);
        return;
    }
    out.push(Token {
        kind,
        text: text.to_owned(),
    });
}

/// Tokenises JSON (ideally pretty-printed). A string followed by `:` is a key.
pub fn json(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        match b {
            b'"' => {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                i = i.min(bytes.len());
                let rest = text[i..].trim_start();
                let kind = if rest.starts_with(':') {
                    TokenKind::Key
                } else {
                    TokenKind::String
                };
                push(&mut out, kind, &text[start..i]);
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                push(&mut out, TokenKind::Number, &text[start..i]);
            }
            b'{' | b'}' | b'[' | b']' | b',' | b':' => {
                i += 1;
                push(&mut out, TokenKind::Punct, &text[start..i]);
            }
            b'a'..=b'z' => {
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let word = &text[start..i];
                let kind = if matches!(word, "true" | "false" | "null") {
                    TokenKind::Literal
                } else {
                    TokenKind::Plain
                };
                push(&mut out, kind, word);
            }
            _ => {
                // Everything else up to the next interesting byte, as plain
                // text; this also steps over multi-byte characters whole.
                i += 1;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b'"' | b'-' | b'0'..=b'9' | b'{' | b'}' | b'[' | b']' | b',' | b':' | b'a'..=b'z'
                    )
                {
                    i += 1;
                }
                while !text.is_char_boundary(i) {
                    i += 1;
                }
                push(&mut out, TokenKind::Plain, &text[start..i]);
            }
        }
    }
    out
}

/// Tokenises YAML line by line: comments, document markers, list dashes,
/// mapping keys, and scalar values (quoted strings, numbers, literals).
pub fn yaml(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        yaml_line(&mut out, body);
        push(&mut out, TokenKind::Plain, newline);
    }
    out
}

fn yaml_line(out: &mut Vec<Token>, line: &str) {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    push(out, TokenKind::Plain, indent);
    if trimmed.starts_with('#') {
        push(out, TokenKind::Comment, trimmed);
        return;
    }
    if trimmed == "---" || trimmed == "..." {
        push(out, TokenKind::Punct, trimmed);
        return;
    }
    let mut rest = trimmed;
    // List dashes, possibly nested on one line (`- - x`). A dash must be
    // followed by white space or the line end, so `-5` stays a number.
    while let Some(after) = rest.strip_prefix('-') {
        if !(after.is_empty() || after.starts_with([' ', '\t'])) {
            break;
        }
        push(out, TokenKind::Punct, "-");
        let spaces = after.len() - after.trim_start().len();
        push(out, TokenKind::Plain, &after[..spaces]);
        rest = &after[spaces..];
    }
    if let Some(colon) = find_mapping_colon(rest) {
        push(out, TokenKind::Key, &rest[..colon]);
        push(out, TokenKind::Punct, ":");
        rest = &rest[colon + 1..];
        let spaces = rest.len() - rest.trim_start().len();
        push(out, TokenKind::Plain, &rest[..spaces]);
        rest = &rest[spaces..];
    }
    yaml_scalar(out, rest);
}

/// A value after `key: ` or `- `, with an optional trailing comment.
fn yaml_scalar(out: &mut Vec<Token>, text: &str) {
    if text.is_empty() {
        return;
    }
    let (value, comment) = split_comment(text);
    let core = value.trim_end();
    let trailing = &value[core.len()..];
    let kind = if core.starts_with('"') || core.starts_with('\'') {
        TokenKind::String
    } else if matches!(
        core,
        "true" | "false" | "null" | "~" | "yes" | "no" | "True" | "False" | "Null" | "NULL"
    ) {
        TokenKind::Literal
    } else if !core.is_empty() && core.parse::<f64>().is_ok() {
        TokenKind::Number
    } else if matches!(core, "|" | ">" | "|-" | ">-" | "{}" | "[]") {
        TokenKind::Punct
    } else {
        TokenKind::Plain
    };
    push(out, kind, core);
    push(out, TokenKind::Plain, trailing);
    push(out, TokenKind::Comment, comment);
}

/// Splits off a ` #comment` that is outside quotes.
fn split_comment(text: &str) -> (&str, &str) {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'#' && (i == 0 || bytes[i - 1] == b' ') => {
                return (&text[..i], &text[i..]);
            }
            None => {}
        }
    }
    (text, "")
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    fn kinds(tokens: &[Token]) -> Vec<(TokenKind, &str)> {
        tokens.iter().map(|t| (t.kind, t.text.as_str())).collect()
    }

    fn joined(tokens: &[Token]) -> String {
        tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[unit_test]
    fn json_tokens() {
        use TokenKind::*;
        let tokens = json(r#"{"k": "v", "n": -1.5e3, "t": [true, null]}"#);
        assert_eq!(
            kinds(&tokens),
            [
                (Punct, "{"),
                (Key, "\"k\""),
                (Punct, ":"),
                (Plain, " "),
                (String, "\"v\""),
                (Punct, ","),
                (Plain, " "),
                (Key, "\"n\""),
                (Punct, ":"),
                (Plain, " "),
                (Number, "-1.5e3"),
                (Punct, ","),
                (Plain, " "),
                (Key, "\"t\""),
                (Punct, ":"),
                (Plain, " "),
                (Punct, "["),
                (Literal, "true"),
                (Punct, ","),
                (Plain, " "),
                (Literal, "null"),
                (Punct, "]}"),
            ]
        );
    }

    #[unit_test]
    fn json_tokens_are_lossless_on_broken_input() {
        for text in [
            r#"{"a": "unterminated"#,
            "ünïcode \"x\\\"",
            r#"{"s": "a\"b"}"#,
            "\"\\",
        ] {
            assert_eq!(joined(&json(text)), text);
        }
    }

    #[unit_test]
    fn yaml_tokens() {
        use TokenKind::*;
        let tokens =
            yaml("# top\nname: \"x\" # why\nport: 80\nlist:\n  - on: true\n  - plain\n---\n");
        assert_eq!(
            kinds(&tokens),
            [
                (Comment, "# top"),
                (Plain, "\n"),
                (Key, "name"),
                (Punct, ":"),
                (Plain, " "),
                (String, "\"x\""),
                (Plain, " "),
                (Comment, "# why"),
                (Plain, "\n"),
                (Key, "port"),
                (Punct, ":"),
                (Plain, " "),
                (Number, "80"),
                (Plain, "\n"),
                (Key, "list"),
                (Punct, ":"),
                (Plain, "\n  "),
                (Punct, "-"),
                (Plain, " "),
                (Key, "on"),
                (Punct, ":"),
                (Plain, " "),
                (Literal, "true"),
                (Plain, "\n  "),
                (Punct, "-"),
                (Plain, " plain\n"),
                (Punct, "---"),
                (Plain, "\n"),
            ]
        );
    }

    #[unit_test]
    fn yaml_tokens_are_lossless() {
        for text in [
            "a: b: c",
            "- - x\n-\n- 'q # not comment'",
            "url: http://x:1/ #c",
            "  \n\tx",
        ] {
            assert_eq!(joined(&yaml(text)), text);
        }
    }
}
