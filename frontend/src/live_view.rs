//! The one way a view stays current. [`LiveView`] reads one endpoint,
//! watches what the answer shows from the answer's `revision + 1`, asks the
//! answer which events can change it ([`LiveAnswer::changed_by`], the
//! page's predicate), and reads again: at most every [`CHANGE_DEBOUNCE`]
//! after such events, after a gap (ending that subscription at once instead
//! of taking its snapshot), when a shown countdown reaches zero, shortly
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

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use etcdeck_shared::ws::{EventKind, SubId, WatchEvent, WatchRange};
use etcdeck_shared::{Bytes, Connection, Revision};
use leptos::prelude::*;

use crate::api::ApiFailure;
use crate::api::live::LiveClient;
use crate::connection::ConnectionState;
use crate::freshness::{Freshness, ViewState, now_ms};
use crate::live::{Delivery, SocketState};

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
    /// When the first countdown shown reaches zero (ms since the epoch),
    /// for an answer that arrived at `read_at_ms`: the view reads again then
    /// (a lease with no keys ends without any watch event).
    fn zero_at_ms(&self, _read_at_ms: u64) -> Option<u64> {
        None
    }
}

/// Whether an answer read at `answered` is older than the change at
/// `wanted` that asked for it.
pub fn stale_answer(answered: Option<Revision>, wanted: Option<Revision>) -> bool {
    match (answered, wanted) {
        (Some(answered), Some(wanted)) => answered < wanted,
        _ => false,
    }
}

/// A subscriber's handler.
pub type Handler = Rc<dyn Fn(Delivery)>;
type Subscribe = Rc<dyn Fn(WatchRange, bool, Option<Revision>, Handler) -> SubId>;

/// How a view subscribes: the tab's [`LiveClient`], or what a test hands in.
#[derive(Clone)]
pub struct Watcher {
    subscribe: Subscribe,
    unsubscribe: Rc<dyn Fn(SubId)>,
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    pub fn new(
        subscribe: impl Fn(WatchRange, bool, Option<Revision>, Handler) -> SubId + 'static,
        unsubscribe: impl Fn(SubId) + 'static,
    ) -> Self {
        Watcher {
            subscribe: Rc::new(subscribe),
            unsubscribe: Rc::new(unsubscribe),
        }
    }

    /// Subscribes through the tab's live client.
    pub fn client(client: LiveClient) -> Self {
        Watcher::new(
            move |range, prev_kv, from, handler| {
                client.subscribe(range, prev_kv, from, move |delivery| handler(delivery))
            },
            move |id| client.unsubscribe(id),
        )
    }

    /// The tab's live client, when the app provides one.
    pub fn from_context() -> Option<Self> {
        use_context::<LiveClient>().map(Watcher::client)
    }

    /// Subscribes to `range` from `from` (`None`: from now).
    pub fn subscribe(
        &self,
        range: WatchRange,
        prev_kv: bool,
        from: Option<Revision>,
        handler: impl Fn(Delivery) + 'static,
    ) -> SubId {
        (self.subscribe)(range, prev_kv, from, Rc::new(handler))
    }

    pub fn unsubscribe(&self, id: SubId) {
        (self.unsubscribe)(id);
    }
}

/// The connection as a view sees it.
#[derive(Clone, Copy, Debug)]
pub struct Health {
    /// Changes can reach the view: the tab's WebSocket is not down, no
    /// subscription is waiting for the backend to reach etcd, and the last
    /// status poll reached the backend and found etcd connected (or has not
    /// answered yet). Notifies at every poll, not only on changes.
    pub up: Signal<bool>,
}

impl Health {
    /// From the app's status polling and live client (either may be
    /// missing: then it does not count).
    pub fn from_context() -> Self {
        let client = use_context::<LiveClient>();
        let connection = use_context::<ConnectionState>();
        Health {
            up: Signal::derive(move || {
                let socket = client.is_none_or(|c| {
                    c.socket.get() != SocketState::Down && !c.any_reconnecting.get()
                });
                let polled = connection.is_none_or(|c| {
                    c.failure.with(Option::is_none)
                        && c.status.with(|s| {
                            !s.as_ref().is_some_and(|s| {
                                matches!(s.connection, Connection::Disconnected { .. })
                            })
                        })
                });
                socket && polled
            }),
        }
    }
}

/// Feeds the connection into `freshness` (stale since it went down) and
/// calls `retry` whenever it is healthy while the last read failed for a
/// passing reason: the one "retry when healthy" of the app.
pub fn follow_link(health: Health, freshness: RwSignal<Freshness>, retry: impl Fn() + 'static) {
    Effect::new(move |_| {
        let up = health.up.get();
        let now = now_ms();
        if freshness.try_update(|f| f.link(up, now)) == Some(true) {
            retry();
        }
    });
}

/// A running [`watch_changes`]; ends with [`ChangeWatch::stop`].
#[derive(Clone, Debug, Default)]
pub struct ChangeWatch {
    inner: Rc<RefCell<ChangeInner>>,
}

#[derive(Debug, Default)]
struct ChangeInner {
    id: Option<SubId>,
    pending: Option<TimeoutHandle>,
    stopped: bool,
}

impl ChangeWatch {
    /// Ends the subscription and any waiting report.
    pub fn stop(&self, watcher: &Watcher) {
        let mut inner = self.inner.borrow_mut();
        inner.stopped = true;
        if let Some(timer) = inner.pending.take() {
            timer.clear();
        }
        if let Some(id) = inner.id.take() {
            drop(inner);
            watcher.unsubscribe(id);
        }
    }
}

/// Watches `range` from `from` and calls `changed` when events pass
/// `touches`, the first starting a wait of `debounce` that later ones
/// join, and at once after a gap (the snapshot that follows is not needed:
/// the caller reads again).
pub fn watch_changes(
    watcher: &Watcher,
    range: WatchRange,
    from: Revision,
    touches: fn(&WatchEvent) -> bool,
    debounce: Duration,
    changed: Callback<()>,
) -> ChangeWatch {
    let watch = ChangeWatch::default();
    let inner = Rc::downgrade(&watch.inner);
    let id = watcher.subscribe(range, false, Some(from), move |delivery| {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        match delivery {
            Delivery::Gap(_) => changed.run(()),
            Delivery::Events(events) if events.iter().any(touches) => {
                let mut state = inner.borrow_mut();
                if state.pending.is_some() || state.stopped {
                    return;
                }
                let weak = Rc::downgrade(&inner);
                state.pending = set_timeout_with_handle(
                    move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.borrow_mut().pending = None;
                            changed.run(());
                        }
                    },
                    debounce,
                )
                .ok();
            }
            _ => {}
        }
    });
    watch.inner.borrow_mut().id = Some(id);
    watch
}

type Fetch<T> = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, ApiFailure>>>>>;

/// Bookkeeping of one [`LiveView`] that is not its state.
#[derive(Debug, Default)]
struct Control {
    /// The debounced re-read waiting to start.
    pending: Option<TimeoutHandle>,
    /// The re-read when the first shown countdown reaches zero.
    zero: Option<TimeoutHandle>,
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
            self.arm_zero(now);
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

    /// Re-reads once when the first shown countdown reaches zero.
    fn arm_zero(self, read_at_ms: u64) {
        let Some(control) = self.control() else {
            return;
        };
        let zero = self
            .state
            .with_untracked(|s| s.data.as_ref().and_then(|d| d.zero_at_ms(read_at_ms)));
        let mut control = control.borrow_mut();
        if let Some(timer) = control.zero.take() {
            timer.clear();
        }
        if let Some(at) = zero {
            let wait = Duration::from_millis(at.saturating_sub(now_ms()));
            control.zero = set_timeout_with_handle(
                move || {
                    if let Some(control) = self.control() {
                        control.borrow_mut().zero = None;
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
            for timer in [control.pending.take(), control.zero.take()]
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
