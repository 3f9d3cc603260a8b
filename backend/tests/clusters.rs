//! Two real etcd clusters, both with auth, in one etcdeck: each is served
//! under `/c/NAME` (the first also without a prefix), a login is to one
//! cluster only and its cookie opens no other, each cluster's writes go to
//! its own etcd and its own audit log, `/healthz` and `/api/v1/clusters`
//! name both, and a cluster that goes down leaves the other answering.

mod support;

use std::time::{Duration, Instant};

use etcdeck::config::{AuditConfig, ClusterConfig, Credentials, EtcdConfig, Password};
use etcdeck_shared::edit::{AuditLog, CSRF_HEADER, LeaseChoice, LoginRequest, PutRequest};
use etcdeck_shared::edit::{SessionInfo, path as edit_path};
use etcdeck_shared::{Bytes, Clusters, Connection, Revision, Status, path};
use support::{Server, config};
use xtask::harness::{ClusterOptions, EtcdCluster};

/// A browser's session on one cluster: the cookie pair and CSRF token.
struct Login {
    cookie: String,
    csrf: String,
}

/// Logs in on the cluster whose URLs start with `prefix` (`""` for the
/// first one's unprefixed URLs); `None` when refused.
async fn log_in(
    http: &reqwest::Client,
    server: &Server,
    prefix: &str,
    user: &str,
    password: &str,
) -> Option<Login> {
    let response = http
        .post(server.url(&format!("{prefix}{}", edit_path::LOGIN)))
        .json(&LoginRequest::Password {
            user: user.to_owned(),
            password: password.to_owned(),
        })
        .send()
        .await
        .expect("login request");
    if !response.status().is_success() {
        return None;
    }
    let cookie = response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .expect("cookie text")
        .split(';')
        .next()
        .expect("cookie pair")
        .to_owned();
    let info: SessionInfo = response.json().await.expect("session json");
    Some(Login {
        cookie,
        csrf: info.csrf,
    })
}

/// Who `/api/v1/status` under `prefix` says is logged in, with `cookies`.
async fn user_at(
    http: &reqwest::Client,
    server: &Server,
    prefix: &str,
    cookies: &[&Login],
) -> Option<String> {
    let mut request = http.get(server.url(&format!("{prefix}{}", path::STATUS)));
    if !cookies.is_empty() {
        let header: Vec<&str> = cookies.iter().map(|l| l.cookie.as_str()).collect();
        request = request.header(reqwest::header::COOKIE, header.join("; "));
    }
    let status: Status = request
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("status json");
    status.user
}

async fn put(
    http: &reqwest::Client,
    server: &Server,
    prefix: &str,
    login: &Login,
    key: &str,
) -> u16 {
    http.post(server.url(&format!("{prefix}{}", edit_path::PUT)))
        .header(reqwest::header::COOKIE, &login.cookie)
        .header(CSRF_HEADER, &login.csrf)
        .json(&PutRequest {
            key: Bytes::from(key),
            value: Bytes::from("v"),
            expect_mod_revision: Revision(0),
            lease: LeaseChoice::Keep,
        })
        .send()
        .await
        .expect("put")
        .status()
        .as_u16()
}

async fn audit_keys(
    http: &reqwest::Client,
    server: &Server,
    prefix: &str,
    login: &Login,
) -> Vec<String> {
    let log: AuditLog = http
        .get(server.url(&format!("{prefix}{}", edit_path::AUDIT)))
        .header(reqwest::header::COOKIE, &login.cookie)
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("audit json");
    log.entries
        .iter()
        .filter(|e| e.action == "put")
        .map(|e| e.key.display())
        .collect()
}

async fn clusters(http: &reqwest::Client, server: &Server) -> Clusters {
    http.get(server.url(path::CLUSTERS))
        .send()
        .await
        .expect("clusters")
        .json()
        .await
        .expect("clusters json")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_clusters_in_one_etcdeck_keep_logins_sessions_and_audit_apart() {
    let alpha = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("alpha etcd");
    let mut beta = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("beta etcd");
    // alice exists on alpha only: an etcd user of one cluster means
    // nothing on another.
    alpha
        .add_user("alice", "alice-password", &[], &["app/"])
        .expect("alice on alpha");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(alpha.endpoints(), Some(("root", alpha.root_password())));
    cfg.name = "alpha".to_owned();
    cfg.audit = AuditConfig {
        path: Some(dir.path().join("audit-alpha.jsonl")),
        max_bytes: 1 << 20,
    };
    cfg.others = vec![ClusterConfig {
        name: "beta".to_owned(),
        etcd: EtcdConfig {
            endpoints: beta.endpoints(),
            credentials: Some(Credentials {
                user: "root".to_owned(),
                password: Password::new(beta.root_password()),
            }),
            tls: None,
        },
        audit: AuditConfig {
            path: Some(dir.path().join("audit-beta.jsonl")),
            max_bytes: 1 << 20,
        },
    }];
    let server = Server::start_anonymous(cfg).await.expect("etcdeck");
    let http = reqwest::Client::new();

    let listed = clusters(&http, &server).await;
    let names: Vec<&str> = listed.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);

    // Logins are per cluster, each with its own cookie name.
    assert!(
        log_in(&http, &server, "/c/beta", "alice", "alice-password")
            .await
            .is_none(),
        "alice is no user of beta"
    );
    let on_beta = log_in(&http, &server, "/c/beta", "root", beta.root_password())
        .await
        .expect("root on beta");
    assert!(
        on_beta.cookie.starts_with("etcdeck_session_beta="),
        "{}",
        on_beta.cookie
    );
    let on_alpha = log_in(&http, &server, "", "alice", "alice-password")
        .await
        .expect("alice on alpha");
    assert!(
        on_alpha.cookie.starts_with("etcdeck_session="),
        "{}",
        on_alpha.cookie
    );

    // A login on one cluster does not open the other; with both cookies,
    // each cluster sees its own.
    assert_eq!(
        user_at(&http, &server, "/c/beta", &[&on_beta])
            .await
            .as_deref(),
        Some("root")
    );
    assert_eq!(user_at(&http, &server, "", &[&on_beta]).await, None);
    assert_eq!(user_at(&http, &server, "/c/alpha", &[&on_beta]).await, None);
    assert_eq!(user_at(&http, &server, "/c/beta", &[&on_alpha]).await, None);
    assert_eq!(
        user_at(&http, &server, "/c/alpha", &[&on_alpha])
            .await
            .as_deref(),
        Some("alice")
    );
    assert_eq!(
        user_at(&http, &server, "", &[&on_alpha]).await.as_deref(),
        Some("alice")
    );
    let both = [&on_alpha, &on_beta];
    assert_eq!(
        user_at(&http, &server, "/c/beta", &both).await.as_deref(),
        Some("root")
    );
    assert_eq!(
        user_at(&http, &server, "", &both).await.as_deref(),
        Some("alice")
    );
    let level = http
        .get(server.url(&format!("{}?prefix=", path::LEVEL)))
        .header(reqwest::header::COOKIE, &on_beta.cookie)
        .send()
        .await
        .expect("level");
    assert_eq!(
        level.status().as_u16(),
        401,
        "beta's cookie reads nothing of alpha"
    );

    // Writes land in their own cluster and their own audit log.
    assert_eq!(
        put(&http, &server, "/c/beta", &on_beta, "app/on-beta").await,
        200
    );
    assert_eq!(
        put(&http, &server, "", &on_alpha, "app/on-alpha").await,
        200
    );
    assert!(
        beta.etcdctl(&["get", "app/on-beta"])
            .expect("get")
            .contains("app/on-beta")
    );
    assert!(
        !beta
            .etcdctl(&["get", "app/on-alpha"])
            .expect("get")
            .contains("app/on-alpha")
    );
    assert!(
        alpha
            .etcdctl(&["get", "app/on-alpha"])
            .expect("get")
            .contains("app/on-alpha")
    );
    assert!(
        !alpha
            .etcdctl(&["get", "app/on-beta"])
            .expect("get")
            .contains("app/on-beta")
    );
    assert_eq!(
        audit_keys(&http, &server, "/c/beta", &on_beta).await,
        ["app/on-beta"]
    );
    assert_eq!(
        audit_keys(&http, &server, "/c/alpha", &on_alpha).await,
        ["app/on-alpha"]
    );
    let alpha_file =
        std::fs::read_to_string(dir.path().join("audit-alpha.jsonl")).expect("alpha audit");
    let beta_file =
        std::fs::read_to_string(dir.path().join("audit-beta.jsonl")).expect("beta audit");
    assert!(
        alpha_file.contains("\"alice\"") && !alpha_file.contains("\"root\""),
        "{alpha_file}"
    );
    assert!(beta_file.contains("\"root\""), "{beta_file}");

    // `/healthz` names both; `/metrics` labels by cluster.
    let health = http
        .get(server.url(path::HEALTHZ))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let body: serde_json::Value = health.json().await.expect("healthz json");
    assert_eq!(body["state"], "connected", "{body}");
    let named: Vec<&str> = body["clusters"]
        .as_array()
        .expect("clusters in healthz")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(named, ["alpha", "beta"]);
    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(metrics.contains("cluster=\"alpha\"") && metrics.contains("cluster=\"beta\""));

    // beta goes down: alpha keeps answering, and the lists say which is down.
    beta.stop().expect("stop beta");
    let level = http
        .get(server.url(&format!("/c/alpha{}?prefix=app/", path::LEVEL)))
        .header(reqwest::header::COOKIE, &on_alpha.cookie)
        .send()
        .await
        .expect("level on alpha");
    assert_eq!(level.status().as_u16(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = http
            .get(server.url(path::HEALTHZ))
            .send()
            .await
            .expect("healthz");
        let code = health.status().as_u16();
        let body: serde_json::Value = health.json().await.expect("healthz json");
        let beta_state = body["clusters"][1]["connection"]["state"].clone();
        let listed = clusters(&http, &server).await;
        let beta_listed = matches!(
            listed.clusters[1].connection,
            Connection::Disconnected { .. }
        );
        if beta_state == "disconnected" && beta_listed {
            assert_eq!(code, 200, "alpha still answers: {body}");
            assert_eq!(body["clusters"][0]["connection"]["state"], "connected");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "beta never reported down: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(put(&http, &server, "", &on_alpha, "app/after").await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_at_start_names_its_cluster() {
    let alpha = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("alpha etcd");
    let beta = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("beta etcd");
    let mut cfg = config(alpha.endpoints(), Some(("root", alpha.root_password())));
    cfg.name = "alpha".to_owned();
    cfg.others = vec![ClusterConfig {
        name: "beta".to_owned(),
        etcd: EtcdConfig {
            endpoints: beta.endpoints(),
            credentials: Some(Credentials {
                user: "root".to_owned(),
                password: Password::new("not-the-password"),
            }),
            tls: None,
        },
        audit: AuditConfig::default(),
    }];
    let err = Server::start_anonymous(cfg)
        .await
        .err()
        .expect("a wrong password on beta stops start-up");
    assert!(err.to_string().starts_with("cluster beta: "), "{err}");
}
