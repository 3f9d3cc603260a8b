//! The one way a view stays current. [`LiveView`] reads one endpoint,
//! watches what the answer shows from the answer's `revision + 1`, asks the
//! answer which events can change it ([`LiveAnswer::changed_by`], the
//! page's predicate), and reads again: at most every [`CHANGE_DEBOUNCE`]
//! after such events, after a gap (ending that subscription at once instead
//! of taking its snapshot), shortly before a shown countdown would change
//! state by the browser's count alone (keep-alives make no watch event, so
//! only a read tells a renewed lease from a dying one), shortly
//! when an answer is older than a change already seen, and when the
//! connection is healthy again after a read failed for a passing reason.
//! Its state is a [`ReadState`] (the data) and a [`Freshness`] (loading,
//! ready as of R, stale since T, failed), which
//! [`crate::components::stale_notice`] shows on the page.
//!
//! The same parts serve views whose data is not one answer: [`Health`] and
//! [`follow_link`] are the one place "retry when the connection is healthy"
//! and "stale while disconnected" are decided (through [`Freshness`]);
//! [`watch_changes`] is the debounced "something under this range changed"
//! the tree list uses; [`Watcher`] is how all of them reach the tab's
//! [`LiveClient`] (tests hand in their own).
//!
//! Views that can gain items anywhere (a lock taken under a new name) watch
//! the whole keyspace and filter events in the browser; an etcd user who
//! may not do that watches what is shown instead ([`WHOLE_DENIED_NOTE`]).
//! An answer read at a revision before a change the view has seen is asked
//! for again shortly (the backend may answer from a reading up to a second
//! old), so the page always ends up at least as new as its events; so is an
//! answer that lacks a key a change created (a new lock's first key), a few
//! times.
//!
//! Layout: `state` holds [`ReadState`] and [`LiveAnswer`], `watch` the
//! connection parts; this file the [`LiveView`] that puts them together.

mod state;
mod watch;

pub(crate) use state::polled_answer;
pub use state::{LiveAnswer, ReadState, WHOLE_DENIED_NOTE, stale_answer};
pub use watch::{ChangeWatch, Handler, Health, Watcher, follow_link, watch_changes};

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use etcdeck_shared::ws::{EventKind, SubId, WatchEvent, WatchRange};
use etcdeck_shared::{Bytes, Revision};
use leptos::prelude::*;

use crate::api::ApiFailure;
use crate::freshness::{Freshness, ViewState, now_ms};
use crate::live::Delivery;

/// Changes within this long are gathered into one re-read.
pub const CHANGE_DEBOUNCE: Duration = Duration::from_millis(300);
/// Wait before asking again when an answer is older than a change already
/// seen (the backend may serve a reading up to a second old).
pub const STALE_RETRY: Duration = Duration::from_millis(500);
/// Most times in a row an answer older than a seen change is asked again.
pub const MAX_STALE_RETRIES: u32 = 20;
/// Most times in a row an answer that lacks a key a change created is asked
/// again (2 s: the backend's readings are at most a second old; a key that
/// is not the view's kind after all, say an election's on the locks page,
/// costs no more than that).
pub const MAX_UNSEEN_RETRIES: u32 = 4;
/// Most created keys remembered between answers.
const MAX_UNSEEN: usize = 64;

type Fetch<T> = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, ApiFailure>>>>>;

/// Bookkeeping of one [`LiveView`] that is not its state.
#[derive(Debug, Default)]
struct Control {
    /// The debounced re-read waiting to start.
    pending: Option<TimeoutHandle>,
    /// The re-read that has etcd confirm the shown countdowns.
    recheck: Option<TimeoutHandle>,
    /// The re-read of a view that is read on a timer.
    poll: Option<IntervalHandle>,
    subs: Vec<(WatchRange, SubId)>,
    /// The etcd user may not watch every key.
    whole_denied: bool,
    /// The latest revision of a change that touched the view: an answer
    /// read before it is stale.
    wanted: Option<Revision>,
    stale_retries: u32,
    /// Keys that changes created since the last answer, not shown yet.
    unseen: Vec<Bytes>,
    unseen_retries: u32,
    stopped: bool,
}

/// Where a [`LiveView`] gets its changes and its connection from.
#[derive(Clone, Debug)]
pub struct Sources {
    pub watcher: Option<Watcher>,
    pub health: Health,
}

impl Sources {
    /// The app's live client and status polling.
    pub fn from_context() -> Self {
        Sources {
            watcher: Watcher::from_context(),
            health: Health::from_context(),
        }
    }
}

/// One endpoint read and kept current (see the module header).
pub struct LiveView<T: LiveAnswer> {
    pub state: RwSignal<ReadState<T>>,
    pub freshness: RwSignal<Freshness>,
    fetch: StoredValue<Fetch<T>, LocalStorage>,
    control: StoredValue<Rc<RefCell<Control>>, LocalStorage>,
    watcher: StoredValue<Option<Watcher>, LocalStorage>,
}

impl<T: LiveAnswer> Clone for LiveView<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: LiveAnswer> Copy for LiveView<T> {}

impl<T: LiveAnswer> fmt::Debug for LiveView<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveView").finish_non_exhaustive()
    }
}

impl<T: LiveAnswer> LiveView<T> {
    /// Reads at once and keeps reading as described above, until the
    /// calling owner is cleaned up, with the app's live client and status.
    pub fn start<F, Fut>(fetch: F) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Result<T, ApiFailure>> + 'static,
    {
        Self::start_with(fetch, Sources::from_context())
    }

    /// [`LiveView::start`] with the given sources.
    pub fn start_with<F, Fut>(fetch: F, sources: Sources) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Result<T, ApiFailure>> + 'static,
    {
        let fetch: Fetch<T> = Rc::new(move || Box::pin(fetch()));
        let live = LiveView {
            state: RwSignal::new(ReadState::default()),
            freshness: RwSignal::new(Freshness::new()),
            fetch: StoredValue::new_local(fetch),
            control: StoredValue::new_local(Rc::new(RefCell::new(Control::default()))),
            watcher: StoredValue::new_local(sources.watcher),
        };
        live.read();
        follow_link(sources.health, live.freshness, move || live.read());
        on_cleanup(move || live.stop());
        live
    }

    /// The view's state, for the stale notice.
    pub fn view_state(self) -> Signal<ViewState> {
        let freshness = self.freshness;
        Signal::derive(move || freshness.with(Freshness::state))
    }

    /// Also reads every `every` while the tab is visible, for answers no
    /// watch can follow (the audit log lives in the backend, not in etcd).
    pub fn poll_every(self, every: Duration) -> Self {
        let timer = set_interval_with_handle(
            move || {
                if !document().hidden() {
                    self.read();
                }
            },
            every,
        )
        .ok();
        match self.control() {
            Some(control) => control.borrow_mut().poll = timer,
            None => {
                if let Some(timer) = timer {
                    timer.clear();
                }
            }
        }
        self
    }

    fn control(self) -> Option<Rc<RefCell<Control>>> {
        self.control.try_get_value()
    }

    fn watcher(self) -> Option<Watcher> {
        self.watcher.try_get_value().flatten()
    }

    /// Reads now, or right after the read in flight.
    pub fn read(self) {
        let Some(control) = self.control() else {
            return;
        };
        if control.borrow().stopped {
            return;
        }
        if self.freshness.try_update(Freshness::begin_read) != Some(true) {
            return;
        }
        let Some(fetch) = self.fetch.try_get_value() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let answer = fetch().await;
            self.answered(answer);
        });
    }

    /// Reads after [`CHANGE_DEBOUNCE`]; calls meanwhile join that read.
    pub fn read_soon(self) {
        self.read_after(CHANGE_DEBOUNCE);
    }

    fn answered(self, answer: Result<T, ApiFailure>) {
        let Some(control) = self.control() else {
            return;
        };
        let now = now_ms();
        let ok = answer.is_ok();
        let again = self
            .freshness
            .try_update(|f| f.answered(now, answer.as_ref().map(LiveAnswer::read_at)))
            .unwrap_or(false);
        self.state.try_update(|state| match answer {
            Ok(data) => {
                state.data = Some(data);
                state.read_at_ms = now;
                state.error = None;
            }
            Err(error) => {
                // Denied means what was shown may no longer be seen.
                if error.code() == Some(etcdeck_shared::ErrorCode::PermissionDenied) {
                    state.data = None;
                }
                state.error = Some(error);
            }
        });
        let answered_at = self
            .state
            .with_untracked(|s| s.data.as_ref().map(LiveAnswer::read_at));
        let stale = ok && {
            let mut control = control.borrow_mut();
            let mut stale = false;
            if stale_answer(answered_at, control.wanted)
                && control.stale_retries < MAX_STALE_RETRIES
            {
                control.stale_retries += 1;
                stale = true;
            } else {
                control.wanted = None;
                control.stale_retries = 0;
            }
            let unseen = self
                .state
                .with_untracked(|s| s.data.as_ref().map(|d| d.not_shown(&control.unseen)))
                .unwrap_or_default();
            if !unseen.is_empty() && control.unseen_retries < MAX_UNSEEN_RETRIES {
                control.unseen_retries += 1;
                control.unseen = unseen;
                stale = true;
            } else {
                control.unseen.clear();
                control.unseen_retries = 0;
            }
            stale
        };
        if again {
            self.read();
            return;
        }
        if ok {
            self.replan();
            self.arm_recheck(now);
        }
        if stale {
            self.read_after(STALE_RETRY);
        }
    }

    /// Reads after `wait` unless a read is already waiting.
    fn read_after(self, wait: Duration) {
        let Some(control) = self.control() else {
            return;
        };
        let mut control = control.borrow_mut();
        if control.pending.is_some() || control.stopped {
            return;
        }
        control.pending = set_timeout_with_handle(
            move || {
                if let Some(control) = self.control() {
                    control.borrow_mut().pending = None;
                }
                self.read();
            },
            wait,
        )
        .ok();
    }

    /// Re-reads once when the answer's countdowns need etcd's word again
    /// ([`LiveAnswer::recheck_at_ms`]); each answer re-arms it.
    fn arm_recheck(self, read_at_ms: u64) {
        let Some(control) = self.control() else {
            return;
        };
        let due = self
            .state
            .with_untracked(|s| s.data.as_ref().and_then(|d| d.recheck_at_ms(read_at_ms)));
        let mut control = control.borrow_mut();
        if let Some(timer) = control.recheck.take() {
            timer.clear();
        }
        if let Some(at) = due {
            let wait = Duration::from_millis(at.saturating_sub(now_ms()));
            control.recheck = set_timeout_with_handle(
                move || {
                    if let Some(control) = self.control() {
                        control.borrow_mut().recheck = None;
                    }
                    self.read();
                },
                wait,
            )
            .ok();
        }
    }

    /// Makes the subscriptions match what the answer shows.
    fn replan(self) {
        let (Some(watcher), Some(control)) = (self.watcher(), self.control()) else {
            return;
        };
        let whole_denied = control.borrow().whole_denied;
        let Some((plan, revision)) = self.state.with_untracked(|s| {
            s.data
                .as_ref()
                .map(|d| (d.watches(!whole_denied), d.read_at()))
        }) else {
            return;
        };
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut control.borrow_mut().subs)
            .into_iter()
            .partition(|(range, _)| !plan.contains(range));
        control.borrow_mut().subs = kept;
        for (_, id) in gone {
            watcher.unsubscribe(id);
        }
        let from = Some(Revision(revision.0 + 1));
        for range in plan {
            if control.borrow().subs.iter().any(|(r, _)| *r == range) {
                continue;
            }
            let watched = range.clone();
            let id = watcher.subscribe(range.clone(), false, from, move |delivery| {
                self.delivered(&watched, delivery);
            });
            control.borrow_mut().subs.push((range, id));
        }
    }

    fn delivered(self, range: &WatchRange, delivery: Delivery) {
        match delivery {
            Delivery::Events(events) => self.changes(&events),
            Delivery::Gap(_) => {
                // The snapshot that follows would be the whole range; the
                // re-read says all the view needs and subscribes again.
                self.forget(range, true);
                self.read_soon();
            }
            Delivery::Reconnecting { .. } => {
                let now = now_ms();
                self.freshness.try_update(|f| f.watch_down(now));
            }
            Delivery::Live => {
                self.freshness.try_update(Freshness::watch_up);
            }
            Delivery::Closed(error) => {
                self.forget(range, false);
                if range.prefix && range.key.is_empty() {
                    if let Some(control) = self.control() {
                        control.borrow_mut().whole_denied = true;
                    }
                    self.state
                        .try_update(|s| s.live_note = Some(WHOLE_DENIED_NOTE.to_owned()));
                    self.replan();
                } else {
                    let note = format!(
                        "live updates stopped for {}: {}",
                        range.key.display(),
                        error.message
                    );
                    self.state.try_update(|s| s.live_note = Some(note));
                }
            }
            Delivery::Subscribed { .. } | Delivery::Snapshot { .. } => {}
        }
    }

    /// Events arrived: read again soon when one can change the answer.
    fn changes(self, events: &[WatchEvent]) {
        let touched: Option<Vec<&WatchEvent>> = self.state.with_untracked(|s| {
            let data = s.data.as_ref();
            let touched: Vec<&WatchEvent> = events
                .iter()
                .filter(|e| data.is_none_or(|d| d.changed_by(e)))
                .collect();
            (!touched.is_empty()).then_some(touched)
        });
        let Some(touched) = touched else {
            return;
        };
        if let Some(control) = self.control() {
            let mut control = control.borrow_mut();
            let latest = touched.iter().map(|e| e.kv.mod_revision).max();
            control.wanted = control.wanted.max(latest);
            for event in touched {
                let key = &event.kv.key;
                control.unseen.retain(|k| k != key);
                // Keys created (version 1) are what a new item shows up as.
                if event.kind == EventKind::Put
                    && event.kv.version == 1
                    && control.unseen.len() < MAX_UNSEEN
                {
                    control.unseen.push(key.clone());
                }
            }
        }
        self.read_soon();
    }

    fn forget(self, range: &WatchRange, unsubscribe: bool) {
        let Some(control) = self.control() else {
            return;
        };
        let ids: Vec<SubId> = {
            let mut control = control.borrow_mut();
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut control.subs)
                .into_iter()
                .partition(|(r, _)| r == range);
            control.subs = kept;
            gone.into_iter().map(|(_, id)| id).collect()
        };
        if unsubscribe && let Some(watcher) = self.watcher() {
            for id in ids {
                watcher.unsubscribe(id);
            }
        }
    }

    fn stop(self) {
        let Some(control) = self.control() else {
            return;
        };
        let subs = {
            let mut control = control.borrow_mut();
            control.stopped = true;
            for timer in [control.pending.take(), control.recheck.take()]
                .into_iter()
                .flatten()
            {
                timer.clear();
            }
            if let Some(poll) = control.poll.take() {
                poll.clear();
            }
            std::mem::take(&mut control.subs)
        };
        if let Some(watcher) = self.watcher() {
            for (_, id) in subs {
                watcher.unsubscribe(id);
            }
        }
    }
}
