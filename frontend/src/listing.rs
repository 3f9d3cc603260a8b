//! The state of the tree level being listed: the children loaded so far,
//! the cursor for the next page, and whether a request is in flight or
//! failed. Transitions are pure so paging and stale answers are tested
//! without a browser; the browse page drives the requests.
//!
//! When a live change touches the level, the loaded pages are read again
//! (a *refresh*): the new pages are collected aside and replace the old
//! children in one step, so the list neither flickers nor loses its scroll
//! position.
//!
//! A deep link names a key that may lie pages past the first screen:
//! [`seek`] says whether its row is loaded, whether to read the next page to
//! find it, or that it is not in the level (or past [`SEEK_MAX_ROWS`]).

use etcdeck_shared::{Bytes, Child, Level, Revision};

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
    /// The revision the first page was read at: live changes are watched
    /// from the one after it.
    pub revision: Option<Revision>,
    /// Bumped whenever a refresh replaced the children, so rows re-render.
    pub version: u64,
    /// Why the last refresh failed (the old children stay shown).
    pub refresh_error: Option<ApiFailure>,
    /// A change arrived; a refresh is due once nothing is in flight.
    stale: bool,
    refresh: Option<Refresh>,
    passes: u64,
}

/// A refresh in progress: pages read again, kept aside until they cover as
/// many children as were loaded before.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Refresh {
    pass: u64,
    target: usize,
    children: Vec<Child>,
}

/// A page request to make: `after` is `None` for the first page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub generation: u64,
    pub prefix: Bytes,
    pub after: Option<Bytes>,
    /// The refresh pass this page belongs to, if it is a re-read.
    pub refresh: Option<u64>,
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
            refresh: None,
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
            refresh: None,
        })
    }

    /// Notes that the level changed; [`Listing::refresh_request`] then
    /// re-reads the loaded pages.
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    /// The first page of a refresh, when one is due and nothing is in
    /// flight (else it waits: [`Listing::apply`] starts it later).
    pub fn refresh_request(&mut self) -> Option<PageRequest> {
        if !self.stale || self.loading || !self.started {
            return None;
        }
        self.stale = false;
        self.passes += 1;
        self.refresh = Some(Refresh {
            pass: self.passes,
            target: self.children.len().max(1),
            children: Vec::new(),
        });
        self.loading = true;
        Some(PageRequest {
            generation: self.generation,
            prefix: self.prefix.clone(),
            after: None,
            refresh: Some(self.passes),
        })
    }

    /// Applies the answer to `request` and returns the next request to
    /// make: the rest of a refresh, or a refresh that became due while this
    /// one was in flight. Answers to stale requests are ignored.
    pub fn apply(
        &mut self,
        request: &PageRequest,
        answer: Result<Level, ApiFailure>,
    ) -> Option<PageRequest> {
        if request.generation != self.generation {
            return None;
        }
        if let Some(pass) = request.refresh {
            return self.apply_refresh(pass, answer);
        }
        self.loading = false;
        match answer {
            Ok(level) => {
                if !self.started {
                    self.revision = Some(level.revision);
                }
                self.started = true;
                self.children.extend(level.children);
                self.next = level.next;
                self.error = None;
            }
            Err(failure) => self.error = Some(failure),
        }
        self.refresh_request()
    }

    fn apply_refresh(
        &mut self,
        pass: u64,
        answer: Result<Level, ApiFailure>,
    ) -> Option<PageRequest> {
        let refresh = self.refresh.as_mut().filter(|r| r.pass == pass)?;
        match answer {
            Ok(level) => {
                refresh.children.extend(level.children);
                if refresh.children.len() < refresh.target
                    && let Some(next) = level.next
                {
                    return Some(PageRequest {
                        generation: self.generation,
                        prefix: self.prefix.clone(),
                        after: Some(next),
                        refresh: Some(pass),
                    });
                }
                self.children = std::mem::take(&mut refresh.children);
                self.next = level.next;
                self.version += 1;
                self.error = None;
                self.refresh_error = None;
            }
            Err(failure) => self.refresh_error = Some(failure),
        }
        self.refresh = None;
        self.loading = false;
        self.refresh_request()
    }

    /// Whether more pages exist (or the first one is still to come).
    pub fn has_more(&self) -> bool {
        !self.started || self.next.is_some()
    }
}

/// How many rows the list loads, at most, to find a deep-linked key: 50
/// pages of [`PAGE_SIZE`], so a mistyped link into a huge level stops
/// instead of reading all of it.
pub const SEEK_MAX_ROWS: usize = 50 * PAGE_SIZE;

/// Where a deep-linked key stands in a level as loaded so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// Its row is loaded at this index: the key's own row, or the directory
    /// row that holds it when the key lies deeper.
    Found(usize),
    /// Not loaded yet, and it may be on a later page: read the next one.
    More,
    /// A page is in flight or the first has not come: wait.
    Waiting,
    /// Not in this level (or not within [`SEEK_MAX_ROWS`]), or the level
    /// failed: stop looking.
    Absent,
}

/// Looks for `key`'s row in `listing` (listed with `separator`). Children
/// come in key order, and a child's keys all sort at or after
/// `prefix + name`, so once the last loaded child sorts after `key` no
/// later page can hold it.
pub fn seek(listing: &Listing, key: &Bytes, separator: &Bytes) -> Seek {
    let Some(rest) = key.0.strip_prefix(listing.prefix.0.as_slice()) else {
        return Seek::Absent;
    };
    // The row at this level: the segment up to the first separator; the key
    // itself when it has none.
    let cut = (!separator.0.is_empty())
        .then(|| {
            rest.windows(separator.0.len())
                .position(|w| w == separator.0)
        })
        .flatten();
    let (name, direct) = match cut {
        Some(at) => (&rest[..at], false),
        None => (rest, true),
    };
    let found = listing
        .children
        .iter()
        .position(|c| c.name.0 == name && if direct { c.is_key } else { c.has_children });
    if let Some(index) = found {
        return Seek::Found(index);
    }
    if !listing.started || listing.loading {
        return if listing.error.is_some() {
            Seek::Absent
        } else {
            Seek::Waiting
        };
    }
    let past = listing
        .children
        .last()
        .is_some_and(|c| c.key(&listing.prefix) > *key);
    if past
        || listing.next.is_none()
        || listing.error.is_some()
        || listing.children.len() >= SEEK_MAX_ROWS
    {
        Seek::Absent
    } else {
        Seek::More
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
            bytes: None,
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
        assert_eq!(listing.revision, None);
        assert_eq!(listing.next_request(), None, "one request at a time");
        listing.apply(&first, Ok(page(&["a", "b"], Some("/b"))));
        assert_eq!(
            listing.revision,
            Some(Revision(1)),
            "the first page's revision"
        );
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

    fn names(listing: &Listing) -> Vec<String> {
        listing.children.iter().map(|c| c.name.display()).collect()
    }

    #[unit_test]
    fn a_refresh_rereads_the_loaded_pages_and_swaps_them_in_at_once() {
        let mut listing = Listing::default();
        let first = listing.restart(Bytes::from("/"));
        listing.apply(&first, Ok(page(&["a", "b"], Some("b"))));
        let second = listing.next_request().expect("more");
        listing.apply(&second, Ok(page(&["c", "d"], Some("d"))));
        let generation = listing.generation;

        listing.mark_stale();
        let re1 = listing.refresh_request().expect("refresh due");
        assert_eq!((re1.after.clone(), re1.refresh), (None, Some(1)));
        assert_eq!(listing.next_request(), None, "no paging during a refresh");
        // A key was added before "b": the first page now ends at "a2".
        let re2 = listing
            .apply(&re1, Ok(page(&["a", "a2"], Some("a2"))))
            .expect("the refresh reads on until it covers what was loaded");
        assert_eq!(
            names(&listing),
            ["a", "b", "c", "d"],
            "old rows stay meanwhile"
        );
        assert_eq!(re2.after, Some(Bytes::from("a2")));
        assert_eq!(listing.apply(&re2, Ok(page(&["b", "c"], Some("c")))), None);
        assert_eq!(names(&listing), ["a", "a2", "b", "c"]);
        assert_eq!(listing.next, Some(Bytes::from("c")));
        assert_eq!(
            listing.generation, generation,
            "same level: the scroll stays"
        );
        assert_eq!(listing.version, 1);
        assert!(!listing.loading);
    }

    #[unit_test]
    fn a_change_during_a_request_refreshes_after_it() {
        let mut listing = Listing::default();
        let first = listing.restart(Bytes::from("/"));
        listing.apply(&first, Ok(page(&["a"], Some("a"))));
        let second = listing.next_request().expect("more");
        listing.mark_stale();
        assert_eq!(
            listing.refresh_request(),
            None,
            "waits for the page in flight"
        );
        let re = listing
            .apply(&second, Ok(page(&["b"], None)))
            .expect("then refreshes");
        assert_eq!(re.refresh, Some(1));
        // A change during the refresh queues another one.
        listing.mark_stale();
        let again = listing
            .apply(&re, Ok(page(&["a", "b"], None)))
            .expect("refreshes again");
        assert_eq!(again.refresh, Some(2));
        // A failed refresh keeps the rows and says why.
        assert_eq!(
            listing.apply(&again, Err(ApiFailure::Network("Failed to fetch".into()))),
            None
        );
        assert_eq!(names(&listing), ["a", "b"]);
        assert!(listing.refresh_error.is_some());
        // An empty level refreshes to its first page.
        let mut empty = Listing::default();
        let first = empty.restart(Bytes::from("/"));
        empty.apply(&first, Ok(page(&[], None)));
        empty.mark_stale();
        let re = empty.refresh_request().expect("due");
        assert_eq!(empty.apply(&re, Ok(page(&["new"], None))), None);
        assert_eq!(names(&empty), ["new"]);
    }

    fn named(name: &str, is_key: bool, has_children: bool) -> Child {
        Child {
            name: Bytes::from(name),
            is_key,
            has_children,
            count: None,
            bytes: None,
        }
    }

    #[unit_test]
    fn a_deep_linked_key_is_sought_page_by_page() {
        let sep = Bytes::from("/");
        let key = Bytes::from("/big/k1500");
        let mut listing = Listing::default();
        let first = listing.restart(Bytes::from("/big/"));
        assert_eq!(seek(&listing, &key, &sep), Seek::Waiting);
        let names: Vec<String> = (1000..2000).map(|i| format!("k{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        listing.apply(&first, Ok(page(&names[..500], Some("/big/k1499"))));
        assert_eq!(seek(&listing, &key, &sep), Seek::More);
        let second = listing.next_request().expect("more");
        assert_eq!(seek(&listing, &key, &sep), Seek::Waiting, "in flight");
        listing.apply(&second, Ok(page(&names[500..], None)));
        assert_eq!(seek(&listing, &key, &sep), Seek::Found(500));
    }

    #[unit_test]
    fn a_key_past_the_loaded_rows_or_elsewhere_is_absent() {
        let sep = Bytes::from("/");
        let mut listing = Listing::default();
        let first = listing.restart(Bytes::from("/a/"));
        listing.apply(&first, Ok(page(&["b", "d"], Some("/a/d"))));
        // "c" would sort before "d": no later page can hold it.
        assert_eq!(seek(&listing, &Bytes::from("/a/c"), &sep), Seek::Absent);
        assert_eq!(seek(&listing, &Bytes::from("/a/e"), &sep), Seek::More);
        assert_eq!(seek(&listing, &Bytes::from("/other/b"), &sep), Seek::Absent);
        // The last page came: nothing more to read.
        let second = listing.next_request().expect("more");
        listing.apply(&second, Ok(page(&["e"], None)));
        assert_eq!(seek(&listing, &Bytes::from("/a/f"), &sep), Seek::Absent);
        // A failed page stops the search too.
        let mut failed = Listing::default();
        let first = failed.restart(Bytes::from("/a/"));
        failed.apply(&first, Err(ApiFailure::Network("Failed to fetch".into())));
        assert_eq!(seek(&failed, &Bytes::from("/a/x"), &sep), Seek::Absent);
    }

    #[unit_test]
    fn a_deeper_key_finds_its_directory_and_a_key_its_own_row() {
        let sep = Bytes::from("/");
        let mut listing = Listing::default();
        let first = listing.restart(Bytes::from("/"));
        let level = Level {
            prefix: Bytes::from("/"),
            children: vec![named("app", false, true), named("both", true, true)],
            next: None,
            revision: Revision(1),
        };
        listing.apply(&first, Ok(level));
        assert_eq!(
            seek(&listing, &Bytes::from("/app/x/y"), &sep),
            Seek::Found(0)
        );
        assert_eq!(seek(&listing, &Bytes::from("/both"), &sep), Seek::Found(1));
        assert_eq!(
            seek(&listing, &Bytes::from("/both/z"), &sep),
            Seek::Found(1)
        );
        // "/app" is not a key here, only a directory.
        assert_eq!(seek(&listing, &Bytes::from("/app"), &sep), Seek::Absent);
    }

    #[unit_test]
    fn the_search_is_bounded() {
        let sep = Bytes::from("/");
        let mut listing = Listing::default();
        let first = listing.restart(Bytes::from("/"));
        let names: Vec<String> = (0..SEEK_MAX_ROWS).map(|i| format!("a{i:06}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        listing.apply(&first, Ok(page(&names, Some("/a"))));
        assert_eq!(seek(&listing, &Bytes::from("/z"), &sep), Seek::Absent);
    }
}
