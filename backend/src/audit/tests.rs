//! The audit log's own rules: bounded and newest first, read back after a
//! restart, rotated by size, and refusing writes while its file fails.

use etcdeck_shared::Bytes;

use super::*;

fn entry(n: u64) -> AuditEntry {
    AuditEntry {
        at_ms: n,
        user: Some("alice".into()),
        action: "put".into(),
        key: Bytes::from("k"),
        to: None,
        old_revision: None,
        new_revision: None,
        result: AuditResult::Ok,
        detail: None,
        address: None,
    }
}

fn times(audit: &Audit) -> Vec<u64> {
    audit.recent().iter().map(|e| e.at_ms).collect()
}

#[test]
fn newest_first_and_bounded() {
    let audit = Audit::in_memory();
    for n in 0..(AUDIT_CAPACITY as u64 + 5) {
        audit.record(entry(n));
    }
    let recent = audit.recent();
    assert_eq!(recent.len(), AUDIT_CAPACITY);
    assert_eq!(recent[0].at_ms, AUDIT_CAPACITY as u64 + 4);
    assert_eq!(recent[AUDIT_CAPACITY - 1].at_ms, 5);
}

#[test]
fn a_flood_of_logins_leaves_the_writes_in_view() {
    let audit = Audit::in_memory();
    audit.record(entry(1));
    audit.record(entry(3));
    for n in 0..(AUDIT_CAPACITY as u64 * 2) {
        audit.record(AuditEntry {
            action: etcdeck_shared::edit::ACTION_LOGIN.into(),
            result: AuditResult::Throttled,
            ..entry(2 + n * 2)
        });
    }
    let recent = audit.recent();
    assert_eq!(recent.len(), AUDIT_CAPACITY + 2);
    let writes: Vec<_> = recent.iter().filter(|e| e.action == "put").collect();
    assert_eq!(writes.len(), 2);
    // Newest first across both lists.
    assert!(recent.windows(2).all(|w| w[0].at_ms >= w[1].at_ms));
    assert_eq!(recent.last().map(|e| e.at_ms), Some(1));
}

#[test]
fn entries_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs").join("audit.jsonl");
    let audit = Audit::open(&path, 1 << 20).unwrap();
    for n in 1..=3 {
        audit.record_checked(entry(n)).unwrap();
    }
    drop(audit);
    // A line cut short by a crash is skipped, not fatal.
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"at_ms\": 9, \"us").unwrap();
    drop(file);
    let reopened = Audit::open(&path, 1 << 20).unwrap();
    assert_eq!(times(&reopened), [3, 2, 1]);
    reopened.record_checked(entry(4)).unwrap();
    assert_eq!(times(&Audit::open(&path, 1 << 20).unwrap()), [4, 3, 2, 1]);
}

#[test]
fn rotates_by_size_and_reads_back_across_the_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let line = serde_json::to_vec(&entry(10)).unwrap().len() as u64 + 1;
    // Two lines per file.
    let audit = Audit::open(&path, 2 * line).unwrap();
    for n in 10..20 {
        audit.record_checked(entry(n)).unwrap();
    }
    assert!(rotated(&path, ROTATED_KEPT).exists());
    assert!(!rotated(&path, ROTATED_KEPT + 1).exists());
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
    assert_eq!(lines(&path), 2);
    assert_eq!(lines(&rotated(&path, 1)), 2);
    // The view after a restart holds the current file and its last rotation.
    assert_eq!(
        times(&Audit::open(&path, 2 * line).unwrap()),
        [19, 18, 17, 16]
    );
}

#[test]
fn a_failing_file_stops_writes_until_it_works_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let audit = Audit::open(&path, 1 << 20).unwrap();
    assert!(audit.check_writable().is_ok());
    {
        // The disk fills up, and the file cannot be opened again either.
        let mut inner = audit.lock();
        let log = inner.file.as_mut().unwrap();
        log.file = Some(OpenOptions::new().append(true).open("/dev/full").unwrap());
        log.path = dir.path().join("gone").join("audit.jsonl");
    }
    let err = audit.record_checked(entry(1)).unwrap_err();
    assert!(err.to_string().contains("writes are stopped"), "{err}");
    // The entry still reaches the view and the backend log.
    assert_eq!(times(&audit), [1]);
    assert!(audit.check_writable().is_err());
    assert!(audit.check_writable().is_err());
    // The file's directory is back: writes go on.
    audit.lock().file.as_mut().unwrap().path = path.clone();
    audit.check_writable().unwrap();
    audit.record_checked(entry(2)).unwrap();
    // The file says where it resumed, before the next entry.
    let actions: Vec<String> = Audit::open(&path, 1 << 20)
        .unwrap()
        .recent()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["put", "audit_log_resumed"]);
}
