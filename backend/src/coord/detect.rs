//! Recognising locks and elections in keys: pure logic over [`RangeKv`]s.
//!
//! The Go client's `concurrency.Mutex` and `concurrency.Election` (and so
//! `etcdctl lock` / `etcdctl elect`) write one key per session:
//! `prefix + "/" + hex(lease id)`, attached to that very lease. A key is a
//! contender only when its last segment is the lowercase hex of its own
//! non-zero lease, which is what tells such keys from look-alikes. The
//! oldest key (lowest `create_revision`) holds or leads; the others wait in
//! `create_revision` order. Empty values make a lock, any non-empty value an
//! election (the proposal), unless the prefix was configured as one or the
//! other.
//!
//! The RWMutex recipe writes `prefix/read/<suffix>` and `prefix/write/<suffix>`
//! with the session's lease. Its suffix is the lease in hex here too, or a
//! Unix-nanosecond timestamp (`recipes.RWMutex` names its keys that way), so
//! both are accepted under a `read` or `write` segment. Readers older than
//! the oldest writer hold it together; a writer holds only when it is the
//! oldest of all.

use std::collections::{BTreeSet, HashMap};

use etcdeck_shared::coord::{Contender, Election, Lock, LockKind, RwRole};
use etcdeck_shared::{Bytes, LeaseId, Revision};

use crate::etcd::RangeKv;

/// What the configuration says a prefix is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    Lock,
    Election,
}

/// What one key is part of, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A Mutex or Election key under `prefix`.
    Plain { prefix: Vec<u8> },
    /// A reader or writer of the RWMutex `prefix`.
    Rw { prefix: Vec<u8>, role: RwRole },
}

impl Shape {
    pub fn prefix(&self) -> &[u8] {
        match self {
            Shape::Plain { prefix } | Shape::Rw { prefix, .. } => prefix,
        }
    }
}

/// A lock or an election found under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    Lock(Lock),
    Election(Election),
}

/// What `key`, attached to `lease`, is part of. `plain_only` lists prefixes
/// configured as a lock or election, whose `read`/`write` children are not an
/// RWMutex's.
pub fn classify(key: &[u8], lease: i64, plain_only: &BTreeSet<Vec<u8>>) -> Option<Shape> {
    if lease <= 0 {
        return None;
    }
    let slash = key.iter().rposition(|&b| b == b'/')?;
    let (head, suffix) = (&key[..slash], &key[slash + 1..]);
    let own_lease = suffix == format!("{lease:x}").as_bytes();
    for (segment, role) in [
        (&b"/read"[..], RwRole::Read),
        (&b"/write"[..], RwRole::Write),
    ] {
        if let Some(prefix) = head.strip_suffix(segment) {
            if plain_only.contains(head) {
                break;
            }
            if own_lease || is_unix_nanos(suffix) {
                return Some(Shape::Rw {
                    prefix: prefix.to_vec(),
                    role,
                });
            }
            return None;
        }
    }
    own_lease.then(|| Shape::Plain {
        prefix: head.to_vec(),
    })
}

/// Nineteen ASCII digits: a Unix time in nanoseconds (2001 to 2286).
pub fn is_unix_nanos(text: &[u8]) -> bool {
    text.len() == 19 && text.iter().all(u8::is_ascii_digit)
}

/// The prefixes worth reading for contenders, from keys attached to leases.
pub fn candidate_prefixes<'a>(
    keys: impl IntoIterator<Item = (&'a [u8], i64)>,
    plain_only: &BTreeSet<Vec<u8>>,
) -> BTreeSet<Vec<u8>> {
    keys.into_iter()
        .filter_map(|(key, lease)| classify(key, lease, plain_only))
        .map(|shape| shape.prefix().to_vec())
        .collect()
}

/// The locks and elections under `prefix`, from the keys read under
/// `prefix + "/"` (other keys are ignored). `ttl` gives each lease's seconds
/// left. A configured prefix (`hint`) is reported even when nobody contends.
pub fn groups(
    prefix: &[u8],
    kvs: &[RangeKv],
    hint: Option<Hint>,
    plain_only: &BTreeSet<Vec<u8>>,
    ttl: &HashMap<i64, Option<i64>>,
) -> Vec<Group> {
    let mut plain = Vec::new();
    let mut rw = Vec::new();
    for kv in kvs {
        match classify(&kv.key, kv.lease, plain_only) {
            Some(Shape::Plain { prefix: p }) if p == prefix => plain.push(contender(kv, None, ttl)),
            Some(Shape::Rw { prefix: p, role }) if p == prefix => {
                rw.push(contender(kv, Some(role), ttl));
            }
            _ => {}
        }
    }
    let by_age = |a: &Contender, b: &Contender| {
        (a.create_revision, &a.key.0).cmp(&(b.create_revision, &b.key.0))
    };
    plain.sort_by(by_age);
    rw.sort_by(by_age);

    let mut out = Vec::new();
    if !rw.is_empty() {
        let holders = match rw.first().and_then(|c| c.role) {
            Some(RwRole::Write) => 1,
            _ => rw
                .iter()
                .position(|c| c.role == Some(RwRole::Write))
                .unwrap_or(rw.len()),
        };
        let waiters = rw.split_off(holders);
        out.push(Group::Lock(Lock {
            prefix: Bytes::from(prefix),
            kind: LockKind::RwMutex,
            holders: rw,
            waiters,
        }));
    }
    if plain.is_empty() && (hint.is_none() || !out.is_empty()) {
        return out;
    }
    let election = match hint {
        Some(Hint::Lock) => false,
        Some(Hint::Election) => true,
        None => plain.iter().any(|c| !c.value.is_empty()),
    };
    let mut rest = plain.into_iter();
    let first = rest.next();
    let rest: Vec<Contender> = rest.collect();
    out.push(if election {
        Group::Election(Election {
            prefix: Bytes::from(prefix),
            leader: first,
            candidates: rest,
        })
    } else {
        Group::Lock(Lock {
            prefix: Bytes::from(prefix),
            kind: LockKind::Mutex,
            holders: first.into_iter().collect(),
            waiters: rest,
        })
    });
    out
}

fn contender(kv: &RangeKv, role: Option<RwRole>, ttl: &HashMap<i64, Option<i64>>) -> Contender {
    Contender {
        key: Bytes::from(kv.key.as_slice()),
        value: Bytes::from(kv.value.as_slice()),
        lease: LeaseId(kv.lease),
        lease_ttl: ttl.get(&kv.lease).copied().flatten(),
        create_revision: Revision(kv.create_revision),
        holding_since_ms: None,
        since_exact: false,
        role,
        masked: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn kv(key: &str, value: &str, lease: i64, create_revision: i64) -> RangeKv {
        RangeKv {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            lease,
            create_revision,
        }
    }

    fn none() -> BTreeSet<Vec<u8>> {
        BTreeSet::new()
    }

    fn keys(contenders: &[Contender]) -> Vec<String> {
        contenders.iter().map(|c| c.key.display()).collect()
    }

    const A: i64 = 0x694d_a1fd_28ed_4b18;
    const B: i64 = 0x694d_a1fd_28ed_4b29;
    const C: i64 = 0x694d_a1fd_28ed_4b33;

    #[test]
    fn mutex_keys_are_recognised_and_look_alikes_are_not() {
        let plain = |p: &str| {
            Some(Shape::Plain {
                prefix: p.as_bytes().to_vec(),
            })
        };
        assert_eq!(
            classify(b"jobs/694da1fd28ed4b18", A, &none()),
            plain("jobs")
        );
        assert_eq!(
            classify(b"/a/b/694da1fd28ed4b18", A, &none()),
            plain("/a/b")
        );
        // The hex of another lease, no lease, upper case, not hex, no slash.
        assert_eq!(classify(b"jobs/694da1fd28ed4b18", B, &none()), None);
        assert_eq!(classify(b"jobs/694da1fd28ed4b18", 0, &none()), None);
        assert_eq!(classify(b"jobs/694DA1FD28ED4B18", A, &none()), None);
        assert_eq!(classify(b"jobs/worker-1", A, &none()), None);
        assert_eq!(classify(b"694da1fd28ed4b18", A, &none()), None);
        assert_eq!(classify(b"jobs/0694da1fd28ed4b18", A, &none()), None);
        assert_eq!(classify(b"jobs/", A, &none()), None);
        assert_eq!(classify(b"jobs/-1", -1, &none()), None);
        // Binary prefixes are fine: keys are bytes.
        let mut key = vec![0xff, 0x00, b'/'];
        key.extend_from_slice(b"694da1fd28ed4b18");
        assert_eq!(
            classify(&key, A, &none()),
            Some(Shape::Plain {
                prefix: vec![0xff, 0x00]
            })
        );
    }

    #[test]
    fn rw_mutex_keys_take_hex_leases_or_nanosecond_suffixes() {
        let rw = |role| {
            Some(Shape::Rw {
                prefix: b"cfg".to_vec(),
                role,
            })
        };
        assert_eq!(
            classify(b"cfg/read/694da1fd28ed4b18", A, &none()),
            rw(RwRole::Read)
        );
        assert_eq!(
            classify(b"cfg/write/694da1fd28ed4b18", A, &none()),
            rw(RwRole::Write)
        );
        assert_eq!(
            classify(b"cfg/read/1763712000123456789", A, &none()),
            rw(RwRole::Read)
        );
        assert_eq!(classify(b"cfg/read/1763712000123456789", 0, &none()), None);
        assert_eq!(classify(b"cfg/read/694da1fd28ed4b29", A, &none()), None);
        assert_eq!(classify(b"cfg/read/nope", A, &none()), None);
        // A mutex configured under the name `cfg/read` stays a mutex.
        let configured = BTreeSet::from([b"cfg/read".to_vec()]);
        assert_eq!(
            classify(b"cfg/read/694da1fd28ed4b18", A, &configured),
            Some(Shape::Plain {
                prefix: b"cfg/read".to_vec()
            })
        );
    }

    #[test]
    fn oldest_holds_the_others_wait_in_create_revision_order() {
        let kvs = [
            kv("jobs/694da1fd28ed4b29", "", B, 12),
            kv("jobs/694da1fd28ed4b33", "", C, 15),
            kv("jobs/694da1fd28ed4b18", "", A, 10),
            // Not contenders: wrong lease, no lease, deeper prefix.
            kv("jobs/694da1fd28ed4b18", "", B, 1),
            kv("jobs/config", "x", 0, 2),
            kv("jobs/sub/694da1fd28ed4b18", "", A, 3),
        ];
        let ttl = HashMap::from([(A, Some(30)), (B, None)]);
        let groups = groups(b"jobs", &kvs, None, &none(), &ttl);
        let [Group::Lock(lock)] = groups.as_slice() else {
            panic!("{groups:?}")
        };
        assert_eq!(lock.kind, LockKind::Mutex);
        assert_eq!(keys(&lock.holders), ["jobs/694da1fd28ed4b18"]);
        assert_eq!(
            keys(&lock.waiters),
            ["jobs/694da1fd28ed4b29", "jobs/694da1fd28ed4b33"]
        );
        assert_eq!(lock.holders[0].lease_ttl, Some(30));
        assert_eq!(lock.waiters[0].lease_ttl, None);
        assert_eq!(lock.holders[0].lease, LeaseId(A));
    }

    #[test]
    fn values_make_an_election_unless_configured() {
        let kvs = [
            kv("leader/694da1fd28ed4b29", "node-b", B, 20),
            kv("leader/694da1fd28ed4b18", "node-a", A, 18),
        ];
        let found = groups(b"leader", &kvs, None, &none(), &HashMap::new());
        let [Group::Election(election)] = found.as_slice() else {
            panic!("{found:?}")
        };
        assert_eq!(
            election.leader.as_ref().unwrap().value,
            Bytes::from("node-a")
        );
        assert_eq!(keys(&election.candidates), ["leader/694da1fd28ed4b29"]);

        // Configured as a lock: a lock, whatever the values.
        let found = groups(b"leader", &kvs, Some(Hint::Lock), &none(), &HashMap::new());
        assert!(matches!(found.as_slice(), [Group::Lock(l)] if l.holders.len() == 1));

        // An election with empty proposals, configured as one.
        let empty = [kv("e/694da1fd28ed4b18", "", A, 3)];
        let found = groups(b"e", &empty, Some(Hint::Election), &none(), &HashMap::new());
        assert!(matches!(found.as_slice(), [Group::Election(e)] if e.leader.is_some()));
    }

    #[test]
    fn configured_prefixes_show_when_idle_and_others_do_not() {
        let found = groups(b"idle", &[], Some(Hint::Lock), &none(), &HashMap::new());
        assert!(matches!(
            found.as_slice(),
            [Group::Lock(l)] if l.holders.is_empty() && l.waiters.is_empty()
        ));
        let found = groups(b"idle", &[], Some(Hint::Election), &none(), &HashMap::new());
        assert!(matches!(found.as_slice(), [Group::Election(e)] if e.leader.is_none()));
        assert!(groups(b"idle", &[], None, &none(), &HashMap::new()).is_empty());
        // Only look-alikes: nothing.
        let kvs = [
            kv("idle/worker-1", "", A, 3),
            kv("idle/694da1fd28ed4b29", "", A, 4),
        ];
        assert!(groups(b"idle", &kvs, None, &none(), &HashMap::new()).is_empty());
    }

    #[test]
    fn rw_mutex_readers_share_until_the_first_writer() {
        let kvs = [
            kv("cfg/read/694da1fd28ed4b18", "", A, 5),
            kv("cfg/read/694da1fd28ed4b29", "", B, 6),
            kv("cfg/write/694da1fd28ed4b33", "", C, 7),
            kv("cfg/read/1763712000123456789", "", A, 8),
        ];
        let found = groups(b"cfg", &kvs, None, &none(), &HashMap::new());
        let [Group::Lock(lock)] = found.as_slice() else {
            panic!("{found:?}")
        };
        assert_eq!(lock.kind, LockKind::RwMutex);
        assert_eq!(
            keys(&lock.holders),
            ["cfg/read/694da1fd28ed4b18", "cfg/read/694da1fd28ed4b29"]
        );
        assert_eq!(
            keys(&lock.waiters),
            ["cfg/write/694da1fd28ed4b33", "cfg/read/1763712000123456789"]
        );
        assert_eq!(lock.waiters[0].role, Some(RwRole::Write));

        // A writer that is oldest holds alone.
        let kvs = [
            kv("cfg/write/694da1fd28ed4b33", "", C, 4),
            kv("cfg/read/694da1fd28ed4b18", "", A, 5),
            kv("cfg/write/694da1fd28ed4b29", "", B, 6),
        ];
        let found = groups(b"cfg", &kvs, None, &none(), &HashMap::new());
        let [Group::Lock(lock)] = found.as_slice() else {
            panic!("{found:?}")
        };
        assert_eq!(keys(&lock.holders), ["cfg/write/694da1fd28ed4b33"]);
        assert_eq!(lock.waiters.len(), 2);
    }

    #[test]
    fn candidates_come_from_lease_keys() {
        let found = candidate_prefixes(
            [
                (&b"jobs/694da1fd28ed4b18"[..], A),
                (&b"cfg/write/694da1fd28ed4b29"[..], B),
                (&b"services/web/1"[..], C),
                (&b"jobs/694da1fd28ed4b29"[..], A),
            ],
            &none(),
        );
        assert_eq!(found, BTreeSet::from([b"jobs".to_vec(), b"cfg".to_vec()]));
    }
}
