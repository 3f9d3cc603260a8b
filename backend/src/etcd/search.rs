//! etcd reads behind search, always as the session's own user: a bounded
//! page of a range (with values, or keys only) at a pinned revision, and
//! the read-back of many named keys that confirms each model hit as the
//! person (one transaction per batch; when etcd refuses a batch, each key
//! alone, so one refused key does not hide the others).

use etcd_client::{GetOptions, Txn, TxnOp, TxnOpResponse};
use futures::{StreamExt, stream};

use super::{EtcdError, EtcdSession, Retry};

/// Keys read back in one transaction (etcd's `--max-txn-ops` is 128 by
/// default).
const READ_BACK_BATCH: usize = 64;
/// The value bytes one transaction's answer may carry, by the callers'
/// size hints (the gRPC answer limit is 4 MiB).
const READ_BACK_BYTES: u64 = 2 << 20;
/// Single-key reads in flight when a batch was refused.
const SINGLE_READS_IN_FLIGHT: usize = 8;

/// One key as search needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchKv {
    pub key: Vec<u8>,
    /// Empty for a keys-only read.
    pub value: Vec<u8>,
    pub value_size: u64,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    /// 0 for none.
    pub lease: i64,
}

/// One page of a range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPage {
    pub revision: i64,
    pub kvs: Vec<SearchKv>,
    pub more: bool,
}

fn search_kv(kv: &etcd_client::KeyValue) -> SearchKv {
    SearchKv {
        key: kv.key().to_vec(),
        value: kv.value().to_vec(),
        value_size: kv.value().len() as u64,
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

impl EtcdSession {
    /// Up to `limit` keys in `[start, end)` at `revision` (or the latest),
    /// with values unless `keys_only`.
    pub async fn search_page(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        revision: Option<i64>,
        keys_only: bool,
    ) -> Result<SearchPage, EtcdError> {
        let mut options = GetOptions::new()
            .with_range(end.to_vec())
            .with_limit(limit as i64);
        if keys_only {
            options = options.with_keys_only();
        }
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        let response = self.get(start.to_vec(), Some(options)).await?;
        Ok(SearchPage {
            revision: response.header().map_or(0, |h| h.revision()),
            kvs: response.kvs().iter().map(search_kv).collect(),
            more: response.more(),
        })
    }

    /// Each of `keys` (with its value's expected size) as this session's
    /// user reads it now, in the order given: `None` for a key that is gone
    /// or that etcd refuses to show this user. Values are read unless
    /// `keys_only`. Also answers the revision read at (the newest of the
    /// batches').
    pub async fn read_back(
        &self,
        keys: &[(Vec<u8>, u64)],
        keys_only: bool,
    ) -> Result<(i64, Vec<Option<SearchKv>>), EtcdError> {
        let mut revision = 0;
        let mut out = Vec::with_capacity(keys.len());
        for batch in batches(keys, keys_only) {
            let batch: Vec<Vec<u8>> = batch.iter().map(|(key, _)| key.clone()).collect();
            match self.read_batch(&batch, keys_only).await {
                Ok((at, kvs)) => {
                    revision = revision.max(at);
                    out.extend(kvs);
                }
                Err(EtcdError::PermissionDenied(_)) => {
                    let singles: Vec<Result<(i64, Option<SearchKv>), EtcdError>> =
                        stream::iter(batch)
                            .map(|key| async move { self.read_one(&key, keys_only).await })
                            .buffered(SINGLE_READS_IN_FLIGHT)
                            .collect()
                            .await;
                    for single in singles {
                        let (at, kv) = single?;
                        revision = revision.max(at);
                        out.push(kv);
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Ok((revision, out))
    }

    /// One transaction reading every key of `batch`; etcd checks every
    /// read's permission first, so a refusal is the whole batch's.
    async fn read_batch(
        &self,
        batch: &[Vec<u8>],
        keys_only: bool,
    ) -> Result<(i64, Vec<Option<SearchKv>>), EtcdError> {
        let ops: Vec<TxnOp> = batch
            .iter()
            .map(|key| TxnOp::get(key.clone(), get_options(keys_only)))
            .collect();
        let txn = &Txn::new().and_then(ops);
        let response = self
            .call(Retry::Always, |mut client| async move {
                client.txn(txn.clone()).await
            })
            .await?;
        let revision = response.header().map_or(0, |h| h.revision());
        let kvs = response
            .op_responses()
            .iter()
            .map(|op| match op {
                TxnOpResponse::Get(get) => get.kvs().first().map(search_kv),
                _ => None,
            })
            .collect();
        Ok((revision, kvs))
    }

    async fn read_one(
        &self,
        key: &[u8],
        keys_only: bool,
    ) -> Result<(i64, Option<SearchKv>), EtcdError> {
        match self.get(key.to_vec(), get_options(keys_only)).await {
            Ok(response) => Ok((
                response.header().map_or(0, |h| h.revision()),
                response.kvs().first().map(search_kv),
            )),
            Err(EtcdError::PermissionDenied(_)) => Ok((0, None)),
            Err(err) => Err(err),
        }
    }
}

fn get_options(keys_only: bool) -> Option<GetOptions> {
    keys_only.then(|| GetOptions::new().with_keys_only())
}

/// `keys` cut into transactions of at most [`READ_BACK_BATCH`] keys and,
/// with values, about [`READ_BACK_BYTES`] of them (a larger value alone).
fn batches(keys: &[(Vec<u8>, u64)], keys_only: bool) -> Vec<&[(Vec<u8>, u64)]> {
    let mut out = Vec::new();
    let (mut from, mut bytes) = (0, 0u64);
    for (i, (_, size)) in keys.iter().enumerate() {
        let size = if keys_only { 0 } else { *size };
        if i > from && (i - from >= READ_BACK_BATCH || bytes + size > READ_BACK_BYTES) {
            out.push(&keys[from..i]);
            (from, bytes) = (i, 0);
        }
        bytes += size;
    }
    if from < keys.len() {
        out.push(&keys[from..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_bounded_by_count_and_by_value_bytes() {
        let small: Vec<(Vec<u8>, u64)> = (0..130).map(|i| (vec![i as u8], 10)).collect();
        let sizes: Vec<usize> = batches(&small, false).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![64, 64, 2]);
        let big: Vec<(Vec<u8>, u64)> = (0..3).map(|i| (vec![i as u8], 1_500_000)).collect();
        let sizes: Vec<usize> = batches(&big, false).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![1, 1, 1]);
        assert_eq!(batches(&big, true).len(), 1);
        assert!(batches(&[], false).is_empty());
    }
}
