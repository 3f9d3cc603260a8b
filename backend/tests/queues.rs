//! Queues nobody configured, found by the background walk of the key tree,
//! against a real etcd with auth: a Queue and a PriorityQueue filled the way
//! etcd's `recipes` package fills them appear in `GET /api/v1/queues` with
//! their depths, beside a configured queue; look-alikes do not.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcdeck_shared::coord::{PriorityDepth, QueueKind, Queues};
use etcdeck_shared::path;
use support::{Server, config, wait_for};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// Generous: etcd and etcdctl start slowly on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
}

fn names(queues: &Queues) -> Vec<String> {
    queues.queues.iter().map(|q| q.prefix.display()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_under_unconfigured_prefixes_are_found_and_look_alikes_are_not() {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    let put = |key: &str| {
        etcd.etcdctl(&["put", key, "payload"]).expect("put");
    };
    // recipes.Queue: `P/<Unix nanoseconds>`, no lease.
    let start = nanos();
    for i in 0..5 {
        put(&format!("/app/jobs/{}", start + i));
    }
    // Deeper than every look-alike: once it is found, the walk has been
    // through all of them.
    put(&format!("/app/z/deep/jobs/{start}"));
    put(&format!("/app/z/deep/jobs/{}", start + 1));
    // recipes.PriorityQueue: `P/<%05d>/<%016d>`, bookkeeping under `__P/`.
    put("/app/urgent/00001/0000000000000000");
    put("/app/urgent/00001/0000000000000001");
    put("/app/urgent/00005/0000000000000002");
    put("__/app/urgent/00001");
    // A configured queue is listed once, as configured.
    put(&format!("work/{start}"));
    put(&format!("work/{}", start + 1));
    // Look-alikes: one numeric key; numbers mixed with a name; names that
    // are not numbers; numbers that are directories; digits of the wrong
    // length; RWMutex readers (nanosecond names on a session's lease).
    put(&format!("/app/single/{start}"));
    put(&format!("/app/mixed/{start}"));
    put(&format!("/app/mixed/{}", start + 1));
    put("/app/mixed/readme");
    put("/app/names/job-1");
    put("/app/names/job-2");
    put(&format!("/app/dirs/{start}/a"));
    put(&format!("/app/dirs/{}/b", start + 1));
    put("/app/short/176371200012345678");
    put("/app/short/176371200012345679");
    put("/app/prio-ish/00001/1");
    put("/app/prio-ish/00002/2");
    let granted = etcd.etcdctl(&["lease", "grant", "300"]).expect("lease");
    let lease = granted
        .split_whitespace()
        .nth(1)
        .expect("lease id")
        .to_owned();
    for i in 0..2 {
        etcd.etcdctl(&[
            "put",
            &format!("--lease={lease}"),
            &format!("/app/rw/read/{}", start + i),
            "",
        ])
        .expect("put on lease");
    }

    let mut config = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    config.coord.queue_prefixes = vec![b"work".to_vec()];
    let server = Server::start(config).await.expect("start etcdeck");

    // The first walk runs at start-up.
    let found = wait_for(DEADLINE, "the queues to be found", async || {
        let queues: Queues = server.get_json(path::QUEUES).await.expect("queues");
        let shown = names(&queues);
        if shown.contains(&"/app/z/deep/jobs".to_owned()) {
            Ok(queues)
        } else {
            Err(format!("queues shown: {shown:?}"))
        }
    })
    .await;
    assert_eq!(
        names(&found),
        ["work", "/app/jobs", "/app/urgent", "/app/z/deep/jobs"],
        "configured first, then found ones; no look-alikes"
    );
    let jobs = &found.queues[1];
    assert_eq!((jobs.kind, jobs.depth), (QueueKind::Queue, 5));
    assert!(jobs.oldest_age_secs.is_some());
    let urgent = &found.queues[2];
    assert_eq!((urgent.kind, urgent.depth), (QueueKind::PriorityQueue, 3));
    assert_eq!(
        urgent.priorities,
        [
            PriorityDepth {
                priority: 1,
                depth: 2
            },
            PriorityDepth {
                priority: 5,
                depth: 1
            },
        ]
    );

    // A found queue is counted by etcd on every read, like a configured one,
    // and its tracker samples its depth.
    put(&format!("/app/jobs/{}", nanos()));
    etcd.etcdctl(&["del", &format!("/app/jobs/{start}")])
        .expect("dequeue");
    etcd.etcdctl(&["del", &format!("/app/jobs/{}", start + 1)])
        .expect("dequeue");
    let queues: Queues = server.get_json(path::QUEUES).await.expect("queues");
    assert_eq!(queues.queues[1].depth, 4);
    wait_for(DEADLINE, "depth samples of a found queue", async || {
        let queues: Queues = server.get_json(path::QUEUES).await.expect("queues");
        if queues.queues[1].depth_history.is_empty() {
            Err("no depth samples".to_owned())
        } else {
            Ok(())
        }
    })
    .await;
    server.stop().await;
}
