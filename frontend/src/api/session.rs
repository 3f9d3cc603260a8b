//! The session side of the API: who the browser is (`GET /api/v1/session`,
//! and [`recheck`] after a refused socket), logging in and out, the audit
//! log, the sessions view (list, end one) and the lease actions.
//!
//! Logging in does not go through [`super::post_json`]: a refused password
//! is a 401 like an expired session, and must not be taken for one.

use etcdeck_shared::LeaseId;
use etcdeck_shared::edit::{
    AuditLog, CSRF_HEADER, LeaseGrantRequest, LeaseGranted, LeaseKept, LeaseRequest, LoginRequest,
    SessionInfo, Written, path,
};
use etcdeck_shared::sessions::{EndSessionRequest, SessionList, path as sessions_path};
use gloo_net::http::Request;
use leptos::prelude::WithUntracked;

use super::{ApiFailure, decode, get_json, network_detail, post_json};

/// `GET /api/v1/session`: the browser's session; a 401 `login_required`
/// when there is none.
pub async fn session() -> Result<SessionInfo, ApiFailure> {
    let response = Request::get(&super::within(path::SESSION))
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|err| ApiFailure::Network(network_detail(&err)))?;
    decode(response).await
}

/// Asks the backend whether the active session still stands (after the
/// WebSocket was refused: the browser does not say why a socket failed to
/// open), and ends it or takes the answer. An answer for another etcd user
/// (this browser logged in as someone else in another tab, which ended this
/// tab's session) ends it too: the page must not go on as that user over
/// what the previous one was shown.
pub fn recheck() {
    let Some(current) = crate::session::current().filter(|s| s.is_active_now()) else {
        return;
    };
    leptos::task::spawn_local(async move {
        match session().await {
            Ok(info) => {
                let same = current
                    .phase
                    .try_with_untracked(|phase| {
                        phase
                            .info()
                            .is_some_and(|was| was.user == info.user && was.kind == info.kind)
                    })
                    .unwrap_or(false);
                if current.is_active_now() {
                    if same {
                        current.started(info);
                    } else {
                        current.ended();
                    }
                }
            }
            Err(failure) if super::is_login_required(&failure) => current.ended(),
            Err(_) => {}
        }
    });
}

/// A refused login: the backend's failure, and for a throttled one (429)
/// the seconds its `Retry-After` asks to wait.
#[derive(Clone, Debug)]
pub struct LoginFailure {
    pub failure: ApiFailure,
    pub retry_after_secs: Option<u64>,
}

impl std::fmt::Display for LoginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.failure.fmt(f)
    }
}

/// `POST /api/v1/login`: starts a session (the cookie is set by the
/// answer); a refused login is a 401 with the backend's sentence, a
/// throttled one a 429 with `Retry-After`.
pub async fn login(request: &LoginRequest) -> Result<SessionInfo, LoginFailure> {
    let failed = |failure| LoginFailure {
        failure,
        retry_after_secs: None,
    };
    let response = Request::post(&super::within(path::LOGIN))
        .header("Accept", "application/json")
        .json(request)
        .map_err(|err| failed(ApiFailure::Network(err.to_string())))?
        .send()
        .await
        .map_err(|err| failed(ApiFailure::Network(network_detail(&err))))?;
    let retry_after_secs = (response.status() == 429)
        .then(|| response.headers().get("retry-after"))
        .flatten()
        .and_then(|value| value.trim().parse().ok());
    decode(response).await.map_err(|failure| LoginFailure {
        failure,
        retry_after_secs,
    })
}

/// `POST /api/v1/logout`: ends the session (204, no body).
pub async fn logout() -> Result<(), ApiFailure> {
    let mut request =
        Request::post(&super::within(path::LOGOUT)).header("Accept", "application/json");
    if let Some(csrf) = crate::session::csrf() {
        request = request.header(CSRF_HEADER, &csrf);
    }
    let response = request
        .send()
        .await
        .map_err(|err| ApiFailure::Network(network_detail(&err)))?;
    // A session that already ended is as logged out as can be.
    if response.ok() || response.status() == 401 {
        return Ok(());
    }
    decode::<serde_json::Value>(response).await.map(|_| ())
}

/// `GET /api/v1/audit`: the most recent writes through etcdeck.
pub async fn audit() -> Result<AuditLog, ApiFailure> {
    get_json(path::AUDIT.to_owned()).await
}

/// `GET /api/v1/sessions`: the sessions this user may see.
pub async fn sessions() -> Result<SessionList, ApiFailure> {
    get_json(sessions_path::SESSIONS.to_owned()).await
}

/// `POST /api/v1/sessions/end`: ends the session `handle` names (204, no
/// body). A 401 means this session itself ended.
pub async fn end_session(handle: String) -> Result<(), ApiFailure> {
    let answer = async {
        let mut request = Request::post(&super::within(sessions_path::END_SESSION))
            .header("Accept", "application/json");
        if let Some(csrf) = crate::session::csrf() {
            request = request.header(CSRF_HEADER, &csrf);
        }
        let response = request
            .json(&EndSessionRequest { handle })
            .map_err(|err| ApiFailure::Network(err.to_string()))?
            .send()
            .await
            .map_err(|err| ApiFailure::Network(network_detail(&err)))?;
        if response.ok() {
            return Ok(());
        }
        decode::<serde_json::Value>(response).await.map(|_| ())
    }
    .await;
    if let Err(failure) = &answer {
        super::notice_failure(failure);
    }
    answer
}

/// `POST /api/v1/lease/grant`.
pub async fn lease_grant(ttl: i64) -> Result<LeaseGranted, ApiFailure> {
    post_json(path::LEASE_GRANT, &LeaseGrantRequest { ttl }).await
}

/// `POST /api/v1/lease/revoke`: the lease and every key attached to it go.
pub async fn lease_revoke(id: LeaseId) -> Result<Written, ApiFailure> {
    post_json(path::LEASE_REVOKE, &LeaseRequest { id }).await
}

/// `POST /api/v1/lease/keep-alive`: renews the lease once.
pub async fn lease_keep_alive(id: LeaseId) -> Result<LeaseKept, ApiFailure> {
    post_json(path::LEASE_KEEP_ALIVE, &LeaseRequest { id }).await
}
