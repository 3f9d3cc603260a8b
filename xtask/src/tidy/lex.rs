//! A small lexer for the tidy checks: Rust source as identifiers and punctuation with their
//! line numbers, comments and the insides of literals left out, and the searches the checks
//! run over it (a rule's names, the backend's `crate::` paths).

use super::Pattern;

/// A token of Rust code: an identifier (or number) or one punctuation character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Ident(String),
    Punct(char),
}

/// Splits Rust source into tokens with their line numbers, leaving out comments and the insides
/// of string and character literals: only code names things.
pub(super) fn lex(text: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Advances over `chars[from..to]`, counting the lines it crosses.
    let count_lines = |from: usize, to: usize, line: &mut usize| {
        *line += chars[from..to.min(chars.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count();
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            count_lines(start, i, &mut line);
        } else if c == '"' {
            let start = i;
            i = skip_string(&chars, i + 1);
            count_lines(start, i, &mut line);
        } else if let Some(end) = raw_string_end(&chars, i) {
            count_lines(i, end, &mut line);
            i = end;
        } else if c == '\'' {
            // A character literal (`'x'`, `'\n'`, `'\u{..}'`) or a lifetime (`'a`).
            if next == Some('\\') {
                // Past the quote, the backslash and the escaped character.
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // `b"..."` and `c"..."` are strings too.
            if (word == "b" || word == "c") && chars.get(i) == Some(&'"') {
                let from = i;
                i = skip_string(&chars, i + 1);
                count_lines(from, i, &mut line);
            } else {
                tokens.push((Token::Ident(word), line));
            }
        } else {
            tokens.push((Token::Punct(c), line));
            i += 1;
        }
    }
    tokens
}

/// The index after the closing quote of a string whose contents start at `i`.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// When a raw string (`r"..."`, `r#"..."#`, `br#"..."#`) starts at `i`, the index after it.
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') || chars.get(j) == Some(&'c') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

/// The line of the first token sequence matching any of `patterns`.
pub(super) fn first_match(tokens: &[(Token, usize)], patterns: &[Pattern]) -> Option<usize> {
    let ident = |k: usize| match tokens.get(k) {
        Some((Token::Ident(word), _)) => Some(word.as_str()),
        _ => None,
    };
    let punct = |k: usize, c: char| matches!(tokens.get(k), Some((Token::Punct(p), _)) if *p == c);
    for (k, (_, line)) in tokens.iter().enumerate() {
        let Some(word) = ident(k) else {
            continue;
        };
        for pattern in patterns {
            let hit = match *pattern {
                Pattern::Ident(name) => word == name,
                Pattern::IdentPrefix(prefix) => word.starts_with(prefix),
                Pattern::Path(krate, item) => {
                    word == krate
                        && punct(k + 1, ':')
                        && punct(k + 2, ':')
                        && (ident(k + 3) == Some(item)
                            || (punct(k + 3, '{') && group_idents(tokens, k + 3).contains(&item)))
                }
            };
            if hit {
                return Some(*line);
            }
        }
    }
    None
}

/// The identifiers inside the brace group that opens at `open`.
fn group_idents(tokens: &[(Token, usize)], open: usize) -> Vec<&str> {
    let mut depth = 0;
    let mut found = Vec::new();
    for (token, _) in &tokens[open..] {
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Ident(word) => found.push(word.as_str()),
            Token::Punct(_) => {}
        }
    }
    found
}

/// The modules named by `crate::m` paths, also in `crate::{m1, m2::x}` groups, with the line
/// of each.
pub(super) fn crate_imports(tokens: &[(Token, usize)]) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (k, (token, line)) in tokens.iter().enumerate() {
        if *token != Token::Ident("crate".to_owned()) {
            continue;
        }
        let path = |d: usize| tokens.get(k + d).map(|(t, _)| t);
        if path(1) != Some(&Token::Punct(':')) || path(2) != Some(&Token::Punct(':')) {
            continue;
        }
        match path(3) {
            Some(Token::Ident(module)) => found.push((module.clone(), *line)),
            Some(Token::Punct('{')) => {
                // The group's modules are the identifiers right after `{` or a `,` at depth 1.
                let mut depth = 0;
                let mut expect_module = false;
                for (token, line) in &tokens[k + 3..] {
                    match token {
                        Token::Punct('{') => {
                            depth += 1;
                            expect_module = depth == 1;
                        }
                        Token::Punct('}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Token::Punct(',') => expect_module = depth == 1,
                        Token::Ident(module) if expect_module => {
                            found.push((module.clone(), *line));
                            expect_module = false;
                        }
                        _ => expect_module = false,
                    }
                }
            }
            _ => {}
        }
    }
    found
}
