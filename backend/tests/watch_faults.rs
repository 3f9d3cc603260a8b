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

use support::live::{
    LiveClient, PREFIX, Scene, Sub, Truth, VIEWER, finish, open_tabs, root_client, server_as,
};
use tokio::sync::watch;
use tokio::task::block_in_place;
use xtask::harness::{ClusterOptions, EtcdCluster};

/// How long etcdeck may take to deliver again after etcd comes back.
const RECOVERY: Duration = Duration::from_secs(30);

/// Revisions that make "mid-stream": the writer writes one every 5 ms or
/// so, and a fault comes after this many more were delivered.
const MID_STREAM: i64 = 100;

fn running_endpoints(etcd: &EtcdCluster) -> Vec<String> {
    (0..etcd.member_count())
        .filter(|&i| etcd.is_running(i))
        .map(|i| etcd.endpoint(i))
        .collect()
}

/// Waits until every `(client, id)` (subscribed to the whole prefix) has
/// delivered etcd's current revision: events flow again. Returns that
/// revision.
async fn wait_flowing(etcd: &EtcdCluster, subs: &[(&LiveClient, u32)], what: &str) -> i64 {
    let started = Instant::now();
    let mut client = root_client(&running_endpoints(etcd)).await;
    let now = support::wait_for(
        RECOVERY,
        &format!("etcd to answer {what}"),
        async || match client.get("etcdeck-test-probe", None).await {
            Ok(response) => Ok(response.header().expect("header").revision()),
            Err(err) => Err(err.to_string()),
        },
    )
    .await;
    for (ws, id) in subs {
        ws.wait_seen(*id, now, RECOVERY).await;
    }
    eprintln!(
        "{what}: every subscriber delivered revision {now} {:?} later",
        started.elapsed()
    );
    now
}

/// Waits until every `(client, id)` has delivered [`MID_STREAM`] revisions
/// after `after`: the writer is in full flow, so a fault now is mid-stream.
async fn wait_mid_stream(subs: &[(&LiveClient, u32)], after: i64) {
    for (ws, id) in subs {
        ws.wait_seen(*id, after + MID_STREAM, RECOVERY).await;
    }
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
    let Scene {
        mut etcd,
        endpoints,
        writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_token_ttl(2)).await;
    let viewer = server_as(&etcd, VIEWER).await;
    let [root_ws, viewer_ws] = open_tabs(
        [&root, &viewer],
        &[Sub::prefix(1, PREFIX), Sub::prefix(2, "/w/a/").prev_kv()],
    )
    .await;
    let (stop, stopped) = watch::channel(false);
    let writing = writer.spawn_until(stopped, Duration::from_millis(5));
    let flowing = [(&root_ws, 1), (&viewer_ws, 1)];
    let flowed = wait_flowing(&etcd, &flowing, "before the kill").await;
    wait_mid_stream(&flowing, flowed).await;
    block_in_place(|| etcd.kill(0)).expect("kill etcd");
    // The outage is the scenario: etcd stays dead for a second while the
    // writer keeps trying (there is no condition to wait for on a dead etcd).
    tokio::time::sleep(Duration::from_secs(1)).await;
    block_in_place(|| etcd.restart(0)).expect("restart etcd");
    let flowed = wait_flowing(&etcd, &flowing, "after the restart").await;
    wait_mid_stream(&flowing, flowed).await;
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
    let Scene {
        mut etcd,
        endpoints,
        writer,
        start,
        root,
    } = Scene::start(ClusterOptions::three().with_token_ttl(2)).await;
    let viewer = server_as(&etcd, VIEWER).await;
    let [root_ws, viewer_ws] = open_tabs(
        [&root, &viewer],
        &[Sub::prefix(1, PREFIX), Sub::prefix(2, "/w/b/").prev_kv()],
    )
    .await;
    let (stop, stopped) = watch::channel(false);
    let writing = writer.spawn_until(stopped, Duration::from_millis(5));
    let flowing = [(&root_ws, 1), (&viewer_ws, 1)];
    let flowed = wait_flowing(&etcd, &flowing, "before any kill").await;

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

    // Each fault comes mid-stream, and each member stays down while the
    // other two carry on for a stretch of writes.
    wait_mid_stream(&flowing, flowed).await;
    block_in_place(|| etcd.kill(watched)).expect("kill the watched member");
    let flowed = wait_flowing(&etcd, &flowing, "after killing the watched member").await;
    wait_mid_stream(&flowing, flowed).await;
    block_in_place(|| etcd.restart(watched)).expect("restart it");
    let flowed = wait_flowing(&etcd, &flowing, "with the watched member back").await;
    let leader = block_in_place(|| etcd.leader()).expect("leader");
    eprintln!("leader: member {leader}");
    wait_mid_stream(&flowing, flowed).await;
    block_in_place(|| etcd.kill(leader)).expect("kill the leader");
    let flowed = wait_flowing(&etcd, &flowing, "after killing the leader").await;
    wait_mid_stream(&flowing, flowed).await;
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
