//! The mask patterns (`--mask`): which keys look secret, so that etcdeck
//! leaves their values out of what it sends to browsers. Pure matching;
//! `crate::api` applies it to every answer.
//!
//! A pattern is a glob over the whole key, read as UTF-8 text (bytes that
//! are not UTF-8 become U+FFFD, so a binary key still matches on its text
//! parts), case-insensitive, with `*` crossing `/`: `*password*` matches
//! `/app/db/Password` and `*.key` matches `/tls/server.key` but not
//! `/a/keyring`.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// What is masked when no `--mask` is given.
pub const DEFAULT_MASKS: &[&str] = &[
    "*password*",
    "*passwd*",
    "*secret*",
    "*token*",
    "*credential*",
    "*.key",
    "*private*key*",
];

/// A mask pattern that is not a glob.
#[derive(Debug, thiserror::Error)]
#[error("--mask '{pattern}' is not a glob pattern: {reason}")]
pub struct BadMask {
    pub pattern: String,
    pub reason: String,
}

/// The compiled mask patterns. Cheap to match against; empty when masking
/// is off.
#[derive(Clone)]
pub struct Masks {
    patterns: Vec<String>,
    set: GlobSet,
}

impl std::fmt::Debug for Masks {
    /// Counts the patterns rather than printing them: the configuration's
    /// `Debug` output goes to logs, and is checked to name no password, which
    /// a pattern such as `*secret*` would look like.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masks({} patterns)", self.patterns.len())
    }
}

impl Default for Masks {
    /// The default patterns ([`DEFAULT_MASKS`]), as the flags give them.
    fn default() -> Self {
        // The default patterns are fixed globs that compile.
        Masks::new(DEFAULT_MASKS.iter().map(|p| (*p).to_owned()).collect())
            .unwrap_or_else(|_| Masks::off())
    }
}

impl Masks {
    /// Compiles `patterns`; the first one that is not a glob is the error.
    pub fn new(patterns: Vec<String>) -> Result<Self, BadMask> {
        let mut builder = GlobSetBuilder::new();
        for pattern in &patterns {
            let glob = GlobBuilder::new(pattern)
                .case_insensitive(true)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|err| BadMask {
                    pattern: pattern.clone(),
                    reason: err.kind().to_string(),
                })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|err| BadMask {
            pattern: patterns.join(","),
            reason: err.to_string(),
        })?;
        Ok(Masks { patterns, set })
    }

    /// No masking (`--no-mask`).
    pub fn off() -> Self {
        Masks {
            patterns: Vec::new(),
            set: GlobSet::empty(),
        }
    }

    /// The patterns, in the order given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The first pattern (in the order given) that `key` matches, if any.
    pub fn matching(&self, key: &[u8]) -> Option<&str> {
        if self.patterns.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(key);
        self.set
            .matches(text.as_ref())
            .into_iter()
            .min()
            .and_then(|i| self.patterns.get(i))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn compiled(patterns: &[&str]) -> Masks {
        Masks::new(patterns.iter().map(|p| (*p).to_owned()).collect()).unwrap()
    }

    #[test]
    fn the_defaults_match_keys_that_look_secret() {
        let masks = Masks::default();
        for (key, pattern) in [
            ("/app/db/password", "*password*"),
            ("/app/db/PASSWORD", "*password*"),
            ("/etc/passwd", "*passwd*"),
            ("/k8s/secrets/x", "*secret*"),
            ("/ci/GitHub_Token", "*token*"),
            ("/aws/credentials", "*credential*"),
            ("/tls/server.key", "*.key"),
            ("/tls/Server.KEY", "*.key"),
            ("/ssh/private_key", "*private*key*"),
            ("/ssh/private/host-key.pem", "*private*key*"),
        ] {
            assert_eq!(masks.matching(key.as_bytes()), Some(pattern), "{key}");
        }
        for key in [
            "/app/db/host",
            "/a/keyring",
            "/a/key",
            "/keys/public",
            "/app/passw",
            "",
        ] {
            assert_eq!(masks.matching(key.as_bytes()), None, "{key}");
        }
    }

    #[test]
    fn star_crosses_slashes_and_the_first_pattern_is_named() {
        let masks = compiled(&["/app/*", "*password*"]);
        assert_eq!(masks.matching(b"/app/db/password"), Some("/app/*"));
        assert_eq!(masks.matching(b"/other/password"), Some("*password*"));
        assert_eq!(masks.matching(b"/other/x"), None);
        let masks = compiled(&["/app/?b"]);
        assert_eq!(masks.matching(b"/app/db"), Some("/app/?b"));
        assert_eq!(masks.matching(b"/app/d/b"), None);
    }

    #[test]
    fn binary_keys_match_on_their_text() {
        let masks = Masks::default();
        assert_eq!(
            masks.matching(b"/bin/\xff\x00password\xfe"),
            Some("*password*")
        );
        assert_eq!(masks.matching(b"\xff\xfe\x00\x01"), None);
        assert_eq!(masks.matching(b"/x/\xc3\x28.key"), Some("*.key"));
    }

    #[test]
    fn off_matches_nothing_and_bad_globs_are_refused() {
        assert_eq!(Masks::off().matching(b"/app/db/password"), None);
        assert!(Masks::off().patterns().is_empty());
        let err = Masks::new(vec!["*password*".into(), "[oops".into()]).unwrap_err();
        assert_eq!(err.pattern, "[oops");
        assert!(err.to_string().contains("--mask '[oops'"), "{err}");
    }
}
