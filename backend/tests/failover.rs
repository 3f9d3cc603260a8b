//! A member down must not take etcdeck down. On a real 3-member cluster with
//! auth on, etcdeck given every member's URL, one member at a time is
//! SIGKILLed (its port refuses) or blackholed behind a proxy (its port
//! hangs), and meanwhile a new login, a key read and a level read through an
//! existing session, the five coordination views, a guarded write and `/healthz` are
//! polled: all of them must keep answering 200, and the header's state must
//! say degraded (naming the member), not disconnected. A guarded write
//! whose answer is lost after etcd applied it ends as one write, reported
//! as done.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use etcdeck_shared::edit::{LeaseChoice, PutRequest, Written, path as edit_path};
use etcdeck_shared::{Bytes, Connection, Revision, path};
use support::proxy::{Mode, Proxy};
use support::{Server, config, eventually};
use tokio::task::block_in_place;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// How long the requests are polled after a member fails.
const WINDOW: Duration = Duration::from_secs(8);
/// How long after a failure a request may still fail. Measured: refused
/// ports fail over at once; a hung port costs a request the prober's
/// interval plus its timeout (about 3 s) of waiting, but it still answers.
const GRACE: Duration = Duration::from_millis(0);

fn root() -> Option<(&'static str, &'static str)> {
    Some(("root", ROOT_PASSWORD))
}

fn cluster() -> EtcdCluster {
    let etcd = block_in_place(|| EtcdCluster::start(ClusterOptions::three().with_auth()))
        .expect("start a 3-member cluster");
    etcd.etcdctl(&["put", "/app/config", "v0"]).expect("put");
    etcd.etcdctl(&["put", "/app/db/url", "postgres://db"])
        .expect("put");
    etcd
}

/// What one round of polling met, by request.
#[derive(Debug, Default)]
struct Round {
    failures: Vec<String>,
}

/// One of each request a person's console makes, through `server` (logged
/// in) and a fresh login. `n` makes the written value unique.
async fn poll_once(server: &Server, n: usize) -> Round {
    let mut round = Round::default();
    let mut fail = |what: &str, detail: String| round.failures.push(format!("{what}: {detail}"));

    match server.log_in("root", ROOT_PASSWORD).await {
        Some(_) => {}
        None => fail("login", "refused or failed".into()),
    }
    if let Err((code, err)) = server.key(b"/app/config").await {
        fail("key read", format!("{code} {}", err.message));
    }
    if let Err((code, err)) = server.level(b"/app/", None, 100).await {
        fail("level read", format!("{code} {}", err.message));
    }
    for view in [
        path::LEASES,
        path::LOCKS,
        path::ELECTIONS,
        path::QUEUES,
        path::SERVICES,
    ] {
        let answer = server.get(view).await;
        if !answer.status().is_success() {
            fail(view, answer.status().to_string());
        }
    }
    let (code, connection) = server.healthz().await;
    if code != 200 {
        fail("healthz", format!("{code} {connection:?}"));
    }
    match guarded_put(server, &format!("v{n}")).await {
        Ok(_) => {}
        Err(detail) => fail("guarded write", detail),
    }
    round
}

/// Reads `/app/config` and writes `value` over it, guarded on what was read.
async fn guarded_put(server: &Server, value: &str) -> Result<Written, String> {
    let current = server
        .key(b"/app/config")
        .await
        .map_err(|(code, err)| format!("read {code} {}", err.message))?;
    put(
        server,
        b"/app/config",
        value.as_bytes(),
        current.mod_revision,
    )
    .await
}

async fn put(
    server: &Server,
    key: &[u8],
    value: &[u8],
    expect: Revision,
) -> Result<Written, String> {
    server
        .post_json::<Written>(
            edit_path::PUT,
            &PutRequest {
                key: Bytes::from(key),
                value: Bytes::from(value),
                expect_mod_revision: expect,
                lease: LeaseChoice::Keep,
            },
        )
        .await
        .map_err(|(code, body)| format!("{code} {body}"))
}

/// Polls every request for [`WINDOW`] after a failure that happened at
/// `failed`; returns the latest failure's delay after `failed`.
async fn poll_through(server: &Server, failed: Instant, what: &str) -> Option<Duration> {
    let mut last_failure = None;
    let mut n = 0;
    let mut slowest = Duration::ZERO;
    while failed.elapsed() < WINDOW {
        n += 1;
        let started = Instant::now();
        let round = poll_once(server, n).await;
        slowest = slowest.max(started.elapsed());
        if !round.failures.is_empty() {
            let at = failed.elapsed();
            eprintln!("{what}: {at:?} after the failure: {:?}", round.failures);
            assert!(
                at <= GRACE,
                "{what}: requests failed {at:?} after the failure (grace {GRACE:?}): {:?}",
                round.failures
            );
            last_failure = Some(at);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "{what}: {n} rounds in {WINDOW:?}, slowest round {slowest:?}, last failure {last_failure:?}"
    );
    last_failure
}

/// Waits until `/api/v1/status` says degraded, naming `endpoint`.
async fn wait_degraded(server: &Server, endpoint: &str) {
    eventually(
        Duration::from_secs(10),
        "the state to say degraded",
        || async {
            match server.status().await.connection {
                Connection::Connected { unreachable, .. } => {
                    unreachable.iter().any(|m| m.endpoint == endpoint)
                }
                Connection::Disconnected { .. } => false,
            }
        },
    )
    .await;
}

/// Waits until every member answers again in etcdeck's eyes.
async fn wait_all_up(server: &Server) {
    eventually(
        Duration::from_secs(20),
        "every member to answer again",
        || async {
            let connection = server.status().await.connection;
            matches!(connection, Connection::Connected { .. }) && !connection.is_degraded()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_keep_answering_while_each_member_in_turn_is_killed() {
    let mut etcd = cluster();
    let server = Server::start(config(etcd.endpoints(), root()))
        .await
        .expect("start");
    assert_eq!(poll_once(&server, 0).await.failures, Vec::<String>::new());

    for member in 0..3 {
        let endpoint = etcd.endpoint(member);
        block_in_place(|| etcd.kill(member)).expect("kill");
        let killed = Instant::now();
        poll_through(&server, killed, &format!("member {member} killed")).await;
        wait_degraded(&server, &endpoint).await;
        let (code, connection) = server.healthz().await;
        assert_eq!(code, 200, "{connection:?}");
        let Connection::Connected { unreachable, .. } = connection else {
            panic!("degraded is not disconnected")
        };
        assert_eq!(unreachable.len(), 1, "{unreachable:?}");
        assert!(
            unreachable[0].name.is_some(),
            "the member is named: {unreachable:?}"
        );

        block_in_place(|| etcd.restart(member)).expect("restart");
        wait_all_up(&server).await;
        if member == 0 {
            // Back in rotation: a new login goes to the first endpoint
            // again, which etcd's own counters show.
            let before = authentications(&endpoint).await;
            assert!(server.log_in("root", ROOT_PASSWORD).await.is_some());
            let after = authentications(&endpoint).await;
            assert!(
                after > before,
                "the returned member is used again ({before} -> {after})"
            );
        }
    }

    // The member that came back last is used again: with the two others
    // gone, every request goes to it.
    block_in_place(|| {
        etcd.kill(0)?;
        etcd.kill(1)
    })
    .expect("kill two");
    // Two of three down is no quorum: etcdeck says so instead of hanging.
    eventually(Duration::from_secs(20), "no quorum to show as disconnected", || async {
        matches!(server.status().await.connection, Connection::Disconnected { reason, .. } if reason.contains("leader") || reason.contains("unreachable") || reason.contains("answer"))
    })
    .await;
    block_in_place(|| {
        etcd.restart(0)?;
        etcd.restart(1)
    })
    .expect("restart two");
    wait_all_up(&server).await;
    assert_eq!(poll_once(&server, 99).await.failures, Vec::<String>::new());
    server.stop().await;
}

/// How many `Authenticate` calls the member at `endpoint` has answered,
/// from its own `/metrics`.
async fn authentications(endpoint: &str) -> u64 {
    let text = reqwest::get(format!("{endpoint}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|line| {
            line.starts_with("grpc_server_handled_total{")
                && line.contains("grpc_method=\"Authenticate\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn addr(endpoint: &str) -> SocketAddr {
    endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("endpoint address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_keep_answering_while_each_member_in_turn_hangs() {
    let etcd = cluster();
    let mut proxies = Vec::new();
    for member in 0..3 {
        proxies.push(Proxy::start(addr(&etcd.endpoint(member))).await);
    }
    let endpoints = proxies.iter().map(Proxy::url).collect();
    let server = Server::start(config(endpoints, root()))
        .await
        .expect("start");
    assert_eq!(poll_once(&server, 0).await.failures, Vec::<String>::new());

    for (member, proxy) in proxies.iter().enumerate() {
        proxy.set(Mode::Blackhole);
        let hung = Instant::now();
        poll_through(&server, hung, &format!("member {member} hangs")).await;
        wait_degraded(&server, &proxy.url()).await;
        proxy.set(Mode::Forward);
        wait_all_up(&server).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guarded_write_whose_answer_is_lost_is_one_write_reported_as_done() {
    let etcd = cluster();
    // The first endpoint etcdeck tries goes through the proxy; the others
    // are direct.
    let proxy = Proxy::start(addr(&etcd.endpoint(0))).await;
    let endpoints = vec![proxy.url(), etcd.endpoint(1), etcd.endpoint(2)];
    let server = Server::start(config(endpoints, root()))
        .await
        .expect("start");
    let before = server.key(b"/app/config").await.expect("read");

    // etcd gets the write and applies it; the answer never comes back.
    proxy.set(Mode::DropReplies);
    let written = put(&server, b"/app/config", b"mine", before.mod_revision)
        .await
        .expect("reported as done, not as a conflict with itself");
    let Written { revision, .. } = written;

    let history = etcd
        .etcdctl(&["get", "/app/config", "--write-out=json"])
        .expect("get");
    let now: serde_json::Value = serde_json::from_str(&history).expect("json");
    let kv = &now["kvs"][0];
    assert_eq!(kv["value"], "bWluZQ==", "etcd holds the value: {now}");
    assert_eq!(
        kv["mod_revision"].as_i64(),
        Some(revision.0),
        "the reported revision is the write's own"
    );
    assert_eq!(
        kv["version"].as_i64(),
        Some(2),
        "written once: one version after the first"
    );
    proxy.set(Mode::Forward);
    server.stop().await;
}
