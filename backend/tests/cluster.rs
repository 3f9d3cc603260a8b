//! The cluster view on a real 3-member cluster with auth on, etcdeck given
//! every member's URL: a SIGKILLed follower shows as down with "can lose 0"
//! within 5 s and as up again after its restart; a SIGKILLed leader is
//! followed by a new leader and the change in the timeline, without a
//! reload; and the view costs etcd no requests of its own.

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
