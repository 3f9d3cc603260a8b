//! The editor's pure logic: turning a value into the text of an edit mode
//! and back without losing a byte, validating JSON and YAML as the user
//! types (with the line and column of the first error), the size limit,
//! lease ids typed in hex, and the typed confirmation of a prefix delete.
//!
//! The modes are [`ViewMode`]s: Text, JSON and YAML edit the value's UTF-8
//! text as it is (JSON and YAML only add validation, they never reformat),
//! Hex and Base64 edit its bytes. Switching modes goes through the bytes,
//! so it is lossless or refused with a reason.

use etcdeck_shared::edit::MAX_VALUE_BYTES;
use etcdeck_shared::{Bytes, LeaseId};

use crate::format::{self, ViewMode};

/// Hex is written this many bytes to a line.
pub const HEX_BYTES_PER_LINE: usize = 16;
/// Base64 is written this many characters to a line.
pub const BASE64_LINE: usize = 76;

/// What is wrong with the editor's text, and where (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl InputError {
    fn plain(message: impl Into<String>) -> Self {
        InputError {
            message: message.into(),
            line: None,
            column: None,
        }
    }

    fn at(message: impl Into<String>, line: usize, column: usize) -> Self {
        InputError {
            message: message.into(),
            line: Some(line),
            column: Some(column),
        }
    }

    /// "line 3, column 7: expected `,` or `}`", or the message alone.
    pub fn sentence(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("line {line}, column {column}: {}", self.message),
            (Some(line), None) => format!("line {line}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

/// The mode an editor opens in: a value that is not printable UTF-8 opens
/// in Hex, JSON and YAML documents in their mode, anything else as Text.
pub fn default_mode(value: &Bytes) -> ViewMode {
    if std::str::from_utf8(value.as_slice()).is_err() {
        return ViewMode::Hex;
    }
    format::detect(value)
}

/// Whether a mode edits the value's text (and so needs valid UTF-8).
pub fn is_textual(mode: ViewMode) -> bool {
    matches!(mode, ViewMode::Text | ViewMode::Json | ViewMode::Yaml)
}

/// The `data-testid` suffix of a mode's button (`editor-mode-json`).
pub fn mode_id(mode: ViewMode) -> &'static str {
    match mode {
        ViewMode::Text => "text",
        ViewMode::Json => "json",
        ViewMode::Yaml => "yaml",
        ViewMode::Hex => "hex",
        ViewMode::Base64 => "base64",
    }
}

/// The editor's text for `value` in `mode`, or why the mode cannot show it.
pub fn to_text(value: &[u8], mode: ViewMode) -> Result<String, String> {
    match mode {
        ViewMode::Text | ViewMode::Json | ViewMode::Yaml => std::str::from_utf8(value)
            .map(str::to_owned)
            .map_err(|err| {
                format!(
                    "this value is not valid UTF-8 (byte {} is not), so it cannot be edited as {}; use Hex or Base64",
                    err.valid_up_to(),
                    mode.label()
                )
            }),
        ViewMode::Hex => Ok(hex_text(value)),
        ViewMode::Base64 => {
            let encoded = Bytes::new(value.to_vec()).to_base64();
            let lines: Vec<&str> = encoded
                .as_bytes()
                .chunks(BASE64_LINE)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            Ok(lines.join("\n"))
        }
    }
}

/// Bytes as hex pairs, [`HEX_BYTES_PER_LINE`] to a line.
pub fn hex_text(value: &[u8]) -> String {
    value
        .chunks(HEX_BYTES_PER_LINE)
        .map(|line| {
            line.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The bytes the editor's text stands for in `mode`. Text, JSON and YAML
/// are their UTF-8 whatever their syntax (see [`validate`]); Hex and Base64
/// must decode.
pub fn to_bytes(text: &str, mode: ViewMode) -> Result<Vec<u8>, InputError> {
    match mode {
        ViewMode::Text | ViewMode::Json | ViewMode::Yaml => Ok(text.as_bytes().to_vec()),
        ViewMode::Hex => parse_hex(text),
        ViewMode::Base64 => {
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            if let Some((line, column, c)) = text_positions(text).find(|(_, _, c)| {
                !(c.is_ascii_alphanumeric()
                    || matches!(c, '+' | '/' | '=' | ' ' | '\t' | '\n' | '\r'))
            }) {
                return Err(InputError::at(
                    format!("{c:?} is not a base64 character"),
                    line,
                    column,
                ));
            }
            Bytes::from_base64(&compact)
                .map(|b| b.as_slice().to_vec())
                .map_err(|_| {
                    InputError::plain("this is not valid base64 (its length or padding is wrong)")
                })
        }
    }
}

/// Each character with its 1-based line and column.
fn text_positions(text: &str) -> impl Iterator<Item = (usize, usize, char)> + '_ {
    text.split('\n').enumerate().flat_map(|(l, line)| {
        line.chars()
            .enumerate()
            .map(move |(c, ch)| (l + 1, c + 1, ch))
    })
}

fn parse_hex(text: &str) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::with_capacity(text.len() / 3 + 1);
    let mut high: Option<(u8, usize, usize)> = None;
    for (line, column, ch) in text_positions(text) {
        if ch.is_ascii_whitespace() {
            continue;
        }
        let Some(digit) = ch.to_digit(16) else {
            return Err(InputError::at(
                format!("{ch:?} is not a hex digit"),
                line,
                column,
            ));
        };
        match high.take() {
            None => high = Some((digit as u8, line, column)),
            Some((hi, _, _)) => out.push(hi * 16 + digit as u8),
        }
    }
    if let Some((_, line, column)) = high {
        return Err(InputError::at(
            "an odd number of hex digits: this digit has no partner",
            line,
            column,
        ));
    }
    Ok(out)
}

/// What is wrong with the text as `mode`, if anything: JSON and YAML
/// syntax, Hex and Base64 decoding.
pub fn validate(text: &str, mode: ViewMode) -> Option<InputError> {
    match mode {
        ViewMode::Text => None,
        ViewMode::Json => serde_json::from_str::<serde_json::Value>(text)
            .err()
            .map(|err| {
                let message = err.to_string();
                // serde_json appends " at line L column C"; it is said apart.
                let message = message
                    .rsplit_once(" at line ")
                    .map_or(message.as_str(), |(m, _)| m)
                    .to_owned();
                InputError::at(
                    format!("invalid JSON: {message}"),
                    err.line(),
                    err.column().max(1),
                )
            }),
        ViewMode::Yaml => validate_yaml(text),
        ViewMode::Hex | ViewMode::Base64 => to_bytes(text, mode).err(),
    }
}

fn validate_yaml(text: &str) -> Option<InputError> {
    use serde::Deserialize;
    for document in serde_yaml::Deserializer::from_str(text) {
        if let Err(err) = serde_yaml::Value::deserialize(document) {
            let message = err.to_string();
            let message = message
                .split_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m)
                .to_owned();
            return Some(match err.location() {
                Some(at) => InputError::at(
                    format!("invalid YAML: {message}"),
                    at.line().max(1),
                    at.column().max(1),
                ),
                None => InputError::plain(format!("invalid YAML: {message}")),
            });
        }
    }
    None
}

/// Converts the editor's text from one mode to another through its bytes,
/// or says why not (the text does not decode, or the bytes are not text).
pub fn switch(text: &str, from: ViewMode, to: ViewMode) -> Result<String, String> {
    if from == to || (is_textual(from) && is_textual(to)) {
        return Ok(text.to_owned());
    }
    let bytes = to_bytes(text, from).map_err(|err| {
        format!(
            "the {} text does not decode ({}); fix it before switching",
            from.label(),
            err.sentence()
        )
    })?;
    to_text(&bytes, to)
}

/// Refuses a value over [`MAX_VALUE_BYTES`], in a sentence with both sizes.
pub fn size_error(len: usize) -> Option<String> {
    (len > MAX_VALUE_BYTES).then(|| {
        format!(
            "the value is {} ({len} bytes); etcdeck writes at most {MAX_VALUE_BYTES} bytes (etcd refuses larger requests)",
            format::human_size(len)
        )
    })
}

/// The bytes to save: valid in its mode and within the size limit.
pub fn check_save(text: &str, mode: ViewMode) -> Result<Vec<u8>, InputError> {
    if let Some(err) = validate(text, mode) {
        return Err(err);
    }
    let bytes = to_bytes(text, mode)?;
    match size_error(bytes.len()) {
        Some(message) => Err(InputError::plain(message)),
        None => Ok(bytes),
    }
}

/// A lease id as typed (hex, as etcdctl prints it, `0x` allowed).
pub fn parse_lease(text: &str) -> Result<LeaseId, String> {
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    if digits.is_empty() {
        return Err("type the lease id in hex (as etcdctl prints it)".to_owned());
    }
    match digits.parse::<LeaseId>() {
        Ok(id) if id.0 != 0 => Ok(id),
        Ok(_) => Err("lease 0 means no lease; choose \"detach\" instead".to_owned()),
        Err(_) => Err(format!(
            "{trimmed:?} is not a lease id: use up to 16 hex digits, as etcdctl prints it"
        )),
    }
}

/// Whether what the user typed confirms a delete of `prefix`: exactly the
/// prefix as [`Bytes::display`] shows it.
pub fn confirms(typed: &str, prefix: &Bytes) -> bool {
    !prefix.is_empty() && typed == prefix.display()
}

/// The 1-based line of an error, for marking it in the editor.
pub fn error_line(err: Option<&InputError>) -> Option<usize> {
    err.and_then(|e| e.line)
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    fn every_byte() -> Vec<u8> {
        (0..=255u8).collect()
    }

    #[unit_test]
    fn hex_and_base64_round_trip_every_byte() {
        let bytes = every_byte();
        for mode in [ViewMode::Hex, ViewMode::Base64] {
            let text = to_text(&bytes, mode).expect("binary modes show anything");
            assert_eq!(to_bytes(&text, mode).expect("decodes"), bytes, "{mode:?}");
        }
        assert_eq!(to_text(&[], ViewMode::Hex).as_deref(), Ok(""));
        assert_eq!(to_bytes("", ViewMode::Base64), Ok(Vec::new()));
        // Upper case and any white space are accepted.
        assert_eq!(
            to_bytes("DE ad\n\tBE ef", ViewMode::Hex),
            Ok(vec![0xde, 0xad, 0xbe, 0xef])
        );
    }

    #[unit_test]
    fn switching_modes_keeps_every_byte_or_refuses() {
        let text = "héllo\n{\"a\": 1}\n";
        let hex = switch(text, ViewMode::Text, ViewMode::Hex).expect("text to hex");
        let b64 = switch(&hex, ViewMode::Hex, ViewMode::Base64).expect("hex to base64");
        let back = switch(&b64, ViewMode::Base64, ViewMode::Json).expect("base64 to json");
        assert_eq!(back, text);
        // Textual modes share the text as it is.
        assert_eq!(
            switch("a: [", ViewMode::Yaml, ViewMode::Text).as_deref(),
            Ok("a: [")
        );

        let binary = to_text(&[0xff, 0x00, b'a'], ViewMode::Hex).expect("hex");
        let refused = switch(&binary, ViewMode::Hex, ViewMode::Text).expect_err("not UTF-8");
        assert!(refused.contains("not valid UTF-8"), "{refused}");
        let refused = switch("zz", ViewMode::Hex, ViewMode::Text).expect_err("bad hex");
        assert!(refused.contains("line 1, column 1"), "{refused}");
    }

    #[unit_test]
    fn binary_values_open_in_hex() {
        assert_eq!(default_mode(&Bytes::new(vec![0xff, 0xfe])), ViewMode::Hex);
        assert_eq!(default_mode(&Bytes::from("{\"a\":1}")), ViewMode::Json);
        assert_eq!(default_mode(&Bytes::from("plain")), ViewMode::Text);
        let err = to_text(&[b'o', b'k', 0xc3], ViewMode::Json).expect_err("cut UTF-8");
        assert!(err.contains("byte 2"), "{err}");
    }

    #[unit_test]
    fn json_errors_name_their_line_and_column() {
        assert_eq!(validate("{\"a\": 1}", ViewMode::Json), None);
        let err = validate("{\n  \"a\": 1,\n  \"b\" 2\n}", ViewMode::Json).expect("invalid");
        assert_eq!((err.line, err.column), (Some(3), Some(7)));
        assert!(
            err.sentence()
                .starts_with("line 3, column 7: invalid JSON: expected `:`"),
            "{}",
            err.sentence()
        );
        assert!(validate("", ViewMode::Json).is_some());
        // Text has no syntax to break.
        assert_eq!(validate("{", ViewMode::Text), None);
    }

    #[unit_test]
    fn yaml_errors_name_their_line() {
        assert_eq!(validate("a: 1\nb:\n  - x\n", ViewMode::Yaml), None);
        assert_eq!(validate("", ViewMode::Yaml), None);
        assert_eq!(validate("a: 1\n---\nb: 2\n", ViewMode::Yaml), None);
        let err = validate("a: 1\nb: [1, 2\nc: 3\n", ViewMode::Yaml).expect("invalid");
        assert!(err.line.is_some_and(|l| l >= 2), "{err:?}");
        assert!(err.message.starts_with("invalid YAML"), "{err:?}");
        let err = validate("a: 1\n  b: 2\n", ViewMode::Yaml).expect("bad indent");
        assert_eq!(err.line, Some(2), "{err:?}");
    }

    #[unit_test]
    fn hex_and_base64_errors_point_at_the_character() {
        let err = validate("00 11\n2g", ViewMode::Hex).expect("bad digit");
        assert_eq!((err.line, err.column), (Some(2), Some(2)));
        let err = validate("001", ViewMode::Hex).expect("odd");
        assert_eq!((err.line, err.column), (Some(1), Some(3)));
        let err = validate("aGk*", ViewMode::Base64).expect("bad char");
        assert_eq!((err.line, err.column), (Some(1), Some(4)));
        assert!(validate("aGk", ViewMode::Base64).is_some());
        assert_eq!(validate("aGk=", ViewMode::Base64), None);
    }

    #[unit_test]
    fn the_size_limit_is_checked_before_sending() {
        assert_eq!(size_error(MAX_VALUE_BYTES), None);
        let message = size_error(MAX_VALUE_BYTES + 1).expect("too big");
        assert!(
            message.contains("1500001 bytes") && message.contains("1500000"),
            "{message}"
        );
        let big = "a".repeat(MAX_VALUE_BYTES + 1);
        assert!(check_save(&big, ViewMode::Text).is_err());
        assert_eq!(check_save("x", ViewMode::Text), Ok(b"x".to_vec()));
        assert!(check_save("{", ViewMode::Json).is_err());
    }

    #[unit_test]
    fn lease_ids_are_typed_in_hex() {
        assert_eq!(
            parse_lease(" 694d7b8e1d1a2b3c "),
            Ok(LeaseId(0x694d7b8e1d1a2b3c))
        );
        assert_eq!(parse_lease("0xAB"), Ok(LeaseId(0xab)));
        assert!(parse_lease("").is_err());
        assert!(parse_lease("0").is_err());
        assert!(parse_lease("xyz").unwrap_err().contains("not a lease id"));
    }

    #[unit_test]
    fn only_the_exact_prefix_confirms() {
        let prefix = Bytes::new(vec![b'/', b'a', 0xff, b'/']);
        assert!(confirms("/a\\xff/", &prefix));
        assert!(!confirms("/a\\xff", &prefix));
        assert!(!confirms(" /a\\xff/", &prefix));
        assert!(!confirms("", &Bytes::default()));
    }
}
