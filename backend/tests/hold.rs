//! Hold and leadership times over HTTP, against a real etcd with auth on and
//! real `etcdctl lock` / `etcdctl elect` peers: a holder that took its lock
//! while etcdeck watched is dated from its create revision ("exact"), a
//! waiter that took over from the revision the holder let go at, one taken
//! before etcdeck started is an estimate, and an etcd user who may not see a
//! lock changes nothing in what root is shown.

mod support;

use std::process::Child;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcdeck_shared::coord::{Contender, Elections, Locks};
use etcdeck_shared::path;
use support::{Server, config, eventually};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// Generous: etcd and etcdctl start slowly on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// A background etcdctl, killed when dropped.
struct Peer(Child);

impl Peer {
    fn start(etcd: &EtcdCluster, args: &[&str]) -> Peer {
        Peer(etcd.spawn_etcdctl(args).expect("spawn etcdctl"))
    }

    /// SIGTERM: etcdctl unlocks or resigns on its way out.
    fn terminate(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn locks(server: &Server) -> Locks {
    server.get_json(path::LOCKS).await.expect("locks")
}

/// The one holder of the lock `name`, if it has exactly one.
fn holder(locks: &Locks, name: &str) -> Option<Contender> {
    let lock = locks.locks.iter().find(|l| l.prefix.display() == name)?;
    match lock.holders.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

async fn leader(server: &Server, name: &str) -> Option<Contender> {
    let elections: Elections = server.get_json(path::ELECTIONS).await.expect("elections");
    elections
        .elections
        .into_iter()
        .find(|e| e.prefix.display() == name)?
        .leader
}

/// What a person is shown of a holding.
fn shown(c: &Contender) -> (String, Option<u64>, bool) {
    (c.key.display(), c.holding_since_ms, c.since_exact)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_times_say_what_they_are_and_other_users_leave_them_alone() {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    etcd.add_user("viewer", "viewer-pw", &["app/"], &[])
        .expect("add user");

    // Taken before etcdeck starts: nobody can tell etcdeck when.
    let _early = Peer::start(&etcd, &["lock", "--ttl=10", "locks/early"]);
    eventually(DEADLINE, "etcdctl to take locks/early", || async {
        etcd.etcdctl(&["get", "--prefix", "--keys-only", "locks/early/"])
            .is_ok_and(|out| !out.trim().is_empty())
    })
    .await;
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");
    // Let etcdeck see etcd's revision before the next lock is taken.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let taken_after = now_ms();
    let mut late = Peer::start(&etcd, &["lock", "--ttl=10", "locks/late"]);
    let _leader = Peer::start(&etcd, &["elect", "leaders/late", "node-a"]);
    eventually(DEADLINE, "both locks and the leader", || async {
        let locks = locks(&server).await;
        holder(&locks, "locks/early").is_some()
            && holder(&locks, "locks/late").is_some()
            && leader(&server, "leaders/late").await.is_some()
    })
    .await;
    let seen_by = now_ms();
    let before = locks(&server).await;

    let early = holder(&before, "locks/early").expect("early holder");
    assert!(
        !early.since_exact,
        "taken before etcdeck started: {early:?}"
    );
    assert!(early.holding_since_ms.is_some_and(|t| t <= seen_by));

    // Dated from its create revision: after the lock was asked for, and no
    // later than the first answer that showed it.
    let late_holder = holder(&before, "locks/late").expect("late holder");
    assert!(late_holder.since_exact, "{late_holder:?}");
    let since = late_holder.holding_since_ms.expect("since");
    assert!(
        (taken_after..=seen_by).contains(&since),
        "{taken_after} <= {since} <= {seen_by}"
    );
    let leading = leader(&server, "leaders/late").await.expect("leader");
    assert!(leading.since_exact, "{leading:?}");
    let since = leading.holding_since_ms.expect("since");
    assert!(
        (taken_after..=seen_by).contains(&since),
        "{taken_after} <= {since} <= {seen_by}"
    );

    // An etcd user who may not read `locks/` opens the Locks page (a second
    // later, so that a new first sighting would show).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let viewer = server.log_in("viewer", "viewer-pw").await.expect("viewer");
    server.use_session(Some(viewer));
    // etcd 3.4 lists leases to every user (the view is then empty); later
    // releases refuse: either way nothing of root's is shown.
    if let Ok(seen) = server.get_json::<Locks>(path::LOCKS).await {
        assert!(seen.locks.is_empty(), "{seen:?}");
    }
    let _ = server.get_json::<Elections>(path::ELECTIONS).await;

    // Root's answer is unchanged.
    let root = server.log_in("root", ROOT_PASSWORD).await.expect("root");
    server.use_session(Some(root));
    let after = locks(&server).await;
    for name in ["locks/early", "locks/late"] {
        assert_eq!(
            holder(&after, name).as_ref().map(shown),
            holder(&before, name).as_ref().map(shown),
            "{name}"
        );
    }
    assert_eq!(
        leader(&server, "leaders/late").await.as_ref().map(shown),
        Some(shown(&leading))
    );

    // A waiter that gets the lock holds from when the holder let go, which
    // etcd's history tells (the holder's key was deleted at a revision
    // etcdeck saw arrive).
    let _waiter = Peer::start(&etcd, &["lock", "--ttl=10", "locks/late"]);
    eventually(DEADLINE, "a waiter on locks/late", || async {
        let locks = locks(&server).await;
        locks
            .locks
            .iter()
            .any(|l| l.prefix.display() == "locks/late" && l.waiters.len() == 1)
    })
    .await;
    // Long enough for a first sighting of the waiter to be told from it.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let released_at = now_ms();
    late.terminate();
    eventually(DEADLINE, "the waiter to hold", || async {
        holder(&locks(&server).await, "locks/late").is_some_and(|h| h.key != late_holder.key)
    })
    .await;
    let seen_by = now_ms();
    let next = holder(&locks(&server).await, "locks/late").expect("next holder");
    assert!(next.since_exact, "{next:?}");
    let since = next.holding_since_ms.expect("since");
    assert!(
        (released_at..=seen_by).contains(&since),
        "{released_at} <= {since} <= {seen_by}"
    );
    server.stop().await;
}
