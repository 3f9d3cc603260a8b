//! `POST /api/v1/reveal`: the one answer that carries a masked value.
//!
//! Every other answer leaves out the values of keys that match a mask
//! pattern (`mask.rs`). A reveal reads one key, as of a revision or now, and
//! answers it with its value, but only to a session whose etcd user has
//! etcd's root role (asked of etcd at login); anyone else gets 403. It is
//! checked like a write (the page's `Origin` and the session's CSRF token),
//! since it exposes more than a plain read, but it changes nothing, so a
//! `--read-only` root may reveal. Every attempt, shown or refused, goes to
//! the audit log (action `reveal`, user, key, client address), never the
//! value.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use etcdeck_shared::KeyValue;
use etcdeck_shared::edit::{AuditEntry, AuditResult};
use etcdeck_shared::mask::{REVEAL_ROOT_ONLY, RevealRequest};

use super::client::ClientAddr;
use super::extract::{Reader, check_csrf};
use super::{AppState, Failure, error, same_site};
use crate::etcd::{EtcdError, KeyRead};

/// `POST /api/v1/reveal`.
pub(super) async fn reveal(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    reader: Result<Reader, Failure>,
    request: Result<Json<RevealRequest>, JsonRejection>,
) -> Result<Json<KeyValue>, Failure> {
    same_site(&headers, &state.config)?;
    let reader = reader?;
    let Json(request) = request
        .map_err(|err| Failure::BadRequest(format!("malformed reveal: {}", err.body_text())))?;
    let outcome = shown(&headers, &reader, &request).await;
    let (result, detail) = match &outcome {
        Ok(_) => (AuditResult::Ok, None),
        Err(
            Failure::Forbidden(_)
            | Failure::LoginRequired(_)
            | Failure::Etcd(EtcdError::PermissionDenied(_)),
        ) => (
            AuditResult::Denied,
            outcome.as_ref().err().map(Failure::sentence),
        ),
        Err(failure) => (AuditResult::Failed, Some(failure.sentence())),
    };
    state.audit.record(AuditEntry {
        at_ms: crate::audit::now_ms(),
        user: reader.user.clone(),
        action: "reveal".to_owned(),
        key: request.key.clone(),
        to: None,
        old_revision: outcome.as_ref().ok().map(|kv| kv.mod_revision),
        new_revision: None,
        result,
        detail,
        address: Some(client.shown()),
    });
    outcome.map(Json)
}

/// The key with its value, when this session may see it.
async fn shown(
    headers: &HeaderMap,
    reader: &Reader,
    request: &RevealRequest,
) -> Result<KeyValue, Failure> {
    // Without a session (etcd without auth) there is no root to ask.
    let Some(session) = &reader.session else {
        return Err(Failure::Forbidden(format!(
            "{REVEAL_ROOT_ONLY}; etcd has auth disabled, so no one logs in as root"
        )));
    };
    check_csrf(headers, session)?;
    // Asked of etcd again for a root session: root may have been revoked
    // since the login said so.
    let still_root = session.is_root && reader.etcd.is_root().await.map_err(Failure::Etcd)?;
    if !still_root {
        return Err(Failure::Forbidden(format!(
            "{REVEAL_ROOT_ONLY}; {} is not root",
            reader.user.as_deref().unwrap_or("this session's user")
        )));
    }
    if request.key.is_empty() {
        return Err(Failure::BadRequest("the key must not be empty".into()));
    }
    if request.revision.is_some_and(|r| r.0 <= 0) {
        return Err(Failure::BadRequest(
            "revision must be a positive whole number".into(),
        ));
    }
    let read = reader
        .etcd
        .get_key_at(&request.key, request.revision)
        .await
        .map_err(|err| error::at_revision_failure(err, request.revision))?;
    match read {
        KeyRead::Found(kv) => Ok(kv),
        KeyRead::Missing { revision } => Err(Failure::KeyMissing {
            message: format!("the key {} does not exist", request.key.display()),
            revision,
        }),
    }
}
