//! When etcd reached each revision, as this backend saw it: etcd stores no
//! time for a revision, but every answer carries the revision etcd was at
//! when it answered. [`RevisionClock`] keeps a bounded map of those
//! observations (revision -> first and last time seen), fed by the revision
//! of every answer of the cluster's prober (about once a second) and by the
//! coordination reads, and
//! dates a revision when observations bracket it closely enough to say when
//! it happened.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::etcd::EtcdSession;

/// Widest bracket of observations around a revision that still dates it:
/// the prober's period (1 s) plus room for a slow answer on a loaded
/// machine.
pub const EXACT_WITHIN_MS: u64 = 3_000;
/// Most revisions remembered; the oldest are dropped first. Only revisions
/// seen to change make entries, so an idle etcd costs nothing, and at one
/// probe a second this covers hours of a busy one.
pub const MAX_REVISIONS: usize = 16_384;

/// When this backend first and last saw etcd at one revision (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    first_ms: u64,
    last_ms: u64,
}

/// Observations of etcd's revision over time. Every observation is a fact
/// about etcd (the revision is the whole store's, whoever read it), so one
/// clock serves every user.
#[derive(Debug, Default)]
pub struct RevisionClock {
    seen: Mutex<BTreeMap<i64, Seen>>,
}

impl RevisionClock {
    /// Notes that etcd answered at `revision` by `now_ms`.
    pub fn observe(&self, revision: i64, now_ms: u64) {
        if revision <= 0 {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let entry = seen.entry(revision).or_insert(Seen {
            first_ms: now_ms,
            last_ms: now_ms,
        });
        entry.first_ms = entry.first_ms.min(now_ms);
        entry.last_ms = entry.last_ms.max(now_ms);
        while seen.len() > MAX_REVISIONS {
            seen.pop_first();
        }
    }

    /// When etcd reached `revision` (Unix ms): the first time the backend
    /// saw etcd at `revision` or later, provided it also saw etcd before
    /// `revision` at most [`EXACT_WITHIN_MS`] earlier. `None` when the
    /// observations do not bracket it that closely (before the backend
    /// started, while etcd was out of reach, or forgotten).
    pub fn date(&self, revision: i64) -> Option<u64> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Answers of different members or of concurrent reads may arrive
        // slightly out of order, so take the earliest sighting at or after
        // the revision and the latest one before it.
        let after = seen.range(revision..).map(|(_, s)| s.first_ms).min()?;
        let before = seen
            .range((Bound::Unbounded, Bound::Excluded(revision)))
            .map(|(_, s)| s.last_ms)
            .max()?;
        (after.saturating_sub(before) <= EXACT_WITHIN_MS).then_some(after)
    }
}

/// Records every revision the cluster's prober sees (about once a second)
/// until shutdown. The prober asks etcd anyway, so this costs etcd nothing;
/// a gap in its answers leaves the revisions in it undated, which is the
/// truth.
pub fn spawn_probe(
    clock: Arc<RevisionClock>,
    session: EtcdSession,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut revisions = session.revisions();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = revisions.changed() => if changed.is_err() { return },
                _ = shutdown.changed() => return,
            }
            if let Some(revision) = *revisions.borrow_and_update() {
                clock.observe(revision, super::queues::now_ms());
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_between_close_observations_is_dated_by_the_later() {
        let clock = RevisionClock::default();
        clock.observe(10, 1_000);
        clock.observe(10, 2_000);
        clock.observe(14, 2_900);
        clock.observe(14, 3_900);
        // Revision 12 happened after 2,000 (etcd was still at 10) and by
        // 2,900 (etcd was at 14).
        assert_eq!(clock.date(12), Some(2_900));
        assert_eq!(clock.date(14), Some(2_900));
        assert_eq!(clock.date(11), Some(2_900));
        // Nothing seen before revision 10, or at or after 15.
        assert_eq!(clock.date(10), None);
        assert_eq!(clock.date(15), None);
    }

    #[test]
    fn a_wide_gap_dates_nothing_in_it() {
        let clock = RevisionClock::default();
        clock.observe(10, 1_000);
        // etcd was out of reach for a minute.
        clock.observe(20, 61_000);
        assert_eq!(clock.date(15), None);
        clock.observe(20, 62_000);
        clock.observe(21, 62_500);
        assert_eq!(clock.date(21), Some(62_500));
    }

    #[test]
    fn out_of_order_answers_keep_the_earliest_and_latest_sightings() {
        let clock = RevisionClock::default();
        clock.observe(5, 1_000);
        clock.observe(9, 1_500);
        // A slow answer at revision 7 arrives after the one at 9.
        clock.observe(7, 1_600);
        assert_eq!(clock.date(8), Some(1_500));
        assert_eq!(clock.date(6), Some(1_500));
        // Non-positive revisions (no header) are not observations.
        clock.observe(0, 5);
        assert_eq!(clock.date(1), None);
    }

    #[test]
    fn the_oldest_revisions_are_forgotten_first() {
        let clock = RevisionClock::default();
        for r in 1..=(MAX_REVISIONS as i64 + 10) {
            clock.observe(r, r as u64);
        }
        assert_eq!(clock.date(5), None);
        assert_eq!(clock.date(MAX_REVISIONS as i64), Some(MAX_REVISIONS as u64));
        assert_eq!(
            clock.seen.lock().map(|s| s.len()).unwrap_or_default(),
            MAX_REVISIONS
        );
    }
}
