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
//!
//! Over HTTPS the session cookie travels as `__Host-etcdeck_session`
//! (always `Secure`); over plain HTTP as
//! [`SESSION_COOKIE`], since browsers refuse a `__Host-` cookie without
//! `Secure`. Handlers read and set it under the one name [`SESSION_COOKIE`];
//! [`host_cookie`], a layer around the whole router when it serves HTTPS,
//! renames it both ways, so every handler finds the cookie of the transport
//! it was reached over and no other. Each further cluster's cookie has its
//! own name (`etcdeck_session_NAME`, [`cluster_cookie`]), renamed the same
//! way inside that cluster's routes.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use etcdeck_shared::edit::{CSRF_HEADER, SESSION_COOKIE, SessionKind};

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

impl Reader {
    /// Which coordination answers this request may share: a wall screen's
    /// takes one read within the last second, so any number of screens
    /// cost etcd what one does; everyone else one read after they asked.
    pub fn sharing(&self) -> crate::coord::Sharing {
        match self.session.as_deref().map(|s| s.kind) {
            Some(SessionKind::Token) => crate::coord::Sharing::Recent,
            _ => crate::coord::Sharing::Exact,
        }
    }
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

/// The session cookie's name over HTTPS. Browsers take a `__Host-` cookie
/// only when it is `Secure`, has `Path=/` and no `Domain`, so neither a
/// plain-HTTP page of this host nor a sibling domain can plant one.
#[cfg(test)]
pub const HOST_SESSION_COOKIE: &str = "__Host-etcdeck_session";

/// What the HTTPS form of every cluster's session cookie starts with.
const HOST_PREFIX: &str = "__Host-";

/// The layer that gives the session cookie its HTTPS form (see the module
/// header). In requests, a cookie of the plain name is dropped (over HTTPS
/// it can only have come from somewhere else: a plain-HTTP page of the same
/// host, or a sibling domain) and `__Host-etcdeck_session` is presented as
/// [`SESSION_COOKIE`]; in answers, the session's `Set-Cookie` is renamed
/// and marked `Secure`.
pub(super) async fn host_cookie(mut request: Request, next: Next) -> Response {
    cookies_from_host_form(request.headers_mut());
    let mut response = next.run(request).await;
    set_cookies_in_host_form(response.headers_mut());
    response
}

/// A session cookie of any cluster: [`SESSION_COOKIE`] (the first
/// cluster's) or `SESSION_COOKIE_NAME` (see [`cluster_cookie`]).
fn is_session_cookie(name: &str) -> bool {
    name.strip_prefix(SESSION_COOKIE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
}

/// The layer that gives a further cluster's session cookie its own name
/// (`etcdeck_session_NAME`, the state), so that a login on one cluster
/// never opens another: an etcd user of one cluster means nothing on the
/// next. In requests the cluster's cookie is presented to the handlers as
/// [`SESSION_COOKIE`] (and the first cluster's, of that name, is dropped);
/// in answers the session's `Set-Cookie` is renamed back. Every cookie
/// keeps `Path=/`, so the HTTPS form (`__Host-`, see [`host_cookie`]) works
/// for each.
pub(super) async fn cluster_cookie(
    axum::extract::State(cookie): axum::extract::State<Arc<str>>,
    mut request: Request,
    next: Next,
) -> Response {
    rename_cookies(request.headers_mut(), &cookie);
    let mut response = next.run(request).await;
    rename_set_cookies(response.headers_mut(), &cookie);
    response
}

fn rename_cookies(headers: &mut HeaderMap, cookie: &str) {
    let values: Vec<HeaderValue> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| {
            let Ok(text) = value.to_str() else {
                return Some(value.clone());
            };
            let kept: Vec<String> = text
                .split(';')
                .map(str::trim)
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                    if name == SESSION_COOKIE {
                        None
                    } else if name == cookie {
                        Some(format!("{SESSION_COOKIE}{}", &pair[name.len()..]))
                    } else {
                        Some(pair.to_owned())
                    }
                })
                .collect();
            (!kept.is_empty())
                .then(|| HeaderValue::from_str(&kept.join("; ")).ok())
                .flatten()
        })
        .collect();
    headers.remove(header::COOKIE);
    for value in values {
        headers.append(header::COOKIE, value);
    }
}

fn rename_set_cookies(headers: &mut HeaderMap, cookie: &str) {
    let plain = format!("{SESSION_COOKIE}=");
    let values: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(
            |value| match value.to_str().ok().and_then(|v| v.strip_prefix(&plain)) {
                Some(rest) => HeaderValue::from_str(&format!("{cookie}={rest}"))
                    .unwrap_or_else(|_| value.clone()),
                None => value.clone(),
            },
        )
        .collect();
    if values.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for value in values {
        headers.append(header::SET_COOKIE, value);
    }
}

fn cookies_from_host_form(headers: &mut HeaderMap) {
    let values: Vec<HeaderValue> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| {
            // A header that is not text names no session cookie for
            // `session_cookie` either: leave it as it is.
            let Ok(text) = value.to_str() else {
                return Some(value.clone());
            };
            let kept: Vec<String> = text
                .split(';')
                .map(str::trim)
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                    if is_session_cookie(name) {
                        None
                    } else if let Some(plain) = name
                        .strip_prefix(HOST_PREFIX)
                        .filter(|plain| is_session_cookie(plain))
                    {
                        Some(format!("{plain}{}", &pair[name.len()..]))
                    } else {
                        Some(pair.to_owned())
                    }
                })
                .collect();
            (!kept.is_empty())
                .then(|| HeaderValue::from_str(&kept.join("; ")).ok())
                .flatten()
        })
        .collect();
    headers.remove(header::COOKIE);
    for value in values {
        headers.append(header::COOKIE, value);
    }
}

fn set_cookies_in_host_form(headers: &mut HeaderMap) {
    let values: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| {
            let Some(text) = value.to_str().ok().filter(|v| {
                v.split_once('=')
                    .is_some_and(|(name, _)| is_session_cookie(name))
            }) else {
                return value.clone();
            };
            let secure = text
                .split(';')
                .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"));
            let secure = if secure { "" } else { "; Secure" };
            HeaderValue::from_str(&format!("{HOST_PREFIX}{text}{secure}"))
                .unwrap_or_else(|_| value.clone())
        })
        .collect();
    if values.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for value in values {
        headers.append(header::SET_COOKIE, value);
    }
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

    #[test]
    fn https_form_of_the_cookie() {
        assert_eq!(
            HOST_SESSION_COOKIE,
            format!("{HOST_PREFIX}{SESSION_COOKIE}")
        );
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("etcdeck_session=planted; theme=dark"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-etcdeck_session=real; x=y"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("etcdeck_session=b"),
        );
        cookies_from_host_form(&mut headers);
        let cookies: Vec<&str> = headers
            .get_all(header::COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or_default())
            .collect();
        assert_eq!(cookies, ["theme=dark", "etcdeck_session=real; x=y"]);
        assert_eq!(session_cookie(&headers).as_deref(), Some("real"));

        // A plain-name cookie alone is no session over HTTPS.
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("etcdeck_session=planted"),
        );
        cookies_from_host_form(&mut headers);
        assert_eq!(session_cookie(&headers), None);

        let mut headers = HeaderMap::new();
        for value in [
            set_cookie("id", false),
            clear_cookie(),
            set_cookie("id", true),
        ] {
            headers.append(header::SET_COOKIE, HeaderValue::from_str(&value).unwrap());
        }
        headers.append(header::SET_COOKIE, HeaderValue::from_static("other=1"));
        set_cookies_in_host_form(&mut headers);
        let set: Vec<&str> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or_default())
            .collect();
        assert_eq!(
            set,
            [
                "__Host-etcdeck_session=id; Path=/; HttpOnly; SameSite=Strict; Secure",
                "__Host-etcdeck_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure",
                "__Host-etcdeck_session=id; Path=/; HttpOnly; SameSite=Strict; Secure",
                "other=1",
            ]
        );
    }

    /// A further cluster's cookie reaches its handlers under the one name,
    /// the first cluster's is not taken for it, and over HTTPS both keep
    /// their `__Host-` form apart.
    #[test]
    fn each_cluster_has_its_own_cookie() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("etcdeck_session=first; etcdeck_session_beta=second; x=1"),
        );
        rename_cookies(&mut headers, "etcdeck_session_beta");
        assert_eq!(session_cookie(&headers).as_deref(), Some("second"));
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("etcdeck_session=first"),
        );
        rename_cookies(&mut headers, "etcdeck_session_beta");
        assert_eq!(session_cookie(&headers), None);

        let mut answer = HeaderMap::new();
        answer.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&set_cookie("id", true)).unwrap(),
        );
        rename_set_cookies(&mut answer, "etcdeck_session_beta");
        set_cookies_in_host_form(&mut answer);
        let set = answer[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set.starts_with("__Host-etcdeck_session_beta=id; Path=/;"),
            "{set}"
        );

        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static(
                "etcdeck_session_beta=planted; __Host-etcdeck_session_beta=real; __Host-etcdeck_session=first",
            ),
        );
        cookies_from_host_form(&mut headers);
        rename_cookies(&mut headers, "etcdeck_session_beta");
        assert_eq!(session_cookie(&headers).as_deref(), Some("real"));
    }
}
