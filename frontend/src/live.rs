//! The browser's half of the live protocol ([`etcdeck_shared::ws`]) as pure
//! state, with no socket in it: which subscriptions exist, the resume point
//! of each, what to send after a (re)connect, and what each server message
//! means for the view that subscribed. [`crate::api::live`] owns the
//! WebSocket and drives this; the tests drive it with a fake message feed.
//!
//! The promise kept here: a view sees every change to its range exactly
//! once, in order, across reconnects, or it is told of a gap and given a
//! snapshot. Each subscription remembers the highest revision it has been
//! told about (`seen`); a new socket subscribes again with `from = seen + 1`,
//! and any event at or below `seen` that still arrives is dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use etcdeck_shared::ws::{
    ClientMessage, GapReason, ServerMessage, SubId, WatchEvent, WatchKv, WatchRange,
};
use etcdeck_shared::{ApiError, Revision};

/// What a subscriber is told. Progress messages only move the resume point
/// and are not passed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The subscription is open; changes after `revision` follow.
    Subscribed { revision: Revision },
    /// New changes, in revision order, none seen before.
    Events(Vec<WatchEvent>),
    /// etcd is out of reach for this subscription; the backend is
    /// re-watching and nothing will be lost.
    Reconnecting { reason: String },
    /// Live again after [`Delivery::Reconnecting`].
    Live,
    /// Changes were missed; discard what is held of the range. Snapshot
    /// pages follow.
    Gap(GapReason),
    /// One page of the range at `revision`; `done` on the last.
    Snapshot {
        revision: Revision,
        kvs: Vec<WatchKv>,
        done: bool,
    },
    /// The subscription ended for good (it is forgotten here).
    Closed(ApiError),
}

/// What became of one server message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Pass this to the subscriber of `id`.
    Deliver(SubId, Delivery),
    /// Nothing for a subscriber: progress, or events already seen.
    Quiet,
    /// A message about a subscription that no longer exists (a late answer
    /// after an unsubscribe); ignored.
    Unknown(SubId),
    /// The backend did not understand something the browser sent.
    ServerError(ApiError),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Subscription {
    range: WatchRange,
    prev_kv: bool,
    /// The highest revision told about; `None` only for a subscription
    /// "from now" whose `Subscribed` has not arrived yet.
    seen: Option<Revision>,
    /// The backend said `reconnecting` and not yet `live`.
    reconnecting: bool,
}

/// Every subscription of the tab, surviving reconnects.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Ids are never reused, so a late message for an ended subscription
    /// cannot be taken for a new one.
    next_id: u32,
    subs: BTreeMap<SubId, Subscription>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers a subscription and returns its id and the message that
    /// opens it (to send now if the socket is open; otherwise
    /// [`Registry::resubscribe_all`] sends it on connect). `from: None`
    /// means from now.
    pub fn subscribe(
        &mut self,
        range: WatchRange,
        prev_kv: bool,
        from: Option<Revision>,
    ) -> (SubId, ClientMessage) {
        self.next_id += 1;
        let id = SubId(self.next_id);
        let sub = Subscription {
            range,
            prev_kv,
            seen: from.map(|f| Revision(f.0 - 1)),
            reconnecting: false,
        };
        let message = subscribe_message(id, &sub);
        self.subs.insert(id, sub);
        (id, message)
    }

    /// Forgets a subscription; the message tells the backend, if it knew.
    pub fn unsubscribe(&mut self, id: SubId) -> Option<ClientMessage> {
        self.subs
            .remove(&id)
            .map(|_| ClientMessage::Unsubscribe { id })
    }

    /// The messages that re-open every subscription on a new socket, each
    /// resuming right after what it has seen.
    pub fn resubscribe_all(&mut self) -> Vec<ClientMessage> {
        self.subs
            .iter_mut()
            .map(|(id, sub)| {
                sub.reconnecting = false;
                subscribe_message(*id, sub)
            })
            .collect()
    }

    /// The resume point of a subscription: the highest revision told.
    pub fn seen(&self, id: SubId) -> Option<Revision> {
        self.subs.get(&id).and_then(|s| s.seen)
    }

    pub fn contains(&self, id: SubId) -> bool {
        self.subs.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.subs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// Whether some subscription is waiting for the backend to reach etcd.
    pub fn any_reconnecting(&self) -> bool {
        self.subs.values().any(|s| s.reconnecting)
    }

    /// Applies one server message and says what the subscriber should see.
    pub fn receive(&mut self, message: ServerMessage) -> Outcome {
        let id = match &message {
            ServerMessage::Error { error } => return Outcome::ServerError(error.clone()),
            ServerMessage::Heartbeat => return Outcome::Quiet,
            other => other.id().unwrap_or_default(),
        };
        let Some(sub) = self.subs.get_mut(&id) else {
            return Outcome::Unknown(id);
        };
        let delivery = match message {
            ServerMessage::Subscribed { revision, .. } => {
                // A resumed subscription already knows where it stands; it
                // keeps that lower resume point, which at worst costs a
                // replay that the filter below makes harmless. Only "from
                // now" learns its starting point here.
                if sub.seen.is_none() {
                    sub.seen = Some(revision);
                }
                Delivery::Subscribed { revision }
            }
            ServerMessage::Events { events, .. } => {
                let seen = sub.seen;
                // Defensive: anything at or below the resume point was
                // already delivered (a message holds whole revisions, so a
                // revision is never half seen).
                let fresh: Vec<WatchEvent> = events
                    .into_iter()
                    .filter(|e| seen.is_none_or(|s| e.kv.mod_revision > s))
                    .collect();
                let Some(last) = fresh.iter().map(|e| e.kv.mod_revision).max() else {
                    return Outcome::Quiet;
                };
                sub.seen = Some(seen.map_or(last, |s| s.max(last)));
                Delivery::Events(fresh)
            }
            ServerMessage::Progress { revision, .. } => {
                sub.seen = Some(sub.seen.map_or(revision, |s| s.max(revision)));
                return Outcome::Quiet;
            }
            ServerMessage::Reconnecting { reason, .. } => {
                sub.reconnecting = true;
                Delivery::Reconnecting { reason }
            }
            ServerMessage::Live { .. } => {
                sub.reconnecting = false;
                Delivery::Live
            }
            ServerMessage::Gap { reason, .. } => Delivery::Gap(reason),
            ServerMessage::Snapshot {
                revision,
                kvs,
                done,
                ..
            } => {
                // Only the last page makes the snapshot whole; a reconnect
                // before it resumes from the old point (and gets its gap and
                // snapshot again).
                if done {
                    sub.seen = Some(revision);
                }
                Delivery::Snapshot {
                    revision,
                    kvs,
                    done,
                }
            }
            ServerMessage::Closed { error, .. } => {
                self.subs.remove(&id);
                Delivery::Closed(error)
            }
            // Not about a subscription; answered before the lookup.
            ServerMessage::Error { .. } | ServerMessage::Heartbeat => return Outcome::Quiet,
        };
        Outcome::Deliver(id, delivery)
    }
}

fn subscribe_message(id: SubId, sub: &Subscription) -> ClientMessage {
    ClientMessage::Subscribe {
        id,
        range: sub.range.clone(),
        from: sub.seen.map(|s| Revision(s.0 + 1)),
        prev_kv: sub.prev_kv,
    }
}

/// Parses a text frame; `Err` says why it is not a server message.
pub fn parse(frame: &str) -> Result<ServerMessage, String> {
    serde_json::from_str(frame).map_err(|err| err.to_string())
}

/// Capped exponential backoff between connection attempts: 0.5 s, 1 s, 2 s,
/// 4 s, then 5 s; reset once a socket opens.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(500);
    pub const MAX: Duration = Duration::from_secs(5);

    /// The wait before the next attempt, counting this failure.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.failures.min(8);
        self.failures = self.failures.saturating_add(1);
        (Self::FIRST * factor).min(Self::MAX)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// How long "resynced" stays up after a gap, unless dismissed.
pub const RESYNCED_FOR: Duration = Duration::from_secs(10);

/// The socket as the connection indicator sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketState {
    /// The first attempt, not yet open.
    Connecting,
    Open,
    /// Closed or failed; another attempt is scheduled.
    Down,
}

/// The live connection as the user is told about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveState {
    Connecting,
    Connected,
    /// The socket is down, or the backend is re-watching etcd for some
    /// subscription: changes are late, not lost.
    Reconnecting,
    /// A gap happened recently: a view was reset to a snapshot.
    Resynced,
}

impl LiveState {
    /// Combines what is known; being late outranks a past gap.
    pub fn of(socket: SocketState, any_reconnecting: bool, resynced: bool) -> Self {
        match socket {
            SocketState::Connecting => LiveState::Connecting,
            SocketState::Down => LiveState::Reconnecting,
            SocketState::Open if any_reconnecting => LiveState::Reconnecting,
            SocketState::Open if resynced => LiveState::Resynced,
            SocketState::Open => LiveState::Connected,
        }
    }

    /// The state once the status poll is counted too: when the last poll
    /// failed (etcdeck out of reach) or says etcd is disconnected
    /// (`backend_ok` false), nothing new can arrive, whatever the socket
    /// believes, so an open socket reads as reconnecting; never "live" next
    /// to "disconnected".
    pub fn with_backend(self, backend_ok: bool) -> Self {
        match self {
            LiveState::Connected | LiveState::Resynced if !backend_ok => LiveState::Reconnecting,
            state => state,
        }
    }

    /// The `data-state` value.
    pub fn as_str(self) -> &'static str {
        match self {
            LiveState::Connecting => "connecting",
            LiveState::Connected => "connected",
            LiveState::Reconnecting => "reconnecting",
            LiveState::Resynced => "resynced",
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    #[unit_test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<u128> = (0..7).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next_delay().as_millis(), 500);
    }

    #[unit_test]
    fn state_priorities() {
        use LiveState as L;
        use SocketState as S;
        assert_eq!(L::of(S::Connecting, false, false), L::Connecting);
        assert_eq!(L::of(S::Down, false, true), L::Reconnecting);
        assert_eq!(L::of(S::Open, true, true), L::Reconnecting);
        assert_eq!(L::of(S::Open, false, true), L::Resynced);
        assert_eq!(L::of(S::Open, false, false), L::Connected);
    }

    #[unit_test]
    fn a_failing_status_poll_outranks_an_open_socket() {
        use LiveState as L;
        assert_eq!(L::Connected.with_backend(false), L::Reconnecting);
        assert_eq!(L::Resynced.with_backend(false), L::Reconnecting);
        assert_eq!(L::Connecting.with_backend(false), L::Connecting);
        assert_eq!(L::Connected.with_backend(true), L::Connected);
        assert_eq!(L::Resynced.with_backend(true), L::Resynced);
    }
}
