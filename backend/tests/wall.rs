//! What open wall screens cost etcd: screens logged in with the wall token
//! (all acting as etcdeck's own etcd user) against a real etcd with auth on
//! and real coordination peers (`etcdctl lock`, `etcdctl elect`, a service
//! kept alive by `etcdctl lease keep-alive`, a queue filled and drained), each
//! doing what the `/wall` page does: the cluster view every 2 s, the
//! WebSocket subscriptions of its tiles (every key, the queue's and the
//! services' prefixes), and the four coordination views read again 300 ms
//! after changes arrive. The cost in etcd's own `grpc_server_handled_total`
//! must not grow with the number of screens: they share one set of readings
//! (`coord::coalesce`, `Sharing::Recent`).

mod support;

use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use etcdeck::config::{Config, Password};
use etcdeck_shared::cluster::CLUSTER_PATH;
use etcdeck_shared::edit::{LoginRequest, SessionInfo, SessionKind, path as edit_path};
use etcdeck_shared::ws::SubId;
use etcdeck_shared::{LiveStats, path};
use support::live::{LiveClient, Sub, etcd_metric, root_client};
use support::{Server, config, eventually};
use tokio::task::block_in_place;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const TOKEN: &str = "wall-token-for-the-cost-test-0123456789";
/// How long each measurement lasts.
const WINDOW: Duration = Duration::from_secs(10);
/// The page's debounce of changes before it reads again.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// Generous: etcd and etcdctl start slowly on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// A background etcdctl, killed when dropped.
struct Peer(Child);

impl Peer {
    fn start(etcd: &EtcdCluster, args: &[&str]) -> Peer {
        Peer(etcd.spawn_etcdctl(args).expect("spawn etcdctl"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wall_config(etcd: &EtcdCluster) -> Config {
    let mut config = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    config.server.wall_token = Some(Password::new(TOKEN));
    config.coord.queue_prefixes = vec![b"jobs".to_vec()];
    config
}

/// Logs `server` in with the wall token, as `/login#token=` does.
async fn log_in_as_wall(server: &Server) {
    let response = reqwest::Client::new()
        .post(server.url(edit_path::LOGIN))
        .json(&LoginRequest::Token {
            token: TOKEN.into(),
        })
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), 200);
    let cookie = response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .expect("cookie text")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let info: SessionInfo = response.json().await.expect("session");
    assert_eq!(info.kind, SessionKind::Token);
    server.use_session(Some((cookie, info.csrf)));
}

/// etcd's count of gRPC requests it answered.
async fn handled(etcd: &EtcdCluster) -> f64 {
    etcd_metric(&etcd.endpoint(0), "grpc_server_handled_total").await
}

async fn ok(server: &Server, path: &str) {
    let answer = server.get(path).await;
    let status = answer.status();
    let body = answer.text().await.unwrap_or_default();
    // A read that etcd did not answer in time on a loaded machine is what
    // the page shows as stale; it is noted, not a failure of the sharing.
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        eprintln!("{path}: {status} {body}");
        return;
    }
    assert!(status.is_success(), "{path}: {status} {body}");
}

/// The subscriptions of one wall screen's tiles.
fn wall_subs() -> [Sub; 3] {
    [
        Sub::prefix(1, ""),
        Sub::prefix(2, "jobs/"),
        Sub::prefix(3, "services/"),
    ]
}

/// One open wall screen for [`WINDOW`]: what the page reads, when it reads it.
async fn screen(server: Arc<Server>, client: LiveClient) {
    let started = Instant::now();
    let cluster = {
        let server = server.clone();
        tokio::spawn(async move {
            while started.elapsed() < WINDOW {
                ok(&server, CLUSTER_PATH).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    let mut last = client.seen(1);
    while started.elapsed() < WINDOW {
        // The workload writes every 200 ms: a change always comes.
        client
            .wait_until(Duration::from_secs(30), "a change", |r| {
                r.seen(SubId(1)) != last
            })
            .await;
        last = client.seen(1);
        tokio::time::sleep(DEBOUNCE).await;
        tokio::join!(
            ok(&server, path::LOCKS),
            ok(&server, path::ELECTIONS),
            ok(&server, path::QUEUES),
            ok(&server, path::SERVICES),
        );
    }
    cluster.await.expect("cluster polling");
}

/// etcd requests while `count` screens are open for [`WINDOW`], and the
/// upstream watches etcdeck holds meanwhile.
async fn with_screens(etcd: &EtcdCluster, server: &Arc<Server>, count: usize) -> (f64, u64) {
    let mut clients = Vec::new();
    for _ in 0..count {
        let mut client = LiveClient::connect(server.live()).await;
        client.subscribe_all(&wall_subs()).await;
        clients.push(client);
    }
    let before = handled(etcd).await;
    let screens: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(screen(server.clone(), client)))
        .collect();
    for screen in screens {
        screen.await.expect("screen");
    }
    let cost = handled(etcd).await - before;
    let live: LiveStats = server.get_json(path::LIVE).await.expect("live");
    (cost, live.upstream_watches)
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_wall_screens_cost_etcd_what_one_does() {
    let etcd = block_in_place(|| EtcdCluster::start(ClusterOptions::single().with_auth()))
        .expect("start etcd");
    let _lock = Peer::start(&etcd, &["lock", "wall-lock"]);
    let _leader = Peer::start(&etcd, &["elect", "wall-election", "proposal-1"]);
    let grant = etcd
        .etcdctl(&["lease", "grant", "30"])
        .expect("grant a lease");
    let lease = grant
        .split_whitespace()
        .nth(1)
        .expect("lease id in the grant")
        .to_owned();
    etcd.etcdctl(&[
        "put",
        &format!("--lease={lease}"),
        "services/api/i-1",
        r#"{"address":"10.0.0.1:8080"}"#,
    ])
    .expect("register a service");
    let _keep_alive = Peer::start(&etcd, &["lease", "keep-alive", &lease]);

    let server = Server::start_anonymous(wall_config(&etcd))
        .await
        .expect("etcdeck starts");
    log_in_as_wall(&server).await;
    eventually(DEADLINE, "the lock and the leader are seen", || async {
        let locks: etcdeck_shared::coord::Locks =
            server.get_json(path::LOCKS).await.expect("locks");
        let elections: etcdeck_shared::coord::Elections =
            server.get_json(path::ELECTIONS).await.expect("elections");
        locks.locks.iter().any(|l| !l.holders.is_empty())
            && elections.elections.iter().any(|e| e.leader.is_some())
    })
    .await;

    // A queue filled and drained five times a second for the whole test.
    let client = root_client(&etcd.endpoints()).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workload = {
        let stop = stop.clone();
        let mut kv = client.kv_client();
        tokio::spawn(async move {
            let mut previous: Option<String> = None;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let key = format!("jobs/{:019}", nanos());
                let _ = kv.put(key.as_str(), "job", None).await;
                if let Some(old) = previous.replace(key) {
                    let _ = kv.delete(old.as_str(), None).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let server = Arc::new(server);
    let before = handled(&etcd).await;
    tokio::time::sleep(WINDOW).await;
    let idle = handled(&etcd).await - before;
    let (one, watches_one) = with_screens(&etcd, &server, 1).await;
    let (twenty, watches_twenty) = with_screens(&etcd, &server, 20).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    workload.await.expect("workload");

    let secs = WINDOW.as_secs_f64();
    eprintln!(
        "etcd requests in {WINDOW:?} (a queue changing 10 times a second): no screen {idle} \
         ({:.1}/s), 1 wall screen {one} ({:.1}/s), 20 wall screens {twenty} ({:.1}/s); \
         upstream watches {watches_one} and {watches_twenty}",
        idle / secs,
        one / secs,
        twenty / secs,
    );
    // The screens share the hub's upstream watches...
    assert_eq!(watches_one, watches_twenty);
    // ...and the coordination reads: a wall screen takes any answer read
    // within the last second, so twenty cost what one does (a read each
    // would be twenty times as many). Allow for noise: the queue tracker's
    // samples and the queue walk fall into one window and not another.
    let by_one = (one - idle).max(0.0);
    let by_twenty = (twenty - idle).max(0.0);
    assert!(
        by_twenty <= by_one * 1.5 + 30.0,
        "20 wall screens cost etcd {by_twenty} requests in {WINDOW:?} above idle, one screen {by_one}"
    );
    match Arc::try_unwrap(server) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("a screen still holds the server"),
    }
}
