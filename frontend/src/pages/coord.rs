//! The coordination pages (`/leases`, `/locks`, `/elections`, `/queues`,
//! `/services`) and what keeps them live: [`LiveRead`] reads one endpoint,
//! watches what the answer shows through the tab's [`LiveClient`] from the
//! answer's `revision + 1`, and reads again (at most every
//! [`CHANGE_DEBOUNCE`]) when an event can change the answer, after a gap,
//! when a shown lease's countdown reaches zero, and when the connection is
//! healthy again after a failed read. Nothing polls: the only timer that
//! repeats is the one-second clock the TTL countdowns are drawn with.
//!
//! Views that can gain items anywhere (a lock taken under a new name) watch
//! the whole keyspace and filter events with [`CoordAnswer::touches`]; an
//! etcd user who may not do that watches the shown prefixes instead (new
//! names then appear with the next read). On a gap a subscription is ended
//! at once rather than fed its snapshot: the re-read replaces it. An answer
//! read at a revision before a change the view has seen is shown, and asked
//! for again shortly (the backend may answer from a reading up to a second
//! old), so the page always ends up at least as new as its events; so is
//! an answer that lacks a key a change created (a new lock's first key), a
//! few times.
//!
//! The leases page also acts: [`LeaseActions`] grants a lease, renews one
//! once or revokes one, for sessions that may write, and reads the page
//! again after each.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use etcdeck_shared::limits::lease_ttl_error;
use etcdeck_shared::ws::{EventKind, SubId, WatchRange};
use etcdeck_shared::{Bytes, Connection, ErrorCode, LeaseId, Revision};
use leptos::prelude::*;

use crate::api::live::LiveClient;
use crate::api::{self, ApiFailure};
use crate::components::coord::{ElectionsView, LeasesView, LocksView, QueuesView, ServicesView};
use crate::connection::ConnectionState;
use crate::coord::{CoordAnswer, first_zero_at_ms, not_yet_shown, watch_plan};
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

/// Shown when the etcd user may not watch every key.
pub const WHOLE_DENIED_NOTE: &str = "This etcd user may not watch every key: what is shown \
    follows along live, but new names appear only when the page reads again.";

/// What a coordination page holds: the last answer, when it arrived, and
/// what went wrong since.
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
    /// Live updates ended for some prefix (say, permission withdrawn).
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

type Fetch<T> = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<T, ApiFailure>>>>>;

/// Bookkeeping of one [`LiveRead`].
#[derive(Debug, Default)]
struct Control {
    in_flight: bool,
    /// Something asked for a read while one was in flight.
    again: bool,
    /// The debounced re-read waiting to start.
    pending: Option<TimeoutHandle>,
    /// The re-read when the first shown countdown reaches zero.
    zero: Option<TimeoutHandle>,
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

/// One endpoint read and kept current (see the module header).
pub struct LiveRead<T: CoordAnswer> {
    pub state: RwSignal<ReadState<T>>,
    fetch: StoredValue<Fetch<T>, LocalStorage>,
    control: StoredValue<Rc<RefCell<Control>>, LocalStorage>,
    client: Option<LiveClient>,
}

impl<T: CoordAnswer> Clone for LiveRead<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: CoordAnswer> Copy for LiveRead<T> {}

impl<T: CoordAnswer> fmt::Debug for LiveRead<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveRead").finish_non_exhaustive()
    }
}

impl<T: CoordAnswer> LiveRead<T> {
    /// Reads at once and keeps reading as described above, until the
    /// calling owner is cleaned up.
    pub fn start<F, Fut>(fetch: F) -> Self
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = Result<T, ApiFailure>> + 'static,
    {
        let fetch: Fetch<T> = Rc::new(move || Box::pin(fetch()));
        let live = LiveRead {
            state: RwSignal::new(ReadState::default()),
            fetch: StoredValue::new_local(fetch),
            control: StoredValue::new_local(Rc::new(RefCell::new(Control::default()))),
            client: use_context::<LiveClient>(),
        };
        live.read();
        live.retry_when_healthy();
        on_cleanup(move || live.stop());
        live
    }

    fn control(self) -> Option<Rc<RefCell<Control>>> {
        self.control.try_get_value()
    }

    /// Reads now, or right after the read in flight.
    pub fn read(self) {
        let Some(control) = self.control() else {
            return;
        };
        {
            let mut control = control.borrow_mut();
            if control.stopped {
                return;
            }
            if control.in_flight {
                control.again = true;
                return;
            }
            control.in_flight = true;
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
        self.state.try_update(|state| match answer {
            Ok(data) => {
                state.data = Some(data);
                state.read_at_ms = now;
                state.error = None;
            }
            Err(error) => {
                // Denied means what was shown may no longer be seen.
                if error.code() == Some(ErrorCode::PermissionDenied) {
                    state.data = None;
                }
                state.error = Some(error);
            }
        });
        let answered_at = self
            .state
            .with_untracked(|s| s.data.as_ref().map(CoordAnswer::revision));
        let (again, stale) = {
            let mut control = control.borrow_mut();
            control.in_flight = false;
            let mut stale = false;
            if ok {
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
                    .with_untracked(|s| s.data.as_ref().map(|d| not_yet_shown(d, &control.unseen)))
                    .unwrap_or_default();
                if !unseen.is_empty() && control.unseen_retries < MAX_UNSEEN_RETRIES {
                    control.unseen_retries += 1;
                    control.unseen = unseen;
                    stale = true;
                } else {
                    control.unseen.clear();
                    control.unseen_retries = 0;
                }
            }
            (std::mem::take(&mut control.again), stale)
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
        let ttls = self
            .state
            .with_untracked(|s| s.data.as_ref().map(CoordAnswer::ttls))
            .unwrap_or_default();
        let mut control = control.borrow_mut();
        if let Some(timer) = control.zero.take() {
            timer.clear();
        }
        if let Some(at) = first_zero_at_ms(&ttls, read_at_ms) {
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
        let (Some(client), Some(control)) = (self.client, self.control()) else {
            return;
        };
        let whole_denied = control.borrow().whole_denied;
        let Some((plan, revision)) = self.state.with_untracked(|s| {
            s.data
                .as_ref()
                .map(|d| (watch_plan(d, !whole_denied), d.revision()))
        }) else {
            return;
        };
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut control.borrow_mut().subs)
            .into_iter()
            .partition(|(range, _)| !plan.contains(range));
        control.borrow_mut().subs = kept;
        for (_, id) in gone {
            client.unsubscribe(id);
        }
        let from = Some(Revision(revision.0 + 1));
        for range in plan {
            if control.borrow().subs.iter().any(|(r, _)| *r == range) {
                continue;
            }
            let watched = range.clone();
            let id = client.subscribe(range.clone(), false, from, move |delivery| {
                self.delivered(&watched, delivery);
            });
            control.borrow_mut().subs.push((range, id));
        }
    }

    fn delivered(self, range: &WatchRange, delivery: Delivery) {
        match delivery {
            Delivery::Events(events) => {
                let touched = self.state.with_untracked(|s| {
                    s.data
                        .as_ref()
                        .is_none_or(|d| events.iter().any(|e| d.touches(e)))
                });
                if touched {
                    let latest = events.iter().map(|e| e.kv.mod_revision).max();
                    let created: Vec<(EventKind, i64, Bytes)> = self.state.with_untracked(|s| {
                        s.data
                            .as_ref()
                            .map(|d| {
                                events
                                    .iter()
                                    .filter(|e| d.touches(e))
                                    .map(|e| (e.kind, e.kv.version, e.kv.key.clone()))
                                    .collect()
                            })
                            .unwrap_or_default()
                    });
                    if let Some(control) = self.control() {
                        let mut control = control.borrow_mut();
                        control.wanted = control.wanted.max(latest);
                        for (kind, version, key) in created {
                            control.unseen.retain(|k| *k != key);
                            // Keys created (version 1) are what a new item
                            // shows up as.
                            if kind == EventKind::Put
                                && version == 1
                                && control.unseen.len() < MAX_UNSEEN
                            {
                                control.unseen.push(key);
                            }
                        }
                    }
                    self.read_soon();
                }
            }
            Delivery::Gap(_) => {
                // The snapshot that follows would be the whole range; the
                // re-read says all the view needs and subscribes again.
                self.forget(range, true);
                self.read_soon();
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
            _ => {}
        }
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
        if unsubscribe && let Some(client) = self.client {
            for id in ids {
                client.unsubscribe(id);
            }
        }
    }

    /// A read that failed because etcd or the backend was away is repeated
    /// once the status poll reports a healthy connection.
    fn retry_when_healthy(self) {
        let Some(connection) = use_context::<ConnectionState>() else {
            return;
        };
        Effect::new(move |_| {
            let healthy = connection.failure.with(Option::is_none)
                && connection.status.with(|s| {
                    s.as_ref()
                        .is_some_and(|s| matches!(s.connection, Connection::Connected { .. }))
                });
            let transient = self.state.with_untracked(|s| {
                s.error.as_ref().is_some_and(|e| {
                    matches!(e, ApiFailure::Network(_))
                        || e.code() == Some(ErrorCode::EtcdUnavailable)
                })
            });
            if healthy && transient {
                self.read();
            }
        });
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
            std::mem::take(&mut control.subs)
        };
        if let Some(client) = self.client {
            for (_, id) in subs {
                client.unsubscribe(id);
            }
        }
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

/// The browser's clock in ms since the epoch.
pub fn now_ms() -> u64 {
    let now = js_sys::Date::now();
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

/// The clock the countdowns are drawn with: the time now, updated every
/// second until the calling owner is cleaned up.
pub fn ticking_clock() -> Signal<u64> {
    let now = RwSignal::new(now_ms());
    let timer = set_interval_with_handle(
        move || {
            now.try_set(now_ms());
        },
        Duration::from_secs(1),
    )
    .ok();
    on_cleanup(move || {
        if let Some(timer) = timer {
            timer.clear();
        }
    });
    now.into()
}

#[component]
pub fn LeasesPage() -> impl IntoView {
    let live = LiveRead::start(api::leases);
    let now = ticking_clock();
    let actions = LeaseActions::new(
        crate::session::can_write(),
        crate::session::read_only_reason(),
        Callback::new(move |()| live.read()),
    );
    view! {
        <LeasesView
            state=live.state
            now=now
            on_retry=Callback::new(move |()| live.read())
            actions=actions
        />
    }
}

/// The TTL typed into "Grant lease", or a sentence on what is wrong with
/// it; a TTL out of range gets the very sentence the backend would answer
/// ([`lease_ttl_error`]).
pub fn parse_ttl(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("enter the lease's TTL in seconds".to_owned());
    }
    let ttl: i64 = text
        .parse()
        .map_err(|_| format!("the TTL must be a whole number of seconds, not \"{text}\""))?;
    match lease_ttl_error(ttl) {
        Some(why) => Err(why),
        None => Ok(ttl),
    }
}

/// What the leases page may do to leases, and how the last action went.
/// `Copy`, so closures take it.
#[derive(Clone, Copy, Debug)]
pub struct LeaseActions {
    /// Whether the session may write; the actions are hidden when not.
    pub can_write: Signal<bool>,
    /// Why it may not, for the screen.
    pub reason: Signal<Option<String>>,
    /// An action is on its way: the buttons are disabled.
    pub busy: RwSignal<bool>,
    /// The last action's outcome as a sentence: `Ok` for done, `Err` for
    /// refused or failed.
    pub outcome: RwSignal<Option<Result<String, String>>>,
    /// Called after every action (the page reads again).
    after: Callback<()>,
}

impl LeaseActions {
    pub fn new(
        can_write: Signal<bool>,
        reason: Signal<Option<String>>,
        after: Callback<()>,
    ) -> Self {
        LeaseActions {
            can_write,
            reason,
            busy: RwSignal::new(false),
            outcome: RwSignal::new(None),
            after,
        }
    }

    /// Runs one action unless one is on its way already.
    fn run<T, Fut>(self, what: String, action: Fut, done: impl FnOnce(T) -> String + 'static)
    where
        T: 'static,
        Fut: Future<Output = Result<T, ApiFailure>> + 'static,
    {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.outcome.set(None);
        leptos::task::spawn_local(async move {
            let answer = action.await;
            self.busy.try_set(false);
            self.outcome.try_set(Some(
                answer
                    .map(done)
                    .map_err(|failure| format!("could not {what}: {failure}")),
            ));
            self.after.run(());
        });
    }

    pub fn grant(self, ttl: i64) {
        self.run(
            "grant a lease".to_owned(),
            api::session::lease_grant(ttl),
            |granted| {
                format!(
                    "granted lease {} with a TTL of {} s",
                    granted.id, granted.ttl
                )
            },
        );
    }

    pub fn keep_alive(self, id: LeaseId) {
        self.run(
            format!("renew lease {id}"),
            api::session::lease_keep_alive(id),
            |kept| format!("renewed lease {}: {} s left", kept.id, kept.ttl),
        );
    }

    pub fn revoke(self, id: LeaseId) {
        self.run(
            format!("revoke lease {id}"),
            api::session::lease_revoke(id),
            move |written| {
                format!(
                    "revoked lease {id} at revision {}; its keys went with it",
                    written.revision
                )
            },
        );
    }
}

#[component]
pub fn LocksPage() -> impl IntoView {
    let live = LiveRead::start(api::locks);
    let now = ticking_clock();
    view! { <LocksView state=live.state now=now on_retry=Callback::new(move |()| live.read()) /> }
}

#[component]
pub fn ElectionsPage() -> impl IntoView {
    let live = LiveRead::start(api::elections);
    let now = ticking_clock();
    view! { <ElectionsView state=live.state now=now on_retry=Callback::new(move |()| live.read()) /> }
}

#[component]
pub fn QueuesPage() -> impl IntoView {
    let live = LiveRead::start(api::queues);
    let now = ticking_clock();
    view! { <QueuesView state=live.state now=now on_retry=Callback::new(move |()| live.read()) /> }
}

#[component]
pub fn ServicesPage() -> impl IntoView {
    let live = LiveRead::start(api::services);
    let now = ticking_clock();
    view! { <ServicesView state=live.state now=now on_retry=Callback::new(move |()| live.read()) /> }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;
    use etcdeck_shared::limits::MAX_LEASE_TTL;

    #[unit_test]
    fn a_ttl_is_whole_seconds_within_the_shared_limits() {
        assert_eq!(parse_ttl("60"), Ok(60));
        assert_eq!(parse_ttl(" 5 "), Ok(5));
        assert_eq!(parse_ttl("2592000"), Ok(MAX_LEASE_TTL));
        assert!(parse_ttl("").unwrap_err().contains("enter"));
        assert!(parse_ttl("0").unwrap_err().contains("at least 1"));
        assert!(parse_ttl("-3").unwrap_err().contains("at least 1"));
        assert!(parse_ttl("1.5").unwrap_err().contains("whole number"));
        assert!(parse_ttl("ten").unwrap_err().contains("whole number"));
        assert!(parse_ttl("2592001").unwrap_err().contains("at most"));
        assert!(parse_ttl("9000000000").unwrap_err().contains("at most"));
        assert!(parse_ttl("99999999999999999999").is_err());
    }

    #[unit_test]
    fn an_answer_older_than_a_seen_change_is_stale() {
        assert!(stale_answer(Some(Revision(4)), Some(Revision(5))));
        assert!(!stale_answer(Some(Revision(5)), Some(Revision(5))));
        assert!(!stale_answer(None, Some(Revision(5))));
    }
}
