//! Watches and range snapshots, in the hub's terms.
//!
//! [`EtcdSession::open_watch`] opens one etcd watch and waits for etcd's
//! answer to the create request, so that a watch etcd cancels on creation
//! (an expired token, a compacted start revision, a range the user may not
//! read) is told apart from one that is live. [`RangeWatch::next`] turns the
//! responses that follow into [`WatchMessage`]s: events grouped into whole
//! revisions, progress, or the end of the watch with its reason classified.
//!
//! Re-authentication and re-watching are the hub's business
//! (`crate::hub`); this module only says what happened.

use std::collections::HashMap;
use std::time::Duration;

use etcd_client::{EventType, GetOptions, WatchOptions, WatchStream};
use etcdeck_shared::ws::{EventKind, WatchEvent, WatchKv, WatchRange};
use etcdeck_shared::{Bytes, LeaseId, Revision};

use tokio::sync::watch;

use super::endpoints::{Health, went_down};
use super::{EtcdError, EtcdSession, Retry, error};

/// How long etcd may take to answer a watch create request.
const CREATE_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest watch response accepted. etcd sends a replay of history in
/// responses of up to 1,000 revisions, and without fragmenting a single
/// revision (a delete of a large prefix) whole; tonic's default of 4 MiB
/// would break such a watch over and over.
const MAX_WATCH_RESPONSE: usize = 512 * 1024 * 1024;

/// Why a watch ended or could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// The token was stale or the user's permissions were in doubt (etcd
    /// says "invalid auth token", "auth store is old" or "permission
    /// denied"). Re-authenticate and try once more to tell which.
    Auth(String),
    /// The start revision is older than etcd's compaction point.
    Compacted(Revision),
    /// The stream broke, etcd is unreachable, or etcd cancelled the watch
    /// for another reason: re-watching later may work.
    Unavailable(String),
}

impl WatchEnd {
    /// Whether the reason is etcd saying "permission denied".
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, WatchEnd::Auth(reason) if error::says_permission_denied(reason))
    }
}

impl From<&WatchEnd> for crate::metrics::Rewatch {
    fn from(end: &WatchEnd) -> Self {
        match end {
            WatchEnd::Auth(_) => crate::metrics::Rewatch::Auth,
            WatchEnd::Compacted(_) => crate::metrics::Rewatch::Compacted,
            WatchEnd::Unavailable(_) => crate::metrics::Rewatch::Unavailable,
        }
    }
}

impl From<EtcdError> for WatchEnd {
    fn from(err: EtcdError) -> Self {
        match err {
            EtcdError::PermissionDenied(message) => WatchEnd::Auth(message),
            EtcdError::Other(message) if error::is_auth_reason(&message) => WatchEnd::Auth(message),
            EtcdError::Compacted(rev) => WatchEnd::Compacted(Revision(rev)),
            other => WatchEnd::Unavailable(other.to_string()),
        }
    }
}

/// What a live watch said next.
#[derive(Debug)]
pub enum WatchMessage {
    /// Changes, grouped by revision, in order; each group is one whole
    /// revision (all the events of one transaction).
    Revisions(Vec<(Revision, Vec<WatchEvent>)>),
    /// Every change up to this revision has been sent.
    Progress(Revision),
    /// The watch is over.
    Ended(WatchEnd),
}

/// One open etcd watch on one range.
#[derive(Debug)]
pub struct RangeWatch {
    stream: WatchStream,
    /// etcd's revision when the watch was created.
    pub created_at: Revision,
    /// The health of the endpoint the watch is open on: a watch on a member
    /// that hangs would wait for HTTP/2 keep-alives to notice, so it ends
    /// as soon as the prober finds the member away.
    health: watch::Receiver<Health>,
    endpoint: String,
}

impl RangeWatch {
    /// The next thing etcd says about this watch.
    pub async fn next(&mut self) -> WatchMessage {
        loop {
            let message = tokio::select! {
                message = self.stream.message() => message,
                error = went_down(&mut self.health) => {
                    return WatchMessage::Ended(WatchEnd::Unavailable(format!(
                        "{} stopped answering: {error}",
                        self.endpoint
                    )));
                }
            };
            let response = match message {
                Ok(Some(response)) => response,
                Ok(None) => {
                    return WatchMessage::Ended(WatchEnd::Unavailable(
                        "the watch stream ended".into(),
                    ));
                }
                Err(err) => return WatchMessage::Ended(EtcdError::from(err).into()),
            };
            if response.canceled() {
                return WatchMessage::Ended(cancel_reason(&response));
            }
            let header_revision = response.header().map_or(0, |h| h.revision());
            if response.events().is_empty() {
                if response.created() {
                    continue;
                }
                return WatchMessage::Progress(Revision(header_revision));
            }
            return WatchMessage::Revisions(group_by_revision(response.events()));
        }
    }

    /// Asks etcd for a progress notification as soon as the watch has sent
    /// everything up to the current revision.
    pub async fn request_progress(&mut self) -> Result<(), EtcdError> {
        self.stream
            .request_progress()
            .await
            .map_err(EtcdError::from)
    }
}

impl EtcdSession {
    /// Opens a watch on `range` that replays every change from `start`
    /// (inclusive), with each change's previous value.
    pub async fn open_watch(
        &self,
        range: &WatchRange,
        start: Revision,
    ) -> Result<RangeWatch, WatchEnd> {
        let mut options = WatchOptions::new()
            .with_prev_key()
            .with_progress_notify()
            .with_start_revision(start.0.max(1));
        if range.prefix {
            options = options.with_range(range_end(&range.key.0));
        }
        let options = &options;
        let opened = self
            .call_reporting(Retry::Always, CREATE_TIMEOUT, |client| async move {
                let mut watches = client
                    .watch_client()
                    .max_decoding_message_size(MAX_WATCH_RESPONSE);
                let mut stream = watches
                    .watch(range.key.0.clone(), Some(options.clone()))
                    .await?;
                let created = stream.message().await?;
                Ok((stream, created))
            })
            .await?;
        let endpoint = opened.endpoint;
        let (stream, created) = opened.value;
        let Some(created) = created else {
            return Err(WatchEnd::Unavailable("the watch stream ended".into()));
        };
        if created.canceled() {
            return Err(cancel_reason(&created));
        }
        Ok(RangeWatch {
            stream,
            created_at: Revision(created.header().map_or(0, |h| h.revision())),
            health: self.inner.endpoints.watch(endpoint),
            endpoint: self.inner.endpoints.url(endpoint).to_owned(),
        })
    }

    /// etcd's current revision, read in a way that also checks that the
    /// user may read `range` (a get of the range's first key only, which
    /// costs nothing however large the range): `PermissionDenied` if not.
    pub async fn readable_revision(&self, range: &WatchRange) -> Result<Revision, EtcdError> {
        let options = GetOptions::new().with_keys_only().with_limit(1);
        // etcd refuses an empty key; the whole keyspace starts at `\0`.
        let first = if range.key.0.is_empty() {
            vec![0]
        } else {
            range.key.0.clone()
        };
        let response = self.get(first, Some(options)).await?;
        Ok(Revision(response.header().map_or(0, |h| h.revision())))
    }

    /// etcd's current revision.
    pub async fn current_revision(&self) -> Result<Revision, EtcdError> {
        let status = self
            .call(
                Retry::Always,
                |mut client| async move { client.status().await },
            )
            .await?;
        Ok(Revision(status.header().map_or(0, |h| h.revision())))
    }

    /// One page of `range` in key order: keys after `after` (or from the
    /// start), at `revision` (or the latest). Returns the revision read at,
    /// the keys and whether more follow.
    pub async fn snapshot_page(
        &self,
        range: &WatchRange,
        revision: Option<Revision>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Revision, Vec<WatchKv>, bool), EtcdError> {
        let start = match after {
            Some(after) => {
                let mut next = after.to_vec();
                next.push(0);
                next
            }
            None => range.key.0.clone(),
        };
        if !range.prefix && after.is_some() {
            return Ok((revision.unwrap_or_default(), Vec::new(), false));
        }
        let mut options = GetOptions::new().with_limit(limit as i64);
        if range.prefix {
            options = options.with_range(range_end(&range.key.0));
        }
        if let Some(revision) = revision {
            options = options.with_revision(revision.0);
        }
        let response = self.get(start, Some(options)).await?;
        let read_at = Revision(response.header().map_or(0, |h| h.revision()));
        let kvs = response.kvs().iter().map(watch_kv).collect();
        Ok((revision.unwrap_or(read_at), kvs, response.more()))
    }

    /// Whether a lease no longer exists (expired or revoked). `false` when
    /// that cannot be found out.
    pub async fn lease_gone(&self, lease: LeaseId) -> bool {
        let read = self
            .call(Retry::Always, |mut client| async move {
                client.lease_time_to_live(lease.0, None).await
            })
            .await;
        match read {
            Ok(ttl) => ttl.ttl() < 0,
            Err(err) => {
                tracing::debug!(error = %err, %lease, "lease time-to-live unavailable");
                false
            }
        }
    }
}

/// The end of the range of keys starting with `prefix`: the one function
/// for it, shared with the tree lister and the coordination views.
pub(crate) use crate::tree::range_end;

fn cancel_reason(response: &etcd_client::WatchResponse) -> WatchEnd {
    if response.compact_revision() > 0 {
        return WatchEnd::Compacted(Revision(response.compact_revision()));
    }
    let reason = response.cancel_reason();
    if error::is_auth_reason(reason) {
        WatchEnd::Auth(reason.to_owned())
    } else if reason.is_empty() {
        WatchEnd::Unavailable("etcd cancelled the watch".into())
    } else {
        WatchEnd::Unavailable(format!("etcd cancelled the watch: {reason}"))
    }
}

fn watch_kv(kv: &etcd_client::KeyValue) -> WatchKv {
    WatchKv {
        key: Bytes::from(kv.key()),
        value: Bytes::from(kv.value()),
        create_revision: Revision(kv.create_revision()),
        mod_revision: Revision(kv.mod_revision()),
        version: kv.version(),
        lease: (kv.lease() != 0).then_some(LeaseId(kv.lease())),
        masked: None,
    }
}

fn group_by_revision(events: &[etcd_client::Event]) -> Vec<(Revision, Vec<WatchEvent>)> {
    let mut groups: Vec<(Revision, Vec<WatchEvent>)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for event in events {
        let Some(kv) = event.kv() else { continue };
        let revision = kv.mod_revision();
        let wire = WatchEvent {
            kind: match event.event_type() {
                EventType::Put => EventKind::Put,
                EventType::Delete => EventKind::Delete,
            },
            kv: watch_kv(kv),
            prev: event.prev_kv().map(watch_kv),
            lease_ended: false,
        };
        match index.get(&revision) {
            Some(&at) => groups[at].1.push(wire),
            None => {
                index.insert(revision, groups.len());
                groups.push((Revision(revision), vec![wire]));
            }
        }
    }
    groups.sort_by_key(|(revision, _)| *revision);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_end_of_prefixes() {
        assert_eq!(range_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(range_end(b"a\xff"), b"b".to_vec());
        assert_eq!(range_end(b"\xff\xff"), vec![0]);
        assert_eq!(range_end(b""), vec![0]);
    }

    #[test]
    fn auth_reasons() {
        assert!(error::is_auth_reason(
            "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
        ));
        assert!(error::is_auth_reason(
            "etcdserver: revision of auth store is old"
        ));
        assert!(error::is_auth_reason("etcdserver: permission denied"));
        assert!(!error::is_auth_reason(
            "etcdserver: mvcc: required revision has been compacted"
        ));
    }
}
