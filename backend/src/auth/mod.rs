//! Who a request acts as: browser sessions, and the extractors handlers use
//! to get the session's etcd client.
//!
//! - [`Reader`]: any request that reads etcd. Resolves the session cookie to
//!   the session's own etcd client, or answers 401.
//! - [`Writer`]: a write. On top of [`Reader`], the request must come from
//!   this site (`Origin`), carry the session's CSRF token, and the session
//!   must be allowed to write (not `--read-only`, not a wall token, not etcd
//!   without auth unless writes were explicitly allowed); otherwise 403.
//!   etcd's own RBAC then decides what the user may change.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::api::{AppState, Failure};
use crate::etcd::EtcdSession;

/// A request that reads etcd, with the session's etcd client.
#[derive(Clone, Debug)]
pub struct Reader {
    pub etcd: EtcdSession,
    /// The etcd user it acts as (`None` without etcd auth).
    pub user: Option<String>,
}

/// A request allowed to write, with the session's etcd client.
#[derive(Clone, Debug)]
pub struct Writer {
    pub etcd: EtcdSession,
    pub user: Option<String>,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = Failure;

    async fn from_request_parts(_parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        Ok(Reader {
            etcd: state.session.clone(),
            user: state.session.user().map(str::to_owned),
        })
    }
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Failure> {
        crate::api::same_site(&parts.headers)?;
        if state.config.read_only {
            return Err(Failure::ReadOnly(
                "etcdeck was started with --read-only: it refuses every write".into(),
            ));
        }
        let reader = Reader::from_request_parts(parts, state).await?;
        Ok(Writer {
            etcd: reader.etcd,
            user: reader.user,
        })
    }
}
