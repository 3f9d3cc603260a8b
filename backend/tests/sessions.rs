//! Sessions people can see and end, against a real etcd with auth: who sees
//! which sessions, ending one (its WebSocket closes with the session-ended
//! code), a fresh session id on every login, the absolute lifetime, and a
//! session whose etcd user's password changed or that was deleted, while an
//! unrelated change to etcd's users keeps every session.

mod support;

use std::time::{Duration, Instant};

use etcdeck::config::Password;
use etcdeck_shared::edit::{AuditLog, CSRF_HEADER, LoginRequest, SessionInfo, path as edit_path};
use etcdeck_shared::sessions::{EndSessionRequest, SessionList, path as sessions_path};
use etcdeck_shared::ws::SESSION_ENDED_CLOSE;
use etcdeck_shared::{ApiError, ErrorCode, path};
use futures::StreamExt;
use support::{Server, config};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

const ALICE: (&str, &str) = ("alice", "alice-password");
const BOB: (&str, &str) = ("bob", "bob-password-1");
/// etcdctl's own 5 s limit is short on a busy test machine (auth changes
/// are raft proposals, and a bcrypt hash for a new password).
const PATIENT: &str = "--command-timeout=30s";
const WALL_TOKEN: &str = "wall-screen-token-0123456789";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.224 Safari/537.36";
const FIREFOX: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:122.0) Gecko/20100101 Firefox/122.0";

fn etcd() -> EtcdCluster {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    etcd.add_user(ALICE.0, ALICE.1, &["/alice/"], &["/alice/"])
        .expect("add alice");
    etcd.add_user(BOB.0, BOB.1, &["/bob/"], &["/bob/"])
        .expect("add bob");
    etcd
}

async fn start(etcd: &EtcdCluster, tune: impl FnOnce(&mut etcdeck::config::Config)) -> Server {
    let mut config = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    tune(&mut config);
    Server::start_anonymous(config).await.expect("etcdeck")
}

/// One browser: its cookie and CSRF token, and its `User-Agent`.
struct Browser {
    cookie: String,
    csrf: String,
    agent: &'static str,
    http: reqwest::Client,
    base: String,
}

impl Browser {
    /// Logs in as `user`, sending `previous` (another browser's cookie, or
    /// this browser's old one) when given.
    async fn log_in(
        server: &Server,
        user: (&str, &str),
        agent: &'static str,
        previous: Option<&str>,
    ) -> Browser {
        let http = reqwest::Client::new();
        let mut request = http
            .post(server.url(edit_path::LOGIN))
            .header("user-agent", agent)
            .json(&LoginRequest::Password {
                user: user.0.into(),
                password: user.1.into(),
            });
        if let Some(previous) = previous {
            request = request.header("cookie", previous);
        }
        let response = request.send().await.expect("login request");
        assert_eq!(response.status(), 200, "login as {}", user.0);
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("cookie pair")
            .to_owned();
        let info: SessionInfo = response.json().await.expect("session info");
        Browser {
            cookie,
            csrf: info.csrf,
            agent,
            http,
            base: server.url(""),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("user-agent", self.agent)
            .send()
            .await
            .expect("request")
    }

    async fn sessions(&self) -> SessionList {
        let response = self.get(sessions_path::SESSIONS).await;
        assert_eq!(response.status(), 200, "sessions list");
        response.json().await.expect("session list")
    }

    /// This browser's own handle, from its list.
    async fn handle(&self) -> String {
        self.sessions()
            .await
            .sessions
            .into_iter()
            .find(|s| s.this_session)
            .expect("this session is listed")
            .handle
    }

    async fn end(&self, handle: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{}", self.base, sessions_path::END_SESSION))
            .header("cookie", &self.cookie)
            .header(CSRF_HEADER, &self.csrf)
            .json(&EndSessionRequest {
                handle: handle.to_owned(),
            })
            .send()
            .await
            .expect("end request")
    }

    /// A read of etcd as this session's user.
    async fn read(&self, key: &str) -> reqwest::Response {
        self.get(&format!("{}?key={}", path::KEY, key)).await
    }
}

async fn error_of(response: reqwest::Response) -> (u16, ApiError) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("ApiError body"))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(server: &Server, cookie: &str) -> Socket {
    let mut request = format!("ws://{}{}", server.addr, path::WS)
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("cookie", cookie.parse().expect("cookie"));
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket opens");
    socket
}

/// The close code the socket gets within `limit`, and how long it took.
async fn close_code(socket: &mut Socket, limit: Duration) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let code = tokio::time::timeout(limit, async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Close(frame)) = message {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("the socket closes in time");
    (code, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_sees_their_own_sessions_and_root_sees_everyone() {
    let etcd = etcd();
    let server = start(&etcd, |_| {}).await;
    let alice_1 = Browser::log_in(&server, ALICE, CHROME, None).await;
    let alice_2 = Browser::log_in(&server, ALICE, FIREFOX, None).await;
    let bob = Browser::log_in(&server, BOB, CHROME, None).await;
    let root = Browser::log_in(&server, ("root", ROOT_PASSWORD), FIREFOX, None).await;
    // Every login has a fresh random session id.
    let cookies = [&alice_1, &alice_2, &bob, &root].map(|b| b.cookie.clone());
    for (i, a) in cookies.iter().enumerate() {
        for b in &cookies[i + 1..] {
            assert_ne!(a, b, "two logins share a session id");
        }
    }

    let list = alice_1.sessions().await;
    assert!(!list.all_users);
    assert_eq!(list.sessions.len(), 2, "{list:?}");
    assert!(
        list.sessions
            .iter()
            .all(|s| s.user.as_deref() == Some("alice"))
    );
    let mine: Vec<_> = list.sessions.iter().filter(|s| s.this_session).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].browser, "Chrome 120 on Linux");
    assert_eq!(mine[0].address.as_deref(), Some("127.0.0.1"));
    assert!(mine[0].started_ms <= mine[0].last_used_ms);
    assert!(mine[0].last_used_ms <= list.now_ms);
    let expires = mine[0].expires_ms.expect("a login has a lifetime");
    assert_eq!(expires - mine[0].started_ms, 12 * 3600 * 1000);
    let other: Vec<_> = list.sessions.iter().filter(|s| !s.this_session).collect();
    assert_eq!(other[0].browser, "Firefox 122 on macOS");
    // A handle is not a cookie: listing never hands another browser's out.
    let body = alice_1
        .get(sessions_path::SESSIONS)
        .await
        .text()
        .await
        .unwrap();
    for cookie in &cookies {
        let value = cookie.split_once('=').expect("name=value").1;
        assert!(!body.contains(value), "the list leaks a cookie");
    }
    // The other browser of the same user sees the same two, itself marked.
    let list_2 = alice_2.sessions().await;
    assert_eq!(list_2.sessions.len(), 2);
    assert_eq!(
        list_2
            .sessions
            .iter()
            .find(|s| s.this_session)
            .unwrap()
            .browser,
        "Firefox 122 on macOS"
    );

    let bobs = bob.sessions().await;
    assert_eq!(bobs.sessions.len(), 1, "{bobs:?}");
    assert_eq!(bobs.sessions[0].user.as_deref(), Some("bob"));
    assert!(bobs.sessions[0].this_session);

    let all = root.sessions().await;
    assert!(all.all_users);
    let mut users: Vec<_> = all.sessions.iter().filter_map(|s| s.user.clone()).collect();
    users.sort();
    assert_eq!(users, ["alice", "alice", "bob", "root"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_in_a_browser_with_a_session_ends_that_session() {
    let etcd = etcd();
    let server = start(&etcd, |_| {}).await;
    let first = Browser::log_in(&server, ALICE, CHROME, None).await;
    assert_eq!(first.read("/alice/x").await.status(), 404);
    // The same browser logs in again (as another user, even): it sends
    // its old cookie, which ends.
    let second = Browser::log_in(&server, BOB, CHROME, Some(&first.cookie)).await;
    assert_ne!(first.cookie, second.cookie);
    let (status, error) = error_of(first.read("/alice/x").await).await;
    assert_eq!((status, error.code), (401, ErrorCode::LoginRequired));
    assert_eq!(second.read("/bob/x").await.status(), 404);
    assert_eq!(second.sessions().await.sessions.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_session_closes_its_websocket_within_a_second() {
    let etcd = etcd();
    // Ending a session writes nothing to etcd: allowed under --read-only.
    let server = start(&etcd, |c| c.server.read_only = true).await;
    let here = Browser::log_in(&server, ALICE, CHROME, None).await;
    let there = Browser::log_in(&server, ALICE, FIREFOX, None).await;
    let bob = Browser::log_in(&server, BOB, CHROME, None).await;
    let root = Browser::log_in(&server, ("root", ROOT_PASSWORD), CHROME, None).await;
    let there_handle = there.handle().await;
    let mut socket = open_socket(&server, &there.cookie).await;

    // Bob may not end alice's session, nor may anyone without the CSRF token.
    let (status, error) = error_of(bob.end(&there_handle).await).await;
    assert_eq!(
        (status, error.code),
        (403, ErrorCode::PermissionDenied),
        "{error:?}"
    );
    assert!(error.message.contains("root"), "{}", error.message);
    let forged = here
        .http
        .post(server.url(sessions_path::END_SESSION))
        .header("cookie", &here.cookie)
        .json(&EndSessionRequest {
            handle: there_handle.clone(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let cross_site = here
        .http
        .post(server.url(sessions_path::END_SESSION))
        .header("cookie", &here.cookie)
        .header(CSRF_HEADER, &here.csrf)
        .header("origin", "https://evil.example")
        .json(&EndSessionRequest {
            handle: there_handle.clone(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert_eq!(there.read("/alice/x").await.status(), 404, "still alive");

    let ended = here.end(&there_handle).await;
    assert_eq!(ended.status(), 204);
    let (code, took) = close_code(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(code, Some(SESSION_ENDED_CLOSE));
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    let (status, error) = error_of(there.read("/alice/x").await).await;
    assert_eq!((status, error.code), (401, ErrorCode::LoginRequired));
    assert_eq!(
        error.message,
        "your session was ended from the Sessions page by alice; log in again"
    );
    assert_eq!(here.sessions().await.sessions.len(), 1);
    // Ending it again finds nothing.
    assert_eq!(here.end(&there_handle).await.status(), 404);

    // Root ends bob's; the audit log says who ended whose, from where.
    let bob_handle = bob.handle().await;
    assert_eq!(root.end(&bob_handle).await.status(), 204);
    assert_eq!(bob.read("/bob/x").await.status(), 401);
    let audit: AuditLog = root
        .get(edit_path::AUDIT)
        .await
        .json()
        .await
        .expect("audit log");
    let ends: Vec<_> = audit
        .entries
        .iter()
        .filter(|e| e.action == "end_session")
        .collect();
    let by_root = ends
        .iter()
        .find(|e| e.user.as_deref() == Some("root"))
        .expect("root's end is audited");
    assert_eq!(by_root.key.display(), "bob");
    assert_eq!(by_root.address.as_deref(), Some("127.0.0.1"));
    assert!(
        ends.iter()
            .any(|e| e.user.as_deref() == Some("alice") && e.key.display() == "alice")
    );
    assert!(
        ends.iter()
            .any(|e| e.user.as_deref() == Some("bob") && e.detail.is_some()),
        "the refused attempt is audited too"
    );

    // Ending one's own session is logging out.
    let own = here.handle().await;
    assert_eq!(here.end(&own).await.status(), 204);
    assert_eq!(here.read("/alice/x").await.status(), 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_its_lifetime_is_refused_with_a_sentence() {
    let etcd = etcd();
    let server = start(&etcd, |c| {
        c.server.session_max = Duration::from_secs(2);
        c.server.wall_token = Some(Password::new(WALL_TOKEN));
    })
    .await;
    let wall = wall_screen(&server).await;
    let browser = Browser::log_in(&server, ALICE, CHROME, None).await;
    let mut socket = open_socket(&server, &browser.cookie).await;
    // In use all along: the lifetime is absolute, not idle time.
    assert_eq!(browser.read("/alice/x").await.status(), 404);
    let (code, _) = close_code(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(code, Some(SESSION_ENDED_CLOSE));
    let (status, error) = error_of(browser.read("/alice/x").await).await;
    assert_eq!((status, error.code), (401, ErrorCode::LoginRequired));
    assert_eq!(
        error.message,
        "your session reached its 2-second limit; log in again"
    );
    // A new login starts a new lifetime.
    let again = Browser::log_in(&server, ALICE, CHROME, Some(&browser.cookie)).await;
    assert_eq!(again.read("/alice/x").await.status(), 404);
    // A wall screen has no lifetime: it would only come back from its
    // cookie at once, so it keeps showing.
    let list = wall.sessions().await;
    assert_eq!(list.sessions.len(), 1, "a wall screen sees only itself");
    assert_eq!(list.sessions[0].expires_ms, None);
    assert_eq!(wall.get(path::STATUS).await.status(), 200);
    assert_eq!(wall.read("/alice/x").await.status(), 404);
    server.stop().await;
}

/// A wall screen logged in with its access token.
async fn wall_screen(server: &Server) -> Browser {
    let http = reqwest::Client::new();
    let response = http
        .post(server.url(edit_path::LOGIN))
        .header("user-agent", CHROME)
        .json(&LoginRequest::Token {
            token: WALL_TOKEN.into(),
        })
        .send()
        .await
        .expect("token login");
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie pair")
        .to_owned();
    let info: SessionInfo = response.json().await.expect("session info");
    Browser {
        cookie,
        csrf: info.csrf,
        agent: CHROME,
        http,
        base: server.url(""),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_asks_the_browser_to_clear_its_cache_and_storage() {
    let etcd = etcd();
    let server = start(&etcd, |_| {}).await;
    let browser = Browser::log_in(&server, ALICE, CHROME, None).await;
    let out = browser
        .http
        .post(server.url(edit_path::LOGOUT))
        .header("cookie", &browser.cookie)
        .header(CSRF_HEADER, &browser.csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 204);
    assert_eq!(out.headers()["clear-site-data"], r#""cache", "storage""#);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(browser.read("/alice/x").await.status(), 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_password_or_deleted_user_ends_the_session_at_its_next_read() {
    let etcd = etcd();
    let server = start(&etcd, |_| {}).await;
    let alice = Browser::log_in(&server, ALICE, CHROME, None).await;
    let bob = Browser::log_in(&server, BOB, CHROME, None).await;
    let mut alice_socket = open_socket(&server, &alice.cookie).await;
    assert_eq!(alice.read("/alice/x").await.status(), 404);
    assert_eq!(bob.read("/bob/x").await.status(), 404);

    etcd.etcdctl_with_stdin(
        &["user", "passwd", ALICE.0, "--interactive=false", PATIENT],
        b"alice-new-password\n",
    )
    .expect("change alice's password");
    let (status, error) = error_of(alice.read("/alice/x").await).await;
    assert_eq!(
        (status, error.code),
        (401, ErrorCode::LoginRequired),
        "{error:?}"
    );
    let sentence = "etcd no longer accepts the password of user alice (the user was deleted or its password changed); log in again";
    assert_eq!(error.message, sentence);
    let (code, _) = close_code(&mut alice_socket, Duration::from_secs(5)).await;
    assert_eq!(code, Some(SESSION_ENDED_CLOSE));
    // The session has ended: the next request is told why as well.
    let (status, error) = error_of(alice.get(sessions_path::SESSIONS).await).await;
    assert_eq!((status, error.message.as_str()), (401, sentence));
    // The new password logs in.
    let again = Browser::log_in(&server, ("alice", "alice-new-password"), CHROME, None).await;
    assert_eq!(again.read("/alice/x").await.status(), 404);

    etcd.etcdctl(&["user", "delete", BOB.0])
        .expect("delete bob");
    let (status, error) = error_of(bob.read("/bob/x").await).await;
    assert_eq!(status, 401, "{error:?}");
    assert!(
        error
            .message
            .starts_with("etcd no longer accepts the password of user bob"),
        "{}",
        error.message
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrelated_change_to_etcd_users_keeps_every_session() {
    let etcd = etcd();
    let server = start(&etcd, |_| {}).await;
    let alice = Browser::log_in(&server, ALICE, CHROME, None).await;
    let mut socket = open_socket(&server, &alice.cookie).await;
    assert_eq!(alice.read("/alice/x").await.status(), 404);
    // Another user is given a role and a permission: etcd's auth revision
    // moves on, and alice's token must keep working or be renewed.
    etcd.etcdctl(&["role", "add", "extra-role", PATIENT])
        .expect("role");
    etcd.etcdctl(&[
        "role",
        "grant-permission",
        "extra-role",
        "--prefix=true",
        "read",
        "/extra/",
        PATIENT,
    ])
    .expect("grant");
    etcd.etcdctl(&["user", "grant-role", BOB.0, "extra-role", PATIENT])
        .expect("grant role");
    for _ in 0..3 {
        assert_eq!(alice.read("/alice/x").await.status(), 404);
    }
    assert_eq!(alice.sessions().await.sessions.len(), 1);
    // The socket is still open: no close frame within a second.
    let closed = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Close(_)) = message {
                return true;
            }
        }
        true
    })
    .await;
    assert!(closed.is_err(), "the socket closed");
    server.stop().await;
}
