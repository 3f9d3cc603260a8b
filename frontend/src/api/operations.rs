//! The cluster operations: which of them this session may use, compact,
//! defragment one member, disarm an alarm and move the leader (each sent
//! with the session's CSRF token through [`post_json`]). The snapshot is a
//! plain download link ([`snapshot_link`]), so the browser shows its own
//! progress; the link carries the CSRF token, since a link sends no header.

use etcdeck_shared::operations::{
    CompactRequest, Compacted, DisarmRequest, Done, MemberRequest, Operations, path, snapshot_url,
};

use super::{ApiFailure, get_json, post_json};

/// `GET /api/v1/cluster/operations`.
pub async fn operations() -> Result<Operations, ApiFailure> {
    get_json(path::OPERATIONS.to_owned()).await
}

/// `POST /api/v1/cluster/compact`.
pub async fn compact(request: &CompactRequest) -> Result<Compacted, ApiFailure> {
    post_json(path::COMPACT, request).await
}

/// `POST /api/v1/cluster/defragment`.
pub async fn defragment(request: &MemberRequest) -> Result<Done, ApiFailure> {
    post_json(path::DEFRAGMENT, request).await
}

/// `POST /api/v1/cluster/disarm`.
pub async fn disarm(request: &DisarmRequest) -> Result<Done, ApiFailure> {
    post_json(path::DISARM, request).await
}

/// `POST /api/v1/cluster/move-leader`.
pub async fn move_leader(request: &MemberRequest) -> Result<Done, ApiFailure> {
    post_json(path::MOVE_LEADER, request).await
}

/// The download link of `member`'s snapshot, with this session's CSRF
/// token (`None` without a session).
pub fn snapshot_link(member: &str) -> Option<String> {
    crate::session::csrf().map(|csrf| crate::api::within(&snapshot_url(member, &csrf)))
}
