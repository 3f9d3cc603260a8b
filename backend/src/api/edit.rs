//! The write side of the API: the routes of every write (and of the reads
//! that go with them), request bodies, the audit trail of each attempt,
//! guarded puts and deletes of one key, and the lease actions. Prefix
//! operations, copies and reads of the past have modules of their own
//! (`prefix.rs`, `copy.rs`, `history.rs`, `audit.rs`).
//!
//! Every write acts through the [`Writer`] extractor's etcd client and is
//! one etcd transaction (see `crate::etcd` writes); every attempt, made or
//! refused, goes to the audit log with the revision the user saw.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use etcdeck_shared::edit::{
    AuditEntry, AuditResult, Conflict, DeleteRequest, LeaseChoice, LeaseGrantRequest, LeaseGranted,
    LeaseKept, LeaseRequest, MAX_VALUE_BYTES, PutRequest, Written, path,
};
use etcdeck_shared::limits::lease_ttl_error;
use etcdeck_shared::transfer::path as transfer_path;
use etcdeck_shared::{Bytes, KeyValue, LeaseId, Revision};

use super::error::{body_rejected, lease_write_failure, write_failure};
use super::extract::Writer;
use super::kubernetes::{refuse_kubernetes_lease, refuse_kubernetes_write};
use super::{AppState, Failure, audit, compare, copy, export, history, import, mask, prefix};
use crate::etcd::{EtcdError, Guarded};

/// Largest request body a write accepts: a value of [`MAX_VALUE_BYTES`] in
/// base64 (4/3 larger) with its key and the JSON around it fits.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(path::PUT, post(put))
        .route(path::DELETE, post(delete))
        .route(path::PREFIX, get(prefix::preview))
        .route(path::DELETE_PREFIX, post(prefix::delete_prefix))
        .route(path::COPY, post(copy::copy))
        .route(path::HISTORY, get(history::history))
        .route(path::LEASE_GRANT, post(lease_grant))
        .route(path::LEASE_REVOKE, post(lease_revoke))
        .route(path::LEASE_KEEP_ALIVE, post(lease_keep_alive))
        .route(path::AUDIT, get(audit::audit))
        .route(transfer_path::EXPORT, get(export::export))
        .route(transfer_path::IMPORT, post(import::import))
        .route(transfer_path::COMPARE, get(compare::compare))
        .route(transfer_path::COMPARE_COPY, post(compare::copy_across))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A JSON body, or a JSON [`ApiError`](etcdeck_shared::ApiError) saying
/// why it was not understood (413 when over the size limit).
pub(super) fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Failure> {
    body.map(|Json(body)| body)
        .map_err(|rejection| body_rejected(rejection, MAX_BODY_BYTES, MAX_VALUE_BYTES))
}

/// One write attempt on its way to the audit log.
pub(super) struct Attempt<'a> {
    state: &'a AppState,
    user: Option<String>,
    action: &'static str,
    key: Bytes,
    to: Option<Bytes>,
    old_revision: Option<Revision>,
}

impl<'a> Attempt<'a> {
    pub(super) fn new(
        state: &'a AppState,
        writer: &Writer,
        action: &'static str,
        key: &Bytes,
    ) -> Self {
        Attempt {
            state,
            user: writer.user.clone(),
            action,
            key: key.clone(),
            to: None,
            old_revision: None,
        }
    }

    pub(super) fn saw(mut self, revision: Revision) -> Self {
        self.old_revision = Some(revision);
        self
    }

    pub(super) fn to(mut self, to: &Bytes) -> Self {
        self.to = Some(to.clone());
        self
    }

    /// Records the outcome and passes it on.
    pub(super) fn finish<T>(
        self,
        outcome: Result<T, Failure>,
        revision: impl Fn(&T) -> Option<Revision>,
    ) -> Result<Json<T>, Failure> {
        self.finish_partial(outcome, revision, |_| None)
    }

    /// [`Self::finish`] for a write of many transactions, which may stop
    /// part way: `stopped` says why it did (recorded as failed, with what
    /// was written in the answer passed on).
    pub(super) fn finish_partial<T>(
        self,
        outcome: Result<T, Failure>,
        revision: impl Fn(&T) -> Option<Revision>,
        stopped: impl Fn(&T) -> Option<String>,
    ) -> Result<Json<T>, Failure> {
        let (new_revision, result, detail) = match &outcome {
            Ok(done) => match stopped(done) {
                None => (revision(done), AuditResult::Ok, None),
                Some(why) => (revision(done), AuditResult::Failed, Some(why)),
            },
            Err(failure) => (None, audit_result(failure), Some(failure.sentence())),
        };
        let recorded = self.state.audit.record_checked(AuditEntry {
            at_ms: crate::audit::now_ms(),
            user: self.user,
            action: self.action.to_owned(),
            key: self.key,
            to: self.to,
            old_revision: self.old_revision,
            new_revision,
            result,
            detail,
            address: None,
        });
        // A line that did not reach the audit file is said (the write was
        // made or refused all the same), and stops the next writes.
        if let Err(err) = recorded {
            let made = match (&outcome, new_revision) {
                (Ok(_), Some(revision)) => {
                    format!("the write itself was made at revision {revision}")
                }
                (Ok(_), None) => "the action itself was done".to_owned(),
                (Err(failure), _) => format!("the write itself failed: {}", failure.sentence()),
            };
            return Err(Failure::Unavailable(format!("{err}; {made}")));
        }
        outcome.map(Json)
    }
}

fn audit_result(failure: &Failure) -> AuditResult {
    match failure {
        Failure::Conflict(_) | Failure::KeyConflict(_) => AuditResult::Conflict,
        Failure::Forbidden(_) | Failure::ReadOnly(_) | Failure::LoginRequired(_) => {
            AuditResult::Denied
        }
        Failure::Etcd(EtcdError::PermissionDenied(_)) => AuditResult::Denied,
        _ => AuditResult::Failed,
    }
}

fn too_large_value(size: usize) -> Failure {
    Failure::TooLarge(format!(
        "the value is {size} bytes; etcdeck writes values of at most {MAX_VALUE_BYTES} bytes \
         (etcd refuses requests over its --max-request-bytes, 1.5 MiB by default); nothing was written"
    ))
}

fn key_conflict(
    key: &Bytes,
    expect: Revision,
    current: Option<KeyValue>,
    revision: Revision,
) -> Failure {
    let shown = key.display();
    let message = match &current {
        None => format!(
            "the key {shown} no longer exists (it was deleted after you read it); nothing was written"
        ),
        Some(_) if expect.0 == 0 => {
            format!("the key {shown} already exists (someone created it); nothing was written")
        }
        Some(kv) => format!(
            "the key {shown} changed since you read it (now at mod revision {}, you saw {}); nothing was written",
            kv.mod_revision.0, expect.0
        ),
    };
    Failure::KeyConflict(Box::new(Conflict {
        message,
        key: key.clone(),
        current,
        revision,
    }))
}

/// The key as written, or as it is now in a conflict, with a masked value
/// left out.
fn masked_outcome(outcome: Result<Written, Failure>, state: &AppState) -> Result<Written, Failure> {
    let masks = &state.config.masks;
    match outcome {
        Ok(written) => Ok(mask::masked(written, masks)),
        Err(Failure::KeyConflict(conflict)) => Err(Failure::KeyConflict(Box::new(mask::masked(
            *conflict, masks,
        )))),
        Err(failure) => Err(failure),
    }
}

/// `POST /api/v1/put`.
async fn put(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<PutRequest>, JsonRejection>,
) -> Result<Json<Written>, Failure> {
    let request = body(request)?;
    let attempt =
        Attempt::new(&state, &writer, "put", &request.key).saw(request.expect_mod_revision);
    let outcome = masked_outcome(do_put(&writer, request).await, &state);
    attempt.finish(outcome, |w| Some(w.revision))
}

async fn do_put(writer: &Writer, request: PutRequest) -> Result<Written, Failure> {
    let PutRequest {
        key,
        value,
        expect_mod_revision: expect,
        lease,
    } = request;
    if key.is_empty() {
        return Err(Failure::BadRequest("the key must not be empty".into()));
    }
    refuse_kubernetes_write(&key, false)?;
    if value.len() > MAX_VALUE_BYTES {
        return Err(too_large_value(value.len()));
    }
    if expect.0 < 0 {
        return Err(Failure::BadRequest(
            "expect_mod_revision must be the key's mod revision, or 0 for a new key".into(),
        ));
    }
    if lease == (LeaseChoice::Attach { id: LeaseId(0) }) {
        return Err(Failure::BadRequest(
            "lease 0 is no lease; detach the key instead".into(),
        ));
    }
    match writer.etcd.put_guarded(&key, &value, expect, lease).await {
        Ok(Guarded::Done { revision, kv }) => Ok(Written {
            revision,
            keys: 1,
            kv,
        }),
        Ok(Guarded::Refused { current, revision }) => {
            Err(key_conflict(&key, expect, current, revision))
        }
        Err(err) => {
            let id = match lease {
                LeaseChoice::Attach { id } => id.to_string(),
                _ => "of the key".into(),
            };
            Err(lease_write_failure(
                err,
                &id,
                writer.user.as_deref(),
                &key.display(),
            ))
        }
    }
}

/// `POST /api/v1/delete`.
async fn delete(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<DeleteRequest>, JsonRejection>,
) -> Result<Json<Written>, Failure> {
    let request = body(request)?;
    let attempt =
        Attempt::new(&state, &writer, "delete", &request.key).saw(request.expect_mod_revision);
    let outcome = masked_outcome(do_delete(&writer, request).await, &state);
    attempt.finish(outcome, |w| Some(w.revision))
}

async fn do_delete(writer: &Writer, request: DeleteRequest) -> Result<Written, Failure> {
    let DeleteRequest {
        key,
        expect_mod_revision: expect,
    } = request;
    if key.is_empty() {
        return Err(Failure::BadRequest("the key must not be empty".into()));
    }
    refuse_kubernetes_write(&key, false)?;
    if expect.0 <= 0 {
        return Err(Failure::BadRequest(
            "expect_mod_revision must be the mod revision of the key you saw".into(),
        ));
    }
    match writer.etcd.delete_guarded(&key, expect).await {
        Ok(Guarded::Done { revision, .. }) => Ok(Written {
            revision,
            keys: 1,
            kv: None,
        }),
        Ok(Guarded::Refused { current, revision }) => {
            Err(key_conflict(&key, expect, current, revision))
        }
        Err(err) => Err(write_failure(err, writer.user.as_deref(), &key.display())),
    }
}

/// `POST /api/v1/lease/grant`.
async fn lease_grant(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<LeaseGrantRequest>, JsonRejection>,
) -> Result<Json<LeaseGranted>, Failure> {
    let request = body(request)?;
    let attempt = Attempt::new(&state, &writer, "lease_grant", &Bytes::from(""));
    // The browser checks the same limit with the same sentence first.
    let outcome = if let Some(why) = lease_ttl_error(request.ttl) {
        Err(Failure::BadRequest(why))
    } else {
        writer
            .etcd
            .lease_grant(request.ttl)
            .await
            .map(|(id, ttl)| LeaseGranted {
                id: LeaseId(id),
                ttl,
            })
            .map_err(|err| write_failure(err, writer.user.as_deref(), "leases"))
    };
    let attempt = match &outcome {
        Ok(granted) => Attempt {
            key: lease_key(granted.id),
            ..attempt
        },
        Err(_) => attempt,
    };
    attempt.finish(outcome, |_| None)
}

/// `POST /api/v1/lease/revoke`.
async fn lease_revoke(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<LeaseRequest>, JsonRejection>,
) -> Result<Json<Written>, Failure> {
    let request = body(request)?;
    let attempt = Attempt::new(&state, &writer, "lease_revoke", &lease_key(request.id));
    if let Err(refused) = refuse_kubernetes_lease(&writer, request.id.0).await {
        return attempt.finish(Err(refused), |w: &Written| Some(w.revision));
    }
    let outcome = match writer.etcd.lease_revoke(request.id.0).await {
        Ok(revision) => Ok(Written {
            revision,
            keys: 0,
            kv: None,
        }),
        Err(err) => Err(lease_write_failure(
            err,
            &request.id.to_string(),
            writer.user.as_deref(),
            "leases",
        )),
    };
    attempt.finish(outcome, |w| Some(w.revision))
}

/// `POST /api/v1/lease/keep-alive`.
async fn lease_keep_alive(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<LeaseRequest>, JsonRejection>,
) -> Result<Json<LeaseKept>, Failure> {
    let request = body(request)?;
    let attempt = Attempt::new(&state, &writer, "lease_keep_alive", &lease_key(request.id));
    let outcome = match writer.etcd.lease_keep_alive_once(request.id.0).await {
        Ok(Some(ttl)) => Ok(LeaseKept {
            id: request.id,
            ttl,
        }),
        Ok(None) => Err(lease_missing(request.id)),
        Err(err) => Err(write_failure(err, writer.user.as_deref(), "leases")),
    };
    attempt.finish(outcome, |_| None)
}

fn lease_key(id: LeaseId) -> Bytes {
    Bytes::from(format!("lease {id}").as_str())
}

fn lease_missing(id: LeaseId) -> Failure {
    Failure::NotFound(format!(
        "lease {id} does not exist (it expired or was revoked)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_denials_say_may_not_write() {
        let failure = write_failure(
            EtcdError::PermissionDenied("etcdserver: permission denied".into()),
            Some("alice"),
            "/secret/x",
        );
        assert_eq!(audit_result(&failure), AuditResult::Denied);
        let text = failure.sentence();
        assert!(text.contains("alice may not write /secret/x"), "{text}");
    }
}
