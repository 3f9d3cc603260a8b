//! [`Failure`]: every error an API handler can meet, and the one mapping
//! from it to an HTTP status and an [`ApiError`] body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use etcdeck_shared::edit::Conflict;
use etcdeck_shared::{ApiError, ErrorCode, Revision};

use crate::coord::CoordError;
use crate::etcd::EtcdError;
use crate::tree::LevelError;

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

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
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
                return (StatusCode::CONFLICT, Json(*conflict)).into_response();
            }
            Failure::Compacted(message) => (StatusCode::GONE, ErrorCode::Compacted, message),
            Failure::TooLarge(message) => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, message)
            }
            Failure::Etcd(err) => {
                let (status, code) = match &err {
                    EtcdError::PermissionDenied(_) => {
                        (StatusCode::FORBIDDEN, ErrorCode::PermissionDenied)
                    }
                    EtcdError::Unavailable(_) => {
                        (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::EtcdUnavailable)
                    }
                    EtcdError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
                    EtcdError::InvalidRequest(_) | EtcdError::Compacted(_) => {
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
