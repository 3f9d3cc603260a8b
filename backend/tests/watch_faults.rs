//! Live watch events through etcd failures: a single etcd killed and
//! restarted mid-stream, and a 3-member cluster losing the member etcdeck
//! watches through and then its leader, all while a writer keeps writing.
//! Tokens live 2 s, so every re-watch after a failure also meets an expired
//! (or, after a restart, unknown) token.
//!
//! The writer retries what fails, so etcd's own history (read afterwards as
//! ground truth) is what was written; every subscriber must deliver exactly
//! that, in order, once. `reconnecting` then `live` is allowed; a gap is not:
//! etcd still has the whole history.

mod support;

use std::time::{Duration, Instant};

use etcdeck_shared::ws::WatchRange;
use support::live::{
    LiveClient, PREFIX, Truth, VIEWER, Writer, finish, root_client, root_server, server_as,
    start_etcd,
};
use tokio::sync::watch;
use tokio::task::block_in_place;
use xtask::harness::{ClusterOptions, EtcdCluster};

fn prefix(p: &str) -> WatchRange {
    WatchRange::prefix(p)
}

/// How long etcdeck may take to deliver again after etcd comes back.
const RECOVERY: Duration = Duration::from_secs(30);

fn running_endpoints(etcd: &EtcdCluster) -> Vec<String> {
    (0..etcd.member_count())
        .filter(|&i| etcd.is_running(i))
        .map(|i| etcd.endpoint(i))
        .collect()
}

/// Waits until every `(client, id)` (subscribed to the whole prefix) has
/// delivered etcd's current revision: events flow again.
async fn wait_flowing(etcd: &EtcdCluster, subs: &[(&LiveClient, u32)], what: &str) {
    let started = Instant::now();
    let mut client = root_client(&running_endpoints(etcd)).await;
    let now = loop {
        match client.get("etcdeck-test-probe", None).await {
            Ok(response) => break response.header().expect("header").revision(),
            Err(err) => {
                assert!(
                    started.elapsed() < RECOVERY,
                    "etcd did not answer after {what}: {err}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    for (ws, id) in subs {
        ws.wait_seen(*id, now, RECOVERY).await;
    }
    eprintln!(
        "{what}: every subscriber delivered revision {now} {:?} later",
        started.elapsed()
    );
}

fn print_reconnects(subs: &[(&str, &LiveClient, u32)]) {
    for (name, ws, id) in subs {
        let recording = ws.recording();
        for session in recording.sessions_of(etcdeck_shared::ws::SubId(*id)) {
            eprintln!("{name} sub {id}: {}", session.outline());
        }
    }
}

/// The only etcd dies (SIGKILL) while a writer keeps writing, and comes back
/// a second later: every subscriber of root and of a non-root user sees
/// every revision exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_etcd_killed_and_restarted_mid_stream() {
    let mut etcd = start_etcd(ClusterOptions::single().with_token_ttl(2));
    let endpoints = etcd.endpoints();
    let mut writer = Writer::connect(&endpoints, PREFIX).await;
    let start = writer.revision().await + 1;
    let root = root_server(&etcd).await;
    let viewer = server_as(&etcd, VIEWER).await;
    let mut root_ws = LiveClient::connect(root.live()).await;
    let mut viewer_ws = LiveClient::connect(viewer.live()).await;
    for ws in [&mut root_ws, &mut viewer_ws] {
        ws.subscribe(1, prefix(PREFIX), None, false).await;
        ws.subscribe(2, prefix("/w/a/"), None, true).await;
        ws.wait_subscribed(1, support::live::LIMIT).await;
        ws.wait_subscribed(2, support::live::LIMIT).await;
    }
    let (stop, stopped) = watch::channel(false);
    let writing = writer.spawn_until(stopped, Duration::from_millis(5));
    let flowing = [(&root_ws, 1), (&viewer_ws, 1)];
    wait_flowing(&etcd, &flowing, "before the kill").await;
    // Mid-stream: a second of writing, then the kill.
    tokio::time::sleep(Duration::from_secs(1)).await;
    block_in_place(|| etcd.kill(0)).expect("kill etcd");
    tokio::time::sleep(Duration::from_secs(1)).await;
    block_in_place(|| etcd.restart(0)).expect("restart etcd");
    wait_flowing(&etcd, &flowing, "after the restart").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send_replace(true);
    let mut writer = writing.await.expect("writer");
    eprintln!("writer: {writer:?}");
    assert!(
        writer.failures > 0,
        "the writer never noticed etcd was down"
    );

    let subs = [
        ("root", &root_ws, 1),
        ("root", &root_ws, 2),
        ("viewer", &viewer_ws, 1),
        ("viewer", &viewer_ws, 2),
    ];
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    print_reconnects(&subs);
    assert!(verdicts.iter().all(|v| v.gaps.is_empty()), "{verdicts:?}");
    root.stop().await;
    viewer.stop().await;
}

/// The member with etcdeck's watch streams dies mid-stream, comes back, and
/// then the leader dies: with a writer writing all along, nothing is lost
/// or repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_loses_the_watched_member_and_then_the_leader() {
    const STREAMS: &str = "etcd_debugging_mvcc_watch_stream_total";
    let mut etcd = start_etcd(ClusterOptions::three().with_token_ttl(2));
    let endpoints = etcd.endpoints();
    let mut writer = Writer::connect(&endpoints, PREFIX).await;
    let start = writer.revision().await + 1;
    let root = root_server(&etcd).await;
    let viewer = server_as(&etcd, VIEWER).await;
    let mut root_ws = LiveClient::connect(root.live()).await;
    let mut viewer_ws = LiveClient::connect(viewer.live()).await;
    for ws in [&mut root_ws, &mut viewer_ws] {
        ws.subscribe(1, prefix(PREFIX), None, false).await;
        ws.subscribe(2, prefix("/w/b/"), None, true).await;
        ws.wait_subscribed(1, support::live::LIMIT).await;
        ws.wait_subscribed(2, support::live::LIMIT).await;
    }
    let (stop, stopped) = watch::channel(false);
    let writing = writer.spawn_until(stopped, Duration::from_millis(5));
    let flowing = [(&root_ws, 1), (&viewer_ws, 1)];
    wait_flowing(&etcd, &flowing, "before any kill").await;

    // The writer's client does not watch; etcdeck's watch streams are the
    // only ones, so the member with the most is the one etcdeck watches on.
    let mut streams = Vec::new();
    for i in 0..3 {
        streams.push(support::live::etcd_metric(&etcd.endpoint(i), STREAMS).await);
    }
    let watched = (0..3)
        .max_by(|&a, &b| streams[a].total_cmp(&streams[b]))
        .expect("members");
    eprintln!("watch streams per member: {streams:?}; killing member {watched}");
    assert!(streams[watched] > 0.0);

    tokio::time::sleep(Duration::from_secs(1)).await;
    block_in_place(|| etcd.kill(watched)).expect("kill the watched member");
    wait_flowing(&etcd, &flowing, "after killing the watched member").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    block_in_place(|| etcd.restart(watched)).expect("restart it");
    wait_flowing(&etcd, &flowing, "with the watched member back").await;
    let leader = block_in_place(|| etcd.leader()).expect("leader");
    eprintln!("leader: member {leader}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    block_in_place(|| etcd.kill(leader)).expect("kill the leader");
    wait_flowing(&etcd, &flowing, "after killing the leader").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    block_in_place(|| etcd.restart(leader)).expect("restart the leader");
    wait_flowing(&etcd, &flowing, "with every member back").await;
    stop.send_replace(true);
    let mut writer = writing.await.expect("writer");
    eprintln!("writer: {writer:?}");

    let subs = [
        ("root", &root_ws, 1),
        ("root", &root_ws, 2),
        ("viewer", &viewer_ws, 1),
        ("viewer", &viewer_ws, 2),
    ];
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    print_reconnects(&subs);
    assert!(verdicts.iter().all(|v| v.gaps.is_empty()), "{verdicts:?}");
    root.stop().await;
    viewer.stop().await;
}
