//! One upstream etcd watch, shared by every subscriber of its range.
//!
//! The task in [`Upstream::run`] keeps the watch alive by itself. When etcd
//! cancels it for an auth reason (the token expired, the auth store changed),
//! it re-authenticates and re-watches at once; when the stream breaks (etcd
//! restarted, the member it was connected to died) it tells subscribers
//! "reconnecting", retries with short capped backoff on any endpoint, and
//! re-watches from `position + 1`, so nothing is lost and nothing repeats.
//! Only two things end it: no subscribers for [`LINGER`], or etcd denying
//! the range to the user with a freshly issued token.
//!
//! It remembers its recent revisions ([`HISTORY_BATCHES`], [`HISTORY_BYTES`])
//! so that a subscriber resuming from a revision it already passed is
//! replayed from memory; one resuming from further back gets a private
//! upstream of its own that starts where it asked.
//!
//! Progress: etcd 3.4 answers a progress request at once with its current
//! revision, even while the watch still has events of earlier revisions on
//! their way (a watch replaying history, or the last write in flight). So
//! the upstream asks only on a watch open for [`SETTLE`] and quiet for
//! [`PROGRESS_INTERVAL`], and believes an answer only after [`GRACE`] more:
//! any event that was on its way has arrived by then and was handed out
//! first. Events are never dropped on the strength of a progress revision:
//! only an event revision already handed out is skipped.
//!
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use etcdeck_shared::ws::{EventKind, WatchEvent};
use etcdeck_shared::{LeaseId, Revision};
use tokio::sync::Notify;

use super::queue::{Item, Queue};
use super::{Batch, Ended, Hub, UpstreamKey};
use crate::etcd::{EtcdSession, RangeWatch, WatchEnd, WatchMessage};

/// How long an upstream without subscribers stays open, so that a browser
/// moving back and forth does not re-create it each time.
const LINGER: Duration = Duration::from_secs(10);
/// How long an idle watch waits before asking etcd for progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// How long a watch must have been open before progress is asked for.
const SETTLE: Duration = Duration::from_secs(3);
/// How long a progress answer waits before it is believed.
const GRACE: Duration = Duration::from_secs(2);
/// Backoff between re-watch attempts after a failure.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));
/// Recent revisions kept for replay to resuming subscribers.
pub const HISTORY_BATCHES: usize = 1_024;
/// Bytes of recent revisions kept for replay.
pub const HISTORY_BYTES: usize = 8 * 1024 * 1024;

/// How a subscriber joined an upstream.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined {
    /// It will receive every revision from the one it asked for.
    Yes,
    /// The revision it asked for is older than this upstream remembers.
    TooOld,
    /// This upstream has ended.
    Ended,
}

#[derive(Debug)]
pub struct Upstream {
    hub: Hub,
    /// The session of the subscriber that started it: the same etcd user
    /// as every subscriber it serves (`key.user`).
    session: EtcdSession,
    key: UpstreamKey,
    /// Private upstreams serve one subscriber and are not in the registry.
    private: bool,
    state: Mutex<State>,
    /// Woken when subscribers leave.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Every change up to here has been handed to the queues.
    position: Revision,
    subscribers: HashMap<u64, Arc<Queue>>,
    /// The most recent revisions handed out, oldest first.
    history: VecDeque<Arc<Batch>>,
    history_bytes: usize,
    /// `history` holds every revision of the range after this one.
    history_floor: Revision,
    /// Why the watch is down, while it is.
    reconnecting: Option<Arc<str>>,
    ended: bool,
}

impl Upstream {
    /// Starts the task of a new upstream that will watch from `start`.
    pub fn start(
        hub: Hub,
        session: EtcdSession,
        key: UpstreamKey,
        start: Revision,
        private: bool,
    ) -> Arc<Self> {
        let upstream = Arc::new(Upstream {
            hub,
            session,
            key,
            private,
            state: Mutex::new(State {
                position: Revision(start.0 - 1),
                subscribers: HashMap::new(),
                history: VecDeque::new(),
                history_bytes: 0,
                history_floor: Revision(start.0 - 1),
                reconnecting: None,
                ended: false,
            }),
            changed: Notify::new(),
        });
        upstream.hub.metrics().upstream_started();
        tokio::spawn(upstream.clone().run());
        upstream
    }

    pub fn key(&self) -> &UpstreamKey {
        &self.key
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscriber_count(&self) -> usize {
        self.lock().subscribers.len()
    }

    pub fn is_private(&self) -> bool {
        self.private
    }

    /// Adds a subscriber that wants every change from `start`: revisions
    /// this upstream already handed out are replayed from its history.
    pub fn attach(&self, id: u64, start: Revision, queue: &Arc<Queue>) -> Joined {
        let mut state = self.lock();
        if state.ended {
            return Joined::Ended;
        }
        if start <= state.history_floor {
            return Joined::TooOld;
        }
        for batch in state.history.iter().filter(|b| b.revision >= start) {
            queue.push(Item::Batch(batch.clone()));
        }
        if let Some(reason) = &state.reconnecting {
            queue.push(Item::Reconnecting(reason.clone()));
        }
        state.subscribers.insert(id, queue.clone());
        Joined::Yes
    }

    pub fn detach(&self, id: u64) {
        let now_empty = {
            let mut state = self.lock();
            state.subscribers.remove(&id);
            state.subscribers.is_empty()
        };
        if now_empty {
            self.changed.notify_one();
        }
    }

    /// Marks the upstream ended if no one is subscribed. Called with the
    /// hub's registry locked, so no one can attach in between.
    pub fn end_if_unused(&self) -> bool {
        let mut state = self.lock();
        if state.subscribers.is_empty() {
            state.ended = true;
        }
        state.ended
    }

    fn position(&self) -> Revision {
        self.lock().position
    }

    fn set_reconnecting(&self, reason: &str) {
        let mut state = self.lock();
        if state.reconnecting.is_none() {
            tracing::info!(range = ?self.key.range, %reason, "watch lost; re-watching");
            let reason: Arc<str> = Arc::from(reason);
            state.reconnecting = Some(reason.clone());
            for queue in state.subscribers.values() {
                queue.push(Item::Reconnecting(reason.clone()));
            }
        }
    }

    fn set_live(&self) {
        let mut state = self.lock();
        if state.reconnecting.take().is_some() {
            tracing::info!(range = ?self.key.range, position = %state.position, "watch live again");
            for queue in state.subscribers.values() {
                queue.push(Item::Live);
            }
        }
    }

    /// Ends for good, telling every subscriber why.
    fn close(self: &Arc<Self>, why: Ended) {
        self.hub.remove(self);
        let mut state = self.lock();
        state.ended = true;
        for queue in state.subscribers.values() {
            queue.close(why.clone());
        }
    }

    /// The watch loop: runs until no one is subscribed or the range is
    /// denied.
    async fn run(self: Arc<Self>) {
        let session = self.session.clone();
        let mut watch: Option<RangeWatch> = None;
        let mut opened_at = Instant::now();
        // The highest revision whose events were handed out.
        let mut last_event = self.position();
        // A progress answer waiting out its grace period.
        let mut pending_progress: Option<(Revision, Instant)> = None;
        let mut backoff = BACKOFF.0;
        // Whether the token was renewed since the last successful watch: a
        // denial with a fresh token is a real one.
        let mut fresh_token = false;
        let mut last_heard = Instant::now();
        let mut leases = LeaseCache::default();
        // Since when no one has been subscribed; the watch keeps being read
        // meanwhile, so a subscriber coming back gets events at once.
        let mut unused_since: Option<Instant> = None;
        loop {
            if self.subscriber_count() == 0 {
                let since = *unused_since.get_or_insert_with(Instant::now);
                if (self.private || since.elapsed() >= LINGER) && self.hub.retire(&self) {
                    tracing::debug!(range = ?self.key.range, "upstream watch closed: no subscribers");
                    return;
                }
            } else {
                unused_since = None;
            }
            let linger_left = unused_since.map(|since| LINGER.saturating_sub(since.elapsed()));
            let Some(open) = watch.as_mut() else {
                let start = Revision(self.position().0 + 1);
                match session.open_watch(&self.key.range, start).await {
                    Ok(opened) => {
                        watch = Some(opened);
                        opened_at = Instant::now();
                        pending_progress = None;
                        backoff = BACKOFF.0;
                        fresh_token = false;
                        last_heard = Instant::now();
                        self.set_live();
                    }
                    Err(end) => {
                        if let Some(why) = self
                            .recover(&session, end, &mut fresh_token, &mut backoff)
                            .await
                        {
                            self.close(why);
                            return;
                        }
                    }
                }
                continue;
            };
            let ask_at = (last_heard + PROGRESS_INTERVAL).max(opened_at + SETTLE);
            let believe_at = pending_progress.map(|(_, at)| at + GRACE);
            let message = tokio::select! {
                message = open.next() => message,
                _ = tokio::time::sleep_until(ask_at.into()) => {
                    last_heard = Instant::now();
                    if let Err(err) = open.request_progress().await {
                        tracing::debug!(error = %err, "progress request failed");
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(believe_at.unwrap_or(ask_at).into()), if believe_at.is_some() => {
                    if let Some((revision, _)) = pending_progress.take() {
                        let mut state = self.lock();
                        if revision > state.position {
                            state.position = revision;
                            for queue in state.subscribers.values() {
                                queue.push(Item::Progress(revision));
                            }
                        }
                    }
                    continue;
                }
                _ = self.changed.notified() => continue,
                _ = tokio::time::sleep(linger_left.unwrap_or_default()), if linger_left.is_some() => continue,
            };
            last_heard = Instant::now();
            match message {
                WatchMessage::Revisions(groups) => {
                    let live_after = open.created_at;
                    for (revision, mut events) in groups {
                        if revision <= last_event {
                            // Already handed out; never repeat one.
                            continue;
                        }
                        last_event = revision;
                        if revision > live_after {
                            leases.mark_ended(&session, &mut events).await;
                        }
                        let batch = Arc::new(Batch::from_events(revision, events));
                        let mut state = self.lock();
                        if revision <= state.position {
                            tracing::warn!(range = ?self.key.range, %revision, position = %state.position,
                                "an event arrived after progress had passed it");
                        }
                        state.position = state.position.max(revision);
                        for queue in state.subscribers.values() {
                            queue.push(Item::Batch(batch.clone()));
                        }
                        state.remember(batch);
                    }
                }
                WatchMessage::Progress(revision) => {
                    if pending_progress.is_none_or(|(pending, _)| revision > pending) {
                        pending_progress = Some((revision, Instant::now()));
                    }
                }
                WatchMessage::Ended(end) => {
                    watch = None;
                    if let Some(why) = self
                        .recover(&session, end, &mut fresh_token, &mut backoff)
                        .await
                    {
                        self.close(why);
                        return;
                    }
                }
            }
        }
    }

    /// Acts on the end of a watch so that the next attempt can succeed.
    /// Returns why to close when the range is denied for real.
    async fn recover(
        &self,
        session: &crate::etcd::EtcdSession,
        end: WatchEnd,
        fresh_token: &mut bool,
        backoff: &mut Duration,
    ) -> Option<Ended> {
        let denied = end.is_permission_denied();
        self.hub.metrics().rewatch(&end);
        match end {
            WatchEnd::Auth(reason) => {
                if *fresh_token && denied {
                    tracing::info!(range = ?self.key.range, %reason, "watch denied by etcd");
                    return Some(Ended::WatchDenied {
                        user: self.key.user.clone(),
                        reason,
                    });
                }
                tracing::debug!(range = ?self.key.range, %reason, "watch needs a new token");
                if *fresh_token {
                    // A new token did not help: do not spin.
                    self.wait_after(&reason, backoff).await;
                }
                match session.refresh_token().await {
                    Ok(()) => *fresh_token = true,
                    Err(err) => self.wait_after(&err.to_string(), backoff).await,
                }
            }
            WatchEnd::Compacted(compact_revision) => {
                // The resume point is gone: restart from now and let every
                // subscriber resync from a snapshot.
                match session.current_revision().await {
                    Ok(now) => {
                        tracing::warn!(range = ?self.key.range, %compact_revision, "history compacted past the watch's resume point");
                        let mut state = self.lock();
                        state.position = now;
                        state.history.clear();
                        state.history_bytes = 0;
                        state.history_floor = now;
                        for queue in state.subscribers.values() {
                            queue.push(Item::Compacted(compact_revision));
                        }
                    }
                    Err(err) => self.wait_after(&err.to_string(), backoff).await,
                }
            }
            WatchEnd::Unavailable(reason) => {
                *fresh_token = false;
                self.wait_after(&reason, backoff).await;
            }
        }
        None
    }

    async fn wait_after(&self, reason: &str, backoff: &mut Duration) {
        self.set_reconnecting(reason);
        tokio::time::sleep(*backoff).await;
        *backoff = (*backoff * 2).min(BACKOFF.1);
    }
}

impl State {
    fn remember(&mut self, batch: Arc<Batch>) {
        self.history_bytes += batch.bytes;
        self.history.push_back(batch);
        while self.history.len() > HISTORY_BATCHES || self.history_bytes > HISTORY_BYTES {
            let Some(oldest) = self.history.pop_front() else {
                break;
            };
            self.history_bytes -= oldest.bytes;
            self.history_floor = oldest.revision;
        }
    }
}

/// Which leases are gone, remembered for a while so that the keys of one
/// lease deleted together cost one lookup.
#[derive(Debug, Default)]
struct LeaseCache {
    gone: HashMap<LeaseId, (bool, Instant)>,
}

impl LeaseCache {
    const KEEP: Duration = Duration::from_secs(5);

    /// Marks deletes of keys whose lease no longer exists as `lease_ended`.
    async fn mark_ended(&mut self, session: &crate::etcd::EtcdSession, events: &mut [WatchEvent]) {
        self.gone.retain(|_, (_, at)| at.elapsed() < Self::KEEP);
        for event in events.iter_mut() {
            if event.kind != EventKind::Delete {
                continue;
            }
            let Some(lease) = event.prev.as_ref().and_then(|p| p.lease) else {
                continue;
            };
            let gone = match self.gone.get(&lease) {
                Some((gone, _)) => *gone,
                None => {
                    let gone = session.lease_gone(lease).await;
                    self.gone.insert(lease, (gone, Instant::now()));
                    gone
                }
            };
            event.lease_ended = gone;
        }
    }
}
