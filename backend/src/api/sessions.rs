//! `GET /api/v1/sessions` and `POST /api/v1/sessions/end`: the sessions a
//! person may see, and ending one of them.
//!
//! A login sees its own etcd user's sessions, etcd's root everyone's, a wall
//! screen or open session only itself; sessions are named by their public
//! handle, never their cookie. Ending one checks `Origin` and the CSRF token
//! like every write, but not `--read-only` or the session's write
//! permission: ending a session writes nothing to etcd, and a person must be
//! able to end their own stolen or forgotten session whatever etcdeck may
//! write. Ending someone else's needs etcd's root; every end is in the
//! audit log (`end_session`: who, whose, from which address).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use etcdeck_shared::Bytes;
use etcdeck_shared::edit::{AuditEntry, AuditResult, SessionKind};
use etcdeck_shared::sessions::{EndSessionRequest, SessionList};

use super::client::ClientAddr;
use super::extract::{check_csrf, session_cookie, session_from};
use super::{AppState, Failure, same_site};
use crate::auth::{EndError, Seen};

/// Where a login comes from, for the sessions list: the client's address,
/// its `User-Agent`, and the session cookie it already holds (which the
/// login ends).
pub(super) fn seen(client: &ClientAddr, headers: &HeaderMap) -> Seen {
    Seen {
        address: client.0,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        replaces: session_cookie(headers),
    }
}

/// `GET /api/v1/sessions`.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionList>, Failure> {
    session_from(&headers, &state.sessions)?;
    let id = session_cookie(&headers).unwrap_or_default();
    state.sessions.list(&id).map(Json).ok_or_else(ended)
}

/// `POST /api/v1/sessions/end`.
pub(super) async fn end(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Result<Json<EndSessionRequest>, JsonRejection>,
) -> Result<Response, Failure> {
    same_site(&headers, &state.config)?;
    let caller = session_from(&headers, &state.sessions)?;
    check_csrf(&headers, &caller)?;
    let Json(request) =
        body.map_err(|err| Failure::BadRequest(format!("malformed request: {}", err.body_text())))?;
    let id = session_cookie(&headers).unwrap_or_default();
    let mut entry = AuditEntry {
        at_ms: crate::audit::now_ms(),
        user: caller.user.clone(),
        action: "end_session".into(),
        key: Bytes::from(""),
        to: None,
        old_revision: None,
        new_revision: None,
        result: AuditResult::Ok,
        detail: None,
        address: Some(client.shown()),
    };
    match state.sessions.end_by_handle(&id, &request.handle) {
        Ok(ended) => {
            let whose = ended.user.clone().unwrap_or_else(|| "-".into());
            entry.key = Bytes::from(whose.as_str());
            entry.detail = Some(format!(
                "ended {} {} session{} (from {}, {})",
                if ended.was_caller { "its own" } else { "the" },
                kind_words(ended.kind),
                if ended.was_caller {
                    String::new()
                } else {
                    format!(" of {whose}")
                },
                ended
                    .address
                    .map_or_else(|| "an unknown address".to_owned(), |a| a.to_string()),
                ended.browser,
            ));
            state.audit.record(entry);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(err) => {
            entry.result = AuditResult::Denied;
            entry.detail = Some(err.to_string());
            state.audit.record(entry);
            Err(match err {
                EndError::NotFound => Failure::NotFound(err.to_string()),
                EndError::Refused(sentence) => Failure::Forbidden(sentence),
            })
        }
    }
}

fn kind_words(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Login => "login",
        SessionKind::Token => "wall-screen",
        SessionKind::Open => "open",
    }
}

/// The caller's session ended between its lookup and the list.
fn ended() -> Failure {
    Failure::LoginRequired(
        "your session has ended (you logged out, or etcdeck restarted); log in again".into(),
    )
}
