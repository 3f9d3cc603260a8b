//! Cluster operations, sent as the session's own etcd user so that etcd
//! decides: compaction, defragmenting one member, disarming an alarm,
//! moving the leader, and streaming a snapshot from one member.
//!
//! Operations on a member go through that member's own endpoint (found by
//! the member id its last `Status` answer named), never failed over to
//! another member: a defragment or a snapshot of the wrong member would be
//! a different operation. A leader move is sent to the current leader,
//! which is the only member that can hand leadership over.
//!
//! Defragmenting stops a member from serving until it is done, so at most
//! one member of a cluster is defragmented at a time through etcdeck: a
//! second defragment is refused while one runs ([`Defragment`]), whoever
//! asks for it.
//!
//! etcd keeps its compaction revision to itself; [`EtcdSession::compaction_revision`]
//! finds it by reading one key at revisions (a read before the compaction
//! revision is refused at once), in about 25 point reads.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use etcd_client::{AlarmAction, AlarmOptions, AlarmType, Client, CompactionOptions, GetOptions};
use futures::Stream;

use super::{CONNECT_TIMEOUT, EndpointState, EtcdError, EtcdSession, REQUEST_TIMEOUT, Retry};

/// How long a defragment may take: etcd rewrites the whole database file,
/// which takes seconds per GiB.
const DEFRAGMENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The size of the checksum etcd sends after a snapshot's data (SHA-256),
/// which `etcdctl snapshot save` keeps at the end of the file and `etcdctl
/// snapshot status` and `restore` check.
const SNAPSHOT_CHECKSUM_BYTES: u64 = 32;

/// The member being defragmented per cluster (keyed by the cluster's
/// endpoint list), shared by every session of the process.
static DEFRAGMENTING: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

/// Why an operation could not be done, besides etcd's own refusals.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    /// No endpoint etcdeck was given answers as this member.
    #[error(
        "member {0} is not one of the endpoints etcdeck was given, or has not answered yet; etcdeck reaches a member only through its own endpoint"
    )]
    UnknownMember(String),
    /// The member's endpoint is down.
    #[error("member {member} cannot be reached through its own endpoint: {reason}")]
    Unreachable { member: String, reason: String },
    /// Another defragment is running in this cluster.
    #[error(
        "member {0} is being defragmented now; etcdeck defragments one member at a time, never all at once: try again when it is done"
    )]
    Busy(String),
    /// No member that answers knows a leader.
    #[error("no member that answers knows a leader now, so there is no leadership to move")]
    NoLeader,
    /// The leader already is the member asked for.
    #[error("member {0} already is the leader")]
    AlreadyLeader(String),
    /// An alarm etcd does not have.
    #[error("etcd knows the alarms NOSPACE and CORRUPT, not {0}")]
    UnknownAlarm(String),
    #[error(transparent)]
    Etcd(#[from] EtcdError),
}

/// A snapshot on its way from a member: the first chunk has come.
pub struct Snapshot<S> {
    /// etcd's revision as the member took the snapshot.
    pub revision: i64,
    /// The whole file's size, when etcd's first chunk says it.
    pub size: Option<u64>,
    /// The data, chunk by chunk as etcd sends it (the first one included).
    pub chunks: S,
}

/// A running defragment's claim on its cluster: dropped when it ends.
#[derive(Debug)]
pub struct Defragment {
    session: EtcdSession,
    member: u64,
    endpoint: usize,
    _claim: Claim,
}

impl<S> std::fmt::Debug for Snapshot<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("revision", &self.revision)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A cluster's one defragment claim, given back when dropped.
#[derive(Debug)]
struct Claim {
    cluster: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut running = DEFRAGMENTING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(map) = running.as_mut() {
            map.remove(&self.cluster);
        }
    }
}

/// Claims `cluster`'s one defragment for `member`, or answers the member
/// that holds it.
fn claim(cluster: &str, member: u64) -> Result<Claim, u64> {
    let mut running = DEFRAGMENTING.lock().unwrap_or_else(PoisonError::into_inner);
    let map = running.get_or_insert_with(HashMap::new);
    if let Some(other) = map.get(cluster) {
        return Err(*other);
    }
    map.insert(cluster.to_owned(), member);
    Ok(Claim {
        cluster: cluster.to_owned(),
    })
}

/// The member holding `cluster`'s defragment claim, if any.
fn claimed(cluster: &str) -> Option<u64> {
    let running = DEFRAGMENTING.lock().unwrap_or_else(PoisonError::into_inner);
    running.as_ref()?.get(cluster).copied()
}

impl Defragment {
    /// Defragments the member through its own endpoint.
    ///
    /// When the answer is lost (the limit ran out, the connection broke), etcd
    /// may still be defragmenting: the claim is then kept, in a task of its
    /// own, until the member serves a read again (or [`HOLD_AFTER_LOST`]), so
    /// that no second member is started meanwhile and the cluster keeps its
    /// quorum.
    pub async fn run(self) -> Result<(), MaintenanceError> {
        let Defragment {
            session,
            member,
            endpoint,
            _claim: claim,
        } = self;
        let outcome = session
            .on_endpoint(
                member,
                endpoint,
                DEFRAGMENT_TIMEOUT,
                |mut client| async move { client.defragment().await },
            )
            .await
            .map(|_| ());
        if matches!(outcome, Err(MaintenanceError::Unreachable { .. })) {
            let session = session.clone();
            tokio::spawn(async move {
                let _claim = claim;
                session.until_serving(member, endpoint).await;
            });
        }
        outcome
    }
}

/// How long a defragment whose answer was lost keeps its claim at most.
const HOLD_AFTER_LOST: Duration = Duration::from_secs(30 * 60);
/// How often such a member is asked whether it serves again.
const SERVING_EVERY: Duration = Duration::from_secs(2);

/// The member id in hex, as the cluster view names members.
pub fn hex(id: u64) -> String {
    format!("{id:x}")
}

/// A member id from its hex form.
pub fn parse_member(text: &str) -> Option<u64> {
    u64::from_str_radix(text, 16).ok().filter(|id| *id != 0)
}

impl EtcdSession {
    /// etcd's compaction revision (0: never compacted), with etcd at
    /// `current`: the first revision a read may still ask for, found by
    /// bisection with point reads.
    pub async fn compaction_revision(&self, current: i64) -> Result<i64, EtcdError> {
        if current <= 1 || self.readable_at(1).await? {
            return Ok(0);
        }
        // Not readable at `low`, readable at `high` (a read at the
        // compaction revision itself is allowed).
        let (mut low, mut high) = (1, current);
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if self.readable_at(middle).await? {
                high = middle;
            } else {
                low = middle;
            }
        }
        Ok(high)
    }

    async fn readable_at(&self, revision: i64) -> Result<bool, EtcdError> {
        let options = GetOptions::new().with_count_only().with_revision(revision);
        match self.get(vec![0], Some(options)).await {
            Ok(_) => Ok(true),
            Err(EtcdError::Compacted(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Compacts etcd's history before `revision`, waiting until the
    /// compaction is applied to the database (so a defragment after it
    /// gives the space back). Answers etcd's revision.
    pub async fn compact(&self, revision: i64) -> Result<i64, EtcdError> {
        // A compaction sent twice is refused the second time (already
        // compacted), never applied twice; still, it is not repeated unless
        // it never reached etcd.
        let answer = self
            .call(Retry::IfNotSent, |mut client| async move {
                client
                    .compact(revision, Some(CompactionOptions::new().with_physical()))
                    .await
            })
            .await?;
        Ok(answer.header().map_or(revision, |h| h.revision()))
    }

    /// Claims the cluster's one defragment for `member`, or says which
    /// member is being defragmented.
    pub fn begin_defragment(&self, member: u64) -> Result<Defragment, MaintenanceError> {
        let endpoint = self.endpoint_of(member)?;
        let cluster = self.inner.config.endpoints.join(",");
        let claim = claim(&cluster, member).map_err(|other| MaintenanceError::Busy(hex(other)))?;
        Ok(Defragment {
            session: self.clone(),
            member,
            endpoint,
            _claim: claim,
        })
    }

    /// The member of this cluster being defragmented now, if any.
    pub fn defragmenting(&self) -> Option<u64> {
        claimed(&self.inner.config.endpoints.join(","))
    }

    /// Disarms `alarm` (`NOSPACE` or `CORRUPT`) on `member`. Answers
    /// whether etcd had that alarm.
    pub async fn disarm(&self, member: u64, alarm: &str) -> Result<bool, MaintenanceError> {
        let kind = match alarm {
            "NOSPACE" => AlarmType::Nospace,
            "CORRUPT" => AlarmType::Corrupt,
            other => return Err(MaintenanceError::UnknownAlarm(other.to_owned())),
        };
        // Disarming twice leaves the same state: it may be sent again.
        let answer = self
            .call(Retry::Always, |mut client| async move {
                let mut options = AlarmOptions::new();
                options.with_member(member);
                client
                    .alarm(AlarmAction::Deactivate, kind, Some(options))
                    .await
            })
            .await?;
        Ok(answer
            .alarms()
            .iter()
            .any(|a| a.member_id() == member && a.alarm() == kind))
    }

    /// The current leader, as the freshest answering member knows it.
    pub fn leader(&self) -> Option<u64> {
        self.inner
            .endpoints
            .readings()
            .endpoints
            .into_iter()
            .filter_map(|(_, state)| match state {
                EndpointState::Up(reading) if reading.leader_id != 0 => Some(reading),
                _ => None,
            })
            .max_by_key(|r| r.raft_term)
            .map(|r| r.leader_id)
    }

    /// Moves the leadership to `member`, asking the current leader.
    pub async fn move_leader(&self, member: u64) -> Result<(), MaintenanceError> {
        let leader = self.leader().ok_or(MaintenanceError::NoLeader)?;
        if leader == member {
            return Err(MaintenanceError::AlreadyLeader(hex(member)));
        }
        let endpoint = self.endpoint_of(leader)?;
        self.on_endpoint(leader, endpoint, REQUEST_TIMEOUT, |mut client| async move {
            client.move_leader(member).await
        })
        .await
        .map(|_| ())
    }

    /// A snapshot of `member`'s database, streamed from its own endpoint.
    /// Nothing of it is held here but the chunk on its way.
    pub async fn snapshot(
        &self,
        member: u64,
    ) -> Result<
        Snapshot<impl Stream<Item = Result<Vec<u8>, EtcdError>> + Send + 'static>,
        MaintenanceError,
    > {
        let endpoint = self.endpoint_of(member)?;
        let mut stream = self
            .on_endpoint(member, endpoint, REQUEST_TIMEOUT, |mut client| async move {
                client.snapshot().await
            })
            .await?;
        let first = match tokio::time::timeout(REQUEST_TIMEOUT, stream.message()).await {
            Ok(Ok(Some(first))) => first,
            Ok(Ok(None)) => {
                return Err(MaintenanceError::Etcd(EtcdError::Other(
                    "etcd ended the snapshot before sending any of it".into(),
                )));
            }
            Ok(Err(err)) => return Err(MaintenanceError::Etcd(err.into())),
            Err(_) => {
                return Err(MaintenanceError::Unreachable {
                    member: hex(member),
                    reason: format!(
                        "it sent no snapshot data within {} s",
                        REQUEST_TIMEOUT.as_secs()
                    ),
                });
            }
        };
        let revision = first.header().map_or(0, |h| h.revision());
        // etcd says in every chunk how much of the database is still to
        // come, and sends its checksum last.
        let size = (first.remaining_bytes() > 0 || !first.blob().is_empty())
            .then(|| first.blob().len() as u64 + first.remaining_bytes() + SNAPSHOT_CHECKSUM_BYTES);
        let first = first.blob().to_vec();
        let chunks =
            futures::stream::unfold((Some(first), Some(stream)), |(first, stream)| async move {
                if let Some(first) = first {
                    return Some((Ok(first), (None, stream)));
                }
                let mut stream = stream?;
                match stream.message().await {
                    Ok(Some(chunk)) => Some((Ok(chunk.blob().to_vec()), (None, Some(stream)))),
                    Ok(None) => None,
                    Err(err) => Some((Err(EtcdError::from(err)), (None, None))),
                }
            });
        Ok(Snapshot {
            revision,
            size,
            chunks,
        })
    }

    /// The endpoint that answers as `member`.
    fn endpoint_of(&self, member: u64) -> Result<usize, MaintenanceError> {
        let readings = self.inner.endpoints.readings();
        for (index, (_, state)) in readings.endpoints.iter().enumerate() {
            if let EndpointState::Up(reading) = state
                && reading.member_id == member
            {
                return Ok(index);
            }
        }
        // A member that is down is known by its client URLs in the member
        // list: say it is down rather than unknown.
        let entry = readings.members.iter().find(|m| m.id == member);
        if let Some(entry) = entry {
            for (url, state) in &readings.endpoints {
                if let EndpointState::Down(error) = state
                    && entry.client_urls.iter().any(|u| u == url)
                {
                    return Err(MaintenanceError::Unreachable {
                        member: hex(member),
                        reason: error.clone(),
                    });
                }
            }
        }
        Err(MaintenanceError::UnknownMember(hex(member)))
    }

    /// Runs `op` on this session's client of `endpoint` (member `member`),
    /// within `limit`, without failing over: the operation is that
    /// member's.
    /// Waits until `member` answers a read through its own endpoint (a
    /// member that is defragmenting serves none), for at most
    /// [`HOLD_AFTER_LOST`]. Any answer counts, a refusal too: only a member
    /// that does not answer may still be busy.
    async fn until_serving(&self, member: u64, endpoint: usize) {
        let deadline = tokio::time::Instant::now() + HOLD_AFTER_LOST;
        while tokio::time::Instant::now() < deadline {
            let read = self
                .on_endpoint(member, endpoint, REQUEST_TIMEOUT, |mut client| async move {
                    let options = GetOptions::new().with_count_only().with_serializable();
                    client.get(vec![0], Some(options)).await
                })
                .await;
            if !matches!(read, Err(MaintenanceError::Unreachable { .. })) {
                return;
            }
            tokio::time::sleep(SERVING_EVERY).await;
        }
        tracing::warn!(
            member = %hex(member),
            "a defragment's member did not serve again within 30 minutes; another defragment may start"
        );
    }

    /// [`Self::on_endpoint_uncounted`], counted in the metrics like every
    /// request through [`EtcdSession::call`].
    async fn on_endpoint<T: super::Called, F: Future<Output = Result<T, etcd_client::Error>>>(
        &self,
        member: u64,
        endpoint: usize,
        limit: Duration,
        op: impl FnOnce(Client) -> F,
    ) -> Result<T, MaintenanceError> {
        let started = std::time::Instant::now();
        let answer = self
            .on_endpoint_uncounted(member, endpoint, limit, op)
            .await;
        let error = match &answer {
            Ok(_) => None,
            Err(MaintenanceError::Etcd(err)) => Some(err.code()),
            Err(_) => Some("unavailable"),
        };
        self.metrics().etcd_call(T::CALL, started.elapsed(), error);
        answer
    }

    async fn on_endpoint_uncounted<T, F: Future<Output = Result<T, etcd_client::Error>>>(
        &self,
        member: u64,
        endpoint: usize,
        limit: Duration,
        op: impl FnOnce(Client) -> F,
    ) -> Result<T, MaintenanceError> {
        let unreachable = |err: &EtcdError| MaintenanceError::Unreachable {
            member: hex(member),
            reason: err.to_string(),
        };
        let client = match self.client(endpoint, CONNECT_TIMEOUT).await {
            Ok(client) => client,
            Err(err) if err.is_unreachable() => {
                self.failed(endpoint, &err).await;
                return Err(unreachable(&err));
            }
            Err(err) => return Err(self.revoked_if(err).into()),
        };
        match tokio::time::timeout(limit, op(client)).await {
            Ok(Ok(value)) => {
                self.inner.endpoints.mark_up(endpoint);
                Ok(value)
            }
            Ok(Err(err)) => {
                let err = EtcdError::from(err);
                if err.is_unreachable() {
                    Err(unreachable(&err))
                } else {
                    Err(self.revoked_if(err).into())
                }
            }
            Err(_) => Err(MaintenanceError::Unreachable {
                member: hex(member),
                reason: format!("it did not answer within {} s", limit.as_secs()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_defragment_per_cluster_at_a_time() {
        let first = claim("http://a:1,http://a:2", 1).expect("the first claim");
        assert_eq!(claim("http://a:1,http://a:2", 2).err(), Some(1));
        assert_eq!(claimed("http://a:1,http://a:2"), Some(1));
        // Another cluster has a claim of its own.
        let other = claim("http://b:1", 7).expect("another cluster's claim");
        drop(first);
        assert_eq!(claimed("http://a:1,http://a:2"), None);
        let again = claim("http://a:1,http://a:2", 2).expect("claimed again once given back");
        assert_eq!(claimed("http://b:1"), Some(7));
        drop((again, other));
    }

    #[test]
    fn member_ids_are_hex() {
        assert_eq!(
            parse_member("8e9e05c52164694d"),
            Some(0x8e9e_05c5_2164_694d)
        );
        assert_eq!(hex(0x8e9e_05c5_2164_694d), "8e9e05c52164694d");
        assert_eq!(parse_member("0"), None);
        assert_eq!(parse_member("m0"), None);
    }
}
