//! Who may use etcdeck, against a real etcd: logging in with an etcd user's
//! own name and password, the session cookie and its limits (idle expiry,
//! logout), the wall screen's read-only token, etcd with auth disabled, and
//! cross-site WebSockets.

mod support;

use std::time::Duration;

use etcdeck_shared::edit::{LoginRequest, SessionInfo, SessionKind, path as edit_path};
use etcdeck_shared::ws::SESSION_ENDED_CLOSE;
use etcdeck_shared::{ApiError, ErrorCode, path};
use futures::StreamExt;
use support::{Server, config};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const ALICE: (&str, &str) = ("alice", "alice-password");
const TOKEN: &str = "wall-screen-token-0123456789";

fn etcd() -> EtcdCluster {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    etcd.add_user(ALICE.0, ALICE.1, &["/alice/"], &["/alice/"])
        .expect("add alice");
    etcd
}

async fn login(server: &Server, request: &LoginRequest) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(edit_path::LOGIN))
        .json(request)
        .send()
        .await
        .expect("login request")
}

fn password(user: (&str, &str)) -> LoginRequest {
    LoginRequest::Password {
        user: user.0.into(),
        password: user.1.into(),
    }
}

async fn error_of(response: reqwest::Response) -> (u16, ApiError) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("ApiError body"))
}

/// Opens the live WebSocket with these headers; the HTTP status of a
/// refused upgrade.
async fn open_socket(
    server: &Server,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    u16,
> {
    let mut request = format!("ws://{}{}", server.addr, path::WS)
        .into_client_request()
        .expect("request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("cookie"));
    }
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("origin"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("WebSocket failed oddly: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_read_without_logging_in_and_a_login_acts_as_that_etcd_user() {
    let etcd = etcd();
    etcd.etcdctl(&["put", "/alice/config", "mine"])
        .expect("put");
    etcd.etcdctl(&["put", "/secret/db", "hunter2"])
        .expect("put");
    // etcdeck itself runs as root; that must not leak to anyone.
    let server = Server::start_anonymous(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");

    for what in [
        format!("{}?prefix=/", path::LEVEL),
        format!("{}?key=/secret/db", path::KEY),
        path::LEASES.to_owned(),
        edit_path::SESSION.to_owned(),
    ] {
        let (status, error) = error_of(server.get(&what).await).await;
        assert_eq!(
            (status, error.code),
            (401, ErrorCode::LoginRequired),
            "{what}"
        );
        assert!(error.message.contains("log in"), "{}", error.message);
    }
    assert_eq!(open_socket(&server, None, None).await.err(), Some(401));

    // A wrong password is refused with a sentence and no cookie.
    let refused = login(
        &server,
        &LoginRequest::Password {
            user: "alice".into(),
            password: "wrong".into(),
        },
    )
    .await;
    assert!(refused.headers().get("set-cookie").is_none());
    let (status, error) = error_of(refused).await;
    assert_eq!((status, error.code), (401, ErrorCode::LoginRequired));
    assert_eq!(error.message, "etcd rejected this user name or password");

    // Alice's login: an HttpOnly, SameSite=Strict cookie; the body holds
    // the CSRF token, never the password.
    let response = login(&server, &password(ALICE)).await;
    assert_eq!(response.status(), 200);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(!set_cookie.contains(ALICE.1));
    let body = response.text().await.unwrap();
    assert!(!body.contains(ALICE.1));
    let info: SessionInfo = serde_json::from_str(&body).unwrap();
    assert_eq!(info.kind, SessionKind::Login);
    assert_eq!(info.user.as_deref(), Some("alice"));
    assert!(info.can_write);
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    server.use_session(Some((cookie.clone(), info.csrf)));

    // Alice reads her prefix and is told plainly about the rest.
    let kv = server.key(b"/alice/config").await.expect("alice's key");
    assert_eq!(kv.value.as_slice(), b"mine");
    let (status, error) = server.key(b"/secret/db").await.unwrap_err();
    assert_eq!((status, error.code), (403, ErrorCode::PermissionDenied));
    let status: etcdeck_shared::Status = server.get_json(path::STATUS).await.unwrap();
    assert_eq!(status.user.as_deref(), Some("alice"));

    // Her WebSocket works from etcdeck's own page, not from another site.
    let host = format!("http://{}", server.addr);
    assert!(
        open_socket(&server, Some(&cookie), Some(&host))
            .await
            .is_ok()
    );
    assert_eq!(
        open_socket(&server, Some(&cookie), Some("http://evil.example"))
            .await
            .err(),
        Some(403)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_idle_expiry_end_the_session_and_its_sockets() {
    let etcd = etcd();
    let mut cfg = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    cfg.server.session_idle = Duration::from_secs(2);
    let server = Server::start_anonymous(cfg).await.expect("start");

    let (cookie, csrf) = server.log_in(ALICE.0, ALICE.1).await.expect("login");
    server.use_session(Some((cookie.clone(), csrf.clone())));
    let mut socket = open_socket(&server, Some(&cookie), None)
        .await
        .expect("socket");

    // Logout needs the CSRF token: another site cannot log the user out.
    let http = reqwest::Client::new();
    let forged = http
        .post(server.url(edit_path::LOGOUT))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let out = http
        .post(server.url(edit_path::LOGOUT))
        .header("cookie", &cookie)
        .header(etcdeck_shared::edit::CSRF_HEADER, &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, error) = error_of(server.get(path::LEASES).await).await;
    assert_eq!((status, error.code), (401, ErrorCode::LoginRequired));
    // The open socket is told the session ended, so the page logs in again.
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Close(frame)) = message {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("socket closed");
    assert_eq!(close, Some(SESSION_ENDED_CLOSE));

    // A session unused for longer than the idle limit ends too.
    let (cookie, csrf) = server.log_in(ALICE.0, ALICE.1).await.expect("login");
    server.use_session(Some((cookie, csrf)));
    assert!(server.get(path::LEASES).await.status().is_success());
    // The idleness is the scenario: no request for longer than the 2 s
    // limit (a wait for a condition would itself be a request).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, error) = error_of(server.get(path::LEASES).await).await;
    assert_eq!((status, error.code), (401, ErrorCode::LoginRequired));
    assert!(error.message.contains("without use"), "{}", error.message);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wall_token_reads_as_etcdeck_and_survives_an_etcdeck_restart() {
    let etcd = etcd();
    etcd.etcdctl(&["put", "/app/config", "v"]).expect("put");
    let mut cfg = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    cfg.server.wall_token = Some(etcdeck::config::Password::new(TOKEN));
    let server = Server::start_anonymous(cfg.clone()).await.expect("start");

    let wrong = login(
        &server,
        &LoginRequest::Token {
            token: "not-the-token-at-all".into(),
        },
    )
    .await;
    assert_eq!(error_of(wrong).await.0, 401);
    let response = login(
        &server,
        &LoginRequest::Token {
            token: TOKEN.into(),
        },
    )
    .await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let info: SessionInfo = response.json().await.unwrap();
    assert_eq!(info.kind, SessionKind::Token);
    assert!(!info.can_write);
    assert!(info.read_only_reason.unwrap().contains("only reads"));
    server.use_session(Some((cookie.clone(), info.csrf)));
    assert_eq!(
        server.key(b"/app/config").await.unwrap().value.as_slice(),
        b"v"
    );
    server.stop().await;

    // The screen's cookie still works with a restarted etcdeck.
    let again = Server::start_anonymous(cfg).await.expect("restart");
    again.use_session(Some((cookie, String::new())));
    assert_eq!(
        again.key(b"/app/config").await.unwrap().value.as_slice(),
        b"v"
    );
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_without_auth_is_read_only_unless_writes_are_allowed() {
    let etcd = EtcdCluster::start(ClusterOptions::single()).expect("start etcd");
    etcd.etcdctl(&["put", "/open/key", "v"]).expect("put");
    let server = Server::start_anonymous(config(etcd.endpoints(), None))
        .await
        .expect("start");
    // No one logs in: reads work, and the session says writes do not.
    assert_eq!(
        server.key(b"/open/key").await.unwrap().value.as_slice(),
        b"v"
    );
    let info: SessionInfo = server.get_json(edit_path::SESSION).await.unwrap();
    assert_eq!(info.kind, SessionKind::Open);
    assert!(!info.can_write);
    assert!(
        info.read_only_reason
            .as_deref()
            .unwrap()
            .contains("--allow-unauthenticated-writes")
    );
    let refused = login(&server, &password(ALICE)).await;
    let (status, error) = error_of(refused).await;
    assert_eq!(status, 400);
    assert!(
        error.message.contains("authentication disabled"),
        "{}",
        error.message
    );
    server.stop().await;

    let mut cfg = config(etcd.endpoints(), None);
    cfg.server.allow_unauthenticated_writes = true;
    let server = Server::start_anonymous(cfg).await.expect("start");
    let info: SessionInfo = server.get_json(edit_path::SESSION).await.unwrap();
    assert!(info.can_write);
    server.stop().await;
}

fn put_body(key: &str, value: &str) -> etcdeck_shared::edit::PutRequest {
    etcdeck_shared::edit::PutRequest {
        key: key.into(),
        value: value.into(),
        expect_mod_revision: etcdeck_shared::Revision(0),
        lease: Default::default(),
    }
}

/// `POST /api/v1/put` with exactly these headers.
async fn raw_put(server: &Server, headers: &[(&str, &str)], key: &str) -> (u16, ApiError) {
    let mut request = reqwest::Client::new()
        .post(server.url(edit_path::PUT))
        .json(&put_body(key, "x"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    error_of(request.send().await.expect("put")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_in_the_backend_not_only_in_the_page() {
    let etcd = etcd();
    let mut cfg = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    cfg.server.wall_token = Some(etcdeck::config::Password::new(TOKEN));
    let server = Server::start_anonymous(cfg.clone()).await.expect("start");
    let (cookie, csrf) = server.log_in(ALICE.0, ALICE.1).await.expect("login");
    let host = format!("http://{}", server.addr);

    // Without a session, without the CSRF token, from another site: refused.
    let (status, error) = raw_put(&server, &[], "/alice/a").await;
    assert_eq!((status, error.code), (401, ErrorCode::LoginRequired));
    let (status, error) = raw_put(&server, &[("cookie", &cookie)], "/alice/a").await;
    assert_eq!((status, error.code), (403, ErrorCode::PermissionDenied));
    assert!(error.message.contains("CSRF"), "{}", error.message);
    let (status, _) = raw_put(
        &server,
        &[
            ("cookie", &cookie),
            (etcdeck_shared::edit::CSRF_HEADER, &csrf),
            ("origin", "http://evil.example"),
        ],
        "/alice/a",
    )
    .await;
    assert_eq!(status, 403);
    // With all three, from etcdeck's own page: written.
    let response = reqwest::Client::new()
        .post(server.url(edit_path::PUT))
        .header("cookie", &cookie)
        .header(etcdeck_shared::edit::CSRF_HEADER, &csrf)
        .header("origin", &host)
        .json(&put_body("/alice/a", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Nothing refused was written: only the last put is in etcd.
    assert_eq!(
        etcd.etcdctl(&["get", "/alice/a", "--print-value-only"])
            .unwrap()
            .trim(),
        "x"
    );
    assert_eq!(
        etcd.etcdctl(&["get", "/alice/a", "-w", "json"])
            .unwrap()
            .matches("\"version\":1")
            .count(),
        1
    );

    // The audit view shows a user their own writes; root sees everyone's.
    let root = server
        .log_in("root", ROOT_PASSWORD)
        .await
        .expect("root login");
    server.use_session(Some(root));
    server
        .post_json::<serde_json::Value>(edit_path::PUT, &put_body("/root-only/x", "r"))
        .await
        .expect("root's put");
    let everyone: etcdeck_shared::edit::AuditLog = server.get_json(edit_path::AUDIT).await.unwrap();
    let users: Vec<_> = everyone.entries.iter().map(|e| e.user.clone()).collect();
    assert!(
        users.contains(&Some("alice".into())) && users.contains(&Some("root".into())),
        "{users:?}"
    );
    server.use_session(Some((cookie.clone(), csrf.clone())));
    let own: etcdeck_shared::edit::AuditLog = server.get_json(edit_path::AUDIT).await.unwrap();
    assert!(!own.entries.is_empty());
    assert!(
        own.entries
            .iter()
            .all(|e| e.user.as_deref() == Some("alice")),
        "{own:?}"
    );

    // A wall screen's session never writes, whatever it sends.
    let token = login(
        &server,
        &LoginRequest::Token {
            token: TOKEN.into(),
        },
    )
    .await;
    let token_cookie = token.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token_info: SessionInfo = token.json().await.unwrap();
    let (status, error) = raw_put(
        &server,
        &[
            ("cookie", &token_cookie),
            (etcdeck_shared::edit::CSRF_HEADER, &token_info.csrf),
        ],
        "/wall/x",
    )
    .await;
    assert_eq!((status, error.code), (403, ErrorCode::ReadOnly));
    server.stop().await;

    // --read-only refuses everyone's writes, root's too.
    cfg.server.read_only = true;
    let server = Server::start(cfg).await.expect("start read-only");
    let info: SessionInfo = server.get_json(edit_path::SESSION).await.unwrap();
    assert!(!info.can_write);
    let refused = server
        .post_json::<serde_json::Value>(edit_path::PUT, &put_body("/ro/x", "x"))
        .await
        .unwrap_err();
    assert_eq!(refused.0, 403);
    assert_eq!(refused.1["code"], "read_only");
    assert!(
        refused.1["message"]
            .as_str()
            .unwrap()
            .contains("--read-only")
    );
    let grant = server
        .post_json::<serde_json::Value>(
            etcdeck_shared::edit::path::LEASE_GRANT,
            &etcdeck_shared::edit::LeaseGrantRequest { ttl: 60 },
        )
        .await
        .unwrap_err();
    assert_eq!(grant.0, 403);
    assert_eq!(etcd.etcdctl(&["get", "/ro/x"]).unwrap().trim(), "");
    assert_eq!(
        etcd.etcdctl(&["lease", "list"])
            .unwrap()
            .matches("id")
            .count(),
        0
    );
    // The live WebSocket carries no writes at all: a write-like message is
    // an error reply, and nothing changes.
    let mut socket = open_socket(&server, server.cookie().as_deref(), None)
        .await
        .expect("socket");
    use futures::SinkExt;
    socket
        .send(Message::text(
            r#"{"type":"put","key":"L3JvL3g=","value":"eA=="}"#,
        ))
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("reply")
        .expect("frame")
        .expect("message");
    assert!(reply.to_text().unwrap().contains("\"error\""), "{reply:?}");
    assert_eq!(etcd.etcdctl(&["get", "/ro/x"]).unwrap().trim(), "");
    server.stop().await;
}
