//! Measures what the queues and leases views cost at scale: a queue of
//! `--items` items (default 100,000) and `--leases` leases (default 10,000),
//! each lease with one service registration attached. Run by
//! `cargo xtask bench` after the watch benchmark.
//!
//! ```text
//! cargo run --release -p etcdeck-backend --example coord_bench -- [--items 100000] [--leases 10000] [--repeat 5]
//! ```
//!
//! It starts a real single-member etcd with auth on, writes the items and
//! leases, starts etcdeck in this process as root with the queue configured,
//! and times, as the median of `--repeat` runs after one warm-up, the HTTP
//! answers of `/api/v1/queues` and `/api/v1/leases` (bytes: the JSON body).
//! The baseline for the queue is what a dashboard that loads the items does:
//! reading every item under the prefix, with values, in pages of 10,000.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/server.rs"]
mod server;

use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, GetOptions, PutOptions, Txn, TxnOp};
use etcdeck::config::CoordConfig;
use etcdeck_shared::coord::{Leases, Queues};
use etcdeck_shared::path;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const QUEUE: &str = "queue/bench";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let items = flag("--items", 100_000);
    let leases = flag("--leases", 10_000);
    let repeat = flag("--repeat", 5);

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
    seed_queue(&client, items).await;
    println!(
        "seeded {items} queue items in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    seed_leases(&client, leases).await;
    println!(
        "granted {leases} leases with a key each in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let deck = server::Running::start(
        etcd.endpoints(),
        ROOT_PASSWORD,
        CoordConfig {
            queue_prefixes: vec![QUEUE.as_bytes().to_vec()],
            ..CoordConfig::default()
        },
    )
    .await;
    let (addr, http) = (deck.addr, deck.http.clone());

    println!();
    println!(
        "| view | data | etcdeck time | etcdeck bytes | baseline | baseline time | baseline bytes | time ratio |"
    );
    println!("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |");
    let (time, bytes, body) = median(repeat, || get(&http, addr, path::QUEUES)).await;
    let queues: Queues = serde_json::from_slice(&body).expect("queues");
    let depth = queues.queues.first().map_or(0, |q| q.depth);
    assert_eq!(depth as usize, items, "the queue's depth");
    let (base_time, base_bytes) = median_read_all(repeat, &client).await;
    println!(
        "| queues | {items} items (depth {depth}) | {} | {} | read every item | {} | {} | {:.1}x |",
        ms(time),
        kb(bytes),
        ms(base_time),
        kb(base_bytes),
        base_time.as_secs_f64() / time.as_secs_f64()
    );
    let (time, bytes, body) = median(repeat, || get(&http, addr, path::LEASES)).await;
    let shown: Leases = serde_json::from_slice(&body).expect("leases");
    println!(
        "| leases | {leases} leases, 1 key each ({} shown) | {} | {} | | | | |",
        shown.leases.len(),
        ms(time),
        kb(bytes)
    );

    deck.stop().await;
}

async fn seed_queue(client: &Client, items: usize) {
    let mut kv = client.kv_client();
    let base: u64 = 1_763_700_000_000_000_000;
    for chunk in (0..items).collect::<Vec<_>>().chunks(128) {
        let ops: Vec<TxnOp> = chunk
            .iter()
            .map(|n| {
                TxnOp::put(
                    format!("{QUEUE}/{}", base + *n as u64),
                    format!("{{\"to\":\"user{n}@example.com\",\"template\":\"receipt\"}}"),
                    None,
                )
            })
            .collect();
        kv.txn(Txn::new().and_then(ops)).await.expect("seed txn");
    }
}

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

async fn get(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    path: &str,
) -> (Duration, usize, Vec<u8>) {
    let started = Instant::now();
    let response = http
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("request");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let body = response.bytes().await.expect("body").to_vec();
    (started.elapsed(), body.len(), body)
}

async fn median<F, Fut>(repeat: usize, mut run: F) -> (Duration, usize, Vec<u8>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (Duration, usize, Vec<u8>)>,
{
    run().await;
    let mut samples = Vec::new();
    for _ in 0..repeat {
        samples.push(run().await);
    }
    samples.sort_by_key(|s| s.0);
    samples.swap_remove(samples.len() / 2)
}

/// Every item under the queue prefix, with values, in pages of 10,000.
async fn read_all(client: &Client) -> (Duration, usize) {
    let mut kv = client.kv_client();
    let started = Instant::now();
    let mut start = format!("{QUEUE}/").into_bytes();
    let end = format!("{QUEUE}0").into_bytes();
    let mut bytes = 0;
    loop {
        let options = GetOptions::new().with_range(end.clone()).with_limit(10_000);
        let response = kv.get(start.clone(), Some(options)).await.unwrap();
        for item in response.kvs() {
            bytes += item.key().len() + item.value().len();
        }
        match response.kvs().last() {
            Some(last) if response.more() => {
                start = last.key().to_vec();
                start.push(0);
            }
            _ => break,
        }
    }
    (started.elapsed(), bytes)
}

async fn median_read_all(repeat: usize, client: &Client) -> (Duration, usize) {
    read_all(client).await;
    let mut samples = Vec::new();
    for _ in 0..repeat {
        samples.push(read_all(client).await);
    }
    samples.sort_by_key(|s| s.0);
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn kb(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / 1024.0 / 1024.0)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}
