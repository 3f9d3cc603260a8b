//! Measures what an open Locks page costs the etcd it watches: etcd's own
//! request counters (`grpc_server_handled_total` by method, from its
//! `/metrics`) over `--secs` seconds (default 60), first with no page open,
//! then with one Locks page open, on a cluster with `--leases` unrelated
//! leases (default 10,000, one key each) and a writer at `--puts` puts a
//! second (default 500). Run by `cargo xtask bench` after the coordination
//! benchmark.
//!
//! ```text
//! cargo run --release -p etcdeck-backend --example locks_load_bench -- \
//!     [--etcdeck target/release/etcdeck] [--leases 10000] [--puts 500] [--secs 60]
//! ```
//!
//! etcdeck runs as its own process (the binary given, so that an earlier
//! build can be measured by the same command), as root. The page is played
//! by a client doing what the browser's Locks page does: it logs in, reads
//! `/api/v1/locks`, subscribes over the WebSocket to what the page's watch
//! plan names (the whole keyspace, for root), reads again when an event can
//! change the answer (a change under a lock shown, or a new key shaped like
//! a session's) and when a shown countdown is about to change (a second
//! before the first contender's TTL runs out, at most once a second). A real
//! `etcdctl lock` holds one lock throughout. The page's cost is the second
//! window's requests less the first's (the writer and etcdeck's own probing
//! are in both).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, PutOptions};
use etcdeck_shared::coord::Locks;
use etcdeck_shared::ws::{ClientMessage, EventKind, ServerMessage, SubId, WatchEvent, WatchRange};
use etcdeck_shared::{Bytes, path};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD, free_port};

/// Requests etcd handled, by gRPC method, summed over result codes.
type Counts = BTreeMap<String, f64>;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number =
        |name: &str, default: u64| flag(name).map_or(default, |v| v.parse().expect("a number"));
    let binary = flag("--etcdeck").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/etcdeck"),
        PathBuf::from,
    );
    let leases = number("--leases", 10_000) as usize;
    let puts = number("--puts", 500);
    let secs = number("--secs", 60);

    let mut options = ClusterOptions::single().with_auth();
    options.extra_args = vec!["--quota-backend-bytes=8589934592".into()];
    let etcd = EtcdCluster::start(options).expect("start etcd");
    let client = Client::connect(
        etcd.endpoints(),
        Some(ConnectOptions::new().with_user("root", ROOT_PASSWORD)),
    )
    .await
    .expect("connect");
    let started = Instant::now();
    seed_leases(&client, leases).await;
    println!(
        "granted {leases} unrelated leases with a key each in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut holder = etcd
        .spawn_etcdctl(&["lock", "jobs/bench"])
        .expect("etcdctl lock");

    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_at(client.clone(), puts, stop.clone()));
    let deck = Etcdeck::start(&binary, &etcd.endpoints()).await;
    // Let start-up reads settle before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let before = counts(&etcd).await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let idle = delta(&before, &counts(&etcd).await);

    let reads = Arc::new(AtomicUsize::new(0));
    let before = counts(&etcd).await;
    let page = tokio::spawn(locks_page(deck.port, deck.cookie.clone(), reads.clone()));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let open = delta(&before, &counts(&etcd).await);
    page.abort();
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    let _ = holder.kill();
    let _ = holder.wait();

    println!(
        "etcdeck {}; writer {:.0} puts/s; {} page reads of /api/v1/locks in {secs} s",
        binary.display(),
        written as f64 / (2 * secs) as f64,
        reads.load(Ordering::Relaxed)
    );
    println!();
    println!(
        "| etcd method | no page (req/s) | Locks page open (req/s) | caused by the page (req/s) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    let methods: std::collections::BTreeSet<&String> = idle.keys().chain(open.keys()).collect();
    let rate = |c: &Counts, m: &String| c.get(m).copied().unwrap_or(0.0) / secs as f64;
    let (mut idle_total, mut open_total) = (0.0, 0.0);
    for method in methods {
        let (i, o) = (rate(&idle, method), rate(&open, method));
        if i == 0.0 && o == 0.0 {
            continue;
        }
        idle_total += i;
        open_total += o;
        println!("| {method} | {i:.1} | {o:.1} | {:.1} |", o - i);
    }
    println!(
        "| **all** | {idle_total:.1} | {open_total:.1} | **{:.1}** |",
        open_total - idle_total
    );
}

/// `leases` leases of an hour, each with one registration-like key: none is
/// a lock, an election or a queue.
async fn seed_leases(client: &Client, leases: usize) {
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut lease_client = client.lease_client();
            let mut kv = client.kv_client();
            for n in (worker..leases).step_by(16) {
                let lease = lease_client.grant(3600, None).await.expect("grant").id();
                kv.put(
                    format!("services/bench/instance-{n:05}"),
                    format!("{{\"address\":\"10.1.{}.{}:8080\"}}", n / 250, n % 250),
                    Some(PutOptions::new().with_lease(lease)),
                )
                .await
                .expect("put");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Puts `rate` unrelated keys a second (no lease) until `stop`; the count.
async fn write_at(client: Client, rate: u64, stop: Arc<AtomicBool>) -> usize {
    let mut kv = client.kv_client();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        kv.put(format!("load/k{:04}", n % 1000), format!("value-{n}"), None)
            .await
            .expect("put");
        n += 1;
    }
    n
}

/// etcd's `grpc_server_handled_total`, by method.
async fn counts(etcd: &EtcdCluster) -> Counts {
    let text = reqwest::get(format!("{}/metrics", etcd.endpoint(0)))
        .await
        .expect("etcd metrics")
        .text()
        .await
        .expect("etcd metrics body");
    let mut counts = Counts::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("grpc_server_handled_total{"))
    {
        let Some(method) = line
            .split("grpc_method=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            continue;
        };
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *counts.entry(method.to_owned()).or_default() += value;
    }
    counts
}

fn delta(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .map(|(m, v)| (m.clone(), v - before.get(m).copied().unwrap_or(0.0)))
        .collect()
}

/// What the browser's Locks page does, until aborted; counts its reads.
async fn locks_page(port: u16, cookie: String, reads: Arc<AtomicUsize>) {
    let http = reqwest::Client::new();
    let read = || async {
        reads.fetch_add(1, Ordering::Relaxed);
        let response = http
            .get(format!("http://127.0.0.1:{port}{}", path::LOCKS))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("locks");
        assert!(
            response.status().is_success(),
            "locks: {}",
            response.status()
        );
        response.json::<Locks>().await.expect("locks body")
    };
    let mut answer = read().await;
    let mut read_at = Instant::now();

    let url = format!("ws://127.0.0.1:{port}{}", path::WS);
    let mut request = url.into_client_request().expect("WebSocket request");
    request
        .headers_mut()
        .insert("cookie", cookie.parse().expect("cookie header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    // Root may watch every key, and locks are discovered anywhere: the
    // page's watch plan is the whole keyspace from the answer's revision.
    let subscribe = ClientMessage::Subscribe {
        id: SubId(1),
        range: WatchRange::prefix(Bytes::default()),
        from: Some(etcdeck_shared::Revision(answer.revision.0 + 1)),
        prev_kv: false,
    };
    socket
        .send(Message::text(serde_json::to_string(&subscribe).unwrap()))
        .await
        .unwrap();
    loop {
        let recheck = recheck_after(&answer);
        let wait = recheck.saturating_sub(read_at.elapsed());
        let again = tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(ServerMessage::Events { events, .. }) => events.iter().any(|e| touches(&answer, e)),
                    Ok(ServerMessage::Gap { .. }) => true,
                    _ => false,
                },
                Some(Ok(_)) => false,
                _ => return,
            },
            () = tokio::time::sleep(wait) => true,
        };
        if again {
            answer = read().await;
            read_at = Instant::now();
        }
    }
}

/// The page's rule for reading again: a second before the first shown
/// contender's TTL runs out, never sooner than a second after the read;
/// none shown, no timer.
fn recheck_after(answer: &Locks) -> Duration {
    answer
        .locks
        .iter()
        .flat_map(|l| l.holders.iter().chain(&l.waiters))
        .filter_map(|c| c.lease_ttl)
        .map(|ttl| {
            Duration::from_millis(
                (u64::try_from(ttl.max(0)).unwrap_or(0) * 1000)
                    .saturating_sub(1000)
                    .max(1000),
            )
        })
        .min()
        .unwrap_or(Duration::from_secs(3600))
}

/// The page's rule for which events can change the answer: a change under
/// a lock shown, or a new key named after its own lease (a session's).
fn touches(answer: &Locks, event: &WatchEvent) -> bool {
    let key = event.kv.key.as_slice();
    let under_shown = answer.locks.iter().any(|l| {
        let mut children = l.prefix.as_slice().to_vec();
        children.push(b'/');
        key.starts_with(&children)
    });
    let session_key = event.kind == EventKind::Put
        && event.kv.version == 1
        && event.kv.lease.is_some_and(|lease| {
            key.rsplit(|&b| b == b'/').next() == Some(lease.to_string().as_bytes())
        });
    under_shown || session_key
}

/// The etcdeck binary, run as root against the bench etcd, and a browser's
/// session cookie for it.
struct Etcdeck {
    child: Child,
    port: u16,
    cookie: String,
}

impl Drop for Etcdeck {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Etcdeck {
    async fn start(binary: &PathBuf, endpoints: &[String]) -> Etcdeck {
        let port = free_port().expect("free port");
        let child = Command::new(binary)
            .args(["--endpoints", &endpoints.join(","), "--user", "root"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("ETCDECK_PASSWORD", ROOT_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut deck = Etcdeck {
            child,
            port,
            cookie: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}{}", path::HEALTHZ)).await
                && r.status().is_success()
            {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                deck.cookie = server::session_cookie(addr, "root", ROOT_PASSWORD).await;
                return deck;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("etcdeck did not become ready");
    }
}
