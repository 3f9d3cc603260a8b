//! Browsing a real, auth-enabled etcd through etcdeck's HTTP API: levels,
//! paging, binary keys, leases, a user limited to one prefix, start-up
//! failures, and etcd going away and coming back.

mod support;

use std::time::Duration;

use etcd_client::{Client, ConnectOptions, PutOptions, Txn, TxnOp};
use etcdeck_shared::{Bytes, Connection, ErrorCode};
use support::{Server, config, eventually};
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

fn etcd() -> EtcdCluster {
    EtcdCluster::start(ClusterOptions::single().with_auth()).expect("start etcd")
}

async fn root_client(etcd: &EtcdCluster) -> Client {
    let options = ConnectOptions::new().with_user("root", ROOT_PASSWORD);
    Client::connect(etcd.endpoints(), Some(options))
        .await
        .expect("connect as root")
}

fn names(children: &[etcdeck_shared::Child]) -> Vec<String> {
    children.iter().map(|c| c.name.display()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levels_show_children_with_kinds_and_counts() {
    let etcd = etcd();
    for (key, value) in [
        ("/app/api/prod/replicas", "3"),
        ("/app/api/prod/image", "api:1.4"),
        ("/app/api/dev/replicas", "1"),
        ("/app/db", "{\"host\":\"db\"}"),
        ("/app/db/primary", "10.0.0.1"),
        ("/app/db-replica", "10.0.0.2"),
        ("/app/feature-flags", "a: true"),
        ("services/web/1", "{}"),
    ] {
        etcd.etcdctl(&["put", key, value]).expect("put");
    }
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");

    let root = server.whole_level(b"", 100).await;
    assert_eq!(names(&root), ["", "services"]);
    assert!(root.iter().all(|c| c.has_children && !c.is_key));
    assert_eq!(root[0].count, Some(7));

    let app = server.whole_level(b"/app/", 100).await;
    assert_eq!(names(&app), ["api", "db", "db-replica", "feature-flags"]);
    let db = &app[1];
    assert!(
        db.is_key && db.has_children && db.count == Some(1),
        "{db:?}"
    );
    assert!(app[2].is_key && !app[2].has_children && app[2].count.is_none());
    assert_eq!(app[0].count, Some(3));

    // Same listing one child at a time through cursors.
    assert_eq!(names(&server.whole_level(b"/app/", 1).await), names(&app));

    let kv = server.key(b"/app/db").await.expect("key");
    assert_eq!(kv.value, Bytes::from("{\"host\":\"db\"}"));
    assert_eq!(kv.version, 1);
    assert!(kv.lease.is_none());

    let (code, err) = server.key(b"/app/missing").await.expect_err("missing key");
    assert_eq!((code, err.code), (404, ErrorCode::NotFound));
    // Missing as of a revision at least that of the key read before it.
    assert!(err.revision.is_some_and(|r| r >= kv.revision), "{err:?}");
    let (code, err) = server
        .get("/api/v1/level?prefix=%2Fapp%2F&limit=ten")
        .await
        .json::<etcdeck_shared::ApiError>()
        .await
        .map(|e| (400, e))
        .expect("error body");
    assert_eq!((code, err.code), (400, ErrorCode::BadRequest));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_of_100_000_children_is_paged() {
    let etcd = etcd();
    let mut client = root_client(&etcd).await;
    const N: usize = 100_000;
    let keys: Vec<String> = (0..N).map(|i| format!("/wide/item-{i:06}")).collect();
    for chunk in keys.chunks(128) {
        let ops = chunk
            .iter()
            .map(|k| TxnOp::put(k.as_str(), "v", None))
            .collect::<Vec<_>>();
        client
            .txn(Txn::new().and_then(ops))
            .await
            .expect("seed txn");
    }
    // A neighbour subtree that must not leak into the level.
    etcd.etcdctl(&["put", "/wide-other/x", "1"]).expect("put");
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");

    let first = server
        .level(b"/wide/", None, 1000)
        .await
        .expect("first page");
    assert_eq!(first.children.len(), 1000);
    assert!(first.next.is_some());

    let all = server
        .whole_level(b"/wide/", etcdeck_shared::MAX_LEVEL_PAGE)
        .await;
    assert_eq!(all.len(), N);
    for (child, key) in all.iter().zip(&keys) {
        assert_eq!(child.name.display(), key["/wide/".len()..]);
        assert!(child.is_key && !child.has_children);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_keys_and_values_survive_the_round_trip() {
    let etcd = etcd();
    let mut client = root_client(&etcd).await;
    let key = b"/bin/\xff\x00k\xfe".to_vec();
    let value = vec![0u8, 159, 146, 150, 0xff];
    client
        .put(key.clone(), value.clone(), None)
        .await
        .expect("put");
    client
        .put(b"/bin/dir\x80/x".to_vec(), "1", None)
        .await
        .expect("put");
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");

    let level = server.whole_level(b"/bin/", 10).await;
    assert_eq!(level.len(), 2);
    let leaf = level.iter().find(|c| c.is_key).expect("binary key");
    assert_eq!(leaf.name.as_slice(), b"\xff\x00k\xfe");
    assert_eq!(leaf.name.display(), "\\xff\\x00k\\xfe");
    let dir = level.iter().find(|c| c.has_children).expect("binary dir");
    assert_eq!(dir.name.as_slice(), b"dir\x80");
    assert_eq!(server.whole_level(b"/bin/dir\x80/", 10).await.len(), 1);

    let kv = server.key(&key).await.expect("binary key");
    assert_eq!(kv.key.as_slice(), key.as_slice());
    assert_eq!(kv.value.as_slice(), value.as_slice());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_keys_show_their_lease_and_ttl() {
    let etcd = etcd();
    let mut client = root_client(&etcd).await;
    let lease = client.lease_grant(120, None).await.expect("grant");
    client
        .put(
            "/svc/web-1",
            "10.0.0.5:80",
            Some(PutOptions::new().with_lease(lease.id())),
        )
        .await
        .expect("put");
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");
    let kv = server.key(b"/svc/web-1").await.expect("key");
    let shown = kv.lease.expect("lease shown");
    assert_eq!(shown.id.0, lease.id());
    assert_eq!(shown.granted_ttl, 120);
    let left = shown.remaining_ttl.expect("remaining ttl");
    assert!((100..=120).contains(&left), "{left}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_limited_to_one_prefix_reads_it_and_is_told_elsewhere() {
    let etcd = etcd();
    etcd.add_user("viewer", "viewer-pw", &["/app/"], &[])
        .expect("add user");
    etcd.etcdctl(&["put", "/app/a/b", "1"]).expect("put");
    etcd.etcdctl(&["put", "/app/c", "2"]).expect("put");
    etcd.etcdctl(&["put", "/secret/token", "s3cr3t"])
        .expect("put");
    let server = Server::start(config(etcd.endpoints(), Some(("viewer", "viewer-pw"))))
        .await
        .expect("start");
    assert_eq!(server.status().await.user.as_deref(), Some("viewer"));

    assert_eq!(names(&server.whole_level(b"/app/", 10).await), ["a", "c"]);
    assert_eq!(
        server.key(b"/app/c").await.expect("allowed key").value,
        Bytes::from("2")
    );

    for denied in [
        server.level(b"", None, 10).await.map(|_| ()),
        server.level(b"/secret/", None, 10).await.map(|_| ()),
    ] {
        let (code, err) = denied.expect_err("denied level");
        assert_eq!((code, err.code), (403, ErrorCode::PermissionDenied));
        assert!(err.message.contains("permission denied"), "{}", err.message);
    }
    let (code, err) = server.key(b"/secret/token").await.expect_err("denied key");
    assert_eq!((code, err.code), (403, ErrorCode::PermissionDenied));
    assert!(!err.message.contains("s3cr3t"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stops_start_up_with_one_clear_line() {
    let etcd = etcd();
    let err = Server::start(config(etcd.endpoints(), Some(("root", "wrong"))))
        .await
        .err()
        .expect("refused");
    let line = err.to_string();
    assert!(line.contains("rejected the credentials"), "{line}");
    assert!(!line.contains('\n'), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_down_then_up_is_reported_and_recovered() {
    let mut etcd = etcd();
    etcd.etcdctl(&["put", "/app/x", "1"]).expect("put");
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start");
    assert_eq!(server.healthz().await.0, 200);

    etcd.kill(0).expect("kill etcd");
    let (code, connection) = server.healthz().await;
    assert_eq!(code, 503);
    assert!(matches!(connection, Connection::Disconnected { .. }));
    let (code, err) = server.key(b"/app/x").await.expect_err("etcd is down");
    assert_eq!((code, err.code), (503, ErrorCode::EtcdUnavailable));
    eventually(
        Duration::from_secs(10),
        "status to say disconnected",
        || async {
            matches!(
                server.status().await.connection,
                Connection::Disconnected { .. }
            )
        },
    )
    .await;

    // A restarted etcd has forgotten every auth token: reads must
    // re-authenticate by themselves.
    etcd.restart(0).expect("restart etcd");
    eventually(Duration::from_secs(30), "etcdeck to reconnect", || async {
        server.key(b"/app/x").await.is_ok()
    })
    .await;
    assert_eq!(server.healthz().await.0, 200);
    eventually(
        Duration::from_secs(10),
        "status to say connected",
        || async {
            matches!(
                server.status().await.connection,
                Connection::Connected { .. }
            )
        },
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_etcd_at_start_is_retried_until_it_answers() {
    let port = xtask::harness::free_port().expect("port");
    let endpoint = format!("http://127.0.0.1:{port}");
    let server = Server::start(config(vec![endpoint], None))
        .await
        .expect("serves while etcd is away");
    let (code, connection) = server.healthz().await;
    assert_eq!(code, 503);
    let Connection::Disconnected { reason, .. } = connection else {
        panic!("connected to nothing")
    };
    assert!(!reason.is_empty());

    let mut options = ClusterOptions::single();
    options.client_ports = Some(vec![port]);
    let _etcd = EtcdCluster::start(options).expect("start etcd on the awaited port");
    eventually(Duration::from_secs(40), "etcdeck to connect", || async {
        server.healthz().await.0 == 200
    })
    .await;
    server.stop().await;
}
