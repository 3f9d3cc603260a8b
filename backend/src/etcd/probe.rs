//! Asking etcd whether the session's user may write a key, or every key
//! under a prefix, without writing anything.
//!
//! etcd has no "may I?" call for ordinary users (reading roles needs root),
//! but it checks the permissions of every operation in both branches of a
//! transaction before it evaluates the compares. So a probe is one
//! transaction whose compare can never hold (`version(K) < 0`) and whose
//! success branch holds the write: a user without write access gets
//! `permission denied`, a user with it gets the failure branch (empty), and
//! in both cases nothing is written and etcd's revision does not move.
//!
//! The write in the success branch is a delete: of the key itself for a
//! key, of the whole range `[P, end(P))` for a prefix. etcd checks a
//! DeleteRange against the user's write permissions over the whole range,
//! so a prefix is allowed only when every key under it may be written (a
//! put of the prefix key would check that one key only). A single-key
//! delete needs the same write permission as a put of that key. Deletes
//! also never collide with one another inside one transaction (etcd refuses
//! a put that overlaps a delete or another put), so many probes can share
//! one transaction.
//!
//! The compare is on the target's own key (for a prefix, on the prefix key,
//! a point read, never the range: a compare over a range reads every key in
//! it). etcd requires read permission on compared keys, so a user who may
//! write but not read a key is answered "refused"; etcdeck cannot show such
//! a key anyway.
//!
//! Cost (measured on etcd 3.4): a transaction with a write in it goes
//! through raft even though its compare fails, so every probe transaction
//! is one raft proposal (a WAL entry), without a new revision.
//! [`EtcdSession::may_write_all`] therefore asks about a whole screen of
//! targets in one transaction, and asks target by target only when that
//! transaction is refused.

use etcd_client::{Compare, CompareOp, DeleteOptions, Txn, TxnOp};
use etcdeck_shared::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::watches::range_end;
use super::{EtcdError, EtcdSession, MAX_TXN_OPS, Retry};

/// How many single-target probes are in flight at once after a shared
/// transaction was refused.
const PROBES_AT_ONCE: usize = 8;

/// etcd's answer to "may this user write it?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MayWrite {
    Allowed,
    /// etcd refused; `reason` is etcd's own words ("etcdserver: permission
    /// denied").
    Refused {
        reason: String,
    },
}

impl EtcdSession {
    /// Whether the session's etcd user may write `key` (or, with `prefix`,
    /// every key under it), asked of etcd without writing. Errors other
    /// than etcd's permission refusal stay errors.
    pub async fn may_write(&self, key: &Bytes, prefix: bool) -> Result<MayWrite, EtcdError> {
        match self.ask(&[(key, prefix)]).await {
            Ok(()) => Ok(MayWrite::Allowed),
            Err(EtcdError::PermissionDenied(reason)) => Ok(MayWrite::Refused { reason }),
            Err(err) => Err(err),
        }
    }

    /// [`EtcdSession::may_write`] for many targets, answered in order. All
    /// of them (up to 128 at a time) are first asked in one transaction:
    /// when etcd allows it, every target is allowed. When it refuses (or
    /// the batch breaks a limit of etcd's), each target is asked alone (a
    /// few at a time), so a refusal is pinned on the targets it belongs to.
    pub async fn may_write_all(
        &self,
        targets: &[(Bytes, bool)],
    ) -> Result<Vec<MayWrite>, EtcdError> {
        let mut answers = Vec::with_capacity(targets.len());
        for chunk in targets.chunks(MAX_TXN_OPS) {
            if chunk.len() > 1 && self.all_allowed(chunk).await? {
                answers.extend(chunk.iter().map(|_| MayWrite::Allowed));
                continue;
            }
            // A few at a time: etcd commits concurrent proposals together.
            let one_by_one: Vec<MayWrite> = futures::stream::iter(chunk.iter().cloned())
                .map(|(key, prefix)| {
                    let session = self.clone();
                    async move { session.may_write(&key, prefix).await }
                })
                .buffered(PROBES_AT_ONCE)
                .try_collect()
                .await?;
            answers.extend(one_by_one);
        }
        Ok(answers)
    }

    /// One transaction probing every target in `chunk`: `true` when etcd
    /// allows them all, `false` when it refuses (which target is unknown).
    async fn all_allowed(&self, chunk: &[(Bytes, bool)]) -> Result<bool, EtcdError> {
        let targets: Vec<(&Bytes, bool)> = chunk.iter().map(|(k, p)| (k, *p)).collect();
        match self.ask(&targets).await {
            Ok(()) => Ok(true),
            // A refusal names no target; a batch over etcd's own limits
            // (`--max-txn-ops` lowered, `--max-request-bytes`) is asked
            // target by target instead of failing.
            Err(
                EtcdError::PermissionDenied(_)
                | EtcdError::InvalidRequest(_)
                | EtcdError::TooLarge(_),
            ) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Sends one probe transaction over `targets`: `Ok` when etcd allows
    /// every write in it, etcd's refusal as an error otherwise. Asking again
    /// on another member is harmless: the compare never holds.
    async fn ask(&self, targets: &[(&Bytes, bool)]) -> Result<(), EtcdError> {
        let (compares, ops) = probe(targets);
        let txn = &Txn::new().when(compares).and_then(ops);
        let response = self
            .call(Retry::Always, |mut client| async move {
                client.txn(txn.clone()).await
            })
            .await?;
        never_ran(&response);
        Ok(())
    }
}

/// A probe's compare can never hold (a version is never negative), so its
/// deletes never run; should etcd ever say otherwise, the log must say so
/// loudly, since keys were deleted.
fn never_ran(response: &etcd_client::TxnResponse) {
    if response.succeeded() {
        tracing::error!(
            revision = response.header().map_or(0, |h| h.revision()),
            "a write probe's never-true compare held: etcd ran its delete"
        );
    }
}

/// The compares (one never-true `version < 0` per target, on its own key)
/// and the deletes (the key, or the prefix's whole range) of a probe.
fn probe(targets: &[(&Bytes, bool)]) -> (Vec<Compare>, Vec<TxnOp>) {
    let mut compares = Vec::with_capacity(targets.len());
    let mut ops = Vec::with_capacity(targets.len());
    for (key, prefix) in targets {
        let (start, end) = bounds(key, *prefix);
        compares.push(Compare::version(start.clone(), CompareOp::Less, 0));
        let options = end.map(|end| DeleteOptions::new().with_range(end));
        ops.push(TxnOp::delete(start, options));
    }
    (compares, ops)
}

/// The key a probe starts at and, for a prefix, its range end. The empty
/// prefix is the whole keyspace, which etcd spells `["\0", "\0")` (an empty
/// key is refused).
fn bounds(key: &Bytes, prefix: bool) -> (Vec<u8>, Option<Vec<u8>>) {
    match (prefix, key.is_empty()) {
        (false, _) => (key.0.clone(), None),
        (true, true) => (vec![0], Some(vec![0])),
        (true, false) => (key.0.clone(), Some(range_end(&key.0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_probe_their_whole_range() {
        assert_eq!(bounds(&Bytes::from("/a"), false), (b"/a".to_vec(), None));
        assert_eq!(
            bounds(&Bytes::from("/a/"), true),
            (b"/a/".to_vec(), Some(b"/a0".to_vec()))
        );
        assert_eq!(bounds(&Bytes::from(""), true), (vec![0], Some(vec![0])));
    }
}
