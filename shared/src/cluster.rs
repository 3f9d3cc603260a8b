//! `GET /api/v1/cluster`: the cluster's members and health as etcdeck's
//! endpoint prober sees them, with the histories etcdeck keeps while it
//! runs (leader changes, revisions, database size).

use serde::{Deserialize, Serialize};

/// The path of the cluster view.
pub const CLUSTER_PATH: &str = "/api/v1/cluster";

/// The whole cluster view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    /// Milliseconds since the Unix epoch when these readings were taken.
    pub read_at_ms: u64,
    /// Every member: from etcd's member list, joined with what each one's
    /// own endpoint answered.
    pub members: Vec<Member>,
    /// The leader's member id (hex), when a member that answers names one.
    pub leader: Option<String>,
    /// Voting members (learners do not count) and the quorum among them.
    pub voting: usize,
    pub quorum: usize,
    /// How many more voting members may fail before etcd stops: the voting
    /// members that answer, less the quorum (0 when at or below it).
    pub can_lose: usize,
    /// The fault tolerance in words ("3 members, quorum 2: can lose 1").
    pub tolerance: String,
    /// etcd's current revision, from the freshest answer.
    pub revision: Option<i64>,
    /// Active alarms (NOSPACE, CORRUPT), each with the member it is on.
    pub alarms: Vec<Alarm>,
    /// The backend quota in bytes and where it comes from; `None` when not
    /// known.
    pub quota_bytes: Option<u64>,
    pub quota_source: String,
    /// The largest database size among the members that answer.
    pub db_size_bytes: Option<u64>,
    /// Revisions per second over the last minute (etcd's writes), once
    /// etcdeck has watched that long.
    pub writes_per_sec: Option<f64>,
    /// When the database would reach the quota at the growth of the last
    /// 15 minutes, in words (or why there is no forecast).
    pub forecast: String,
    /// Leader changes seen while etcdeck ran, newest first (at most 100).
    pub leader_changes: Vec<LeaderChange>,
    /// The last 15 minutes, one sample every 10 s, oldest first.
    pub history: Vec<Sample>,
}

/// One member of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Member id in hex, as `etcdctl member list` prints it.
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
    pub is_leader: bool,
    /// What its own endpoint answered.
    pub state: MemberState,
}

/// What a member's own endpoint answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MemberState {
    Up(MemberStatus),
    /// It did not answer; the sentence says what happened.
    Down {
        error: String,
    },
    /// Not asked yet, or not one of the endpoints etcdeck was given.
    Unknown {
        reason: String,
    },
}

/// One member's `Status` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub version: String,
    pub db_size_bytes: u64,
    pub db_size_in_use_bytes: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
    /// How long the status call took, in milliseconds.
    pub latency_ms: u64,
    /// Whether it knows a leader.
    pub has_leader: bool,
}

impl MemberStatus {
    /// Raft entries committed but not applied yet.
    pub fn apply_lag(&self) -> u64 {
        self.raft_index.saturating_sub(self.raft_applied_index)
    }
}

/// An active alarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// The member's id in hex.
    pub member: String,
    /// `NOSPACE`, `CORRUPT`, or what etcd calls it.
    pub alarm: String,
}

/// A change of leader seen by etcdeck.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderChange {
    pub at_ms: u64,
    /// Member ids in hex; `None` for "no leader".
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A sample of the cluster's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at_ms: u64,
    pub revision: Option<i64>,
    pub db_size_bytes: Option<u64>,
}

/// "3 members, quorum 2: can lose 1", with learners said apart.
pub fn tolerance_words(voting: usize, quorum: usize, can_lose: usize, learners: usize) -> String {
    let members = if voting == 1 {
        "1 member".to_owned()
    } else {
        format!("{voting} members")
    };
    let learners = match learners {
        0 => String::new(),
        1 => " (and 1 learner)".to_owned(),
        n => format!(" (and {n} learners)"),
    };
    format!("{members}{learners}, quorum {quorum}: can lose {can_lose}")
}

/// The quorum of `voting` members.
pub fn quorum_of(voting: usize) -> usize {
    voting / 2 + 1
}

/// How a cluster looks at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Ok,
    Warn,
    Bad,
}

/// The cluster's state at a glance, with every reason in words (the worst
/// first). Thresholds follow etcd's own alerts (its `contrib/mixin`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub tone: Tone,
    pub reasons: Vec<(Tone, String)>,
}

/// Leader changes within this window...
pub const LEADER_CHANGES_WINDOW_MS: u64 = 15 * 60 * 1000;
/// ...from this many on are a warning.
pub const LEADER_CHANGES_WARN: usize = 4;

/// The verdict on `view` at `now_ms`.
pub fn verdict(view: &ClusterView, now_ms: u64) -> Verdict {
    let mut reasons = Vec::new();
    let answering = view
        .members
        .iter()
        .filter(|m| !m.is_learner && matches!(m.state, MemberState::Up(_)))
        .count();
    if view.leader.is_none() {
        reasons.push((
            Tone::Bad,
            "no leader: etcd serves no reads or writes until one is elected".to_owned(),
        ));
    }
    if answering < view.quorum {
        reasons.push((
            Tone::Bad,
            format!(
                "only {answering} of {} voting members answer; {} are needed for a quorum",
                view.voting, view.quorum
            ),
        ));
    }
    for alarm in &view.alarms {
        reasons.push((
            Tone::Bad,
            format!("alarm {} on member {}", alarm.alarm, alarm.member),
        ));
    }
    for member in &view.members {
        let name = if member.name.is_empty() {
            member.client_urls.first().cloned().unwrap_or_default()
        } else {
            member.name.clone()
        };
        match &member.state {
            MemberState::Down { error } => {
                reasons.push((
                    Tone::Warn,
                    format!("member {name} does not answer: {error}"),
                ));
            }
            MemberState::Up(status) if status.apply_lag() > 1_000 => reasons.push((
                Tone::Warn,
                format!(
                    "member {name} has {} committed entries not applied yet",
                    status.apply_lag()
                ),
            )),
            _ => {}
        }
    }
    let recent = view
        .leader_changes
        .iter()
        .filter(|c| c.at_ms + LEADER_CHANGES_WINDOW_MS >= now_ms)
        .count();
    if recent >= LEADER_CHANGES_WARN {
        reasons.push((
            Tone::Warn,
            format!("{recent} leader changes in the last 15 minutes"),
        ));
    }
    if let (Some(size), Some(quota)) = (view.db_size_bytes, view.quota_bytes.filter(|q| *q > 0)) {
        let share = size as f64 / quota as f64;
        if share >= 0.95 {
            reasons.push((
                Tone::Bad,
                format!("the database is at {:.0} % of its quota", share * 100.0),
            ));
        } else if share >= 0.80 {
            reasons.push((
                Tone::Warn,
                format!("the database is at {:.0} % of its quota", share * 100.0),
            ));
        }
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.0));
    let tone = reasons.first().map_or(Tone::Ok, |r| r.0);
    Verdict { tone, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, state: MemberState) -> Member {
        Member {
            id: name.into(),
            name: name.into(),
            peer_urls: Vec::new(),
            client_urls: Vec::new(),
            is_learner: false,
            is_leader: false,
            state,
        }
    }

    fn up() -> MemberState {
        MemberState::Up(MemberStatus {
            version: "3.4.23".into(),
            db_size_bytes: 100,
            db_size_in_use_bytes: 50,
            raft_term: 2,
            raft_index: 10,
            raft_applied_index: 10,
            latency_ms: 1,
            has_leader: true,
        })
    }

    fn view(members: Vec<Member>) -> ClusterView {
        ClusterView {
            read_at_ms: 0,
            voting: members.len(),
            quorum: quorum_of(members.len()),
            can_lose: 0,
            tolerance: String::new(),
            members,
            leader: Some("a".into()),
            revision: Some(5),
            alarms: Vec::new(),
            quota_bytes: None,
            quota_source: String::new(),
            db_size_bytes: Some(100),
            writes_per_sec: None,
            forecast: String::new(),
            leader_changes: Vec::new(),
            history: Vec::new(),
        }
    }

    #[test]
    fn a_healthy_cluster_is_green_and_a_sick_one_never_is() {
        let healthy = view(vec![
            member("a", up()),
            member("b", up()),
            member("c", up()),
        ]);
        assert_eq!(verdict(&healthy, 0).tone, Tone::Ok);

        let mut one_down = healthy.clone();
        one_down.members[1].state = MemberState::Down {
            error: "refused".into(),
        };
        let v = verdict(&one_down, 0);
        assert_eq!(v.tone, Tone::Warn);
        assert!(v.reasons[0].1.contains("member b does not answer"), "{v:?}");

        let mut no_leader = one_down.clone();
        no_leader.leader = None;
        no_leader.members[2].state = MemberState::Down {
            error: "refused".into(),
        };
        let v = verdict(&no_leader, 0);
        assert_eq!(v.tone, Tone::Bad);
        assert!(v.reasons.iter().any(|r| r.1.contains("no leader")));
        assert!(v.reasons.iter().any(|r| r.1.contains("only 1 of 3")));

        let mut alarmed = healthy.clone();
        alarmed.alarms.push(Alarm {
            member: "b".into(),
            alarm: "NOSPACE".into(),
        });
        assert_eq!(verdict(&alarmed, 0).tone, Tone::Bad);

        let mut full = healthy.clone();
        full.quota_bytes = Some(120);
        assert_eq!(verdict(&full, 0).tone, Tone::Warn);
        full.quota_bytes = Some(101);
        assert_eq!(verdict(&full, 0).tone, Tone::Bad);

        let mut flapping = healthy;
        flapping.leader_changes = (0..4)
            .map(|i| LeaderChange {
                at_ms: 1_000_000 + i,
                from: None,
                to: None,
            })
            .collect();
        assert_eq!(verdict(&flapping, 1_000_000).tone, Tone::Warn);
        assert_eq!(
            verdict(&flapping, 1_000_000 + LEADER_CHANGES_WINDOW_MS + 10).tone,
            Tone::Ok
        );
    }

    #[test]
    fn tolerance_in_words() {
        assert_eq!(
            tolerance_words(3, 2, 1, 0),
            "3 members, quorum 2: can lose 1"
        );
        assert_eq!(
            tolerance_words(3, 2, 0, 0),
            "3 members, quorum 2: can lose 0"
        );
        assert_eq!(
            tolerance_words(1, 1, 0, 1),
            "1 member (and 1 learner), quorum 1: can lose 0"
        );
        assert_eq!(quorum_of(1), 1);
        assert_eq!(quorum_of(3), 2);
        assert_eq!(quorum_of(4), 3);
        assert_eq!(quorum_of(5), 3);
    }
}
