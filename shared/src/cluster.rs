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
    /// etcd's compaction revision (`etcd_debugging_mvcc_compact_revision`
    /// from the members' `/metrics`, the highest any member said): history
    /// before it is gone. `None` when no member's `/metrics` could be read;
    /// -1 or 0 when etcd has never been compacted.
    #[serde(default)]
    pub compact_revision: Option<i64>,
    /// The compaction in words ("compacted at revision 1234", "never
    /// compacted", or why it is not known).
    #[serde(default)]
    pub compaction: String,
    /// Active alarms (NOSPACE, CORRUPT), each with the member it is on.
    pub alarms: Vec<Alarm>,
    /// The backend quota in bytes and where it comes from, in this order: a
    /// member's `/metrics` (`etcd_server_quota_backend_bytes`), else
    /// `--quota-backend-bytes` given to etcdeck; `None` when neither is
    /// known (`quota_source` says so in words).
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
    /// Seconds until the database reaches the quota at that growth; `None`
    /// when there is no forecast (quota unknown, too few samples, not
    /// growing, or already there).
    #[serde(default)]
    pub forecast_secs: Option<u64>,
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
    /// The largest apply lag (entries committed, not applied yet) among
    /// the members that answered.
    #[serde(default)]
    pub apply_lag: Option<u64>,
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

/// One thing wrong with the cluster: how bad, what it is, and a sentence an
/// operator can act on (with the `etcdctl` command where that helps).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub tone: Tone,
    pub what: String,
    pub todo: String,
}

/// The cluster's state at a glance, with every alert (the worst first).
/// Thresholds follow etcd's own alerts (its `contrib/mixin`) where it has
/// them: no leader, a member down, too few members for a quorum, 4 leader
/// changes in 15 minutes, the database over 95 % of the quota; and, beyond
/// the mixin: 80 % as a warning, a forecast (from the growth etcdeck saw in
/// the last 15 minutes, where the mixin looks back 4 hours) to reach it
/// within 4 hours, active alarms and an apply lag that keeps growing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub tone: Tone,
    pub alerts: Vec<Alert>,
}

/// Leader changes within this window...
pub const LEADER_CHANGES_WINDOW_MS: u64 = 15 * 60 * 1000;
/// ...from this many on are a warning.
pub const LEADER_CHANGES_WARN: usize = 4;
/// The share of the quota from which the database size is a warning...
pub const QUOTA_WARN: f64 = 0.80;
/// ...and from which it is bad.
pub const QUOTA_BAD: f64 = 0.95;
/// A forecast to reach the quota within this many seconds is a warning.
pub const FORECAST_WARN_SECS: u64 = 4 * 3600;
/// The apply lag is judged over this many of the view's last samples (one
/// every 10 s: about a minute)...
pub const APPLY_LAG_SAMPLES: usize = 6;
/// ...and is "growing" when it never fell over them and rose by at least
/// this many entries: a lag that comes and goes under load is normal.
pub const APPLY_LAG_RISE: u64 = 100;

/// A member's name for people: its name, else its first client URL, else
/// its id.
fn member_name(member: &Member) -> String {
    if !member.name.is_empty() {
        member.name.clone()
    } else if let Some(url) = member.client_urls.first() {
        url.clone()
    } else {
        member.id.clone()
    }
}

/// The member `id` (hex) by name when the view knows it.
fn name_of(view: &ClusterView, id: &str) -> String {
    view.members
        .iter()
        .find(|m| m.id == id)
        .map_or_else(|| id.to_owned(), member_name)
}

/// `--endpoints=URL` for `member` in an etcdctl command, or nothing.
fn endpoint_flag(member: &Member) -> String {
    member
        .client_urls
        .first()
        .map_or_else(String::new, |url| format!(" --endpoints={url}"))
}

/// The verdict on `view` at `now_ms`.
pub fn verdict(view: &ClusterView, now_ms: u64) -> Verdict {
    let mut alerts = Vec::new();
    let mut alert = |tone: Tone, what: String, todo: String| {
        alerts.push(Alert { tone, what, todo });
    };
    let answering = view
        .members
        .iter()
        .filter(|m| !m.is_learner && matches!(m.state, MemberState::Up(_)))
        .count();
    if view.leader.is_none() {
        alert(
            Tone::Bad,
            "no leader: etcd serves no reads or writes until one is elected".to_owned(),
            "Make sure a majority of the voting members run and reach each other on their \
             peer URLs (etcdctl endpoint status --cluster -w table shows who answers and whom \
             each takes for leader); an election needs a quorum."
                .to_owned(),
        );
    }
    if answering < view.quorum {
        alert(
            Tone::Bad,
            format!(
                "only {answering} of {} voting members answer; {} are needed for a quorum",
                view.voting, view.quorum
            ),
            format!(
                "Bring members back until {} answer: restart etcd where it stopped, and check \
                 those machines' disks and network; with its data lost for good, a member must \
                 be replaced (etcdctl member remove, then member add).",
                view.quorum
            ),
        );
    }
    for alarm in &view.alarms {
        let member = name_of(view, &alarm.member);
        let (what, todo) = match alarm.alarm.as_str() {
            "NOSPACE" => (
                format!(
                    "alarm NOSPACE on member {member}: the database reached its quota and etcd \
                     refuses every write"
                ),
                "Free the space, then disarm: compact the history (etcdctl compact REVISION, \
                 with the current revision), defragment each member one at a time (etcdctl \
                 defrag --endpoints=URL), then disarm the alarm (etcdctl alarm disarm); writes \
                 work again once it is disarmed."
                    .to_owned(),
            ),
            "CORRUPT" => (
                format!(
                    "alarm CORRUPT on member {member}: its data differs from the other \
                     members', and etcd refuses writes"
                ),
                format!(
                    "As etcd's guide to data corruption says: save a snapshot from a healthy \
                     member (etcdctl snapshot save), stop {member}, remove it (etcdctl member \
                     remove {}), delete its data directory and add it back as a new member \
                     (etcdctl member add, started with --initial-cluster-state existing), then \
                     disarm the alarm (etcdctl alarm disarm).",
                    alarm.member
                ),
            ),
            other => (
                format!("alarm {other} on member {member}"),
                "See why etcd raised it in that member's log; once fixed, disarm it \
                 (etcdctl alarm disarm)."
                    .to_owned(),
            ),
        };
        alert(Tone::Bad, what, todo);
    }
    for member in &view.members {
        let name = member_name(member);
        if let MemberState::Down { error } = &member.state {
            alert(
                Tone::Warn,
                format!("member {name} does not answer: {error}"),
                format!(
                    "Check that etcd runs on {name} and that etcdeck reaches its client URL \
                     (etcdctl{} endpoint health); restart it if it stopped or hangs. Meanwhile \
                     the cluster can lose {} more.",
                    endpoint_flag(member),
                    view.can_lose
                ),
            );
        }
    }
    if let Some((from, to, secs)) = apply_lag_growth(&view.history) {
        alert(
            Tone::Warn,
            format!(
                "the apply lag is growing: entries committed but not applied yet rose from \
                 {from} to {to} over the last {secs} s"
            ),
            "A member applies entries slower than the cluster commits them: check its disk \
             (etcd_disk_backend_commit_duration_seconds in its /metrics) and CPU, and look for \
             large transactions or ranges; if it keeps growing, lower the write load."
                .to_owned(),
        );
    }
    let recent = view
        .leader_changes
        .iter()
        .filter(|c| c.at_ms + LEADER_CHANGES_WINDOW_MS >= now_ms)
        .count();
    if recent >= LEADER_CHANGES_WARN {
        alert(
            Tone::Warn,
            format!("{recent} leader changes in the last 15 minutes"),
            "Members keep missing the leader's heartbeats: check the disk latency of each \
             member (etcd_disk_wal_fsync_duration_seconds), the network between them, and that \
             none is starved of CPU; raise --heartbeat-interval and --election-timeout only for \
             a network slow by nature."
                .to_owned(),
        );
    }
    let quota = view.quota_bytes.filter(|q| *q > 0);
    if let (Some(size), Some(quota)) = (view.db_size_bytes, quota) {
        let share = size as f64 / quota as f64;
        let what = format!("the database is at {:.0} % of its quota", share * 100.0);
        let todo = "Compact old history (etcdctl compact REVISION), then defragment each \
                    member one at a time (etcdctl defrag --endpoints=URL) to give the space \
                    back; or raise --quota-backend-bytes on every member. At the quota etcd \
                    raises NOSPACE and refuses writes.";
        if share >= QUOTA_BAD {
            alert(Tone::Bad, what, todo.to_owned());
        } else if share >= QUOTA_WARN {
            alert(Tone::Warn, what, todo.to_owned());
        }
    }
    if let (Some(secs), Some(_)) = (view.forecast_secs, quota)
        && secs <= FORECAST_WARN_SECS
    {
        alert(
            Tone::Warn,
            format!(
                "the database is forecast to reach its quota within {}",
                duration_words(secs)
            ),
            "Find what writes so much (the writes per second here), compact and defragment \
             before it fills (etcdctl compact, then etcdctl defrag on each member in turn), or \
             raise --quota-backend-bytes; at the quota etcd refuses every write."
                .to_owned(),
        );
    }
    alerts.sort_by_key(|a| std::cmp::Reverse(a.tone));
    let tone = alerts.first().map_or(Tone::Ok, |a| a.tone);
    Verdict { tone, alerts }
}

/// The apply lag's rise over the last [`APPLY_LAG_SAMPLES`] samples that
/// have one, when it never fell and rose by [`APPLY_LAG_RISE`] or more:
/// (oldest lag, newest lag, seconds between them).
fn apply_lag_growth(history: &[Sample]) -> Option<(u64, u64, u64)> {
    let lags: Vec<(u64, u64)> = history
        .iter()
        .filter_map(|s| Some((s.at_ms, s.apply_lag?)))
        .collect();
    let last = lags.get(lags.len().checked_sub(APPLY_LAG_SAMPLES)?..)?;
    let never_fell = last.windows(2).all(|w| w[1].1 >= w[0].1);
    let (first, newest) = (last.first()?, last.last()?);
    (never_fell && newest.1 >= first.1 + APPLY_LAG_RISE)
        .then(|| (first.1, newest.1, newest.0.saturating_sub(first.0) / 1000))
}

/// A duration in the largest unit that fits ("4 h", "12 min", "30 s").
pub fn duration_words(secs: u64) -> String {
    // Rounded to the nearest unit: these are "about" figures.
    let in_units = |unit: u64| (secs + unit / 2) / unit;
    if secs >= 2 * 86_400 {
        format!("{} days", in_units(86_400))
    } else if secs >= 2 * 3_600 {
        format!("{} h", in_units(3_600))
    } else if secs >= 120 {
        format!("{} min", in_units(60))
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, state: MemberState) -> Member {
        Member {
            id: name.into(),
            name: name.into(),
            peer_urls: Vec::new(),
            client_urls: vec![format!("http://{name}:2379")],
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
            can_lose: 1,
            tolerance: String::new(),
            members,
            leader: Some("a".into()),
            revision: Some(5),
            compact_revision: Some(-1),
            compaction: String::new(),
            alarms: Vec::new(),
            quota_bytes: None,
            quota_source: String::new(),
            db_size_bytes: Some(100),
            writes_per_sec: None,
            forecast: String::new(),
            forecast_secs: None,
            leader_changes: Vec::new(),
            history: Vec::new(),
        }
    }

    fn healthy() -> ClusterView {
        view(vec![
            member("a", up()),
            member("b", up()),
            member("c", up()),
        ])
    }

    /// The one alert of `view`, which must have exactly one.
    fn only_alert(view: &ClusterView) -> Alert {
        let v = verdict(view, view.read_at_ms);
        assert_eq!(v.alerts.len(), 1, "{v:#?}");
        let alert = v.alerts[0].clone();
        assert_eq!(v.tone, alert.tone);
        assert!(alert.todo.ends_with('.'), "a sentence: {alert:?}");
        alert
    }

    fn down(error: &str) -> MemberState {
        MemberState::Down {
            error: error.into(),
        }
    }

    #[test]
    fn a_healthy_cluster_is_green_without_alerts() {
        let v = verdict(&healthy(), 0);
        assert_eq!(v.tone, Tone::Ok);
        assert!(v.alerts.is_empty(), "{v:?}");
    }

    #[test]
    fn a_member_down_is_amber_and_says_how_to_check_it() {
        let mut one_down = healthy();
        one_down.members[1].state = down("refused");
        one_down.can_lose = 0;
        let alert = only_alert(&one_down);
        assert_eq!(alert.tone, Tone::Warn);
        assert!(
            alert.what.contains("member b does not answer: refused"),
            "{alert:?}"
        );
        assert!(
            alert
                .todo
                .contains("etcdctl --endpoints=http://b:2379 endpoint health"),
            "{alert:?}"
        );
        assert!(alert.todo.contains("can lose 0 more"), "{alert:?}");
    }

    #[test]
    fn no_leader_and_no_quorum_are_red() {
        let mut lost = healthy();
        lost.leader = None;
        lost.members[1].state = down("refused");
        lost.members[2].state = down("refused");
        let v = verdict(&lost, 0);
        assert_eq!(v.tone, Tone::Bad);
        let no_leader = v
            .alerts
            .iter()
            .find(|a| a.what.contains("no leader"))
            .expect("no leader");
        assert_eq!(no_leader.tone, Tone::Bad);
        assert!(no_leader.todo.contains("etcdctl endpoint status --cluster"));
        let quorum = v
            .alerts
            .iter()
            .find(|a| a.what.contains("only 1 of 3"))
            .expect("no quorum");
        assert_eq!(quorum.tone, Tone::Bad);
        assert!(quorum.todo.contains("until 2 answer"), "{quorum:?}");
        // The worst first: both red alerts before the two members down.
        assert_eq!(v.alerts.len(), 4, "{v:#?}");
        assert!(v.alerts[..2].iter().all(|a| a.tone == Tone::Bad));
        assert!(v.alerts[2..].iter().all(|a| a.tone == Tone::Warn));

        // A leader known, but too few members answer.
        let mut no_quorum = lost.clone();
        no_quorum.leader = Some("a".into());
        assert!(
            verdict(&no_quorum, 0)
                .alerts
                .iter()
                .all(|a| !a.what.contains("no leader"))
        );
        assert_eq!(verdict(&no_quorum, 0).tone, Tone::Bad);
    }

    #[test]
    fn alarms_are_red_and_say_what_etcd_needs() {
        let mut nospace = healthy();
        nospace.alarms.push(Alarm {
            member: "b".into(),
            alarm: "NOSPACE".into(),
        });
        let alert = only_alert(&nospace);
        assert_eq!(alert.tone, Tone::Bad);
        assert!(alert.what.contains("NOSPACE on member b"), "{alert:?}");
        let compact = alert.todo.find("etcdctl compact").expect("compact");
        let defrag = alert.todo.find("etcdctl defrag").expect("defragment");
        let disarm = alert.todo.find("etcdctl alarm disarm").expect("disarm");
        assert!(
            compact < defrag && defrag < disarm,
            "in that order: {alert:?}"
        );
        assert!(alert.todo.contains("each member one at a time"));

        let mut corrupt = healthy();
        corrupt.alarms.push(Alarm {
            member: "c".into(),
            alarm: "CORRUPT".into(),
        });
        let alert = only_alert(&corrupt);
        assert_eq!(alert.tone, Tone::Bad);
        assert!(alert.what.contains("CORRUPT on member c"), "{alert:?}");
        assert!(alert.todo.contains("etcdctl snapshot save"), "{alert:?}");
        assert!(alert.todo.contains("etcdctl member remove c"), "{alert:?}");
        assert!(alert.todo.contains("--initial-cluster-state existing"));
    }

    #[test]
    fn the_database_against_its_quota() {
        let mut full = healthy();
        full.quota_bytes = Some(130);
        assert_eq!(verdict(&full, 0).tone, Tone::Ok, "77 %");
        full.quota_bytes = Some(120);
        let alert = only_alert(&full);
        assert_eq!(alert.tone, Tone::Warn);
        assert!(alert.what.contains("83 % of its quota"), "{alert:?}");
        assert!(alert.todo.contains("etcdctl compact"), "{alert:?}");
        assert!(alert.todo.contains("etcdctl defrag"), "{alert:?}");
        full.quota_bytes = Some(104);
        let alert = only_alert(&full);
        assert_eq!(alert.tone, Tone::Bad);
        assert!(alert.what.contains("96 % of its quota"), "{alert:?}");
        // No quota known: nothing to compare with.
        full.quota_bytes = None;
        assert_eq!(verdict(&full, 0).tone, Tone::Ok);
    }

    #[test]
    fn a_forecast_within_four_hours_is_amber() {
        let mut growing = healthy();
        growing.quota_bytes = Some(1_000);
        growing.forecast_secs = Some(FORECAST_WARN_SECS + 60);
        assert_eq!(verdict(&growing, 0).tone, Tone::Ok);
        growing.forecast_secs = Some(3 * 3600);
        let alert = only_alert(&growing);
        assert_eq!(alert.tone, Tone::Warn);
        assert!(alert.what.contains("within 3 h"), "{alert:?}");
        assert!(alert.todo.contains("--quota-backend-bytes"), "{alert:?}");
    }

    #[test]
    fn four_leader_changes_in_fifteen_minutes_are_amber() {
        let mut flapping = healthy();
        flapping.leader_changes = (0..3)
            .map(|i| LeaderChange {
                at_ms: 1_000_000 + i,
                from: None,
                to: None,
            })
            .collect();
        assert_eq!(verdict(&flapping, 1_000_000).tone, Tone::Ok, "3 changes");
        flapping.leader_changes.push(LeaderChange {
            at_ms: 1_000_010,
            from: None,
            to: None,
        });
        flapping.read_at_ms = 1_000_000;
        let alert = only_alert(&flapping);
        assert_eq!(alert.tone, Tone::Warn);
        assert!(alert.what.starts_with("4 leader changes"), "{alert:?}");
        assert!(alert.todo.contains("heartbeat"), "{alert:?}");
        assert_eq!(
            verdict(&flapping, 1_000_000 + LEADER_CHANGES_WINDOW_MS + 10).tone,
            Tone::Ok
        );
    }

    fn lags(lags: &[u64]) -> Vec<Sample> {
        lags.iter()
            .enumerate()
            .map(|(i, lag)| Sample {
                at_ms: i as u64 * 10_000,
                revision: Some(5),
                db_size_bytes: Some(100),
                apply_lag: Some(*lag),
            })
            .collect()
    }

    #[test]
    fn an_apply_lag_is_judged_by_its_growth_not_its_size() {
        let mut lagging = healthy();
        lagging.history = lags(&[0, 5, 40, 120, 300, 800]);
        let alert = only_alert(&lagging);
        assert_eq!(alert.tone, Tone::Warn);
        assert!(
            alert.what.contains("rose from 0 to 800 over the last 50 s"),
            "{alert:?}"
        );
        // Large but falling, or steady: it catches up or keeps pace.
        lagging.history = lags(&[5_000, 4_000, 3_000, 2_000, 1_500, 1_000]);
        assert_eq!(verdict(&lagging, 0).tone, Tone::Ok);
        lagging.history = lags(&[2_000; 6]);
        assert_eq!(verdict(&lagging, 0).tone, Tone::Ok);
        // Growing a little, as under load: no alert.
        lagging.history = lags(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(verdict(&lagging, 0).tone, Tone::Ok);
        // One dip in the window: not steadily growing.
        lagging.history = lags(&[0, 200, 100, 300, 400, 500]);
        assert_eq!(verdict(&lagging, 0).tone, Tone::Ok);
        // Too few samples to tell; only the last ones count.
        lagging.history = lags(&[0, 500, 1_000]);
        assert_eq!(verdict(&lagging, 0).tone, Tone::Ok);
        lagging.history = lags(&[9_000, 0, 200, 400, 600, 800, 1_000]);
        assert_eq!(verdict(&lagging, 0).tone, Tone::Warn);
    }

    #[test]
    fn alerts_read_back_from_json() {
        let alert = Alert {
            tone: Tone::Warn,
            what: "w".into(),
            todo: "t.".into(),
        };
        let json = serde_json::to_string(&alert).expect("json");
        assert_eq!(json, r#"{"tone":"warn","what":"w","todo":"t."}"#);
        assert_eq!(serde_json::from_str::<Alert>(&json).expect("back"), alert);
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
        assert_eq!(duration_words(3 * 3600), "3 h");
        assert_eq!(duration_words(600), "10 min");
    }
}
