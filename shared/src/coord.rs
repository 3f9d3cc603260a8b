//! Bodies of the coordination views: leases, locks, elections, queues and
//! service registrations, recognised in etcd by the key layouts of etcd's
//! own `concurrency` and `recipes` packages (see `ARCHITECTURE.md`).
//!
//! Every answer carries the `revision` it was read at, so a view can watch
//! the prefixes it shows from `revision + 1` and stay current from watch
//! events. Times the backend observed (not stored in etcd) are Unix
//! milliseconds of the backend's clock and say so in their names.

use serde::{Deserialize, Serialize};

use crate::{Bytes, LeaseId, Revision};

/// `GET /api/v1/leases`: every lease, with the keys attached to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    pub leases: Vec<LeaseDetail>,
    pub revision: Revision,
}

/// One lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseDetail {
    pub id: LeaseId,
    /// The TTL the lease was granted with, in seconds.
    pub granted_ttl: i64,
    /// Seconds left when read; `None` once expired or revoked.
    pub remaining_ttl: Option<i64>,
    /// The keys attached, in key order (at most [`MAX_LEASE_KEYS`]).
    pub keys: Vec<Bytes>,
    /// How many attached keys are not in `keys`.
    pub more_keys: u64,
}

/// Most attached keys listed per lease.
pub const MAX_LEASE_KEYS: usize = 100;

/// `GET /api/v1/locks`: Mutex and RWMutex prefixes and who holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locks {
    pub locks: Vec<Lock>,
    pub revision: Revision,
}

/// One lock prefix: `prefix + "/" + hex(lease)` keys, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// The name given to `NewMutex` / `etcdctl lock`, without the trailing `/`.
    pub prefix: Bytes,
    pub kind: LockKind,
    /// Who holds it: one for a mutex or a writer, any number of readers.
    pub holders: Vec<Contender>,
    /// Who waits, in the order they will get it.
    pub waiters: Vec<Contender>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    Mutex,
    /// `pfx/read/...` and `pfx/write/...` keys.
    RwMutex,
}

/// A session taking part in a lock or an election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contender {
    pub key: Bytes,
    /// The value: empty for a lock, the proposal in an election.
    pub value: Bytes,
    pub lease: LeaseId,
    /// Seconds left on the lease when read.
    pub lease_ttl: Option<i64>,
    pub create_revision: Revision,
    /// For a holder or leader: since when it has held or led (Unix ms,
    /// backend clock); `None` for a waiter or candidate. etcd keeps no time
    /// for a revision: see [`Contender::since_exact`] for what this is.
    pub holding_since_ms: Option<u64>,
    /// `true` when `holding_since_ms` is when etcd made it the holder (the
    /// revision that created its key, or that deleted the last contender
    /// ahead of it, found in etcd's history) and the backend saw etcd reach
    /// that revision live, to within a few seconds: "holding since".
    /// `false` when it is an estimate, the first time the backend saw it
    /// hold (it was taken before the backend watched, or etcd's history of
    /// it was compacted): "seen holding since".
    #[serde(default)]
    pub since_exact: bool,
    /// For a reader or writer of an RWMutex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RwRole>,
    /// Set when the value was left out because the key matches a mask
    /// pattern (`value` is then empty); see [`crate::mask`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<crate::mask::Masked>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RwRole {
    Read,
    Write,
}

/// `GET /api/v1/elections`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elections {
    pub elections: Vec<Election>,
    pub revision: Revision,
}

/// One election prefix: the leader is the oldest candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Election {
    pub prefix: Bytes,
    pub leader: Option<Contender>,
    /// The other candidates, in the order they would lead.
    pub candidates: Vec<Contender>,
}

/// `GET /api/v1/queues`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Queues {
    pub queues: Vec<Queue>,
    pub revision: Revision,
}

/// One Queue or PriorityQueue prefix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub prefix: Bytes,
    pub kind: QueueKind,
    /// Items now, counted by etcd.
    pub depth: u64,
    /// Age of the oldest item in seconds, from its key (a Unix-nanosecond
    /// timestamp) where the layout has one.
    pub oldest_age_secs: Option<f64>,
    /// For a priority queue: depth per priority, lowest (first served) first.
    pub priorities: Vec<PriorityDepth>,
    /// Items added and removed per second over the last minute, as the
    /// backend saw them; `None` until it has watched for a while.
    pub enqueue_per_sec: Option<f64>,
    pub dequeue_per_sec: Option<f64>,
    /// Depth over the last minutes, oldest first, one sample per
    /// [`DEPTH_SAMPLE_SECS`].
    pub depth_history: Vec<DepthSample>,
}

/// Seconds between two depth samples.
pub const DEPTH_SAMPLE_SECS: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    Queue,
    PriorityQueue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityDepth {
    pub priority: u32,
    pub depth: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepthSample {
    /// Unix ms, backend clock.
    pub at_ms: u64,
    pub depth: u64,
}

/// `GET /api/v1/services`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Services {
    /// The configured registration prefixes that were read.
    pub prefixes: Vec<Bytes>,
    pub services: Vec<Service>,
    pub revision: Revision,
}

/// `<prefix><name>/<instance>` keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub prefix: Bytes,
    pub name: Bytes,
    pub instances: Vec<Instance>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub key: Bytes,
    pub name: Bytes,
    pub value: Bytes,
    /// The address from a JSON value (`address`, `addr`, `endpoint`, or
    /// `host` and `port`), when there is one.
    pub address: Option<String>,
    pub lease: Option<LeaseId>,
    pub lease_ttl: Option<i64>,
    pub granted_ttl: Option<i64>,
    /// Set when the value was left out because the key matches a mask
    /// pattern (`value` is then empty); see [`crate::mask`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<crate::mask::Masked>,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    fn contender(key: &str, value: &str, role: Option<RwRole>) -> Contender {
        Contender {
            key: Bytes::from(key),
            value: Bytes::from(value),
            lease: LeaseId(0x694d_a1fd_28ed_4b18),
            lease_ttl: Some(7),
            create_revision: Revision(12),
            holding_since_ms: Some(1_763_712_000_000),
            since_exact: true,
            role,
            masked: None,
        }
    }

    #[test]
    fn leases_wire_format() {
        let leases = Leases {
            leases: vec![LeaseDetail {
                id: LeaseId(0x694d_a1fd_28ed_4b18),
                granted_ttl: 60,
                remaining_ttl: None,
                keys: vec![Bytes::from("svc/a")],
                more_keys: 2,
            }],
            revision: Revision(40),
        };
        let json = serde_json::to_string(&leases).unwrap();
        expect![[r#"{"leases":[{"id":"694da1fd28ed4b18","granted_ttl":60,"remaining_ttl":null,"keys":["c3ZjL2E="],"more_keys":2}],"revision":40}"#]].assert_eq(&json);
        assert_eq!(serde_json::from_str::<Leases>(&json).unwrap(), leases);
    }

    #[test]
    fn locks_and_elections_wire_format() {
        let locks = Locks {
            locks: vec![
                Lock {
                    prefix: Bytes::from("jobs"),
                    kind: LockKind::Mutex,
                    holders: vec![contender("jobs/694da1fd28ed4b18", "", None)],
                    waiters: vec![],
                },
                Lock {
                    prefix: Bytes::from("cfg"),
                    kind: LockKind::RwMutex,
                    holders: vec![],
                    waiters: vec![Contender {
                        holding_since_ms: None,
                        since_exact: false,
                        ..contender("cfg/write/694da1fd28ed4b18", "", Some(RwRole::Write))
                    }],
                },
            ],
            revision: Revision(41),
        };
        let json = serde_json::to_string_pretty(&locks).unwrap();
        expect![[r#"
            {
              "locks": [
                {
                  "prefix": "am9icw==",
                  "kind": "mutex",
                  "holders": [
                    {
                      "key": "am9icy82OTRkYTFmZDI4ZWQ0YjE4",
                      "value": "",
                      "lease": "694da1fd28ed4b18",
                      "lease_ttl": 7,
                      "create_revision": 12,
                      "holding_since_ms": 1763712000000,
                      "since_exact": true
                    }
                  ],
                  "waiters": []
                },
                {
                  "prefix": "Y2Zn",
                  "kind": "rw_mutex",
                  "holders": [],
                  "waiters": [
                    {
                      "key": "Y2ZnL3dyaXRlLzY5NGRhMWZkMjhlZDRiMTg=",
                      "value": "",
                      "lease": "694da1fd28ed4b18",
                      "lease_ttl": 7,
                      "create_revision": 12,
                      "holding_since_ms": null,
                      "since_exact": false,
                      "role": "write"
                    }
                  ]
                }
              ],
              "revision": 41
            }"#]]
        .assert_eq(&json);
        assert_eq!(serde_json::from_str::<Locks>(&json).unwrap(), locks);

        let elections = Elections {
            elections: vec![Election {
                prefix: Bytes::from("leader"),
                leader: Some(contender("leader/694da1fd28ed4b18", "node-a", None)),
                candidates: vec![],
            }],
            revision: Revision(42),
        };
        let json = serde_json::to_string(&elections).unwrap();
        expect![[r#"{"elections":[{"prefix":"bGVhZGVy","leader":{"key":"bGVhZGVyLzY5NGRhMWZkMjhlZDRiMTg=","value":"bm9kZS1h","lease":"694da1fd28ed4b18","lease_ttl":7,"create_revision":12,"holding_since_ms":1763712000000,"since_exact":true},"candidates":[]}],"revision":42}"#]].assert_eq(&json);
        assert_eq!(serde_json::from_str::<Elections>(&json).unwrap(), elections);
    }

    #[test]
    fn queues_wire_format() {
        let queues = Queues {
            queues: vec![
                Queue {
                    prefix: Bytes::from("work"),
                    kind: QueueKind::Queue,
                    depth: 3,
                    oldest_age_secs: Some(1.5),
                    priorities: vec![],
                    enqueue_per_sec: Some(0.25),
                    dequeue_per_sec: None,
                    depth_history: vec![DepthSample {
                        at_ms: 1_763_712_000_000,
                        depth: 3,
                    }],
                },
                Queue {
                    prefix: Bytes::from("urgent"),
                    kind: QueueKind::PriorityQueue,
                    depth: 2,
                    oldest_age_secs: None,
                    priorities: vec![PriorityDepth {
                        priority: 1,
                        depth: 2,
                    }],
                    enqueue_per_sec: None,
                    dequeue_per_sec: None,
                    depth_history: vec![],
                },
            ],
            revision: Revision(43),
        };
        let json = serde_json::to_string(&queues).unwrap();
        expect![[r#"{"queues":[{"prefix":"d29yaw==","kind":"queue","depth":3,"oldest_age_secs":1.5,"priorities":[],"enqueue_per_sec":0.25,"dequeue_per_sec":null,"depth_history":[{"at_ms":1763712000000,"depth":3}]},{"prefix":"dXJnZW50","kind":"priority_queue","depth":2,"oldest_age_secs":null,"priorities":[{"priority":1,"depth":2}],"enqueue_per_sec":null,"dequeue_per_sec":null,"depth_history":[]}],"revision":43}"#]].assert_eq(&json);
        assert_eq!(serde_json::from_str::<Queues>(&json).unwrap(), queues);
    }

    #[test]
    fn services_wire_format() {
        let services = Services {
            prefixes: vec![Bytes::from("services/")],
            services: vec![Service {
                prefix: Bytes::from("services/"),
                name: Bytes::from("api"),
                instances: vec![Instance {
                    key: Bytes::from("services/api/i-1"),
                    name: Bytes::from("i-1"),
                    value: Bytes::from(r#"{"addr":"a:1"}"#),
                    address: Some("a:1".into()),
                    lease: Some(LeaseId(0x694d_a1fd_28ed_4b18)),
                    lease_ttl: Some(9),
                    granted_ttl: Some(10),
                    masked: None,
                }],
            }],
            revision: Revision(44),
        };
        let json = serde_json::to_string(&services).unwrap();
        expect![[r#"{"prefixes":["c2VydmljZXMv"],"services":[{"prefix":"c2VydmljZXMv","name":"YXBp","instances":[{"key":"c2VydmljZXMvYXBpL2ktMQ==","name":"aS0x","value":"eyJhZGRyIjoiYToxIn0=","address":"a:1","lease":"694da1fd28ed4b18","lease_ttl":9,"granted_ttl":10}]}],"revision":44}"#]].assert_eq(&json);
        assert_eq!(serde_json::from_str::<Services>(&json).unwrap(), services);
    }
}
