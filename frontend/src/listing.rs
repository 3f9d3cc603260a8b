//! The state of the tree level being listed: the children loaded so far,
//! the cursor for the next page, and whether a request is in flight or
//! failed. Transitions are pure so paging and stale answers are tested
//! without a browser; the browse page drives the requests.

use etcdeck_shared::{Bytes, Child, Level};

use crate::api::ApiFailure;

/// Children fetched per request: the backend's default page, small enough
/// to arrive quickly and big enough that scrolling rarely waits.
pub const PAGE_SIZE: usize = etcdeck_shared::DEFAULT_LEVEL_PAGE;

/// One tree level as loaded so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Bumped whenever the listing starts over, so answers to requests for
    /// an earlier level (or an earlier visit of this one) are recognised and
    /// dropped instead of being mixed in.
    pub generation: u64,
    pub prefix: Bytes,
    pub children: Vec<Child>,
    /// Cursor for the next page; `None` once the last page arrived.
    pub next: Option<Bytes>,
    /// The first page has arrived (so an empty `children` means empty).
    pub started: bool,
    pub loading: bool,
    pub error: Option<ApiFailure>,
}

/// A page request to make: `after` is `None` for the first page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub generation: u64,
    pub prefix: Bytes,
    pub after: Option<Bytes>,
}

impl Listing {
    /// Starts listing `prefix` from scratch and returns the first request.
    pub fn restart(&mut self, prefix: Bytes) -> PageRequest {
        *self = Listing {
            generation: self.generation + 1,
            prefix: prefix.clone(),
            loading: true,
            ..Listing::default()
        };
        PageRequest {
            generation: self.generation,
            prefix,
            after: None,
        }
    }

    /// The next page to request, if more exists and nothing is in flight;
    /// marks it in flight. After an error this is also the retry.
    pub fn next_request(&mut self) -> Option<PageRequest> {
        if self.loading {
            return None;
        }
        let after = if !self.started {
            None
        } else {
            Some(self.next.clone()?)
        };
        self.loading = true;
        self.error = None;
        Some(PageRequest {
            generation: self.generation,
            prefix: self.prefix.clone(),
            after,
        })
    }

    /// Applies the answer to `request`; answers to stale requests are
    /// ignored.
    pub fn apply(&mut self, request: &PageRequest, answer: Result<Level, ApiFailure>) {
        if request.generation != self.generation {
            return;
        }
        self.loading = false;
        match answer {
            Ok(level) => {
                self.started = true;
                self.children.extend(level.children);
                self.next = level.next;
                self.error = None;
            }
            Err(failure) => self.error = Some(failure),
        }
    }

    /// Whether more pages exist (or the first one is still to come).
    pub fn has_more(&self) -> bool {
        !self.started || self.next.is_some()
    }
}

#[cfg(test)]
mod tests {
    use crate::unit_test;
    use etcdeck_shared::Revision;

    use super::*;

    fn child(name: &str) -> Child {
        Child {
            name: Bytes::from(name),
            is_key: true,
            has_children: false,
            count: None,
        }
    }

    fn page(names: &[&str], next: Option<&str>) -> Level {
        Level {
            prefix: Bytes::from("/"),
            children: names.iter().map(|n| child(n)).collect(),
            next: next.map(Bytes::from),
            revision: Revision(1),
        }
    }

    #[unit_test]
    fn pages_accumulate_until_the_last() {
        let mut listing = Listing::default();
        let first = listing.restart(Bytes::from("/"));
        assert_eq!(first.after, None);
        assert_eq!(listing.next_request(), None, "one request at a time");
        listing.apply(&first, Ok(page(&["a", "b"], Some("/b"))));
        let second = listing.next_request().expect("more pages");
        assert_eq!(second.after, Some(Bytes::from("/b")));
        listing.apply(&second, Ok(page(&["c"], None)));
        assert_eq!(listing.children.len(), 3);
        assert!(!listing.has_more());
        assert_eq!(listing.next_request(), None);
    }

    #[unit_test]
    fn stale_answers_are_dropped() {
        let mut listing = Listing::default();
        let old = listing.restart(Bytes::from("/a/"));
        let new = listing.restart(Bytes::from("/b/"));
        listing.apply(&old, Ok(page(&["from-a"], None)));
        assert!(listing.children.is_empty());
        assert!(listing.loading);
        listing.apply(&new, Ok(page(&["from-b"], None)));
        assert_eq!(listing.children, vec![child("from-b")]);
    }

    #[unit_test]
    fn errors_keep_what_was_loaded_and_allow_a_retry() {
        let mut listing = Listing::default();
        let first = listing.restart(Bytes::default());
        listing.apply(&first, Ok(page(&["a"], Some("a"))));
        let second = listing.next_request().expect("more pages");
        listing.apply(&second, Err(ApiFailure::Network("Failed to fetch".into())));
        assert_eq!(listing.children.len(), 1);
        assert!(listing.error.is_some());
        let retry = listing.next_request().expect("retry");
        assert_eq!(retry, second);
        assert!(listing.error.is_none());
    }
}
