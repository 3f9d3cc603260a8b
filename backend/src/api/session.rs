//! `GET /api/v1/session`, `POST /api/v1/login`, `POST /api/v1/logout`: the
//! browser's session with etcdeck.
//!
//! Logging in checks the etcd user's password against etcd at once; the
//! browser then holds only an HttpOnly, SameSite=Strict cookie and learns
//! the session's CSRF token from the answer. Failed logins are throttled
//! (`auth::Throttle`: 429 with `Retry-After` once an address or a user name
//! has had too many) and every login attempt is in the audit log.
//! Every login gets a fresh random session id and ends the session the
//! browser held before; logging out also asks the browser to clear what it
//! cached and stored for this site (`Clear-Site-Data`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use etcdeck_shared::Bytes;
use etcdeck_shared::edit::{
    ACTION_LOGIN, ACTION_LOGIN_TOKEN, AuditEntry, AuditResult, LoginRequest, SessionInfo,
};

use super::client::ClientAddr;
use super::extract::{check_csrf, clear_cookie, session_cookie, session_from, set_cookie};
use super::origin::from_https;
use super::sessions::seen;
use super::{AppState, Failure, same_site};
use crate::audit::now_ms;
use crate::auth::LoginError;

/// `GET /api/v1/session`: the session's [`SessionInfo`]; with etcd auth
/// disabled a browser without a session gets an open one.
pub(super) async fn session(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let idle = state.sessions.idle_limit();
    let ended = match session_from(&headers, &state.sessions) {
        Ok(session) => return Ok(Json(session.info(idle)).into_response()),
        Err(failure) => failure,
    };
    if state.sessions.etcd_is_open().await == Some(true) {
        let (id, session) = state.sessions.open(seen(&client, &headers));
        return Ok(with_cookie(&id, &headers, Json(session.info(idle))));
    }
    Err(ended)
}

/// `POST /api/v1/login`: throttled per client address and per etcd user
/// name (`auth::Throttle`) before etcd is asked; every attempt, refused or
/// not, is an audit entry (never with the password).
pub(super) async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Failure> {
    // A page of another site must not log this browser in as someone else.
    same_site(&headers, &state.config)?;
    let Json(request) =
        body.map_err(|err| Failure::BadRequest(format!("malformed login: {}", err.body_text())))?;
    let tried = match &request {
        LoginRequest::Password { user, .. } => {
            if user.is_empty() {
                return Err(Failure::BadRequest("the user name is empty".into()));
            }
            Some(user.as_str())
        }
        LoginRequest::Token { .. } => None,
    };
    let logged = Logged {
        state: &state,
        user: tried,
        address: client.shown(),
    };
    // Refused before etcd is asked, so a throttled guess learns nothing,
    // not even whether the password was right.
    let attempt = match state.throttle.begin(client.0, tried) {
        Ok(attempt) => attempt,
        Err(throttled) => {
            tracing::warn!(user = tried.unwrap_or("(access token)"), address = %logged.address, "login throttled");
            logged.audit(AuditResult::Throttled, Some(throttled.to_string()));
            return Err(Failure::Throttled(throttled));
        }
    };
    let seen = seen(&client, &headers);
    let outcome = match &request {
        LoginRequest::Password { user, password } => {
            state.sessions.login_password(user, password, seen).await
        }
        LoginRequest::Token { token } => state.sessions.login_token(token, seen),
    };
    let (id, session) = match outcome {
        Ok(done) => {
            attempt.succeeded();
            done
        }
        Err(err) => {
            tracing::warn!(user = tried.unwrap_or("(access token)"), address = %logged.address, error = %err, "login refused");
            let result = match err {
                LoginError::Rejected | LoginError::BadToken | LoginError::NoToken => {
                    attempt.failed();
                    AuditResult::Denied
                }
                // etcd did not judge the password: the attempt's cells come
                // back when it is dropped.
                LoginError::AuthDisabled | LoginError::Etcd(_) => AuditResult::Failed,
            };
            logged.audit(result, Some(err.to_string()));
            return Err(Failure::from(err));
        }
    };
    tracing::info!(
        user = session.user.as_deref().unwrap_or("-"),
        kind = ?session.kind,
        address = %logged.address,
        "logged in"
    );
    logged.audit(AuditResult::Ok, None);
    let info: SessionInfo = session.info(state.sessions.idle_limit());
    Ok(with_cookie(&id, &headers, Json(info)))
}

/// A login attempt as the audit log records it.
struct Logged<'a> {
    state: &'a AppState,
    /// The user name tried; `None` for a wall token.
    user: Option<&'a str>,
    address: String,
}

impl Logged<'_> {
    fn audit(&self, result: AuditResult, detail: Option<String>) {
        self.state.audit.record(AuditEntry {
            at_ms: now_ms(),
            user: self.user.map(str::to_owned),
            action: if self.user.is_some() {
                ACTION_LOGIN
            } else {
                ACTION_LOGIN_TOKEN
            }
            .to_owned(),
            key: Bytes::default(),
            to: None,
            old_revision: None,
            new_revision: None,
            result,
            detail,
            address: Some(self.address.clone()),
        });
    }
}

/// `POST /api/v1/logout`: ends the session (its WebSockets close), clears
/// the cookie, and asks the browser to drop this site's cache and storage
/// (`localStorage` with it: the page's remembered preferences go too, which
/// on a shared computer is the point). Needs the CSRF token, so another
/// site cannot log the user out.
pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session_cookie(&headers)
        && let Ok(session) = state.sessions.get(&id)
    {
        if let Err(failure) =
            same_site(&headers, &state.config).and_then(|()| check_csrf(&headers, &session))
        {
            return failure.into_response();
        }
        state.sessions.end(&id);
        tracing::info!(user = session.user.as_deref().unwrap_or("-"), "logged out");
    }
    (
        StatusCode::NO_CONTENT,
        [
            (header::SET_COOKIE, clear_cookie()),
            (CLEAR_SITE_DATA, CLEAR_ON_LOGOUT.to_owned()),
        ],
    )
        .into_response()
}

fn with_cookie(id: &str, headers: &HeaderMap, body: impl IntoResponse) -> Response {
    (
        [(header::SET_COOKIE, set_cookie(id, from_https(headers)))],
        body,
    )
        .into_response()
}

/// What a logout asks the browser to forget. Not `"cookies"`: the cookie is
/// cleared by name, and clearing every cookie would log the browser out of
/// anything else served from this host.
const CLEAR_ON_LOGOUT: &str = r#""cache", "storage""#;
const CLEAR_SITE_DATA: header::HeaderName = header::HeaderName::from_static("clear-site-data");
