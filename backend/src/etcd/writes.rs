//! Guarded writes: every change etcdeck makes is one etcd transaction whose
//! compares hold the user to what they saw (a key's `mod_revision`, a
//! prefix unchanged since a preview, copy targets that do not exist yet),
//! and whose failure branch reads what is there now, so a refusal carries
//! the current state read atomically with it. Also the lease actions.
//!
//! The answers are backend types ([`Guarded`], [`SourceKv`]); the API layer
//! turns them into wire bodies and audit entries.

use etcd_client::{
    Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse,
};
use etcdeck_shared::edit::{LeaseChoice, PREVIEW_KEYS, PrefixPreview};
use etcdeck_shared::{Bytes, KeyValue, Revision};

use super::watches::range_end;
use super::{EtcdError, EtcdSession, REQUEST_TIMEOUT, Retry};

/// What a guarded write of one key did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guarded {
    /// Written at `revision`; `kv` is the key as written (puts only).
    Done {
        revision: Revision,
        kv: Option<KeyValue>,
    },
    /// The guard failed: nothing was written. `current` is the key as it is
    /// at `revision` (`None`: it does not exist).
    Refused {
        current: Option<KeyValue>,
        revision: Revision,
    },
}

/// One key read for a copy: what the transaction compares and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceKv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub mod_revision: i64,
    /// 0 without a lease.
    pub lease: i64,
}

/// The sources of a copy as read at `revision`, and how many keys the range
/// holds in all (`count` may exceed `kvs.len()` when the read was limited).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sources {
    pub revision: Revision,
    pub count: u64,
    pub kvs: Vec<SourceKv>,
}

/// One key to write in a copy: the target key and the source it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyPlan {
    pub sources: Vec<SourceKv>,
    pub targets: Vec<Vec<u8>>,
    /// Delete the sources in the same transaction.
    pub rename: bool,
    /// For a prefix: the source prefix and the revision the user saw it
    /// at; the transaction also refuses when any key under it changed or
    /// appeared after that revision (when etcd's compare limit allows).
    pub guard_prefix: Option<(Vec<u8>, i64)>,
}

/// etcd's default `--max-txn-ops`: the most compares, and the most
/// operations in each branch, one transaction may hold.
pub const MAX_TXN_OPS: usize = 128;

impl EtcdSession {
    /// Puts `key = value` if its `mod_revision` is still `expect` (0: the key
    /// must not exist), in one transaction that reads the key back either way.
    pub async fn put_guarded(
        &self,
        key: &Bytes,
        value: &Bytes,
        expect: Revision,
        lease: LeaseChoice,
    ) -> Result<Guarded, EtcdError> {
        let options = match lease {
            // A new key has no lease to keep; an existing one keeps its own.
            LeaseChoice::Keep if expect.0 > 0 => PutOptions::new().with_ignore_lease(),
            LeaseChoice::Keep | LeaseChoice::Detach => PutOptions::new(),
            LeaseChoice::Attach { id } => PutOptions::new().with_lease(id.0),
        };
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key.0.clone(),
                CompareOp::Equal,
                expect.0,
            )])
            .and_then([
                TxnOp::put(key.0.clone(), value.0.clone(), Some(options)),
                TxnOp::get(key.0.clone(), None),
            ])
            .or_else([TxnOp::get(key.0.clone(), None)]);
        let mine = |current: &KeyValue| {
            current.value == *value
                && match lease {
                    LeaseChoice::Keep => true,
                    LeaseChoice::Detach => current.lease.is_none(),
                    LeaseChoice::Attach { id } => current.lease.as_ref().map(|l| l.id) == Some(id),
                }
        };
        self.guarded(txn, true, |current| current.is_some_and(mine))
            .await
    }

    /// Deletes `key` if its `mod_revision` is still `expect`.
    pub async fn delete_guarded(
        &self,
        key: &Bytes,
        expect: Revision,
    ) -> Result<Guarded, EtcdError> {
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key.0.clone(),
                CompareOp::Equal,
                expect.0,
            )])
            .and_then([TxnOp::delete(key.0.clone(), None)])
            .or_else([TxnOp::get(key.0.clone(), None)]);
        self.guarded(txn, false, |current| current.is_none()).await
    }

    /// Runs a guarded transaction whose failure branch (and, when
    /// `read_back`, success branch) reads the key. It is sent to another
    /// member when one does not answer; when an earlier attempt's answer was
    /// lost, that attempt may have been applied, so a refusal that finds
    /// the key as this write leaves it (`applied`) is this write's own
    /// success, not a conflict.
    async fn guarded(
        &self,
        txn: Txn,
        read_back: bool,
        applied: impl Fn(Option<&KeyValue>) -> bool,
    ) -> Result<Guarded, EtcdError> {
        let txn = &txn;
        let answered = self
            .call_reporting(Retry::Always, REQUEST_TIMEOUT, |mut client| async move {
                client.txn(txn.clone()).await
            })
            .await?;
        let response = answered.value;
        let revision = response.header().map_or(0, |h| h.revision());
        let got = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => Some(get),
            _ => None,
        });
        let kv = match got.as_ref().and_then(|get| get.kvs().first()) {
            Some(kv) => Some(self.with_lease(kv, revision).await),
            None => None,
        };
        if response.succeeded() {
            return Ok(Guarded::Done {
                revision: Revision(revision),
                kv: kv.filter(|_| read_back),
            });
        }
        if answered.after_lost_answer && applied(kv.as_ref()) {
            tracing::info!(
                endpoint = self.inner.endpoints.url(answered.endpoint),
                "a write whose answer was lost had been applied; reporting it as done"
            );
            let written = kv.as_ref().map_or(revision, |kv| kv.mod_revision.0);
            return Ok(Guarded::Done {
                revision: Revision(written),
                kv: kv.filter(|_| read_back),
            });
        }
        Ok(Guarded::Refused {
            current: kv,
            revision: Revision(revision),
        })
    }

    /// How many keys lie under `prefix` (counted by etcd) and the first
    /// [`PREVIEW_KEYS`] of them, both at one revision.
    pub async fn prefix_preview(&self, prefix: &Bytes) -> Result<PrefixPreview, EtcdError> {
        let end = range_end(&prefix.0);
        let count = self
            .get(
                prefix.0.clone(),
                Some(GetOptions::new().with_count_only().with_range(end.clone())),
            )
            .await?;
        let revision = count.header().map_or(0, |h| h.revision());
        let keys = self
            .get(
                prefix.0.clone(),
                Some(
                    GetOptions::new()
                        .with_keys_only()
                        .with_range(end)
                        .with_limit(PREVIEW_KEYS as i64)
                        .with_revision(revision),
                ),
            )
            .await?;
        Ok(PrefixPreview {
            prefix: prefix.clone(),
            count: count.count().max(0) as u64,
            keys: keys.kvs().iter().map(|kv| Bytes::from(kv.key())).collect(),
            revision: Revision(revision),
        })
    }

    /// How many keys lie under `prefix` now, and the revision counted at.
    pub async fn count_prefix(&self, prefix: &Bytes) -> Result<(u64, Revision), EtcdError> {
        self.count_prefix_at(prefix, None).await
    }

    /// How many keys lay under `prefix` at `revision` (or now).
    pub async fn count_prefix_at(
        &self,
        prefix: &Bytes,
        revision: Option<Revision>,
    ) -> Result<(u64, Revision), EtcdError> {
        let mut options = GetOptions::new()
            .with_count_only()
            .with_range(range_end(&prefix.0));
        if let Some(revision) = revision {
            options = options.with_revision(revision.0);
        }
        let response = self.get(prefix.0.clone(), Some(options)).await?;
        Ok((
            response.count().max(0) as u64,
            Revision(response.header().map_or(0, |h| h.revision())),
        ))
    }

    /// Deletes every key under `prefix` with one DeleteRange, if no key under
    /// it was added or changed after `seen`. `None` when refused; else the
    /// revision of the delete and how many keys it deleted.
    pub async fn delete_prefix_guarded(
        &self,
        prefix: &Bytes,
        seen: Revision,
    ) -> Result<Option<(Revision, u64)>, EtcdError> {
        let end = range_end(&prefix.0);
        let txn = Txn::new()
            .when([
                Compare::mod_revision(prefix.0.clone(), CompareOp::Less, seen.0 + 1)
                    .with_range(end.clone()),
            ])
            .and_then([TxnOp::delete(
                prefix.0.clone(),
                Some(DeleteOptions::new().with_range(end)),
            )]);
        // A repeat of a delete that was applied would be refused (the keys
        // changed): send it again only if it never reached etcd.
        let txn = &txn;
        let response = self
            .call(Retry::IfNotSent, |mut client| async move {
                client.txn(txn.clone()).await
            })
            .await?;
        if !response.succeeded() {
            return Ok(None);
        }
        let revision = Revision(response.header().map_or(0, |h| h.revision()));
        let deleted = response
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Delete(delete) => Some(delete.deleted().max(0) as u64),
                _ => None,
            })
            .unwrap_or(0);
        Ok(Some((revision, deleted)))
    }

    /// The keys a copy reads: `from` itself, or every key under the prefix
    /// `from` (at most `limit`, with the total counted), with values.
    pub async fn copy_sources(
        &self,
        from: &Bytes,
        prefix: bool,
        limit: usize,
    ) -> Result<Sources, EtcdError> {
        let mut options = GetOptions::new().with_limit(limit as i64);
        if prefix {
            options = options.with_range(range_end(&from.0));
        }
        let response = self.get(from.0.clone(), Some(options)).await?;
        Ok(Sources {
            revision: Revision(response.header().map_or(0, |h| h.revision())),
            count: response.count().max(0) as u64,
            kvs: response
                .kvs()
                .iter()
                .map(|kv| SourceKv {
                    key: kv.key().to_vec(),
                    value: kv.value().to_vec(),
                    mod_revision: kv.mod_revision(),
                    lease: kv.lease(),
                })
                .collect(),
        })
    }

    /// Runs a copy or rename in one transaction: each source still as read,
    /// each target absent; then the puts (each with its source's lease) and,
    /// for a rename, the deletes. `None` when refused, with which targets
    /// exist now; else the revision written.
    pub async fn copy_guarded(&self, plan: &CopyPlan) -> Result<CopyOutcome, EtcdError> {
        let mut compares = Vec::new();
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        let mut checks = Vec::new();
        for (source, target) in plan.sources.iter().zip(&plan.targets) {
            compares.push(Compare::mod_revision(
                source.key.clone(),
                CompareOp::Equal,
                source.mod_revision,
            ));
            compares.push(Compare::version(target.clone(), CompareOp::Equal, 0));
            puts.push(TxnOp::put(
                target.clone(),
                source.value.clone(),
                Some(PutOptions::new().with_lease(source.lease)),
            ));
            if plan.rename {
                deletes.push(TxnOp::delete(source.key.clone(), None));
            }
            checks.push(TxnOp::get(
                target.clone(),
                Some(GetOptions::new().with_keys_only()),
            ));
        }
        if let Some((prefix, seen)) = plan
            .guard_prefix
            .as_ref()
            .filter(|_| compares.len() < MAX_TXN_OPS)
        {
            compares.push(
                Compare::mod_revision(prefix.clone(), CompareOp::Less, seen + 1)
                    .with_range(range_end(prefix)),
            );
        }
        puts.extend(deletes);
        let txn = Txn::new().when(compares).and_then(puts).or_else(checks);
        // A repeat of a copy that was applied would find its targets there.
        let txn = &txn;
        let response = self
            .call(Retry::IfNotSent, |mut client| async move {
                client.txn(txn.clone()).await
            })
            .await?;
        let revision = Revision(response.header().map_or(0, |h| h.revision()));
        if response.succeeded() {
            return Ok(CopyOutcome::Done { revision });
        }
        let existing = response
            .op_responses()
            .into_iter()
            .filter_map(|op| match op {
                TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.key().to_vec()),
                _ => None,
            })
            .collect();
        Ok(CopyOutcome::Refused { revision, existing })
    }

    /// Grants a lease of `ttl` seconds: its id and the TTL etcd granted.
    pub async fn lease_grant(&self, ttl: i64) -> Result<(i64, i64), EtcdError> {
        // A repeat would grant a second lease.
        let response = self
            .call(Retry::IfNotSent, |mut client| async move {
                client.lease_grant(ttl, None).await
            })
            .await?;
        Ok((response.id(), response.ttl()))
    }

    /// Revokes a lease (its keys are deleted); the revision of the revoke.
    pub async fn lease_revoke(&self, id: i64) -> Result<Revision, EtcdError> {
        // A repeat of a revoke that was applied would say the lease is unknown.
        let response = self
            .call(Retry::IfNotSent, |mut client| async move {
                client.lease_revoke(id).await
            })
            .await?;
        Ok(Revision(response.header().map_or(0, |h| h.revision())))
    }

    /// Renews a lease once. `None` when it does not exist (expired or
    /// revoked); else the seconds it has left.
    pub async fn lease_keep_alive_once(&self, id: i64) -> Result<Option<i64>, EtcdError> {
        // Renewing twice is harmless.
        let renewed = self
            .call(Retry::Always, |mut client| async move {
                client.lease_keep_alive(id).await
            })
            .await;
        match renewed {
            // The renewal was sent; its stream is not needed.
            Ok(stream) => drop(stream),
            Err(err) if err.is_lease_not_found() => return Ok(None),
            Err(err) => return Err(err),
        }
        let ttl = self
            .call(Retry::Always, |mut client| async move {
                client.lease_time_to_live(id, None).await
            })
            .await?;
        Ok((ttl.ttl() > 0).then_some(ttl.ttl()))
    }
}

/// What a copy transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyOutcome {
    Done {
        revision: Revision,
    },
    /// Nothing was written; `existing` are the targets that exist now (empty
    /// when a source changed instead).
    Refused {
        revision: Revision,
        existing: Vec<Vec<u8>>,
    },
}

/// Whether etcd refused a write because the lease named does not exist.
pub fn is_lease_not_found(err: &EtcdError) -> bool {
    err.is_lease_not_found()
}
