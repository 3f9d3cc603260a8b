//! The watch hub: one upstream etcd watch per (etcd identity, key range),
//! shared by every subscriber of that range, and the promise that each
//! subscriber sees every change exactly once, in revision order, or is told
//! of a gap and given a snapshot.
//!
//! # Parts
//! - [`upstream`]: the task that owns one etcd watch, keeps it alive through
//!   token expiry, stream breaks and member deaths by re-authenticating and
//!   re-watching from the last revision + 1, and hands each whole revision to
//!   its subscribers' queues without waiting for any of them; it remembers
//!   recent revisions to replay them to subscribers that resume.
//! - [`queue`]: the bounded buffer per subscriber; overflow turns into a
//!   resync instead of memory growth or silent loss.
//! - [`subscription`]: one subscriber's view: joining an upstream at the
//!   revision it asked for, draining its queue, and resyncing with a gap
//!   notice and a paged snapshot when needed.
//!
//! # Invariants
//! - An upstream's `position` is the highest revision up to which it has
//!   handed every change of its range to its queues.
//! - A subscriber that asks for revisions from `S` is attached only to an
//!   upstream that will hand it every revision from `S`: from its history if
//!   `S` is past its history floor, live otherwise; else it gets a private
//!   upstream that starts at `S`.
//! - A subscription never emits a revision at or below the highest revision
//!   it has already told (`seen`), so overlaps cannot become duplicates.

mod queue;
mod subscription;
mod upstream;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use etcdeck_shared::Revision;
use etcdeck_shared::ws::{WatchEvent, WatchRange};

use crate::etcd::{EtcdError, EtcdSession};
use crate::metrics::Metrics;

pub use subscription::{Out, Subscription, events_text};
use upstream::Joined;

/// Whose permissions an upstream watch uses and which keys it covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamKey {
    /// The etcd user the watch is made as (`None` without auth).
    pub user: Option<String>,
    pub range: WatchRange,
}

/// Why the hub ended a subscription for good. The hub only says what
/// happened; the API decides how a browser is told (`api/error.rs`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ended {
    /// etcd denies watching the range to the etcd `user`, even with a
    /// freshly issued token.
    #[error("etcd denies watching this range to the etcd user {user:?}: {reason}")]
    WatchDenied {
        user: Option<String>,
        reason: String,
    },
    /// Reading the range (its start revision or a snapshot page) failed in
    /// a way that retrying cannot fix.
    #[error("reading the range failed: {0}")]
    ReadFailed(EtcdError),
}

/// The hub. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<HubInner>,
}

#[derive(Debug)]
struct HubInner {
    upstreams: Mutex<HashMap<UpstreamKey, Arc<upstream::Upstream>>>,
    next_subscriber: AtomicU64,
    /// Private upstreams open now (subscribers resuming from far back).
    private: AtomicUsize,
    metrics: Metrics,
}

/// Counts for operators and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HubStats {
    /// Open upstream etcd watches (one per identity and range).
    pub upstream_watches: usize,
    /// Subscribers attached to them.
    pub subscribers: usize,
}

impl Hub {
    /// A hub that counts its subscriptions, watches and gaps in `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Hub {
            inner: Arc::new(HubInner {
                upstreams: Mutex::new(HashMap::new()),
                next_subscriber: AtomicU64::new(1),
                private: AtomicUsize::new(0),
                metrics,
            }),
        }
    }

    /// Where the hub's parts count.
    fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A new subscription to `range` as `session`'s etcd user: every change
    /// from revision `from` (or from now). Nothing happens until it is first
    /// polled.
    pub fn subscribe(
        &self,
        session: &EtcdSession,
        range: WatchRange,
        from: Option<Revision>,
    ) -> Subscription {
        let id = self.inner.next_subscriber.fetch_add(1, Ordering::Relaxed);
        self.metrics().subscription_started();
        Subscription::new(self.clone(), session.clone(), id, range, from)
    }

    pub fn stats(&self) -> HubStats {
        let upstreams = self.inner.lock();
        let private = self.inner.private.load(Ordering::Relaxed);
        HubStats {
            upstream_watches: upstreams.len() + private,
            subscribers: upstreams
                .values()
                .map(|u| u.subscriber_count())
                .sum::<usize>()
                + private,
        }
    }

    /// Attaches `queue` to an upstream of `range` that will hand it every
    /// revision from `start`: the shared one, started here if there is none,
    /// or, when `start` is older than the shared one remembers, a private one.
    fn attach(
        &self,
        subscriber: u64,
        session: &EtcdSession,
        range: &WatchRange,
        start: Revision,
        queue: &Arc<queue::Queue>,
    ) -> Arc<upstream::Upstream> {
        let key = UpstreamKey {
            user: session.user().map(str::to_owned),
            range: range.clone(),
        };
        let mut upstreams = self.inner.lock();
        if let Some(existing) = upstreams.get(&key) {
            match existing.attach(subscriber, start, queue) {
                Joined::Yes => return existing.clone(),
                Joined::TooOld => {
                    let private =
                        upstream::Upstream::start(self.clone(), session.clone(), key, start, true);
                    private.attach(subscriber, start, queue);
                    self.inner.private.fetch_add(1, Ordering::Relaxed);
                    return private;
                }
                Joined::Ended => {}
            }
        }
        let fresh =
            upstream::Upstream::start(self.clone(), session.clone(), key.clone(), start, false);
        fresh.attach(subscriber, start, queue);
        upstreams.insert(key, fresh.clone());
        fresh
    }

    /// Forgets `upstream` if it is still the registered one for its key and
    /// has no subscribers. Returns whether it was removed.
    fn retire(&self, upstream: &Arc<upstream::Upstream>) -> bool {
        if upstream.is_private() {
            self.inner.private.fetch_sub(1, Ordering::Relaxed);
            return upstream.end_if_unused();
        }
        let mut upstreams = self.inner.lock();
        let registered = upstreams
            .get(upstream.key())
            .is_some_and(|u| Arc::ptr_eq(u, upstream));
        if !registered {
            return true;
        }
        if upstream.end_if_unused() {
            upstreams.remove(upstream.key());
            true
        } else {
            false
        }
    }

    /// Forgets `upstream` unconditionally (it ended for good).
    fn remove(&self, upstream: &Arc<upstream::Upstream>) {
        if upstream.is_private() {
            self.inner.private.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let mut upstreams = self.inner.lock();
        if upstreams
            .get(upstream.key())
            .is_some_and(|u| Arc::ptr_eq(u, upstream))
        {
            upstreams.remove(upstream.key());
        }
    }
}

impl HubInner {
    fn lock(&self) -> MutexGuard<'_, HashMap<UpstreamKey, Arc<upstream::Upstream>>> {
        self.upstreams.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One whole revision of changes to one range, shared by every subscriber.
#[derive(Debug)]
pub struct Batch {
    /// When the hub received it from etcd (for the delivery delay metric).
    pub received: std::time::Instant,
    pub revision: Revision,
    pub events: Vec<WatchEvent>,
    /// Roughly what the batch occupies, for the queues' byte bound.
    pub bytes: usize,
    json_with_prev: OnceLock<String>,
    json_without_prev: OnceLock<String>,
}

impl Batch {
    fn new(revision: Revision, events: Vec<WatchEvent>, bytes: usize) -> Self {
        Batch {
            received: std::time::Instant::now(),
            revision,
            events,
            bytes,
            json_with_prev: OnceLock::new(),
            json_without_prev: OnceLock::new(),
        }
    }

    fn from_events(revision: Revision, events: Vec<WatchEvent>) -> Self {
        let bytes = events
            .iter()
            .map(|e| {
                let prev = e
                    .prev
                    .as_ref()
                    .map_or(0, |p| p.key.0.len() + p.value.0.len());
                128 + e.kv.key.0.len() + e.kv.value.0.len() + prev
            })
            .sum();
        Batch::new(revision, events, bytes)
    }

    /// The batch's events as comma-separated JSON objects, serialised once
    /// however many subscribers receive them.
    pub fn json(&self, prev_kv: bool) -> &str {
        let cell = if prev_kv {
            &self.json_with_prev
        } else {
            &self.json_without_prev
        };
        cell.get_or_init(|| {
            let mut out = String::new();
            for (i, event) in self.events.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let json = if prev_kv || event.prev.is_none() {
                    serde_json::to_string(event)
                } else {
                    serde_json::to_string(&WatchEvent {
                        prev: None,
                        ..event.clone()
                    })
                };
                // Serialising plain data structs cannot fail.
                out.push_str(&json.unwrap_or_default());
            }
            out
        })
    }
}
