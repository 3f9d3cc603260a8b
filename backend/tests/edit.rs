//! Guarded writes, history and the audit log against a real, auth-enabled
//! etcd, through etcdeck's HTTP API: compare-and-swap conflicts, leases kept
//! across edits (with leases granted by `etcdctl`), prefix deletes in one
//! revision, copies and renames, history across compaction, reads of the
//! past, a user limited to one prefix, and every write in the audit log.

mod support;

use etcd_client::{Client, GetOptions};
use etcdeck_shared::edit::{
    AuditLog, AuditResult, CopyRequest, DeletePrefixRequest, DeleteRequest, History, LeaseChoice,
    LeaseGrantRequest, LeaseGranted, LeaseKept, LeaseRequest, MAX_COPY_KEYS, MAX_HISTORY_VERSIONS,
    MAX_VALUE_BYTES, PrefixPreview, PutRequest, Written, path,
};
use etcdeck_shared::{ApiError, Bytes, ErrorCode, KeyValue, LeaseId, Level, Revision};
use serde_json::Value;
use support::Server;
use support::live::{root_client, root_server, server_as, start_etcd};
use xtask::harness::{ClusterOptions, EtcdCluster};

fn etcd() -> EtcdCluster {
    start_etcd(ClusterOptions::single().with_auth())
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

async fn value_at(client: &mut Client, key: &str, at: Option<i64>) -> Option<(Vec<u8>, i64)> {
    let options = at.map(|at| GetOptions::new().with_revision(at));
    let response = client.get(key, options).await.expect("get");
    response
        .kvs()
        .first()
        .map(|kv| (kv.value().to_vec(), kv.lease()))
}

async fn put(
    server: &Server,
    key: &str,
    value: &[u8],
    expect: i64,
    lease: LeaseChoice,
) -> Result<Written, (u16, Value)> {
    server
        .post_json(
            path::PUT,
            &PutRequest {
                key: Bytes::from(key),
                value: Bytes::from(value),
                expect_mod_revision: Revision(expect),
                lease,
            },
        )
        .await
}

fn api_error(body: Value) -> ApiError {
    serde_json::from_value(body).expect("an ApiError body")
}

async fn audit(server: &Server) -> AuditLog {
    server.get_json(path::AUDIT).await.expect("audit")
}

/// The newest audit entry for `action` on `key`.
async fn audited(server: &Server, action: &str, key: &str) -> etcdeck_shared::edit::AuditEntry {
    audit(server)
        .await
        .entries
        .into_iter()
        .find(|e| e.action == action && e.key == Bytes::from(key))
        .unwrap_or_else(|| panic!("no audit entry for {action} {key}"))
}

fn etcdctl_lease(etcd: &EtcdCluster, ttl: &str) -> i64 {
    let out = etcd.etcdctl(&["lease", "grant", ttl]).expect("lease grant");
    // "lease 694d7b8f2b5a2a0c granted with TTL(600s)"
    let hex = out.split_whitespace().nth(1).expect("lease id");
    i64::from_str_radix(hex, 16).expect("hex lease id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_puts_and_deletes_write_exactly_once() {
    let etcd = etcd();
    let server = root_server(&etcd).await;
    let mut client = root_client(&etcd.endpoints()).await;

    // Create, then two writers who both saw the same version.
    let created = put(&server, "/cfg/a", b"v1", 0, LeaseChoice::Keep)
        .await
        .expect("create");
    let kv = created.kv.clone().expect("kv as written");
    assert_eq!((kv.value.clone(), kv.version), (Bytes::from("v1"), 1));
    assert_eq!(kv.mod_revision, created.revision);
    let seen = created.revision.0;
    let first = put(&server, "/cfg/a", b"from-alice", seen, LeaseChoice::Keep)
        .await
        .expect("first writer");
    let (code, body) = put(&server, "/cfg/a", b"from-bob", seen, LeaseChoice::Keep)
        .await
        .expect_err("second writer refused");
    assert_eq!(code, 409);
    let conflict: etcdeck_shared::edit::Conflict = serde_json::from_value(body).expect("conflict");
    let current = conflict.current.expect("current value");
    assert_eq!(current.value, Bytes::from("from-alice"));
    assert_eq!(current.mod_revision, first.revision);
    assert!(
        conflict.message.contains("changed since you read it"),
        "{}",
        conflict.message
    );
    // Exactly one write: bob's value is nowhere, v1 is still in history.
    assert_eq!(revision(&mut client).await, first.revision.0);
    assert_eq!(
        value_at(&mut client, "/cfg/a", Some(seen)).await.unwrap().0,
        b"v1"
    );
    assert_eq!(
        value_at(&mut client, "/cfg/a", None).await.unwrap().0,
        b"from-alice"
    );
    // Creating a key that exists is a conflict too.
    let (code, _) = put(&server, "/cfg/a", b"again", 0, LeaseChoice::Keep)
        .await
        .expect_err("exists");
    assert_eq!(code, 409);

    // Bad input: nothing sent.
    let before = revision(&mut client).await;
    let (code, body) = put(&server, "", b"v", 0, LeaseChoice::Keep)
        .await
        .expect_err("empty key");
    let err = api_error(body);
    assert_eq!((code, err.code), (400, ErrorCode::BadRequest));
    assert_eq!(err.message, "the key must not be empty");
    let big = vec![b'x'; MAX_VALUE_BYTES + 1];
    let (code, body) = put(&server, "/cfg/big", &big, 0, LeaseChoice::Keep)
        .await
        .expect_err("too large");
    let err = api_error(body);
    assert_eq!((code, err.code), (413, ErrorCode::TooLarge));
    assert!(
        err.message.contains(&(MAX_VALUE_BYTES + 1).to_string()),
        "{}",
        err.message
    );
    assert!(
        err.message.contains(&MAX_VALUE_BYTES.to_string()),
        "{}",
        err.message
    );
    // A body far over the limit is still a JSON ApiError. etcdeck answers
    // once it has read the limit and closes the connection with the rest
    // unread, so the client may meet a broken pipe while still sending,
    // before it reads the answer: such an attempt says nothing, and is made
    // again (a browser never sends it: the page refuses the value first).
    let huge = vec![b'x'; 4 * MAX_VALUE_BYTES];
    let request = PutRequest {
        key: Bytes::from("/cfg/big"),
        value: Bytes::from(huge),
        expect_mod_revision: Revision(0),
        lease: LeaseChoice::Keep,
    };
    let mut answer = None;
    for _ in 0..5 {
        match server.try_post(path::PUT, &request).await {
            Ok(response) => {
                answer = Some(response);
                break;
            }
            Err(err) if err.is_request() => continue,
            Err(err) => panic!("put: {err}"),
        }
    }
    let answer = answer.expect("an answer to the oversized put within 5 attempts");
    let code = answer.status().as_u16();
    let body: Value = answer.json().await.expect("a JSON body");
    assert_eq!((code, api_error(body).code), (413, ErrorCode::TooLarge));
    assert_eq!(revision(&mut client).await, before);
    assert!(value_at(&mut client, "/cfg/big", None).await.is_none());
    // The largest value allowed goes through.
    let largest = vec![b'y'; MAX_VALUE_BYTES];
    put(&server, "/cfg/big", &largest, 0, LeaseChoice::Keep)
        .await
        .expect("largest value");

    // Deletes are guarded the same way.
    let now = first.revision.0;
    let deleted: Written = server
        .post_json(
            path::DELETE,
            &DeleteRequest {
                key: Bytes::from("/cfg/a"),
                expect_mod_revision: Revision(now),
            },
        )
        .await
        .expect("delete");
    assert!(value_at(&mut client, "/cfg/a", None).await.is_none());
    let (code, body) = server
        .post_json::<Written>(
            path::DELETE,
            &DeleteRequest {
                key: Bytes::from("/cfg/a"),
                expect_mod_revision: Revision(now),
            },
        )
        .await
        .expect_err("already deleted");
    assert_eq!(code, 409);
    let conflict: etcdeck_shared::edit::Conflict = serde_json::from_value(body).expect("conflict");
    assert_eq!(conflict.current, None);
    assert!(
        conflict.message.contains("no longer exists"),
        "{}",
        conflict.message
    );

    // Every attempt is in the audit log, newest first.
    let log = audit(&server).await.entries;
    let puts: Vec<AuditResult> = log
        .iter()
        .filter(|e| e.action == "put" && e.key == Bytes::from("/cfg/a"))
        .map(|e| e.result)
        .collect();
    assert_eq!(
        puts,
        [
            AuditResult::Conflict,
            AuditResult::Conflict,
            AuditResult::Ok,
            AuditResult::Ok
        ]
    );
    let alice = log
        .iter()
        .find(|e| e.action == "put" && e.new_revision == Some(first.revision))
        .expect("alice's put");
    assert_eq!(alice.old_revision, Some(Revision(seen)));
    assert_eq!(alice.user.as_deref(), Some("root"));
    let deletes: Vec<(AuditResult, Option<Revision>)> = log
        .iter()
        .filter(|e| e.action == "delete")
        .map(|e| (e.result, e.new_revision))
        .collect();
    assert_eq!(
        deletes,
        [
            (AuditResult::Conflict, None),
            (AuditResult::Ok, Some(deleted.revision))
        ]
    );
    assert!(
        log.iter()
            .any(|e| e.key == Bytes::from("/cfg/big") && e.result == AuditResult::Failed)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_kept_detached_attached_granted_and_revoked() {
    let etcd = etcd();
    let server = root_server(&etcd).await;
    let mut client = root_client(&etcd.endpoints()).await;
    let lease = etcdctl_lease(&etcd, "600");
    etcd.etcdctl(&["put", "--lease", &format!("{lease:x}"), "/svc/a", "one"])
        .expect("put with lease");
    let kv: KeyValue = server.key(b"/svc/a").await.expect("key");
    assert_eq!(kv.lease.as_ref().map(|l| l.id), Some(LeaseId(lease)));

    let kept = put(
        &server,
        "/svc/a",
        b"two",
        kv.mod_revision.0,
        LeaseChoice::Keep,
    )
    .await
    .expect("edit keeping the lease");
    assert_eq!(
        value_at(&mut client, "/svc/a", None).await,
        Some((b"two".to_vec(), lease))
    );
    let shown = kept.kv.expect("kv");
    assert_eq!(
        shown.lease.map(|l| (l.id, l.granted_ttl)),
        Some((LeaseId(lease), 600))
    );

    let detached = put(
        &server,
        "/svc/a",
        b"three",
        kept.revision.0,
        LeaseChoice::Detach,
    )
    .await
    .expect("detach");
    assert_eq!(
        value_at(&mut client, "/svc/a", None).await,
        Some((b"three".to_vec(), 0))
    );
    let attached = put(
        &server,
        "/svc/a",
        b"four",
        detached.revision.0,
        LeaseChoice::Attach { id: LeaseId(lease) },
    )
    .await
    .expect("attach");
    assert_eq!(
        value_at(&mut client, "/svc/a", None).await,
        Some((b"four".to_vec(), lease))
    );
    // A new key with Keep has no lease.
    put(&server, "/svc/new", b"n", 0, LeaseChoice::Keep)
        .await
        .expect("new");
    assert_eq!(
        value_at(&mut client, "/svc/new", None).await,
        Some((b"n".to_vec(), 0))
    );

    // An unknown lease: 404, nothing written.
    let (code, body) = put(
        &server,
        "/svc/a",
        b"five",
        attached.revision.0,
        LeaseChoice::Attach {
            id: LeaseId(0x1234),
        },
    )
    .await
    .expect_err("unknown lease");
    let err = api_error(body);
    assert_eq!((code, err.code), (404, ErrorCode::NotFound));
    assert!(
        err.message.contains("1234") && err.message.contains("does not exist"),
        "{}",
        err.message
    );
    assert_eq!(
        value_at(&mut client, "/svc/a", None).await.unwrap().0,
        b"four"
    );

    // Lease actions.
    let granted: LeaseGranted = server
        .post_json(path::LEASE_GRANT, &LeaseGrantRequest { ttl: 120 })
        .await
        .expect("grant");
    assert_eq!(granted.ttl, 120);
    let kept: LeaseKept = server
        .post_json(path::LEASE_KEEP_ALIVE, &LeaseRequest { id: granted.id })
        .await
        .expect("keep alive");
    assert!((100..=120).contains(&kept.ttl), "{}", kept.ttl);
    for ttl in [0, -5, 10_000_000_000] {
        let (code, _) = server
            .post_json::<LeaseGranted>(path::LEASE_GRANT, &LeaseGrantRequest { ttl })
            .await
            .expect_err("bad ttl");
        assert_eq!(code, 400);
    }
    let _: Written = server
        .post_json(path::LEASE_REVOKE, &LeaseRequest { id: LeaseId(lease) })
        .await
        .expect("revoke");
    assert!(
        value_at(&mut client, "/svc/a", None).await.is_none(),
        "revoke deletes the lease's keys"
    );
    for action in [path::LEASE_REVOKE, path::LEASE_KEEP_ALIVE] {
        let (code, body) = server
            .post_json::<Value>(action, &LeaseRequest { id: LeaseId(lease) })
            .await
            .expect_err("gone lease");
        let err = api_error(body);
        assert_eq!((code, err.code), (404, ErrorCode::NotFound), "{action}");
        assert!(err.message.contains("does not exist"), "{}", err.message);
    }

    let log = audit(&server).await.entries;
    let of = |action: &str| -> Vec<AuditResult> {
        log.iter()
            .filter(|e| e.action == action)
            .map(|e| e.result)
            .collect()
    };
    assert_eq!(
        of("lease_grant"),
        [
            AuditResult::Failed,
            AuditResult::Failed,
            AuditResult::Failed,
            AuditResult::Ok
        ]
    );
    assert_eq!(
        of("lease_keep_alive"),
        [AuditResult::Failed, AuditResult::Ok]
    );
    assert_eq!(of("lease_revoke"), [AuditResult::Failed, AuditResult::Ok]);
    assert_eq!(
        audited(&server, "put", "/svc/a").await.result,
        AuditResult::Failed,
        "the put with an unknown lease"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_delete_is_one_revision_and_refused_after_a_change() {
    let etcd = etcd();
    let server = root_server(&etcd).await;
    let mut client = root_client(&etcd.endpoints()).await;
    for i in 0..150 {
        client
            .put(format!("/a/k{i:03}"), "v", None)
            .await
            .expect("put");
    }
    client.put("/ab", "outside", None).await.expect("put");
    client.put("/a", "outside", None).await.expect("put");

    let (code, _) = server
        .get_json::<PrefixPreview>(&format!("{}?prefix=", path::PREFIX))
        .await
        .expect_err("empty prefix");
    assert_eq!(code, 400);
    let preview: PrefixPreview = server
        .get_json(&format!("{}?prefix=/a/", path::PREFIX))
        .await
        .expect("preview");
    assert_eq!(preview.count, 150);
    assert_eq!(preview.keys.len(), etcdeck_shared::edit::PREVIEW_KEYS);
    assert_eq!(preview.keys[0], Bytes::from("/a/k000"));

    let request = |confirm: &str, preview: &PrefixPreview| DeletePrefixRequest {
        prefix: Bytes::from("/a/"),
        revision: preview.revision,
        count: preview.count,
        confirm: confirm.into(),
    };
    let (code, body) = server
        .post_json::<Written>(path::DELETE_PREFIX, &request("/a", &preview))
        .await
        .expect_err("wrong confirm");
    let err = api_error(body);
    assert_eq!((code, err.code), (400, ErrorCode::BadRequest));
    assert!(err.message.contains("/a/"), "{}", err.message);

    // Changed after the preview (same count): refused, nothing deleted.
    client
        .put("/a/k007", "changed", None)
        .await
        .expect("change");
    let (code, body) = server
        .post_json::<Written>(path::DELETE_PREFIX, &request("/a/", &preview))
        .await
        .expect_err("changed since the preview");
    let err = api_error(body);
    assert_eq!((code, err.code), (409, ErrorCode::Conflict));
    assert!(err.message.contains("since the preview"), "{}", err.message);
    // A key added: the count differs.
    client.put("/a/new", "v", None).await.expect("add");
    let (code, _) = server
        .post_json::<Written>(path::DELETE_PREFIX, &request("/a/", &preview))
        .await
        .expect_err("added since the preview");
    assert_eq!(code, 409);
    let left = client
        .get(
            "/a/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .expect("count")
        .count();
    assert_eq!(left, 151);

    let preview: PrefixPreview = server
        .get_json(&format!("{}?prefix=/a/", path::PREFIX))
        .await
        .expect("preview again");
    let before = revision(&mut client).await;
    let written: Written = server
        .post_json(path::DELETE_PREFIX, &request("/a/", &preview))
        .await
        .expect("delete prefix");
    assert_eq!(written.keys, 151);
    assert_eq!(
        written.revision.0,
        before + 1,
        "one revision for the whole delete"
    );
    assert_eq!(revision(&mut client).await, before + 1);
    let left = client
        .get(
            "/a/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .expect("count")
        .count();
    assert_eq!(left, 0);
    assert_eq!(
        value_at(&mut client, "/ab", None).await.unwrap().0,
        b"outside"
    );
    assert_eq!(
        value_at(&mut client, "/a", None).await.unwrap().0,
        b"outside"
    );

    let results: Vec<AuditResult> = audit(&server)
        .await
        .entries
        .iter()
        .filter(|e| e.action == "delete_prefix")
        .map(|e| e.result)
        .collect();
    assert_eq!(
        results,
        [
            AuditResult::Ok,
            AuditResult::Conflict,
            AuditResult::Conflict,
            AuditResult::Failed
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_and_renames_move_keys_with_their_leases_in_one_transaction() {
    let etcd = etcd();
    let server = root_server(&etcd).await;
    let mut client = root_client(&etcd.endpoints()).await;
    let lease = etcdctl_lease(&etcd, "600");
    etcd.etcdctl(&["put", "--lease", &format!("{lease:x}"), "/src/x", "X"])
        .expect("put with lease");
    client.put("/src/y/z", "Z", None).await.expect("put");
    client.put("/single", "S", None).await.expect("put");
    let copy = |from: &str, to: &str, prefix: bool, rename: bool, at: i64| CopyRequest {
        from: Bytes::from(from),
        to: Bytes::from(to),
        prefix,
        rename,
        revision: Revision(at),
    };

    // A key.
    let now = revision(&mut client).await;
    let written: Written = server
        .post_json(
            path::COPY,
            &copy("/single", "/single-copy", false, false, now),
        )
        .await
        .expect("copy key");
    assert_eq!(written.keys, 1);
    assert_eq!(
        value_at(&mut client, "/single-copy", None).await.unwrap().0,
        b"S"
    );
    assert!(value_at(&mut client, "/single", None).await.is_some());
    let now = revision(&mut client).await;
    let _: Written = server
        .post_json(path::COPY, &copy("/single", "/moved", false, true, now))
        .await
        .expect("rename key");
    assert!(value_at(&mut client, "/single", None).await.is_none());
    assert_eq!(value_at(&mut client, "/moved", None).await.unwrap().0, b"S");

    // A prefix, then a rename of it; leases go with the keys.
    let now = revision(&mut client).await;
    let written: Written = server
        .post_json(path::COPY, &copy("/src/", "/dst/", true, false, now))
        .await
        .expect("copy prefix");
    assert_eq!(written.keys, 2);
    assert_eq!(
        value_at(&mut client, "/dst/x", None).await,
        Some((b"X".to_vec(), lease))
    );
    assert_eq!(
        value_at(&mut client, "/dst/y/z", None).await,
        Some((b"Z".to_vec(), 0))
    );
    let now = revision(&mut client).await;
    let written: Written = server
        .post_json(path::COPY, &copy("/src/", "/renamed/", true, true, now))
        .await
        .expect("rename prefix");
    assert_eq!(written.revision.0, now + 1);
    assert_eq!(
        value_at(&mut client, "/renamed/x", None).await,
        Some((b"X".to_vec(), lease))
    );
    let left = client
        .get(
            "/src/",
            Some(GetOptions::new().with_prefix().with_count_only()),
        )
        .await
        .expect("count")
        .count();
    assert_eq!(left, 0, "a rename leaves no source");

    // Target exists: 409, nothing written.
    let now = revision(&mut client).await;
    let (code, body) = server
        .post_json::<Written>(path::COPY, &copy("/renamed/", "/dst/", true, true, now))
        .await
        .expect_err("targets exist");
    let err = api_error(body);
    assert_eq!((code, err.code), (409, ErrorCode::Conflict));
    assert!(err.message.contains("/dst/x"), "{}", err.message);
    assert_eq!(revision(&mut client).await, now);
    // A source changed since the revision the user saw: 409.
    client.put("/renamed/x", "X2", None).await.expect("change");
    let (code, _) = server
        .post_json::<Written>(path::COPY, &copy("/renamed/", "/other/", true, false, now))
        .await
        .expect_err("source changed");
    assert_eq!(code, 409);
    // Into itself: 400.
    let (code, _) = server
        .post_json::<Written>(
            path::COPY,
            &copy("/renamed/", "/renamed/sub/", true, false, now + 1),
        )
        .await
        .expect_err("into itself");
    assert_eq!(code, 400);

    // Too many keys for one transaction: 413, nothing written.
    for i in 0..=MAX_COPY_KEYS {
        client
            .put(format!("/many/{i:03}"), "v", None)
            .await
            .expect("put");
    }
    let now = revision(&mut client).await;
    let (code, body) = server
        .post_json::<Written>(path::COPY, &copy("/many/", "/many-copy/", true, false, now))
        .await
        .expect_err("too many");
    let err = api_error(body);
    assert_eq!((code, err.code), (413, ErrorCode::TooLarge));
    assert!(err.message.contains("--max-txn-ops 128"), "{}", err.message);
    assert!(
        err.message.contains(&(MAX_COPY_KEYS + 1).to_string()),
        "{}",
        err.message
    );
    assert_eq!(revision(&mut client).await, now);

    let log = audit(&server).await.entries;
    let results = |action: &str| -> Vec<AuditResult> {
        log.iter()
            .filter(|e| e.action == action)
            .map(|e| e.result)
            .collect()
    };
    assert_eq!(
        results("copy"),
        [
            AuditResult::Failed,
            AuditResult::Failed,
            AuditResult::Conflict,
            AuditResult::Ok,
            AuditResult::Ok
        ]
    );
    assert_eq!(
        results("rename"),
        [AuditResult::Conflict, AuditResult::Ok, AuditResult::Ok]
    );
    let renamed = log
        .iter()
        .find(|e| e.action == "rename" && e.result == AuditResult::Ok)
        .unwrap();
    assert_eq!(renamed.to, Some(Bytes::from("/renamed/")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_reads_of_the_past_until_compaction() {
    let etcd = etcd();
    let server = root_server(&etcd).await;
    let mut client = root_client(&etcd.endpoints()).await;
    let mut revisions = Vec::new();
    for value in ["1", "2", "3"] {
        let put = client.put("/h/k", value, None).await.expect("put");
        revisions.push(put.header().unwrap().revision());
    }
    client.put("/h/other", "o", None).await.expect("put");
    let deleted = client
        .delete("/h/k", None)
        .await
        .expect("delete")
        .header()
        .unwrap()
        .revision();
    let mut again = Vec::new();
    for value in ["4", "5"] {
        let put = client.put("/h/k", value, None).await.expect("put");
        again.push(put.header().unwrap().revision());
    }

    let history: History = server
        .get_json(&format!("{}?key=/h/k", path::HISTORY))
        .await
        .expect("history");
    let seen: Vec<(i64, Option<Bytes>)> = history
        .versions
        .iter()
        .map(|v| (v.mod_revision.0, v.value.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (again[0], Some(Bytes::from("4"))),
            (again[1], Some(Bytes::from("5")))
        ]
    );
    assert_eq!(history.versions[1].version, 2);
    assert_eq!(history.compacted_before, None);
    assert!(!history.truncated);
    let (code, err) = server
        .get_json::<History>(&format!("{}?key=/h/missing", path::HISTORY))
        .await
        .expect_err("missing");
    assert_eq!((code, err.code), (404, ErrorCode::NotFound));
    assert!(err.revision.is_some());

    // Only the newest versions of a long history.
    let mut last = 0;
    for i in 0..MAX_HISTORY_VERSIONS + 5 {
        let put = client
            .put("/h/many", i.to_string(), None)
            .await
            .expect("put");
        last = put.header().unwrap().revision();
    }
    let history: History = server
        .get_json(&format!("{}?key=/h/many", path::HISTORY))
        .await
        .expect("long history");
    assert!(history.truncated);
    assert_eq!(history.versions.len(), MAX_HISTORY_VERSIONS);
    assert_eq!(history.versions[0].value, Some(Bytes::from("5")));
    assert_eq!(history.versions.last().unwrap().mod_revision.0, last);
    assert_eq!(
        history.versions.last().unwrap().version,
        (MAX_HISTORY_VERSIONS + 5) as i64
    );

    // The key and its level as they were.
    let old: KeyValue = server
        .get_json(&format!(
            "{}?key=/h/k&revision={}",
            etcdeck_shared::path::KEY,
            revisions[1]
        ))
        .await
        .expect("key at an earlier revision");
    assert_eq!(
        (old.value, old.revision.0),
        (Bytes::from("2"), revisions[1])
    );
    let (code, _) = server
        .get_json::<KeyValue>(&format!(
            "{}?key=/h/k&revision={deleted}",
            etcdeck_shared::path::KEY
        ))
        .await
        .expect_err("deleted then");
    assert_eq!(code, 404);
    let level: Level = server
        .get_json(&format!(
            "{}?prefix=/h/&revision={}",
            etcdeck_shared::path::LEVEL,
            revisions[2]
        ))
        .await
        .expect("level then");
    let names: Vec<String> = level.children.iter().map(|c| c.name.display()).collect();
    assert_eq!(names, ["k"]);
    assert_eq!(level.revision.0, revisions[2]);
    let (code, err) = server
        .get_json::<KeyValue>(&format!(
            "{}?key=/h/k&revision=999999",
            etcdeck_shared::path::KEY
        ))
        .await
        .expect_err("future");
    assert_eq!((code, err.code), (400, ErrorCode::BadRequest));

    // A compaction in the middle of the current incarnation.
    let more = client
        .put("/h/k", "6", None)
        .await
        .expect("put")
        .header()
        .unwrap()
        .revision();
    etcd.etcdctl(&["compaction", &again[1].to_string()])
        .expect("compaction");
    let history: History = server
        .get_json(&format!("{}?key=/h/k", path::HISTORY))
        .await
        .expect("history after compaction");
    assert_eq!(history.compacted_before, Some(Revision(again[1])));
    let seen: Vec<i64> = history.versions.iter().map(|v| v.mod_revision.0).collect();
    assert_eq!(seen.last(), Some(&more));
    assert!(!seen.contains(&again[0]), "{seen:?}");
    for (what, url) in [
        (
            "key",
            format!(
                "{}?key=/h/k&revision={}",
                etcdeck_shared::path::KEY,
                revisions[0]
            ),
        ),
        (
            "level",
            format!(
                "{}?prefix=/h/&revision={}",
                etcdeck_shared::path::LEVEL,
                revisions[0]
            ),
        ),
    ] {
        let (code, err) = server.get_json::<Value>(&url).await.expect_err(what);
        assert_eq!((code, err.code), (410, ErrorCode::Compacted), "{what}");
        assert!(
            err.message.contains(&format!(
                "revision {} is before etcd's compaction point",
                revisions[0]
            )),
            "{}",
            err.message
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_limited_to_a_prefix_writes_there_and_nowhere_else() {
    let etcd = etcd();
    etcd.add_user("alice", "alice-pw", &[], &["/team/"])
        .expect("add alice");
    etcd.etcdctl(&["put", "/secret/x", "s"]).expect("put");
    let server = server_as(&etcd, ("alice", "alice-pw")).await;
    let mut client = root_client(&etcd.endpoints()).await;

    put(&server, "/team/a", b"ok", 0, LeaseChoice::Keep)
        .await
        .expect("inside");
    let before = revision(&mut client).await;
    let (code, body) = put(&server, "/secret/y", b"no", 0, LeaseChoice::Keep)
        .await
        .expect_err("outside");
    let err = api_error(body);
    assert_eq!((code, err.code), (403, ErrorCode::PermissionDenied));
    assert!(
        err.message.contains("alice may not write /secret/y"),
        "{}",
        err.message
    );
    let (code, _) = server
        .post_json::<Written>(
            path::DELETE,
            &DeleteRequest {
                key: Bytes::from("/secret/x"),
                expect_mod_revision: Revision(2),
            },
        )
        .await
        .expect_err("delete outside");
    assert_eq!(code, 403);
    let (code, body) = server
        .post_json::<Written>(
            path::COPY,
            &CopyRequest {
                from: Bytes::from("/team/a"),
                to: Bytes::from("/secret/z"),
                prefix: false,
                rename: true,
                revision: Revision(before),
            },
        )
        .await
        .expect_err("copy outside");
    let err = api_error(body);
    assert_eq!((code, err.code), (403, ErrorCode::PermissionDenied));
    assert!(
        err.message.contains("may not write /secret/z"),
        "{}",
        err.message
    );
    assert_eq!(revision(&mut client).await, before);
    assert!(value_at(&mut client, "/secret/y", None).await.is_none());
    assert!(value_at(&mut client, "/team/a", None).await.is_some());

    let entry = audited(&server, "put", "/secret/y").await;
    assert_eq!(
        (entry.result, entry.user.as_deref()),
        (AuditResult::Denied, Some("alice"))
    );
    assert_eq!(
        audited(&server, "put", "/team/a").await.result,
        AuditResult::Ok
    );
    assert_eq!(
        audited(&server, "delete", "/secret/x").await.result,
        AuditResult::Denied
    );
    server.stop().await;
}
