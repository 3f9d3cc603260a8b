//! Measures what showing a level of the key tree costs through etcdeck,
//! against the approach of the popular dashboards (read every key under the
//! prefix, keys only), in the same run on the same etcd. Run by
//! `cargo xtask bench`, which records the machine and the wasm size too.
//!
//! ```text
//! cargo run --release -p etcdeck-backend --example bench -- [--sizes 100000,1000000] [--repeat 5]
//! ```
//!
//! For each size it starts a real single-member etcd with auth on, writes
//! `/app/svc-SS/env-E/cfg-NNNNNN` keys (50 services x 4 environments), starts
//! etcdeck in this process as root, and times, as the median of `--repeat`
//! runs:
//! - the first page (1000 children) of the level `/app/` and of the deep level
//!   `/app/svc-07/env-2/` through etcdeck's HTTP API (bytes: the JSON body);
//! - reading every key under the same prefixes keys-only, in pages of 50,000
//!   (bytes: the keys received, a lower bound of what crosses the wire).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/server.rs"]
mod server;

use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, GetOptions, Txn, TxnOp};
use etcdeck::config::CoordConfig;
use etcdeck_shared::{Bytes, Level, path};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const SERVICES: usize = 50;
const ENVS: usize = 4;
const PAGE: usize = 1000;
const BASELINE_PAGE: i64 = 50_000;

#[derive(Debug, Clone, Copy)]
struct Sample {
    time: Duration,
    bytes: usize,
    children: usize,
}

#[tokio::main]
async fn main() {
    if std::env::var("RUST_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let sizes: Vec<usize> = flag("--sizes")
        .unwrap_or_else(|| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("--sizes takes numbers"))
        .collect();
    let repeat: usize = flag("--repeat").map_or(5, |r| r.parse().expect("--repeat takes a number"));

    println!(
        "| keys | level | etcdeck time | etcdeck bytes | read-all time | read-all bytes | time ratio | bytes ratio |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for size in sizes {
        bench_size(size, repeat).await;
    }
}

async fn bench_size(size: usize, repeat: usize) {
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
    seed(&client, size).await;
    eprintln!(
        "seeded {size} keys in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let deck =
        server::Running::start(etcd.endpoints(), ROOT_PASSWORD, CoordConfig::default()).await;
    let (addr, http) = (deck.addr, deck.http.clone());

    for (label, prefix) in [
        ("first (`/app/`)", "/app/"),
        ("deep (`/app/svc-07/env-2/`)", "/app/svc-07/env-2/"),
    ] {
        let ours = median(repeat, || etcdeck_level(&http, addr, prefix)).await;
        let theirs = median(repeat, || read_all(&client, prefix)).await;
        assert_eq!(
            ours.children.min(PAGE),
            theirs.children.min(PAGE),
            "both see the same level"
        );
        println!(
            "| {size} | {label} | {} | {} | {} | {} | {:.1}x | {:.1}x |",
            ms(ours.time),
            kb(ours.bytes),
            ms(theirs.time),
            kb(theirs.bytes),
            theirs.time.as_secs_f64() / ours.time.as_secs_f64(),
            theirs.bytes as f64 / ours.bytes as f64,
        );
    }
    deck.stop().await;
}

async fn seed(client: &Client, size: usize) {
    let per_env = size / (SERVICES * ENVS);
    let keys: Vec<String> = (0..SERVICES)
        .flat_map(|s| {
            (0..ENVS).flat_map(move |e| {
                (0..per_env).map(move |i| format!("/app/svc-{s:02}/env-{e}/cfg-{i:06}"))
            })
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (n, chunk) in keys.chunks(128 * 64).enumerate() {
        let chunk = chunk.to_vec();
        let mut client = client.clone();
        tasks.spawn(async move {
            for txn in chunk.chunks(128) {
                let ops = txn
                    .iter()
                    .map(|k| TxnOp::put(k.as_str(), format!("{{\"n\":{n}}}"), None))
                    .collect::<Vec<_>>();
                client
                    .txn(Txn::new().and_then(ops))
                    .await
                    .expect("seed txn");
            }
        });
        while tasks.len() >= 4 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

async fn etcdeck_level(http: &reqwest::Client, addr: std::net::SocketAddr, prefix: &str) -> Sample {
    let url = format!(
        "http://{addr}{}?prefix={}&limit={PAGE}",
        path::LEVEL,
        Bytes::from(prefix).to_url()
    );
    let started = Instant::now();
    let body = http
        .get(url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let time = started.elapsed();
    let level: Level = serde_json::from_slice(&body).unwrap();
    Sample {
        time,
        bytes: body.len(),
        children: level.children.len(),
    }
}

/// What load-everything dashboards do: every key under the prefix, keys
/// only, paged (one range of a million keys exceeds the client's 4 MiB
/// decode limit), then the distinct next segments.
async fn read_all(client: &Client, prefix: &str) -> Sample {
    let mut client = client.clone();
    let end = etcdeck::tree::prefix_end(prefix.as_bytes()).unwrap();
    let started = Instant::now();
    let mut start = prefix.as_bytes().to_vec();
    let mut bytes = 0;
    let mut children = std::collections::BTreeSet::new();
    loop {
        let options = GetOptions::new()
            .with_range(end.clone())
            .with_keys_only()
            .with_limit(BASELINE_PAGE);
        let response = client.get(start.clone(), Some(options)).await.unwrap();
        for kv in response.kvs() {
            bytes += kv.key().len();
            let rest = &kv.key()[prefix.len()..];
            children.insert(
                rest.split(|b| *b == b'/')
                    .next()
                    .unwrap_or_default()
                    .to_vec(),
            );
        }
        match response.kvs().last() {
            Some(last) if response.more() => {
                start = last.key().to_vec();
                start.push(0);
            }
            _ => break,
        }
    }
    Sample {
        time: started.elapsed(),
        bytes,
        children: children.len(),
    }
}

async fn median<F, Fut>(repeat: usize, mut run: F) -> Sample
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Sample>,
{
    // One warm-up run, not counted.
    run().await;
    let mut samples = Vec::with_capacity(repeat);
    for _ in 0..repeat.max(1) {
        samples.push(run().await);
    }
    samples.sort_by_key(|s| s.time);
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn kb(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}
