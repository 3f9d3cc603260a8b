//! "Copy as etcdctl commands": a shell script that recreates a few keys
//! exactly with `etcdctl put`, byte for byte (pure; the browser builds it
//! from the values it has read, the backend's tests run it).
//!
//! Text values are passed as a single-quoted argument. Any other value (not
//! UTF-8, control characters, a trailing newline, or more than
//! [`MAX_ARGUMENT_VALUE`] bytes) is written as base64 and piped through
//! `base64 -d` into `etcdctl put`, which reads the value from its standard
//! input when none is given, so every byte arrives unchanged. Keys are
//! single-quoted, or written with bash's `$'\xNN'` quoting when they hold
//! bytes that are not printable text; a key with a NUL byte cannot be an
//! argument of any command, so it is left out with a comment saying so.

use crate::bytes::Bytes;

/// Values longer than this go through standard input (base64), so a
/// command line stays well within the shell's limits.
pub const MAX_ARGUMENT_VALUE: usize = 4096;

/// The most keys one script recreates.
pub const MAX_KEYS: usize = 200;

/// One key to recreate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyToCopy {
    pub key: Bytes,
    /// `None` when the value could not be included (masked, or not read).
    pub value: Option<Bytes>,
    /// The lease the key is on, if any, with its granted TTL in seconds.
    pub lease: Option<(String, i64)>,
}

/// The script for `keys`, with the cluster's `endpoints` and the etcd
/// `user` as the variables at its top (placeholders to edit when empty).
pub fn commands(keys: &[KeyToCopy], endpoints: &[String], user: Option<&str>) -> String {
    let endpoints = if endpoints.is_empty() {
        "http://127.0.0.1:2379".to_owned()
    } else {
        endpoints.join(",")
    };
    let mut out = String::new();
    out.push_str("# Recreates ");
    out.push_str(&plural(keys.len(), "key"));
    out.push_str(" with etcdctl (v3 API), byte for byte.\n");
    out.push_str(
        "# etcdctl asks for the password of ETCD_USER; binary values are piped in as base64.\n",
    );
    out.push_str(&format!(
        "ENDPOINTS={}\n",
        single_quoted(endpoints.as_bytes())
    ));
    out.push_str(&format!(
        "ETCD_USER={}\n",
        single_quoted(user.unwrap_or("<user>").as_bytes())
    ));
    for key in keys {
        out.push_str(&command(key));
    }
    out
}

fn command(item: &KeyToCopy) -> String {
    let key = &item.key.0;
    if key.contains(&0) {
        return format!(
            "# left out: the key {} holds a NUL byte, which no command-line argument can carry\n",
            item.key.display()
        );
    }
    let Some(value) = &item.value else {
        return format!(
            "# left out: the value of {} was not shown (masked or not readable)\n",
            item.key.display()
        );
    };
    let mut line = String::new();
    if let Some((id, ttl)) = &item.lease {
        line.push_str(&format!(
            "# {} was on lease {id} (granted for {ttl} s): grant one with `etcdctl lease grant {ttl}` and add --lease=<id> below\n",
            item.key.display()
        ));
    }
    let base = format!(
        "etcdctl --endpoints=\"$ENDPOINTS\" --user=\"$ETCD_USER\" put -- {}",
        shell_word(key)
    );
    let value = &value.0;
    if as_argument(value) {
        line.push_str(&format!("{base} {}\n", single_quoted(value)));
    } else {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        line.push_str(&format!("printf '%s' '{encoded}' | base64 -d | {base}\n"));
    }
    line
}

/// Whether a value can be passed as an argument unchanged: text without
/// control characters (a newline inside is fine, a trailing one is not
/// always kept by people's editors), not too long. The empty value is an
/// argument too: etcdctl refuses an empty standard input.
fn as_argument(value: &[u8]) -> bool {
    if value.len() > MAX_ARGUMENT_VALUE || value.ends_with(b"\n") {
        return false;
    }
    match std::str::from_utf8(value) {
        Ok(text) => !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        Err(_) => false,
    }
}

/// A key as one shell word.
fn shell_word(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(text) if !text.chars().any(char::is_control) => single_quoted(key),
        _ => ansi_c_quoted(key),
    }
}

/// `'...'`, with each `'` written as `'\''`. Only for UTF-8 bytes.
fn single_quoted(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// bash's `$'...'`: printable ASCII as itself, every other byte as `\xNN`.
fn ansi_c_quoted(bytes: &[u8]) -> String {
    let mut out = String::from("$'");
    for &b in bytes {
        match b {
            b'\\' => out.push_str(r"\\"),
            b'\'' => out.push_str(r"\'"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &[u8], value: &[u8]) -> KeyToCopy {
        KeyToCopy {
            key: Bytes(key.to_vec()),
            value: Some(Bytes(value.to_vec())),
            lease: None,
        }
    }

    #[test]
    fn text_values_are_arguments_and_binary_ones_go_through_base64() {
        let script = commands(
            &[
                item(b"/app/name", b"it's"),
                item(b"/app/bin", &[0, 1, 0xff]),
                item(b"/app/empty", b""),
                item(&[b'/', 0xfe, b'k'], b"v"),
                item(b"/a\0b", b"v"),
            ],
            &["http://10.0.0.1:2379".to_owned()],
            Some("alice"),
        );
        assert!(script.contains("ENDPOINTS='http://10.0.0.1:2379'\n"));
        assert!(script.contains("ETCD_USER='alice'\n"));
        assert!(script.contains(r"put -- '/app/name' 'it'\''s'"));
        assert!(script.contains("printf '%s' 'AAH/' | base64 -d | etcdctl"));
        assert!(script.contains("put -- '/app/empty' ''\n"));
        assert!(script.contains(r"put -- $'/\xfek' 'v'"));
        assert!(script.contains("# left out: the key /a\\x00b holds a NUL byte"));
    }
}
