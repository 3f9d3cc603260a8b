//! etcdeck's own `/metrics`, against a real etcd with auth and the real
//! server: read without a session, before and after a small workload (a
//! login, reads and writes, a WebSocket subscription receiving events, one
//! refused read, a resync after a compaction), the counters moved as the
//! workload says, no key name, user name or address shows up anywhere in
//! the output, and Prometheus' own `promtool check metrics` accepts it.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use etcdeck_shared::edit::{LeaseChoice, PutRequest, path as edit_path};
use etcdeck_shared::ws::SubId;
use etcdeck_shared::{Bytes, Revision};
use support::live::{LIMIT, Sub, open_tab};
use support::{Server, config};
use xtask::harness::{ClusterOptions, EtcdCluster};

/// Every key of the workload lives here; the name must never reach the
/// metrics.
const PREFIX: &str = "metrics-secret-prefix/";
/// The etcd user that logs in; the name must never reach the metrics.
const USER: (&str, &str) = ("metrics-reader-5e7b", "metrics-reader-password");

/// One scrape: every sample by its series (`name{labels}`), and the text.
struct Scrape {
    samples: BTreeMap<String, f64>,
    text: String,
}

impl Scrape {
    async fn read(server: &Server) -> Scrape {
        let response = reqwest::get(server.url("/metrics"))
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200, "/metrics answers without a session");
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "content type {content_type:?}"
        );
        let text = response.text().await.expect("metrics text");
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("a sample line");
                (series.to_owned(), value.parse::<f64>().expect("a number"))
            })
            .collect();
        Scrape { samples, text }
    }

    /// The sample of `series` exactly, 0 when it is not there yet.
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }

    /// The sum of every sample of metric `name` whose labels contain each
    /// of `labels` (`key="value"`).
    fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.samples
            .iter()
            .filter(|(series, _)| {
                let (metric, rest) = series.split_once('{').unwrap_or((series.as_str(), ""));
                metric == name && labels.iter().all(|label| rest.contains(label))
            })
            .map(|(_, value)| value)
            .sum()
    }
}

/// How much `name` (with `labels`) grew between two scrapes.
fn grew(before: &Scrape, after: &Scrape, name: &str, labels: &[&str]) -> f64 {
    after.sum(name, labels) - before.sum(name, labels)
}

/// Runs `promtool check metrics` on `text`; a missing promtool fails the
/// test, since the project's set-up installs it.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run promtool ({err}): `cargo xtask test` installs it \
                 (Debian's prometheus package)"
            )
        });
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool output");
    assert!(
        output.status.success(),
        "promtool check metrics refused the output:\n{}{}\n--- output ---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

async fn put(server: &Server, key: &str, value: &str) {
    let request = PutRequest {
        key: Bytes::from(key),
        value: Bytes::from(value),
        expect_mod_revision: Revision(0),
        lease: LeaseChoice::default(),
    };
    let response = server.post(edit_path::PUT, &request).await;
    assert_eq!(response.status(), 200, "put {key}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_a_workload_and_name_nothing_secret() {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    etcd.add_user(USER.0, USER.1, &[], &[PREFIX])
        .expect("add the user");
    let server = Server::start_anonymous(config(etcd.endpoints(), Some(("root", ROOT))))
        .await
        .expect("start etcdeck");
    let before = Scrape::read(&server).await;
    promtool_check(&before.text);

    // A login, then reads and writes as that user.
    let session = server.log_in(USER.0, USER.1).await.expect("log in");
    server.use_session(Some(session));
    let alpha = format!("{PREFIX}alpha");
    assert_eq!(
        server.key(alpha.as_bytes()).await.map_err(|e| e.0),
        Err(404)
    );
    put(&server, &alpha, "one").await;
    put(&server, &format!("{PREFIX}beta"), "two").await;
    server.key(alpha.as_bytes()).await.expect("read alpha");
    server
        .level(PREFIX.as_bytes(), None, 100)
        .await
        .expect("level");
    // A deep link of the frontend, and a path that names a key: counted as
    // the frontend, never by their paths.
    // (The tests' etcdeck has no built frontend: it answers a notice.)
    reqwest::get(server.url(&format!("/?prefix={PREFIX}")))
        .await
        .expect("GET a deep link");
    reqwest::get(server.url(&format!("/{PREFIX}deep")))
        .await
        .expect("GET a path that names a key");
    // Outside the user's prefix: etcd refuses, and that is counted as such.
    assert_eq!(
        server.key(b"elsewhere").await.map_err(|e| e.0),
        Err(403),
        "a key outside the user's prefix"
    );

    // A WebSocket subscription that receives three live revisions.
    let mut tab = open_tab(&server, &[Sub::prefix(1, PREFIX)]).await;
    let mut last = 0;
    for i in 0..3 {
        etcd.etcdctl(&["put", &format!("{PREFIX}live-{i}"), "v"])
            .expect("etcdctl put");
        last = tab_revision(&etcd);
    }
    tab.wait_seen(1, last, LIMIT).await;

    // A resync: history compacted, then a subscription from before it.
    etcd.etcdctl(&["compact", &last.to_string()])
        .expect("compact");
    tab.subscribe_all(&[Sub::prefix(2, PREFIX).from(1)]).await;
    tab.wait_until(LIMIT, "a compaction gap on sub 2", |recording| {
        recording
            .last(SubId(2))
            .is_some_and(|session| !session.gaps().is_empty())
    })
    .await;
    tab.wait_seen(2, last, LIMIT).await;

    let after = Scrape::read(&server).await;
    eprintln!("{}", after.text);

    // HTTP requests by route pattern and status.
    let put_route = format!("route=\"{}\"", edit_path::PUT);
    assert_eq!(
        grew(
            &before,
            &after,
            "etcdeck_http_requests_total",
            &[&put_route, "status=\"200\""]
        ),
        2.0
    );
    let key_route = "route=\"/api/v1/key\"";
    for (status, times) in [("200", 1.0), ("404", 1.0), ("403", 1.0)] {
        let status = format!("status=\"{status}\"");
        assert_eq!(
            grew(
                &before,
                &after,
                "etcdeck_http_requests_total",
                &[key_route, &status]
            ),
            times,
            "key reads answered {status}"
        );
    }
    assert_eq!(
        grew(
            &before,
            &after,
            "etcdeck_http_request_duration_seconds_count",
            &[key_route]
        ),
        3.0
    );
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_http_requests_total",
            &["route=\"frontend\""]
        ) >= 2.0
    );
    // The login's own connection, authenticated as the user.
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_etcd_calls_total",
            &["call=\"connect\""]
        ) >= 1.0
    );
    // Sessions, the socket, subscriptions and upstream watches.
    assert_eq!(
        grew(
            &before,
            &after,
            "etcdeck_sessions_started_total",
            &["kind=\"login\""]
        ),
        1.0
    );
    assert_eq!(after.get("etcdeck_sessions{kind=\"login\"}"), 1.0);
    assert_eq!(after.get("etcdeck_websockets"), 1.0);
    assert_eq!(
        grew(&before, &after, "etcdeck_websockets_opened_total", &[]),
        1.0
    );
    assert!(grew(&before, &after, "etcdeck_subscriptions_started_total", &[]) >= 2.0);
    assert!(after.get("etcdeck_subscriptions") >= 2.0);
    assert!(after.get("etcdeck_upstream_watches") >= 1.0);
    // The shared upstream of sub 1 and the private one of sub 2.
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_upstream_watches_started_total",
            &[]
        ) >= 2.0
    );
    // The resync, said by the subscription and by the upstream that met the compaction.
    assert_eq!(
        grew(
            &before,
            &after,
            "etcdeck_gaps_total",
            &["reason=\"compacted\""]
        ),
        1.0
    );
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_upstream_rewatches_total",
            &["reason=\"compacted\""]
        ) >= 1.0
    );
    // Each live revision's trip from etcd to the socket.
    assert!(grew(&before, &after, "etcdeck_event_delay_seconds_count", &[]) >= 3.0);
    // etcd calls by kind, and the refused read by its class.
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_etcd_calls_total",
            &["call=\"txn\""]
        ) >= 2.0
    );
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_etcd_calls_total",
            &["call=\"range\""]
        ) >= 3.0
    );
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_etcd_calls_total",
            &["call=\"watch_open\""]
        ) >= 2.0
    );
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_etcd_call_duration_seconds_count",
            &["call=\"txn\""]
        ) >= 2.0
    );
    assert!(
        grew(
            &before,
            &after,
            "etcdeck_etcd_call_errors_total",
            &["call=\"range\"", "code=\"permission_denied\""]
        ) >= 1.0
    );

    // Nothing secret: no key, no user name, no address.
    for secret in [PREFIX, "alpha", "elsewhere", USER.0, "127.0.0.1", "root"] {
        assert!(
            !after.text.contains(secret),
            "the metrics name {secret:?}:\n{}",
            after.text
        );
    }
    promtool_check(&after.text);
    dashboard_matches(&after.text);

    // A closed tab is no longer counted as an open socket.
    drop(tab);
    let open = &server;
    support::eventually(
        LIMIT,
        "the closed WebSocket to leave the gauge",
        async || Scrape::read(open).await.get("etcdeck_websockets") == 0.0,
    )
    .await;
    server.stop().await;
}

/// The Grafana dashboard (`assets/grafana/etcdeck.json`) queries only
/// metrics that exist, and shows every family etcdeck exports.
fn dashboard_matches(text: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/grafana/etcdeck.json"
    );
    let dashboard = std::fs::read_to_string(path).expect("read the Grafana dashboard");
    let dashboard: serde_json::Value =
        serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a query");
            queried.extend(metric_names(expr));
        }
    }
    // Families as declared: histograms are queried by their series.
    let families: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|rest| rest.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    let series = |name: &str| -> Vec<String> {
        ["", "_bucket", "_count", "_sum"]
            .iter()
            .map(|suffix| format!("{name}{suffix}"))
            .collect()
    };
    for name in &queried {
        assert!(
            families.iter().any(|f| series(f).contains(name)),
            "the dashboard queries {name}, which /metrics does not export"
        );
    }
    for family in &families {
        assert!(
            series(family).iter().any(|s| queried.contains(s)),
            "the dashboard has no panel for {family}"
        );
    }
}

/// The `etcdeck_...` metric names in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("etcdeck_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

/// etcd's current revision, asked of etcd itself.
fn tab_revision(etcd: &EtcdCluster) -> i64 {
    let out = etcd
        .etcdctl(&["get", "x", "-w", "json"])
        .expect("etcdctl get");
    let json: serde_json::Value = serde_json::from_str(&out).expect("etcdctl json");
    json["header"]["revision"].as_i64().expect("a revision")
}

const ROOT: &str = xtask::harness::ROOT_PASSWORD;
