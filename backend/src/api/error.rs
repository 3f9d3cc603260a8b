//! [`Failure`]: every error an API handler can meet, and the one mapping
//! from it to an HTTP status and an [`ApiError`] body.
//!
//! Everything that decides which code or status a browser sees lives here:
//! the errors of the etcd layer, the tree lister, the coordination views,
//! logins, the watch hub's reasons for ending a subscription (sent over the
//! WebSocket, where there is no status), and axum's own answers (a method
//! a path does not take, an unknown path, a timeout), which
//! [`as_api_error`] turns into `ApiError` bodies too.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use etcdeck_shared::edit::Conflict;
use etcdeck_shared::{ApiError, ErrorCode, Revision};

use crate::auth::{LoginError, Throttled};
use crate::coord::CoordError;
use crate::etcd::{EtcdError, HistoryError, is_lease_not_found};
use crate::hub::Ended;
use crate::tree::LevelError;

/// Most bytes of a plain-text error body kept as the message of the
/// `ApiError` that replaces it.
const MAX_TEXT_BODY: usize = 4 * 1024;

#[derive(Debug)]
pub enum Failure {
    BadRequest(String),
    NotFound(String),
    /// A key that does not exist as of `revision`.
    KeyMissing {
        message: String,
        revision: Revision,
    },
    /// The request came from where it may not (another site), or etcd's
    /// permissions refuse it.
    Forbidden(String),
    /// No session: the browser must log in first.
    LoginRequired(String),
    /// etcdeck refuses writes for this session.
    ReadOnly(String),
    /// Something changed since the user looked; nothing was written.
    Conflict(String),
    /// A guarded write of one key found it changed: 409 with the key now.
    KeyConflict(Box<Conflict>),
    /// The revision asked for has been compacted away.
    Compacted(String),
    /// The request is larger than etcdeck sends to etcd.
    TooLarge(String),
    /// The API path exists but does not take the request's method.
    MethodNotAllowed(String),
    /// etcdeck could not answer now (a request that ran out of time).
    Unavailable(String),
    /// Too many failed logins: 429 with `Retry-After`, etcd not asked.
    Throttled(Throttled),
    /// etcdeck itself failed.
    Internal(String),
    Etcd(EtcdError),
}

impl From<EtcdError> for Failure {
    fn from(err: EtcdError) -> Self {
        Failure::Etcd(err)
    }
}

impl From<CoordError> for Failure {
    fn from(err: CoordError) -> Self {
        match err {
            CoordError::Denied(sentence) => Failure::Forbidden(sentence),
            CoordError::Etcd(err) => Failure::Etcd(err),
        }
    }
}

impl From<LevelError<EtcdError>> for Failure {
    fn from(err: LevelError<EtcdError>) -> Self {
        match err {
            LevelError::Source(err) => Failure::Etcd(err),
            other => Failure::BadRequest(other.to_string()),
        }
    }
}

impl From<HistoryError> for Failure {
    fn from(err: HistoryError) -> Self {
        match err {
            HistoryError::Etcd(err) => Failure::Etcd(err),
            HistoryError::TimedOut => Failure::Etcd(EtcdError::Unavailable(
                "etcd did not replay the key's history within 10 s".into(),
            )),
        }
    }
}

impl From<LoginError> for Failure {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::Rejected | LoginError::BadToken => Failure::LoginRequired(err.to_string()),
            LoginError::NoToken | LoginError::AuthDisabled => Failure::BadRequest(err.to_string()),
            LoginError::Etcd(err) => Failure::Etcd(err),
        }
    }
}

/// Why the hub ended a subscription, as the browser is told in a `closed`
/// message.
impl From<Ended> for Failure {
    fn from(why: Ended) -> Self {
        match why {
            Ended::WatchDenied { user, reason } => Failure::Forbidden(format!(
                "etcd denies watching this range to the etcd user{}: {reason}",
                user.map(|u| format!(" '{u}'")).unwrap_or_default()
            )),
            Ended::ReadFailed(EtcdError::PermissionDenied(reason)) => {
                Failure::Forbidden(format!("etcd denies reading this range: {reason}"))
            }
            Ended::ReadFailed(EtcdError::InvalidRequest(reason)) => {
                Failure::BadRequest(format!("etcd refused to watch this range: {reason}"))
            }
            Ended::ReadFailed(other) => Failure::Etcd(other),
        }
    }
}

/// An etcd failure of a write: permission denied names what the user may
/// not write.
pub(super) fn write_failure(err: EtcdError, user: Option<&str>, what: &str) -> Failure {
    match err {
        EtcdError::PermissionDenied(_) => Failure::Forbidden(format!(
            "etcd refused: the etcd user {} may not write {what} (permission denied); nothing was written",
            user.unwrap_or("etcdeck acts as")
        )),
        other => Failure::Etcd(other),
    }
}

/// An etcd failure of a write naming the lease `lease` (an id, or words
/// for the key's own lease): a lease etcd does not know (any more) is 404;
/// anything else as [`write_failure`].
pub(super) fn lease_write_failure(
    err: EtcdError,
    lease: &str,
    user: Option<&str>,
    what: &str,
) -> Failure {
    if is_lease_not_found(&err) {
        Failure::NotFound(format!(
            "lease {lease} does not exist (it expired or was revoked); nothing was written"
        ))
    } else {
        write_failure(err, user, what)
    }
}

/// A failure to list a level, read at the earlier revision `at` if any.
pub(super) fn level_failure(err: LevelError<EtcdError>, at: Option<Revision>) -> Failure {
    match err {
        LevelError::Source(err) => at_revision_failure(err, at),
        other => Failure::from(other),
    }
}

/// An etcd failure of a read at an earlier revision `at`.
pub(super) fn at_revision_failure(err: EtcdError, at: Option<Revision>) -> Failure {
    match (err, at) {
        (EtcdError::Compacted(_), Some(at)) => Failure::Compacted(format!(
            "revision {} is before etcd's compaction point; that history is gone",
            at.0
        )),
        (EtcdError::FutureRevision(_), Some(at)) => Failure::BadRequest(format!(
            "revision {} is in the future: etcd has not reached it yet",
            at.0
        )),
        (err, _) => Failure::Etcd(err),
    }
}

/// A JSON request body that was not accepted: 413 over `limit` bytes
/// (values may be at most `max_value` bytes), 400 otherwise.
pub(super) fn body_rejected(rejection: JsonRejection, limit: usize, max_value: usize) -> Failure {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Failure::TooLarge(format!(
            "the request body is larger than etcdeck accepts ({limit} bytes); \
             values may be at most {max_value} bytes"
        ))
    } else {
        Failure::BadRequest(format!(
            "the request body was not understood: {}",
            rejection.body_text()
        ))
    }
}

impl Failure {
    /// The sentence a person reads for this failure.
    pub fn sentence(&self) -> String {
        match self {
            Failure::BadRequest(m)
            | Failure::NotFound(m)
            | Failure::KeyMissing { message: m, .. }
            | Failure::Forbidden(m)
            | Failure::LoginRequired(m)
            | Failure::ReadOnly(m)
            | Failure::Conflict(m)
            | Failure::Compacted(m)
            | Failure::TooLarge(m)
            | Failure::MethodNotAllowed(m)
            | Failure::Unavailable(m)
            | Failure::Internal(m) => m.clone(),
            Failure::KeyConflict(conflict) => conflict.message.clone(),
            Failure::Throttled(throttled) => throttled.to_string(),
            Failure::Etcd(err) => err.to_string(),
        }
    }

    /// The failure as an [`ApiError`], for the WebSocket, where there is no
    /// HTTP status.
    pub fn into_api_error(self) -> ApiError {
        self.classify().1
    }

    /// The one mapping from a failure to its status and body.
    fn classify(self) -> (StatusCode, ApiError) {
        let mut revision = None;
        let (status, code, message) = match self {
            Failure::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
            }
            Failure::NotFound(message) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, message),
            Failure::KeyMissing {
                message,
                revision: at,
            } => {
                revision = Some(at);
                (StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
            }
            Failure::Forbidden(message) => {
                (StatusCode::FORBIDDEN, ErrorCode::PermissionDenied, message)
            }
            Failure::LoginRequired(message) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::LoginRequired, message)
            }
            Failure::ReadOnly(message) => (StatusCode::FORBIDDEN, ErrorCode::ReadOnly, message),
            Failure::Conflict(message) => (StatusCode::CONFLICT, ErrorCode::Conflict, message),
            Failure::KeyConflict(conflict) => {
                (StatusCode::CONFLICT, ErrorCode::Conflict, conflict.message)
            }
            Failure::Compacted(message) => (StatusCode::GONE, ErrorCode::Compacted, message),
            Failure::TooLarge(message) => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, message)
            }
            Failure::MethodNotAllowed(message) => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                message,
            ),
            Failure::Unavailable(message) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::EtcdUnavailable,
                message,
            ),
            Failure::Internal(message) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                message,
            ),
            Failure::Throttled(throttled) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::Throttled,
                throttled.to_string(),
            ),
            Failure::Etcd(err) => {
                let (status, code) = match &err {
                    EtcdError::PermissionDenied(_) => {
                        (StatusCode::FORBIDDEN, ErrorCode::PermissionDenied)
                    }
                    EtcdError::Unavailable(_) => {
                        (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::EtcdUnavailable)
                    }
                    EtcdError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
                    // The browser session ends with it (`auth` watches for
                    // this), so the page asks to log in again.
                    EtcdError::PasswordRevoked(_) => {
                        (StatusCode::UNAUTHORIZED, ErrorCode::LoginRequired)
                    }
                    EtcdError::InvalidRequest(_)
                    | EtcdError::Compacted(_)
                    | EtcdError::FutureRevision(_)
                    | EtcdError::AuthNotEnabled(_) => {
                        (StatusCode::BAD_REQUEST, ErrorCode::BadRequest)
                    }
                    EtcdError::AuthFailed(_) | EtcdError::Config(_) | EtcdError::Other(_) => {
                        (StatusCode::BAD_GATEWAY, ErrorCode::Internal)
                    }
                };
                if status.is_server_error() {
                    tracing::warn!(error = %err, "etcd request failed");
                }
                (status, code, user_message(&err))
            }
        };
        let body = ApiError {
            code,
            message,
            revision,
        };
        (status, body)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if let Failure::KeyConflict(conflict) = self {
            // The conflict screen needs the key as it is now, not only a
            // sentence.
            return (StatusCode::CONFLICT, Json(*conflict)).into_response();
        }
        // Scripts read the wait from the header; people from the sentence.
        let retry_after = match &self {
            Failure::Throttled(throttled) => Some(throttled.retry_after_secs()),
            _ => None,
        };
        let (status, body) = self.classify();
        if let Some(secs) = retry_after {
            return (
                status,
                [(header::RETRY_AFTER, HeaderValue::from(secs))],
                Json(body),
            )
                .into_response();
        }
        (status, Json(body)).into_response()
    }
}

/// What the user reads for an etcd failure: etcd's own words are kept
/// (they name the problem), internals of the transport are not.
fn user_message(err: &EtcdError) -> String {
    match err {
        EtcdError::PermissionDenied(_) => {
            "etcd refused: your etcd user may not read this range (permission denied)".into()
        }
        EtcdError::Unavailable(_) => "etcd is unreachable right now; etcdeck keeps retrying".into(),
        other => other.to_string(),
    }
}

/// Middleware for every answer: an error under `/api/` whose body is not
/// JSON (axum's answer to a method a path does not take, a timed-out
/// request, a rejected WebSocket upgrade) becomes an [`ApiError`] with the
/// same status and headers, so scripts and the browser always get a code
/// and a sentence. It must wrap the whole router, outside the routes: the
/// `Allow` header of a 405 is only added once the route has answered.
pub(super) async fn as_api_error(method: Method, uri: Uri, response: Response) -> Response {
    let status = response.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || !uri.path().starts_with("/api/") || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let failure = if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = parts
            .headers
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        Failure::MethodNotAllowed(format!(
            "{} does not take {method}; it answers {}",
            uri.path(),
            if allowed.is_empty() {
                "no method"
            } else {
                &allowed
            }
        ))
    } else {
        let text = axum::body::to_bytes(body, MAX_TEXT_BODY)
            .await
            .ok()
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        by_status(status, text, uri.path())
    };
    let (_, body) = failure.classify();
    // Keep axum's status (and so the `Allow` header) even where the code
    // is chosen by its class.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let json = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, Body::from(json))
}

/// The failure for an answer of `status` that said only `text` (if anything).
fn by_status(status: StatusCode, text: Option<String>, path: &str) -> Failure {
    match status {
        StatusCode::NOT_FOUND => Failure::NotFound(
            text.unwrap_or_else(|| format!("{path} is not an endpoint of this etcdeck's API")),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => Failure::TooLarge(
            text.unwrap_or_else(|| "the request is larger than etcdeck accepts".into()),
        ),
        StatusCode::UNAUTHORIZED => {
            Failure::LoginRequired(text.unwrap_or_else(|| "log in first".into()))
        }
        StatusCode::FORBIDDEN => {
            Failure::Forbidden(text.unwrap_or_else(|| "this request is not allowed".into()))
        }
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            Failure::Unavailable(text.unwrap_or_else(|| {
                "etcdeck could not answer in time (etcd may be slow or unreachable); try again"
                    .into()
            }))
        }
        status if status.is_client_error() => Failure::BadRequest(text.unwrap_or_else(|| {
            format!(
                "the request was refused ({})",
                status.canonical_reason().unwrap_or("client error")
            )
        })),
        _ => Failure::Internal(text.unwrap_or_else(|| "etcdeck failed to answer".into())),
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The status and error code a failure answers with, for tests of the
/// mapping.
#[cfg(test)]
pub(super) fn code_of(failure: Failure) -> (u16, ErrorCode) {
    let response = failure.into_response();
    let status = response.status().as_u16();
    let bytes = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .unwrap();
    let body: ApiError = serde_json::from_slice(&bytes).unwrap();
    (status, body.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_reads_say_what_is_gone() {
        let (status, code) = code_of(at_revision_failure(
            EtcdError::Compacted(0),
            Some(Revision(3)),
        ));
        assert_eq!((status, code), (410, ErrorCode::Compacted));
        let future = EtcdError::FutureRevision(
            "etcdserver: mvcc: required revision is a future revision".into(),
        );
        let (status, code) = code_of(at_revision_failure(future, Some(Revision(99))));
        assert_eq!((status, code), (400, ErrorCode::BadRequest));
    }

    /// The hub only says why a subscription ended; the codes and sentences
    /// a browser reads are chosen here.
    #[test]
    fn hub_endings_become_api_errors() {
        let denied = Failure::from(Ended::WatchDenied {
            user: Some("alice".into()),
            reason: "etcdserver: permission denied".into(),
        })
        .into_api_error();
        assert_eq!(denied.code, ErrorCode::PermissionDenied);
        assert!(denied.message.contains("etcd user 'alice'"), "{denied:?}");
        let read = Failure::from(Ended::ReadFailed(EtcdError::PermissionDenied(
            "etcdserver: permission denied".into(),
        )))
        .into_api_error();
        assert_eq!(read.code, ErrorCode::PermissionDenied);
        assert!(read.message.starts_with("etcd denies reading this range"));
        let refused = Failure::from(Ended::ReadFailed(EtcdError::InvalidRequest("bad".into())));
        assert_eq!(refused.into_api_error().code, ErrorCode::BadRequest);
        let other = Failure::from(Ended::ReadFailed(EtcdError::Other("boom".into())));
        assert_eq!(other.into_api_error().code, ErrorCode::Internal);
    }

    #[test]
    fn a_throttled_login_says_when_to_try_again() {
        let throttled = Failure::Throttled(Throttled {
            retry_after: std::time::Duration::from_millis(2_300),
        });
        let response = throttled.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        let (status, code) = code_of(Failure::Throttled(Throttled {
            retry_after: std::time::Duration::from_secs(4),
        }));
        assert_eq!((status, code), (429, ErrorCode::Throttled));
    }

    /// axum's own answers get a code by their status and keep their text.
    #[test]
    fn answers_without_a_body_get_a_code_by_status() {
        let (status, code) = code_of(by_status(StatusCode::NOT_FOUND, None, "/api/x"));
        assert_eq!((status, code), (404, ErrorCode::NotFound));
        let timed_out = by_status(StatusCode::SERVICE_UNAVAILABLE, None, "/api/v1/level");
        assert_eq!(code_of(timed_out).1, ErrorCode::EtcdUnavailable);
        let rejected = by_status(
            StatusCode::BAD_REQUEST,
            Some("Connection header did not include 'upgrade'".into()),
            "/api/v1/ws",
        );
        assert_eq!(
            rejected.sentence(),
            "Connection header did not include 'upgrade'"
        );
        assert_eq!(code_of(rejected).1, ErrorCode::BadRequest);
        let gone = by_status(StatusCode::UPGRADE_REQUIRED, None, "/api/v1/ws");
        assert_eq!(code_of(gone).1, ErrorCode::BadRequest);
        let failed = by_status(StatusCode::INTERNAL_SERVER_ERROR, None, "/api/v1/key");
        assert_eq!(code_of(failed).1, ErrorCode::Internal);
    }
}
