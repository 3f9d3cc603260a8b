//! The live protocol: JSON text frames on one WebSocket per browser tab
//! ([`path::WS`](crate::path::WS)), documented in `ARCHITECTURE.md`.
//!
//! The browser sends [`ClientMessage`]s to subscribe to key ranges; the
//! backend answers with [`ServerMessage`]s tagged with the subscription's
//! [`SubId`]. For every subscription the backend keeps one promise: the
//! events it sends are exactly the revisions written to the range, in order,
//! none missing and none twice, or it sends a [`ServerMessage::Gap`] followed
//! by a [`ServerMessage::Snapshot`] of the range at a revision `R` and then
//! events from `R + 1`.
//!
//! A subscriber's resume point is the highest revision it has been told
//! about (by `Subscribed`, `Events`, `Progress` or the last `Snapshot` page).
//! After a reconnect it subscribes again with `from` set to that revision
//! plus one and gets the same promise.

use serde::{Deserialize, Serialize};

use crate::{ApiError, Bytes, LeaseId, Revision};

/// The WebSocket close code that tells the page its etcdeck session ended
/// (logout or idle expiry): it must log in again, not reconnect.
pub const SESSION_ENDED_CLOSE: u16 = 4401;

/// Largest client frame the backend reads; larger frames get an error reply.
pub const MAX_CLIENT_FRAME: usize = 64 * 1024;
/// Most subscriptions one WebSocket may hold at a time.
pub const MAX_SUBSCRIPTIONS: usize = 64;
/// How often the backend sends [`ServerMessage::Heartbeat`]: often enough
/// that a browser notices a silent socket within [`SILENCE_LIMIT_SECS`].
pub const HEARTBEAT_SECS: u64 = 2;
/// Silence (not even a heartbeat) after which a browser takes its socket
/// for dead and opens another: two heartbeats missed, and a second to spare.
pub const SILENCE_LIMIT_SECS: u64 = 5;

/// A subscription's id, chosen by the browser, unique within its WebSocket.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SubId(pub u32);

/// Which keys a subscription covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WatchRange {
    /// The key, or the prefix when `prefix` is set. An empty prefix is every key.
    pub key: Bytes,
    /// Cover every key that starts with `key`, not only `key` itself.
    #[serde(default)]
    pub prefix: bool,
}

impl WatchRange {
    pub fn prefix(prefix: impl Into<Bytes>) -> Self {
        WatchRange {
            key: prefix.into(),
            prefix: true,
        }
    }

    pub fn key(key: impl Into<Bytes>) -> Self {
        WatchRange {
            key: key.into(),
            prefix: false,
        }
    }

    /// Whether `key` lies in this range.
    pub fn contains(&self, key: &[u8]) -> bool {
        if self.prefix {
            key.starts_with(&self.key.0)
        } else {
            key == self.key.0.as_slice()
        }
    }
}

/// Browser to backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Start (or replace) subscription `id` on `range`.
    Subscribe {
        id: SubId,
        range: WatchRange,
        /// Deliver every change with `mod_revision >= from`. `None` means
        /// from now: the answer's `Subscribed.revision` is the current one.
        #[serde(default)]
        from: Option<Revision>,
        /// Also send each changed key's previous value (for diffs).
        #[serde(default)]
        prev_kv: bool,
    },
    /// End subscription `id`. Unknown ids are ignored.
    Unsubscribe { id: SubId },
}

/// Backend to browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The subscription is open. Every change after `revision` will follow:
    /// `revision` is `from - 1` when `from` was given, else etcd's current
    /// revision.
    Subscribed { id: SubId, revision: Revision },
    /// Changes, in revision order. A message holds whole revisions only: the
    /// events of one transaction never straddle two messages.
    Events { id: SubId, events: Vec<WatchEvent> },
    /// Nothing in the range changed up to `revision`; a later resume may
    /// start at `revision + 1`.
    Progress { id: SubId, revision: Revision },
    /// etcd is out of reach for this subscription; the backend is
    /// re-authenticating and re-watching. Events resume where they stopped,
    /// none lost; no action needed.
    Reconnecting { id: SubId, reason: String },
    /// The subscription is live again after `Reconnecting`.
    Live { id: SubId },
    /// Changes were missed and cannot be replayed. A [`ServerMessage::Snapshot`]
    /// of the whole range follows; discard what you hold of the range.
    Gap { id: SubId, reason: GapReason },
    /// One page of the range as it was at `revision`. Pages come in key
    /// order; the last has `done` set, and events after `revision` follow.
    Snapshot {
        id: SubId,
        revision: Revision,
        kvs: Vec<WatchKv>,
        done: bool,
    },
    /// The subscription ended and will not resume (for example the etcd user
    /// may not read the range).
    Closed { id: SubId, error: ApiError },
    /// A message from the browser was not understood; the connection stays
    /// open and other subscriptions are unaffected. (A subscribe that is
    /// understood but refused is answered with `Closed` for its id.)
    Error { error: ApiError },
    /// Sent every [`HEARTBEAT_SECS`] seconds, so that a browser notices a
    /// connection that died without closing (browsers hide WebSocket pings).
    Heartbeat,
}

impl ServerMessage {
    /// The subscription a message is about, if any.
    pub fn id(&self) -> Option<SubId> {
        match self {
            ServerMessage::Subscribed { id, .. }
            | ServerMessage::Events { id, .. }
            | ServerMessage::Progress { id, .. }
            | ServerMessage::Reconnecting { id, .. }
            | ServerMessage::Live { id }
            | ServerMessage::Gap { id, .. }
            | ServerMessage::Snapshot { id, .. }
            | ServerMessage::Closed { id, .. } => Some(*id),
            ServerMessage::Error { .. } | ServerMessage::Heartbeat => None,
        }
    }
}

/// Why a [`ServerMessage::Gap`] happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GapReason {
    /// etcd compacted its history past the resume revision.
    Compacted { compact_revision: Revision },
    /// The browser did not read fast enough and its bounded buffer filled.
    Lagged,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Put,
    Delete,
}

/// One change to one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    pub kind: EventKind,
    /// The key after the change. For a delete: the key, an empty value,
    /// and `mod_revision` = the revision of the delete.
    pub kv: WatchKv,
    /// The key before the change, when the subscription asked for it and etcd
    /// still had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<WatchKv>,
    /// A delete caused by its lease ending (expiry or revoke).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lease_ended: bool,
}

/// A key as carried by events and snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchKv {
    pub key: Bytes,
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseId>,
    /// Set when the value was left out because the key matches a mask
    /// pattern (`value` is then empty); see [`crate::mask`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<crate::mask::Masked>,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::ErrorCode;

    fn kv(key: &str, value: &str, rev: i64) -> WatchKv {
        WatchKv {
            key: Bytes::from(key),
            value: Bytes::from(value),
            create_revision: Revision(2),
            mod_revision: Revision(rev),
            version: 1,
            lease: None,
            masked: None,
        }
    }

    #[test]
    fn client_messages() {
        let subscribe = ClientMessage::Subscribe {
            id: SubId(7),
            range: WatchRange::prefix("/app/"),
            from: Some(Revision(43)),
            prev_kv: true,
        };
        let json = serde_json::to_string(&subscribe).unwrap();
        expect![[r#"{"type":"subscribe","id":7,"range":{"key":"L2FwcC8=","prefix":true},"from":43,"prev_kv":true}"#]]
        .assert_eq(&json);
        assert_eq!(
            serde_json::from_str::<ClientMessage>(&json).unwrap(),
            subscribe
        );
        // Optional fields may be left out.
        assert_eq!(
            serde_json::from_str::<ClientMessage>(
                r#"{"type":"subscribe","id":1,"range":{"key":""}}"#
            )
            .unwrap(),
            ClientMessage::Subscribe {
                id: SubId(1),
                range: WatchRange::key(""),
                from: None,
                prev_kv: false
            }
        );
        expect![[r#"{"type":"unsubscribe","id":7}"#]].assert_eq(
            &serde_json::to_string(&ClientMessage::Unsubscribe { id: SubId(7) }).unwrap(),
        );
    }

    #[test]
    fn server_messages() {
        let events = ServerMessage::Events {
            id: SubId(7),
            events: vec![
                WatchEvent {
                    kind: EventKind::Put,
                    kv: WatchKv {
                        lease: Some(LeaseId(0x694d)),
                        ..kv("/app/a", "2", 44)
                    },
                    prev: Some(kv("/app/a", "1", 43)),
                    lease_ended: false,
                },
                WatchEvent {
                    kind: EventKind::Delete,
                    kv: kv("/app/b", "", 45),
                    prev: None,
                    lease_ended: true,
                },
            ],
        };
        let json = serde_json::to_string(&events).unwrap();
        expect![[r#"{"type":"events","id":7,"events":[{"kind":"put","kv":{"key":"L2FwcC9h","value":"Mg==","create_revision":2,"mod_revision":44,"version":1,"lease":"694d"},"prev":{"key":"L2FwcC9h","value":"MQ==","create_revision":2,"mod_revision":43,"version":1}},{"kind":"delete","kv":{"key":"L2FwcC9i","value":"","create_revision":2,"mod_revision":45,"version":1},"lease_ended":true}]}"#]]
        .assert_eq(&json);
        assert_eq!(
            serde_json::from_str::<ServerMessage>(&json).unwrap(),
            events
        );

        let others = [
            ServerMessage::Subscribed {
                id: SubId(1),
                revision: Revision(9),
            },
            ServerMessage::Progress {
                id: SubId(1),
                revision: Revision(10),
            },
            ServerMessage::Reconnecting {
                id: SubId(1),
                reason: "etcd restarted".into(),
            },
            ServerMessage::Live { id: SubId(1) },
            ServerMessage::Gap {
                id: SubId(1),
                reason: GapReason::Compacted {
                    compact_revision: Revision(30),
                },
            },
            ServerMessage::Gap {
                id: SubId(1),
                reason: GapReason::Lagged,
            },
            ServerMessage::Snapshot {
                id: SubId(1),
                revision: Revision(50),
                kvs: vec![kv("k", "v", 49)],
                done: true,
            },
            ServerMessage::Closed {
                id: SubId(1),
                error: ApiError {
                    code: ErrorCode::PermissionDenied,
                    message: "no".into(),
                    revision: None,
                },
            },
            ServerMessage::Error {
                error: ApiError {
                    code: ErrorCode::BadRequest,
                    message: "bad".into(),
                    revision: None,
                },
            },
            ServerMessage::Heartbeat,
        ];
        let lines: Vec<String> = others
            .iter()
            .map(|m| serde_json::to_string(m).unwrap())
            .collect();
        expect![[r#"
            {"type":"subscribed","id":1,"revision":9}
            {"type":"progress","id":1,"revision":10}
            {"type":"reconnecting","id":1,"reason":"etcd restarted"}
            {"type":"live","id":1}
            {"type":"gap","id":1,"reason":{"kind":"compacted","compact_revision":30}}
            {"type":"gap","id":1,"reason":{"kind":"lagged"}}
            {"type":"snapshot","id":1,"revision":50,"kvs":[{"key":"aw==","value":"dg==","create_revision":2,"mod_revision":49,"version":1}],"done":true}
            {"type":"closed","id":1,"error":{"code":"permission_denied","message":"no"}}
            {"type":"error","error":{"code":"bad_request","message":"bad"}}
            {"type":"heartbeat"}"#]]
        .assert_eq(&lines.join("\n"));
        for (message, line) in others.iter().zip(&lines) {
            assert_eq!(
                &serde_json::from_str::<ServerMessage>(line).unwrap(),
                message
            );
        }
    }

    #[test]
    fn range_contains() {
        assert!(WatchRange::prefix("/a/").contains(b"/a/b"));
        assert!(!WatchRange::prefix("/a/").contains(b"/b"));
        assert!(WatchRange::prefix("").contains(b"anything"));
        assert!(WatchRange::key("/a").contains(b"/a"));
        assert!(!WatchRange::key("/a").contains(b"/a/b"));
    }
}
