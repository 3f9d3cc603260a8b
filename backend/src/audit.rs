//! The audit log: every write attempted through etcdeck (who, what, the
//! revision the user saw, the revision written, the result) and every
//! login attempt (the user name tried, the client's address, the result)
//! goes to the backend log under the `etcdeck::audit` target and into a
//! bounded in-memory list that the audit view reads.
//!
//! Logins are kept apart from everything else, each up to
//! [`AUDIT_CAPACITY`]: refused logins cost an attacker nothing once they
//! are throttled, and a flood of them must not push the writes out of
//! the audit view.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use etcdeck_shared::edit::{ACTION_LOGIN, ACTION_LOGIN_TOKEN, AuditEntry, AuditResult};

/// How many login entries, and apart how many other entries, the audit
/// view can show; older ones stay in the log.
pub const AUDIT_CAPACITY: usize = 1_000;

/// The audit log. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    entries: Arc<Mutex<Kept>>,
}

/// The entries kept for the audit view, each list newest first.
#[derive(Debug, Default)]
struct Kept {
    logins: VecDeque<AuditEntry>,
    others: VecDeque<AuditEntry>,
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
        let mut kept = self.lock();
        let entries = if entry.action == ACTION_LOGIN || entry.action == ACTION_LOGIN_TOKEN {
            &mut kept.logins
        } else {
            &mut kept.others
        };
        if entries.len() == AUDIT_CAPACITY {
            entries.pop_back();
        }
        entries.push_front(entry);
    }

    /// The kept entries, newest first.
    pub fn recent(&self) -> Vec<AuditEntry> {
        let kept = self.lock();
        let mut logins = kept.logins.iter().peekable();
        let mut others = kept.others.iter().peekable();
        let mut recent = Vec::with_capacity(kept.logins.len() + kept.others.len());
        // Both lists are newest first: merge them by time.
        loop {
            let next = match (logins.peek(), others.peek()) {
                (Some(login), Some(other)) if login.at_ms > other.at_ms => logins.next(),
                (_, Some(_)) => others.next(),
                (Some(_), None) => logins.next(),
                (None, None) => break,
            };
            recent.extend(next.cloned());
        }
        recent
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
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

    #[test]
    fn a_flood_of_logins_leaves_the_writes_in_view() {
        let audit = Audit::default();
        audit.record(entry(1));
        audit.record(entry(3));
        for n in 0..(AUDIT_CAPACITY as u64 * 2) {
            audit.record(AuditEntry {
                action: ACTION_LOGIN.into(),
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
}
