//! Measures export and import throughput: `--keys` keys (default 100,000,
//! values of 20 to 200 bytes) exported through `GET /api/v1/export` and
//! imported into a second etcd through `POST /api/v1/import` (dry run, then
//! apply), against etcdctl on the same data: `etcdctl get --prefix -w json`
//! for the export and `etcdctl txn` (128 puts a transaction, the import's
//! own batch size) for the import. One run each. Run by `cargo xtask bench`.
//!
//! ```text
//! cargo run --release -p etcdeck-backend --example move_bench -- [--keys 100000]
//! ```

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, Txn, TxnOp};
use etcdeck::config::{Config, Credentials, EtcdConfig, Password, ServerConfig};
use etcdeck_shared::edit::{CSRF_HEADER, LoginRequest, SessionInfo, path as edit_path};
use etcdeck_shared::transfer::{ImportOptions, ImportPlan, ImportResult, path};
use tokio::net::TcpListener;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let keys: usize = args
        .iter()
        .position(|a| a == "--keys")
        .and_then(|i| args.get(i + 1))
        .map_or(100_000, |v| v.parse().expect("a number"));
    println!("machine: {}", machine());

    let source = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("etcd");
    let target = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("etcd");
    let baseline = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("etcd");
    let client = Client::connect(
        source.endpoints(),
        Some(ConnectOptions::new().with_user("root", ROOT_PASSWORD)),
    )
    .await
    .expect("connect");
    seed(&client, keys).await;

    let (from, _stop_from) = start(source.endpoints()).await;
    let (to, _stop_to) = start(target.endpoints()).await;

    // Export through etcdeck.
    let started = Instant::now();
    let file = from
        .0
        .get(format!("http://{}{}?prefix=/bench/", from.1, path::EXPORT))
        .send()
        .await
        .expect("export")
        .bytes()
        .await
        .expect("export body")
        .to_vec();
    let export = started.elapsed();

    // Export through etcdctl.
    let started = Instant::now();
    let json = source
        .etcdctl_command(&["get", "--prefix", "/bench/", "-w", "json"])
        .stdout(Stdio::piped())
        .output()
        .expect("etcdctl get");
    let etcdctl_export = started.elapsed();
    assert!(json.status.success());

    // Import through etcdeck: the dry run and the apply.
    let started = Instant::now();
    let plan: ImportPlan = import(&to, &ImportOptions::default(), &file).await;
    let result: ImportResult = import(
        &to,
        &ImportOptions {
            apply: true,
            seen: Some(plan.revision),
            ..ImportOptions::default()
        },
        &file,
    )
    .await;
    let import_time = started.elapsed();
    assert!(result.complete, "{result:?}");
    assert_eq!(result.counts.create as usize, keys);

    // Import through etcdctl txn, 128 puts a transaction, fed on stdin.
    let started = Instant::now();
    let mut ok = 0;
    for chunk in (0..keys).collect::<Vec<_>>().chunks(128) {
        let mut script = String::from("\n\n");
        for i in chunk {
            script.push_str(&format!("put {} \"{}\"\n", key(*i), value(*i)));
        }
        script.push('\n');
        let mut child = baseline
            .etcdctl_command(&["txn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("etcdctl txn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write txn");
        if child.wait().expect("etcdctl txn").success() {
            ok += chunk.len();
        }
    }
    let etcdctl_import = started.elapsed();
    assert_eq!(ok, keys);

    let mib = file.len() as f64 / (1024.0 * 1024.0);
    println!();
    println!(
        "| operation | keys | etcdeck | etcdeck keys/s | etcdeck MiB/s | baseline | baseline time | baseline keys/s | ratio |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |");
    row(
        "export",
        keys,
        mib,
        export,
        "etcdctl get --prefix -w json",
        etcdctl_export,
    );
    row(
        "import (dry run + apply)",
        keys,
        mib,
        import_time,
        "etcdctl txn, 128 puts each",
        etcdctl_import,
    );
    println!("export file: {:.1} MiB", mib);
}

fn row(what: &str, keys: usize, mib: f64, time: Duration, baseline: &str, base: Duration) {
    println!(
        "| {what} | {keys} | {:.1} s | {:.0} | {:.1} | {baseline} | {:.1} s | {:.0} | {:.2}x |",
        time.as_secs_f64(),
        keys as f64 / time.as_secs_f64(),
        mib / time.as_secs_f64(),
        base.as_secs_f64(),
        keys as f64 / base.as_secs_f64(),
        base.as_secs_f64() / time.as_secs_f64()
    );
}

fn key(i: usize) -> String {
    format!("/bench/k{i:07}")
}

fn value(i: usize) -> String {
    format!("value {i} ").repeat(2 + (i * 37) % 18)
}

async fn seed(client: &Client, keys: usize) {
    let mut client = client.clone();
    for chunk in (0..keys).collect::<Vec<_>>().chunks(128) {
        let ops: Vec<TxnOp> = chunk
            .iter()
            .map(|i| TxnOp::put(key(*i), value(*i), None))
            .collect();
        client.txn(Txn::new().and_then(ops)).await.expect("seed");
    }
}

/// A logged-in client and etcdeck's address: (client with cookie, address, CSRF).
type Deck = (reqwest::Client, std::net::SocketAddr, String);

async fn start(endpoints: Vec<String>) -> (Deck, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let config = Config {
        etcd: EtcdConfig {
            endpoints,
            credentials: Some(Credentials {
                user: "root".into(),
                password: Password::new(ROOT_PASSWORD),
            }),
            tls: None,
        },
        server: ServerConfig {
            dist: Some("/nonexistent".into()),
            ..ServerConfig::default()
        },
        coord: Default::default(),
        audit: Default::default(),
        name: etcdeck::config::DEFAULT_CLUSTER.to_owned(),
        others: Vec::new(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(etcdeck::run(listener, config, async {
        let _ = stopped.await;
    }));
    while reqwest::get(format!("http://{addr}{}", etcdeck_shared::path::HEALTHZ))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let response = reqwest::Client::new()
        .post(format!("http://{addr}{}", edit_path::LOGIN))
        .json(&LoginRequest::Password {
            user: "root".into(),
            password: ROOT_PASSWORD.into(),
        })
        .send()
        .await
        .expect("login");
    let cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_owned();
    let session: SessionInfo = response.json().await.expect("session");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().expect("cookie"));
    headers.insert(
        reqwest::header::ORIGIN,
        format!("http://{addr}").parse().expect("origin"),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    ((http, addr, session.csrf), stop)
}

async fn import<T: serde::de::DeserializeOwned>(
    deck: &Deck,
    options: &ImportOptions,
    file: &[u8],
) -> T {
    let response = deck
        .0
        .post(format!(
            "http://{}{}?{}",
            deck.1,
            path::IMPORT,
            options.query()
        ))
        .header(CSRF_HEADER, &deck.2)
        .body(file.to_vec())
        .send()
        .await
        .expect("import");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("import answer")
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default();
    format!("{cpus} cores, {model}")
}
