//! Since when a contender has held a lock or led an election.
//!
//! etcd keeps no such time, but it keeps history. A contender that held
//! from the moment its key was written (nobody ahead of it at its
//! `create_revision`, checked with one read of its prefix at that revision)
//! has held since that revision; one that waited first has held since the
//! revision that deleted the last contender ahead of it, found by bisecting
//! the revisions between its creation and now with reads of its prefix at a
//! revision (at most [`MAX_SEARCH_READS`]). The [`RevisionClock`] dates that
//! revision when the backend saw etcd reach it: "holding since", exact.
//! Otherwise (taken before the backend watched, history compacted, or dated
//! by nothing) the time is the first time the backend saw it hold: "seen
//! holding since", an estimate. Each holding is worked out once.
//!
//! One [`HoldTracker`] serves every user, and no user's answer can change
//! what another sees: an entry is keyed by the holder's key and
//! `create_revision` (a pair etcd never reuses, since revisions only grow),
//! its value is a fact about etcd rather than about the reader, and a holder
//! missing from an answer is never forgotten for it (an answer may leave it
//! out only because its reader may not see it). Entries go only when the
//! tracker is full, least recently seen first.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use etcdeck_shared::coord::{Contender, Election, Lock, LockKind};

use super::clock::RevisionClock;
use super::detect::{self, Group, Hint};
use super::{MAX_CONTENDERS, range_end, with_slash};
use crate::etcd::{EtcdError, EtcdSession, RangeKv};

/// Most holders remembered; far more than there are locks and elections
/// at one time, so only holders long gone are ever dropped.
pub const MAX_HOLDS: usize = 10_000;
/// Most reads of a prefix at a revision spent finding when a waiter began
/// to hold: enough to bisect 16 million revisions.
pub const MAX_SEARCH_READS: u32 = 24;

/// What the backend knows of one holding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hold {
    since_ms: u64,
    exact: bool,
    /// `false` while whether it held from its creation could not be read
    /// (etcd out of reach): asked again on the next answer.
    settled: bool,
    last_seen_ms: u64,
}

/// How a holding was found to begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// It began to hold at a revision etcd reached at this time.
    Dated { at_ms: u64 },
    /// When it began to hold is not known.
    Unknown,
    /// Not found out this time (etcd did not answer); ask again later.
    Unsettled,
}

/// The holdings seen, by (key, `create_revision`).
#[derive(Debug, Default)]
pub struct HoldTracker {
    holds: Mutex<HashMap<(Vec<u8>, i64), Hold>>,
}

impl HoldTracker {
    /// `true` when `holder` needs no read of its prefix to be stamped.
    fn settled(&self, holder: &Contender) -> bool {
        let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        holds
            .get(&(holder.key.0.clone(), holder.create_revision.0))
            .is_some_and(|h| h.settled)
    }

    /// Sets `holding_since_ms` and `since_exact` of `holder`, seen holding
    /// at `now_ms`; `start` says what was found out about its beginning
    /// (ignored once an earlier answer settled it).
    pub fn stamp(&self, holder: &mut Contender, start: Start, now_ms: u64) {
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        let id = (holder.key.0.clone(), holder.create_revision.0);
        let hold = match holds.get(&id).copied() {
            Some(hold) if hold.settled => hold,
            earlier => {
                let first_seen = earlier.map_or(now_ms, |h| h.since_ms);
                let (since_ms, exact) = match start {
                    Start::Dated { at_ms } => (at_ms, true),
                    Start::Unknown | Start::Unsettled => (first_seen, false),
                };
                Hold {
                    since_ms,
                    exact,
                    settled: start != Start::Unsettled,
                    last_seen_ms: now_ms,
                }
            }
        };
        holder.holding_since_ms = Some(hold.since_ms);
        holder.since_exact = hold.exact;
        holds.insert(
            id,
            Hold {
                last_seen_ms: hold.last_seen_ms.max(now_ms),
                ..hold
            },
        );
        if holds.len() > MAX_HOLDS {
            // Drop the least recently seen tenth at once, so a full tracker
            // is not scanned on every new holder.
            let mut seen: Vec<u64> = holds.values().map(|h| h.last_seen_ms).collect();
            let cut = seen.len() / 10;
            let (_, &mut threshold, _) = seen.select_nth_unstable(cut);
            holds.retain(|_, h| h.last_seen_ms > threshold);
        }
    }

    /// Stamps every holder of `locks`, each read as `session` at an answer
    /// whose reads etcd answered by `now_ms`.
    pub async fn stamp_locks(
        &self,
        session: &EtcdSession,
        clock: &RevisionClock,
        plain_only: &BTreeSet<Vec<u8>>,
        locks: &mut [Lock],
        now_ms: u64,
    ) {
        for lock in locks {
            for holder in &mut lock.holders {
                // A settled holding keeps what it has: nothing to read.
                let start = if self.settled(holder) {
                    Start::Unsettled
                } else {
                    let kind = Some(lock.kind);
                    begin(session, clock, plain_only, &lock.prefix.0, kind, holder).await
                };
                self.stamp(holder, start, now_ms);
            }
        }
    }

    /// Stamps the leader of every election in `elections`, like
    /// [`Self::stamp_locks`].
    pub async fn stamp_elections(
        &self,
        session: &EtcdSession,
        clock: &RevisionClock,
        plain_only: &BTreeSet<Vec<u8>>,
        elections: &mut [Election],
        now_ms: u64,
    ) {
        for election in elections {
            let Some(leader) = election.leader.as_mut() else {
                continue;
            };
            // A settled holding keeps what it has: nothing to read.
            let start = if self.settled(leader) {
                Start::Unsettled
            } else {
                begin(session, clock, plain_only, &election.prefix.0, None, leader).await
            };
            self.stamp(leader, start, now_ms);
        }
    }
}

/// How `holder` began holding `prefix` (a lock of `kind`, or an election
/// for `None`): the revision it began at, from reads of the prefix at
/// revisions, dated by the clock.
async fn begin(
    session: &EtcdSession,
    clock: &RevisionClock,
    plain_only: &BTreeSet<Vec<u8>>,
    prefix: &[u8],
    kind: Option<LockKind>,
    holder: &Contender,
) -> Start {
    let created = holder.create_revision.0;
    // It began at or after its creation, and observations only ever grow
    // later: when the creation is not dated, etcdeck was not watching then
    // and no read is worth making.
    if clock.date(created).is_none() {
        return Start::Unknown;
    }
    let items = with_slash(prefix);
    let end = range_end(&items);
    // The reader could read the prefix now, and etcd's permissions do not
    // depend on the revision, so it may read it at any revision too.
    let held = |revision: Option<i64>| {
        let (items, end) = (&items, &end);
        async move {
            let read = session
                .range_kvs(items, end, MAX_CONTENDERS, revision)
                .await?;
            Ok::<_, EtcdError>((
                read.revision,
                held_at(prefix, &read.kvs, kind, plain_only, holder),
            ))
        }
    };
    let began = async {
        if held(Some(created)).await?.1 {
            return Ok(Some(created));
        }
        // It waited. It holds now (it was just read holding), unless it
        // let go meanwhile.
        let (now, holds) = held(None).await?;
        if !holds {
            return Ok(None);
        }
        first_holding(created, now, MAX_SEARCH_READS, |r| {
            let held = &held;
            async move { Ok::<_, EtcdError>(held(Some(r)).await?.1) }
        })
        .await
    };
    match began.await {
        Ok(Some(revision)) => clock
            .date(revision)
            .map_or(Start::Unknown, |at_ms| Start::Dated { at_ms }),
        Ok(None) | Err(EtcdError::Compacted(_)) => Start::Unknown,
        Err(err) => {
            tracing::debug!(error = %err, "the prefix at an earlier revision could not be read");
            Start::Unsettled
        }
    }
}

/// The first revision in `(not_yet, holding]` at which `held` is true,
/// given that it is false at `not_yet`, true at `holding`, and stays true
/// once true (a contender holds from when the last one ahead of it went
/// until its own key goes). `None` when that takes more than `max_reads`.
pub async fn first_holding<F, Fut, E>(
    mut not_yet: i64,
    mut holding: i64,
    max_reads: u32,
    mut held: F,
) -> Result<Option<i64>, E>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Result<bool, E>>,
{
    let mut reads = 0;
    while holding - not_yet > 1 {
        if reads == max_reads {
            return Ok(None);
        }
        reads += 1;
        let mid = not_yet + (holding - not_yet) / 2;
        if held(mid).await? {
            holding = mid;
        } else {
            not_yet = mid;
        }
    }
    Ok(Some(holding))
}

/// Whether `holder` holds `prefix` (a lock of `kind`, or an election for
/// `None`) among `kvs`, the keys under the prefix at one revision.
pub fn held_at(
    prefix: &[u8],
    kvs: &[RangeKv],
    kind: Option<LockKind>,
    plain_only: &BTreeSet<Vec<u8>>,
    holder: &Contender,
) -> bool {
    let same = |c: &Contender| c.key == holder.key && c.create_revision == holder.create_revision;
    let hint = Some(match kind {
        Some(_) => Hint::Lock,
        None => Hint::Election,
    });
    detect::groups(prefix, kvs, hint, plain_only, &HashMap::new())
        .iter()
        .any(|group| match (group, kind) {
            (Group::Lock(lock), Some(kind)) => lock.kind == kind && lock.holders.iter().any(same),
            (Group::Election(election), None) => election.leader.as_ref().is_some_and(same),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use etcdeck_shared::{Bytes, LeaseId, Revision};

    use super::*;

    fn holder(key: &str, create_revision: i64) -> Contender {
        Contender {
            key: Bytes::from(key),
            value: Bytes::from(""),
            lease: LeaseId(1),
            lease_ttl: None,
            create_revision: Revision(create_revision),
            holding_since_ms: None,
            since_exact: false,
            role: None,
            masked: None,
        }
    }

    fn stamped(tracker: &HoldTracker, key: &str, rev: i64, start: Start, now: u64) -> Contender {
        let mut c = holder(key, rev);
        tracker.stamp(&mut c, start, now);
        c
    }

    #[test]
    fn an_estimate_is_the_first_sighting_and_sticks() {
        let tracker = HoldTracker::default();
        let a = stamped(&tracker, "l/1", 5, Start::Unknown, 1_000);
        assert_eq!((a.holding_since_ms, a.since_exact), (Some(1_000), false));
        let a = stamped(&tracker, "l/1", 5, Start::Unknown, 2_000);
        assert_eq!((a.holding_since_ms, a.since_exact), (Some(1_000), false));
        // The same key written again by a new session is a new holding.
        let b = stamped(&tracker, "l/1", 9, Start::Unknown, 3_000);
        assert_eq!(b.holding_since_ms, Some(3_000));
    }

    #[test]
    fn a_holder_dated_from_its_creation_is_exact_and_stays_so() {
        let tracker = HoldTracker::default();
        let a = stamped(&tracker, "l/1", 5, Start::Dated { at_ms: 900 }, 1_000);
        assert_eq!((a.holding_since_ms, a.since_exact), (Some(900), true));
        // Later answers do not ask again, and cannot change it.
        let a = stamped(&tracker, "l/1", 5, Start::Unsettled, 5_000);
        assert_eq!((a.holding_since_ms, a.since_exact), (Some(900), true));
    }

    #[test]
    fn an_unsettled_holder_keeps_its_first_sighting_until_settled() {
        let tracker = HoldTracker::default();
        let a = stamped(&tracker, "l/1", 5, Start::Unsettled, 1_000);
        assert_eq!((a.holding_since_ms, a.since_exact), (Some(1_000), false));
        let a = stamped(&tracker, "l/1", 5, Start::Unsettled, 2_000);
        assert_eq!(a.holding_since_ms, Some(1_000));
        let a = stamped(&tracker, "l/1", 5, Start::Dated { at_ms: 800 }, 3_000);
        assert_eq!((a.holding_since_ms, a.since_exact), (Some(800), true));
        let a = stamped(&tracker, "l/1", 5, Start::Unknown, 4_000);
        assert_eq!((a.holding_since_ms, a.since_exact), (Some(800), true));
    }

    #[test]
    fn answers_without_a_holder_forget_nothing() {
        let tracker = HoldTracker::default();
        stamped(&tracker, "l/1", 5, Start::Unknown, 1_000);
        // Other answers (another user's, with other holders or none) stamp
        // other holders only.
        stamped(&tracker, "m/1", 7, Start::Unknown, 2_000);
        let a = stamped(&tracker, "l/1", 5, Start::Unknown, 3_000);
        assert_eq!(a.holding_since_ms, Some(1_000));
    }

    #[test]
    fn a_full_tracker_drops_the_least_recently_seen() {
        let tracker = HoldTracker::default();
        stamped(&tracker, "kept", 1, Start::Unknown, 0);
        for i in 0..MAX_HOLDS as u64 {
            stamped(&tracker, "old", i as i64 + 2, Start::Unknown, i + 1);
            if i % 100 == 0 {
                // Seen again and again, so never the least recent.
                stamped(&tracker, "kept", 1, Start::Unknown, i + 1);
            }
        }
        let len = tracker.holds.lock().map(|h| h.len()).unwrap_or_default();
        assert!((MAX_HOLDS * 8 / 10..=MAX_HOLDS).contains(&len), "{len}");
        let kept = stamped(&tracker, "kept", 1, Start::Unknown, u64::MAX);
        assert_eq!(kept.holding_since_ms, Some(0));
        let first_old = stamped(&tracker, "old", 2, Start::Unknown, u64::MAX);
        assert_eq!(first_old.holding_since_ms, Some(u64::MAX));
    }

    fn kv(key: &str, lease: i64, create_revision: i64) -> RangeKv {
        RangeKv {
            key: key.as_bytes().to_vec(),
            value: Vec::new(),
            lease,
            create_revision,
        }
    }

    #[tokio::test]
    async fn bisection_finds_the_first_revision_holding() {
        for began in 11..=40 {
            let mut reads = 0;
            let found = first_holding(10, 40, MAX_SEARCH_READS, |r| {
                reads += 1;
                async move { Ok::<_, ()>(r >= began) }
            })
            .await;
            assert_eq!(found, Ok(Some(began)));
            assert!(reads <= 5, "{reads} reads for 30 revisions");
        }
        // Too many revisions for the reads allowed: not found.
        let found = first_holding(0, 1 << 20, 4, |r| async move { Ok::<_, ()>(r > 7) }).await;
        assert_eq!(found, Ok(None));
        // A failed read ends the search with its error.
        let found = first_holding(0, 100, 8, |_| async { Err::<bool, _>("away") }).await;
        assert_eq!(found, Err("away"));
    }

    #[test]
    fn held_from_creation_only_with_nobody_ahead() {
        let none = BTreeSet::new();
        let mutex = Some(LockKind::Mutex);
        let first = holder("jobs/a", 5);
        // At revision 5 the key was the only one: it held from the start.
        assert!(held_at(
            b"jobs",
            &[kv("jobs/a", 0xa, 5)],
            mutex,
            &none,
            &first
        ));
        // At its creation an older contender held: it waited first.
        let second = holder("jobs/b", 8);
        let at_8 = [kv("jobs/a", 0xa, 5), kv("jobs/b", 0xb, 8)];
        assert!(!held_at(b"jobs", &at_8, mutex, &none, &second));
        // A look-alike ahead of it (not on its own lease) is no contender.
        let at_8 = [kv("jobs/a", 0x1, 5), kv("jobs/b", 0xb, 8)];
        assert!(held_at(b"jobs", &at_8, mutex, &none, &second));
        // Elections: the leader is the oldest candidate.
        let leader = holder("leader/c", 3);
        let at_3 = [kv("leader/c", 0xc, 3)];
        assert!(held_at(b"leader", &at_3, None, &none, &leader));
        // Not the lock of another kind.
        let rw = Some(LockKind::RwMutex);
        assert!(!held_at(b"leader", &at_3, rw, &none, &leader));
    }

    #[test]
    fn rwmutex_readers_hold_together_unless_a_writer_is_ahead() {
        let none = BTreeSet::new();
        let rw = Some(LockKind::RwMutex);
        let reader = holder("cfg/read/b", 6);
        let readers = [kv("cfg/read/a", 0xa, 4), kv("cfg/read/b", 0xb, 6)];
        assert!(held_at(b"cfg", &readers, rw, &none, &reader));
        let behind_writer = [kv("cfg/write/a", 0xa, 4), kv("cfg/read/b", 0xb, 6)];
        assert!(!held_at(b"cfg", &behind_writer, rw, &none, &reader));
    }
}
