//! etcd reads behind the coordination views ([`crate::coord`]): leases with
//! their attached keys, bounded ranges with values, keys-only probes and
//! `count_only` counts. Answers are plain backend types, so `coord` never
//! sees an `etcd_client` type.

use etcd_client::{GetOptions, LeaseTimeToLiveOptions};
use futures::{StreamExt, stream};

use super::{EtcdError, EtcdSession, Retry};

/// Lease reads in flight at once while reading every lease.
const LEASE_READS_IN_FLIGHT: usize = 16;

/// One lease as etcd reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub id: i64,
    pub granted_ttl: i64,
    /// Seconds left; `None` when etcd says the lease is gone.
    pub ttl: Option<i64>,
    /// Every key attached, as etcd returned them (only with `keys = true`).
    pub keys: Vec<Vec<u8>>,
    /// etcd refused to name the attached keys to this user (etcd 3.4.26+
    /// and 3.5.8+ do so unless the user may read every one of them); the
    /// lease itself was read without them.
    pub keys_denied: bool,
}

/// A key with what the coordination views need to know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeKv {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// 0 when the key has no lease.
    pub lease: i64,
    pub create_revision: i64,
}

/// A bounded range read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeKvs {
    pub revision: i64,
    pub kvs: Vec<RangeKv>,
    /// Keys in the range that are not in `kvs` (beyond the limit).
    pub more: u64,
}

impl EtcdSession {
    /// The ids of every lease (`LeaseLeases`) and the revision etcd answered at.
    pub async fn lease_ids(&self) -> Result<(i64, Vec<i64>), EtcdError> {
        let response = self
            .call(
                Retry::Always,
                |mut client| async move { client.leases().await },
            )
            .await?;
        let revision = response.header().map_or(0, |h| h.revision());
        let mut ids: Vec<i64> = response.leases().iter().map(|l| l.id()).collect();
        ids.sort_unstable();
        Ok((revision, ids))
    }

    /// One lease's TTL (`LeaseTimeToLive`), with its attached keys when
    /// `keys`. A lease that ended meanwhile is `ttl: None`, not an error.
    pub async fn lease_info(&self, id: i64, keys: bool) -> Result<LeaseInfo, EtcdError> {
        let options = if keys {
            LeaseTimeToLiveOptions::new().with_keys()
        } else {
            LeaseTimeToLiveOptions::new()
        };
        let options = &options;
        let read = self
            .call(Retry::Always, |mut client| async move {
                client.lease_time_to_live(id, Some(options.clone())).await
            })
            .await;
        match read {
            // etcd answers TTL -1 for a lease it does not know (any more).
            Ok(response) => Ok(LeaseInfo {
                id,
                granted_ttl: response.granted_ttl(),
                ttl: (response.ttl() >= 0).then_some(response.ttl()),
                keys: response.keys().to_vec(),
                keys_denied: false,
            }),
            Err(err) if err.is_lease_not_found() => Ok(LeaseInfo {
                id,
                granted_ttl: 0,
                ttl: None,
                keys: Vec::new(),
                keys_denied: false,
            }),
            Err(EtcdError::PermissionDenied(_)) if keys => {
                let mut info = Box::pin(self.lease_info(id, false)).await?;
                info.keys_denied = true;
                Ok(info)
            }
            Err(err) => Err(err),
        }
    }

    /// [`Self::lease_info`] of many leases, a few in flight at once, in the
    /// order of `ids`.
    pub async fn lease_infos(&self, ids: &[i64], keys: bool) -> Result<Vec<LeaseInfo>, EtcdError> {
        let mut infos: Vec<(usize, LeaseInfo)> = stream::iter(ids.iter().copied().enumerate())
            .map(|(i, id)| async move { self.lease_info(id, keys).await.map(|info| (i, info)) })
            .buffer_unordered(LEASE_READS_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        infos.sort_by_key(|(i, _)| *i);
        Ok(infos.into_iter().map(|(_, info)| info).collect())
    }

    /// Up to `limit` keys with values in `[start, end)`, at `revision` (or
    /// the latest).
    pub async fn range_kvs(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        revision: Option<i64>,
    ) -> Result<RangeKvs, EtcdError> {
        let mut options = GetOptions::new()
            .with_range(end.to_vec())
            .with_limit(limit as i64);
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        let response = self.get(start.to_vec(), Some(options)).await?;
        let kvs: Vec<RangeKv> = response
            .kvs()
            .iter()
            .map(|kv| RangeKv {
                key: kv.key().to_vec(),
                value: kv.value().to_vec(),
                lease: kv.lease(),
                create_revision: kv.create_revision(),
            })
            .collect();
        let count = response.count().max(0) as u64;
        Ok(RangeKvs {
            revision: response.header().map_or(0, |h| h.revision()),
            more: count.saturating_sub(kvs.len() as u64),
            kvs,
        })
    }

    /// The first key in `[start, end)` (keys only), and the revision read at.
    pub async fn first_key(
        &self,
        start: &[u8],
        end: &[u8],
        revision: Option<i64>,
    ) -> Result<(i64, Option<Vec<u8>>), EtcdError> {
        let mut options = GetOptions::new()
            .with_keys_only()
            .with_range(end.to_vec())
            .with_limit(1);
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        let response = self.get(start.to_vec(), Some(options)).await?;
        Ok((
            response.header().map_or(0, |h| h.revision()),
            response.kvs().first().map(|kv| kv.key().to_vec()),
        ))
    }

    /// How many keys lie in `[start, end)`, counted by etcd (`count_only`),
    /// and the revision read at.
    pub async fn count_range(
        &self,
        start: &[u8],
        end: &[u8],
        revision: Option<i64>,
    ) -> Result<(i64, u64), EtcdError> {
        let mut options = GetOptions::new().with_count_only().with_range(end.to_vec());
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        let response = self.get(start.to_vec(), Some(options)).await?;
        Ok((
            response.header().map_or(0, |h| h.revision()),
            response.count().max(0) as u64,
        ))
    }
}
