//! One read at a time of a coordination view per etcd user, shared by the
//! requests that wait for it: however many screens ask at once (twenty wall
//! screens re-reading after the same change), etcd answers at most two
//! rounds of reads, never one per screen.
//!
//! A request is answered only by a read that *started after it arrived*, so
//! sharing never hands out an answer older than the request (a test that
//! writes and then reads sees its write): requests that arrive while a read
//! is running wait for it to end, then the first of them reads again and
//! the rest take that answer. Answers depend only on the etcd user (etcd's
//! RBAC decides what each user sees), so they are shared per user; failures
//! are shared too, so a waiting crowd does not ask an unreachable etcd once
//! each, except those of one session's credentials (a login whose password
//! etcd no longer takes says nothing of another login of the same user).
//!
//! A user's slot holds one answer per view and lives while etcdeck runs:
//! etcd users are few (they are made by hand), so that is bounded.
//!
//! Wall screens go further ([`Sharing::Recent`]): they take any answer read
//! within the last [`RECENT`], so however many are open and however their
//! re-reads fall, each view costs etcd at most one round of reads a second
//! (the page asks again when an answer is older than a change it has seen,
//! so a screen is never left behind). Everyone else gets
//! [`Sharing::Exact`], an answer read after they asked.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::CoordError;

/// How old an answer a wall screen takes.
pub const RECENT: Duration = Duration::from_secs(1);

/// Which answers a request may share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    /// Only one read after the request arrived.
    Exact,
    /// Also one read within the last [`RECENT`] (wall screens).
    Recent,
}

/// The last answer of one user's view: the arrival number and the time at
/// which its read started, and the answer.
type Last<T> = tokio::sync::Mutex<Option<(u64, Instant, Result<T, CoordError>)>>;

/// One coordination view's reads, coalesced per etcd user.
#[derive(Debug)]
pub struct Coalesced<T> {
    /// Numbers every arrival and every start of a read, in order.
    clock: AtomicU64,
    users: Mutex<HashMap<Option<String>, Arc<Last<T>>>>,
}

impl<T> Default for Coalesced<T> {
    fn default() -> Self {
        Coalesced {
            clock: AtomicU64::new(0),
            users: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> Coalesced<T> {
    /// `read`'s answer for `user`, or the answer of a read that started
    /// after this call, or for [`Sharing::Recent`] within [`RECENT`] (see
    /// the module header).
    pub async fn read<F, Fut>(
        &self,
        user: Option<&str>,
        sharing: Sharing,
        read: F,
    ) -> Result<T, CoordError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, CoordError>>,
    {
        let arrived = self.clock.fetch_add(1, Ordering::SeqCst);
        let slot = self
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(user.map(str::to_owned))
            .or_default()
            .clone();
        // Tokio's mutex is fair: waiters take it in the order they came.
        let mut last = slot.lock().await;
        if let Some((started, at, answer)) = last.as_ref()
            && (*started > arrived || (sharing == Sharing::Recent && at.elapsed() < RECENT))
            && !answer.as_ref().is_err_and(CoordError::is_one_sessions)
        {
            return answer.clone();
        }
        let started = self.clock.fetch_add(1, Ordering::SeqCst);
        let at = Instant::now();
        let answer = read().await;
        *last = Some((started, at, answer.clone()));
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test]
    async fn a_crowd_costs_at_most_two_reads_and_no_one_gets_an_older_answer() {
        let coalesced = Arc::new(Coalesced::<usize>::default());
        let reads = Arc::new(AtomicUsize::new(0));
        let read = |reads: Arc<AtomicUsize>| async move {
            let n = reads.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(n)
        };
        let first = {
            let (c, r) = (coalesced.clone(), reads.clone());
            tokio::spawn(async move { c.read(Some("root"), Sharing::Exact, || read(r)).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Twenty arrive while the first read runs: they share the next one.
        let crowd: Vec<_> = (0..20)
            .map(|_| {
                let (c, r) = (coalesced.clone(), reads.clone());
                tokio::spawn(async move { c.read(Some("root"), Sharing::Exact, || read(r)).await })
            })
            .collect();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        for one in crowd {
            assert_eq!(one.await.unwrap().unwrap(), 2);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        // A later request reads again: answers never outlive their request.
        let later = coalesced
            .read(Some("root"), Sharing::Exact, || read(reads.clone()))
            .await;
        assert_eq!(later.unwrap(), 3);
        // Another etcd user never shares an answer.
        let other = coalesced
            .read(Some("viewer"), Sharing::Exact, || read(reads.clone()))
            .await;
        assert_eq!(other.unwrap(), 4);
        // A wall screen takes the answer of a second ago.
        let recent = coalesced
            .read(Some("root"), Sharing::Recent, || read(reads.clone()))
            .await;
        assert_eq!(recent.unwrap(), 3);
    }
}
