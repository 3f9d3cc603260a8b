//! Queues: recognising the item keys of etcd's `recipes.Queue` and
//! `recipes.PriorityQueue` (pure logic), and the [`QueueTracker`] that
//! watches one queue prefix through the hub for its rates and depth history.
//!
//! A `Queue` item is `prefix/<Unix nanoseconds, 19 digits>` without a lease;
//! a `PriorityQueue` item is `prefix/<priority %05d>/<sequence %016d>`. Depth
//! is always counted by etcd (`count_only`), never by loading items.
//!
//! One tracker per configured queue, started with the server, whatever the
//! number of browsers: it subscribes to the queue's prefix in the watch hub
//! (new keys are enqueues, deletes are dequeues) and samples the depth every
//! [`DEPTH_SAMPLE_SECS`] seconds. Changes lost to a hub `gap` are not
//! counted; the depth samples do not depend on events.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcdeck_shared::coord::{DEPTH_SAMPLE_SECS, DepthSample, QueueKind};
use etcdeck_shared::ws::{EventKind, SubId, WatchRange};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::etcd::EtcdSession;
use crate::hub::{Hub, Out};
use crate::tree::range_end;

/// Depth samples kept: five minutes' worth.
pub const HISTORY_SAMPLES: usize = (300 / DEPTH_SAMPLE_SECS) as usize;
/// Rates are averaged over this many seconds.
const RATE_WINDOW_SECS: u64 = 60;
/// Rates are `None` until the tracker has watched this long.
const RATE_WARMUP: Duration = Duration::from_secs(10);
/// Wait before subscribing again after the hub closed a subscription
/// (permission denied, say): doubles from the first to the last.
const RESUBSCRIBE_AFTER: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(300));

/// The shape of a queue item key, after `prefix/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// A `Queue` item enqueued at this Unix time in nanoseconds.
    Plain { nanos: u64 },
    /// A `PriorityQueue` item.
    Priority { priority: u32 },
}

/// Parses the part of an item key after `prefix/`.
pub fn parse_item(rest: &[u8]) -> Option<Item> {
    if super::detect::is_unix_nanos(rest) {
        let nanos = std::str::from_utf8(rest).ok()?.parse().ok()?;
        return Some(Item::Plain { nanos });
    }
    let (priority, sequence) = (rest.get(..5)?, rest.get(6..)?);
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if rest.get(5) == Some(&b'/') && digits(priority) && sequence.len() == 16 && digits(sequence) {
        let priority = std::str::from_utf8(priority).ok()?.parse().ok()?;
        return Some(Item::Priority { priority });
    }
    None
}

impl Item {
    pub fn kind(self) -> QueueKind {
        match self {
            Item::Plain { .. } => QueueKind::Queue,
            Item::Priority { .. } => QueueKind::PriorityQueue,
        }
    }
}

/// Seconds between an item's enqueue time and `now`, never negative.
pub fn age_secs(nanos: u64, now: SystemTime) -> f64 {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64);
    now.saturating_sub(nanos) as f64 / 1e9
}

/// Unix milliseconds of the backend's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Counts of changes per second of tracker time, and depth samples.
#[derive(Debug)]
struct Counts {
    started: Instant,
    /// `(second since start, enqueues, dequeues)`, at most one per second,
    /// only the last [`RATE_WINDOW_SECS`].
    seconds: VecDeque<(u64, u64, u64)>,
    history: VecDeque<DepthSample>,
    /// The kind seen last, for when the queue is empty.
    kind: Option<QueueKind>,
}

impl Counts {
    fn new(now: Instant) -> Self {
        Counts {
            started: now,
            seconds: VecDeque::new(),
            history: VecDeque::new(),
            kind: None,
        }
    }

    fn record(&mut self, now: Instant, enqueued: u64, dequeued: u64) {
        let second = now.duration_since(self.started).as_secs();
        match self.seconds.back_mut() {
            Some((s, e, d)) if *s == second => {
                *e += enqueued;
                *d += dequeued;
            }
            _ => self.seconds.push_back((second, enqueued, dequeued)),
        }
        self.forget(second);
    }

    fn forget(&mut self, second: u64) {
        while self
            .seconds
            .front()
            .is_some_and(|(s, _, _)| s + RATE_WINDOW_SECS <= second)
        {
            self.seconds.pop_front();
        }
    }

    /// Enqueues and dequeues per second over the last minute (or since the
    /// tracker started), `None` while it has watched for less than
    /// [`RATE_WARMUP`].
    fn rates(&mut self, now: Instant) -> (Option<f64>, Option<f64>) {
        let watched = now.duration_since(self.started);
        if watched < RATE_WARMUP {
            return (None, None);
        }
        let second = watched.as_secs();
        self.forget(second);
        let window = second.clamp(1, RATE_WINDOW_SECS) as f64;
        let (e, d) = self
            .seconds
            .iter()
            .filter(|(s, _, _)| s + RATE_WINDOW_SECS > second)
            .fold((0, 0), |(e, d), (_, de, dd)| (e + de, d + dd));
        (Some(e as f64 / window), Some(d as f64 / window))
    }

    fn sample(&mut self, sample: DepthSample) {
        self.history.push_back(sample);
        while self.history.len() > HISTORY_SAMPLES {
            self.history.pop_front();
        }
    }
}

/// What a tracker knows now.
#[derive(Clone, Debug, PartialEq)]
pub struct Tracked {
    pub enqueue_per_sec: Option<f64>,
    pub dequeue_per_sec: Option<f64>,
    pub depth_history: Vec<DepthSample>,
    pub kind: Option<QueueKind>,
}

/// Rates and depth history of one queue prefix.
#[derive(Debug)]
pub struct QueueTracker {
    /// The queue's name, without the trailing `/`.
    pub prefix: Vec<u8>,
    counts: Mutex<Counts>,
}

impl QueueTracker {
    pub fn new(prefix: Vec<u8>) -> Self {
        QueueTracker {
            prefix,
            counts: Mutex::new(Counts::new(Instant::now())),
        }
    }

    /// The item range: `prefix/`.
    pub fn items(&self) -> Vec<u8> {
        let mut items = self.prefix.clone();
        items.push(b'/');
        items
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, enqueued: u64, dequeued: u64) {
        if enqueued + dequeued > 0 {
            self.counts().record(Instant::now(), enqueued, dequeued);
        }
    }

    pub fn sample(&self, depth: u64, kind: Option<QueueKind>) {
        let mut counts = self.counts();
        counts.sample(DepthSample {
            at_ms: now_ms(),
            depth,
        });
        if kind.is_some() {
            counts.kind = kind;
        }
    }

    pub fn tracked(&self) -> Tracked {
        let mut counts = self.counts();
        let (enqueue_per_sec, dequeue_per_sec) = counts.rates(Instant::now());
        Tracked {
            enqueue_per_sec,
            dequeue_per_sec,
            depth_history: counts.history.iter().copied().collect(),
            kind: counts.kind,
        }
    }

    /// Starts the tracker's two tasks (hub events, depth samples); both end
    /// when `shutdown` turns `true`.
    pub fn spawn(
        self: &Arc<Self>,
        hub: Hub,
        session: EtcdSession,
        shutdown: watch::Receiver<bool>,
    ) {
        tokio::spawn(self.clone().follow(hub, session.clone(), shutdown.clone()));
        tokio::spawn(self.clone().sample_depth(session, shutdown));
    }

    /// Counts puts of new keys and deletes under the queue prefix. The
    /// subscription is polled in this task alone and never cancelled
    /// halfway, except when the server stops.
    async fn follow(
        self: Arc<Self>,
        hub: Hub,
        session: EtcdSession,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let range = WatchRange::prefix(self.items());
        let mut backoff = RESUBSCRIBE_AFTER.0;
        loop {
            let mut subscription = hub.subscribe(&session, range.clone(), None);
            loop {
                let out = tokio::select! {
                    out = subscription.next(SubId(0)) => out,
                    _ = shutdown.changed() => return,
                };
                match out {
                    Some(Out::Events(batches)) => {
                        backoff = RESUBSCRIBE_AFTER.0;
                        let (mut enqueued, mut dequeued) = (0, 0);
                        for event in batches.iter().flat_map(|b| b.events.iter()) {
                            match event.kind {
                                EventKind::Put if event.kv.version == 1 => enqueued += 1,
                                EventKind::Put => {}
                                EventKind::Delete => dequeued += 1,
                            }
                        }
                        self.record(enqueued, dequeued);
                    }
                    Some(Out::Closed(why)) => {
                        tracing::warn!(queue = %String::from_utf8_lossy(&self.prefix), reason = %why, "queue watch closed");
                        break;
                    }
                    Some(Out::Message(_)) => {}
                    None => break,
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            backoff = (backoff * 2).min(RESUBSCRIBE_AFTER.1);
        }
    }

    async fn sample_depth(
        self: Arc<Self>,
        session: EtcdSession,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let items = self.items();
        let end = range_end(&items);
        let mut ticks = tokio::time::interval(Duration::from_secs(DEPTH_SAMPLE_SECS));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.changed() => return,
            }
            let counted = session.count_range(&items, &end, None).await;
            let first = session.first_key(&items, &end, None).await;
            match (counted, first) {
                (Ok((_, depth)), Ok((_, first))) => {
                    let kind = first
                        .and_then(|k| k.get(items.len()..).and_then(parse_item))
                        .map(Item::kind);
                    self.sample(depth, kind);
                }
                (Err(err), _) | (_, Err(err)) => {
                    tracing::debug!(error = %err, "queue depth sample failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn item_keys() {
        assert_eq!(
            parse_item(b"1763712000123456789"),
            Some(Item::Plain {
                nanos: 1_763_712_000_123_456_789
            })
        );
        assert_eq!(
            parse_item(b"00003/0000000000000012"),
            Some(Item::Priority { priority: 3 })
        );
        for bad in [
            &b""[..],
            b"176371200012345678",
            b"17637120001234567890",
            b"job-1",
            b"0003/0000000000000012",
            b"00003/000000000000012",
            b"00003-0000000000000012",
            b"0000a/0000000000000012",
            b"\xff",
        ] {
            assert_eq!(parse_item(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ages_are_never_negative() {
        let at = UNIX_EPOCH + Duration::from_secs(100);
        assert_eq!(age_secs(98_500_000_000, at), 1.5);
        assert_eq!(age_secs(200_000_000_000, at), 0.0);
    }

    #[test]
    fn rates_over_the_last_minute_after_a_warm_up() {
        let start = Instant::now();
        let mut counts = Counts::new(start);
        counts.record(start, 5, 0);
        assert_eq!(counts.rates(start + Duration::from_secs(5)), (None, None));
        counts.record(start + Duration::from_secs(9), 5, 10);
        assert_eq!(
            counts.rates(start + Duration::from_secs(10)),
            (Some(1.0), Some(1.0))
        );
        // A minute later the first second has left the window.
        counts.record(start + Duration::from_secs(61), 0, 6);
        assert_eq!(
            counts.rates(start + Duration::from_secs(65)),
            (Some(5.0 / 60.0), Some(16.0 / 60.0))
        );
        assert_eq!(
            counts.rates(start + Duration::from_secs(200)),
            (Some(0.0), Some(0.0))
        );
        assert!(counts.seconds.is_empty());
    }

    #[test]
    fn history_keeps_five_minutes() {
        let mut counts = Counts::new(Instant::now());
        for depth in 0..100 {
            counts.sample(DepthSample {
                at_ms: depth,
                depth,
            });
        }
        assert_eq!(counts.history.len(), HISTORY_SAMPLES);
        assert_eq!(
            counts.history.front().unwrap().depth,
            100 - HISTORY_SAMPLES as u64
        );
    }
}
