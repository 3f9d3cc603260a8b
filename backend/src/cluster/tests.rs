//! The cluster view's pure rules: joining members with their endpoints,
//! fault tolerance, alarms, leader changes, rates and the forecast.

use super::*;
use crate::etcd::{MemberMetrics, MetricsReading, StatusReading};
use std::time::Instant;

fn reading(member_id: u64, leader_id: u64, revision: i64, db_size: u64) -> StatusReading {
    StatusReading {
        member_id,
        leader_id,
        version: "3.4.23".into(),
        db_size,
        db_size_in_use: db_size / 2,
        raft_term: 2,
        raft_index: 100,
        raft_applied_index: 98,
        errors: Vec::new(),
        latency: Duration::from_millis(3),
        revision,
    }
}

fn entry(id: u64, port: u16) -> MemberEntry {
    MemberEntry {
        id,
        name: format!("m{id}"),
        peer_urls: vec![format!("http://127.0.0.1:{}", port + 1)],
        client_urls: vec![format!("http://127.0.0.1:{port}")],
        is_learner: false,
    }
}

fn three(states: [EndpointState; 3]) -> ClusterReadings {
    let ports = [2379u16, 2389, 2399];
    ClusterReadings {
        endpoints: ports
            .iter()
            .zip(states)
            .map(|(port, state)| (format!("http://127.0.0.1:{port}"), state))
            .collect(),
        members: vec![entry(1, 2379), entry(2, 2389), entry(3, 2399)],
        metrics: vec![MemberMetrics::default(); 3],
    }
}

fn up(id: u64) -> EndpointState {
    EndpointState::Up(reading(id, 1, 10, 1000))
}

#[test]
fn three_members_can_lose_one_and_then_none() {
    let view = build(&three([up(1), up(2), up(3)]), &History::default(), None, 0);
    assert_eq!((view.voting, view.quorum, view.can_lose), (3, 2, 1));
    assert_eq!(view.tolerance, "3 members, quorum 2: can lose 1");
    assert_eq!(view.leader.as_deref(), Some("1"));
    assert!(view.members[0].is_leader);
    assert!(!view.members[1].is_leader);

    let one_down = three([
        up(1),
        EndpointState::Down("etcd is unreachable: connection refused".into()),
        up(3),
    ]);
    let view = build(&one_down, &History::default(), None, 0);
    assert_eq!(view.can_lose, 0);
    assert_eq!(view.tolerance, "3 members, quorum 2: can lose 0");
    assert!(matches!(
        &view.members[1].state,
        MemberState::Down { error } if error.contains("refused")
    ));
}

#[test]
fn members_outside_the_endpoints_are_said_so() {
    let mut readings = three([up(1), up(2), up(3)]);
    readings.members.push(entry(4, 2409));
    let view = build(&readings, &History::default(), None, 0);
    assert!(matches!(
        &view.members[3].state,
        MemberState::Unknown { reason } if reason.contains("--endpoints")
    ));
    // Unknown members cannot be counted on for the quorum.
    assert_eq!((view.voting, view.quorum, view.can_lose), (4, 3, 0));
}

#[test]
fn alarms_are_read_from_status_errors() {
    let mut alarmed = reading(2, 1, 10, 1000);
    alarmed.errors = vec![
        "memberID:2 alarm:NOSPACE ".into(),
        "etcdserver: no leader".into(),
    ];
    let readings = three([
        up(1),
        EndpointState::Up(alarmed.clone()),
        EndpointState::Up(alarmed),
    ]);
    let view = build(&readings, &History::default(), None, 0);
    assert_eq!(
        view.alarms,
        [Alarm {
            member: "2".into(),
            alarm: "NOSPACE".into()
        }]
    );
}

#[test]
fn leader_changes_are_kept_newest_first() {
    let mut history = History::default();
    history.record(&three([up(1), up(2), up(3)]), 1_000);
    let led_by = |leader| {
        let s = |id| EndpointState::Up(reading(id, leader, 10, 1000));
        three([s(1), s(2), s(3)])
    };
    history.record(&led_by(1), 2_000);
    history.record(&led_by(0), 3_000);
    history.record(&led_by(3), 4_000);
    // Nobody answering says nothing about the leader.
    history.record(
        &three([
            EndpointState::Down("x".into()),
            EndpointState::Down("x".into()),
            EndpointState::Down("x".into()),
        ]),
        5_000,
    );
    history.record(&led_by(3), 6_000);
    let changes: Vec<(u64, Option<String>, Option<String>)> = history
        .leader_changes
        .iter()
        .map(|c| (c.at_ms, c.from.clone(), c.to.clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (4_000, None, Some("3".into())),
            (3_000, Some("1".into()), None),
        ]
    );
}

#[test]
fn writes_per_second_and_forecast() {
    let mut samples = VecDeque::new();
    for second in 0..=120u64 {
        samples.push_back(Sample {
            at_ms: second * 1000,
            revision: Some(100 + 5 * second as i64),
            db_size_bytes: Some(1_000_000 + 1_000 * second),
            apply_lag: Some(0),
        });
    }
    let rate = writes_per_sec(&samples).expect("a rate");
    assert!((rate - 5.0).abs() < 1e-9, "{rate}");
    // 1,120,000 bytes now, growing 1,000 a second: 880,000 to go.
    let said = forecast(&samples, Some(2_000_000));
    assert!(said.words.contains("15 min"), "{said:?}");
    let secs = said.secs.expect("seconds");
    assert!((879..=881).contains(&secs), "{said:?}");
    assert_eq!(
        forecast(&samples, None),
        "no forecast: the quota is not known".into()
    );
    let short: VecDeque<Sample> = samples.iter().take(5).cloned().collect();
    assert!(writes_per_sec(&short).is_none());
    let said = forecast(&short, Some(2_000_000));
    assert!(said.words.contains("under a minute") && said.secs.is_none());
    assert_eq!(
        forecast(&samples, Some(1_000_000)),
        "the database has reached its quota".into()
    );
}

#[test]
fn the_apply_lag_is_sampled_as_the_largest_among_members() {
    let mut history = History::default();
    let mut behind = reading(2, 1, 10, 1000);
    behind.raft_applied_index = 40;
    history.record(
        &three([
            up(1),
            EndpointState::Up(behind),
            EndpointState::Down("x".into()),
        ]),
        1_000,
    );
    assert_eq!(history.samples[0].apply_lag, Some(60));
}

fn scraped(compact_revision: i64, quota_bytes: Option<u64>) -> MemberMetrics {
    MemberMetrics {
        last: Some(MetricsReading {
            compact_revision: Some(compact_revision),
            quota_bytes,
            read_at: Instant::now(),
        }),
        error: None,
    }
}

#[test]
fn the_quota_comes_from_metrics_then_the_flag_then_nowhere() {
    let mut readings = three([up(1), up(2), up(3)]);
    let view = build(&readings, &History::default(), None, 0);
    assert_eq!(view.quota_bytes, None);
    assert!(
        view.quota_source.starts_with("unknown:"),
        "{}",
        view.quota_source
    );
    assert!(
        view.quota_source.contains("not been read yet"),
        "{}",
        view.quota_source
    );
    assert!(
        view.compaction.starts_with("unknown"),
        "{}",
        view.compaction
    );

    readings.metrics[0].error = Some("/metrics did not answer: refused".into());
    let view = build(&readings, &History::default(), Some(4096), 0);
    assert_eq!(view.quota_bytes, Some(4096));
    assert!(
        view.quota_source
            .starts_with("--quota-backend-bytes given to etcdeck")
            && view.quota_source.contains("refused"),
        "{}",
        view.quota_source
    );

    readings.metrics[1] = scraped(-1, Some(16 << 20));
    let view = build(&readings, &History::default(), Some(4096), 0);
    assert_eq!(view.quota_bytes, Some(16 << 20), "/metrics before the flag");
    assert_eq!(
        view.quota_source,
        "etcd_server_quota_backend_bytes from member m2's /metrics"
    );
    assert_eq!(view.compact_revision, Some(-1));
    assert_eq!(
        view.compaction,
        "never compacted: etcd keeps every revision"
    );

    // The highest compaction any member has applied.
    readings.metrics[2] = scraped(120, Some(16 << 20));
    readings.metrics[0] = scraped(90, None);
    let view = build(&readings, &History::default(), None, 0);
    assert_eq!(view.compact_revision, Some(120));
    assert!(
        view.compaction.contains("revision 120"),
        "{}",
        view.compaction
    );

    // An old reading is not trusted for the quota.
    let old = Instant::now()
        .checked_sub(METRICS_FRESH + Duration::from_secs(1))
        .expect("an instant in the past");
    for metrics in &mut readings.metrics {
        if let Some(last) = &mut metrics.last {
            last.read_at = old;
        }
    }
    let view = build(&readings, &History::default(), None, 0);
    assert_eq!(view.quota_bytes, None);
    assert!(
        view.quota_source.contains("last minute"),
        "{}",
        view.quota_source
    );
}
