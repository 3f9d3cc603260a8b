//! The coordination views: leases, locks, elections, queues and service
//! registrations, recognised by the key layouts of etcd's `concurrency` and
//! `recipes` packages (see "Recognising coordination" in `ARCHITECTURE.md`).
//!
//! # Parts
//! - [`detect`]: which keys are Mutex, RWMutex and Election contenders, and
//!   who holds or leads (pure).
//! - [`queues`]: Queue and PriorityQueue item keys (pure) and the one
//!   [`queues::QueueTracker`] per configured or found queue (rates, depth
//!   history).
//! - [`detect_queues`]: the bounded background walk of the key tree that
//!   finds queues nobody configured.
//! - [`services`]: `<prefix><name>/<instance>` registrations (pure).
//! - [`hold`]: since when each holder has held, exact or estimated.
//! - [`clock`]: when etcd reached each revision, as the backend saw it.
//! - [`coalesce`]: one read of a view at a time per etcd user, shared by
//!   the requests waiting for it, so many screens cost etcd what one does.
//!
//! Nothing here scans the keyspace. Locks and elections are found from the
//! keys attached to leases (every contender's key is attached to its
//! session's lease), plus the configured prefixes; queues and services are
//! read under their configured (or, for queues, found) prefixes only, with
//! `limit`s and `count_only`.

pub mod clock;
pub mod coalesce;
pub mod detect;
pub mod detect_queues;
pub mod hold;
pub mod queues;
pub mod services;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use etcdeck_shared::coord::{
    Election, Elections, LeaseDetail, Leases, Lock, Locks, MAX_LEASE_KEYS, PriorityDepth, Queue,
    QueueKind, Queues, Services,
};
use etcdeck_shared::{Bytes, LeaseId, Revision};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use crate::config::CoordConfig;
use crate::etcd::{EtcdError, EtcdSession, LeaseInfo};
use crate::hub::Hub;
use crate::tree::range_end;
use clock::RevisionClock;
use coalesce::Coalesced;
pub use coalesce::Sharing;
use detect::{Group, Hint};
use hold::HoldTracker;
use queues::{Item, QueueTracker};

/// Most lock or election prefixes read in one answer.
pub const MAX_PREFIXES: usize = 500;
/// Most contenders read under one prefix.
pub const MAX_CONTENDERS: usize = 1_000;
/// Most registrations read under one service prefix.
pub const MAX_SERVICE_KEYS: usize = 2_000;
/// Most priorities of one priority queue counted in one answer.
pub const MAX_PRIORITIES: usize = 100;
/// How long one reading of every lease's keys serves the locks and elections
/// views: many browsers polling at once cost one round of lease reads.
const LEASE_KEYS_FRESH: Duration = Duration::from_secs(1);

/// Why a coordination view cannot be answered.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CoordError {
    /// etcd's RBAC refused; the text is a sentence for the user.
    #[error("{0}")]
    Denied(String),
    #[error(transparent)]
    Etcd(EtcdError),
}

impl CoordError {
    /// A failure of the asking session's own credentials, never shared
    /// with another session of the same etcd user.
    pub fn is_one_sessions(&self) -> bool {
        matches!(
            self,
            CoordError::Etcd(EtcdError::AuthFailed(_) | EtcdError::PasswordRevoked(_))
        )
    }
}

const LEASES_DENIED: &str = "etcd refused to list leases and their keys to the etcd user etcdeck \
     acts as (permission denied); locks and elections are found through leases, so they need it too. \
     Run etcdeck as a user that may read the keys attached to leases, or as root.";

/// Leases are read for several views: a refusal is said the same way.
fn lease_error(err: EtcdError) -> CoordError {
    match err {
        EtcdError::PermissionDenied(_) => CoordError::Denied(LEASES_DENIED.into()),
        other => CoordError::Etcd(other),
    }
}

fn range_error(err: EtcdError, what: &str, prefix: &[u8]) -> CoordError {
    match err {
        EtcdError::PermissionDenied(_) => CoordError::Denied(format!(
            "etcd refused to let your etcd user read the {what} {} (permission denied)",
            Bytes::from(prefix).display()
        )),
        other => CoordError::Etcd(other),
    }
}

fn with_slash(prefix: &[u8]) -> Vec<u8> {
    let mut items = prefix.to_vec();
    items.push(b'/');
    items
}

/// The coordination views. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Coord {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: CoordConfig,
    lock_holds: HoldTracker,
    leader_holds: HoldTracker,
    /// Dates revisions, so holders are dated from the revision they began
    /// to hold at.
    clock: Arc<RevisionClock>,
    queues: Vec<Arc<QueueTracker>>,
    /// Queues found by the walk, each with its tracker.
    detected: Arc<detect_queues::Detected>,
    /// The last reading of every lease with its keys per etcd user (each
    /// sees only the keys it may), for [`Coord::groups`]; held while
    /// reading, so concurrent requests share one reading.
    lease_keys: Mutex<HashMap<Option<String>, LeaseReading>>,
    /// Each view's reads, shared by the requests of one etcd user that
    /// wait for them.
    shared: SharedReads,
}

/// The coalesced reads of each view.
#[derive(Debug, Default)]
struct SharedReads {
    leases: Coalesced<Leases>,
    locks: Coalesced<Locks>,
    elections: Coalesced<Elections>,
    queues: Coalesced<Queues>,
    services: Coalesced<Services>,
}

/// Every lease with its keys, as read at `at`.
#[derive(Debug)]
struct LeaseReading {
    at: Instant,
    revision: i64,
    leases: Arc<Vec<LeaseInfo>>,
}

impl Coord {
    /// Sets up the views, starts one tracker per configured queue and the
    /// walk that finds the others.
    pub fn start(
        session: EtcdSession,
        hub: Hub,
        config: CoordConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let queues: Vec<Arc<QueueTracker>> = config
            .queue_prefixes
            .iter()
            .map(|p| Arc::new(QueueTracker::new(p.clone())))
            .collect();
        for tracker in &queues {
            tracker.spawn(hub.clone(), session.clone(), shutdown.clone());
        }
        let clock = Arc::new(RevisionClock::default());
        clock::spawn_probe(clock.clone(), session.clone(), shutdown.clone());
        let detected = Arc::new(detect_queues::Detected::default());
        detect_queues::spawn(
            detected.clone(),
            session.clone(),
            hub,
            config.queue_prefixes.iter().cloned().collect(),
            shutdown,
        );
        Coord {
            inner: Arc::new(Inner {
                config,
                lock_holds: HoldTracker::default(),
                leader_holds: HoldTracker::default(),
                clock,
                queues,
                detected,
                lease_keys: Mutex::new(HashMap::new()),
                shared: SharedReads::default(),
            }),
        }
    }

    async fn all_leases(
        &self,
        session: &EtcdSession,
        keys: bool,
    ) -> Result<(i64, Vec<LeaseInfo>), CoordError> {
        let (revision, ids) = session.lease_ids().await.map_err(lease_error)?;
        let infos = session.lease_infos(&ids, keys).await.map_err(lease_error)?;
        // A lease that ended between the listing and its read is gone, not
        // an error.
        Ok((
            revision,
            infos.into_iter().filter(|l| l.ttl.is_some()).collect(),
        ))
    }

    /// [`Self::all_leases`] with keys, at most [`LEASE_KEYS_FRESH`] old.
    async fn lease_keys(
        &self,
        session: &EtcdSession,
    ) -> Result<(i64, Arc<Vec<LeaseInfo>>), CoordError> {
        let mut cached = self.inner.lease_keys.lock().await;
        let user = session.user().map(str::to_owned);
        cached.retain(|_, reading| reading.at.elapsed() < LEASE_KEYS_FRESH);
        if let Some(reading) = cached.get(&user) {
            return Ok((reading.revision, reading.leases.clone()));
        }
        let (revision, leases) = self.all_leases(session, true).await?;
        let leases = Arc::new(leases);
        cached.insert(
            user,
            LeaseReading {
                at: Instant::now(),
                revision,
                leases: leases.clone(),
            },
        );
        Ok((revision, leases))
    }

    /// `GET /api/v1/leases`.
    pub async fn leases(
        &self,
        session: &EtcdSession,
        sharing: Sharing,
    ) -> Result<Leases, CoordError> {
        self.inner
            .shared
            .leases
            .read(session.user(), sharing, || self.read_leases(session))
            .await
    }

    async fn read_leases(&self, session: &EtcdSession) -> Result<Leases, CoordError> {
        let (revision, infos) = self.all_leases(session, true).await?;
        let leases = infos
            .into_iter()
            .map(|mut info| {
                info.keys.sort();
                let more_keys = info.keys.len().saturating_sub(MAX_LEASE_KEYS) as u64;
                info.keys.truncate(MAX_LEASE_KEYS);
                // Keys etcd would not name to this user are not listed.
                LeaseDetail {
                    id: LeaseId(info.id),
                    granted_ttl: info.granted_ttl,
                    remaining_ttl: info.ttl,
                    keys: info.keys.into_iter().map(Bytes::new).collect(),
                    more_keys,
                }
            })
            .collect();
        Ok(Leases {
            leases,
            revision: Revision(revision),
        })
    }

    /// Every lock and election: prefixes found through lease keys plus the
    /// configured ones, each read once, all at one revision.
    async fn groups(&self, session: &EtcdSession) -> Result<(Revision, Vec<Group>), CoordError> {
        let config = &self.inner.config;
        let (lease_revision, infos) = self.lease_keys(session).await?;
        let mut hints: BTreeMap<Vec<u8>, Hint> = BTreeMap::new();
        for prefix in &config.lock_prefixes {
            hints.insert(prefix.clone(), Hint::Lock);
        }
        for prefix in &config.election_prefixes {
            hints.insert(prefix.clone(), Hint::Election);
        }
        let plain_only: BTreeSet<Vec<u8>> = hints.keys().cloned().collect();
        let ttl: HashMap<i64, Option<i64>> = infos.iter().map(|l| (l.id, l.ttl)).collect();
        let found = detect::candidate_prefixes(
            infos
                .iter()
                .flat_map(|l| l.keys.iter().map(move |k| (k.as_slice(), l.id))),
            &plain_only,
        );
        let mut prefixes: Vec<Vec<u8>> = hints.keys().cloned().collect();
        prefixes.extend(found.into_iter().filter(|p| !hints.contains_key(p)));
        if prefixes.len() > MAX_PREFIXES {
            tracing::warn!(
                found = prefixes.len(),
                shown = MAX_PREFIXES,
                "too many lock and election prefixes"
            );
            prefixes.truncate(MAX_PREFIXES);
        }
        prefixes.sort();

        let mut revision: Option<i64> = None;
        let mut groups = Vec::new();
        for prefix in prefixes {
            let items = with_slash(&prefix);
            let hint = hints.get(&prefix).copied();
            let read = session
                .range_kvs(&items, &range_end(&items), MAX_CONTENDERS, revision)
                .await;
            let read = match read {
                Ok(read) => read,
                // Found through a lease but not readable by this etcd user:
                // not theirs to see.
                Err(EtcdError::PermissionDenied(_)) if hint.is_none() => {
                    tracing::debug!(prefix = %Bytes::from(prefix.as_slice()).display(), "lock prefix not readable");
                    continue;
                }
                Err(err) => {
                    let what = match hint {
                        Some(Hint::Election) => "election",
                        _ => "lock",
                    };
                    return Err(range_error(err, what, &prefix));
                }
            };
            self.inner.clock.observe(read.revision, queues::now_ms());
            revision.get_or_insert(read.revision);
            groups.extend(detect::groups(&prefix, &read.kvs, hint, &plain_only, &ttl));
        }
        // New prefixes are found only through the lease reading, which may be
        // up to a second older than the ranges: the answer is complete as of
        // the older of the two, so a view watching from there misses nothing.
        let complete_at = revision.map_or(lease_revision, |r| r.min(lease_revision));
        Ok((Revision(complete_at), groups))
    }

    /// The prefixes configured as locks or elections (see
    /// [`detect::classify`]).
    fn plain_only(&self) -> BTreeSet<Vec<u8>> {
        let config = &self.inner.config;
        config
            .lock_prefixes
            .iter()
            .chain(&config.election_prefixes)
            .cloned()
            .collect()
    }

    /// `GET /api/v1/locks`.
    pub async fn locks(
        &self,
        session: &EtcdSession,
        sharing: Sharing,
    ) -> Result<Locks, CoordError> {
        self.inner
            .shared
            .locks
            .read(session.user(), sharing, || self.read_locks(session))
            .await
    }

    async fn read_locks(&self, session: &EtcdSession) -> Result<Locks, CoordError> {
        let (revision, groups) = self.groups(session).await?;
        let mut locks: Vec<Lock> = groups
            .into_iter()
            .filter_map(|g| match g {
                Group::Lock(lock) => Some(lock),
                Group::Election(_) => None,
            })
            .collect();
        let inner = &self.inner;
        let plain_only = self.plain_only();
        inner
            .lock_holds
            .stamp_locks(
                session,
                &inner.clock,
                &plain_only,
                &mut locks,
                queues::now_ms(),
            )
            .await;
        Ok(Locks { locks, revision })
    }

    /// `GET /api/v1/elections`.
    pub async fn elections(
        &self,
        session: &EtcdSession,
        sharing: Sharing,
    ) -> Result<Elections, CoordError> {
        self.inner
            .shared
            .elections
            .read(session.user(), sharing, || self.read_elections(session))
            .await
    }

    async fn read_elections(&self, session: &EtcdSession) -> Result<Elections, CoordError> {
        let (revision, groups) = self.groups(session).await?;
        let mut elections: Vec<Election> = groups
            .into_iter()
            .filter_map(|g| match g {
                Group::Election(election) => Some(election),
                Group::Lock(_) => None,
            })
            .collect();
        let inner = &self.inner;
        let plain_only = self.plain_only();
        let now = queues::now_ms();
        inner
            .leader_holds
            .stamp_elections(session, &inner.clock, &plain_only, &mut elections, now)
            .await;
        Ok(Elections {
            elections,
            revision,
        })
    }

    /// `GET /api/v1/queues`: every configured queue, then every found one
    /// the etcd user may read, counted by etcd at one revision.
    pub async fn queues(
        &self,
        session: &EtcdSession,
        sharing: Sharing,
    ) -> Result<Queues, CoordError> {
        self.inner
            .shared
            .queues
            .read(session.user(), sharing, || self.read_queues(session))
            .await
    }

    async fn read_queues(&self, session: &EtcdSession) -> Result<Queues, CoordError> {
        let mut revision = None;
        let mut out = Vec::new();
        let trackers = self.inner.queues.iter().cloned();
        // Queues the user may not read are left out, like keys etcd would
        // not show them; only when every queue is refused is that the answer.
        let mut refused = None;
        for tracker in trackers.chain(self.inner.detected.trackers()) {
            let items = tracker.items();
            let end = range_end(&items);
            let denied = |err| range_error(err, "queue", &tracker.prefix);
            let (at, depth) = match session.count_range(&items, &end, revision).await {
                Ok(counted) => counted,
                Err(err @ EtcdError::PermissionDenied(_)) => {
                    refused.get_or_insert(denied(err));
                    continue;
                }
                Err(err) => return Err(denied(err)),
            };
            let revision = *revision.get_or_insert(at);
            let (_, first) = session
                .first_key(&items, &end, Some(revision))
                .await
                .map_err(denied)?;
            let item = first
                .as_deref()
                .and_then(|k| k.get(items.len()..))
                .and_then(queues::parse_item);
            let tracked = tracker.tracked();
            let kind = item
                .map(Item::kind)
                .or(tracked.kind)
                .unwrap_or(QueueKind::Queue);
            let oldest_age_secs = match item {
                Some(Item::Plain { nanos }) => Some(queues::age_secs(nanos, SystemTime::now())),
                _ => None,
            };
            let priorities = if kind == QueueKind::PriorityQueue {
                self.priorities(session, &items, revision)
                    .await
                    .map_err(denied)?
            } else {
                Vec::new()
            };
            out.push(Queue {
                prefix: Bytes::from(tracker.prefix.as_slice()),
                kind,
                depth,
                oldest_age_secs,
                priorities,
                enqueue_per_sec: tracked.enqueue_per_sec,
                dequeue_per_sec: tracked.dequeue_per_sec,
                depth_history: tracked.depth_history,
            });
        }
        if out.is_empty()
            && let Some(refused) = refused
        {
            return Err(refused);
        }
        let revision = match revision {
            Some(revision) => Revision(revision),
            None => session.current_revision().await.map_err(CoordError::Etcd)?,
        };
        Ok(Queues {
            queues: out,
            revision,
        })
    }

    /// Depth per priority of the priority queue under `items`: one keys-only
    /// probe for the next priority present, then a `count_only` of it.
    async fn priorities(
        &self,
        session: &EtcdSession,
        items: &[u8],
        revision: i64,
    ) -> Result<Vec<PriorityDepth>, EtcdError> {
        let end = range_end(items);
        let mut start = items.to_vec();
        let mut out = Vec::new();
        for _ in 0..MAX_PRIORITIES {
            let (_, Some(key)) = session.first_key(&start, &end, Some(revision)).await? else {
                break;
            };
            let rest = key.get(items.len()..).unwrap_or_default();
            match queues::parse_item(rest) {
                Some(Item::Priority { priority }) => {
                    // `prefix/<priority>/`: six bytes of the rest.
                    let level = key[..items.len() + 6].to_vec();
                    let level_end = range_end(&level);
                    let (_, depth) = session
                        .count_range(&level, &level_end, Some(revision))
                        .await?;
                    out.push(PriorityDepth { priority, depth });
                    start = level_end;
                }
                // Not an item: step over this one key.
                _ => {
                    start = key;
                    start.push(0);
                }
            }
        }
        Ok(out)
    }

    /// `GET /api/v1/services`: registrations under each configured prefix
    /// the etcd user may read (the others are left out of `prefixes`).
    pub async fn services(
        &self,
        session: &EtcdSession,
        sharing: Sharing,
    ) -> Result<Services, CoordError> {
        self.inner
            .shared
            .services
            .read(session.user(), sharing, || self.read_services(session))
            .await
    }

    async fn read_services(&self, session: &EtcdSession) -> Result<Services, CoordError> {
        let mut revision = None;
        let mut prefixes = Vec::new();
        let mut services = Vec::new();
        for prefix in &self.inner.config.service_prefixes {
            let read = session
                .range_kvs(prefix, &range_end(prefix), MAX_SERVICE_KEYS, revision)
                .await;
            let read = match read {
                Ok(read) => read,
                Err(EtcdError::PermissionDenied(_)) => {
                    tracing::debug!(prefix = %Bytes::from(prefix.as_slice()).display(), "service prefix not readable");
                    continue;
                }
                Err(err) => return Err(CoordError::Etcd(err)),
            };
            if read.more > 0 {
                tracing::warn!(prefix = %Bytes::from(prefix.as_slice()).display(), left_out = read.more, "more registrations than shown");
            }
            revision.get_or_insert(read.revision);
            let leases: BTreeSet<i64> = read
                .kvs
                .iter()
                .map(|kv| kv.lease)
                .filter(|&l| l != 0)
                .collect();
            let leases: Vec<i64> = leases.into_iter().collect();
            let ttl: HashMap<i64, (i64, Option<i64>)> =
                match session.lease_infos(&leases, false).await {
                    Ok(infos) => infos
                        .into_iter()
                        .map(|l| (l.id, (l.granted_ttl, l.ttl)))
                        .collect(),
                    // Registrations are still worth showing without their TTLs.
                    Err(err) => {
                        tracing::debug!(error = %err, "service leases unavailable");
                        HashMap::new()
                    }
                };
            services.extend(services::services(prefix, &read.kvs, |id| {
                ttl.get(&id).copied()
            }));
            prefixes.push(Bytes::from(prefix.as_slice()));
        }
        let revision = match revision {
            Some(revision) => Revision(revision),
            None => session.current_revision().await.map_err(CoordError::Etcd)?,
        };
        Ok(Services {
            prefixes,
            services,
            revision,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_sentences_naming_what_was_refused() {
        let denied = || EtcdError::PermissionDenied("etcdserver: permission denied".into());
        let CoordError::Denied(text) = lease_error(denied()) else {
            panic!("not a refusal")
        };
        assert!(text.starts_with("etcd refused to list leases") && text.ends_with('.'));
        let CoordError::Denied(text) = range_error(denied(), "queue", b"work") else {
            panic!("not a refusal")
        };
        assert_eq!(
            text,
            "etcd refused to let your etcd user read the queue work (permission denied)"
        );
        // Anything else stays an etcd error, mapped like every other one.
        let unavailable = EtcdError::Unavailable("no answer".into());
        assert!(matches!(
            lease_error(unavailable.clone()),
            CoordError::Etcd(e) if e == unavailable
        ));
    }
}
