//! Who a request acts as, in HTTP terms: the session cookie and the
//! extractors every handler takes to reach etcd. The sessions themselves
//! live in [`crate::auth`], which knows nothing of HTTP.
//!
//! - [`Reader`]: any request that reads etcd. The session cookie names a
//!   browser session and so its own etcd client; without one, only an etcd
//!   with auth disabled may be read (through etcdeck's own session), and
//!   everything else is 401 `login_required`.
//! - [`Writer`]: a write. On top of [`Reader`], the request must come from
//!   a page of this etcdeck (`Origin`), carry the session's CSRF token in
//!   [`CSRF_HEADER`], and the session must be allowed to write (not
//!   `--read-only`, not a wall token, not etcd without auth unless writes
//!   were explicitly allowed); otherwise 403. etcd's own RBAC then decides
//!   what the user may change.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use etcdeck_shared::edit::{CSRF_HEADER, SESSION_COOKIE};

use super::origin::same_site;
use super::{AppState, Failure};
use crate::auth::{BrowserSession, Sessions};
use crate::etcd::EtcdSession;

/// A request that reads etcd, with the session's etcd client.
#[derive(Clone, Debug)]
pub struct Reader {
    pub etcd: EtcdSession,
    /// The etcd user it acts as (`None` without etcd auth).
    pub user: Option<String>,
    /// The browser session; `None` for a cookie-less read of an etcd
    /// without auth.
    pub session: Option<Arc<BrowserSession>>,
}

/// A request allowed to write, with the session's etcd client.
#[derive(Clone, Debug)]
pub struct Writer {
    pub etcd: EtcdSession,
    pub user: Option<String>,
    /// The etcd user has etcd's root role (it may reveal masked values).
    pub is_root: bool,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        let ended = match session_from(&parts.headers, &state.sessions) {
            Ok(session) => {
                return Ok(Reader {
                    etcd: session.etcd.clone(),
                    user: session.user.clone(),
                    session: Some(session),
                });
            }
            Err(failure) => failure,
        };
        if state.sessions.etcd_is_open().await == Some(true) {
            let server = state.sessions.server().clone();
            return Ok(Reader {
                user: server.user().map(str::to_owned),
                etcd: server,
                session: None,
            });
        }
        Err(ended)
    }
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        same_site(&parts.headers, &state.config)?;
        let session = session_from(&parts.headers, &state.sessions)?;
        check_csrf(&parts.headers, &session)?;
        if let Err(reason) = session.can_write() {
            tracing::warn!(
                user = session.user.as_deref().unwrap_or("-"),
                path = %parts.uri.path(),
                "refused a write: {reason}"
            );
            return Err(Failure::ReadOnly(reason));
        }
        // No write goes unrecorded: while the audit file fails, none starts.
        state
            .audit
            .check_writable()
            .map_err(|err| Failure::Unavailable(err.to_string()))?;
        Ok(Writer {
            etcd: session.etcd.clone(),
            user: session.user.clone(),
            is_root: session.is_root,
        })
    }
}

/// The session the request's cookie names, or why there is none.
pub(super) fn session_from(
    headers: &HeaderMap,
    sessions: &Sessions,
) -> Result<Arc<BrowserSession>, Failure> {
    let Some(id) = session_cookie(headers) else {
        return Err(Failure::LoginRequired(
            "log in with your etcd user name and password".into(),
        ));
    };
    // The store says why in a sentence (idle, too old, ended by someone,
    // a password etcd no longer accepts).
    sessions
        .get(&id)
        .map_err(|lookup| Failure::LoginRequired(lookup.to_string()))
}

/// The request must carry the session's CSRF token.
pub(super) fn check_csrf(headers: &HeaderMap, session: &BrowserSession) -> Result<(), Failure> {
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if session.csrf_matches(sent) {
        Ok(())
    } else {
        tracing::warn!(
            user = session.user.as_deref().unwrap_or("-"),
            "refused a write without this session's CSRF token"
        );
        Err(Failure::Forbidden(
            "this write lacks the session's CSRF token; reload the page and try again".into(),
        ))
    }
}

/// The value of the session cookie, from any `Cookie` header.
pub(super) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new session: HttpOnly (scripts never see it),
/// SameSite=Strict (other sites' pages never send it), `Secure` when the
/// page was served over HTTPS.
pub(super) fn set_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// `Set-Cookie` that removes the session cookie.
pub(super) fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        assert_eq!(session_cookie(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; etcdeck_session=abc-_1 ; x=y"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc-_1"));
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        assert_eq!(
            set_cookie("id", false),
            "etcdeck_session=id; Path=/; HttpOnly; SameSite=Strict"
        );
        assert!(set_cookie("id", true).ends_with("; Secure"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
