//! Reading the past: one key at an earlier revision, and a key's versions
//! still in etcd's history, replayed by a watch from the key's
//! `create_revision` up to the revision it was read at.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use etcdeck_shared::edit::{MAX_HISTORY_VERSIONS, Version};
use etcdeck_shared::ws::{EventKind, WatchRange};
use etcdeck_shared::{KeyValue, Revision};

use super::watches::{WatchEnd, WatchMessage};
use super::{EtcdError, EtcdSession};

/// How long collecting one key's history may take in all.
pub const HISTORY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most value bytes one history holds; older versions beyond it are left
/// out (`truncated`), as beyond [`MAX_HISTORY_VERSIONS`].
pub const MAX_HISTORY_BYTES: usize = 32 * 1024 * 1024;

/// Why a key's history could not be read.
#[derive(Debug)]
pub enum HistoryError {
    Etcd(EtcdError),
    /// etcd did not replay the history within [`HISTORY_TIMEOUT`].
    TimedOut,
}

impl From<EtcdError> for HistoryError {
    fn from(err: EtcdError) -> Self {
        HistoryError::Etcd(err)
    }
}

/// A key's versions, oldest first, as collected from etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHistory {
    pub current: KeyValue,
    pub versions: Vec<Version>,
    /// etcd's compaction point when the history asked for started before it.
    pub compacted_before: Option<Revision>,
    pub truncated: bool,
}

impl EtcdSession {
    /// The versions of `current` (the key as read) from its
    /// `create_revision` up to its `mod_revision`, by a watch that replays
    /// them; the newest [`MAX_HISTORY_VERSIONS`] are kept.
    pub async fn key_history(&self, current: KeyValue) -> Result<KeyHistory, HistoryError> {
        let deadline = Instant::now() + HISTORY_TIMEOUT;
        let range = WatchRange {
            key: current.key.clone(),
            prefix: false,
        };
        let mut start = current.create_revision;
        let mut compacted_before = None;
        let mut versions: VecDeque<Version> = VecDeque::new();
        let mut truncated = false;
        let mut bytes = 0usize;
        let mut attempts = 0;
        'watch: loop {
            attempts += 1;
            if attempts > 3 {
                return Err(HistoryError::Etcd(EtcdError::Other(
                    "etcd kept cancelling the history watch".into(),
                )));
            }
            if start > current.mod_revision {
                // Everything before the current version was compacted away.
                break;
            }
            let opened = tokio::time::timeout_at(deadline.into(), self.open_watch(&range, start))
                .await
                .map_err(|_| HistoryError::TimedOut)?;
            let mut watch = match opened {
                Ok(watch) => watch,
                Err(WatchEnd::Compacted(at)) => {
                    compacted_before = Some(at);
                    start = at;
                    continue;
                }
                Err(end @ WatchEnd::Auth(_)) if attempts == 1 && !end.is_permission_denied() => {
                    // A stale token: renew it and try once more.
                    self.refresh_token().await?;
                    continue;
                }
                Err(end) => return Err(watch_failure(end).into()),
            };
            loop {
                let message = tokio::time::timeout_at(deadline.into(), watch.next())
                    .await
                    .map_err(|_| HistoryError::TimedOut)?;
                match message {
                    WatchMessage::Revisions(revisions) => {
                        for (revision, events) in revisions {
                            if revision > current.mod_revision {
                                break 'watch;
                            }
                            for event in events {
                                let kv = event.kv;
                                bytes += kv.value.len();
                                versions.push_back(Version {
                                    mod_revision: kv.mod_revision,
                                    value: (event.kind == EventKind::Put).then_some(kv.value),
                                    create_revision: kv.create_revision,
                                    version: kv.version,
                                    lease: kv.lease,
                                    masked: None,
                                });
                                while versions.len() > MAX_HISTORY_VERSIONS
                                    || (bytes > MAX_HISTORY_BYTES && versions.len() > 1)
                                {
                                    if let Some(old) = versions.pop_front() {
                                        bytes -= old.value.map_or(0, |v| v.len());
                                    }
                                    truncated = true;
                                }
                            }
                            if revision == current.mod_revision {
                                break 'watch;
                            }
                        }
                    }
                    WatchMessage::Progress(_) => {}
                    WatchMessage::Ended(WatchEnd::Compacted(at)) => {
                        compacted_before = Some(at);
                        start = at;
                        versions.clear();
                        bytes = 0;
                        continue 'watch;
                    }
                    WatchMessage::Ended(end) => return Err(watch_failure(end).into()),
                }
            }
        }
        if versions.is_empty() {
            // The whole replay was compacted away: the key as read is all
            // that is left.
            versions.push_back(Version {
                mod_revision: current.mod_revision,
                value: Some(current.value.clone()),
                create_revision: current.create_revision,
                version: current.version,
                lease: current.lease.as_ref().map(|l| l.id),
                masked: None,
            });
        }
        Ok(KeyHistory {
            current,
            versions: versions.into(),
            compacted_before,
            truncated,
        })
    }
}

fn watch_failure(end: WatchEnd) -> EtcdError {
    match end {
        WatchEnd::Auth(reason) => EtcdError::PermissionDenied(reason),
        WatchEnd::Compacted(at) => EtcdError::Compacted(at.0),
        WatchEnd::Unavailable(reason) => EtcdError::Unavailable(reason),
    }
}
