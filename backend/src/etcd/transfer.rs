//! The etcd requests of moving data: a page of keys with every field at one
//! revision (export, import and compare all walk a prefix this way, so none
//! holds the keyspace in memory), a lease's remaining TTL, and one bounded
//! import transaction whose every key is guarded on the `mod_revision` it
//! was planned against, so it writes all of its keys or none.

use etcd_client::{Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use etcdeck_shared::Revision;

use super::{EtcdError, EtcdSession, Retry};

/// One key with every field etcd keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageKv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    /// 0 without a lease.
    pub lease: i64,
}

/// One page of a range read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The revision read at (the one asked for, else etcd's current).
    pub revision: i64,
    /// The cluster's id, from the answer's header.
    pub cluster_id: u64,
    pub kvs: Vec<PageKv>,
    /// The range holds more keys after the last of `kvs`.
    pub more: bool,
    /// How many keys the whole range `[start, end)` holds.
    pub count: u64,
}

/// One write of an import transaction, guarded on the key's `mod_revision`
/// as planned (0: the key must not exist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchWrite {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
        /// 0: no lease.
        lease: i64,
        expect: i64,
    },
    Delete {
        key: Vec<u8>,
        expect: i64,
    },
}

impl BatchWrite {
    pub fn key(&self) -> &[u8] {
        match self {
            BatchWrite::Put { key, .. } | BatchWrite::Delete { key, .. } => key,
        }
    }

    /// What the write adds to the transaction's request size.
    pub fn size(&self) -> usize {
        match self {
            BatchWrite::Put { key, value, .. } => 2 * key.len() + value.len() + 32,
            BatchWrite::Delete { key, .. } => 2 * key.len() + 32,
        }
    }
}

impl EtcdSession {
    /// At most `limit` keys of `[start, end)` (an empty `end`: only `start`)
    /// at `revision` (`None`: now), with values, in key order.
    pub async fn range_page(
        &self,
        start: &[u8],
        end: &[u8],
        revision: Option<i64>,
        limit: usize,
    ) -> Result<Page, EtcdError> {
        let mut options = GetOptions::new().with_limit(limit as i64);
        if !end.is_empty() {
            options = options.with_range(end.to_vec());
        }
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        let response = self.get(start.to_vec(), Some(options)).await?;
        let header = response.header();
        let kvs: Vec<PageKv> = response
            .kvs()
            .iter()
            .map(|kv| PageKv {
                key: kv.key().to_vec(),
                value: kv.value().to_vec(),
                create_revision: kv.create_revision(),
                mod_revision: kv.mod_revision(),
                version: kv.version(),
                lease: kv.lease(),
            })
            .collect();
        Ok(Page {
            // etcd's header names its current revision; the keys are as of
            // the one asked for.
            revision: revision.unwrap_or_else(|| header.map_or(0, |h| h.revision())),
            cluster_id: header.map_or(0, |h| h.cluster_id()),
            more: response.more(),
            count: response.count().max(0) as u64,
            kvs,
        })
    }

    /// The seconds lease `id` has left; `None` when it has expired.
    pub async fn lease_remaining(&self, id: i64) -> Result<Option<i64>, EtcdError> {
        let answer = self
            .call(Retry::Always, |mut client| async move {
                client.lease_time_to_live(id, None).await
            })
            .await;
        match answer {
            Ok(ttl) => Ok((ttl.ttl() > 0).then_some(ttl.ttl())),
            Err(err) if err.is_lease_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Writes `writes` in one transaction if every key's `mod_revision` is
    /// still as planned. `Some(revision)` when written, `None` when a key
    /// had changed (nothing was written).
    pub async fn write_batch(&self, writes: &[BatchWrite]) -> Result<Option<Revision>, EtcdError> {
        let mut compares = Vec::with_capacity(writes.len());
        let mut ops = Vec::with_capacity(writes.len());
        for write in writes {
            match write {
                BatchWrite::Put {
                    key,
                    value,
                    lease,
                    expect,
                } => {
                    compares.push(Compare::mod_revision(
                        key.clone(),
                        CompareOp::Equal,
                        *expect,
                    ));
                    let options = (*lease != 0).then(|| PutOptions::new().with_lease(*lease));
                    ops.push(TxnOp::put(key.clone(), value.clone(), options));
                }
                BatchWrite::Delete { key, expect } => {
                    compares.push(Compare::mod_revision(
                        key.clone(),
                        CompareOp::Equal,
                        *expect,
                    ));
                    ops.push(TxnOp::delete(key.clone(), None));
                }
            }
        }
        let txn = Txn::new().when(compares).and_then(ops);
        // A repeat of a batch that was applied would be refused (its keys
        // moved on): send it again only if it never reached etcd. The
        // import reports a lost answer as uncertain and a second run
        // settles it.
        let txn = &txn;
        let response = self
            .call(Retry::IfNotSent, |mut client| async move {
                client.txn(txn.clone()).await
            })
            .await?;
        Ok(response
            .succeeded()
            .then(|| Revision(response.header().map_or(0, |h| h.revision()))))
    }
}
