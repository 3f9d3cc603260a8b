//! Export and import against real, auth-enabled etcds through etcdeck's
//! HTTP API: 100,000 keys (binary keys and values among them) exported
//! from one etcd and imported into a second read back byte-identical, with
//! the process's resident memory sampled throughout; an import interrupted
//! by killing the target etcd finishes on a second run with every key
//! written exactly once; and a dry run against a target that changed lists
//! the conflicts, which applying then leaves alone.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{Client, GetOptions, PutOptions, Txn, TxnOp};
use etcdeck_shared::Revision;
use etcdeck_shared::transfer::{
    ImportAction, ImportOptions, ImportPlan, ImportResult, LeaseMode, path,
};
use support::Server;
use support::live::{root_client, root_server, start_etcd};
use xtask::harness::{ClusterOptions, EtcdCluster};

fn etcd() -> EtcdCluster {
    start_etcd(ClusterOptions::single().with_auth())
}

/// Key `i` of the data set: every 100th is binary.
fn key(prefix: &str, i: usize) -> Vec<u8> {
    let mut key = prefix.as_bytes().to_vec();
    if i % 100 == 7 {
        key.extend_from_slice(b"bin/\xff\x00");
    }
    key.extend_from_slice(format!("{i:06}").as_bytes());
    key
}

/// Value `i`: 20 to 200 bytes; every 50th binary.
fn value(i: usize, salt: u8) -> Vec<u8> {
    let len = 20 + (i * 37) % 180;
    if i % 50 == 3 {
        (0..len).map(|j| (i + j) as u8 ^ salt).collect()
    } else {
        format!("value {i} {salt} ")
            .bytes()
            .cycle()
            .take(len)
            .collect()
    }
}

async fn fill(client: &mut Client, prefix: &str, n: usize, salt: u8) {
    let mut i = 0;
    while i < n {
        let ops: Vec<TxnOp> = (i..(i + 128).min(n))
            .map(|j| TxnOp::put(key(prefix, j), value(j, salt), None))
            .collect();
        client
            .txn(Txn::new().and_then(ops))
            .await
            .expect("fill txn");
        i += 128;
    }
}

/// Every key and value under `prefix`, with its version, read in pages.
async fn read_all(client: &mut Client, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, i64, i64)> {
    let end = etcdeck::tree::range_end(prefix);
    let mut start = prefix.to_vec();
    let mut out = Vec::new();
    loop {
        let response = client
            .get(
                start.clone(),
                Some(GetOptions::new().with_range(end.clone()).with_limit(5000)),
            )
            .await
            .expect("read all");
        for kv in response.kvs() {
            out.push((
                kv.key().to_vec(),
                kv.value().to_vec(),
                kv.version(),
                kv.lease(),
            ));
        }
        match response.kvs().last() {
            Some(last) if response.more() => {
                start = last.key().to_vec();
                start.push(0);
            }
            _ => return out,
        }
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples the resident size every 20 ms until dropped: the peak seen.
struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssSampler {
    fn start() -> RssSampler {
        let peak = Arc::new(AtomicU64::new(rss_kib()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssSampler { peak, stop }
    }

    fn peak_kib(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

async fn export(server: &Server, prefix: &str) -> Vec<u8> {
    let response = server
        .get(&format!("{}?prefix={prefix}", path::EXPORT))
        .await;
    assert_eq!(response.status(), 200, "export");
    response.bytes().await.expect("export body").to_vec()
}

async fn import<T: serde::de::DeserializeOwned>(
    server: &Server,
    options: &ImportOptions,
    file: &[u8],
) -> Result<T, (u16, String)> {
    let response = server
        .post_body(
            &format!("{}?{}", path::IMPORT, options.query()),
            file.to_vec(),
        )
        .await;
    let status = response.status().as_u16();
    let text = response.text().await.expect("import answer");
    if status == 200 {
        Ok(serde_json::from_str(&text).expect("import body"))
    } else {
        Err((status, text))
    }
}

async fn dry_then_apply(server: &Server, options: &ImportOptions, file: &[u8]) -> ImportResult {
    let plan: ImportPlan = import(server, options, file).await.expect("dry run");
    let apply = ImportOptions {
        apply: true,
        seen: Some(plan.revision),
        ..options.clone()
    };
    import(server, &apply, file).await.expect("apply")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_keys_move_byte_identical_in_bounded_memory() {
    const N: usize = 100_000;
    let source = etcd();
    let target = etcd();
    let mut source_client = root_client(&source.endpoints()).await;
    let mut target_client = root_client(&target.endpoints()).await;
    fill(&mut source_client, "/big/", N, 1).await;
    // A few keys with a lease, recreated by the import.
    let lease = source_client
        .lease_grant(600, None)
        .await
        .expect("lease")
        .id();
    for i in 0..5 {
        source_client
            .put(
                key("/big/", i),
                value(i, 1),
                Some(PutOptions::new().with_lease(lease)),
            )
            .await
            .expect("leased put");
    }
    let from = root_server(&source).await;
    let to = root_server(&target).await;
    from.ensure_session().await;
    to.ensure_session().await;

    let before = rss_kib();
    let sampler = RssSampler::start();
    let started = Instant::now();
    let file = export(&from, "/big/").await;
    let export_time = started.elapsed();
    let export_peak = sampler.peak_kib();
    drop(sampler);
    let lines = file.iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines, N + 1, "a header and one line per key");

    let sampler = RssSampler::start();
    let started = Instant::now();
    let options = ImportOptions {
        leases: LeaseMode::Recreate,
        ..ImportOptions::default()
    };
    let result = dry_then_apply(&to, &options, &file).await;
    let import_time = started.elapsed();
    let import_peak = sampler.peak_kib();
    drop(sampler);
    assert!(result.complete, "{result:?}");
    assert_eq!(result.counts.create, N as u64);
    assert_eq!(result.leases_granted, 1);
    eprintln!(
        "export: {N} keys, {} bytes in {:.1} s; import in {:.1} s; resident before {} MiB, \
         peak during export {} MiB, during import {} MiB (the test itself holds the {} MiB file)",
        file.len(),
        export_time.as_secs_f64(),
        import_time.as_secs_f64(),
        before / 1024,
        export_peak / 1024,
        import_peak / 1024,
        file.len() / (1024 * 1024)
    );
    // Memory beyond the file the test holds stays far below what holding
    // the keys (several times the file as parsed values) would take.
    let file_kib = file.len() as u64 / 1024;
    assert!(
        export_peak.saturating_sub(before) < file_kib + 64 * 1024,
        "export grew {} KiB",
        export_peak - before
    );
    assert!(
        import_peak.saturating_sub(before) < 2 * file_kib + 64 * 1024,
        "import grew {} KiB",
        import_peak - before
    );

    let left = read_all(&mut source_client, b"/big/").await;
    let right = read_all(&mut target_client, b"/big/").await;
    assert_eq!(left.len(), N);
    assert_eq!(right.len(), N);
    for (a, b) in left.iter().zip(&right) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1), "byte-identical");
        assert_eq!(a.3 != 0, b.3 != 0, "leased keys keep a lease");
    }

    // A second run writes nothing.
    let again = dry_then_apply(&to, &options, &file).await;
    assert!(again.complete);
    assert_eq!(again.counts.unchanged, N as u64);
    assert_eq!(again.transactions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_import_finishes_on_a_second_run_writing_each_key_once() {
    const N: usize = 30_000;
    let source = etcd();
    let mut target = etcd();
    let mut source_client = root_client(&source.endpoints()).await;
    fill(&mut source_client, "/move/", N, 2).await;
    let from = root_server(&source).await;
    let to = root_server(&target).await;
    let file = export(&from, "/move/").await;
    let plan: ImportPlan = import(&to, &ImportOptions::default(), &file)
        .await
        .expect("dry run");
    assert_eq!(plan.counts.create, N as u64);
    let apply = ImportOptions {
        apply: true,
        seen: Some(plan.revision),
        ..ImportOptions::default()
    };
    let endpoints = target.endpoints();
    let watcher = async {
        let mut client = root_client(&endpoints).await;
        let end = etcdeck::tree::range_end(b"/move/");
        loop {
            let count = client
                .get(
                    "/move/",
                    Some(GetOptions::new().with_range(end.clone()).with_count_only()),
                )
                .await
                .map(|r| r.count())
                .unwrap_or(0);
            if count > (N / 4) as i64 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (first, ()) = tokio::join!(import::<ImportResult>(&to, &apply, &file), async {
        watcher.await;
        target.kill(0).expect("kill etcd");
    });
    let first = first.expect("an answer that says what was written");
    eprintln!(
        "interrupted: {} written in {} transactions, not written from {:?}, {} uncertain: {:?}",
        first.counts.create,
        first.transactions,
        first.not_written_from,
        first.uncertain.len(),
        first.failure
    );
    assert!(!first.complete);
    assert!(first.failure.is_some());
    assert!(first.counts.create > 0 && first.counts.create < N as u64);
    assert!(first.not_written_from.is_some());

    target.restart(0).expect("restart etcd");
    let mut target_client = root_client(&target.endpoints()).await;
    let mut second = None;
    for _ in 0..30 {
        let plan: Result<ImportPlan, _> = import(&to, &ImportOptions::default(), &file).await;
        if let Ok(plan) = plan {
            assert!(plan.counts.unchanged >= first.counts.create);
            second = Some(
                import::<ImportResult>(
                    &to,
                    &ImportOptions {
                        seen: Some(plan.revision),
                        ..apply.clone()
                    },
                    &file,
                )
                .await
                .expect("second run"),
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let second = second.expect("etcd back");
    assert!(second.complete, "{second:?}");
    assert_eq!(
        second.counts.create + second.counts.unchanged,
        N as u64,
        "{second:?}"
    );
    let left = read_all(&mut source_client, b"/move/").await;
    let right = read_all(&mut target_client, b"/move/").await;
    assert_eq!(left.len(), right.len());
    for (a, b) in left.iter().zip(&right) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1));
        // Version 1: the key was written once, never twice.
        assert_eq!(b.2, 1, "written once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_against_a_changed_target_lists_conflicts_and_applying_skips_them() {
    let etcd = etcd();
    let mut client = root_client(&etcd.endpoints()).await;
    for i in 0..20 {
        client
            .put(format!("/src/k{i:02}"), format!("new {i}"), None)
            .await
            .expect("put");
        client
            .put(format!("/dst/k{i:02}"), format!("old {i}"), None)
            .await
            .expect("put");
    }
    client
        .put("/dst/extra", "not in the file", None)
        .await
        .expect("put");
    let server = root_server(&etcd).await;
    let file = export(&server, "/src/").await;
    let options = ImportOptions {
        to: Some("/dst/".into()),
        mirror: true,
        ..ImportOptions::default()
    };
    let plan: ImportPlan = import(&server, &options, &file).await.expect("dry run");
    assert_eq!(plan.counts.change, 20);
    assert_eq!(plan.counts.delete, 1);
    assert!(
        plan.items
            .iter()
            .any(|i| i.action == ImportAction::Delete && i.key == "/dst/extra".into())
    );
    let changed = plan
        .items
        .iter()
        .find(|i| i.key == "/dst/k03".into())
        .expect("k03");
    assert_eq!(changed.current, Some("old 3".into()));
    assert_eq!(changed.incoming, Some("new 3".into()));

    // Someone else writes two keys and the extra one after the dry run.
    for key in ["/dst/k03", "/dst/k11", "/dst/extra"] {
        client.put(key, "theirs", None).await.expect("their put");
    }
    let again: ImportPlan = import(
        &server,
        &ImportOptions {
            seen: Some(plan.revision),
            ..options.clone()
        },
        &file,
    )
    .await
    .expect("dry run with seen");
    assert_eq!(again.counts.conflict, 3);
    let conflicts: Vec<_> = again
        .items
        .iter()
        .filter(|i| i.action == ImportAction::Conflict)
        .map(|i| i.key.clone())
        .collect();
    assert_eq!(
        conflicts,
        vec!["/dst/extra".into(), "/dst/k03".into(), "/dst/k11".into()]
    );

    let result: ImportResult = import(
        &server,
        &ImportOptions {
            apply: true,
            seen: Some(plan.revision),
            ..options.clone()
        },
        &file,
    )
    .await
    .expect("apply");
    assert!(result.complete);
    assert_eq!(result.counts.change, 18);
    assert_eq!(result.counts.conflict, 3);
    for key in ["/dst/k03", "/dst/k11", "/dst/extra"] {
        let got = client.get(key, None).await.expect("get");
        assert_eq!(got.kvs()[0].value(), b"theirs", "{key} left alone");
    }
    let got = client.get("/dst/k04", None).await.expect("get");
    assert_eq!(got.kvs()[0].value(), b"new 4");

    // Applying needs the dry run's revision, and an audit line records it.
    let (status, _) = import::<ImportResult>(
        &server,
        &ImportOptions {
            apply: true,
            ..options.clone()
        },
        &file,
    )
    .await
    .expect_err("apply without seen");
    assert_eq!(status, 400);
    let audit: etcdeck_shared::edit::AuditLog = server
        .get_json(etcdeck_shared::edit::path::AUDIT)
        .await
        .expect("audit");
    assert!(
        audit
            .entries
            .iter()
            .any(|e| e.action == "import" && e.old_revision == Some(Revision(plan.revision.0)))
    );
}
