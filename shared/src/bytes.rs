//! [`Bytes`]: an etcd key or value, which is a byte string, not text.
//!
//! On the wire (JSON) it is standard base64 with padding, so binary keys and
//! values survive every round trip unchanged. In URLs (query strings, deep
//! links) it is percent-encoded byte by byte, which keeps UTF-8 keys readable
//! and still encodes any byte. [`Bytes::display`] is the one place that decides
//! how bytes are shown to a person.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes left readable in a URL query value: unreserved characters plus `/`,
/// which etcd keys use as their usual separator.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// An etcd key or value: arbitrary bytes.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Bytes(bytes.into())
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as text when they are valid UTF-8 with no control characters
    /// other than tab and newlines; `None` means "show as binary".
    pub fn as_text(&self) -> Option<&str> {
        let text = std::str::from_utf8(&self.0).ok()?;
        let printable = text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
        printable.then_some(text)
    }

    /// A one-line, lossless, human-readable rendering: printable ASCII and
    /// non-ASCII UTF-8 as themselves, every other byte as `\xNN`, and a
    /// backslash as `\\`. Distinct byte strings always render differently.
    pub fn display(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut rest = self.0.as_slice();
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    push_escaped(&mut out, valid);
                    break;
                }
                Err(err) => {
                    let (valid, after) = rest.split_at(err.valid_up_to());
                    // SAFETY-free: `valid_up_to` guarantees this prefix is UTF-8.
                    push_escaped(&mut out, std::str::from_utf8(valid).unwrap_or_default());
                    let bad = err.error_len().unwrap_or(after.len()).max(1);
                    for b in &after[..bad] {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                    rest = &after[bad..];
                }
            }
        }
        out
    }

    /// Lowercase hex, two digits a byte.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }

    pub fn from_base64(text: &str) -> Result<Self, BytesError> {
        STANDARD
            .decode(text.trim())
            .map(Bytes)
            .map_err(|_| BytesError::Base64)
    }

    /// Parses hex, ignoring ASCII white space between digits.
    pub fn from_hex(text: &str) -> Result<Self, BytesError> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        if !digits.len().is_multiple_of(2) {
            return Err(BytesError::Hex);
        }
        digits
            .chunks(2)
            .map(|pair| {
                let hi = (pair[0] as char).to_digit(16).ok_or(BytesError::Hex)?;
                let lo = (pair[1] as char).to_digit(16).ok_or(BytesError::Hex)?;
                Ok((hi * 16 + lo) as u8)
            })
            .collect::<Result<Vec<u8>, _>>()
            .map(Bytes)
    }

    /// The URL form: percent-encoding of every byte that is not unreserved
    /// or `/`.
    pub fn to_url(&self) -> String {
        // `utf8_percent_encode` needs &str; encode raw bytes via the byte API.
        percent_encoding::percent_encode(&self.0, QUERY_VALUE).to_string()
    }

    /// Parses the URL form. A `+` is taken literally (it is not a space):
    /// [`Bytes::to_url`] never produces one unencoded.
    pub fn from_url(text: &str) -> Self {
        Bytes(percent_decode_str(text).collect())
    }
}

/// Percent-encodes text for a URL query value with the same rules as
/// [`Bytes::to_url`].
pub fn url_encode_text(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
}

/// Why text could not be read as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesError {
    Base64,
    Hex,
}

impl fmt::Display for BytesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BytesError::Base64 => f.write_str("not valid base64"),
            BytesError::Hex => f.write_str("not valid hex (pairs of 0-9, a-f)"),
        }
    }
}

impl std::error::Error for BytesError {}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.display())
    }
}

impl From<&str> for Bytes {
    fn from(s: &str) -> Self {
        Bytes(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Bytes::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lossless_and_readable() {
        assert_eq!(Bytes::from("/app/cfg").display(), "/app/cfg");
        assert_eq!(Bytes::from("grüße").display(), "grüße");
        assert_eq!(
            Bytes::new(vec![b'a', 0xff, 0x00, b'b']).display(),
            "a\\xff\\x00b"
        );
        assert_eq!(Bytes::from("a\\xff").display(), "a\\\\xff");
        assert_eq!(Bytes::from("tab\there").display(), "tab\\x09here");
    }

    #[test]
    fn text_detection() {
        assert_eq!(Bytes::from("line\nline").as_text(), Some("line\nline"));
        assert_eq!(Bytes::new(vec![0xff, 0xfe]).as_text(), None);
        assert_eq!(Bytes::new(vec![b'a', 0x07]).as_text(), None);
    }

    #[test]
    fn url_round_trip_keeps_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let b = Bytes::new(all);
        assert_eq!(Bytes::from_url(&b.to_url()), b);
        assert_eq!(Bytes::from("/app/svc a+b").to_url(), "/app/svc%20a%2Bb");
    }

    #[test]
    fn hex_and_base64_round_trip() {
        let b = Bytes::new(vec![0, 1, 0xab, 0xff]);
        assert_eq!(b.to_hex(), "0001abff");
        assert_eq!(Bytes::from_hex("00 01 AB ff").unwrap(), b);
        assert_eq!(Bytes::from_base64(&b.to_base64()).unwrap(), b);
        assert_eq!(Bytes::from_hex("abc"), Err(BytesError::Hex));
        assert_eq!(Bytes::from_base64("!!"), Err(BytesError::Base64));
    }
}
