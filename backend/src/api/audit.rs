//! `GET /api/v1/audit`: the audit log of writes through this etcdeck
//! (`crate::audit`), filtered to what the session's user may see.

use axum::Json;
use axum::extract::State;
use etcdeck_shared::edit::{AuditLog, SessionKind};

use super::AppState;
use super::extract::Reader;

/// `GET /api/v1/audit`: a user sees their own writes; etcd's `root` user,
/// and everyone when etcd has auth disabled, sees every write (the keys
/// others wrote are not everyone's to see).
pub(super) async fn audit(State(state): State<AppState>, reader: Reader) -> Json<AuditLog> {
    let open = reader
        .session
        .as_ref()
        .is_none_or(|s| s.kind == SessionKind::Open);
    let sees_all = open || reader.user.as_deref() == Some("root");
    Json(AuditLog {
        entries: state
            .audit
            .recent()
            .into_iter()
            .filter(|entry| sees_all || entry.user == reader.user)
            .collect(),
    })
}
