//! Search as pure logic: the matcher (a substring, case-insensitive unless
//! asked, or a regex over bytes, both within size limits), the hit it makes
//! of one key as read, and the walk over the model's [`Store`] that finds
//! candidates in key order. Nothing here knows who asks: every candidate is
//! read back as the person before it becomes a hit (`backend/src/api/search.rs`),
//! and the etcd scan builds its hits with the same [`hit`].

use etcdeck_shared::search::{MatchIn, SNIPPET_CONTEXT, SearchIn, SearchMode};
use regex::bytes::{Regex, RegexBuilder};

use super::Store;
use crate::tree::prefix_end;

/// The most memory a compiled pattern may take (the regex crate's own
/// limit is 10 MiB; a search box needs far less).
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The most memory the lazy DFA of one pattern may use.
const REGEX_DFA_LIMIT: usize = 4 << 20;
/// The longest pattern nesting accepted.
const REGEX_NEST_LIMIT: u32 = 64;

/// Why a query cannot be searched for; the sentence is shown as is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadQuery {
    #[error("the search text is empty")]
    Empty,
    #[error("a regular expression must be text (UTF-8)")]
    NotText,
    #[error("the regular expression is not valid: {0}")]
    Regex(String),
    #[error("the regular expression is too large to search with")]
    TooLarge,
}

/// A compiled query.
#[derive(Clone, Debug)]
pub struct Matcher {
    regex: Regex,
    within: SearchIn,
}

impl Matcher {
    /// Compiles `query`. A substring is matched byte for byte (non-UTF-8
    /// bytes included) and, unless `case_sensitive`, with letters folded.
    pub fn new(
        query: &[u8],
        mode: SearchMode,
        case_sensitive: bool,
        within: SearchIn,
    ) -> Result<Matcher, BadQuery> {
        if query.is_empty() {
            return Err(BadQuery::Empty);
        }
        let pattern = match mode {
            SearchMode::Substring => escape_bytes(query),
            SearchMode::Regex => std::str::from_utf8(query)
                .map_err(|_| BadQuery::NotText)?
                .to_owned(),
        };
        let regex = RegexBuilder::new(&pattern)
            .case_insensitive(!case_sensitive)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_LIMIT)
            .nest_limit(REGEX_NEST_LIMIT)
            .build()
            .map_err(|err| match err {
                regex::Error::CompiledTooBig(_) => BadQuery::TooLarge,
                other => BadQuery::Regex(first_line(&other.to_string())),
            })?;
        Ok(Matcher { regex, within })
    }

    pub fn within(&self) -> SearchIn {
        self.within
    }

    /// The first match in `haystack`, as `[start, end)`.
    pub fn find(&self, haystack: &[u8]) -> Option<(usize, usize)> {
        self.regex.find(haystack).map(|m| (m.start(), m.end()))
    }

    /// Whether `key` matches (when keys are searched).
    pub fn key_matches(&self, key: &[u8]) -> bool {
        self.within.keys() && self.regex.is_match(key)
    }

    /// Whether `value` matches (when values are searched).
    pub fn value_matches(&self, value: &[u8]) -> bool {
        self.within.values() && self.regex.is_match(value)
    }
}

/// The regex crate's error without its caret diagram: the last line says
/// what is wrong.
fn first_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .rfind(|line| line.starts_with("error:"))
        .map(|line| line.trim_start_matches("error:").trim().to_owned())
        .unwrap_or_else(|| message.trim().to_owned())
}

/// A pattern that matches exactly `bytes`: UTF-8 runs escaped as text (so
/// case folding applies to them), every other byte as `(?-u:\xNN)`.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut pattern = String::new();
    for chunk in bytes.utf8_chunks() {
        pattern.push_str(&regex::escape(chunk.valid()));
        for b in chunk.invalid() {
            pattern.push_str(&format!("(?-u:\\x{b:02x})"));
        }
    }
    pattern
}

/// A hit as pure data: where the match is and the bytes around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub matched_in: MatchIn,
    pub snippet: Vec<u8>,
    pub snippet_offset: usize,
    pub match_start: usize,
    pub match_end: usize,
}

/// Whether a key read as `key` with `value` matches, and how: the key
/// first (the whole key is the snippet), else the value (the match with
/// [`SNIPPET_CONTEXT`] bytes on each side). `value` is `None` when it was
/// not read (keys-only), which cannot match.
pub fn hit(matcher: &Matcher, key: &[u8], value: Option<&[u8]>) -> Option<Found> {
    if matcher.within.keys()
        && let Some((start, end)) = matcher.find(key)
    {
        return Some(Found {
            matched_in: MatchIn::Key,
            snippet: key.to_vec(),
            snippet_offset: 0,
            match_start: start,
            match_end: end,
        });
    }
    if matcher.within.values()
        && let Some(value) = value
        && let Some((start, end)) = matcher.find(value)
    {
        let from = start.saturating_sub(SNIPPET_CONTEXT);
        let to = (end + SNIPPET_CONTEXT).min(value.len());
        return Some(Found {
            matched_in: MatchIn::Value,
            snippet: value[from..to].to_vec(),
            snippet_offset: from,
            match_start: start - from,
            match_end: end - from,
        });
    }
    None
}

/// Where a walk over the store (or a range read) starts: the prefix, or
/// just after the cursor when that lies under it; `\0` for the whole
/// keyspace, since etcd takes no empty key (and holds none).
pub fn start_key(prefix: &[u8], after: Option<&[u8]>) -> Vec<u8> {
    match after {
        Some(after) if after >= prefix => {
            let mut start = after.to_vec();
            start.push(0);
            start
        }
        _ if prefix.is_empty() => vec![0],
        _ => prefix.to_vec(),
    }
}

/// A key that may match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub key: Vec<u8>,
    /// Its value's size as the model knows it.
    pub value_size: u64,
}

/// One walk's findings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Candidates {
    /// Keys that may match, in key order: their key or held value matches,
    /// or (when values are searched) the model does not hold their value.
    /// Each is read back as the person before it is shown.
    pub keys: Vec<Candidate>,
    /// How many of `keys` need their value read to know (not held).
    pub unheld: usize,
    /// Keys walked.
    pub scanned: u64,
    /// Where the next walk continues (`after`); `None` when the prefix is done.
    pub next: Option<Vec<u8>>,
    /// The store's revision.
    pub revision: i64,
}

/// Walks the keys under `prefix` after `after`, in key order, until
/// `limit` candidates are found or `max_scan` keys are walked (so the read
/// lock is held briefly), whichever comes first.
pub fn candidates(
    store: &Store,
    matcher: &Matcher,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
    max_scan: u64,
) -> Candidates {
    let start = start_key(prefix, after);
    let end = prefix_end(prefix);
    let mut found = Candidates {
        revision: store.revision(),
        ..Candidates::default()
    };
    let mut last: Option<&[u8]> = None;
    for (key, entry) in store.range(&start, end.as_deref()) {
        if found.keys.len() >= limit || found.scanned >= max_scan {
            found.next = last.map(<[u8]>::to_vec);
            return found;
        }
        found.scanned += 1;
        last = Some(key);
        let candidate = if matcher.key_matches(key) {
            true
        } else if matcher.within.values() {
            match &entry.value {
                Some(value) => matcher.value_matches(value),
                None if entry.value_size == 0 => false,
                None => {
                    found.unheld += 1;
                    true
                }
            }
        } else {
            false
        };
        if candidate {
            found.keys.push(Candidate {
                key: key.to_vec(),
                value_size: u64::from(entry.value_size),
            });
        }
    }
    found
}

/// How many keys lie under `prefix` in the store.
pub fn count_under(store: &Store, prefix: &[u8]) -> u64 {
    if prefix.is_empty() {
        return store.len() as u64;
    }
    store.prefix(prefix).count() as u64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{Entry, Model};

    fn entry(rev: i64, value: Option<&[u8]>, size: u32) -> Entry {
        Entry {
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            lease: 0,
            value_size: size,
            value: value.map(Into::into),
        }
    }

    fn store() -> Store {
        let mut store = Store::new();
        store.put(b"/app/a", entry(2, Some(b"hello world"), 11));
        store.put(b"/app/needle", entry(3, Some(b"x"), 1));
        store.put(b"/app/b", entry(4, Some(b"a NeEdLe inside"), 15));
        store.put(b"/app/bin", entry(5, Some(b"\x00\xff\xfe\x01"), 4));
        store.put(b"/app/big", entry(6, None, 2_000_000));
        store.put(b"/other/needle", entry(7, Some(b""), 0));
        store.set_revision(7);
        store
    }

    fn keys_of(found: &Candidates) -> Vec<Vec<u8>> {
        found.keys.iter().map(|c| c.key.clone()).collect()
    }

    fn matcher(q: &[u8], mode: SearchMode, case: bool, within: SearchIn) -> Matcher {
        Matcher::new(q, mode, case, within).unwrap()
    }

    #[test]
    fn a_substring_is_case_insensitive_unless_asked_and_walks_in_key_order() {
        let model = Model::ready_with(store());
        let m = matcher(b"needle", SearchMode::Substring, false, SearchIn::Both);
        let found = model
            .read(|s| candidates(s, &m, b"/app/", None, 10, 1000))
            .unwrap();
        // The big value is not held, so it is a candidate to read from etcd.
        let keys: Vec<&[u8]> = found.keys.iter().map(|c| c.key.as_slice()).collect();
        assert_eq!(keys, vec![&b"/app/b"[..], b"/app/big", b"/app/needle"]);
        assert_eq!(found.unheld, 1);
        assert_eq!(found.scanned, 5);
        assert_eq!(found.next, None);
        assert_eq!(found.revision, 7);

        let m = matcher(b"needle", SearchMode::Substring, true, SearchIn::Values);
        let found = model
            .read(|s| candidates(s, &m, b"", None, 10, 1000))
            .unwrap();
        assert_eq!(keys_of(&found), vec![b"/app/big".to_vec()]);
        assert_eq!(found.keys[0].value_size, 2_000_000);
    }

    #[test]
    fn pages_continue_after_the_cursor_and_a_walk_stops_at_its_bound() {
        let model = Model::ready_with(store());
        let m = matcher(b"/", SearchMode::Substring, false, SearchIn::Keys);
        let first = model
            .read(|s| candidates(s, &m, b"", None, 2, 1000))
            .unwrap();
        assert_eq!(
            keys_of(&first),
            vec![b"/app/a".to_vec(), b"/app/b".to_vec()]
        );
        assert_eq!(first.next, Some(b"/app/b".to_vec()));
        let second = model
            .read(|s| candidates(s, &m, b"", first.next.as_deref(), 2, 1000))
            .unwrap();
        assert_eq!(
            keys_of(&second),
            vec![b"/app/big".to_vec(), b"/app/bin".to_vec()]
        );
        let bounded = model
            .read(|s| candidates(s, &m, b"", None, 100, 3))
            .unwrap();
        assert_eq!(bounded.scanned, 3);
        assert_eq!(bounded.next, Some(b"/app/big".to_vec()));
        assert_eq!(model.read(|s| count_under(s, b"/app/")).unwrap(), 5);
    }

    #[test]
    fn a_binary_needle_and_a_regex_match_bytes() {
        let m = matcher(b"\xff\xfe", SearchMode::Substring, false, SearchIn::Values);
        let found = hit(&m, b"/app/bin", Some(b"\x00\xff\xfe\x01")).unwrap();
        assert_eq!(found.matched_in, MatchIn::Value);
        assert_eq!((found.match_start, found.match_end), (1, 3));
        let m = matcher(
            br"(?-u:\xff[\x00-\xff])",
            SearchMode::Regex,
            true,
            SearchIn::Values,
        );
        assert!(hit(&m, b"k", Some(b"\x00\xff\xfe")).is_some());
        let m = matcher(b"^/app/b.n$", SearchMode::Regex, true, SearchIn::Keys);
        assert!(hit(&m, b"/app/bin", None).is_some());
        assert!(hit(&m, b"/app/bins", None).is_none());
    }

    #[test]
    fn a_snippet_keeps_context_around_the_match_with_its_offsets() {
        let value: Vec<u8> = [vec![b'a'; 100], b"NEEDLE".to_vec(), vec![b'b'; 100]].concat();
        let m = matcher(b"needle", SearchMode::Substring, false, SearchIn::Both);
        let found = hit(&m, b"/k", Some(&value)).unwrap();
        assert_eq!(found.snippet_offset, 100 - SNIPPET_CONTEXT);
        assert_eq!(found.snippet.len(), 2 * SNIPPET_CONTEXT + 6);
        assert_eq!(
            &found.snippet[found.match_start..found.match_end],
            b"NEEDLE"
        );
        let found = hit(&m, b"/needle/k", Some(b"needle")).unwrap();
        assert_eq!(found.matched_in, MatchIn::Key);
        assert_eq!((found.match_start, found.match_end), (1, 7));
    }

    #[test]
    fn a_bad_regex_is_a_sentence() {
        let err = Matcher::new(b"(unclosed", SearchMode::Regex, false, SearchIn::Both).unwrap_err();
        assert!(
            matches!(&err, BadQuery::Regex(text) if text.contains("unclosed")),
            "{err}"
        );
        let err =
            Matcher::new(b"a{1000}{1000}", SearchMode::Regex, false, SearchIn::Both).unwrap_err();
        assert_eq!(err, BadQuery::TooLarge);
        assert_eq!(
            Matcher::new(b"", SearchMode::Substring, false, SearchIn::Both).unwrap_err(),
            BadQuery::Empty
        );
        assert_eq!(
            Matcher::new(b"\xff", SearchMode::Regex, false, SearchIn::Both).unwrap_err(),
            BadQuery::NotText
        );
    }
}
