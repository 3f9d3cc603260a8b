//! The coordination views against a real, auth-enabled etcd, with real
//! peers that etcdeck did not write: `etcdctl lock`, `etcdctl elect` and
//! `etcdctl lease grant / keep-alive`, plus queues filled and drained the way
//! etcd's `recipes` package does it.

mod support;

use std::process::Child;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcdeck::config::Config;
use etcdeck_shared::coord::{
    Contender, Elections, Leases, LockKind, Locks, PriorityDepth, QueueKind, Queues, Services,
};
use etcdeck_shared::{ErrorCode, LeaseId, LiveStats, path};
use support::{Server, config, eventually};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// Generous: etcd and etcdctl start slowly on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

fn etcd() -> EtcdCluster {
    EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd")
}

fn root_config(etcd: &EtcdCluster) -> Config {
    config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)))
}

/// A background etcdctl, killed when dropped.
struct Peer(Child);

impl Peer {
    fn start(etcd: &EtcdCluster, args: &[&str]) -> Peer {
        Peer(etcd.spawn_etcdctl(args).expect("spawn etcdctl"))
    }

    /// SIGKILL: the peer dies without cleaning up; its lease runs out.
    fn crash(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM: etcdctl resigns or unlocks on its way out.
    fn terminate(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.crash();
    }
}

fn keys(contenders: &[Contender]) -> Vec<String> {
    contenders.iter().map(|c| c.key.display()).collect()
}

async fn locks(server: &Server) -> Locks {
    server.get_json(path::LOCKS).await.expect("locks")
}

async fn elections(server: &Server) -> Elections {
    server.get_json(path::ELECTIONS).await.expect("elections")
}

async fn queues(server: &Server) -> Queues {
    server.get_json(path::QUEUES).await.expect("queues")
}

/// The lock named `name` as the server shows it now.
async fn lock(server: &Server, name: &str) -> Option<etcdeck_shared::coord::Lock> {
    locks(server)
        .await
        .locks
        .into_iter()
        .find(|l| l.prefix.display() == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_lock_holder_waiter_and_failover() {
    let etcd = etcd();
    let server = Server::start(root_config(&etcd)).await.expect("start");

    let mut first = Peer::start(&etcd, &["lock", "--ttl=3", "jobs/nightly"]);
    eventually(DEADLINE, "the first etcdctl lock to hold", || async {
        lock(&server, "jobs/nightly")
            .await
            .is_some_and(|l| l.holders.len() == 1 && l.waiters.is_empty())
    })
    .await;
    let held = lock(&server, "jobs/nightly").await.expect("lock");
    assert_eq!(held.kind, LockKind::Mutex);
    let holder = held.holders[0].clone();
    assert!(holder.value.is_empty());
    // The key is the prefix and the hex of its own lease.
    assert_eq!(
        holder.key.display(),
        format!("jobs/nightly/{}", holder.lease)
    );
    assert!(holder.lease_ttl.is_some_and(|t| t <= 3), "{holder:?}");
    assert!(holder.holding_since_ms.is_some());

    let _second = Peer::start(&etcd, &["lock", "--ttl=3", "jobs/nightly"]);
    eventually(DEADLINE, "the second etcdctl lock to wait", || async {
        lock(&server, "jobs/nightly")
            .await
            .is_some_and(|l| l.waiters.len() == 1)
    })
    .await;
    let queued = lock(&server, "jobs/nightly").await.expect("lock");
    assert_eq!(keys(&queued.holders), [holder.key.display()]);
    // Seen holding since the first answer, not since this one.
    assert_eq!(queued.holders[0].holding_since_ms, holder.holding_since_ms);
    let waiter = queued.waiters[0].clone();
    assert!(waiter.create_revision > holder.create_revision);
    assert_eq!(waiter.holding_since_ms, None);

    // The holder crashes; its lease runs out after 3 s and the waiter holds.
    first.crash();
    eventually(
        DEADLINE,
        "the waiter to hold after the holder died",
        || async {
            lock(&server, "jobs/nightly")
                .await
                .is_some_and(|l| keys(&l.holders) == [waiter.key.display()] && l.waiters.is_empty())
        },
    )
    .await;
    // The answer is complete as of its revision: never later than etcd's own.
    let revision = locks(&server).await.revision;
    let now: i64 = etcd
        .etcdctl(&["get", "nothing", "-w", "json"])
        .ok()
        .and_then(|json| {
            let at = json.find("\"revision\":")? + "\"revision\":".len();
            json[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .expect("etcd's revision");
    assert!(revision.0 > 0 && revision.0 <= now, "{revision:?} vs {now}");
    server.stop().await;
}

async fn election(server: &Server) -> Option<etcdeck_shared::coord::Election> {
    elections(server)
        .await
        .elections
        .into_iter()
        .find(|e| e.prefix.display() == "leader/db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_elect_leader_candidate_and_failover() {
    let etcd = etcd();
    let server = Server::start(root_config(&etcd)).await.expect("start");

    let mut a = Peer::start(&etcd, &["elect", "leader/db", "node-a"]);
    eventually(DEADLINE, "node-a to lead", || async {
        election(&server)
            .await
            .and_then(|e| e.leader)
            .is_some_and(|l| l.value.display() == "node-a")
    })
    .await;
    let _b = Peer::start(&etcd, &["elect", "leader/db", "node-b"]);
    eventually(DEADLINE, "node-b to be a candidate", || async {
        election(&server)
            .await
            .is_some_and(|e| e.candidates.len() == 1 && e.candidates[0].value.display() == "node-b")
    })
    .await;
    let before = election(&server).await.expect("election");
    assert!(
        before
            .leader
            .as_ref()
            .is_some_and(|l| l.holding_since_ms.is_some())
    );
    // An election is not a lock.
    assert!(lock(&server, "leader/db").await.is_none());

    // node-a resigns on its way out; node-b leads.
    a.terminate();
    eventually(DEADLINE, "node-b to lead after node-a left", || async {
        election(&server).await.is_some_and(|e| {
            e.leader.is_some_and(|l| l.value.display() == "node-b") && e.candidates.is_empty()
        })
    })
    .await;
    server.stop().await;
}

fn lease_id(grant_output: &str) -> LeaseId {
    // "lease 694d... granted with TTL(30s)"
    grant_output
        .split_whitespace()
        .nth(1)
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no lease id in {grant_output:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_with_keys_and_revoked_leases_disappear() {
    let etcd = etcd();
    let id = lease_id(&etcd.etcdctl(&["lease", "grant", "20"]).expect("grant"));
    let _keeper = Peer::start(&etcd, &["lease", "keep-alive", &id.to_string()]);
    for key in ["svc/b", "svc/a"] {
        etcd.etcdctl(&["put", "--lease", &id.to_string(), key, "v"])
            .expect("put");
    }
    let other = lease_id(&etcd.etcdctl(&["lease", "grant", "60"]).expect("grant"));
    let server = Server::start(root_config(&etcd)).await.expect("start");

    let leases: Leases = server.get_json(path::LEASES).await.expect("leases");
    let ids: Vec<LeaseId> = leases.leases.iter().map(|l| l.id).collect();
    assert!(ids.contains(&id) && ids.contains(&other), "{leases:?}");
    let kept = leases.leases.iter().find(|l| l.id == id).expect("lease");
    assert_eq!(kept.granted_ttl, 20);
    assert!(kept.remaining_ttl.is_some_and(|t| t > 0 && t <= 20));
    let keys: Vec<String> = kept.keys.iter().map(|k| k.display()).collect();
    assert_eq!(keys, ["svc/a", "svc/b"]);
    assert_eq!(kept.more_keys, 0);
    assert!(leases.revision.0 > 0);

    // Kept alive by a real `etcdctl lease keep-alive`: a 2 s lease is
    // still there well after 2 s.
    let short = lease_id(&etcd.etcdctl(&["lease", "grant", "2"]).expect("grant"));
    let _short_keeper = Peer::start(&etcd, &["lease", "keep-alive", &short.to_string()]);
    // Outliving the TTL is the scenario: the lease must still be there after
    // more than twice its 2 s, which only the keep-alive can explain.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let leases: Leases = server.get_json(path::LEASES).await.expect("leases");
    assert!(
        leases
            .leases
            .iter()
            .any(|l| l.id == short && l.remaining_ttl.is_some_and(|t| t > 0)),
        "{leases:?}"
    );

    // Revoked: gone from the list, and nothing fails.
    etcd.etcdctl(&["lease", "revoke", &id.to_string()])
        .expect("revoke");
    let leases: Leases = server.get_json(path::LEASES).await.expect("leases");
    assert!(leases.leases.iter().all(|l| l.id != id), "{leases:?}");
    assert!(leases.leases.iter().any(|l| l.id == other));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_alike_keys_are_not_locks() {
    let etcd = etcd();
    let id = lease_id(&etcd.etcdctl(&["lease", "grant", "60"]).expect("grant"));
    let other = lease_id(&etcd.etcdctl(&["lease", "grant", "60"]).expect("grant"));
    let hex = id.to_string();
    for (key, lease) in [
        // Suffix not hex.
        ("workers/worker-1".to_owned(), Some(id)),
        // The hex of another lease than the key's own.
        (format!("mimic/{other}"), Some(id)),
        // The hex of a lease, but no lease on the key.
        (format!("plain/{hex}"), None),
        // Upper-case hex.
        (format!("shout/{}", hex.to_uppercase()), Some(id)),
    ] {
        let mut args = vec!["put"];
        let lease_arg = lease.map(|l| format!("--lease={l}"));
        if let Some(arg) = &lease_arg {
            args.push(arg);
        }
        args.extend([key.as_str(), ""]);
        etcd.etcdctl(&args).expect("put look-alike");
    }
    // And one real lock key, written by hand the way NewMutex does.
    etcd.etcdctl(&["put", &format!("--lease={id}"), &format!("real/{hex}"), ""])
        .expect("put");
    // An RWMutex: a reader, then a writer, each with its own session lease.
    etcd.etcdctl(&[
        "put",
        &format!("--lease={id}"),
        &format!("cfg/read/{hex}"),
        "",
    ])
    .expect("put");
    etcd.etcdctl(&[
        "put",
        &format!("--lease={other}"),
        &format!("cfg/write/{other}"),
        "",
    ])
    .expect("put");
    let mut config = root_config(&etcd);
    config.coord.lock_prefixes = vec![b"plain".to_vec()];
    let server = Server::start(config).await.expect("start");

    let found = locks(&server).await;
    let names: Vec<String> = found.locks.iter().map(|l| l.prefix.display()).collect();
    // `plain` is configured, so it shows, but with nobody holding it.
    assert_eq!(names, ["cfg", "plain", "real"], "{found:?}");
    let rw = &found.locks[0];
    assert_eq!(rw.kind, LockKind::RwMutex);
    assert_eq!(keys(&rw.holders), [format!("cfg/read/{hex}")]);
    assert_eq!(keys(&rw.waiters), [format!("cfg/write/{other}")]);
    assert!(found.locks[1].holders.is_empty() && found.locks[1].waiters.is_empty());
    assert_eq!(keys(&found.locks[2].holders), [format!("real/{hex}")]);
    assert!(elections(&server).await.elections.is_empty());
    server.stop().await;
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_depths_follow_puts_and_deletes() {
    let etcd = etcd();
    let mut config = root_config(&etcd);
    config.coord.queue_prefixes = vec![b"work".to_vec(), b"urgent".to_vec()];
    let server = Server::start(config).await.expect("start");

    let queue = |q: &Queues, name: &str| {
        q.queues
            .iter()
            .find(|q| q.prefix.display() == name)
            .cloned()
            .expect("queue listed")
    };
    let empty = queues(&server).await;
    assert_eq!(queue(&empty, "work").depth, 0);
    assert_eq!(queue(&empty, "work").oldest_age_secs, None);

    // Enqueue as recipes.Queue does: `work/<Unix nanoseconds>`, no lease.
    let mut items = Vec::new();
    for i in 0..3 {
        let key = format!("work/{}", now_nanos());
        etcd.etcdctl(&["put", &key, &format!("job-{i}")])
            .expect("enqueue");
        items.push(key);
        let q = queues(&server).await;
        let work = queue(&q, "work");
        assert_eq!((work.kind, work.depth), (QueueKind::Queue, i + 1));
        assert!(
            work.oldest_age_secs
                .is_some_and(|a| (0.0..60.0).contains(&a)),
            "{work:?}"
        );
    }
    // Dequeue oldest first, as recipes.Queue does.
    for (i, key) in items.iter().enumerate() {
        etcd.etcdctl(&["del", key]).expect("dequeue");
        let work = queue(&queues(&server).await, "work");
        assert_eq!(work.depth, 2 - i as u64);
    }

    // A priority queue: items `urgent/<%05d>/<%016d>`, bookkeeping outside.
    for key in [
        "urgent/00001/0000000000000000",
        "urgent/00001/0000000000000001",
        "urgent/00007/0000000000000000",
        "__urgent/00001",
    ] {
        etcd.etcdctl(&["put", key, "x"]).expect("put");
    }
    let urgent = queue(&queues(&server).await, "urgent");
    assert_eq!(urgent.kind, QueueKind::PriorityQueue);
    assert_eq!(urgent.depth, 3);
    assert_eq!(
        urgent.priorities,
        [
            PriorityDepth {
                priority: 1,
                depth: 2
            },
            PriorityDepth {
                priority: 7,
                depth: 1
            }
        ]
    );
    etcd.etcdctl(&["del", "urgent/00001/0000000000000000"])
        .expect("dequeue");
    let urgent = queue(&queues(&server).await, "urgent");
    assert_eq!(urgent.depth, 2);
    assert_eq!(urgent.priorities[0].depth, 1);

    // Rates and the depth history come from the backend's trackers, one hub
    // subscription per queue however often the view is read.
    eventually(
        DEADLINE,
        "rates once the trackers have watched a while",
        || async {
            let q = queues(&server).await;
            let work = queue(&q, "work");
            work.enqueue_per_sec.is_some_and(|r| r > 0.0)
                && work.dequeue_per_sec.is_some_and(|r| r > 0.0)
                && work.depth_history.last().is_some_and(|s| s.depth == 0)
                && queue(&q, "urgent")
                    .depth_history
                    .last()
                    .is_some_and(|s| s.depth == 2)
        },
    )
    .await;
    let live: LiveStats = server.get_json(path::LIVE).await.expect("live");
    assert_eq!(live.upstream_watches, 2, "{live:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_with_addresses_and_leases() {
    let etcd = etcd();
    let id = lease_id(&etcd.etcdctl(&["lease", "grant", "30"]).expect("grant"));
    etcd.etcdctl(&[
        "put",
        &format!("--lease={id}"),
        "services/api/i-1",
        r#"{"Op":0,"Addr":"10.0.0.1:8080","Metadata":null}"#,
    ])
    .expect("put");
    etcd.etcdctl(&[
        "put",
        "services/web/w-1",
        r#"{"host":"10.0.0.2","port":80}"#,
    ])
    .expect("put");
    let server = Server::start(root_config(&etcd)).await.expect("start");
    let services: Services = server.get_json(path::SERVICES).await.expect("services");
    assert_eq!(services.prefixes.len(), 1);
    let names: Vec<String> = services.services.iter().map(|s| s.name.display()).collect();
    assert_eq!(names, ["api", "web"]);
    let api = &services.services[0].instances[0];
    assert_eq!(api.address.as_deref(), Some("10.0.0.1:8080"));
    assert_eq!((api.lease, api.granted_ttl), (Some(id), Some(30)));
    assert!(api.lease_ttl.is_some_and(|t| t > 0));
    let web = &services.services[1].instances[0];
    assert_eq!(
        (web.address.as_deref(), web.lease),
        (Some("10.0.0.2:80"), None)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_user_gets_clear_refusals() {
    let etcd = etcd();
    etcd.add_user("viewer", "viewer-pw", &["app/"], &[])
        .expect("add user");
    let _holder = Peer::start(&etcd, &["lock", "--ttl=5", "secret-lock"]);
    etcd.etcdctl(&["put", "services/api/1", "{}"]).expect("put");
    let mut config = config(etcd.endpoints(), Some(("viewer", "viewer-pw")));
    config.coord.lock_prefixes = vec![b"jobs".to_vec()];
    config.coord.queue_prefixes = vec![b"work".to_vec()];
    let server = Server::start(config).await.expect("start");

    // etcd 3.4 lets every user list leases; later releases refuse
    // `LeaseTimeToLive` with keys to a user who may not read them. Either
    // way the answer is a lease list or a sentence, never a server error.
    match server.get_json::<Leases>(path::LEASES).await {
        Ok(_) => {}
        Err((code, err)) => {
            assert_eq!((code, err.code), (403, ErrorCode::PermissionDenied));
            assert!(err.message.contains("leases"), "{err:?}");
        }
    }
    // A configured lock prefix the user may not read: said in a sentence.
    let (code, err) = server
        .get_json::<Locks>(path::LOCKS)
        .await
        .expect_err("lock prefix not readable");
    assert_eq!((code, err.code), (403, ErrorCode::PermissionDenied));
    assert!(
        err.message.contains("lock jobs") && err.message.contains("permission denied"),
        "{err:?}"
    );
    let (code, err) = server
        .get_json::<Queues>(path::QUEUES)
        .await
        .expect_err("queue not readable");
    assert_eq!((code, err.code), (403, ErrorCode::PermissionDenied));
    assert!(err.message.contains("queue work"), "{err:?}");
    // Service prefixes the user may not read are left out, not an error.
    let services: Services = server.get_json(path::SERVICES).await.expect("services");
    assert!(services.prefixes.is_empty() && services.services.is_empty());
    server.stop().await;

    // Without configured prefixes, a lock found through a lease but not
    // readable by the user is not shown, and nothing fails.
    let server = Server::start(support::config(
        etcd.endpoints(),
        Some(("viewer", "viewer-pw")),
    ))
    .await
    .expect("start");
    eventually(DEADLINE, "the locks view as the viewer", || async {
        server
            .get_json::<Locks>(path::LOCKS)
            .await
            .is_ok_and(|l| l.locks.is_empty())
    })
    .await;
    server.stop().await;
}
