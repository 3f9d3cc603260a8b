//! Whether what a view shows is current, as a pure state machine with no
//! DOM, timer or network in it: [`Freshness`] takes what happens to a view
//! (a read starts or is answered, the connection goes down or comes back,
//! the view's own watch is re-watching etcd) with the time it happened,
//! says what to do next (read again or not), and names the view's state
//! ([`ViewState`]): loading, ready as of a revision, stale since a time, or
//! failed with a sentence. [`crate::live_view`] drives it for every page,
//! and [`crate::components::stale_notice`] draws its stale state.
//!
//! Who decides a page is stale: this module. A view is stale while the
//! connection its changes come through is down (the tab's WebSocket, or
//! etcd as the backend's status poll or the view's own watch sees it), and
//! after a re-read failed for a passing reason (etcd or the backend away)
//! while older data is still shown. It is current again once the
//! connection is back (the live protocol then replays what was missed) or
//! a read succeeds.

use etcdeck_shared::{ErrorCode, Revision};

use crate::api::ApiFailure;

/// A view's state as the person looking at it is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewState {
    /// Nothing read yet.
    Loading,
    /// Current: read at `revision` and followed live since.
    Ready { revision: Revision },
    /// What is shown (read at `revision`, if anything was) may be out of
    /// date since `since_ms` (ms since the epoch): etcdeck is reconnecting.
    Stale {
        since_ms: u64,
        revision: Option<Revision>,
    },
    /// Nothing can be shown: the read failed with this sentence.
    Failed { message: String },
}

impl ViewState {
    /// The `data-state` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ViewState::Loading => "loading",
            ViewState::Ready { .. } => "ready",
            ViewState::Stale { .. } => "stale",
            ViewState::Failed { .. } => "failed",
        }
    }
}

/// Whether a failure passes by itself: the backend or etcd was out of
/// reach. Such a read is repeated once the connection is healthy again;
/// any other failure (refused, not found) would fail again and waits for
/// the person.
pub fn is_transient(failure: &ApiFailure) -> bool {
    matches!(failure, ApiFailure::Network(_)) || failure.code() == Some(ErrorCode::EtcdUnavailable)
}

/// What a view knows about how current it is (see the module header).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Freshness {
    /// The revision of the last good answer.
    revision: Option<Revision>,
    /// The last read failed with this (cleared by a good answer).
    failure: Option<ApiFailure>,
    /// When the failure happened.
    failed_at_ms: u64,
    /// Since when the connection has been down, as the tab sees it.
    link_down_since: Option<u64>,
    /// Since when the view's own watch has been re-watching etcd.
    watch_down_since: Option<u64>,
    /// A read is in flight.
    reading: bool,
    /// Something asked for a read while one was in flight.
    again: bool,
}

impl Freshness {
    pub fn new() -> Self {
        Freshness::default()
    }

    /// The state to show.
    pub fn state(&self) -> ViewState {
        let down = match (self.link_down_since, self.watch_down_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (self.revision, &self.failure) {
            (None, Some(failure)) => ViewState::Failed {
                message: failure.to_string(),
            },
            (None, None) if down.is_none() => ViewState::Loading,
            (revision, failure) => {
                let failed = failure
                    .as_ref()
                    .filter(|f| is_transient(f))
                    .map(|_| self.failed_at_ms);
                let since = match (down, failed) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                match (since, revision) {
                    (Some(since_ms), revision) => ViewState::Stale { since_ms, revision },
                    (None, Some(revision)) => ViewState::Ready { revision },
                    (None, None) => ViewState::Loading,
                }
            }
        }
    }

    /// The revision of the last good answer.
    pub fn revision(&self) -> Option<Revision> {
        self.revision
    }

    /// The last read failed for a passing reason.
    pub fn failed_transiently(&self) -> bool {
        self.failure.as_ref().is_some_and(is_transient)
    }

    /// A read is wanted: `true` to start it now, `false` when one is in
    /// flight (it is made again right after that one).
    pub fn begin_read(&mut self) -> bool {
        if self.reading {
            self.again = true;
            return false;
        }
        self.reading = true;
        true
    }

    /// A read was answered at `now_ms`, good (with the revision it was read
    /// at) or not. `true`: read again at once (asked for meanwhile).
    pub fn answered(&mut self, now_ms: u64, answer: Result<Revision, &ApiFailure>) -> bool {
        self.reading = false;
        match answer {
            Ok(revision) => {
                self.revision = Some(revision);
                self.failure = None;
            }
            Err(failure) => {
                // Refused means what was shown may no longer be seen.
                if failure.code() == Some(ErrorCode::PermissionDenied) {
                    self.revision = None;
                }
                if self.failure.is_none() {
                    self.failed_at_ms = now_ms;
                }
                self.failure = Some(failure.clone());
            }
        }
        std::mem::take(&mut self.again)
    }

    /// Something that need not be read is current as of `revision` (a
    /// watch that opened, events that arrived): the view is ready.
    pub fn seen(&mut self, revision: Revision) {
        self.revision = Some(self.revision.map_or(revision, |r| r.max(revision)));
        self.failure = None;
    }

    /// Forgets everything: the view starts over (another prefix).
    pub fn restart(&mut self) {
        *self = Freshness {
            link_down_since: self.link_down_since,
            ..Freshness::default()
        };
    }

    /// The connection as the tab sees it, at `now_ms`: `up` when the
    /// WebSocket is open and etcd within reach. `true`: read again now (the
    /// last read failed for a passing reason and the connection is
    /// healthy). Called on every status poll, not only on changes, so a
    /// failed read is retried at the next healthy poll.
    pub fn link(&mut self, up: bool, now_ms: u64) -> bool {
        if up {
            self.link_down_since = None;
            self.failed_transiently() && !self.reading
        } else {
            self.link_down_since.get_or_insert(now_ms);
            false
        }
    }

    /// The view's own watch says the backend is re-watching etcd for it.
    pub fn watch_down(&mut self, now_ms: u64) {
        self.watch_down_since.get_or_insert(now_ms);
    }

    /// The view's own watch is live again; nothing was lost meanwhile.
    pub fn watch_up(&mut self) {
        self.watch_down_since = None;
    }
}

/// The largest time a JavaScript `Date` holds; past it `toISOString`
/// throws.
pub const MAX_DATE_MS: u64 = 8_640_000_000_000_000;

/// `at_ms` on the browser's clock, as `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(at_ms: u64) -> String {
    if at_ms > MAX_DATE_MS {
        return format!("{at_ms} ms");
    }
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// A time of day on the browser's clock, `HH:MM:SS`, for "stale since" and timelines.
pub fn clock_text(at_ms: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// The browser's clock in ms since the epoch.
pub fn now_ms() -> u64 {
    let now = js_sys::Date::now();
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;
    use etcdeck_shared::ApiError;

    fn failure(code: ErrorCode, status: u16) -> ApiFailure {
        ApiFailure::Api {
            status,
            error: ApiError {
                code,
                message: format!("{code:?}"),
                revision: None,
            },
        }
    }

    fn unavailable() -> ApiFailure {
        failure(ErrorCode::EtcdUnavailable, 503)
    }

    #[unit_test]
    fn loading_then_ready_as_of_the_answer() {
        let mut f = Freshness::new();
        assert_eq!(f.state(), ViewState::Loading);
        assert!(f.begin_read());
        assert!(!f.answered(10, Ok(Revision(7))));
        assert_eq!(
            f.state(),
            ViewState::Ready {
                revision: Revision(7)
            }
        );
    }

    #[unit_test]
    fn a_read_asked_for_while_one_is_in_flight_follows_it() {
        let mut f = Freshness::new();
        assert!(f.begin_read());
        assert!(!f.begin_read());
        assert!(!f.begin_read());
        assert!(f.answered(10, Ok(Revision(7))));
        assert!(f.begin_read());
        assert!(!f.answered(20, Ok(Revision(8))));
    }

    #[unit_test]
    fn a_lost_connection_makes_shown_data_stale_until_it_is_back() {
        let mut f = Freshness::new();
        f.begin_read();
        f.answered(10, Ok(Revision(7)));
        assert!(!f.link(false, 1_000));
        // The first moment counts, not the latest.
        f.link(false, 5_000);
        assert_eq!(
            f.state(),
            ViewState::Stale {
                since_ms: 1_000,
                revision: Some(Revision(7))
            }
        );
        // Back, with nothing failed meanwhile: current, no read needed.
        assert!(!f.link(true, 6_000));
        assert_eq!(
            f.state(),
            ViewState::Ready {
                revision: Revision(7)
            }
        );
    }

    #[unit_test]
    fn a_read_failed_for_a_passing_reason_is_retried_when_healthy() {
        let mut f = Freshness::new();
        f.begin_read();
        f.answered(10, Ok(Revision(7)));
        f.begin_read();
        f.answered(2_000, Err(&unavailable()));
        assert_eq!(
            f.state(),
            ViewState::Stale {
                since_ms: 2_000,
                revision: Some(Revision(7))
            }
        );
        assert!(!f.link(false, 3_000));
        assert!(f.link(true, 4_000));
        // Every healthy poll retries until a read succeeds.
        assert!(f.link(true, 7_000));
        f.begin_read();
        f.answered(7_100, Ok(Revision(9)));
        assert!(!f.link(true, 10_000));
        assert_eq!(
            f.state(),
            ViewState::Ready {
                revision: Revision(9)
            }
        );
    }

    #[unit_test]
    fn other_failures_wait_for_the_person() {
        let mut f = Freshness::new();
        f.begin_read();
        let denied = failure(ErrorCode::PermissionDenied, 403);
        f.answered(10, Err(&denied));
        assert!(!f.link(true, 20));
        assert_eq!(
            f.state(),
            ViewState::Failed {
                message: denied.to_string()
            }
        );
    }

    #[unit_test]
    fn the_views_own_watch_reconnecting_is_stale_too() {
        let mut f = Freshness::new();
        f.seen(Revision(3));
        f.watch_down(500);
        assert_eq!(
            f.state(),
            ViewState::Stale {
                since_ms: 500,
                revision: Some(Revision(3))
            }
        );
        f.watch_up();
        f.seen(Revision(5));
        assert_eq!(
            f.state(),
            ViewState::Ready {
                revision: Revision(5)
            }
        );
        f.restart();
        assert_eq!(f.state(), ViewState::Loading);
    }
}
