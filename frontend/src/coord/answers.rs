//! What each coordination answer shows, so that its view stays live: the
//! prefixes it shows, which watch events can change it, what to watch, and
//! the countdowns to confirm with etcd ([`CoordAnswer`]).

use etcdeck_shared::coord::{Contender, Elections, Leases, Locks, Queues, Services};
use etcdeck_shared::ws::{EventKind, WatchEvent, WatchRange};
use etcdeck_shared::{Bytes, Revision};

use super::*;

/// What the coordination views need to know about an answer to stay live.
pub trait CoordAnswer: Clone + Send + Sync + 'static {
    /// The revision the answer was read at; watches start after it.
    fn revision(&self) -> Revision;
    /// The prefixes whose changes can alter what is shown.
    fn shown_prefixes(&self) -> Vec<Bytes>;
    /// Whether new items can appear anywhere in the keyspace (a lock taken
    /// under a new name), so the view watches every key and filters, when
    /// the etcd user may; otherwise only [`CoordAnswer::shown_prefixes`].
    fn discovers(&self) -> bool {
        true
    }
    /// Whether `event` can change the answer, so it is worth reading again.
    fn touches(&self, event: &WatchEvent) -> bool;
    /// Whether the answer shows `key` (a key a change created): under one
    /// of its prefixes.
    fn shows(&self, key: &Bytes) -> bool {
        self.shown_prefixes().iter().any(|p| under(p, key))
    }
    /// Seconds left on the leases shown, to read again when one reaches
    /// zero (a lease with no keys ends without any watch event).
    fn ttls(&self) -> Vec<i64> {
        Vec::new()
    }
    /// The countdowns shown, with their grants where known: the view reads
    /// again at [`recheck_at_ms`] of them.
    fn countdowns(&self) -> Vec<Ttl> {
        self.ttls()
            .into_iter()
            .map(|left| Ttl::new(left, None))
            .collect()
    }
}

/// The keys of `created` (keys changes put that the view should show) that
/// `answer` does not show yet.
pub fn not_yet_shown<A: CoordAnswer>(answer: &A, created: &[Bytes]) -> Vec<Bytes> {
    created
        .iter()
        .filter(|key| !answer.shows(key))
        .cloned()
        .collect()
}

/// The ranges a view subscribes to: every key when it discovers and may,
/// else each shown prefix (at most [`MAX_WATCHED_PREFIXES`], nested ones
/// dropped).
pub fn watch_plan<A: CoordAnswer>(answer: &A, whole_keyspace_allowed: bool) -> Vec<WatchRange> {
    if answer.discovers() && whole_keyspace_allowed {
        return vec![WatchRange::prefix(Bytes::default())];
    }
    let mut prefixes = answer.shown_prefixes();
    prefixes.sort();
    prefixes.dedup();
    let mut kept: Vec<Bytes> = Vec::new();
    for prefix in prefixes {
        // Sorted, so a prefix of this one (if any) was kept just before.
        if kept.last().is_some_and(|k| under(k, &prefix)) {
            continue;
        }
        kept.push(prefix);
    }
    kept.truncate(MAX_WATCHED_PREFIXES);
    kept.into_iter().map(WatchRange::prefix).collect()
}

fn contenders_touch(prefix: &Bytes, event: &WatchEvent) -> bool {
    under(&children_of(prefix), &event.kv.key)
}

impl CoordAnswer for Leases {
    fn revision(&self) -> Revision {
        self.revision
    }

    fn shown_prefixes(&self) -> Vec<Bytes> {
        self.leases
            .iter()
            .flat_map(|l| l.keys.iter().cloned())
            .collect()
    }

    fn touches(&self, event: &WatchEvent) -> bool {
        let known = |key: &Bytes| -> Option<LeaseId> {
            self.leases
                .iter()
                .find(|l| l.keys.contains(key))
                .map(|l| l.id)
        };
        match event.kind {
            // A listed key gone, or any key whose lease ended (that lease
            // may have other keys, or be one of those not listed).
            EventKind::Delete => event.lease_ended || known(&event.kv.key).is_some(),
            // A key attached to a lease it was not listed under, or moved
            // off its lease.
            EventKind::Put => known(&event.kv.key) != event.kv.lease,
        }
    }

    fn shows(&self, key: &Bytes) -> bool {
        self.leases.iter().any(|l| l.keys.contains(key))
    }

    fn ttls(&self) -> Vec<i64> {
        self.leases.iter().filter_map(|l| l.remaining_ttl).collect()
    }

    fn countdowns(&self) -> Vec<Ttl> {
        self.leases
            .iter()
            .filter_map(|l| {
                l.remaining_ttl
                    .map(|left| Ttl::new(left, Some(l.granted_ttl)))
            })
            .collect()
    }
}

/// The lease TTLs of every holder and waiter of `contenders`.
fn contender_ttls<'a>(contenders: impl Iterator<Item = &'a Contender>) -> Vec<i64> {
    contenders.filter_map(|c| c.lease_ttl).collect()
}

impl CoordAnswer for Locks {
    fn revision(&self) -> Revision {
        self.revision
    }

    fn shown_prefixes(&self) -> Vec<Bytes> {
        self.locks.iter().map(|l| children_of(&l.prefix)).collect()
    }

    fn touches(&self, event: &WatchEvent) -> bool {
        self.locks
            .iter()
            .any(|l| contenders_touch(&l.prefix, event))
            || (event.kind == EventKind::Put && event.kv.version == 1 && is_session_key(&event.kv))
    }

    /// Every holder's and waiter's session lease counts down on the page.
    fn ttls(&self) -> Vec<i64> {
        contender_ttls(
            self.locks
                .iter()
                .flat_map(|l| l.holders.iter().chain(&l.waiters)),
        )
    }
}

impl CoordAnswer for Elections {
    fn revision(&self) -> Revision {
        self.revision
    }

    fn shown_prefixes(&self) -> Vec<Bytes> {
        self.elections
            .iter()
            .map(|e| children_of(&e.prefix))
            .collect()
    }

    fn touches(&self, event: &WatchEvent) -> bool {
        self.elections
            .iter()
            .any(|e| contenders_touch(&e.prefix, event))
            || (event.kind == EventKind::Put && event.kv.version == 1 && is_session_key(&event.kv))
    }

    /// The leader's and every candidate's session lease count down.
    fn ttls(&self) -> Vec<i64> {
        contender_ttls(
            self.elections
                .iter()
                .flat_map(|e| e.leader.iter().chain(&e.candidates)),
        )
    }
}

impl CoordAnswer for Queues {
    fn revision(&self) -> Revision {
        self.revision
    }

    fn shown_prefixes(&self) -> Vec<Bytes> {
        self.queues.iter().map(|q| children_of(&q.prefix)).collect()
    }

    /// Queues are configured, or found by the backend's background walk of
    /// the key tree: a new item anywhere may be the next one found.
    fn discovers(&self) -> bool {
        true
    }

    fn touches(&self, event: &WatchEvent) -> bool {
        self.queues
            .iter()
            .any(|q| under(&children_of(&q.prefix), &event.kv.key))
            || (event.kind == EventKind::Put && event.kv.version == 1 && is_queue_item(&event.kv))
    }
}

impl CoordAnswer for Services {
    fn revision(&self) -> Revision {
        self.revision
    }

    /// The configured registration prefixes: every service lives under one.
    fn shown_prefixes(&self) -> Vec<Bytes> {
        self.prefixes.clone()
    }

    fn discovers(&self) -> bool {
        false
    }

    fn touches(&self, event: &WatchEvent) -> bool {
        self.prefixes.iter().any(|p| under(p, &event.kv.key))
    }

    /// Every instance's lease: their owners' keep-alives show in no watch,
    /// so the page reads again before a healthy one could look late.
    fn ttls(&self) -> Vec<i64> {
        self.countdowns().into_iter().map(|t| t.left).collect()
    }

    fn countdowns(&self) -> Vec<Ttl> {
        self.services
            .iter()
            .flat_map(|s| &s.instances)
            .filter(|i| i.lease.is_some())
            .filter_map(|i| i.lease_ttl.map(|left| Ttl::new(left, i.granted_ttl)))
            .collect()
    }
}
