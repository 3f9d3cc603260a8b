//! etcd's users and roles through etcdeck, against a real etcd with auth:
//! root creates a user and a role limited to `/team/` and grants it, the
//! user reads `/team/x` and is refused `/other`, and once root revokes the
//! role the user's next read is refused with a sentence. Anyone but a root
//! session that may write (that user, a `--read-only` root, a wall screen)
//! is refused with 403 before etcd is asked (etcd's own request counters do
//! not move), changes that would lock root out are refused unless
//! confirmed, every change is audited, and the new user's password appears
//! in no log line, answer or audit entry.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use etcdeck::config::Password;
use etcdeck_shared::edit::{AuditLog, LoginRequest, SessionInfo, path as edit_path};
use etcdeck_shared::users::{
    Access, AuthChange, AuthView, ChangeRequest, KeyRange, ROOT, ROOT_ONLY, Secret, path,
};
use support::{Server, config};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const CAROL: &str = "carol";
const PASSWORD: &str = "Carol-s3cret-Passw0rd";
const WALL_TOKEN: &str = "wall-screen-token-for-the-users-test";

/// Everything etcdeck logs, at every level, kept for searching.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

fn capture_logs() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug,etcdeck=trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    captured
}

/// The sum of `metric` over the label sets that contain `label`, on etcd's
/// own `/metrics`.
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

/// How many auth-management requests etcd has handled.
async fn auth_requests(endpoint: &str) -> f64 {
    let mut sum = 0.0;
    for method in [
        "UserAdd",
        "UserDelete",
        "UserGrantRole",
        "UserRevokeRole",
        "RoleAdd",
        "RoleDelete",
        "RoleGrantPermission",
        "RoleRevokePermission",
    ] {
        sum += metric(
            endpoint,
            "grpc_server_handled_total",
            &format!("grpc_method=\"{method}\""),
        )
        .await;
    }
    sum
}

/// Every answer body the test received, for the password search.
#[derive(Default)]
struct Bodies(Vec<String>);

impl Bodies {
    /// `POST /api/v1/users/change`: the status and the body.
    async fn change(
        &mut self,
        server: &Server,
        change: AuthChange,
        confirm: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let request = ChangeRequest {
            change,
            confirm: confirm.map(str::to_owned),
        };
        let response = server.post(path::CHANGE, &request).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        self.0.push(text.clone());
        (status, serde_json::from_str(&text).expect("json answer"))
    }

    async fn get(&mut self, server: &Server, path: &str) -> (u16, String) {
        let response = server.get(path).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        self.0.push(text.clone());
        (status, text)
    }

    async fn view(&mut self, server: &Server) -> AuthView {
        let (status, text) = self.get(server, path::USERS).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("AuthView")
    }
}

fn message(body: &serde_json::Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_manages_users_and_roles_and_nobody_else_does() {
    let logs = capture_logs();
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    let endpoint = etcd.endpoint(0);
    etcd.etcdctl(&["put", "/team/x", "team value"])
        .expect("put /team/x");
    etcd.etcdctl(&["put", "/other", "other value"])
        .expect("put /other");
    let dir = tempfile::tempdir().expect("temp dir");
    let audit_file = dir.path().join("audit.jsonl");
    let mut root_config = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    root_config.audit.path = Some(audit_file.clone());
    root_config.audit.max_bytes = 64 * 1024 * 1024;
    let server = Server::start_anonymous(root_config).await.expect("etcdeck");
    // Root's cookie and CSRF token, to act as root again after Carol.
    let root = server.log_in("root", ROOT_PASSWORD).await;
    assert!(root.is_some(), "root logs in");
    server.use_session(root.clone());
    let mut bodies = Bodies::default();

    // Root sees every user and role, and may change them.
    let view = bodies.view(&server).await;
    assert!(view.complete);
    assert_eq!(view.refused, None);
    assert_eq!(view.you, "root");
    assert!(
        view.users
            .iter()
            .any(|u| u.name == ROOT && u.roles == [ROOT]),
        "{view:?}"
    );

    // The user, the role limited to /team/, the grant.
    for change in [
        AuthChange::AddRole {
            role: "team".into(),
        },
        AuthChange::AddPermission {
            role: "team".into(),
            access: Access::Readwrite,
            range: KeyRange::Prefix {
                prefix: "/team/".into(),
            },
        },
        AuthChange::AddUser {
            user: CAROL.into(),
            password: Secret(PASSWORD.into()),
        },
        AuthChange::GrantRole {
            user: CAROL.into(),
            role: "team".into(),
        },
    ] {
        let (status, body) = bodies.change(&server, change.clone(), None).await;
        assert_eq!(status, 200, "{change:?}: {body}");
        assert_eq!(body["done"], change.text());
    }
    let view = bodies.view(&server).await;
    let carol = view
        .users
        .iter()
        .find(|u| u.name == CAROL)
        .expect("carol is listed");
    assert_eq!(carol.roles, ["team"]);
    let team = view
        .roles
        .iter()
        .find(|r| r.name == "team")
        .expect("team is listed");
    assert_eq!(team.permissions.len(), 1, "{team:?}");
    assert_eq!(team.permissions[0].access, Access::Readwrite);
    assert_eq!(
        team.permissions[0].range,
        KeyRange::Prefix {
            prefix: "/team/".into()
        }
    );
    assert_eq!(team.permissions[0].range.text(), "/team/ (prefix)");

    // Carol reads /team/x and is refused /other.
    let carol_session = server.log_in(CAROL, PASSWORD).await.expect("carol logs in");
    server.use_session(Some(carol_session.clone()));
    let team_x = server.key(b"/team/x").await.expect("carol reads /team/x");
    assert_eq!(team_x.value.as_slice(), b"team value");
    let (status, refused) = server.key(b"/other").await.expect_err("carol reads /other");
    assert_eq!(status, 403, "{refused:?}");

    // Carol sees her own user and role, and why she may change nothing.
    let view = bodies.view(&server).await;
    assert!(!view.complete);
    assert_eq!(view.you, CAROL);
    assert_eq!(view.users.len(), 1);
    assert_eq!(view.users[0].roles, ["team"]);
    assert_eq!(view.roles.len(), 1);
    let reason = view.refused.expect("carol may not change users");
    assert!(reason.contains(ROOT_ONLY), "{reason}");
    assert!(reason.contains("carol is not root"), "{reason}");

    // Her changes are refused without asking etcd.
    let asked_before = auth_requests(&endpoint).await;
    for change in [
        AuthChange::AddUser {
            user: "mallory".into(),
            password: Secret("mallory-password".into()),
        },
        AuthChange::GrantRole {
            user: CAROL.into(),
            role: ROOT.into(),
        },
    ] {
        let (status, body) = bodies.change(&server, change, None).await;
        assert_eq!(status, 403, "{body}");
        assert!(message(&body).contains(ROOT_ONLY), "{body}");
    }
    assert_eq!(
        auth_requests(&endpoint).await,
        asked_before,
        "etcd was asked for a change etcdeck refuses"
    );
    let users = etcd.etcdctl(&["user", "list"]).expect("user list");
    assert!(!users.contains("mallory"), "{users}");

    // Root revokes the role: Carol's next read is refused, and says why.
    server.use_session(root.clone());
    let (status, body) = bodies
        .change(
            &server,
            AuthChange::RevokeRole {
                user: CAROL.into(),
                role: "team".into(),
            },
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server.use_session(Some(carol_session));
    let (status, refused) = server
        .key(b"/team/x")
        .await
        .expect_err("carol's read after the revoke");
    assert_eq!(status, 403, "{refused:?}");
    assert!(
        refused.message.contains("permission denied"),
        "{}",
        refused.message
    );

    // Without the CSRF token, or from another site, nothing happens.
    let cookie = root.as_ref().map(|(c, _)| c.clone()).expect("root cookie");
    let http = reqwest::Client::new();
    let request = ChangeRequest {
        change: AuthChange::AddRole {
            role: "sneaky".into(),
        },
        confirm: None,
    };
    let no_csrf = http
        .post(server.url(path::CHANGE))
        .header("cookie", &cookie)
        .json(&request)
        .send()
        .await
        .expect("request");
    assert_eq!(no_csrf.status(), 403);
    let cross_site = http
        .post(server.url(path::CHANGE))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .header(
            etcdeck_shared::edit::CSRF_HEADER,
            root.as_ref().map(|(_, c)| c.as_str()).unwrap_or_default(),
        )
        .json(&request)
        .send()
        .await
        .expect("request");
    assert_eq!(cross_site.status(), 403);
    let roles = etcd.etcdctl(&["role", "list"]).expect("role list");
    assert!(!roles.contains("sneaky"), "{roles}");

    // Changes that would lock root out are named and need typed confirmation.
    server.use_session(root.clone());
    for change in [
        AuthChange::RevokeRole {
            user: ROOT.into(),
            role: ROOT.into(),
        },
        AuthChange::DeleteRole { role: ROOT.into() },
        AuthChange::DeleteUser { user: ROOT.into() },
    ] {
        for confirm in [None, Some("not the name")] {
            let (status, body) = bodies.change(&server, change.clone(), confirm).await;
            assert_eq!(status, 409, "{change:?}: {body}");
            assert!(message(&body).contains("type root to confirm"), "{body}");
        }
    }
    let (status, body) = bodies
        .change(
            &server,
            AuthChange::RevokeRole {
                user: ROOT.into(),
                role: ROOT.into(),
            },
            None,
        )
        .await;
    assert!(message(&body).contains("from yourself"), "{status}: {body}");
    let root_user = etcd.etcdctl(&["user", "get", "root"]).expect("user get");
    assert!(root_user.contains("root"), "{root_user}");
    let roles = etcd.etcdctl(&["role", "list"]).expect("role list");
    assert!(roles.contains("root"), "{roles}");

    // Removing the permission and the user.
    for change in [
        AuthChange::RemovePermission {
            role: "team".into(),
            key: team.permissions[0].key.clone(),
            range_end: team.permissions[0].range_end.clone(),
        },
        AuthChange::DeleteUser { user: CAROL.into() },
        AuthChange::DeleteRole {
            role: "team".into(),
        },
    ] {
        let (status, body) = bodies.change(&server, change.clone(), None).await;
        assert_eq!(status, 200, "{change:?}: {body}");
    }
    let view = bodies.view(&server).await;
    assert!(!view.users.iter().any(|u| u.name == CAROL), "{view:?}");
    assert!(!view.roles.iter().any(|r| r.name == "team"), "{view:?}");

    // Every change is in the audit log, refused ones too.
    let (status, audit_text) = bodies.get(&server, edit_path::AUDIT).await;
    assert_eq!(status, 200);
    let audit: AuditLog = serde_json::from_str(&audit_text).expect("audit");
    let has = |action: &str, key: &str| {
        audit
            .entries
            .iter()
            .any(|e| e.action == action && e.key.as_text() == Some(key))
    };
    for (action, key) in [
        ("role_add", "team"),
        ("permission_add", "team"),
        ("user_add", CAROL),
        ("role_grant", CAROL),
        ("role_revoke", CAROL),
        ("permission_remove", "team"),
        ("user_delete", CAROL),
        ("role_delete", "team"),
        ("user_add", "mallory"),
        ("role_revoke", ROOT),
    ] {
        assert!(has(action, key), "no {action} of {key} in {audit:?}");
    }
    let denied = audit
        .entries
        .iter()
        .find(|e| e.action == "user_add" && e.key.as_text() == Some("mallory"))
        .expect("mallory's refused add");
    assert_eq!(denied.user.as_deref(), Some(CAROL));
    assert_eq!(denied.result, etcdeck_shared::edit::AuditResult::Denied);

    // A --read-only root is refused too, before etcd is asked.
    let mut read_only = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    read_only.server.read_only = true;
    let second = Server::start(read_only).await.expect("read-only etcdeck");
    let view = bodies.view(&second).await;
    assert!(view.complete);
    let reason = view.refused.expect("read-only root may not change users");
    assert!(reason.contains(ROOT_ONLY), "{reason}");
    let asked_before = auth_requests(&endpoint).await;
    let (status, body) = bodies
        .change(
            &second,
            AuthChange::AddRole {
                role: "read-only-role".into(),
            },
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(auth_requests(&endpoint).await, asked_before);
    second.stop().await;

    // A wall screen (reading as etcdeck's own root) may not change them either.
    let mut wall = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    wall.server.wall_token = Some(Password::new(WALL_TOKEN));
    let third = Server::start_anonymous(wall)
        .await
        .expect("etcdeck with a wall token");
    let login = reqwest::Client::new()
        .post(third.url(edit_path::LOGIN))
        .json(&LoginRequest::Token {
            token: WALL_TOKEN.into(),
        })
        .send()
        .await
        .expect("token login");
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie pair")
        .to_owned();
    let info: SessionInfo = login.json().await.expect("session info");
    third.use_session(Some((cookie, info.csrf)));
    let view = bodies.view(&third).await;
    let reason = view.refused.expect("a wall screen may not change users");
    assert!(reason.contains(ROOT_ONLY), "{reason}");
    let (status, body) = bodies
        .change(
            &third,
            AuthChange::AddRole {
                role: "wall-role".into(),
            },
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(auth_requests(&endpoint).await, asked_before);
    third.stop().await;
    server.stop().await;

    // The password is nowhere: not in a log line, an answer or the audit file.
    let encoded = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
    let file = std::fs::read_to_string(&audit_file).expect("audit file");
    assert!(file.contains("user_add"), "the audit file has the changes");
    let logged = logs.text();
    assert!(logged.contains("user_add"), "the log has the changes");
    for (place, text) in [
        ("the backend log", logged.as_str()),
        ("the audit file", file.as_str()),
        ("an answer", bodies.0.join("\n").as_str()),
    ] {
        assert!(
            !text.contains(PASSWORD) && !text.contains(&encoded),
            "the password is in {place}"
        );
    }
}
