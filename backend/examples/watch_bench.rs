//! Measures live delivery through etcdeck's watch hub against a direct
//! etcd-client watch (the floor), in one run on one etcd. Run by
//! `cargo xtask bench` after the level benchmark.
//!
//! ```text
//! cargo run --release -p etcdeck-backend --example watch_bench -- \
//!     [--etcdeck target/release/etcdeck] [--fanout 1,10,100,1000] [--puts 500]
//! ```
//!
//! It starts a real single-member etcd with auth on and the release
//! `etcdeck` binary as its own process (so its memory can be read), then:
//! 1. latency: `--puts` paced puts, each timed from the start of the put to
//!    its arrival at a direct etcd-client watch and at one WebSocket
//!    subscriber through etcdeck; p50 / p99 and the ratio;
//! 2. fan-out: for each count, that many WebSockets (one subscription each)
//!    on one prefix; paced puts; delivery latency over every (subscriber,
//!    put), loss, etcdeck's resident memory per subscriber, and the number of
//!    upstream watches (etcdeck's `/api/v1/live` and etcd's own
//!    `etcd_debugging_mvcc_watcher_total`);
//! 3. write rate: 10 subscribers while 32 writers put at the asked rate for 5 s
//!    per step; the achieved rate and whether every subscriber received every
//!    revision (no loss, no gap).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/server.rs"]
mod server;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, WatchOptions};
use etcdeck_shared::ws::{ClientMessage, ServerMessage, SubId, WatchRange};
use etcdeck_shared::{LiveStats, path};
use futures::{SinkExt, StreamExt};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD, free_port};

/// When each revision's put began.
type PutTimes = Arc<Mutex<HashMap<i64, Instant>>>;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let binary = flag("--etcdeck").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/etcdeck"),
        PathBuf::from,
    );
    let fanouts: Vec<usize> = flag("--fanout")
        .unwrap_or_else(|| "1,10,100,1000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("--fanout takes numbers"))
        .collect();
    let puts: usize = flag("--puts").map_or(500, |p| p.parse().expect("--puts takes a number"));

    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    let client = Client::connect(
        etcd.endpoints(),
        Some(ConnectOptions::new().with_user("root", ROOT_PASSWORD)),
    )
    .await
    .expect("connect");
    let mut deck = Etcdeck::start(&binary, &etcd.endpoints());
    deck.wait_ready().await;

    latency(&client, &deck, puts).await;
    fanout(&client, &deck, &etcd, &fanouts, puts.min(200)).await;
    write_rate(&client, &deck).await;
}

/// The etcdeck binary, run as root against the bench etcd.
struct Etcdeck {
    child: Child,
    port: u16,
    /// The session cookie, once logged in.
    cookie: String,
}

impl Drop for Etcdeck {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Etcdeck {
    fn start(binary: &PathBuf, endpoints: &[String]) -> Etcdeck {
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
        Etcdeck {
            child,
            port,
            cookie: String::new(),
        }
    }

    /// Waits until etcdeck answers, then logs in as a browser would.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) =
                reqwest::get(format!("http://127.0.0.1:{}{}", self.port, path::HEALTHZ)).await
                && r.status().is_success()
            {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
                self.cookie = server::session_cookie(addr, "root", ROOT_PASSWORD).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("etcdeck did not become ready");
    }

    async fn stats(&self) -> LiveStats {
        reqwest::get(format!("http://127.0.0.1:{}{}", self.port, path::LIVE))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Resident memory of the etcdeck process, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// One WebSocket with one subscription, recording when each revision arrives.
struct Subscriber {
    arrivals: Arc<Mutex<Vec<(i64, Instant)>>>,
    gaps: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    async fn open(port: u16, cookie: &str, prefix: &str) -> Subscriber {
        let url = format!("ws://127.0.0.1:{port}{}", path::WS);
        let mut request = url.into_client_request().expect("WebSocket request");
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("cookie header"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connect");
        let subscribe = ClientMessage::Subscribe {
            id: SubId(1),
            range: WatchRange::prefix(prefix),
            from: None,
            prev_kv: false,
        };
        socket
            .send(Message::text(serde_json::to_string(&subscribe).unwrap()))
            .await
            .unwrap();
        // Wait for `subscribed` so that every put after this is covered.
        loop {
            let frame = socket.next().await.expect("socket open").expect("frame");
            if let Message::Text(text) = frame
                && let Ok(ServerMessage::Subscribed { .. }) = serde_json::from_str(&text)
            {
                break;
            }
        }
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let gaps = Arc::new(Mutex::new(0));
        let (a, g) = (arrivals.clone(), gaps.clone());
        let task = tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                let Message::Text(text) = frame else { continue };
                let now = Instant::now();
                match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(ServerMessage::Events { events, .. }) => {
                        let mut a = a.lock().await;
                        for e in events {
                            a.push((e.kv.mod_revision.0, now));
                        }
                    }
                    Ok(ServerMessage::Gap { .. }) => *g.lock().await += 1,
                    _ => {}
                }
            }
        });
        Subscriber {
            arrivals,
            gaps,
            task,
        }
    }

    async fn received(&self) -> usize {
        self.arrivals.lock().await.len()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Puts `count` keys under `prefix`, one every `pace`, recording when each
/// put began by its revision.
async fn paced_puts(
    client: &Client,
    prefix: &str,
    count: usize,
    pace: Duration,
) -> (PutTimes, Vec<i64>) {
    let times: PutTimes = Arc::new(Mutex::new(HashMap::new()));
    let mut revisions = Vec::with_capacity(count);
    let mut kv = client.kv_client();
    let mut tick = tokio::time::interval(pace);
    for i in 0..count {
        tick.tick().await;
        let started = Instant::now();
        let response = kv
            .put(
                format!("{prefix}k{:03}", i % 100),
                format!("value-{i}"),
                None,
            )
            .await
            .expect("put");
        let rev = response.header().unwrap().revision();
        times.lock().await.insert(rev, started);
        revisions.push(rev);
    }
    (times, revisions)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn latencies(times: &PutTimes, arrivals: &[(i64, Instant)]) -> Vec<Duration> {
    let times = times.lock().await;
    let mut out: Vec<Duration> = arrivals
        .iter()
        .filter_map(|(rev, at)| times.get(rev).map(|t| at.duration_since(*t)))
        .collect();
    out.sort();
    out
}

async fn wait_for(subscribers: &[Subscriber], count: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let mut all = true;
        for s in subscribers {
            all &= s.received().await >= count;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn latency(client: &Client, deck: &Etcdeck, puts: usize) {
    let prefix = "/bench/latency/";
    // The floor: a direct etcd-client watch on the same prefix.
    let mut watch_client = client.clone();
    let mut direct = watch_client
        .watch(prefix, Some(WatchOptions::new().with_prefix()))
        .await
        .expect("watch");
    let direct_arrivals = Arc::new(Mutex::new(Vec::new()));
    let sink = direct_arrivals.clone();
    let direct_task = tokio::spawn(async move {
        while let Ok(Some(response)) = direct.message().await {
            let now = Instant::now();
            let mut sink = sink.lock().await;
            for e in response.events() {
                if let Some(kv) = e.kv() {
                    sink.push((kv.mod_revision(), now));
                }
            }
        }
    });
    let subscriber = [Subscriber::open(deck.port, &deck.cookie, prefix).await];
    let (times, _) = paced_puts(client, prefix, puts, Duration::from_millis(4)).await;
    wait_for(&subscriber, puts, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    direct_task.abort();
    let direct = latencies(&times, &direct_arrivals.lock().await).await;
    let through = latencies(&times, &subscriber[0].arrivals.lock().await).await;
    println!();
    println!("put-to-delivery latency, {puts} puts one every 4 ms, one subscriber:");
    println!();
    println!("| path | received | p50 | p99 |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| direct etcd-client watch (floor) | {} | {} | {} |",
        direct.len(),
        ms(percentile(&direct, 0.5)),
        ms(percentile(&direct, 0.99))
    );
    println!(
        "| etcdeck WebSocket | {} | {} | {} |",
        through.len(),
        ms(percentile(&through, 0.5)),
        ms(percentile(&through, 0.99))
    );
    let ratio =
        |p| percentile(&through, p).as_secs_f64() / percentile(&direct, p).as_secs_f64().max(1e-9);
    println!(
        "| ratio etcdeck / floor | | {:.2}x | {:.2}x |",
        ratio(0.5),
        ratio(0.99)
    );
}

/// etcd's own count of open watchers.
async fn etcd_watchers(etcd: &EtcdCluster) -> String {
    let url = format!("{}/metrics", etcd.endpoint(0));
    let Ok(response) = reqwest::get(url).await else {
        return "?".into();
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("etcd_debugging_mvcc_watcher_total "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_owned()
}

async fn fanout(
    client: &Client,
    deck: &Etcdeck,
    etcd: &EtcdCluster,
    counts: &[usize],
    puts: usize,
) {
    println!();
    println!("fan-out: N WebSockets subscribed to one prefix, {puts} puts one every 10 ms:");
    println!();
    println!(
        "| subscribers | delivered | lost | gaps | p50 | p99 | etcdeck RSS | RSS per subscriber | upstream watches (etcdeck) | watchers (etcd) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (round, &count) in counts.iter().enumerate() {
        let prefix = format!("/bench/fanout-{round}/");
        // Let upstreams of earlier rounds linger out.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let rss_before = deck.rss_kib();
        let mut subscribers = Vec::with_capacity(count);
        for _ in 0..count {
            subscribers.push(Subscriber::open(deck.port, &deck.cookie, &prefix).await);
        }
        let rss_after = deck.rss_kib();
        let stats = deck.stats().await;
        let watchers = etcd_watchers(etcd).await;
        let (times, _) = paced_puts(client, &prefix, puts, Duration::from_millis(10)).await;
        wait_for(&subscribers, puts, Duration::from_secs(30)).await;
        let mut all = Vec::new();
        let mut delivered = 0;
        let mut gaps = 0;
        for s in &subscribers {
            let arrivals = s.arrivals.lock().await;
            delivered += arrivals.len();
            all.extend(latencies(&times, &arrivals).await);
            gaps += *s.gaps.lock().await;
        }
        all.sort();
        let expected = count * puts;
        println!(
            "| {count} | {delivered} | {} | {gaps} | {} | {} | {:.1} MiB | {:.1} KiB | {} | {watchers} |",
            expected.saturating_sub(delivered),
            ms(percentile(&all, 0.5)),
            ms(percentile(&all, 0.99)),
            rss_after as f64 / 1024.0,
            rss_after.saturating_sub(rss_before) as f64 / count as f64,
            stats.upstream_watches,
        );
    }
}

async fn write_rate(client: &Client, deck: &Etcdeck) {
    println!();
    println!(
        "write rate: 10 subscribers on one prefix; 32 writers put at the asked rate for 5 s per step:"
    );
    println!();
    println!("| asked puts/s | achieved puts/s | delivered per subscriber | lost | gaps |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for (step, asked) in [1_000usize, 2_000, 4_000, 8_000, 100_000]
        .into_iter()
        .enumerate()
    {
        let prefix = format!("/bench/rate-{step}/");
        let subscribers: Vec<Subscriber> = {
            let mut v = Vec::new();
            for _ in 0..10 {
                v.push(Subscriber::open(deck.port, &deck.cookie, &prefix).await);
            }
            v
        };
        let writers = 32;
        let started = Instant::now();
        let deadline = started + Duration::from_secs(5);
        let mut tasks = Vec::new();
        for w in 0..writers {
            let mut kv = client.kv_client();
            let prefix = prefix.clone();
            let pace = Duration::from_secs_f64(writers as f64 / asked as f64);
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(pace);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut done = 0;
                let mut i = 0;
                while Instant::now() < deadline {
                    tick.tick().await;
                    i += 1;
                    if kv
                        .put(format!("{prefix}w{w:02}-{}", i % 50), "x".repeat(64), None)
                        .await
                        .is_ok()
                    {
                        done += 1;
                    }
                }
                done
            }));
        }
        let mut written = 0;
        for t in tasks {
            written += t.await.unwrap();
        }
        let elapsed = started.elapsed();
        wait_for(&subscribers, written, Duration::from_secs(30)).await;
        let mut min = usize::MAX;
        let mut gaps = 0;
        for s in &subscribers {
            min = min.min(s.received().await);
            gaps += *s.gaps.lock().await;
        }
        println!(
            "| {} | {:.0} | {min} of {written} | {} | {gaps} |",
            if asked >= 100_000 {
                "as fast as possible".to_owned()
            } else {
                asked.to_string()
            },
            written as f64 / elapsed.as_secs_f64(),
            written.saturating_sub(min),
        );
    }
}
