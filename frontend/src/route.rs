//! The pages' state as it lives in the URL: `/?prefix=P&key=K` for
//! browsing (`&rev=R` to browse as of an earlier revision, read-only) and
//! `/events?prefix=P` for the events page.
//!
//! The router's own query map decodes values with `URLSearchParams`, which
//! turns bytes that are not UTF-8 into U+FFFD and `+` into a space. Keys are
//! bytes, so this module reads the raw query string itself and decodes it with
//! [`Bytes::from_url`], which keeps every byte. It is the only place that
//! spells the query parameter names.

use etcdeck_shared::search::{MatchIn, SearchHit, SearchIn, SearchMode, SearchRequest};
use etcdeck_shared::{Bytes, Revision};

/// Where the browse page is: the tree level shown and the key selected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrowseLocation {
    /// The level whose children are listed (`""` is the root).
    pub prefix: Bytes,
    /// The key shown in the key view, if any.
    pub key: Option<Bytes>,
}

impl BrowseLocation {
    /// Reads a raw query string, with or without its leading `?`.
    /// Unknown parameters are ignored; the first occurrence of a name wins.
    pub fn from_query(search: &str) -> Self {
        let search = search.strip_prefix('?').unwrap_or(search);
        let mut location = BrowseLocation::default();
        let (mut seen_prefix, mut seen_key) = (false, false);
        for pair in search.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "prefix" if !seen_prefix => {
                    seen_prefix = true;
                    location.prefix = Bytes::from_url(value);
                }
                "key" if !seen_key => {
                    seen_key = true;
                    location.key = Some(Bytes::from_url(value));
                }
                _ => {}
            }
        }
        location
    }

    /// The in-app URL of this location. The root with nothing selected is
    /// plain `/`, so the start page has a clean address.
    pub fn href(&self) -> String {
        let mut params = Vec::new();
        if !self.prefix.is_empty() {
            params.push(format!("prefix={}", self.prefix.to_url()));
        }
        if let Some(key) = &self.key {
            params.push(format!("key={}", key.to_url()));
        }
        if params.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", params.join("&"))
        }
    }

    /// The same level with `key` selected.
    pub fn with_key(&self, key: Bytes) -> Self {
        BrowseLocation {
            prefix: self.prefix.clone(),
            key: Some(key),
        }
    }

    /// Another level; the selection is kept so the key view does not jump
    /// while the user walks the tree.
    pub fn with_prefix(&self, prefix: Bytes) -> Self {
        BrowseLocation {
            prefix,
            key: self.key.clone(),
        }
    }
}

/// The `rev=R` parameter of the browse page: `Ok(None)` browses live,
/// `Ok(Some(R))` as of revision `R`; a value that is not a revision is an
/// error sentence for the page.
pub fn revision_param(search: &str) -> Result<Option<Revision>, String> {
    let search = search.strip_prefix('?').unwrap_or(search);
    let Some(value) = search.split('&').find_map(|pair| pair.strip_prefix("rev=")) else {
        return Ok(None);
    };
    match value.parse::<i64>() {
        Ok(rev) if rev > 0 => Ok(Some(Revision(rev))),
        _ => Err(format!(
            "\"{value}\" is not a revision: rev= takes a positive whole number"
        )),
    }
}

/// `href` (from [`BrowseLocation::href`]) as of revision `rev`, or live.
pub fn href_at(href: String, rev: Option<Revision>) -> String {
    match rev {
        None => href,
        Some(rev) if href.contains('?') => format!("{href}&rev={rev}"),
        Some(rev) => format!("{href}?rev={rev}"),
    }
}

/// The events page's path.
pub const EVENTS_PATH: &str = "/events";
/// The login page's path.
pub const LOGIN_PATH: &str = "/login";
/// The audit page's path.
pub const AUDIT_PATH: &str = "/audit";
/// The cluster page's path.
pub const CLUSTER_PATH: &str = "/cluster";
/// The sessions page's path.
pub const SESSIONS_PATH: &str = "/sessions";
/// The users and roles page's path.
pub const USERS_PATH: &str = "/users";
/// The wall screen's path (where a wall token lands).
pub const WALL_PATH: &str = "/wall";

/// Where the events page is: the prefix whose changes are shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventsLocation {
    pub prefix: Bytes,
}

impl EventsLocation {
    /// Reads a raw query string the same way as [`BrowseLocation`].
    pub fn from_query(search: &str) -> Self {
        EventsLocation {
            prefix: BrowseLocation::from_query(search).prefix,
        }
    }

    /// `/events?prefix=P` (`/events` for every key).
    pub fn href(&self) -> String {
        if self.prefix.is_empty() {
            EVENTS_PATH.to_owned()
        } else {
            format!("{EVENTS_PATH}?prefix={}", self.prefix.to_url())
        }
    }
}

/// The search results page's path.
pub const SEARCH_PATH: &str = "/search";

/// Where the search page is: `/search?q=..&prefix=..&in=..&mode=..&case=..`,
/// the search as the backend takes it (without its cursor).
pub fn search_request(search: &str) -> SearchRequest {
    let search = search.strip_prefix('?').unwrap_or(search);
    let mut request = SearchRequest::default();
    let mut seen = Vec::new();
    for pair in search.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        match name {
            "q" => request.q = Bytes::from_url(value),
            "prefix" => request.prefix = Bytes::from_url(value),
            "in" => request.within = SearchIn::parse(value).unwrap_or_default(),
            "mode" => request.mode = SearchMode::parse(value).unwrap_or_default(),
            "case" => request.case_sensitive = value == "sensitive",
            _ => {}
        }
    }
    request
}

/// The search page's URL for `request` (its cursor and limit left out).
pub fn search_href(request: &SearchRequest) -> String {
    let request = SearchRequest {
        after: None,
        revision: None,
        limit: None,
        ..request.clone()
    };
    format!("{SEARCH_PATH}?{}", request.to_query())
}

/// The browse page's URL of a hit's key, with `hl=S-E` (bytes of the value)
/// when the match is in the value, so the value view highlights it.
pub fn hit_href(hit: &SearchHit) -> String {
    let parent = parent_prefix(&hit.key);
    let href = BrowseLocation {
        prefix: parent,
        key: Some(hit.key.clone()),
    }
    .href();
    if hit.matched_in == MatchIn::Value {
        let start = hit.snippet_offset + hit.match_start;
        let end = hit.snippet_offset + hit.match_end;
        format!("{href}&hl={start}-{end}")
    } else {
        href
    }
}

/// The level a key is listed in: everything up to and including its last
/// `/` before the end (the root when there is none).
fn parent_prefix(key: &Bytes) -> Bytes {
    let bytes = key.as_slice();
    let body = bytes.strip_suffix(b"/").unwrap_or(bytes);
    match body.iter().rposition(|b| *b == b'/') {
        Some(at) => Bytes::new(bytes[..=at].to_vec()),
        None => Bytes::default(),
    }
}

/// The `hl=S-E` parameter of the browse page: bytes `[S, E)` of the value
/// to highlight, as a search hit found them.
pub fn highlight_param(search: &str) -> Option<(usize, usize)> {
    let search = search.strip_prefix('?').unwrap_or(search);
    let value = search
        .split('&')
        .find_map(|pair| pair.strip_prefix("hl="))?;
    let (start, end) = value.split_once('-')?;
    let (start, end) = (start.parse::<usize>().ok()?, end.parse::<usize>().ok()?);
    (start < end).then_some((start, end))
}

/// The coordination pages, one route each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordKind {
    Leases,
    Locks,
    Elections,
    Queues,
    Services,
}

impl CoordKind {
    pub const ALL: [CoordKind; 5] = [
        CoordKind::Leases,
        CoordKind::Locks,
        CoordKind::Elections,
        CoordKind::Queues,
        CoordKind::Services,
    ];

    /// The page's path: `/leases`, `/locks`, ...
    pub fn path(self) -> &'static str {
        match self {
            CoordKind::Leases => "/leases",
            CoordKind::Locks => "/locks",
            CoordKind::Elections => "/elections",
            CoordKind::Queues => "/queues",
            CoordKind::Services => "/services",
        }
    }

    /// The page's name in the header and its title.
    pub fn label(self) -> &'static str {
        match self {
            CoordKind::Leases => "Leases",
            CoordKind::Locks => "Locks",
            CoordKind::Elections => "Elections",
            CoordKind::Queues => "Queues",
            CoordKind::Services => "Services",
        }
    }

    /// The kind whose page is at `path`, if any.
    pub fn at(path: &str) -> Option<CoordKind> {
        let path = path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path);
        CoordKind::ALL.into_iter().find(|k| k.path() == path)
    }
}

/// Reads text a person typed as bytes: the inverse of [`Bytes::display`]
/// (`\xNN` is that byte, `\\` a backslash), so a prefix shown in an input
/// and sent back unchanged keeps every byte. Any other text is its UTF-8.
pub fn bytes_from_display(text: &str) -> Bytes {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'x')
                && let Some(hex) = text.get(i + 2..i + 4)
                && let Ok(b) = u8::from_str_radix(hex, 16)
            {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Bytes::new(out)
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    #[unit_test]
    fn root_is_plain_slash() {
        assert_eq!(BrowseLocation::default().href(), "/");
        assert_eq!(BrowseLocation::from_query(""), BrowseLocation::default());
        assert_eq!(BrowseLocation::from_query("?"), BrowseLocation::default());
    }

    #[unit_test]
    fn binary_and_plus_survive_a_round_trip() {
        let location = BrowseLocation {
            prefix: Bytes::new(vec![b'/', 0xff, b'+', b' ', b'&', b'=']),
            key: Some(Bytes::new(vec![0x00, b'k', 0xc3])),
        };
        let href = location.href();
        let query = href.strip_prefix('/').unwrap_or_default();
        assert_eq!(BrowseLocation::from_query(query), location);
    }

    #[unit_test]
    fn empty_key_is_a_selection() {
        // The empty key is a legal etcd key, distinct from "nothing selected".
        let location = BrowseLocation::from_query("?key=");
        assert_eq!(location.key, Some(Bytes::new(Vec::new())));
        assert_eq!(location.href(), "/?key=");
    }

    #[unit_test]
    fn readable_keys_stay_readable() {
        let location = BrowseLocation::from_query("prefix=/app/&key=/app/x&other=1");
        assert_eq!(location.prefix, Bytes::from("/app/"));
        assert_eq!(location.key, Some(Bytes::from("/app/x")));
        assert_eq!(location.href(), "/?prefix=/app/&key=/app/x");
    }

    #[unit_test]
    fn a_revision_deep_link_round_trips() {
        let here = BrowseLocation::from_query("prefix=/a/&rev=42&key=/a/b");
        assert_eq!(here.key, Some(Bytes::from("/a/b")));
        let href = href_at(here.href(), Some(Revision(42)));
        assert_eq!(href, "/?prefix=/a/&key=/a/b&rev=42");
        assert_eq!(
            revision_param(href.trim_start_matches('/')),
            Ok(Some(Revision(42)))
        );
        assert_eq!(href_at("/".to_owned(), Some(Revision(7))), "/?rev=7");
        assert_eq!(revision_param("?prefix=/a/"), Ok(None));
        assert!(revision_param("?rev=abc").is_err());
        assert!(revision_param("?rev=0").is_err());
        assert_eq!(href_at("/?prefix=/a/".to_owned(), None), "/?prefix=/a/");
    }

    #[unit_test]
    fn events_location_round_trips() {
        let here = EventsLocation {
            prefix: Bytes::new(vec![b'/', b'e', 0xff, b'+', b'/']),
        };
        assert_eq!(here.href(), "/events?prefix=/e%FF%2B/");
        let query = here.href();
        let query = query.split_once('?').map(|(_, q)| q).unwrap_or_default();
        assert_eq!(EventsLocation::from_query(query), here);
        assert_eq!(EventsLocation::default().href(), "/events");
    }

    #[unit_test]
    fn coordination_pages_have_their_own_paths() {
        for kind in CoordKind::ALL {
            assert_eq!(CoordKind::at(kind.path()), Some(kind));
        }
        assert_eq!(CoordKind::at("/locks/"), Some(CoordKind::Locks));
        assert_eq!(CoordKind::at("/"), None);
        assert_eq!(CoordKind::at(EVENTS_PATH), None);
    }

    #[unit_test]
    fn display_text_reads_back_as_the_same_bytes() {
        for bytes in [
            Bytes::from("/app/é/"),
            Bytes::new(vec![0x00, b'\\', b'x', 0xff, b'\n']),
            Bytes::from("\\x41"),
        ] {
            assert_eq!(bytes_from_display(&bytes.display()), bytes);
        }
        // A lone backslash or a bad escape is taken literally.
        assert_eq!(bytes_from_display("a\\q\\xZ"), Bytes::from("a\\q\\xZ"));
    }

    #[unit_test]
    fn a_search_deep_link_round_trips() {
        let request = SearchRequest {
            q: Bytes::new(vec![b'a', b' ', 0xff]),
            prefix: Bytes::from("/app/"),
            within: SearchIn::Values,
            mode: SearchMode::Regex,
            case_sensitive: true,
            ..SearchRequest::default()
        };
        let href = search_href(&request);
        let query = href.split_once('?').map(|(_, q)| q).unwrap_or_default();
        assert_eq!(search_request(query), request);
        assert_eq!(search_request(""), SearchRequest::default());
    }

    #[unit_test]
    fn a_hit_links_to_its_key_with_the_match() {
        let hit = SearchHit {
            key: Bytes::from("/app/a/b"),
            matched_in: MatchIn::Value,
            snippet: Bytes::from("x needle y"),
            match_start: 2,
            match_end: 8,
            snippet_offset: 10,
            value_size: 30,
            mod_revision: 7,
            lease: None,
        };
        let href = hit_href(&hit);
        assert_eq!(href, "/?prefix=/app/a/&key=/app/a/b&hl=12-18");
        assert_eq!(
            highlight_param(href.trim_start_matches('/')),
            Some((12, 18))
        );
        let key_hit = SearchHit {
            key: Bytes::from("top"),
            matched_in: MatchIn::Key,
            ..hit
        };
        assert_eq!(hit_href(&key_hit), "/?key=top");
        assert_eq!(highlight_param("?hl=5-5"), None);
    }
}
