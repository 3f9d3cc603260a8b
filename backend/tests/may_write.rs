//! Asking whether a session may write, against a real etcd with auth:
//! `POST /api/v1/may-write` and `GET /api/v1/may-write` answer as the
//! session's own etcd user (read-only and read-write users of `/app/`,
//! root), a `--read-only` etcdeck answers without asking etcd, no probe
//! moves etcd's revision, and what one probe costs etcd is counted on etcd's
//! own `/metrics`.

mod support;

use std::time::Duration;

use etcd_client::Client;
use etcdeck_shared::edit::{
    MAX_MAY_WRITE_TARGETS, MayWrite, MayWriteRequest, WriteAnswer, WriteTarget, path,
};
use etcdeck_shared::{ApiError, Bytes, ErrorCode};
use support::live::{root_client, root_server, start_etcd};
use support::{Server, config};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// May read `/app/`, write nothing.
const READER: (&str, &str) = ("reader", "reader-password");
/// May read and write `/app/`.
const EDITOR: (&str, &str) = ("editor", "editor-password");
/// May read and write `/app/a/` and `/app/b/` only.
const PARTS: (&str, &str) = ("parts", "parts-password");

fn etcd() -> EtcdCluster {
    let etcd = start_etcd(ClusterOptions::single().with_auth());
    etcd.add_user(READER.0, READER.1, &["/app/"], &[])
        .expect("add reader");
    etcd.add_user(EDITOR.0, EDITOR.1, &[], &["/app/"])
        .expect("add editor");
    etcd.add_user(PARTS.0, PARTS.1, &[], &["/app/a/", "/app/b/"])
        .expect("add parts");
    for (key, value) in [
        ("/app/config", "v"),
        ("/app/a/x", "1"),
        ("/secret/db", "hunter2"),
    ] {
        etcd.etcdctl(&["put", key, value]).expect("put");
    }
    etcd
}

fn key(key: &str) -> WriteTarget {
    WriteTarget {
        key: Bytes::from(key),
        prefix: false,
    }
}

fn prefix(prefix: &str) -> WriteTarget {
    WriteTarget {
        key: Bytes::from(prefix),
        prefix: true,
    }
}

async fn revision(client: &mut Client) -> i64 {
    client
        .get("x", None)
        .await
        .expect("get")
        .header()
        .expect("header")
        .revision()
}

/// Logs `server` in as `user` from now on.
async fn act_as(server: &Server, user: (&str, &str)) {
    let session = server.log_in(user.0, user.1).await.expect("log in");
    server.use_session(Some(session));
}

/// `POST /api/v1/may-write`, checking that etcd's revision did not move.
async fn ask(server: &Server, client: &mut Client, targets: &[WriteTarget]) -> Vec<WriteAnswer> {
    let before = revision(client).await;
    let answer: MayWrite = server
        .post_json(
            path::MAY_WRITE,
            &MayWriteRequest {
                targets: targets.to_vec(),
            },
        )
        .await
        .expect("may-write answer");
    assert_eq!(answer.answers.len(), targets.len());
    assert_eq!(revision(client).await, before, "a probe moved the revision");
    answer.answers
}

fn allowed(answers: &[WriteAnswer]) -> Vec<bool> {
    answers.iter().map(|a| a.allowed).collect()
}

/// The sum of `metric` over the label sets whose labels contain `label`, on
/// etcd's own `/metrics` (served without auth on the client URL).
async fn metric(endpoint: &str, metric: &str, label: &str) -> f64 {
    let body = reqwest::get(format!("{endpoint}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    body.lines()
        .filter(|line| {
            line.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
                && line.contains(label)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// etcd's count of Txn requests handled and of raft proposals committed.
async fn costs(endpoint: &str) -> (f64, f64) {
    (
        metric(endpoint, "grpc_server_handled_total", "grpc_method=\"Txn\"").await,
        metric(endpoint, "etcd_server_proposals_committed_total", "").await,
    )
}

/// Waits until etcdeck's own start-up reads (the background walk looking
/// for queues) are over, so that what follows is counted alone.
async fn quiet(endpoint: &str) -> (f64, f64) {
    let mut last = costs(endpoint).await;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = costs(endpoint).await;
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("etcd never went quiet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_is_answered_as_etcd_would_judge_their_write() {
    let etcd = etcd();
    let mut client = root_client(&etcd.endpoints()).await;
    let server = root_server(&etcd).await;
    let targets = [
        key("/app/config"),
        key("/app/new"),
        prefix("/app/"),
        prefix("/app/a/"),
        key("/secret/db"),
        prefix("/secret/"),
        // Wider than /app/: it also holds /apple and /app0.
        prefix("/app"),
        prefix("/"),
        prefix(""),
    ];

    // Root may write everything, the whole keyspace too.
    let answers = ask(&server, &mut client, &targets).await;
    assert!(answers.iter().all(|a| a.allowed && a.reason.is_none()));

    // A read-only user of /app/ is refused everywhere, with etcd's words.
    act_as(&server, READER).await;
    let answers = ask(&server, &mut client, &targets).await;
    assert!(answers.iter().all(|a| !a.allowed), "{answers:?}");
    let reason = answers[0].reason.as_deref().expect("a reason");
    assert!(
        reason.contains("etcd user reader may not write /app/config")
            && reason.contains("permission denied"),
        "{reason}"
    );
    assert!(
        answers[2]
            .reason
            .as_deref()
            .unwrap()
            .contains("every key under /app/"),
        "{answers:?}"
    );

    // A read-write user of /app/ is allowed under /app/ (existing keys, new
    // keys, the prefix and its sub-prefixes) and refused everywhere else.
    act_as(&server, EDITOR).await;
    let answers = ask(&server, &mut client, &targets).await;
    assert_eq!(
        allowed(&answers),
        [true, true, true, true, false, false, false, false, false],
        "{answers:?}"
    );
    assert!(
        answers[4]
            .reason
            .as_deref()
            .unwrap()
            .contains("editor may not write /secret/db"),
        "{answers:?}"
    );

    // A prefix is allowed only when every key under it may be written:
    // write access to two of /app/'s subtrees is not write access to /app/.
    act_as(&server, PARTS).await;
    let answers = ask(
        &server,
        &mut client,
        &[
            prefix("/app/a/"),
            key("/app/b/new"),
            prefix("/app/"),
            key("/app/config"),
        ],
    )
    .await;
    assert_eq!(allowed(&answers), [true, true, false, false], "{answers:?}");

    // The probe agrees with etcd's judgement of real writes.
    let write = |user: (&str, &str), args: &[&str]| etcd.etcdctl_as(user.0, user.1, args).is_ok();
    assert!(!write(READER, &["put", "/app/config", "x"]));
    assert!(!write(EDITOR, &["put", "/secret/db", "x"]));
    assert!(!write(EDITOR, &["del", "--prefix", "/app"]));
    assert!(!write(PARTS, &["del", "--prefix", "/app/"]));
    assert!(write(EDITOR, &["put", "/app/new", "x"]));

    // One key or prefix by GET gives the same answers.
    act_as(&server, EDITOR).await;
    let one: MayWrite = server
        .get_json(&format!("{}?key=/app/config", path::MAY_WRITE))
        .await
        .expect("GET one key");
    assert_eq!(allowed(&one.answers), [true]);
    let one: MayWrite = server
        .get_json(&format!("{}?prefix=/secret/", path::MAY_WRITE))
        .await
        .expect("GET one prefix");
    assert_eq!(allowed(&one.answers), [false]);

    // Requests that make no sense are 400s with a sentence.
    for bad in [
        path::MAY_WRITE.to_owned(),
        format!("{}?key=/a&prefix=/b", path::MAY_WRITE),
        format!("{}?key=", path::MAY_WRITE),
    ] {
        let (status, error) = server.get_json::<MayWrite>(&bad).await.unwrap_err();
        assert_eq!((status, error.code), (400, ErrorCode::BadRequest), "{bad}");
    }
    let too_many = vec![key("/app/x"); MAX_MAY_WRITE_TARGETS + 1];
    let (status, body) = server
        .post_json::<MayWrite>(path::MAY_WRITE, &MayWriteRequest { targets: too_many })
        .await
        .unwrap_err();
    let error: ApiError = serde_json::from_value(body).unwrap();
    assert_eq!((status, error.code), (400, ErrorCode::BadRequest));

    // Without a session nothing is answered.
    server.use_session(None);
    let response = reqwest::Client::new()
        .post(server.url(path::MAY_WRITE))
        .json(&MayWriteRequest {
            targets: vec![key("/app/config")],
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_etcdeck_refuses_without_asking_etcd() {
    let etcd = etcd();
    let endpoint = etcd.endpoint(0);
    let mut client = root_client(&etcd.endpoints()).await;
    let mut cfg = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    cfg.server.read_only = true;
    let server = Server::start(cfg).await.expect("start read-only");

    let before = quiet(&endpoint).await;
    let targets = [key("/app/config"), prefix("/app/"), prefix("")];
    let answers = ask(&server, &mut client, &targets).await;
    assert!(answers.iter().all(|a| !a.allowed), "{answers:?}");
    let reason = answers[0].reason.as_deref().expect("a reason");
    assert!(reason.contains("--read-only"), "{reason}");
    assert_eq!(costs(&endpoint).await, before, "etcd was asked");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_of_probes_costs_etcd_one_transaction_when_allowed() {
    let etcd = etcd();
    let endpoint = etcd.endpoint(0);
    let mut client = root_client(&etcd.endpoints()).await;
    let server = root_server(&etcd).await;
    act_as(&server, EDITOR).await;
    let rows: Vec<WriteTarget> = (0..50)
        .map(|i| {
            if i % 2 == 0 {
                key(&format!("/app/row-{i:02}"))
            } else {
                prefix(&format!("/app/row-{i:02}/"))
            }
        })
        .collect();

    // One target per request: one transaction (one raft proposal) each.
    let start = quiet(&endpoint).await;
    for row in &rows[..20] {
        assert!(ask(&server, &mut client, std::slice::from_ref(row)).await[0].allowed);
    }
    let after = costs(&endpoint).await;
    let (txns, proposals) = (after.0 - start.0, after.1 - start.1);
    eprintln!(
        "one target per request: {:.2} Txn and {:.2} raft proposals per probe",
        txns / 20.0,
        proposals / 20.0
    );
    assert_eq!(txns, 20.0);

    // A screen of 50 rows the user may write: one transaction for all.
    let start = quiet(&endpoint).await;
    assert!(
        ask(&server, &mut client, &rows)
            .await
            .iter()
            .all(|a| a.allowed)
    );
    let after = costs(&endpoint).await;
    eprintln!(
        "50 allowed rows in one request: {} Txn, {} raft proposals",
        after.0 - start.0,
        after.1 - start.1
    );
    assert_eq!(after.0 - start.0, 1.0);

    // Targets inside one another share the transaction too (etcd refuses
    // overlapping puts in one transaction, not overlapping deletes).
    let nested = [
        key("/app/a/x"),
        key("/app/a/x"),
        prefix("/app/a/"),
        prefix("/app/"),
        key("/app/"),
    ];
    let start = quiet(&endpoint).await;
    assert!(
        ask(&server, &mut client, &nested)
            .await
            .iter()
            .all(|a| a.allowed)
    );
    assert_eq!(costs(&endpoint).await.0 - start.0, 1.0);

    // A screen where some rows are refused: the shared transaction, then
    // one per row.
    let mut mixed = rows.clone();
    mixed[10] = key("/secret/db");
    mixed[31] = prefix("/secret/");
    let start = quiet(&endpoint).await;
    let answers = ask(&server, &mut client, &mixed).await;
    let after = costs(&endpoint).await;
    let refused: Vec<usize> = (0..answers.len())
        .filter(|&i| !answers[i].allowed)
        .collect();
    assert_eq!(refused, [10, 31]);
    eprintln!(
        "50 rows, 2 refused: {} Txn, {} raft proposals",
        after.0 - start.0,
        after.1 - start.1
    );
    assert_eq!(after.0 - start.0, 51.0);

    // A read-only user's screen: every row refused, the same 1 + 50.
    act_as(&server, READER).await;
    let start = quiet(&endpoint).await;
    let began = std::time::Instant::now();
    let answers = ask(&server, &mut client, &rows).await;
    let took = began.elapsed();
    assert!(answers.iter().all(|a| !a.allowed));
    let after = costs(&endpoint).await;
    eprintln!(
        "50 refused rows in one request: {} Txn, {} raft proposals, answered in {took:?}",
        after.0 - start.0,
        after.1 - start.1
    );
    assert_eq!(after.0 - start.0, 51.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_without_auth_is_answered_by_etcdecks_own_rule() {
    let etcd = EtcdCluster::start(ClusterOptions::single()).expect("start etcd");
    let mut client = Client::connect(etcd.endpoints(), None)
        .await
        .expect("connect");
    let targets = [key("/any/key"), prefix("")];

    // Read-only by default: refused with the reason, without a session too.
    let server = Server::start_anonymous(config(etcd.endpoints(), None))
        .await
        .expect("start");
    let answers = ask(&server, &mut client, &targets).await;
    assert!(answers.iter().all(|a| !a.allowed), "{answers:?}");
    server.stop().await;

    // With writes allowed, an open session may write anything.
    let mut cfg = config(etcd.endpoints(), None);
    cfg.server.allow_unauthenticated_writes = true;
    let server = Server::start_anonymous(cfg).await.expect("start");
    let response = reqwest::Client::new()
        .get(server.url(path::SESSION))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    server.use_session(Some((cookie, String::new())));
    let answers = ask(&server, &mut client, &targets).await;
    assert!(answers.iter().all(|a| a.allowed), "{answers:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_follow_permission_changes_at_once() {
    let etcd = etcd();
    let mut client = root_client(&etcd.endpoints()).await;
    let server = root_server(&etcd).await;
    act_as(&server, EDITOR).await;
    let targets = [key("/secret/db"), prefix("/secret/")];
    assert_eq!(
        allowed(&ask(&server, &mut client, &targets).await),
        [false, false]
    );

    // etcd's roles change while the user is logged in: the next answer
    // follows, without logging in again.
    etcd.etcdctl(&[
        "role",
        "grant-permission",
        "editor-role",
        "--prefix=true",
        "readwrite",
        "/secret/",
    ])
    .expect("grant");
    assert_eq!(
        allowed(&ask(&server, &mut client, &targets).await),
        [true, true]
    );
    etcd.etcdctl(&[
        "role",
        "revoke-permission",
        "editor-role",
        "--prefix=true",
        "/secret/",
    ])
    .expect("revoke");
    assert_eq!(
        allowed(&ask(&server, &mut client, &targets).await),
        [false, false]
    );

    // The probe's compare reads the target's key, and etcd wants read
    // permission on compared keys: a user who may write a key but not read
    // it is answered "refused" (etcdeck could not list such a key anyway).
    etcd.etcdctl(&["role", "add", "blind-role"]).expect("role");
    etcd.etcdctl(&[
        "role",
        "grant-permission",
        "blind-role",
        "--prefix=true",
        "write",
        "/drop/",
    ])
    .expect("grant write only");
    etcd.etcdctl_with_stdin(
        &["user", "add", "blind", "--interactive=false"],
        b"blind-password\n",
    )
    .expect("add user");
    etcd.etcdctl(&["user", "grant-role", "blind", "blind-role"])
        .expect("grant role");
    act_as(&server, ("blind", "blind-password")).await;
    let answers = ask(&server, &mut client, &[key("/drop/x")]).await;
    assert!(!answers[0].allowed, "{answers:?}");
    assert!(
        etcd.etcdctl_as("blind", "blind-password", &["put", "/drop/x", "v"])
            .is_ok()
    );
    server.stop().await;
}
