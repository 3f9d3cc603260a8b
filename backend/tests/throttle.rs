//! Login throttling over HTTP against a real etcd with auth: wrong
//! passwords are throttled per client address and per etcd user name with
//! 429 and `Retry-After` (without asking etcd), others log in meanwhile,
//! parallel guesses cannot slip through together, `X-Forwarded-For` counts
//! only from a `--trusted-proxy`, and every attempt is in the audit log
//! with its address and never its password.
//!
//! Clients take distinct loopback addresses (Linux routes all of 127/8 to
//! `lo`), so one test plays several machines.

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use etcdeck::config::{Password, ThrottlePolicy, ThrottleTier};
use etcdeck_shared::edit::{AuditLog, AuditResult, LoginRequest, path as edit_path};
use etcdeck_shared::{ApiError, ErrorCode};
use support::{Server, config};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const APP: (&str, &str) = ("app", "app-password");
const TOKEN: &str = "wall-screen-token-0123456789";
/// The tests' policy: 5 failures at once, then one every 6 s (long enough
/// that 5 refused passwords take less, short enough to wait out).
const EVERY: Duration = Duration::from_secs(6);

fn etcd() -> EtcdCluster {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    etcd.add_user(APP.0, APP.1, &["/app/"], &["/app/"])
        .expect("add app");
    etcd
}

async fn start(etcd: &EtcdCluster, tune: impl FnOnce(&mut etcdeck::config::Config)) -> Server {
    let mut config = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    config.server.login_throttle = ThrottlePolicy {
        tiers: vec![ThrottleTier {
            burst: 5,
            every: EVERY,
        }],
        max_keys: 1_000,
    };
    tune(&mut config);
    Server::start_anonymous(config).await.expect("start")
}

/// A browser on the machine with address `local`.
fn machine(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local.parse::<IpAddr>().expect("address"))
        .build()
        .expect("client")
}

/// What a login answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    cookie: Option<String>,
    error: Option<ApiError>,
}

async fn send_login(
    client: &reqwest::Client,
    server: &Server,
    request: &LoginRequest,
    forwarded: Option<&str>,
) -> Answer {
    let mut builder = client.post(server.url(edit_path::LOGIN)).json(request);
    if let Some(forwarded) = forwarded {
        builder = builder.header("x-forwarded-for", forwarded);
    }
    let response = builder.send().await.expect("login request");
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = header(reqwest::header::RETRY_AFTER).map(|v| v.parse().expect("seconds"));
    let cookie =
        header(reqwest::header::SET_COOKIE).and_then(|v| v.split(';').next().map(str::to_owned));
    let error = if status == 200 {
        None
    } else {
        Some(response.json().await.expect("ApiError body"))
    };
    Answer {
        status,
        retry_after,
        cookie,
        error,
    }
}

async fn login(
    client: &reqwest::Client,
    server: &Server,
    user: &str,
    password: &str,
    forwarded: Option<&str>,
) -> Answer {
    let request = LoginRequest::Password {
        user: user.to_owned(),
        password: password.to_owned(),
    };
    send_login(client, server, &request, forwarded).await
}

/// Asserts a throttled answer: 429, `Retry-After` within the policy, the
/// sentence; returns the wait.
fn throttled(answer: &Answer) -> u64 {
    assert_eq!(answer.status, 429, "{answer:?}");
    let error = answer.error.as_ref().expect("body");
    assert_eq!(error.code, ErrorCode::Throttled);
    let secs = answer.retry_after.expect("Retry-After");
    assert!((1..=EVERY.as_secs()).contains(&secs), "{answer:?}");
    assert_eq!(
        error.message,
        format!("too many failed logins for this user or from this address; try again in {secs} s")
    );
    assert!(answer.cookie.is_none());
    secs
}

/// The audit log as root sees it, and its JSON text.
async fn audit_as(server: &Server, cookie: &str) -> (AuditLog, String) {
    let text = reqwest::Client::new()
        .get(server.url(edit_path::AUDIT))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .expect("audit")
        .text()
        .await
        .expect("audit body");
    (serde_json::from_str(&text).expect("AuditLog"), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_wrong_passwords_for_root_are_throttled_while_others_log_in() {
    let etcd = etcd();
    let server = start(&etcd, |_| {}).await;
    let attacker = machine("127.0.0.1");

    let mut answers = Vec::new();
    for n in 0..20 {
        answers.push(login(&attacker, &server, "root", &format!("guess-{n}"), None).await);
    }
    for answer in &answers[..5] {
        assert_eq!(answer.status, 401, "the first 5 reach etcd: {answer:?}");
        assert_eq!(
            answer.error.as_ref().unwrap().code,
            ErrorCode::LoginRequired
        );
    }
    for answer in &answers[5..] {
        throttled(answer);
    }

    // Meanwhile another user logs in from another machine, at once.
    let asked = Instant::now();
    let app = login(&machine("127.0.0.2"), &server, APP.0, APP.1, None).await;
    assert_eq!(app.status, 200, "{app:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );

    // root's right password is refused too while root is throttled, from
    // any machine: an answer that differed would give the password away.
    throttled(&login(&machine("127.0.0.3"), &server, "root", ROOT_PASSWORD, None).await);
    // The attacker's machine is throttled for every user name, and a
    // made-up X-Forwarded-For from it (not a trusted proxy) changes nothing.
    throttled(&login(&attacker, &server, APP.0, APP.1, None).await);
    let wait = throttled(&login(&attacker, &server, APP.0, APP.1, Some("10.9.9.9")).await);

    // Waiting out Retry-After is the scenario: then root logs in.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let root = login(&attacker, &server, "root", ROOT_PASSWORD, None).await;
    assert_eq!(root.status, 200, "{root:?}");

    // The audit log lists every attempt with its address and result.
    let (log, text) = audit_as(&server, root.cookie.as_deref().expect("cookie")).await;
    let logins: Vec<_> = log.entries.iter().filter(|e| e.action == "login").collect();
    let count = |user: &str, address: &str, result: AuditResult| {
        logins
            .iter()
            .filter(|e| {
                e.user.as_deref() == Some(user)
                    && e.address.as_deref() == Some(address)
                    && e.result == result
            })
            .count()
    };
    assert_eq!(
        count("root", "127.0.0.1", AuditResult::Denied),
        5,
        "{logins:#?}"
    );
    assert_eq!(count("root", "127.0.0.1", AuditResult::Throttled), 15);
    assert_eq!(count("root", "127.0.0.3", AuditResult::Throttled), 1);
    assert_eq!(count("app", "127.0.0.1", AuditResult::Throttled), 2);
    assert_eq!(count("app", "127.0.0.2", AuditResult::Ok), 1);
    assert_eq!(count("root", "127.0.0.1", AuditResult::Ok), 1);
    assert_eq!(logins.len(), 25);
    for entry in &logins {
        assert!(entry.key.is_empty(), "{entry:?}");
        assert!(entry.at_ms > 0);
        if entry.result == AuditResult::Throttled {
            let detail = entry.detail.as_deref().unwrap_or_default();
            assert!(detail.starts_with("too many failed logins"), "{entry:?}");
        }
    }
    // Newest first: root's success is the latest.
    assert_eq!(logins[0].result, AuditResult::Ok);
    assert_eq!(logins[0].user.as_deref(), Some("root"));
    // No password appears anywhere in the log.
    assert!(!text.contains("10.9.9.9"), "{text}");
    for secret in [ROOT_PASSWORD, APP.1, "guess-"] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }

    // A user sees their own logins only.
    let (own, _) = audit_as(&server, app.cookie.as_deref().expect("cookie")).await;
    assert!(own.entries.iter().all(|e| e.user.as_deref() == Some("app")));
    assert_eq!(own.entries.len(), 3);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_name_and_an_address_are_each_throttled() {
    let etcd = etcd();
    let server = start(&etcd, |config| {
        config.server.wall_token = Some(Password::new(TOKEN));
    })
    .await;

    // The user name: one wrong password from each of 5 machines, then the
    // right one from a sixth is refused; root from there is not.
    for n in 11..16 {
        let answer = login(
            &machine(&format!("127.0.0.{n}")),
            &server,
            APP.0,
            "wrong",
            None,
        )
        .await;
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    let sixth = machine("127.0.0.16");
    throttled(&login(&sixth, &server, APP.0, APP.1, None).await);
    let root = login(&sixth, &server, "root", ROOT_PASSWORD, None).await;
    assert_eq!(root.status, 200, "{root:?}");

    // The address: 5 made-up user names from one machine, then even a
    // right password for a user nobody guessed is refused there.
    let sprayer = machine("127.0.0.21");
    for n in 0..5 {
        let answer = login(&sprayer, &server, &format!("nobody-{n}"), "wrong", None).await;
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    throttled(&login(&sprayer, &server, "root", ROOT_PASSWORD, None).await);

    // Successes do not count: many logins from one machine (an office
    // behind one address) go through.
    let office = machine("127.0.0.31");
    for _ in 0..8 {
        let answer = login(&office, &server, "root", ROOT_PASSWORD, None).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }

    // Wall-screen tokens are throttled per address.
    let screen = machine("127.0.0.41");
    let token = |token: &str| LoginRequest::Token {
        token: token.to_owned(),
    };
    for n in 0..5 {
        let answer = send_login(&screen, &server, &token(&format!("bad-{n}")), None).await;
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    throttled(&send_login(&screen, &server, &token(TOKEN), None).await);
    let other_screen = send_login(&machine("127.0.0.42"), &server, &token(TOKEN), None).await;
    assert_eq!(other_screen.status, 200, "{other_screen:?}");

    let (log, text) = audit_as(&server, root.cookie.as_deref().expect("cookie")).await;
    let tokens: Vec<_> = log
        .entries
        .iter()
        .filter(|e| e.action == "login_token")
        .collect();
    assert_eq!(tokens.len(), 7, "{tokens:#?}");
    assert!(tokens.iter().all(|e| e.user.is_none()));
    assert_eq!(
        tokens
            .iter()
            .filter(|e| e.result == AuditResult::Throttled)
            .count(),
        1
    );
    assert!(!text.contains(TOKEN) && !text.contains("bad-"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_logins_cannot_all_reach_etcd() {
    let etcd = etcd();
    let server = start(&etcd, |_| {}).await;
    let attacker = machine("127.0.0.51");
    let attempts = (0..20).map(|n| {
        let attacker = &attacker;
        let server = &server;
        async move { login(attacker, server, "root", &format!("guess-{n}"), None).await }
    });
    let answers = futures::future::join_all(attempts).await;
    let reached_etcd = answers.iter().filter(|a| a.status == 401).count();
    assert_eq!(reached_etcd, 5, "{answers:#?}");
    for answer in answers.iter().filter(|a| a.status != 401) {
        throttled(answer);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_counts_apart() {
    let etcd = etcd();
    let server = start(&etcd, |config| {
        config.server.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    let proxy = machine("127.0.0.1");
    for n in 0..5 {
        let answer = login(
            &proxy,
            &server,
            &format!("nobody-{n}"),
            "wrong",
            Some("203.0.113.7"),
        )
        .await;
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    // The client's own X-Forwarded-For entry on the left cannot move it
    // away from the address the proxy saw.
    throttled(
        &login(
            &proxy,
            &server,
            APP.0,
            APP.1,
            Some("198.51.100.1, 203.0.113.7"),
        )
        .await,
    );
    let other = login(&proxy, &server, APP.0, APP.1, Some("203.0.113.8")).await;
    assert_eq!(other.status, 200, "{other:?}");

    let root = login(&proxy, &server, "root", ROOT_PASSWORD, Some("203.0.113.9")).await;
    let (log, _) = audit_as(&server, root.cookie.as_deref().expect("cookie")).await;
    let addresses: Vec<_> = log
        .entries
        .iter()
        .filter_map(|e| e.address.as_deref())
        .collect();
    assert_eq!(
        addresses.iter().filter(|a| **a == "203.0.113.7").count(),
        6,
        "{addresses:?}"
    );
    assert!(addresses.contains(&"203.0.113.8"));
    assert!(!addresses.contains(&"127.0.0.1"));
    server.stop().await;
}
