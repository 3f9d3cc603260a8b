//! The cluster view on a real 3-member cluster with auth on, etcdeck given
//! every member's URL: a SIGKILLed follower shows as down with "can lose 0"
//! within 5 s and as up again after its restart; a SIGKILLed leader is
//! followed by a new leader and the change in the timeline, without a
//! reload; a member that hangs (SIGSTOP) shows as down within 5 s while the
//! view keeps answering at once; the quota and the compaction revision
//! come from the members' own `/metrics`; and the view costs etcd no
//! requests of its own.

mod support;

use std::time::{Duration, Instant};

use etcdeck_shared::cluster::{CLUSTER_PATH, ClusterView, MemberState, Tone, verdict};
use support::{Server, config};
use tokio::task::block_in_place;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

async fn view(server: &Server) -> ClusterView {
    let answer = server.get(CLUSTER_PATH).await;
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.expect("cluster view")
}

/// Polls the view until `check` holds, up to `limit`; the last view
/// otherwise, in the panic.
async fn view_until(
    server: &Server,
    limit: Duration,
    what: &str,
    check: impl Fn(&ClusterView) -> bool,
) -> (ClusterView, Duration) {
    let started = Instant::now();
    loop {
        let now = view(server).await;
        if check(&now) {
            return (now, started.elapsed());
        }
        assert!(
            started.elapsed() < limit,
            "{what}: not within {limit:?}; last view: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn up_count(view: &ClusterView) -> usize {
    view.members
        .iter()
        .filter(|m| matches!(m.state, MemberState::Up(_)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_down_and_leader_changes_show_within_seconds() {
    let mut etcd = block_in_place(|| EtcdCluster::start(ClusterOptions::three().with_auth()))
        .expect("start a 3-member cluster");
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("etcdeck starts");

    // The member list is read within the prober's first rounds.
    let (healthy, _) = view_until(&server, Duration::from_secs(10), "all three up", |v| {
        v.members.len() == 3 && up_count(v) == 3 && v.members.iter().all(|m| !m.name.is_empty())
    })
    .await;
    assert_eq!(healthy.tolerance, "3 members, quorum 2: can lose 1");
    assert_eq!(verdict(&healthy, healthy.read_at_ms).tone, Tone::Ok);
    assert_eq!(healthy.members.iter().filter(|m| m.is_leader).count(), 1);
    assert!(healthy.revision.is_some());

    // A follower SIGKILLed: down, "can lose 0", amber, within 5 s.
    let leader = block_in_place(|| etcd.leader()).expect("leader");
    let follower = (leader + 1) % 3;
    let follower_url = etcd.endpoint(follower);
    block_in_place(|| etcd.kill(follower)).expect("kill the follower");
    let (down, took) = view_until(&server, Duration::from_secs(5), "follower down", |v| {
        v.members.iter().any(|m| {
            m.client_urls.contains(&follower_url) && matches!(m.state, MemberState::Down { .. })
        })
    })
    .await;
    eprintln!("a killed follower showed as down after {took:?}");
    assert_eq!(down.can_lose, 0);
    assert_eq!(down.tolerance, "3 members, quorum 2: can lose 0");
    assert_eq!(verdict(&down, down.read_at_ms).tone, Tone::Warn);

    // Restarted: all up again.
    block_in_place(|| etcd.restart(follower)).expect("restart the follower");
    let (again, _) = view_until(&server, Duration::from_secs(15), "all up again", |v| {
        up_count(v) == 3 && v.can_lose == 1
    })
    .await;
    assert_eq!(verdict(&again, again.read_at_ms).tone, Tone::Ok);

    // The leader SIGKILLed: a new leader, and the change in the timeline.
    let old_leader = again
        .members
        .iter()
        .find(|m| m.is_leader)
        .map(|m| m.id.clone())
        .expect("a leader");
    let leader = block_in_place(|| etcd.leader()).expect("leader");
    block_in_place(|| etcd.kill(leader)).expect("kill the leader");
    let (after, took) = view_until(&server, Duration::from_secs(15), "a new leader", |v| {
        v.leader.as_ref().is_some_and(|l| *l != old_leader)
            && v.leader_changes.first().is_some_and(|c| c.to == v.leader)
    })
    .await;
    eprintln!("a new leader showed after {took:?}");
    assert!(
        after
            .leader_changes
            .iter()
            .any(|c| c.from.as_deref() == Some(old_leader.as_str())),
        "{:#?}",
        after.leader_changes
    );
    server.stop().await;
}

/// etcd's count of gRPC requests it answered, over every member.
async fn handled(etcd: &EtcdCluster) -> f64 {
    let mut total = 0.0;
    for member in 0..etcd.member_count() {
        total +=
            support::live::etcd_metric(&etcd.endpoint(member), "grpc_server_handled_total").await;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_open_cluster_pages_cost_etcd_nothing_more() {
    const WINDOW: Duration = Duration::from_secs(10);
    let etcd = block_in_place(|| EtcdCluster::start(ClusterOptions::three().with_auth()))
        .expect("start a 3-member cluster");
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("etcdeck starts");
    view_until(&server, Duration::from_secs(10), "all three up", |v| {
        up_count(v) == 3
    })
    .await;

    let before = handled(&etcd).await;
    tokio::time::sleep(WINDOW).await;
    let idle = handled(&etcd).await - before;

    // Twenty pages, each reading the view every 2 s as the page does.
    let server = std::sync::Arc::new(server);
    let before = handled(&etcd).await;
    let pages: Vec<_> = (0..20)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                while started.elapsed() < WINDOW {
                    view(&server).await;
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            })
        })
        .collect();
    for page in pages {
        page.await.expect("page");
    }
    let open = handled(&etcd).await - before;
    eprintln!(
        "etcd requests in {WINDOW:?}: idle etcdeck {idle}, with 20 cluster pages open {open} \
         ({:.2} vs {:.2} per second)",
        idle / WINDOW.as_secs_f64(),
        open / WINDOW.as_secs_f64()
    );
    // The pages read the prober's answers; the page loads themselves add
    // nothing. Allow for the member list read every 30 s falling into one
    // window and not the other.
    assert!(
        open <= idle * 1.2 + 3.0,
        "20 cluster pages cost etcd {open} requests in {WINDOW:?} against {idle} idle"
    );
}

/// etcd's current revision, read through etcdctl.
fn revision_of(etcd: &EtcdCluster) -> i64 {
    let out = etcd
        .etcdctl(&["get", "revision-probe", "-w", "json"])
        .expect("etcdctl get");
    let answer: serde_json::Value = serde_json::from_str(&out).expect("etcdctl json");
    answer["header"]["revision"].as_i64().expect("a revision")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_and_compaction_come_from_the_members_metrics() {
    const QUOTA: u64 = 16 * 1024 * 1024;
    let mut options = ClusterOptions::single().with_auth();
    options.extra_args = vec![format!("--quota-backend-bytes={QUOTA}")];
    let etcd = block_in_place(|| EtcdCluster::start(options)).expect("start etcd");
    // etcdeck is told another quota: a member's own word comes first.
    let mut config = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    config.server.quota_backend_bytes = Some(2 * 1024 * 1024 * 1024);
    let server = Server::start(config).await.expect("etcdeck starts");

    let (fresh, took) = view_until(
        &server,
        Duration::from_secs(15),
        "the quota from /metrics",
        |v| v.quota_bytes == Some(QUOTA),
    )
    .await;
    eprintln!("the quota from /metrics showed after {took:?}");
    assert!(
        fresh
            .quota_source
            .contains("etcd_server_quota_backend_bytes")
            && fresh.quota_source.contains("/metrics"),
        "{}",
        fresh.quota_source
    );
    assert!(
        fresh.compact_revision.is_some_and(|r| r <= 0),
        "a new etcd is not compacted: {:?}",
        fresh.compact_revision
    );
    assert_eq!(
        fresh.compaction,
        "never compacted: etcd keeps every revision"
    );
    assert_eq!(verdict(&fresh, fresh.read_at_ms).tone, Tone::Ok);

    for i in 0..5 {
        block_in_place(|| etcd.etcdctl(&["put", "compacted/key", &i.to_string()])).expect("put");
    }
    let revision = block_in_place(|| revision_of(&etcd));
    block_in_place(|| etcd.etcdctl(&["compact", &revision.to_string()])).expect("compact");
    // The scraper reads every 10 s.
    let (compacted, took) = view_until(
        &server,
        Duration::from_secs(25),
        "the compaction revision",
        |v| v.compact_revision == Some(revision),
    )
    .await;
    eprintln!("the compaction at {revision} showed after {took:?}");
    assert!(
        compacted
            .compaction
            .contains(&format!("revision {revision}")),
        "{}",
        compacted.compaction
    );
    assert_eq!(compacted.quota_bytes, Some(QUOTA));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_hangs_is_down_within_seconds_and_the_view_keeps_answering() {
    let mut etcd = block_in_place(|| EtcdCluster::start(ClusterOptions::three().with_auth()))
        .expect("start a 3-member cluster");
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("etcdeck starts");
    view_until(
        &server,
        Duration::from_secs(15),
        "all up, quota read",
        |v| up_count(v) == 3 && v.quota_bytes.is_some() && v.quota_source.contains("/metrics"),
    )
    .await;

    let leader = block_in_place(|| etcd.leader()).expect("leader");
    let hung = (leader + 1) % 3;
    let hung_url = etcd.endpoint(hung);
    block_in_place(|| etcd.pause(hung)).expect("SIGSTOP a follower");
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    loop {
        let asked = Instant::now();
        let now = view(&server).await;
        slowest = slowest.max(asked.elapsed());
        let down = now.members.iter().any(|m| {
            m.client_urls.contains(&hung_url) && matches!(m.state, MemberState::Down { .. })
        });
        if down {
            assert_eq!(now.can_lose, 0);
            let v = verdict(&now, now.read_at_ms);
            assert_eq!(v.tone, Tone::Warn, "{v:#?}");
            assert!(v.alerts.iter().any(|a| a.what.contains("does not answer")));
            // The others' /metrics are still read: the quota stays known.
            assert!(
                now.quota_source.contains("/metrics"),
                "{}",
                now.quota_source
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the hung member not down within 5 s: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "a hung member showed as down after {:?}; the slowest view took {slowest:?}",
        started.elapsed()
    );
    assert!(
        slowest < Duration::from_millis(500),
        "the view waited: {slowest:?}"
    );

    block_in_place(|| etcd.resume(hung)).expect("SIGCONT");
    view_until(&server, Duration::from_secs(15), "all up again", |v| {
        up_count(v) == 3 && v.can_lose == 1
    })
    .await;
    server.stop().await;
}
