//! Bodies of the HTTP API (`/api/v1/...`, documented in `ARCHITECTURE.md`).
//!
//! Query parameters that carry keys (`prefix`, `key`, `after`) use the URL
//! form of [`Bytes`] (percent-encoded bytes); JSON bodies carry keys and values
//! as base64 strings. Lease ids are hex strings, as etcdctl prints them, because
//! they use all 64 bits and JSON numbers in browsers stop being exact at 2^53.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Bytes;

/// Paths of the HTTP API, shared so neither side spells them twice.
pub mod path {
    pub const HEALTHZ: &str = "/healthz";
    pub const STATUS: &str = "/api/v1/status";
    pub const LEVEL: &str = "/api/v1/level";
    pub const KEY: &str = "/api/v1/key";
    /// The WebSocket of the live protocol ([`crate::ws`]).
    pub const WS: &str = "/api/v1/ws";
    pub const LIVE: &str = "/api/v1/live";
    pub const LEASES: &str = "/api/v1/leases";
    pub const LOCKS: &str = "/api/v1/locks";
    pub const ELECTIONS: &str = "/api/v1/elections";
    pub const QUEUES: &str = "/api/v1/queues";
    pub const SERVICES: &str = "/api/v1/services";
    /// Every cluster this etcdeck serves ([`crate::ClusterSummary`]);
    /// not under a cluster's prefix.
    pub const CLUSTERS: &str = "/api/v1/clusters";
    /// What a cluster's URLs start with: `/c/NAME` then the path of one
    /// cluster (`/c/prod/api/v1/level`, `/c/prod/keys/...`). The first
    /// cluster's URLs also work without it.
    pub const CLUSTER_PREFIX: &str = "/c/";
}

/// One cluster of `GET /api/v1/clusters`: its name and how etcdeck's own
/// connection to it stands (nothing a login would see).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSummary {
    pub name: String,
    pub connection: Connection,
}

/// `GET /api/v1/clusters`, in the order etcdeck was given them; the
/// first is the one served without a prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clusters {
    pub clusters: Vec<ClusterSummary>,
}

/// Defined with the other limits both sides check.
pub use crate::limits::{DEFAULT_LEVEL_PAGE, MAX_LEVEL_PAGE};

/// An etcd revision (a logical clock over the whole keyspace).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Revision(pub i64);

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An etcd lease id, written as lowercase hex (as etcdctl prints it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaseId(pub i64);

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

impl fmt::Debug for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LeaseId({self})")
    }
}

impl std::str::FromStr for LeaseId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(|v| LeaseId(v as i64))
    }
}

impl Serialize for LeaseId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LeaseId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `GET /api/v1/status`: what the backend is connected to and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// etcdeck's own version.
    pub version: String,
    pub connection: Connection,
    /// The etcd endpoints etcdeck was given, in order.
    pub endpoints: Vec<String>,
    /// The etcd user etcdeck acts as, if any.
    pub user: Option<String>,
    /// Whether every write is refused by the backend.
    pub read_only: bool,
    /// The separator that splits keys into tree levels (usually `/`).
    pub separator: Bytes,
}

/// The backend's connection to etcd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Connection {
    /// etcd answers and has a leader: requests are served. Members listed
    /// in `unreachable` are down or hang; requests go to the others
    /// meanwhile (degraded, not disconnected).
    Connected {
        /// The etcd server version reported by the member that answered.
        etcd_version: String,
        /// Endpoints that do not answer now, in the order etcdeck was given
        /// them; empty when every member answers.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unreachable: Vec<UnreachableMember>,
    },
    /// etcd is not reachable now, or no member that answers has a leader;
    /// the backend keeps retrying.
    Disconnected {
        /// Why the last attempt failed, in words for a person.
        reason: String,
        /// Seconds until the next attempt.
        retry_in_secs: u64,
    },
}

impl Connection {
    /// Whether etcd answers but some of its endpoints do not.
    pub fn is_degraded(&self) -> bool {
        matches!(self, Connection::Connected { unreachable, .. } if !unreachable.is_empty())
    }
}

/// One etcd endpoint that does not answer while others do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreachableMember {
    /// The client URL etcdeck was given.
    pub endpoint: String,
    /// The member's name, when etcd's member list names this URL.
    pub name: Option<String>,
    /// What reaching it last said, in words for a person.
    pub error: String,
}

/// `GET /api/v1/level?prefix=P&after=C&limit=N`: one page of the direct
/// children of the tree node `prefix`.
///
/// A child named `name` stands for the key `prefix + name` (when `is_key`)
/// and for the keys under `prefix + name + separator` (when `has_children`).
/// Children come in key order; a child that is both a key and a directory is
/// listed once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub prefix: Bytes,
    pub children: Vec<Child>,
    /// Cursor for the next page (pass as `after`); `None` on the last page.
    pub next: Option<Bytes>,
    /// The etcd revision the page was read at.
    pub revision: Revision,
}

/// One direct child of a tree level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// The path segment, without the level prefix or trailing separator.
    pub name: Bytes,
    /// `prefix + name` is itself a key.
    pub is_key: bool,
    /// There are keys under `prefix + name + separator`.
    pub has_children: bool,
    /// How many keys lie under `prefix + name + separator`, when it was cheap
    /// to count them.
    pub count: Option<u64>,
    /// The bytes (keys and values) of `prefix + name` itself and of every
    /// key under `prefix + name + separator`, when the keyspace model knows
    /// them (absent when it is off or building).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl Child {
    /// The key this child stands for: `prefix + name`.
    pub fn key(&self, prefix: &Bytes) -> Bytes {
        let mut key = prefix.0.clone();
        key.extend_from_slice(&self.name.0);
        Bytes(key)
    }

    /// The prefix of this child's own level: `prefix + name + separator`.
    pub fn dir(&self, prefix: &Bytes, separator: &Bytes) -> Bytes {
        let mut dir = self.key(prefix).0;
        dir.extend_from_slice(&separator.0);
        Bytes(dir)
    }
}

/// `GET /api/v1/key?key=K`: one key with its value and metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: Bytes,
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
    /// How many times the key was written since it was created.
    pub version: i64,
    pub lease: Option<Lease>,
    /// The etcd revision the key was read at.
    pub revision: Revision,
    /// Set when the value was left out because the key matches a mask
    /// pattern (`value` is then empty); see [`crate::mask`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<crate::mask::Masked>,
}

/// A lease as seen when a key was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: LeaseId,
    /// The TTL the lease was granted with, in seconds.
    pub granted_ttl: i64,
    /// Seconds left when read; `None` if the lease has already expired or
    /// could not be read (for example for lack of permission).
    pub remaining_ttl: Option<i64>,
}

/// `GET /api/v1/live`: the watch hub's load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStats {
    /// etcd watches the backend holds open: one per etcd user and key range,
    /// however many browsers subscribe to it.
    pub upstream_watches: u64,
    /// Subscriptions of all browsers together.
    pub subscribers: u64,
}

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    /// A sentence for a person; never internals.
    pub message: String,
    /// The etcd revision the answer was read at, when etcd was read: a key
    /// that does not exist is missing *as of* this revision, so a watch
    /// from `revision + 1` sees it appear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Revision>,
}

/// What kind of failure an [`ApiError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    NotFound,
    /// etcd refused: the etcd user may not read or write there.
    PermissionDenied,
    /// etcd is unreachable now; the backend is retrying.
    EtcdUnavailable,
    /// The answer would exceed a size limit.
    TooLarge,
    /// No session: log in (or open the wall screen's token link) first.
    LoginRequired,
    /// etcdeck refuses writes for this session (`--read-only`, a wall
    /// token, or etcd without auth).
    ReadOnly,
    /// Something changed since the user looked: nothing was written.
    Conflict,
    /// The revision asked for has been compacted away.
    Compacted,
    /// The API path exists but does not take this HTTP method (the answer's
    /// `Allow` header and sentence name the ones it takes).
    MethodNotAllowed,
    /// Too many failed logins: the answer is 429 with `Retry-After`.
    Throttled,
    Internal,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn level_wire_format() {
        let level = Level {
            prefix: Bytes::from("/app/"),
            children: vec![
                Child {
                    name: Bytes::from("db"),
                    is_key: true,
                    has_children: true,
                    count: Some(12),
                    bytes: None,
                },
                Child {
                    name: Bytes::new(vec![0xff]),
                    is_key: true,
                    has_children: false,
                    count: None,
                    bytes: None,
                },
            ],
            next: Some(Bytes::from("/app/db0")),
            revision: Revision(42),
        };
        let json = serde_json::to_string_pretty(&level).unwrap();
        expect![[r#"
            {
              "prefix": "L2FwcC8=",
              "children": [
                {
                  "name": "ZGI=",
                  "is_key": true,
                  "has_children": true,
                  "count": 12
                },
                {
                  "name": "/w==",
                  "is_key": true,
                  "has_children": false,
                  "count": null
                }
              ],
              "next": "L2FwcC9kYjA=",
              "revision": 42
            }"#]]
        .assert_eq(&json);
        assert_eq!(serde_json::from_str::<Level>(&json).unwrap(), level);
    }

    #[test]
    fn key_value_wire_format() {
        let kv = KeyValue {
            key: Bytes::from("k"),
            value: Bytes::from("v"),
            create_revision: Revision(2),
            mod_revision: Revision(3),
            version: 2,
            lease: Some(Lease {
                id: LeaseId(0x694d_7b8e_1d1a_2b3c),
                granted_ttl: 60,
                remaining_ttl: Some(59),
            }),
            revision: Revision(9),
            masked: None,
        };
        let json = serde_json::to_string(&kv).unwrap();
        expect![[r#"{"key":"aw==","value":"dg==","create_revision":2,"mod_revision":3,"version":2,"lease":{"id":"694d7b8e1d1a2b3c","granted_ttl":60,"remaining_ttl":59},"revision":9}"#]]
        .assert_eq(&json);
        assert_eq!(serde_json::from_str::<KeyValue>(&json).unwrap(), kv);
    }

    #[test]
    fn status_and_error_wire_format() {
        let status = Status {
            version: "0.1.0".into(),
            connection: Connection::Disconnected {
                reason: "connection refused".into(),
                retry_in_secs: 4,
            },
            endpoints: vec!["http://127.0.0.1:2379".into()],
            user: Some("root".into()),
            read_only: false,
            separator: Bytes::from("/"),
        };
        expect![[r#"{"version":"0.1.0","connection":{"state":"disconnected","reason":"connection refused","retry_in_secs":4},"endpoints":["http://127.0.0.1:2379"],"user":"root","read_only":false,"separator":"Lw=="}"#]]
        .assert_eq(&serde_json::to_string(&status).unwrap());
        let err = ApiError {
            code: ErrorCode::PermissionDenied,
            message: "etcd user 'viewer' may not read /secret/".into(),
            revision: None,
        };
        expect![[
            r#"{"code":"permission_denied","message":"etcd user 'viewer' may not read /secret/"}"#
        ]]
        .assert_eq(&serde_json::to_string(&err).unwrap());
        let err = ApiError {
            code: ErrorCode::MethodNotAllowed,
            message: "/api/v1/put does not take GET; it answers POST".into(),
            revision: None,
        };
        expect![[
            r#"{"code":"method_not_allowed","message":"/api/v1/put does not take GET; it answers POST"}"#
        ]]
        .assert_eq(&serde_json::to_string(&err).unwrap());
    }

    #[test]
    fn live_stats_wire_format() {
        let stats = LiveStats {
            upstream_watches: 1,
            subscribers: 1000,
        };
        expect![[r#"{"upstream_watches":1,"subscribers":1000}"#]]
            .assert_eq(&serde_json::to_string(&stats).unwrap());
    }

    #[test]
    fn lease_id_negative_values_round_trip_as_hex() {
        let id = LeaseId(-1);
        assert_eq!(id.to_string(), "ffffffffffffffff");
        assert_eq!("ffffffffffffffff".parse::<LeaseId>().unwrap(), id);
    }
}
