//! Errors of the etcd layer, classified from etcd-client's errors.

use etcd_client::Error as ClientError;
use tonic::Code;

/// A failed etcd request, in the terms the rest of the backend acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtcdError {
    /// etcd cannot be reached now; retrying may help.
    #[error("etcd is unreachable: {0}")]
    Unavailable(String),
    /// etcd rejected the user name or password.
    #[error("etcd rejected the credentials: {0}")]
    AuthFailed(String),
    /// etcd no longer accepts the password of a session that logged in with
    /// it: the user was deleted or its password changed (its tokens were
    /// revoked and authenticating again failed). Final for that session.
    #[error(
        "etcd no longer accepts the password of user {0} (the user was deleted or its password changed); log in again"
    )]
    PasswordRevoked(String),
    /// The etcd user may not do this.
    #[error("permission denied by etcd: {0}")]
    PermissionDenied(String),
    /// The revision asked for has been compacted away.
    #[error("revision {0} has been compacted")]
    Compacted(i64),
    /// The request or its answer exceeds a size limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// etcd refused the request as malformed.
    #[error("etcd refused the request: {0}")]
    InvalidRequest(String),
    /// The revision asked for is after etcd's current revision.
    #[error("etcd has not reached that revision yet: {0}")]
    FutureRevision(String),
    /// etcd has authentication disabled, so there is no one to log in as.
    #[error("etcd has authentication disabled: {0}")]
    AuthNotEnabled(String),
    /// TLS or connection settings that cannot work, said as one sentence
    /// that names the flag to change.
    #[error("{0}")]
    Config(String),
    #[error("etcd error: {0}")]
    Other(String),
}

/// Why the backend cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Rejected(String),
}

impl EtcdError {
    /// The error's class, for metrics: a fixed word, never etcd's text.
    pub fn code(&self) -> &'static str {
        match self {
            EtcdError::Unavailable(_) => "unavailable",
            EtcdError::AuthFailed(_) => "auth_failed",
            EtcdError::PasswordRevoked(_) => "password_revoked",
            EtcdError::PermissionDenied(_) => "permission_denied",
            EtcdError::Compacted(_) => "compacted",
            EtcdError::TooLarge(_) => "too_large",
            EtcdError::InvalidRequest(_) => "invalid_request",
            EtcdError::FutureRevision(_) => "future_revision",
            EtcdError::AuthNotEnabled(_) => "auth_not_enabled",
            EtcdError::Config(_) => "config",
            EtcdError::Other(_) => "other",
        }
    }

    /// Errors that retrying cannot fix and that a user must see at start-up.
    pub fn is_fatal_at_start(&self) -> bool {
        matches!(self, EtcdError::AuthFailed(_) | EtcdError::Config(_))
    }

    /// The endpoint asked could not be reached, did not answer in time, or
    /// answered that it cannot serve now (no leader, a timed-out proposal):
    /// another member may answer.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, EtcdError::Unavailable(_))
    }

    /// The connection could not even be made, so the request never reached
    /// etcd: repeating it elsewhere cannot apply it twice.
    pub(super) fn is_connect_failure(&self) -> bool {
        const NOT_SENT: [&str; 4] = [
            "tcp connect error",
            "Connection refused",
            "error trying to connect",
            "dns error",
        ];
        matches!(self, EtcdError::Unavailable(message)
            if NOT_SENT.iter().any(|text| message.contains(text)))
    }

    /// etcd refused a request because the lease it names does not exist
    /// (it expired or was revoked).
    pub fn is_lease_not_found(&self) -> bool {
        matches!(self, EtcdError::Other(message) | EtcdError::InvalidRequest(message)
            if message.contains("lease not found"))
    }

    /// etcd with authentication on refused a request sent without a user.
    pub(super) fn is_anonymous_refusal(&self) -> bool {
        matches!(self, EtcdError::InvalidRequest(message) | EtcdError::Other(message)
            if message.contains("user name is empty") || message.contains("token"))
    }
}

impl From<ClientError> for EtcdError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::GRpcStatus(status) => {
                let message = status.message().to_owned();
                match status.code() {
                    Code::Unauthenticated if message.contains("invalid user ID or password") => {
                        EtcdError::AuthFailed(message)
                    }
                    Code::InvalidArgument if message.contains("authentication failed") => {
                        EtcdError::AuthFailed(message)
                    }
                    Code::PermissionDenied => EtcdError::PermissionDenied(message),
                    Code::OutOfRange if message.contains("compacted") => EtcdError::Compacted(0),
                    Code::OutOfRange if message.contains("future revision") => {
                        EtcdError::FutureRevision(message)
                    }
                    Code::ResourceExhausted => EtcdError::TooLarge(message),
                    // tonic's own limit on a decoded answer.
                    Code::OutOfRange if message.contains("message length too large") => {
                        EtcdError::TooLarge(message)
                    }
                    Code::FailedPrecondition
                        if message.contains("authentication is not enabled") =>
                    {
                        EtcdError::AuthNotEnabled(message)
                    }
                    Code::InvalidArgument | Code::FailedPrecondition => {
                        EtcdError::InvalidRequest(message)
                    }
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Cancelled
                    | Code::Unknown
                        if !message.contains("invalid auth token") =>
                    {
                        EtcdError::Unavailable(transport_reason(&message))
                    }
                    _ => EtcdError::Other(message),
                }
            }
            ClientError::TransportError(err) => EtcdError::Unavailable(source_chain(&err)),
            ClientError::IoError(err) => EtcdError::Unavailable(err.to_string()),
            ClientError::InvalidArgs(msg) | ClientError::EndpointError(msg) => {
                EtcdError::Config(format!("invalid connection settings: {msg}"))
            }
            ClientError::InvalidUri(err) => {
                EtcdError::Config(format!("invalid endpoint URL: {err}"))
            }
            other => EtcdError::Other(other.to_string()),
        }
    }
}

/// Whether a watch's cancel reason (or an error's text) is about the token
/// or the user's permissions: renew the token and try once more to tell
/// which.
pub(super) fn is_auth_reason(reason: &str) -> bool {
    [
        "invalid auth token",
        "auth store is old",
        "permission denied",
        "user name is empty",
    ]
    .iter()
    .any(|needle| reason.contains(needle))
}

/// Whether etcd's words are "permission denied".
pub(super) fn says_permission_denied(reason: &str) -> bool {
    reason.contains("permission denied")
}

fn transport_reason(message: &str) -> String {
    if message.is_empty() {
        "no answer".into()
    } else {
        message.to_owned()
    }
}

/// The innermost cause of a transport error is the one that says what
/// happened ("Connection refused", "invalid peer certificate").
fn source_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
