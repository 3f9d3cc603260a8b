//! The cluster view (`GET /api/v1/cluster`): members, their health, alarms,
//! fault tolerance, and the histories etcdeck keeps while it runs (leader
//! changes, revisions per second, database size with a forecast against
//! the quota).
//!
//! It asks etcd nothing of its own: every second it reads what the endpoint
//! prober already knows ([`EtcdSession::cluster_readings`]: each member's
//! `Status` answer, once a second, the member list, every 30 s, and the
//! compaction revision and quota from each member's `/metrics`, every
//! 10 s), so any number of cluster pages and wall screens cost etcd nothing
//! more than an idle etcdeck. The view is built from those readings and the
//! histories by pure functions ([`build`]), tested on their own.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcdeck_shared::cluster::{
    Alarm, ClusterView, LeaderChange, Member, MemberState, MemberStatus, Sample, duration_words,
    quorum_of, tolerance_words,
};
use tokio::sync::watch;

use crate::etcd::{ClusterReadings, EndpointState, EtcdSession, MemberEntry, SCRAPE_EVERY};

/// How often the prober's readings are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How long the per-second samples are kept (the forecast's window).
const KEEP: Duration = Duration::from_secs(15 * 60);
/// The window of "writes per second".
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// One sample in this many is shown in the view's history.
const SHOWN_EVERY: usize = 10;
/// Leader changes kept.
const MAX_LEADER_CHANGES: usize = 100;

/// The cluster view's histories, kept while etcdeck runs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Cluster {
    session: EtcdSession,
    quota_flag: Option<u64>,
    history: Arc<Mutex<History>>,
}

#[derive(Debug, Default)]
struct History {
    /// One per second, oldest first.
    samples: VecDeque<Sample>,
    /// Newest first.
    leader_changes: VecDeque<LeaderChange>,
    /// The leader as last seen (`Some(None)`: seen without one).
    leader: Option<Option<String>>,
}

impl Cluster {
    /// Starts sampling `session`'s prober until `shutdown`; `quota_flag` is
    /// `--quota-backend-bytes`.
    pub fn start(
        session: EtcdSession,
        quota_flag: Option<u64>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Self {
        let cluster = Cluster {
            session,
            quota_flag,
            history: Arc::default(),
        };
        let sampler = cluster.clone();
        tokio::spawn(async move {
            loop {
                sampler.sample();
                tokio::select! {
                    _ = tokio::time::sleep(SAMPLE_EVERY) => {}
                    _ = shutdown.changed() => return,
                }
            }
        });
        cluster
    }

    /// The view now.
    pub fn view(&self) -> ClusterView {
        let readings = self.session.cluster_readings();
        let history = self.lock();
        build(&readings, &history, self.quota_flag, now_ms())
    }

    fn sample(&self) {
        let readings = self.session.cluster_readings();
        let at_ms = now_ms();
        let mut history = self.lock();
        history.record(&readings, at_ms);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl History {
    fn record(&mut self, readings: &ClusterReadings, at_ms: u64) {
        let ups = ups(readings);
        let revision = ups.iter().map(|r| r.revision).max();
        let db_size_bytes = ups.iter().map(|r| r.db_size).max();
        let apply_lag = ups
            .iter()
            .map(|r| r.raft_index.saturating_sub(r.raft_applied_index))
            .max();
        self.samples.push_back(Sample {
            at_ms,
            revision,
            db_size_bytes,
            apply_lag,
        });
        let keep_ms = KEEP.as_millis() as u64;
        while self
            .samples
            .front()
            .is_some_and(|s| s.at_ms + keep_ms < at_ms)
        {
            self.samples.pop_front();
        }
        // No member answers: the leader is unknown, not gone.
        if ups.is_empty() {
            return;
        }
        let leader = leader_of(readings);
        match &self.leader {
            Some(seen) if *seen == leader => {}
            Some(seen) => {
                self.leader_changes.push_front(LeaderChange {
                    at_ms,
                    from: seen.clone(),
                    to: leader.clone(),
                });
                self.leader_changes.truncate(MAX_LEADER_CHANGES);
                self.leader = Some(leader);
            }
            None => self.leader = Some(leader),
        }
    }
}

fn ups(readings: &ClusterReadings) -> Vec<&crate::etcd::StatusReading> {
    readings
        .endpoints
        .iter()
        .filter_map(|(_, state)| match state {
            EndpointState::Up(reading) => Some(reading),
            _ => None,
        })
        .collect()
}

/// The leader (hex id) the freshest answering members agree on: the one
/// named by the member with the highest raft term.
fn leader_of(readings: &ClusterReadings) -> Option<String> {
    ups(readings)
        .into_iter()
        .filter(|r| r.leader_id != 0)
        .max_by_key(|r| r.raft_term)
        .map(|r| hex(r.leader_id))
}

fn hex(id: u64) -> String {
    format!("{id:x}")
}

/// The view from the prober's readings and the histories, at `now_ms`.
fn build(
    readings: &ClusterReadings,
    history: &History,
    quota_flag: Option<u64>,
    now_ms: u64,
) -> ClusterView {
    let leader = leader_of(readings);
    let members = members(readings, leader.as_deref());
    let voting_members: Vec<&Member> = members.iter().filter(|m| !m.is_learner).collect();
    let voting = voting_members.len();
    let learners = members.len() - voting;
    let quorum = quorum_of(voting.max(1));
    let answering = voting_members
        .iter()
        .filter(|m| matches!(m.state, MemberState::Up(ref s) if s.has_leader))
        .count();
    let can_lose = answering.saturating_sub(quorum);
    let ups = ups(readings);
    let revision = ups.iter().map(|r| r.revision).max();
    let db_size_bytes = ups.iter().map(|r| r.db_size).max();
    let mut alarms: Vec<Alarm> = ups
        .iter()
        .flat_map(|r| r.errors.iter().filter_map(|e| parse_alarm(e)))
        .collect();
    alarms.sort_by(|a, b| (&a.member, &a.alarm).cmp(&(&b.member, &b.alarm)));
    alarms.dedup();
    let (quota_bytes, quota_source) = quota(readings, quota_flag);
    let (compact_revision, compaction) = compaction(readings);
    let forecast = forecast(&history.samples, quota_bytes);
    ClusterView {
        read_at_ms: now_ms,
        members,
        leader,
        voting,
        quorum,
        can_lose,
        tolerance: tolerance_words(voting, quorum, can_lose, learners),
        revision,
        compact_revision,
        compaction,
        alarms,
        quota_bytes,
        quota_source,
        db_size_bytes,
        writes_per_sec: writes_per_sec(&history.samples),
        forecast: forecast.words,
        forecast_secs: forecast.secs,
        leader_changes: history.leader_changes.iter().cloned().collect(),
        history: history
            .samples
            .iter()
            .rev()
            .step_by(SHOWN_EVERY)
            .rev()
            .cloned()
            .collect(),
    }
}

/// A `/metrics` reading older than this is not trusted for the quota (the
/// flag or "unknown" is said instead): a few missed scrapes.
const METRICS_FRESH: Duration = Duration::from_secs(SCRAPE_EVERY.as_secs() * 6);

/// The endpoints' fresh `/metrics` readings, each with the name of its
/// member (its URL when the member list does not know it).
fn fresh_metrics(readings: &ClusterReadings) -> Vec<(String, &crate::etcd::MetricsReading)> {
    readings
        .endpoints
        .iter()
        .zip(&readings.metrics)
        .filter_map(|((url, _), metrics)| {
            let last = metrics.last.as_ref()?;
            (last.read_at.elapsed() <= METRICS_FRESH).then(|| (member_name(readings, url), last))
        })
        .collect()
}

fn member_name(readings: &ClusterReadings, url: &str) -> String {
    readings
        .members
        .iter()
        .find(|m| {
            m.client_urls
                .iter()
                .any(|c| c.trim_end_matches('/') == url.trim_end_matches('/'))
        })
        .filter(|m| !m.name.is_empty())
        .map_or_else(|| url.to_owned(), |m| m.name.clone())
}

/// The quota and where it comes from: a member's `/metrics`, else
/// `--quota-backend-bytes`, else unknown, in words.
fn quota(readings: &ClusterReadings, quota_flag: Option<u64>) -> (Option<u64>, String) {
    let scraped = fresh_metrics(readings)
        .into_iter()
        .find_map(|(name, m)| Some((name, m.quota_bytes?)));
    if let Some((name, quota)) = scraped {
        return (
            Some(quota),
            format!("etcd_server_quota_backend_bytes from member {name}'s /metrics"),
        );
    }
    let why = if readings.metrics.iter().any(|m| m.last.is_some()) {
        "no member's /metrics was read in the last minute".to_owned()
    } else {
        match readings.metrics.iter().find_map(|m| m.error.clone()) {
            Some(error) => format!("no member's /metrics could be read ({error})"),
            None => "the members' /metrics have not been read yet".to_owned(),
        }
    };
    match quota_flag {
        Some(quota) => (
            Some(quota),
            format!("--quota-backend-bytes given to etcdeck ({why})"),
        ),
        None => (
            None,
            format!(
                "unknown: {why}, and etcdeck was not started with --quota-backend-bytes \
                 (etcd's default is 2 GiB)"
            ),
        ),
    }
}

/// The compaction revision, the highest any member's `/metrics` said (a
/// member that was away may not have applied the newest compaction yet),
/// and it in words.
fn compaction(readings: &ClusterReadings) -> (Option<i64>, String) {
    let revision = readings
        .metrics
        .iter()
        .filter_map(|m| m.last.as_ref()?.compact_revision)
        .max();
    let words = match revision {
        Some(revision) if revision > 0 => {
            format!("compacted at revision {revision}: the history before it is gone")
        }
        Some(_) => "never compacted: etcd keeps every revision".to_owned(),
        None => match readings.metrics.iter().find_map(|m| m.error.clone()) {
            Some(error) => format!("unknown: no member's /metrics could be read ({error})"),
            None => "unknown: the members' /metrics have not been read yet".to_owned(),
        },
    };
    (revision, words)
}

/// Every member of the member list, joined with its endpoint's answer by
/// client URL or member id; before the member list is read, one row per
/// endpoint.
fn members(readings: &ClusterReadings, leader: Option<&str>) -> Vec<Member> {
    let state_of = |entry: &MemberEntry| -> MemberState {
        let by_url = readings.endpoints.iter().find(|(url, _)| {
            entry
                .client_urls
                .iter()
                .any(|c| c.trim_end_matches('/') == url.trim_end_matches('/'))
        });
        let by_id = readings
            .endpoints
            .iter()
            .find(|(_, state)| matches!(state, EndpointState::Up(r) if r.member_id == entry.id));
        match by_url.or(by_id) {
            Some((_, state)) => member_state(state),
            None => MemberState::Unknown {
                reason: "not one of the endpoints etcdeck was given (--endpoints)".to_owned(),
            },
        }
    };
    if readings.members.is_empty() {
        return readings
            .endpoints
            .iter()
            .map(|(url, state)| {
                let id = match state {
                    EndpointState::Up(r) => hex(r.member_id),
                    _ => String::new(),
                };
                Member {
                    is_leader: leader.is_some_and(|l| l == id),
                    id,
                    name: String::new(),
                    peer_urls: Vec::new(),
                    client_urls: vec![url.clone()],
                    is_learner: false,
                    state: member_state(state),
                }
            })
            .collect();
    }
    readings
        .members
        .iter()
        .map(|entry| {
            let id = hex(entry.id);
            Member {
                is_leader: leader.is_some_and(|l| l == id),
                id,
                name: entry.name.clone(),
                peer_urls: entry.peer_urls.clone(),
                client_urls: entry.client_urls.clone(),
                is_learner: entry.is_learner,
                state: state_of(entry),
            }
        })
        .collect()
}

fn member_state(state: &EndpointState) -> MemberState {
    match state {
        EndpointState::Up(r) => MemberState::Up(MemberStatus {
            version: r.version.clone(),
            db_size_bytes: r.db_size,
            db_size_in_use_bytes: r.db_size_in_use,
            raft_term: r.raft_term,
            raft_index: r.raft_index,
            raft_applied_index: r.raft_applied_index,
            latency_ms: r.latency.as_millis() as u64,
            has_leader: r.leader_id != 0,
        }),
        EndpointState::Down(error) => MemberState::Down {
            error: error.clone(),
        },
        EndpointState::Unknown => MemberState::Unknown {
            reason: "not asked yet".to_owned(),
        },
    }
}

/// An alarm from one of etcd's status `errors`, which it writes as
/// `memberID:1234 alarm:NOSPACE` (the alarm's text form).
fn parse_alarm(error: &str) -> Option<Alarm> {
    let field = |name: &str| {
        error
            .split_whitespace()
            .find_map(|part| part.strip_prefix(name))
            .map(str::to_owned)
    };
    let alarm = field("alarm:")?;
    let member = field("memberID:")
        .and_then(|id| id.parse::<u64>().ok())
        .map_or_else(|| "?".to_owned(), hex);
    Some(Alarm { member, alarm })
}

/// Revisions per second over the last [`RATE_WINDOW`] of samples.
fn writes_per_sec(samples: &VecDeque<Sample>) -> Option<f64> {
    let last = samples.iter().rev().find(|s| s.revision.is_some())?;
    let window_ms = RATE_WINDOW.as_millis() as u64;
    let first = samples
        .iter()
        .find(|s| s.revision.is_some() && s.at_ms + window_ms >= last.at_ms)?;
    let secs = (last.at_ms.saturating_sub(first.at_ms)) as f64 / 1000.0;
    if secs < 5.0 {
        return None;
    }
    let delta = (last.revision? - first.revision?).max(0) as f64;
    Some(delta / secs)
}

/// When the database reaches the quota, in words and in seconds (`None`
/// when there is no such time).
#[derive(Debug, PartialEq)]
struct Forecast {
    words: String,
    secs: Option<u64>,
}

impl From<&str> for Forecast {
    fn from(words: &str) -> Self {
        Forecast {
            words: words.to_owned(),
            secs: None,
        }
    }
}

/// When the database reaches the quota at the least-squares growth of the
/// kept samples.
fn forecast(samples: &VecDeque<Sample>, quota: Option<u64>) -> Forecast {
    let Some(quota) = quota else {
        return "no forecast: the quota is not known".into();
    };
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|s| Some((s.at_ms as f64 / 1000.0, s.db_size_bytes? as f64)))
        .collect();
    let Some(&(_, size)) = points.last() else {
        return "no forecast yet: no member has answered".into();
    };
    if size >= quota as f64 {
        return "the database has reached its quota".into();
    }
    let span = points.last().map_or(0.0, |l| l.0) - points.first().map_or(0.0, |f| f.0);
    if points.len() < 10 || span < 60.0 {
        return "no forecast yet: etcdeck has watched the database size for under a minute".into();
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_s = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_t) * (p.1 - mean_s)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    let slope = if variance > 0.0 {
        covariance / variance
    } else {
        0.0
    };
    if slope <= 0.0 {
        return "not growing over the last minutes".into();
    }
    let secs = (quota as f64 - size) / slope;
    Forecast {
        words: format!(
            "reaches the quota in about {} at the growth of the last {}",
            duration_words(secs.max(0.0) as u64),
            duration_words(span.max(0.0) as u64)
        ),
        secs: Some(secs.clamp(0.0, u64::MAX as f64) as u64),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests;
