//! What a page holds of a view kept current, and what the view needs to
//! know about its answers: [`ReadState`] (the last answer, when it came,
//! the last failure, a live note) and [`LiveAnswer`] (the revision an
//! answer was read at, what to watch, which events change it, when its
//! countdowns need etcd's word again), implemented by each page for its answers.

use etcdeck_shared::ws::{WatchEvent, WatchRange};
use etcdeck_shared::{Bytes, Revision};

use crate::api::ApiFailure;

/// Shown when the etcd user may not watch every key.
pub const WHOLE_DENIED_NOTE: &str = "This etcd user may not watch every key: what is shown \
    follows along live, but new names appear only when the page reads again.";

/// What a page holds: the last answer, when it arrived, and what went
/// wrong since.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadState<T> {
    /// The last good answer; kept while a re-read fails for a passing
    /// reason, so a wall screen does not go blank for a blip.
    pub data: Option<T>,
    /// When `data` arrived (ms since the epoch, browser clock): the
    /// countdowns start here.
    pub read_at_ms: u64,
    /// The last read failed.
    pub error: Option<ApiFailure>,
    /// Live updates ended for some range (say, permission withdrawn).
    pub live_note: Option<String>,
}

impl<T> Default for ReadState<T> {
    fn default() -> Self {
        ReadState {
            data: None,
            read_at_ms: 0,
            error: None,
            live_note: None,
        }
    }
}

impl<T> ReadState<T> {
    /// A state holding `data` read at `read_at_ms` (for tests and pages).
    pub fn loaded(data: T, read_at_ms: u64) -> Self {
        ReadState {
            data: Some(data),
            read_at_ms,
            ..ReadState::default()
        }
    }

    /// A state with only a failure.
    pub fn failed(error: ApiFailure) -> Self {
        ReadState {
            error: Some(error),
            ..ReadState::default()
        }
    }
}

/// What a [`LiveView`] needs to know about an answer to keep it current.
pub trait LiveAnswer: Clone + Send + Sync + 'static {
    /// The revision the answer was read at; watches start after it.
    fn read_at(&self) -> Revision;
    /// The ranges to watch; `whole_keyspace_allowed` is false once etcd
    /// refused this user a watch of every key.
    fn watches(&self, whole_keyspace_allowed: bool) -> Vec<WatchRange>;
    /// Whether `event` can change the answer, so it is worth reading again.
    fn changed_by(&self, event: &WatchEvent) -> bool;
    /// Of `created` (keys that changes created and the view should show),
    /// those the answer does not show yet.
    fn not_shown(&self, _created: &[Bytes]) -> Vec<Bytes> {
        Vec::new()
    }
    /// When the view reads again to have etcd confirm the countdowns it
    /// shows (ms since the epoch), for an answer that arrived at
    /// `read_at_ms`: shortly before the first of them would change state by
    /// the browser's count alone. Keep-alives and a lease with no keys
    /// ending make no watch event; only a read tells.
    fn recheck_at_ms(&self, _read_at_ms: u64) -> Option<u64> {
        None
    }
}

/// [`LiveAnswer`] for an answer that is not in etcd's keyspace (the audit
/// log, the sessions, the cluster view): no revision, nothing to watch,
/// only read again (`LiveView::poll_every`).
macro_rules! polled_answer {
    ($answer:ty) => {
        impl $crate::live_view::LiveAnswer for $answer {
            fn read_at(&self) -> etcdeck_shared::Revision {
                etcdeck_shared::Revision(0)
            }

            fn watches(
                &self,
                _whole_keyspace_allowed: bool,
            ) -> Vec<etcdeck_shared::ws::WatchRange> {
                Vec::new()
            }

            fn changed_by(&self, _event: &etcdeck_shared::ws::WatchEvent) -> bool {
                false
            }
        }
    };
}
pub(crate) use polled_answer;

/// Whether an answer read at `answered` is older than the change at
/// `wanted` that asked for it.
pub fn stale_answer(answered: Option<Revision>, wanted: Option<Revision>) -> bool {
    match (answered, wanted) {
        (Some(answered), Some(wanted)) => answered < wanted,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    #[unit_test]
    fn an_answer_older_than_a_seen_change_is_stale() {
        assert!(stale_answer(Some(Revision(4)), Some(Revision(5))));
        assert!(!stale_answer(Some(Revision(5)), Some(Revision(5))));
        assert!(!stale_answer(None, Some(Revision(5))));
    }
}
