//! Which of a cluster's endpoints answer, shared by every session of that
//! cluster.
//!
//! etcd-client's own balanced channel keeps sending requests to a member
//! that died until its connection attempt fails, and to a member that hangs
//! until the request times out, so etcdeck does not use it: each session
//! holds one client per endpoint (see [`super::EtcdSession`]) and asks
//! [`Endpoints::order`] which to try first. The answer comes from a prober
//! that asks every endpoint for its `Status` once a second, without
//! credentials (etcd answers `Status` and `MemberList` to anyone), so a
//! member that is down or hangs is known before a request meets it. A
//! request that cannot reach an endpoint marks it down at once
//! ([`Endpoints::mark_down`]); a request or probe that gets an answer marks
//! it up. Each endpoint's change of state is logged once, not at every
//! probe.
//!
//! The prober is also where the connection state shown to people comes
//! from ([`Endpoints::connection`]): connected when a member that answers
//! has a leader, degraded (connected, with the members that do not answer
//! named) when some members are away, disconnected when none answers or
//! none that answers has a leader.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions};
use etcdeck_shared::{Connection, UnreachableMember};
use futures::future::join_all;
use tokio::sync::watch;

use super::{EtcdError, with_timeout};

/// How often every endpoint is asked for its status.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a status call may take before the endpoint counts as down: long
/// enough for a busy member on a loaded machine, short enough that requests
/// leave a hung member within a few seconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the member list (for members' names) is read again.
const NAMES_EVERY: Duration = Duration::from_secs(30);

/// What is known of one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Health {
    /// Not asked yet.
    Unknown,
    /// It answered; `leader` is whether it knows a leader (without one it
    /// cannot serve reads or writes).
    Up { version: String, leader: bool },
    /// It did not answer: refused, hung, or broke the connection.
    Down { error: String },
}

impl Health {
    /// Lower is tried first.
    fn rank(&self) -> u8 {
        match self {
            Health::Up { leader: true, .. } => 0,
            Health::Unknown => 1,
            Health::Up { leader: false, .. } => 2,
            Health::Down { .. } => 3,
        }
    }
}

/// One endpoint's last answer to the prober's `Status`, for the cluster
/// view (which asks etcd nothing of its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusReading {
    pub member_id: u64,
    /// The leader it knows (0 for none).
    pub leader_id: u64,
    pub version: String,
    pub db_size: u64,
    pub db_size_in_use: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    /// etcd's `errors`: "etcdserver: no leader" and active alarms
    /// ("memberID:N alarm:NOSPACE").
    pub errors: Vec<String>,
    pub latency: Duration,
    pub revision: i64,
}

/// What the cluster view knows of one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointState {
    /// Not asked yet.
    Unknown,
    Up(StatusReading),
    Down(String),
}

/// One member from etcd's member list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEntry {
    pub id: u64,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

/// Everything the prober knows of the cluster now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterReadings {
    /// Each endpoint etcdeck was given, with its URL.
    pub endpoints: Vec<(String, EndpointState)>,
    /// etcd's member list as last read (every 30 s), empty before.
    pub members: Vec<MemberEntry>,
    /// What each endpoint's `/metrics` said, in the order of `endpoints`
    /// (filled in by the session, which owns the scraper).
    pub metrics: Vec<super::MemberMetrics>,
}

/// The endpoints of one cluster and what is known of each. Cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct Endpoints {
    inner: Arc<Inner>,
}

struct Inner {
    urls: Vec<String>,
    health: Vec<watch::Sender<Health>>,
    /// Connect options without credentials, for the probes.
    anonymous: ConnectOptions,
    /// The prober's clients, one per endpoint, made when first needed and
    /// dropped after a failure so that the next probe connects afresh.
    probes: Mutex<Vec<Option<Client>>>,
    /// Member names by client URL, from etcd's member list.
    names: Mutex<(HashMap<String, String>, Option<Instant>)>,
    /// The member list itself, for the cluster view.
    members: Mutex<Vec<MemberEntry>>,
    /// Each endpoint's last status answer.
    readings: Mutex<Vec<Option<StatusReading>>>,
    connection: watch::Sender<Connection>,
    /// etcd's revision as each answered probe found it (sent on every
    /// answer, changed or not: the time of a sighting is news too).
    revision: watch::Sender<Option<i64>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Endpoints {
    /// The endpoints `urls`, probed with `anonymous` (the cluster's TLS
    /// settings, no credentials). Nothing runs until [`Endpoints::run`].
    pub(super) fn new(urls: Vec<String>, anonymous: ConnectOptions) -> Self {
        let health = urls
            .iter()
            .map(|_| watch::channel(Health::Unknown).0)
            .collect();
        let probes = Mutex::new(vec![None; urls.len()]);
        let readings = Mutex::new(vec![None; urls.len()]);
        let (connection, _) = watch::channel(Connection::Disconnected {
            reason: "connecting".into(),
            retry_in_secs: 0,
        });
        Endpoints {
            inner: Arc::new(Inner {
                urls,
                health,
                anonymous,
                probes,
                names: Mutex::new((HashMap::new(), None)),
                members: Mutex::new(Vec::new()),
                readings,
                connection,
                revision: watch::channel(None).0,
            }),
        }
    }

    pub(super) fn urls(&self) -> &[String] {
        &self.inner.urls
    }

    pub(super) fn url(&self, endpoint: usize) -> &str {
        &self.inner.urls[endpoint]
    }

    /// The options probes connect with (no credentials).
    pub(super) fn anonymous_options(&self) -> &ConnectOptions {
        &self.inner.anonymous
    }

    /// Probes every endpoint each [`PROBE_INTERVAL`] until `shutdown`.
    pub(super) async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.probe_all().await;
            tokio::select! {
                _ = tokio::time::sleep(PROBE_INTERVAL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Asks every endpoint now, at once, and answers the connection state
    /// that follows.
    pub(super) async fn probe_all(&self) -> Connection {
        join_all((0..self.inner.urls.len()).map(|i| self.probe(i))).await;
        self.refresh_names().await;
        self.connection()
    }

    /// Asks every endpoint not known to be down now, and answers the
    /// connection state that follows. A member that hangs would hold the
    /// answer for [`PROBE_TIMEOUT`]; the prober finds out when it is back.
    pub(super) async fn probe_live(&self) -> Connection {
        let live = (0..self.inner.urls.len())
            .filter(|&i| !matches!(self.health(i), Health::Down { .. }))
            .map(|i| self.probe(i));
        join_all(live).await;
        self.connection()
    }

    async fn probe(&self, endpoint: usize) {
        let client = match self.probe_client(endpoint).await {
            Ok(client) => client,
            Err(err) => return self.mark_down(endpoint, &err),
        };
        let mut client_for_call = client.clone();
        let asked = Instant::now();
        match with_timeout(PROBE_TIMEOUT, client_for_call.status()).await {
            Ok(status) => {
                if let Some(header) = status.header() {
                    self.inner.revision.send_replace(Some(header.revision()));
                }
                lock(&self.inner.readings)[endpoint] = Some(StatusReading {
                    member_id: status.header().map_or(0, |h| h.member_id()),
                    leader_id: status.leader(),
                    version: status.version().to_owned(),
                    db_size: u64::try_from(status.db_size()).unwrap_or(0),
                    db_size_in_use: u64::try_from(status.raft_used_db_size()).unwrap_or(0),
                    raft_term: status.raft_term(),
                    raft_index: status.raft_index(),
                    raft_applied_index: status.raft_applied_index(),
                    errors: status.errors().to_vec(),
                    latency: asked.elapsed(),
                    revision: status.header().map_or(0, |h| h.revision()),
                });
                self.set(
                    endpoint,
                    Health::Up {
                        version: status.version().to_owned(),
                        leader: status.leader() != 0,
                    },
                );
            }
            Err(err) => {
                // A fresh connection next time: a hung one may never recover.
                lock(&self.inner.probes)[endpoint] = None;
                self.mark_down(endpoint, &err);
            }
        }
    }

    /// The prober's client for `endpoint`. Without credentials,
    /// `Client::connect` does not touch the network: the connection is
    /// made by the first call.
    async fn probe_client(&self, endpoint: usize) -> Result<Client, EtcdError> {
        let cached = lock(&self.inner.probes)[endpoint].clone();
        if let Some(client) = cached {
            return Ok(client);
        }
        let url = [self.inner.urls[endpoint].clone()];
        let connect = Client::connect(url, Some(self.inner.anonymous.clone()));
        let client = with_timeout(PROBE_TIMEOUT, connect).await?;
        lock(&self.inner.probes)[endpoint] = Some(client.clone());
        Ok(client)
    }

    /// Reads the member list again when it is older than [`NAMES_EVERY`],
    /// from the first endpoint that answers.
    async fn refresh_names(&self) {
        let due = lock(&self.inner.names)
            .1
            .is_none_or(|read| read.elapsed() >= NAMES_EVERY);
        if !due {
            return;
        }
        let Some(endpoint) = self.order(0).into_iter().next() else {
            return;
        };
        if !matches!(self.health(endpoint), Health::Up { .. }) {
            return;
        }
        let Ok(mut client) = self.probe_client(endpoint).await else {
            return;
        };
        match with_timeout(PROBE_TIMEOUT, client.member_list()).await {
            Ok(list) => {
                let names = list
                    .members()
                    .iter()
                    .flat_map(|m| {
                        m.client_urls()
                            .iter()
                            .map(|url| (url.trim_end_matches('/').to_owned(), m.name().to_owned()))
                    })
                    .collect();
                *lock(&self.inner.members) = list
                    .members()
                    .iter()
                    .map(|m| MemberEntry {
                        id: m.id(),
                        name: m.name().to_owned(),
                        peer_urls: m.peer_urls().to_vec(),
                        client_urls: m.client_urls().to_vec(),
                        is_learner: m.is_learner(),
                    })
                    .collect();
                *lock(&self.inner.names) = (names, Some(Instant::now()));
                self.publish();
            }
            Err(err) => tracing::debug!(error = %err, "etcd's member list is unavailable"),
        }
    }

    /// What the prober knows of every endpoint and member now.
    pub(super) fn readings(&self) -> ClusterReadings {
        let readings = lock(&self.inner.readings).clone();
        let endpoints = (0..self.inner.urls.len())
            .map(|i| {
                let state = match (self.health(i), &readings[i]) {
                    (Health::Down { error }, _) => EndpointState::Down(error),
                    (Health::Up { .. }, Some(reading)) => EndpointState::Up(reading.clone()),
                    // Marked up by a request before the prober asked it.
                    (Health::Up { .. } | Health::Unknown, _) => EndpointState::Unknown,
                };
                (self.inner.urls[i].clone(), state)
            })
            .collect();
        ClusterReadings {
            endpoints,
            members: lock(&self.inner.members).clone(),
            metrics: Vec::new(),
        }
    }

    /// etcd's revision at each answered probe, about once a second.
    pub(super) fn revisions(&self) -> watch::Receiver<Option<i64>> {
        self.inner.revision.subscribe()
    }

    /// What is known of `endpoint` now.
    pub(super) fn health(&self, endpoint: usize) -> Health {
        self.inner.health[endpoint].borrow().clone()
    }

    /// Follows `endpoint`'s health, for [`went_down`].
    pub(super) fn watch(&self, endpoint: usize) -> watch::Receiver<Health> {
        self.inner.health[endpoint].subscribe()
    }

    /// Every endpoint, in the order to try them: those that answer with a
    /// leader first (`preferred` first among equals, so that one session
    /// keeps using one member), then those not asked yet, then those that
    /// answer without a leader, then those that did not answer. None is
    /// left out: when every member seems away, trying each is still right.
    pub(super) fn order(&self, preferred: usize) -> Vec<usize> {
        let mut order: Vec<(u8, bool, usize)> = (0..self.inner.urls.len())
            .map(|i| (self.health(i).rank(), i != preferred, i))
            .collect();
        order.sort_unstable();
        order.into_iter().map(|(_, _, i)| i).collect()
    }

    /// A request could not reach `endpoint`.
    pub(super) fn mark_down(&self, endpoint: usize, err: &EtcdError) {
        self.set(
            endpoint,
            Health::Down {
                error: err.to_string(),
            },
        );
    }

    /// A request to `endpoint` was answered.
    pub(super) fn mark_up(&self, endpoint: usize) {
        if let Health::Down { .. } | Health::Unknown = self.health(endpoint) {
            self.set(
                endpoint,
                Health::Up {
                    version: String::new(),
                    leader: true,
                },
            );
        }
    }

    fn set(&self, endpoint: usize, now: Health) {
        let url = &self.inner.urls[endpoint];
        let changed = self.inner.health[endpoint].send_if_modified(|old| {
            let was_down = matches!(old, Health::Down { .. });
            match (&*old, &now) {
                (Health::Down { .. }, Health::Down { .. }) => {}
                (_, Health::Down { error }) => {
                    tracing::warn!(endpoint = %url, %error, "etcd endpoint does not answer");
                }
                (_, Health::Up { leader: false, .. })
                    if !matches!(old, Health::Up { leader: false, .. }) =>
                {
                    tracing::warn!(endpoint = %url, "etcd endpoint answers but has no leader");
                }
                (_, Health::Up { leader: true, .. }) if was_down => {
                    tracing::info!(endpoint = %url, "etcd endpoint answers again");
                }
                _ => {}
            }
            // A request's success knows no version: keep the probe's.
            let now = match (&*old, &now) {
                (
                    Health::Up { version, .. },
                    Health::Up {
                        version: new,
                        leader,
                    },
                ) if new.is_empty() => Health::Up {
                    version: version.clone(),
                    leader: *leader,
                },
                _ => now.clone(),
            };
            // Down stays down with its first error: no news for anyone
            // waiting in `went_down`.
            if was_down && matches!(now, Health::Down { .. }) {
                return false;
            }
            let changed = *old != now;
            *old = now;
            changed
        });
        if changed {
            self.publish();
        }
    }

    /// The connection state people see, from what is known of every
    /// endpoint.
    pub(super) fn connection(&self) -> Connection {
        self.inner.connection.borrow().clone()
    }

    fn publish(&self) {
        let health: Vec<Health> = (0..self.inner.urls.len()).map(|i| self.health(i)).collect();
        let names = lock(&self.inner.names).0.clone();
        let now = summarize(&self.inner.urls, &health, &names);
        self.inner.connection.send_if_modified(|old| {
            let changed = *old != now;
            if changed {
                match (&*old, &now) {
                    (Connection::Connected { .. }, Connection::Disconnected { reason, .. }) => {
                        tracing::warn!(%reason, "lost etcd");
                    }
                    (Connection::Disconnected { .. }, Connection::Connected { .. }) => {
                        tracing::info!("etcd answers");
                    }
                    _ => {}
                }
            }
            *old = now;
            changed
        });
    }
}

/// Resolves when the endpoint followed by `health` goes down after the
/// receiver was made (or last saw a change): a request that started on an
/// endpoint already counted as down is not aborted by it.
pub(super) async fn went_down(health: &mut watch::Receiver<Health>) -> String {
    loop {
        if health.changed().await.is_err() {
            return std::future::pending().await;
        }
        if let Health::Down { error } = &*health.borrow_and_update() {
            return error.clone();
        }
    }
}

/// The connection state that the endpoints' health amounts to.
fn summarize(urls: &[String], health: &[Health], names: &HashMap<String, String>) -> Connection {
    let unreachable = || {
        urls.iter()
            .zip(health)
            .filter_map(|(url, h)| match h {
                Health::Down { error } => Some(UnreachableMember {
                    endpoint: url.clone(),
                    name: names.get(url.trim_end_matches('/')).cloned(),
                    error: error.clone(),
                }),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let led = health.iter().find_map(|h| match h {
        Health::Up {
            version,
            leader: true,
        } => Some(version.clone()),
        _ => None,
    });
    if let Some(etcd_version) = led {
        return Connection::Connected {
            etcd_version,
            unreachable: unreachable(),
        };
    }
    let answering = health
        .iter()
        .filter(|h| matches!(h, Health::Up { .. }))
        .count();
    let reason = if answering > 0 {
        format!(
            "etcd has no leader: {answering} of {} members answer, and none of them knows a leader \
             (too few for a quorum, or an election is under way)",
            urls.len()
        )
    } else if let Some(error) = health.iter().find_map(|h| match h {
        Health::Down { error } => Some(error.clone()),
        _ => None,
    }) {
        error
    } else {
        "connecting".into()
    };
    Connection::Disconnected {
        reason,
        retry_in_secs: PROBE_INTERVAL.as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> Vec<String> {
        (1..=3).map(|i| format!("http://127.0.0.1:{i}")).collect()
    }

    fn up() -> Health {
        Health::Up {
            version: "3.4.23".into(),
            leader: true,
        }
    }

    fn down() -> Health {
        Health::Down {
            error: "etcd is unreachable: tcp connect error".into(),
        }
    }

    #[test]
    fn one_member_down_is_degraded_and_named() {
        let names = HashMap::from([("http://127.0.0.1:2".to_owned(), "m2".to_owned())]);
        let connection = summarize(&urls(), &[up(), down(), up()], &names);
        let Connection::Connected { unreachable, .. } = &connection else {
            panic!("{connection:?}")
        };
        assert!(connection.is_degraded());
        assert_eq!(unreachable.len(), 1);
        assert_eq!(unreachable[0].endpoint, "http://127.0.0.1:2");
        assert_eq!(unreachable[0].name.as_deref(), Some("m2"));
    }

    #[test]
    fn every_member_up_is_connected_and_not_degraded() {
        let connection = summarize(&urls(), &[up(), up(), up()], &HashMap::new());
        assert!(matches!(connection, Connection::Connected { .. }));
        assert!(!connection.is_degraded());
    }

    #[test]
    fn members_without_a_leader_are_disconnected() {
        let no_leader = Health::Up {
            version: "3.4.23".into(),
            leader: false,
        };
        let connection = summarize(&urls(), &[no_leader, down(), down()], &HashMap::new());
        let Connection::Disconnected { reason, .. } = connection else {
            panic!("a member without a leader cannot serve")
        };
        assert!(reason.contains("no leader"), "{reason}");
        assert!(reason.contains("1 of 3"), "{reason}");
    }

    #[test]
    fn no_member_answering_says_why() {
        let connection = summarize(&urls(), &[down(), down(), down()], &HashMap::new());
        let Connection::Disconnected { reason, .. } = connection else {
            panic!("nothing answers")
        };
        assert!(reason.contains("tcp connect error"), "{reason}");
        let connecting = summarize(
            &urls(),
            &[Health::Unknown, Health::Unknown, Health::Unknown],
            &HashMap::new(),
        );
        assert!(
            matches!(connecting, Connection::Disconnected { reason, .. } if reason == "connecting")
        );
    }

    #[test]
    fn requests_go_to_answering_members_first() {
        let endpoints = Endpoints::new(urls(), ConnectOptions::new());
        assert_eq!(
            endpoints.order(1),
            vec![1, 0, 2],
            "unknown: preferred first"
        );
        endpoints.set(0, up());
        endpoints.set(1, down());
        endpoints.set(2, up());
        assert_eq!(endpoints.order(1), vec![0, 2, 1]);
        assert_eq!(endpoints.order(2), vec![2, 0, 1]);
        endpoints.mark_up(1);
        assert_eq!(endpoints.order(1), vec![1, 0, 2]);
    }

    #[tokio::test]
    async fn went_down_fires_on_the_change_only() {
        let endpoints = Endpoints::new(urls(), ConnectOptions::new());
        endpoints.set(0, up());
        let mut health = endpoints.watch(0);
        let waiting = tokio::spawn(async move { went_down(&mut health).await });
        tokio::task::yield_now().await;
        endpoints.set(0, down());
        let error = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("noticed")
            .expect("task");
        assert!(error.contains("tcp connect error"));

        // Already down when the request started: waiting for it to go down
        // would abort a request that may well succeed.
        let mut health = endpoints.watch(0);
        let waiting = went_down(&mut health);
        endpoints.set(
            0,
            Health::Down {
                error: "other".into(),
            },
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(50), waiting)
                .await
                .is_err()
        );
    }
}
