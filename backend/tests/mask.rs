//! Masked values against a real etcd with auth: a key that looks secret
//! (`/app/db/password`, the default `*password*` pattern) never has its value
//! in what a user who may read it receives (the key answer, its history,
//! the answers of guarded writes, the WebSocket frames of a subscription
//! while it changes, history replayed included), reveal is refused to
//! anyone but etcd's root, and root's reveal answers the value and is in
//! the audit log without it.

mod support;

use std::time::Duration;

use base64::Engine;
use etcdeck_shared::edit::{
    AuditLog, CopyRequest, History, LeaseChoice, PutRequest, Written, path as edit_path,
};
use etcdeck_shared::mask::{REVEAL_PATH, REVEAL_ROOT_ONLY, RevealRequest};
use etcdeck_shared::ws::{ClientMessage, SubId, WatchRange};
use etcdeck_shared::{Bytes, KeyValue, Revision, path};
use futures::{SinkExt, StreamExt};
use support::live::root_server;
use support::{Server, config};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// May read and write `/app/`; not root.
const APP: (&str, &str) = ("app", "app-password");
const SECRET_KEY: &str = "/app/db/password";
const FIRST: &str = "first-secret-hunter2";
const SECOND: &str = "second-secret-swordfish";
const THIRD: &str = "third-secret-written-by-app";
const LIMIT: Duration = Duration::from_secs(10);

fn etcd() -> EtcdCluster {
    let etcd = EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd");
    etcd.add_user(APP.0, APP.1, &[], &["/app/"])
        .expect("add app");
    etcd.etcdctl(&["put", SECRET_KEY, FIRST]).expect("put");
    etcd.etcdctl(&["put", "/app/db/host", "db.internal"])
        .expect("put");
    etcd
}

/// `text` holds none of the secret values, as text or base64.
fn assert_no_secret(what: &str, text: &str) {
    for secret in [FIRST, SECOND, THIRD] {
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(
            !text.contains(secret) && !text.contains(&encoded),
            "{what} carries {secret}: {text}"
        );
    }
}

async fn text_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

fn key_path(key: &str) -> String {
    format!("{}?key={}", path::KEY, Bytes::from(key).to_url())
}

fn reveal(key: &str, revision: Option<Revision>) -> RevealRequest {
    RevealRequest {
        key: Bytes::from(key),
        revision,
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The live WebSocket with this server's session cookie, read as raw text.
async fn socket(server: &Server) -> Socket {
    let mut request = format!("ws://{}{}", server.addr, path::WS)
        .into_client_request()
        .expect("request");
    let cookie = server.cookie().expect("logged in");
    request
        .headers_mut()
        .insert("cookie", cookie.parse().expect("cookie"));
    tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket")
        .0
}

async fn send(socket: &mut Socket, message: &ClientMessage) {
    let text = serde_json::to_string(message).expect("json");
    socket.send(Message::Text(text.into())).await.expect("send");
}

/// Every text frame until one contains `marker`.
async fn frames_until(socket: &mut Socket, marker: &str) -> Vec<String> {
    let mut frames = Vec::new();
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no frame with {marker} within {LIMIT:?}: {frames:#?}"));
        match next {
            Some(Ok(Message::Text(text))) => {
                let text = text.as_str().to_owned();
                let done = text.contains(marker);
                frames.push(text);
                if done {
                    return frames;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("WebSocket ended: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_may_read_a_secret_key_never_receives_its_value() {
    let etcd = etcd();
    let server = Server::start(config(etcd.endpoints(), Some(APP)))
        .await
        .expect("start etcdeck");

    // The key answer: hidden, with its size and the pattern.
    let (status, body) = text_of(server.get(&key_path(SECRET_KEY)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_no_secret("the key answer", &body);
    let kv: KeyValue = serde_json::from_str(&body).expect("KeyValue");
    let masked = kv.masked.expect("masked");
    assert_eq!(
        (masked.pattern.as_str(), masked.size),
        ("*password*", FIRST.len() as u64)
    );
    assert!(kv.value.is_empty());
    // Other keys are untouched.
    let host = server.key(b"/app/db/host").await.expect("host");
    assert_eq!(
        (host.value, host.masked),
        (Bytes::from("db.internal"), None)
    );

    // A subscription, with previous values, while the key changes; and one
    // replaying history from revision 1.
    let mut ws = socket(&server).await;
    send(
        &mut ws,
        &ClientMessage::Subscribe {
            id: SubId(1),
            range: WatchRange::prefix("/app/"),
            from: None,
            prev_kv: true,
        },
    )
    .await;
    frames_until(&mut ws, r#""type":"subscribed""#).await;
    etcd.etcdctl(&["put", SECRET_KEY, SECOND]).expect("put");
    etcd.etcdctl(&["put", "/app/db/host", "marker-after-the-secret"])
        .expect("put");
    let marker = base64::engine::general_purpose::STANDARD.encode("marker-after-the-secret");
    let live = frames_until(&mut ws, &marker).await;
    let secret_key = base64::engine::general_purpose::STANDARD.encode(SECRET_KEY);
    assert!(
        live.iter()
            .any(|f| f.contains(&secret_key) && f.contains(r#""masked":{"pattern":"*password*""#)),
        "the change of the secret key arrives, masked: {live:#?}"
    );
    send(
        &mut ws,
        &ClientMessage::Subscribe {
            id: SubId(2),
            range: WatchRange::key(SECRET_KEY),
            from: Some(Revision(1)),
            prev_kv: true,
        },
    )
    .await;
    let replayed = frames_until(&mut ws, r#""type":"events","id":2"#).await;
    for frame in live.iter().chain(&replayed) {
        assert_no_secret("a WebSocket frame", frame);
    }

    // Its history.
    let (status, body) = text_of(
        server
            .get(&format!(
                "{}?key={}",
                edit_path::HISTORY,
                Bytes::from(SECRET_KEY).to_url()
            ))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_no_secret("the history", &body);
    let history: History = serde_json::from_str(&body).expect("History");
    assert_eq!(history.versions.len(), 2);
    assert!(history.versions.iter().all(|v| v.masked.is_some()));

    // A guarded write's answers: the conflict and the written key.
    let current = server.key(SECRET_KEY.as_bytes()).await.expect("key");
    let stale = PutRequest {
        key: Bytes::from(SECRET_KEY),
        value: Bytes::from(THIRD),
        expect_mod_revision: Revision(current.mod_revision.0 - 1),
        lease: LeaseChoice::Keep,
    };
    let (status, body) = text_of(server.post(edit_path::PUT, &stale).await).await;
    assert_eq!(status, 409, "{body}");
    assert_no_secret("the conflict", &body);
    assert!(body.contains(r#""masked""#), "{body}");
    let fresh = PutRequest {
        expect_mod_revision: current.mod_revision,
        ..stale
    };
    let (status, body) = text_of(server.post(edit_path::PUT, &fresh).await).await;
    assert_eq!(status, 200, "{body}");
    assert_no_secret("the written key", &body);
    let written: Written = serde_json::from_str(&body).expect("Written");
    assert!(written.kv.expect("kv").masked.is_some());

    // A copy may not move the value under a name that is not masked.
    let copy = CopyRequest {
        from: Bytes::from(SECRET_KEY),
        to: Bytes::from("/app/db/pw-copy"),
        prefix: false,
        rename: false,
        revision: written.revision,
    };
    let (status, body) = text_of(server.post(edit_path::COPY, &copy).await).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("looks secret"), "{body}");
    assert!(
        server.key(b"/app/db/pw-copy").await.is_err(),
        "nothing copied"
    );

    // Reveal: refused with the sentence, and audited.
    let (status, body) = text_of(server.post(REVEAL_PATH, &reveal(SECRET_KEY, None)).await).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(REVEAL_ROOT_ONLY), "{body}");
    assert_no_secret("the refused reveal", &body);
    let audit: AuditLog = server.get_json(edit_path::AUDIT).await.expect("audit");
    let entry = audit
        .entries
        .iter()
        .find(|e| e.action == "reveal")
        .expect("the refused reveal is audited");
    assert_eq!(entry.user.as_deref(), Some("app"));
    assert_eq!(
        entry.result,
        etcdeck_shared::edit::AuditResult::Denied,
        "{entry:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_sees_it_hidden_reveals_it_and_the_reveal_is_audited_without_the_value() {
    let etcd = etcd();
    let first_revision = {
        let out = etcd
            .etcdctl(&["get", SECRET_KEY, "-w", "json"])
            .expect("get");
        let json: serde_json::Value = serde_json::from_str(&out).expect("json");
        json["kvs"][0]["mod_revision"].as_i64().expect("revision")
    };
    etcd.etcdctl(&["put", SECRET_KEY, SECOND]).expect("put");
    let server = root_server(&etcd).await;

    // Root sees it hidden too, until it reveals it.
    let kv = server.key(SECRET_KEY.as_bytes()).await.expect("key");
    assert!(kv.masked.is_some() && kv.value.is_empty(), "{kv:?}");
    let shown: KeyValue = server
        .post_json(REVEAL_PATH, &reveal(SECRET_KEY, None))
        .await
        .expect("reveal");
    assert_eq!((shown.value, shown.masked), (Bytes::from(SECOND), None));
    let older: KeyValue = server
        .post_json(
            REVEAL_PATH,
            &reveal(SECRET_KEY, Some(Revision(first_revision))),
        )
        .await
        .expect("reveal at a revision");
    assert_eq!(older.value, Bytes::from(FIRST));
    // A key that is not masked is just its value.
    let host: KeyValue = server
        .post_json(REVEAL_PATH, &reveal("/app/db/host", None))
        .await
        .expect("reveal of a plain key");
    assert_eq!(host.value, Bytes::from("db.internal"));

    // Checked like a write: no CSRF token, no reveal.
    let cookie = server.cookie().expect("cookie");
    let refused = reqwest::Client::new()
        .post(server.url(REVEAL_PATH))
        .header(reqwest::header::COOKIE, cookie)
        .json(&reveal(SECRET_KEY, None))
        .send()
        .await
        .expect("request");
    let (status, body) = text_of(refused).await;
    assert_eq!(status, 403, "{body}");
    assert_no_secret("the reveal without a CSRF token", &body);

    // The audit log lists the reveals, with the address and never the value.
    let (status, body) = text_of(server.get(edit_path::AUDIT).await).await;
    assert_eq!(status, 200, "{body}");
    assert_no_secret("the audit log", &body);
    let audit: AuditLog = serde_json::from_str(&body).expect("AuditLog");
    let reveals: Vec<_> = audit
        .entries
        .iter()
        .filter(|e| e.action == "reveal" && e.key == Bytes::from(SECRET_KEY))
        .collect();
    assert_eq!(reveals.len(), 3, "{reveals:#?}");
    let ok = reveals
        .iter()
        .filter(|e| e.result == etcdeck_shared::edit::AuditResult::Ok)
        .count();
    assert_eq!(ok, 2, "{reveals:#?}");
    for entry in &reveals {
        assert_eq!(entry.user.as_deref(), Some("root"));
        assert_eq!(entry.address.as_deref(), Some("127.0.0.1"));
    }
    server.stop().await;

    // With masking off, values are shown as etcd's RBAC allows.
    let mut open = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    open.server.masks = etcdeck::config::Masks::off();
    let server = Server::start(open).await.expect("start etcdeck");
    let kv = server.key(SECRET_KEY.as_bytes()).await.expect("key");
    assert_eq!((kv.value, kv.masked), (Bytes::from(SECOND), None));
    server.stop().await;
}
