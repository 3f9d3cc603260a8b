//! Measures a warm tree level answered from the keyspace model against
//! today's cold skip-scan through etcdeck's HTTP API, in the same run on the
//! same etcd. Run by `cargo xtask bench`.
//!
//! ```text
//! cargo run --release -p etcdeck-backend --example sizes_bench -- [--sizes 1000000] [--repeat 5]
//! ```
//!
//! For each size it starts a real single-member etcd with auth on, writes
//! `/app/svc-SS/env-E/cfg-NNNNNN` keys (50 services x 4 environments, as the
//! `bench` example does), and times, as the median of `--repeat` runs:
//! - the first page (1000 children) of `/app/` through etcdeck's HTTP API
//!   with the model off: the skip-scan and its counted ranges over etcd;
//! - the same page from a model store: the skip-scan over the store, counts
//!   and bytes from its sizes index (in-process, no HTTP);
//! - the largest prefixes of `/app/` from the same store.
//!
//! The model's builder is not part of this run: the store is filled here
//! from one full read of etcd as root (timed and printed), and the two
//! answers are checked to list the same children with the same counts.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/server.rs"]
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, GetOptions, Txn, TxnOp};
use etcdeck::config::CoordConfig;
use etcdeck::model::access::Readable;
use etcdeck::model::{Entry, Store, level};
use etcdeck_shared::{Bytes, Level, path};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const SERVICES: usize = 50;
const ENVS: usize = 4;
const PAGE: usize = 1000;
const FILL_PAGE: i64 = 20_000;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let sizes: Vec<usize> = flag("--sizes")
        .unwrap_or_else(|| "1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("--sizes takes numbers"))
        .collect();
    let repeat: usize = flag("--repeat").map_or(5, |r| r.parse().expect("--repeat takes a number"));

    print_machine();
    println!(
        "| keys | level | warm (model) | cold skip-scan (HTTP, model off) | ratio | largest prefixes (model) | store filled from a full read |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for size in sizes {
        bench_size(size, repeat).await;
    }
}

fn print_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let etcd = std::process::Command::new("etcd")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default();
    println!("machine: {cpu}, {cores} cores; {etcd}");
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

    let started = Instant::now();
    let store = fill(&client).await;
    let filled = started.elapsed();
    eprintln!(
        "filled the store with {} keys in {}",
        store.len(),
        ms(filled)
    );

    let deck =
        server::Running::start(etcd.endpoints(), ROOT_PASSWORD, CoordConfig::default()).await;
    let (addr, http) = (deck.addr, deck.http.clone());
    let prefix = "/app/";

    let mut cold = Vec::new();
    let mut cold_level = None;
    // One warm-up run of each, not counted.
    for run in 0..=repeat {
        let started = Instant::now();
        let answer = etcdeck_level(&http, addr, prefix).await;
        if run > 0 {
            cold.push(started.elapsed());
        }
        cold_level = Some(answer);
    }
    let cold_level = cold_level.unwrap();

    let all = Readable::all();
    let mut warm = Vec::new();
    let mut warm_level = None;
    for run in 0..=repeat {
        let started = Instant::now();
        let answer = level::level(&store, &all, prefix.as_bytes(), b"/", None, PAGE)
            .expect("root reads every level")
            .expect("the store answers");
        if run > 0 {
            warm.push(started.elapsed());
        }
        warm_level = Some(answer);
    }
    let mut warm_level = warm_level.unwrap();
    assert!(warm_level.children.iter().all(|c| c.bytes.is_some()));
    for child in &mut warm_level.children {
        child.bytes = None;
    }
    assert_eq!(
        warm_level.children, cold_level.children,
        "the model and the skip-scan over etcd list the same children"
    );

    let mut largest = Vec::new();
    for run in 0..=repeat {
        let started = Instant::now();
        let answer = level::largest(&store, &all, prefix.as_bytes(), 20).unwrap();
        if run > 0 {
            largest.push(started.elapsed());
        }
        assert_eq!(answer.here.keys as usize, store.len());
    }

    let (warm, cold, largest) = (median(warm), median(cold), median(largest));
    println!(
        "| {size} | first (`/app/`), {} children | {} | {} | {:.0}x | {} | {} |",
        warm_level.children.len(),
        ms(warm),
        ms(cold),
        cold.as_secs_f64() / warm.as_secs_f64(),
        ms(largest),
        ms(filled),
    );
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

/// Every key with its value, paged, all at the first page's revision.
async fn fill(client: &Client) -> Store {
    let mut client = client.clone();
    let mut store = Store::new();
    let mut start = vec![0u8];
    let mut revision = None;
    loop {
        let mut options = GetOptions::new()
            .with_range(vec![0u8])
            .with_limit(FILL_PAGE);
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        let response = client.get(start.clone(), Some(options)).await.unwrap();
        let at = response.header().unwrap().revision();
        revision.get_or_insert(at);
        for kv in response.kvs() {
            store.put(
                kv.key(),
                Entry {
                    create_revision: kv.create_revision(),
                    mod_revision: kv.mod_revision(),
                    version: kv.version(),
                    lease: kv.lease(),
                    value_size: kv.value().len() as u32,
                    value: Some(Arc::from(kv.value())),
                },
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
    store.set_revision(revision.unwrap_or_default());
    store
}

async fn etcdeck_level(http: &reqwest::Client, addr: std::net::SocketAddr, prefix: &str) -> Level {
    let url = format!(
        "http://{addr}{}?prefix={}&limit={PAGE}",
        path::LEVEL,
        Bytes::from(prefix).to_url()
    );
    http.get(url)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
