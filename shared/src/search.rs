//! Search over keys and values (`GET /api/v1/search`): the request's
//! parameters, one hit with its snippet and the match's offsets, and the
//! answer with the revision searched, where it came from and the cursor to
//! continue.

use serde::{Deserialize, Serialize};

use crate::Bytes;
use crate::api::LeaseId;

/// `GET /api/v1/search?q=&prefix=&in=&mode=&case=&after=&revision=&limit=`.
pub const SEARCH_PATH: &str = "/api/v1/search";

/// Hits in one answer unless `limit` says otherwise.
pub const DEFAULT_SEARCH_PAGE: usize = 50;
/// The most hits one answer carries.
pub const MAX_SEARCH_PAGE: usize = 500;
/// The longest needle or pattern accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Bytes of context kept on each side of a match in a snippet.
pub const SNIPPET_CONTEXT: usize = 40;

/// Where to look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchIn {
    Keys,
    Values,
    #[default]
    Both,
}

impl SearchIn {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchIn::Keys => "keys",
            SearchIn::Values => "values",
            SearchIn::Both => "both",
        }
    }

    pub fn parse(text: &str) -> Option<SearchIn> {
        match text {
            "keys" => Some(SearchIn::Keys),
            "values" => Some(SearchIn::Values),
            "both" => Some(SearchIn::Both),
            _ => None,
        }
    }

    pub fn keys(self) -> bool {
        matches!(self, SearchIn::Keys | SearchIn::Both)
    }

    pub fn values(self) -> bool {
        matches!(self, SearchIn::Values | SearchIn::Both)
    }
}

/// How the query is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// The query's bytes as they are.
    #[default]
    Substring,
    /// A regular expression over bytes (Rust `regex` syntax).
    Regex,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Substring => "substring",
            SearchMode::Regex => "regex",
        }
    }

    pub fn parse(text: &str) -> Option<SearchMode> {
        match text {
            "substring" => Some(SearchMode::Substring),
            "regex" => Some(SearchMode::Regex),
            _ => None,
        }
    }
}

/// One search as the browser asks for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// The needle (substring) or pattern (regex), as bytes.
    pub q: Bytes,
    pub prefix: Bytes,
    pub within: SearchIn,
    pub mode: SearchMode,
    /// Case-sensitive; off by default (ASCII and Unicode letters fold).
    pub case_sensitive: bool,
    /// Continue after this key (the previous answer's `next`).
    pub after: Option<Bytes>,
    /// The revision an etcd scan is pinned to (the previous answer's).
    pub revision: Option<i64>,
    pub limit: Option<usize>,
}

impl SearchRequest {
    /// The query string of `GET /api/v1/search` (without `?`).
    pub fn to_query(&self) -> String {
        let mut query = format!(
            "q={}&prefix={}&in={}&mode={}",
            self.q.to_url(),
            self.prefix.to_url(),
            self.within.as_str(),
            self.mode.as_str()
        );
        if self.case_sensitive {
            query.push_str("&case=sensitive");
        }
        if let Some(after) = &self.after {
            query.push_str(&format!("&after={}", after.to_url()));
        }
        if let Some(revision) = self.revision {
            query.push_str(&format!("&revision={revision}"));
        }
        if let Some(limit) = self.limit {
            query.push_str(&format!("&limit={limit}"));
        }
        query
    }
}

/// Where a match was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchIn {
    Key,
    Value,
}

/// One key that matched, as the person may read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub key: Bytes,
    /// Where the first match is: in the key or in the value.
    pub matched_in: MatchIn,
    /// The bytes around the first match (the whole key for a key match).
    pub snippet: Bytes,
    /// The match within `snippet`: bytes `[start, end)`.
    pub match_start: u32,
    pub match_end: u32,
    /// Where `snippet` begins within the key or value, so the value view can
    /// highlight the same bytes.
    pub snippet_offset: u32,
    pub value_size: u64,
    pub mod_revision: i64,
    pub lease: Option<LeaseId>,
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchSource {
    /// The keyspace model, every hit read back as the person.
    Model,
    /// A scan of etcd as the person, page by page.
    Etcd,
}

/// One page of a search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchAnswer {
    /// Hits in key order.
    pub hits: Vec<SearchHit>,
    /// The revision searched.
    pub revision: i64,
    pub source: SearchSource,
    /// Keys looked at by this answer.
    pub scanned: u64,
    /// Keys under the prefix in all (exact from the model; etcd's count on
    /// an etcd scan's first page, `None` on later pages).
    pub total: Option<u64>,
    /// Continue with `after=next` (and `revision`); `None` when done.
    pub next: Option<Bytes>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use expect_test::expect;

    #[test]
    fn an_answer_on_the_wire() {
        let answer = SearchAnswer {
            hits: vec![SearchHit {
                key: Bytes::new(b"/app/a".to_vec()),
                matched_in: MatchIn::Value,
                snippet: Bytes::new(b"x needle y".to_vec()),
                match_start: 2,
                match_end: 8,
                snippet_offset: 10,
                value_size: 30,
                mod_revision: 7,
                lease: None,
            }],
            revision: 9,
            source: SearchSource::Model,
            scanned: 100,
            total: Some(100),
            next: Some(Bytes::new(b"/app/a".to_vec())),
        };
        let json = serde_json::to_string(&answer).unwrap();
        expect![[r#"{"hits":[{"key":"L2FwcC9h","matched_in":"value","snippet":"eCBuZWVkbGUgeQ==","match_start":2,"match_end":8,"snippet_offset":10,"value_size":30,"mod_revision":7,"lease":null}],"revision":9,"source":"model","scanned":100,"total":100,"next":"L2FwcC9h"}"#]].assert_eq(&json);
        assert_eq!(serde_json::from_str::<SearchAnswer>(&json).unwrap(), answer);
    }

    #[test]
    fn a_request_as_a_query_string() {
        let request = SearchRequest {
            q: Bytes::new(b"a b\xff".to_vec()),
            prefix: Bytes::new(b"/app/".to_vec()),
            within: SearchIn::Values,
            mode: SearchMode::Regex,
            case_sensitive: true,
            after: Some(Bytes::new(b"/app/k".to_vec())),
            revision: Some(5),
            limit: Some(10),
        };
        assert_eq!(
            request.to_query(),
            "q=a%20b%FF&prefix=/app/&in=values&mode=regex&case=sensitive&after=/app/k&revision=5&limit=10"
        );
    }
}
