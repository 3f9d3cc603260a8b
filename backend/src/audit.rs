//! The audit log: every write attempted through etcdeck (who, what, the
//! revision the user saw, the revision written, the result) and every
//! login attempt (the user name tried, the client's address, the result)
//! goes to the backend log under the `etcdeck::audit` target and into a
//! bounded in-memory list that the audit view reads.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use etcdeck_shared::edit::{AuditEntry, AuditResult};

/// How many entries the audit view can show; older ones stay in the log.
pub const AUDIT_CAPACITY: usize = 1_000;

/// The audit log. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    entries: Arc<Mutex<VecDeque<AuditEntry>>>,
}

impl Audit {
    /// Logs `entry` and keeps it for the audit view.
    pub fn record(&self, entry: AuditEntry) {
        let key = entry.key.display();
        let to = entry.to.as_ref().map(|t| t.display());
        let address = entry.address.as_deref().unwrap_or("-");
        match entry.result {
            AuditResult::Ok => tracing::info!(
                target: "etcdeck::audit",
                user = entry.user.as_deref().unwrap_or("-"),
                action = %entry.action,
                key = %key,
                to = to.as_deref().unwrap_or("-"),
                old_revision = entry.old_revision.map(|r| r.0),
                new_revision = entry.new_revision.map(|r| r.0),
                address,
                result = "ok",
            ),
            result => tracing::warn!(
                target: "etcdeck::audit",
                user = entry.user.as_deref().unwrap_or("-"),
                action = %entry.action,
                key = %key,
                to = to.as_deref().unwrap_or("-"),
                old_revision = entry.old_revision.map(|r| r.0),
                address,
                result = ?result,
                detail = entry.detail.as_deref().unwrap_or("-"),
            ),
        }
        let mut entries = self.lock();
        if entries.len() == AUDIT_CAPACITY {
            entries.pop_back();
        }
        entries.push_front(entry);
    }

    /// The kept entries, newest first.
    pub fn recent(&self) -> Vec<AuditEntry> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<AuditEntry>> {
        // A panic while holding the lock cannot leave the list inconsistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Milliseconds since the Unix epoch, for [`AuditEntry::at_ms`].
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn newest_first_and_bounded() {
        let audit = Audit::default();
        for n in 0..(AUDIT_CAPACITY as u64 + 5) {
            audit.record(entry(n));
        }
        let recent = audit.recent();
        assert_eq!(recent.len(), AUDIT_CAPACITY);
        assert_eq!(recent[0].at_ms, AUDIT_CAPACITY as u64 + 4);
        assert_eq!(recent[AUDIT_CAPACITY - 1].at_ms, 5);
    }
}
