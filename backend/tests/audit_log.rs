//! The audit log on disk (`--audit-log`), through the real binary against
//! a real, auth-enabled etcd: a write answered just before etcdeck is
//! SIGKILLed is listed by the audit page after a restart, and an audit
//! file that cannot be written stops writes with a sentence instead of
//! letting them go unrecorded.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcdeck_shared::edit::{AuditLog, AuditResult, LeaseChoice, PutRequest, path};
use etcdeck_shared::{Bytes, Revision};
use support::live::start_etcd;
use xtask::harness::{ClusterOptions, EtcdCluster, free_port};

/// The etcdeck binary on `port`, as root, keeping its audit log at `audit`.
struct Etcdeck {
    child: Child,
    base: String,
    http: reqwest::Client,
    session: Option<(String, String)>,
}

impl Etcdeck {
    async fn start(etcd: &EtcdCluster, dir: &Path, port: u16, audit: &Path) -> Etcdeck {
        let password = dir.join("root.password");
        std::fs::write(&password, etcd.root_password()).expect("password file");
        let child = Command::new(env!("CARGO_BIN_EXE_etcdeck"))
            .args(["--endpoints", &etcd.endpoints().join(",")])
            .args(["--user", "root", "--password-file"])
            .arg(&password)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--audit-log")
            .arg(audit)
            .args(["--dist", "/nonexistent-dist"])
            .env_remove("ETCDECK_PASSWORD")
            .env_remove("ETCDCTL_PASSWORD")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcdeck");
        let mut etcdeck = Etcdeck {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            session: None,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while etcdeck
            .http
            .get(etcdeck.url(etcdeck_shared::path::STATUS))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "etcdeck did not start serving");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        etcdeck.log_in(etcd.root_password()).await;
        etcdeck
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn log_in(&mut self, password: &str) {
        let response = self
            .http
            .post(self.url(path::LOGIN))
            .json(&etcdeck_shared::edit::LoginRequest::Password {
                user: "root".into(),
                password: password.into(),
            })
            .send()
            .await
            .expect("login");
        assert!(
            response.status().is_success(),
            "login: {}",
            response.status()
        );
        let cookie = response.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("cookie pair")
            .to_owned();
        let info: etcdeck_shared::edit::SessionInfo = response.json().await.expect("session");
        self.session = Some((cookie, info.csrf));
    }

    /// `POST /api/v1/put` of a new key: the status and the JSON body.
    async fn put_new(&self, key: &str) -> (u16, serde_json::Value) {
        let (cookie, csrf) = self.session.as_ref().expect("logged in");
        let response = self
            .http
            .post(self.url(path::PUT))
            .header(reqwest::header::COOKIE, cookie)
            .header(etcdeck_shared::edit::CSRF_HEADER, csrf)
            .json(&PutRequest {
                key: Bytes::from(key),
                value: Bytes::from("v"),
                expect_mod_revision: Revision(0),
                lease: LeaseChoice::Keep,
            })
            .send()
            .await
            .expect("put");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    async fn audit(&self) -> AuditLog {
        let (cookie, _) = self.session.as_ref().expect("logged in");
        self.http
            .get(self.url(path::AUDIT))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .expect("audit")
            .json()
            .await
            .expect("audit json")
    }
}

impl Drop for Etcdeck {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_answered_write_survives_sigkill() {
    let etcd = start_etcd(ClusterOptions::single().with_auth());
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("logs").join("audit.jsonl");
    let port = free_port().expect("port");
    let mut first = Etcdeck::start(&etcd, dir.path(), port, &audit).await;
    let (status, body) = first.put_new("/audited/one").await;
    assert_eq!(status, 200, "{body}");
    // SIGKILL right after the answer: nothing gets to flush on the way out.
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("wait");
    drop(first);

    let second = Etcdeck::start(&etcd, dir.path(), port, &audit).await;
    let entries = second.audit().await.entries;
    let write = entries
        .iter()
        .find(|e| e.action == "put" && e.key == Bytes::from("/audited/one"))
        .unwrap_or_else(|| {
            panic!("the write is not in the audit log after a restart: {entries:?}")
        });
    assert_eq!(write.result, AuditResult::Ok);
    assert_eq!(write.user.as_deref(), Some("root"));
    assert!(write.new_revision.is_some());
}

#[tokio::test]
async fn a_failing_audit_file_stops_writes() {
    let etcd = start_etcd(ClusterOptions::single().with_auth());
    let dir = tempfile::tempdir().expect("tempdir");
    // Every line written to /dev/full fails as on a full disk.
    let etcdeck = Etcdeck::start(
        &etcd,
        dir.path(),
        free_port().expect("port"),
        Path::new("/dev/full"),
    )
    .await;
    // Whichever line fails first (a login's, or the first write's), no
    // write answered 503 differs from what its sentence says, and once a
    // line has failed, writes are not even tried.
    let mut client = support::live::root_client(&etcd.endpoints()).await;
    for key in ["/audited/first", "/audited/second"] {
        let (status, body) = etcdeck.put_new(key).await;
        assert_eq!(status, 503, "{body}");
        let message = body["message"].as_str().expect("message");
        assert!(message.contains("/dev/full"), "{message}");
        let made = client.get(key, None).await.expect("get").kvs().len() == 1;
        if made {
            assert!(
                message.contains("the write itself was made at revision"),
                "{message}"
            );
        } else {
            assert!(message.contains("writes are stopped"), "{message}");
        }
        if key == "/audited/second" {
            assert!(!made, "a write was made after the audit file failed");
        }
    }
}

#[tokio::test]
async fn an_audit_log_that_cannot_be_opened_stops_the_start() {
    let etcd = start_etcd(ClusterOptions::single().with_auth());
    let dir = tempfile::tempdir().expect("tempdir");
    let password = dir.path().join("root.password");
    std::fs::write(&password, etcd.root_password()).expect("password file");
    // Its directory's place is taken by a file.
    let blocked = dir.path().join("not-a-dir");
    std::fs::write(&blocked, "").expect("file");
    let output = Command::new(env!("CARGO_BIN_EXE_etcdeck"))
        .args(["--endpoints", &etcd.endpoints().join(",")])
        .args(["--user", "root", "--password-file"])
        .arg(&password)
        .args([
            "--listen",
            &format!("127.0.0.1:{}", free_port().expect("port")),
        ])
        .arg("--audit-log")
        .arg(blocked.join("audit.jsonl"))
        .output()
        .expect("run etcdeck");
    assert!(
        !output.status.success(),
        "etcdeck started without its audit log"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot be opened"), "{stderr}");
}
