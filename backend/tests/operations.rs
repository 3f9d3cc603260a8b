//! Cluster operations against a real 3-member etcd with auth and a small
//! quota (16 MiB), filled until etcd raises NOSPACE: as root, compact,
//! defragment each member, disarm the alarm (writes work again), move the
//! leader and stream a snapshot that `etcdctl snapshot status` accepts,
//! with the process's memory staying far below the snapshot's size; each
//! in the audit log. A non-root writer and a read-only session get 403
//! with a sentence, and etcd is not asked (its own `/metrics` count no
//! maintenance call); calls without the CSRF token or from another site's
//! page are refused.

mod support;

use std::io::Write;

use etcdeck_shared::cluster::{CLUSTER_PATH, ClusterView};
use etcdeck_shared::edit::{AuditEntry, AuditLog, AuditResult, CSRF_HEADER, path as edit_path};
use etcdeck_shared::operations::{
    CompactRequest, Compacted, DisarmRequest, Done, MemberRequest, Operations, path, snapshot_url,
};
use etcdeck_shared::{ApiError, Bytes};
use serde_json::Value;
use support::live::{LIMIT, VIEWER, start_etcd};
use support::{Server, config, wait_for};
use tokio::task::block_in_place;
use xtask::harness::{ClusterOptions, EtcdCluster, ROOT_PASSWORD};

/// May read and write every key under `/`, but is not root.
const EDITOR: (&str, &str) = ("editor", "editor-password");
/// The quota the cluster runs with.
const QUOTA: u64 = 16 * 1024 * 1024;
/// etcd's maintenance calls, by their gRPC method names.
const MAINTENANCE: [&str; 5] = ["Compact", "Defragment", "Alarm", "MoveLeader", "Snapshot"];

/// The sum of etcd's `grpc_server_handled_total` for `method` over every
/// member (etcd serves `/metrics` without auth on its client URL).
async fn handled(etcd: &EtcdCluster, method: &str) -> f64 {
    let mut sum = 0.0;
    for endpoint in etcd.endpoints() {
        let body = reqwest::get(format!("{endpoint}/metrics"))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body");
        let label = format!("grpc_method=\"{method}\"");
        sum += body
            .lines()
            .filter(|line| line.starts_with("grpc_server_handled_total{") && line.contains(&label))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    sum
}

async fn maintenance_calls(etcd: &EtcdCluster) -> Vec<f64> {
    let mut calls = Vec::new();
    for method in MAINTENANCE {
        calls.push(handled(etcd, method).await);
    }
    calls
}

/// Puts 512 KiB values until etcd refuses with "database space exceeded".
/// A put that timed out (three members on a loaded machine) is sent again:
/// whether it was applied does not matter for filling.
fn fill_until_nospace(etcd: &EtcdCluster) {
    let value = vec![b'x'; 512 * 1024];
    let mut timeouts = 0;
    for i in 0..128 {
        loop {
            match etcd.etcdctl_with_stdin(&["put", &format!("/fill/{i}")], &value) {
                Ok(_) => break,
                Err(err) if err.to_string().contains("database space exceeded") => return,
                Err(err)
                    if timeouts < 10
                        && (err.to_string().contains("timed out")
                            || err.to_string().contains("deadline exceeded")) =>
                {
                    timeouts += 1;
                }
                Err(err) => panic!("filling etcd failed otherwise: {err}"),
            }
        }
    }
    panic!("etcd took 64 MiB without NOSPACE under a 16 MiB quota");
}

async fn view(server: &Server) -> ClusterView {
    server.get_json(CLUSTER_PATH).await.expect("cluster view")
}

async fn audit(server: &Server) -> Vec<AuditEntry> {
    let log: AuditLog = server.get_json(edit_path::AUDIT).await.expect("audit");
    log.entries
}

/// The newest audit entry of `action` on `target`.
async fn audited(server: &Server, action: &str, target: &str) -> AuditEntry {
    audit(server)
        .await
        .into_iter()
        .find(|e| e.action == action && e.key == Bytes::from(target))
        .unwrap_or_else(|| panic!("no audit entry for {action} {target}"))
}

fn api_error(body: Value) -> ApiError {
    serde_json::from_value(body).expect("an ApiError body")
}

/// This process's resident memory in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmRSS")
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_is_handled_by_root_and_refused_to_everyone_else() {
    let etcd = block_in_place(|| {
        let mut options = ClusterOptions::three().with_auth();
        options
            .extra_args
            .push(format!("--quota-backend-bytes={QUOTA}"));
        let etcd = start_etcd(options);
        etcd.add_user(EDITOR.0, EDITOR.1, &[], &["/"])
            .expect("add the editor");
        fill_until_nospace(&etcd);
        etcd
    });
    let root = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start etcdeck");
    let (root_cookie, root_csrf) = root
        .log_in("root", ROOT_PASSWORD)
        .await
        .expect("root logs in");
    root.use_session(Some((root_cookie.clone(), root_csrf.clone())));

    // The alarm shows on the cluster page, with every member known.
    let alarmed = wait_for(LIMIT, "the NOSPACE alarm and three members", async || {
        let now = view(&root).await;
        let named = now.members.len() == 3 && now.members.iter().all(|m| !m.name.is_empty());
        if named && now.alarms.iter().any(|a| a.alarm == "NOSPACE") && now.leader.is_some() {
            Ok(now)
        } else {
            Err(format!("{now:?}"))
        }
    })
    .await;
    let members: Vec<(String, String)> = alarmed
        .members
        .iter()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();

    // Root may use every operation; the answer says where compaction stands.
    let allowed: Operations = root.get_json(path::OPERATIONS).await.expect("operations");
    assert!(allowed.allowed, "{allowed:?}");
    assert_eq!(allowed.compaction_revision, Some(0));
    let current = allowed.revision.expect("the current revision");

    // A writer that is not root, and a read-only session (root's own,
    // in a --read-only etcdeck), are refused without asking etcd.
    let editor = Server::start(config(etcd.endpoints(), Some(EDITOR)))
        .await
        .expect("start etcdeck as the editor");
    let mut read_only_config = config(etcd.endpoints(), Some(("root", ROOT_PASSWORD)));
    read_only_config.server.read_only = true;
    let read_only = Server::start(read_only_config)
        .await
        .expect("start a read-only etcdeck");
    let viewer = Server::start(config(etcd.endpoints(), Some(VIEWER)))
        .await
        .expect("start etcdeck as the viewer");
    let before = maintenance_calls(&etcd).await;
    let (first_id, first_name) = members[0].clone();
    for (who, server, code, words) in [
        ("editor", &editor, "permission_denied", "root"),
        ("viewer", &viewer, "permission_denied", "root"),
        ("read-only root", &read_only, "read_only", "--read-only"),
    ] {
        let answer: Operations = server.get_json(path::OPERATIONS).await.expect("operations");
        assert!(!answer.allowed, "{who}: {answer:?}");
        let reason = answer.reason.expect("a reason");
        assert!(reason.contains(words), "{who}: {reason}");
        assert_eq!(answer.revision, None, "{who}");

        let refusals = [
            server
                .post_json::<Value>(
                    path::COMPACT,
                    &CompactRequest {
                        revision: current,
                        confirm: current.to_string(),
                    },
                )
                .await,
            server
                .post_json::<Value>(
                    path::DEFRAGMENT,
                    &MemberRequest {
                        member: first_id.clone(),
                        confirm: first_name.clone(),
                    },
                )
                .await,
            server
                .post_json::<Value>(
                    path::DISARM,
                    &DisarmRequest {
                        member: first_id.clone(),
                        alarm: "NOSPACE".into(),
                        confirm: "NOSPACE".into(),
                    },
                )
                .await,
            server
                .post_json::<Value>(
                    path::MOVE_LEADER,
                    &MemberRequest {
                        member: first_id.clone(),
                        confirm: first_name.clone(),
                    },
                )
                .await,
        ];
        for refusal in refusals {
            let (status, body) = refusal.expect_err("refused");
            let error = api_error(body);
            assert_eq!(status, 403, "{who}: {error:?}");
            assert_eq!(
                serde_json::to_value(error.code).unwrap(),
                Value::from(code),
                "{who}: {error:?}"
            );
            assert!(error.message.contains(words), "{who}: {}", error.message);
        }
    }
    // The snapshot link of a non-root session, with its own CSRF token.
    let (editor_cookie, editor_csrf) = editor
        .log_in(EDITOR.0, EDITOR.1)
        .await
        .expect("the editor logs in");
    let refused = reqwest::Client::new()
        .get(editor.url(&snapshot_url(&first_id, &editor_csrf)))
        .header(reqwest::header::COOKIE, &editor_cookie)
        .send()
        .await
        .expect("snapshot request");
    assert_eq!(refused.status().as_u16(), 403);
    let error: ApiError = refused.json().await.expect("ApiError");
    assert!(error.message.contains("root"), "{}", error.message);
    assert_eq!(
        maintenance_calls(&etcd).await,
        before,
        "a refused operation reached etcd"
    );
    let denied = audited(&editor, "compact", "").await;
    assert_eq!(denied.result, AuditResult::Denied);
    assert_eq!(denied.user.as_deref(), Some(EDITOR.0));

    // Without the CSRF token, or from another site's page, nothing is done.
    let http = reqwest::Client::new();
    let compact_body = CompactRequest {
        revision: current,
        confirm: current.to_string(),
    };
    let no_csrf = http
        .post(root.url(path::COMPACT))
        .header(reqwest::header::COOKIE, &root_cookie)
        .json(&compact_body)
        .send()
        .await
        .expect("post");
    assert_eq!(no_csrf.status().as_u16(), 403);
    let cross_site = http
        .post(root.url(path::COMPACT))
        .header(reqwest::header::COOKIE, &root_cookie)
        .header(CSRF_HEADER, &root_csrf)
        .header(reqwest::header::ORIGIN, "https://elsewhere.example")
        .json(&compact_body)
        .send()
        .await
        .expect("post");
    assert_eq!(cross_site.status().as_u16(), 403);
    let no_csrf_link = http
        .get(root.url(&format!("{}?member={first_id}", path::SNAPSHOT)))
        .header(reqwest::header::COOKIE, &root_cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(no_csrf_link.status().as_u16(), 403);
    assert_eq!(
        maintenance_calls(&etcd).await,
        before,
        "a refused operation reached etcd"
    );

    // Root compacts: a wrong confirmation does nothing, the right one
    // says how much history is gone.
    let (status, body) = root
        .post_json::<Value>(
            path::COMPACT,
            &CompactRequest {
                revision: current,
                confirm: "1".into(),
            },
        )
        .await
        .expect_err("a wrong confirmation");
    assert_eq!(status, 400, "{body}");
    let compacted: Compacted = root
        .post_json(path::COMPACT, &compact_body)
        .await
        .expect("compact");
    assert_eq!(compacted.revision, current);
    assert_eq!(compacted.previous_compaction, 0);
    assert!(
        compacted
            .message
            .contains(&format!("{} revisions", current - 1)),
        "{}",
        compacted.message
    );
    let after: Operations = root.get_json(path::OPERATIONS).await.expect("operations");
    assert_eq!(after.compaction_revision, Some(current));
    let entry = audited(&root, "compact", "").await;
    assert_eq!(entry.result, AuditResult::Ok);
    assert_eq!(entry.new_revision.map(|r| r.0), Some(current));

    // Requests etcdeck refuses itself, each with a sentence: a wrong
    // confirmation, a member that is not one of the endpoints, an alarm
    // etcd does not have, the leader moved to itself.
    let leader_now = view(&root).await.leader.expect("a leader");
    let leader_name = members
        .iter()
        .find(|(id, _)| *id == leader_now)
        .map(|(_, name)| name.clone())
        .expect("the leader is a member");
    for (what, path, body, status) in [
        (
            "a wrong confirmation",
            path::DEFRAGMENT,
            serde_json::to_value(MemberRequest {
                member: first_id.clone(),
                confirm: "not-the-name".into(),
            })
            .unwrap(),
            400,
        ),
        (
            "an unknown member",
            path::DEFRAGMENT,
            serde_json::to_value(MemberRequest {
                member: "1".into(),
                confirm: "1".into(),
            })
            .unwrap(),
            404,
        ),
        (
            "an unknown alarm",
            path::DISARM,
            serde_json::to_value(DisarmRequest {
                member: first_id.clone(),
                alarm: "FULL".into(),
                confirm: "FULL".into(),
            })
            .unwrap(),
            400,
        ),
        (
            "the leader moved to itself",
            path::MOVE_LEADER,
            serde_json::to_value(MemberRequest {
                member: leader_now.clone(),
                confirm: leader_name.clone(),
            })
            .unwrap(),
            400,
        ),
    ] {
        let (code, body) = root.post_json::<Value>(path, &body).await.expect_err(what);
        assert_eq!(code, status, "{what}: {body}");
        assert!(
            !api_error(body).message.is_empty(),
            "{what} without a sentence"
        );
    }

    // Root defragments each member, one at a time.
    for (id, name) in &members {
        let done: Done = root
            .post_json(
                path::DEFRAGMENT,
                &MemberRequest {
                    member: id.clone(),
                    confirm: name.clone(),
                },
            )
            .await
            .unwrap_or_else(|err| panic!("defragment {name}: {err:?}"));
        assert!(done.message.contains(name.as_str()), "{}", done.message);
        assert_eq!(
            audited(&root, "defragment", id).await.result,
            AuditResult::Ok
        );
    }

    // Root disarms every alarm; then etcd takes writes again.
    for alarm in view(&root).await.alarms {
        let done: Done = root
            .post_json(
                path::DISARM,
                &DisarmRequest {
                    member: alarm.member.clone(),
                    alarm: alarm.alarm.clone(),
                    confirm: alarm.alarm.clone(),
                },
            )
            .await
            .expect("disarm");
        assert!(done.message.contains("disarmed"), "{}", done.message);
        let entry = audited(&root, "disarm", &alarm.member).await;
        assert_eq!(entry.result, AuditResult::Ok);
        assert_eq!(entry.to, Some(Bytes::from(alarm.alarm.as_str())));
    }
    block_in_place(|| etcd.etcdctl(&["put", "/after", "works"])).expect("a put after the incident");

    // Root moves the leader to a follower.
    let leader = view(&root).await.leader.expect("a leader");
    let (target_id, target_name) = members
        .iter()
        .find(|(id, _)| *id != leader)
        .cloned()
        .expect("a follower");
    let done: Done = root
        .post_json(
            path::MOVE_LEADER,
            &MemberRequest {
                member: target_id.clone(),
                confirm: target_name.clone(),
            },
        )
        .await
        .expect("move the leader");
    assert!(done.message.contains(&target_name), "{}", done.message);
    wait_for(LIMIT, "the new leader on the cluster page", async || {
        let now = view(&root).await;
        if now.leader.as_deref() == Some(target_id.as_str()) {
            Ok(())
        } else {
            Err(format!("leader {:?}", now.leader))
        }
    })
    .await;
    assert_eq!(
        audited(&root, "move_leader", &target_id).await.result,
        AuditResult::Ok
    );

    // Root downloads a snapshot of one member, read chunk by chunk.
    let rss_before = resident_bytes();
    let mut response = http
        .get(root.url(&snapshot_url(&target_id, &root_csrf)))
        .header(reqwest::header::COOKIE, &root_cookie)
        .send()
        .await
        .expect("snapshot");
    assert_eq!(response.status().as_u16(), 200);
    let disposition = response
        .headers()
        .get(reqwest::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .expect("Content-Disposition")
        .to_owned();
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"etcd-{target_name}-")),
        "{disposition}"
    );
    let length = response.content_length().expect("Content-Length");
    let dir = tempfile::tempdir().expect("temp dir");
    let file_path = dir.path().join("snapshot.db");
    let mut file = std::fs::File::create(&file_path).expect("create the file");
    let (mut received, mut peak) = (0u64, rss_before);
    while let Some(chunk) = response.chunk().await.expect("a chunk") {
        received += chunk.len() as u64;
        file.write_all(&chunk).expect("write the file");
        peak = peak.max(resident_bytes());
    }
    file.sync_all().expect("sync the file");
    assert_eq!(received, length, "Content-Length is the size sent");
    assert!(
        received > QUOTA / 2,
        "the snapshot holds the filled data: {received} bytes"
    );
    let grown = peak.saturating_sub(rss_before);
    assert!(
        grown < received / 2,
        "memory grew by {grown} bytes while streaming {received} bytes"
    );
    let status = block_in_place(|| {
        std::process::Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["snapshot", "status", "--write-out=table"])
            .arg(&file_path)
            .output()
    })
    .expect("run etcdctl");
    assert!(
        status.status.success(),
        "etcdctl snapshot status: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let entry = audited(&root, "snapshot", &target_id).await;
    assert_eq!(entry.result, AuditResult::Ok);

    // A second look: etcd saw each operation (the counts moved).
    let calls = maintenance_calls(&etcd).await;
    for (method, (now, then)) in MAINTENANCE.iter().zip(calls.iter().zip(&before)) {
        assert!(now > then, "etcd saw no {method}");
    }

    for server in [root, editor, read_only, viewer] {
        server.stop().await;
    }
    drop(etcd);
}

/// Root revoked after a login takes the operations away at once: etcdeck
/// asks etcd again rather than trusting what the login said. A `HEAD` of a
/// snapshot is refused (it would stream one for nobody).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_revoked_after_login_may_no_longer_operate() {
    const ADMIN: (&str, &str) = ("admin", "admin-password");
    let etcd = block_in_place(|| {
        let etcd = start_etcd(ClusterOptions::single().with_auth());
        etcd.add_user(ADMIN.0, ADMIN.1, &[], &["/"])
            .expect("add the admin");
        etcd.etcdctl(&["user", "grant-role", ADMIN.0, "root"])
            .expect("grant root");
        etcd
    });
    let server = Server::start(config(etcd.endpoints(), Some(("root", ROOT_PASSWORD))))
        .await
        .expect("start etcdeck");
    let session = server
        .log_in(ADMIN.0, ADMIN.1)
        .await
        .expect("admin logs in");
    server.use_session(Some(session));
    let before: Operations = server.get_json(path::OPERATIONS).await.expect("operations");
    assert!(before.allowed, "{before:?}");

    block_in_place(|| etcd.etcdctl(&["user", "revoke-role", ADMIN.0, "root"]))
        .expect("revoke root");
    let after: Operations = server.get_json(path::OPERATIONS).await.expect("operations");
    assert!(!after.allowed, "{after:?}");
    assert!(
        after
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("not root")),
        "{after:?}"
    );
    let revision = before.revision.expect("a revision");
    let refused = server
        .post(
            path::COMPACT,
            &CompactRequest {
                revision,
                confirm: revision.to_string(),
            },
        )
        .await;
    assert_eq!(refused.status(), 403);

    let head = reqwest::Client::new()
        .head(server.url(path::SNAPSHOT))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 405);
}
