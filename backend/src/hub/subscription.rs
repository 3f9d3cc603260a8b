//! One subscriber's view of the hub.
//!
//! A [`Subscription`] is polled with [`Subscription::next`] by whoever
//! carries its messages (the WebSocket connection). It moves through phases:
//!
//! 1. **Attach**: check that the user may read the range, fix the start
//!    revision (the one asked for, or etcd's current revision + 1), join the
//!    range's upstream, answer `Subscribed`.
//! 2. **Live**: drain the queue, coalescing whole revisions into messages.
//! 3. **Resync**, after the queue overflowed or history was compacted:
//!    a `Gap`, then the range read page by page at one revision `R`, then live
//!    again from `R + 1`.

use std::sync::Arc;
use std::time::Duration;

use etcdeck_shared::Revision;
use etcdeck_shared::ws::{GapReason, ServerMessage, SubId, WatchRange};

use super::queue::{Item, Popped, Queue};
use super::upstream::Upstream;
use super::{Batch, Ended, Hub};
use crate::etcd::{EtcdError, EtcdSession};

/// Keys per snapshot page (fewer when values are large).
const SNAPSHOT_PAGE: usize = 500;
/// Bytes of events gathered into one message at most (a single revision
/// may exceed it: revisions are never split).
const MAX_MESSAGE_BYTES: usize = 512 * 1024;
/// Backoff between attempts while etcd is unreachable.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// What a subscription has to say next.
#[derive(Debug)]
pub enum Out {
    Message(ServerMessage),
    /// Whole revisions, in order, all after what was told before.
    Events(Vec<Arc<Batch>>),
    /// The subscription ended for good; nothing follows. How the browser is
    /// told is the API's business.
    Closed(Ended),
}

impl Out {
    /// When the hub received each revision this carries from etcd.
    pub fn received(&self) -> Vec<std::time::Instant> {
        match self {
            Out::Events(batches) => batches.iter().map(|b| b.received).collect(),
            Out::Message(_) | Out::Closed(_) => Vec::new(),
        }
    }
}

/// The JSON text of an events message for subscription `id`, built from
/// each batch's cached JSON instead of serialising the events again for
/// every subscriber.
pub fn events_text(id: SubId, batches: &[Arc<Batch>], prev_kv: bool) -> String {
    let mut text = format!(r#"{{"type":"events","id":{},"events":["#, id.0);
    for (i, batch) in batches.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(batch.json(prev_kv));
    }
    text.push_str("]}");
    text
}

#[derive(Debug)]
enum Phase {
    Attach,
    Live,
    Resync(GapReason),
    Snapshot {
        revision: Option<Revision>,
        after: Option<Vec<u8>>,
        limit: usize,
    },
    Done,
}

/// One subscriber to one range.
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    /// The etcd session (and so the etcd user) the subscriber reads as.
    session: EtcdSession,
    id: u64,
    range: WatchRange,
    from: Option<Revision>,
    queue: Arc<Queue>,
    upstream: Option<Arc<Upstream>>,
    /// The highest revision told to the subscriber.
    seen: Revision,
    phase: Phase,
    /// `Reconnecting` was said and `Live` not yet (for this subscription's
    /// own etcd reads: the start revision and snapshots).
    reconnecting: bool,
    backoff: Duration,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(upstream) = &self.upstream {
            upstream.detach(self.id);
        }
    }
}

impl Subscription {
    pub(super) fn new(
        hub: Hub,
        session: EtcdSession,
        id: u64,
        range: WatchRange,
        from: Option<Revision>,
    ) -> Self {
        Subscription {
            hub,
            session,
            id,
            range,
            from,
            queue: Arc::new(Queue::default()),
            upstream: None,
            seen: Revision(0),
            phase: Phase::Attach,
            reconnecting: false,
            backoff: BACKOFF.0,
        }
    }

    /// The highest revision told to the subscriber so far.
    pub fn seen(&self) -> Revision {
        self.seen
    }

    /// The next message for the subscriber, waiting as needed; `None` once
    /// the subscription has ended.
    pub async fn next(&mut self, id: SubId) -> Option<Out> {
        loop {
            let phase = std::mem::replace(&mut self.phase, Phase::Done);
            let (phase, out) = match phase {
                Phase::Attach => self.attach(id).await,
                Phase::Live => self.live(id).await,
                Phase::Resync(reason) => {
                    self.hub.metrics().gap(&reason);
                    self.queue.restart();
                    (
                        Phase::Snapshot {
                            revision: None,
                            after: None,
                            limit: SNAPSHOT_PAGE,
                        },
                        Some(Out::Message(ServerMessage::Gap { id, reason })),
                    )
                }
                Phase::Snapshot {
                    revision,
                    after,
                    limit,
                } => self.snapshot(id, revision, after, limit).await,
                Phase::Done => return None,
            };
            self.phase = phase;
            if out.is_some() {
                return out;
            }
        }
    }

    async fn attach(&mut self, id: SubId) -> (Phase, Option<Out>) {
        // Also checks, on every subscribe, that the user may read the range:
        // a shared upstream may have been opened before a permission was
        // revoked.
        let now = match self.session.readable_revision(&self.range).await {
            Ok(now) => now,
            Err(err) => return self.unreachable(id, Phase::Attach, err).await,
        };
        let start = match self.from {
            Some(from) => Revision(from.0.max(1)),
            None => Revision(now.0 + 1),
        };
        self.upstream =
            Some(
                self.hub
                    .attach(self.id, &self.session, &self.range, start, &self.queue),
            );
        self.seen = Revision(start.0 - 1);
        let phase = Phase::Live;
        let subscribed = ServerMessage::Subscribed {
            id,
            revision: self.seen,
        };
        (phase, Some(Out::Message(subscribed)))
    }

    async fn live(&mut self, id: SubId) -> (Phase, Option<Out>) {
        let item = match self.queue.pop().await {
            Popped::Item(item) => item,
            Popped::Lagged => return (Phase::Resync(GapReason::Lagged), None),
            Popped::Closed(why) => return (Phase::Done, Some(Out::Closed(why))),
        };
        let out = match item {
            Item::Batch(first) => {
                let mut batches = Vec::new();
                let mut bytes = 0;
                let mut next = Some(first);
                while let Some(batch) = next.take() {
                    if batch.revision > self.seen {
                        self.seen = batch.revision;
                        bytes += batch.bytes;
                        batches.push(batch);
                    }
                    if bytes < MAX_MESSAGE_BYTES {
                        next = self.queue.try_pop_batch();
                    }
                }
                (!batches.is_empty()).then_some(Out::Events(batches))
            }
            Item::Progress(revision) if revision > self.seen => {
                self.seen = revision;
                Some(Out::Message(ServerMessage::Progress { id, revision }))
            }
            Item::Progress(_) => None,
            Item::Reconnecting(reason) => Some(Out::Message(ServerMessage::Reconnecting {
                id,
                reason: reason.to_string(),
            })),
            Item::Live => Some(Out::Message(ServerMessage::Live { id })),
            Item::Compacted(compact_revision) => {
                return (
                    Phase::Resync(GapReason::Compacted { compact_revision }),
                    None,
                );
            }
        };
        (Phase::Live, out)
    }

    async fn snapshot(
        &mut self,
        id: SubId,
        revision: Option<Revision>,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> (Phase, Option<Out>) {
        let session = self.session.clone();
        let page = session
            .snapshot_page(&self.range, revision, after.as_deref(), limit)
            .await;
        let (read_at, kvs, more) = match page {
            Ok(page) => page,
            Err(EtcdError::TooLarge(_)) if limit > 1 => {
                let phase = Phase::Snapshot {
                    revision,
                    after,
                    limit: (limit / 4).max(1),
                };
                return (phase, None);
            }
            Err(EtcdError::Compacted(_)) => {
                // The snapshot's revision was compacted while paging: start over.
                let reason = GapReason::Compacted {
                    compact_revision: revision.unwrap_or_default(),
                };
                return (Phase::Resync(reason), None);
            }
            Err(err @ EtcdError::Unavailable(_)) => {
                let phase = Phase::Snapshot {
                    revision,
                    after,
                    limit,
                };
                return self.unreachable(id, phase, err).await;
            }
            Err(err) => return Self::closed(err),
        };
        let live = self.say_live(id);
        if live.is_some() {
            let phase = Phase::Snapshot {
                revision,
                after,
                limit,
            };
            return (phase, live);
        }
        let phase = if more {
            Phase::Snapshot {
                revision: Some(read_at),
                after: kvs.last().map(|kv| kv.key.0.clone()),
                limit,
            }
        } else {
            self.seen = self.seen.max(read_at);
            Phase::Live
        };
        let page = ServerMessage::Snapshot {
            id,
            revision: read_at,
            kvs,
            done: !more,
        };
        (phase, Some(Out::Message(page)))
    }

    /// Says `Reconnecting` (once) and waits before `retry` while etcd is
    /// unreachable; any other failure closes the subscription with its reason.
    async fn unreachable(
        &mut self,
        id: SubId,
        retry: Phase,
        err: EtcdError,
    ) -> (Phase, Option<Out>) {
        if !matches!(err, EtcdError::Unavailable(_)) {
            // Retrying cannot help: say why and stop.
            return Self::closed(err);
        }
        let out = (!self.reconnecting).then(|| {
            Out::Message(ServerMessage::Reconnecting {
                id,
                reason: err.to_string(),
            })
        });
        self.reconnecting = true;
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(BACKOFF.1);
        (retry, out)
    }

    fn say_live(&mut self, id: SubId) -> Option<Out> {
        if std::mem::take(&mut self.reconnecting) {
            self.backoff = BACKOFF.0;
            Some(Out::Message(ServerMessage::Live { id }))
        } else {
            None
        }
    }

    fn closed(err: EtcdError) -> (Phase, Option<Out>) {
        (Phase::Done, Some(Out::Closed(Ended::ReadFailed(err))))
    }
}

#[cfg(test)]
mod tests {
    use etcdeck_shared::Bytes;
    use etcdeck_shared::ws::{EventKind, WatchEvent, WatchKv};

    use super::*;

    fn event(key: &str, rev: i64, prev: bool) -> WatchEvent {
        let kv = WatchKv {
            key: Bytes::from(key),
            value: Bytes::from("v"),
            create_revision: Revision(1),
            mod_revision: Revision(rev),
            version: 1,
            lease: None,
            masked: None,
        };
        WatchEvent {
            kind: EventKind::Put,
            prev: prev.then(|| kv.clone()),
            kv,
            lease_ended: false,
        }
    }

    /// The hand-built text of an events message is exactly what serde
    /// writes for the same message, with or without previous values.
    #[test]
    fn events_text_matches_the_protocol() {
        let batches = vec![
            Arc::new(Batch::from_events(
                Revision(5),
                vec![event("a", 5, true), event("b", 5, false)],
            )),
            Arc::new(Batch::from_events(Revision(6), vec![event("c", 6, true)])),
        ];
        for prev_kv in [true, false] {
            let text = events_text(SubId(3), &batches, prev_kv);
            let mut message = ServerMessage::Events {
                id: SubId(3),
                events: batches
                    .iter()
                    .flat_map(|b| b.events.iter().cloned())
                    .collect(),
            };
            if !prev_kv && let ServerMessage::Events { events, .. } = &mut message {
                events.iter_mut().for_each(|e| e.prev = None);
            }
            assert_eq!(text, serde_json::to_string(&message).unwrap());
            assert_eq!(
                serde_json::from_str::<ServerMessage>(&text).unwrap(),
                message
            );
        }
    }
}
