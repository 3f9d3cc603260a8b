//! The write side of the API: guarded puts and deletes, prefix previews and
//! prefix deletes, copies and renames, a key's history, lease actions and
//! the audit log.
//!
//! Every write acts through the [`Writer`] extractor's etcd client and is
//! one etcd transaction (see `crate::etcd` writes); every attempt, made or
//! refused, goes to the audit log with the revision the user saw.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use etcdeck_shared::edit::{
    AuditEntry, AuditLog, AuditResult, Conflict, CopyRequest, DeletePrefixRequest, DeleteRequest,
    History, LeaseChoice, LeaseGrantRequest, LeaseGranted, LeaseKept, LeaseRequest, MAX_COPY_KEYS,
    MAX_VALUE_BYTES, PrefixPreview, PutRequest, Written, path,
};
use etcdeck_shared::limits::lease_ttl_error;
use etcdeck_shared::{Bytes, KeyValue, LeaseId, Revision};

use super::query::Query;
use super::{AppState, Failure};
use crate::auth::{Reader, Writer};
use crate::etcd::{
    CopyOutcome, CopyPlan, EtcdError, Guarded, HistoryError, KeyRead, SourceKv, is_lease_not_found,
};

/// Largest request body a write accepts: a value of [`MAX_VALUE_BYTES`] in
/// base64 (4/3 larger) with its key and the JSON around it fits.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(path::PUT, post(put))
        .route(path::DELETE, post(delete))
        .route(path::PREFIX, get(prefix_preview))
        .route(path::DELETE_PREFIX, post(delete_prefix))
        .route(path::COPY, post(copy))
        .route(path::HISTORY, get(history))
        .route(path::LEASE_GRANT, post(lease_grant))
        .route(path::LEASE_REVOKE, post(lease_revoke))
        .route(path::LEASE_KEEP_ALIVE, post(lease_keep_alive))
        .route(path::AUDIT, get(audit))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A JSON body, or a JSON [`ApiError`](etcdeck_shared::ApiError) saying
/// why it was not understood (413 when over the size limit).
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Failure> {
    match body {
        Ok(Json(body)) => Ok(body),
        Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            Err(Failure::TooLarge(format!(
                "the request body is larger than etcdeck accepts ({MAX_BODY_BYTES} bytes); \
                 values may be at most {MAX_VALUE_BYTES} bytes"
            )))
        }
        Err(rejection) => Err(Failure::BadRequest(format!(
            "the request body was not understood: {}",
            rejection.body_text()
        ))),
    }
}

/// One write attempt on its way to the audit log.
struct Attempt<'a> {
    state: &'a AppState,
    user: Option<String>,
    action: &'static str,
    key: Bytes,
    to: Option<Bytes>,
    old_revision: Option<Revision>,
}

impl<'a> Attempt<'a> {
    fn new(state: &'a AppState, writer: &Writer, action: &'static str, key: &Bytes) -> Self {
        Attempt {
            state,
            user: writer.user.clone(),
            action,
            key: key.clone(),
            to: None,
            old_revision: None,
        }
    }

    fn saw(mut self, revision: Revision) -> Self {
        self.old_revision = Some(revision);
        self
    }

    fn to(mut self, to: &Bytes) -> Self {
        self.to = Some(to.clone());
        self
    }

    /// Records the outcome and passes it on.
    fn finish<T>(
        self,
        outcome: Result<T, Failure>,
        revision: impl Fn(&T) -> Option<Revision>,
    ) -> Result<Json<T>, Failure> {
        let (new_revision, result, detail) = match &outcome {
            Ok(done) => (revision(done), AuditResult::Ok, None),
            Err(failure) => (None, audit_result(failure), Some(sentence(failure))),
        };
        self.state.audit.record(AuditEntry {
            at_ms: crate::audit::now_ms(),
            user: self.user,
            action: self.action.to_owned(),
            key: self.key,
            to: self.to,
            old_revision: self.old_revision,
            new_revision,
            result,
            detail,
        });
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

fn sentence(failure: &Failure) -> String {
    match failure {
        Failure::BadRequest(m)
        | Failure::NotFound(m)
        | Failure::KeyMissing { message: m, .. }
        | Failure::Forbidden(m)
        | Failure::LoginRequired(m)
        | Failure::ReadOnly(m)
        | Failure::Conflict(m)
        | Failure::Compacted(m)
        | Failure::TooLarge(m) => m.clone(),
        Failure::KeyConflict(conflict) => conflict.message.clone(),
        Failure::Etcd(err) => err.to_string(),
    }
}

/// An etcd failure of a write: permission denied names what the user may
/// not write.
fn write_failure(err: EtcdError, user: Option<&str>, what: &str) -> Failure {
    match err {
        EtcdError::PermissionDenied(_) => Failure::Forbidden(format!(
            "etcd refused: the etcd user {} may not write {what} (permission denied); nothing was written",
            user.unwrap_or("etcdeck acts as")
        )),
        other => Failure::Etcd(other),
    }
}

/// An etcd failure of a read at an earlier revision `at`.
pub(super) fn at_revision_failure(err: EtcdError, at: Option<Revision>) -> Failure {
    match (err, at) {
        (EtcdError::Compacted(_), Some(at)) => Failure::Compacted(format!(
            "revision {} is before etcd's compaction point; that history is gone",
            at.0
        )),
        (EtcdError::Other(message), Some(at)) if message.contains("future revision") => {
            Failure::BadRequest(format!(
                "revision {} is in the future: etcd has not reached it yet",
                at.0
            ))
        }
        (err, _) => Failure::Etcd(err),
    }
}

/// The `revision` query parameter of a read of the past.
pub(super) fn revision_param(query: &Query) -> Result<Option<Revision>, Failure> {
    match query.text("revision") {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(revision) if revision > 0 => Ok(Some(Revision(revision))),
            _ => Err(Failure::BadRequest(format!(
                "revision must be a positive whole number, not '{text}'"
            ))),
        },
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

/// `POST /api/v1/put`.
async fn put(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<PutRequest>, JsonRejection>,
) -> Result<Json<Written>, Failure> {
    let request = body(request)?;
    let attempt =
        Attempt::new(&state, &writer, "put", &request.key).saw(request.expect_mod_revision);
    attempt.finish(do_put(&writer, request).await, |w| Some(w.revision))
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
        Err(err) if is_lease_not_found(&err) => {
            let id = match lease {
                LeaseChoice::Attach { id } => id.to_string(),
                _ => "of the key".into(),
            };
            Err(Failure::NotFound(format!(
                "lease {id} does not exist (it expired or was revoked); nothing was written"
            )))
        }
        Err(err) => Err(write_failure(err, writer.user.as_deref(), &key.display())),
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
    attempt.finish(do_delete(&writer, request).await, |w| Some(w.revision))
}

async fn do_delete(writer: &Writer, request: DeleteRequest) -> Result<Written, Failure> {
    let DeleteRequest {
        key,
        expect_mod_revision: expect,
    } = request;
    if key.is_empty() {
        return Err(Failure::BadRequest("the key must not be empty".into()));
    }
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

/// `GET /api/v1/prefix?prefix=P`.
async fn prefix_preview(
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<PrefixPreview>, Failure> {
    let query = Query::parse(raw.as_deref())?;
    let prefix = query.bytes("prefix").unwrap_or_default();
    if prefix.is_empty() {
        return Err(Failure::BadRequest(
            "the prefix must not be empty: etcdeck does not act on the whole keyspace".into(),
        ));
    }
    Ok(Json(reader.etcd.prefix_preview(&prefix).await?))
}

/// `POST /api/v1/delete-prefix`.
async fn delete_prefix(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<DeletePrefixRequest>, JsonRejection>,
) -> Result<Json<Written>, Failure> {
    let request = body(request)?;
    let attempt =
        Attempt::new(&state, &writer, "delete_prefix", &request.prefix).saw(request.revision);
    attempt.finish(do_delete_prefix(&writer, request).await, |w| {
        Some(w.revision)
    })
}

async fn do_delete_prefix(
    writer: &Writer,
    request: DeletePrefixRequest,
) -> Result<Written, Failure> {
    let DeletePrefixRequest {
        prefix,
        revision,
        count,
        confirm,
    } = request;
    if prefix.is_empty() {
        return Err(Failure::BadRequest(
            "the prefix must not be empty: etcdeck does not delete the whole keyspace".into(),
        ));
    }
    let shown = prefix.display();
    if confirm != shown {
        return Err(Failure::BadRequest(format!(
            "to confirm, type the prefix exactly as shown: {shown}"
        )));
    }
    let user = writer.user.as_deref();
    let (now, _) = writer
        .etcd
        .count_prefix(&prefix)
        .await
        .map_err(|err| write_failure(err, user, &format!("under {shown}")))?;
    if now != count {
        return Err(Failure::Conflict(format!(
            "the prefix {shown} now holds {now} keys, not the {count} of the preview; nothing was deleted; look again"
        )));
    }
    match writer.etcd.delete_prefix_guarded(&prefix, revision).await {
        Ok(Some((written, keys))) => Ok(Written {
            revision: written,
            keys,
            kv: None,
        }),
        Ok(None) => Err(Failure::Conflict(format!(
            "keys under {shown} were added or changed since the preview at revision {}; nothing was deleted; look again",
            revision.0
        ))),
        Err(err) => Err(write_failure(err, user, &format!("under {shown}"))),
    }
}

/// `POST /api/v1/copy`: copy or rename.
async fn copy(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<CopyRequest>, JsonRejection>,
) -> Result<Json<Written>, Failure> {
    let request = body(request)?;
    let action = if request.rename { "rename" } else { "copy" };
    let attempt = Attempt::new(&state, &writer, action, &request.from)
        .to(&request.to)
        .saw(request.revision);
    attempt.finish(do_copy(&writer, request).await, |w| Some(w.revision))
}

async fn do_copy(writer: &Writer, request: CopyRequest) -> Result<Written, Failure> {
    check_copy(&request)?;
    let CopyRequest {
        from,
        to,
        prefix,
        rename,
        revision,
    } = request;
    let user = writer.user.as_deref();
    let what = if prefix {
        format!("under {}", to.display())
    } else {
        to.display()
    };
    let sources = writer
        .etcd
        .copy_sources(&from, prefix, MAX_COPY_KEYS + 1)
        .await
        // Reading the sources: a refusal is about reading them.
        .map_err(Failure::Etcd)?;
    if sources.count == 0 {
        return Err(Failure::NotFound(if prefix {
            format!("there is no key under {} to copy", from.display())
        } else {
            format!("the key {} does not exist", from.display())
        }));
    }
    check_copy_size(sources.count, &sources.kvs)?;
    if let Some(changed) = sources.kvs.iter().find(|kv| kv.mod_revision > revision.0) {
        return Err(Failure::Conflict(format!(
            "{} changed at revision {}, after the revision {} you saw; nothing was written; look again",
            Bytes::from(changed.key.as_slice()).display(),
            changed.mod_revision,
            revision.0
        )));
    }
    if prefix {
        // Keys deleted since the user looked would be missing from the copy.
        if let Ok((then, _)) = writer.etcd.count_prefix_at(&from, Some(revision)).await
            && then != sources.count
        {
            return Err(Failure::Conflict(format!(
                "{} held {then} keys at revision {} and holds {} now; nothing was written; look again",
                from.display(),
                revision.0,
                sources.count
            )));
        }
    }
    let keys: Vec<&[u8]> = sources.kvs.iter().map(|kv| kv.key.as_slice()).collect();
    let targets = copy_targets(&from.0, &to.0, prefix, &keys).map_err(Failure::BadRequest)?;
    let plan = CopyPlan {
        sources: sources.kvs,
        targets,
        rename,
        guard_prefix: prefix.then(|| (from.0.clone(), revision.0)),
    };
    match writer.etcd.copy_guarded(&plan).await {
        Ok(CopyOutcome::Done { revision }) => Ok(Written {
            revision,
            keys: plan.targets.len() as u64,
            kv: None,
        }),
        Ok(CopyOutcome::Refused { existing, .. }) if !existing.is_empty() => {
            Err(Failure::Conflict(format!(
                "nothing was written: {} already exist{}",
                name_some(&existing),
                if existing.len() == 1 { "s" } else { "" }
            )))
        }
        Ok(CopyOutcome::Refused { .. }) => Err(Failure::Conflict(format!(
            "{} changed while copying; nothing was written; look again",
            from.display()
        ))),
        Err(err) => Err(write_failure(err, user, &what)),
    }
}

/// Refuses copies that cannot make sense before reading anything.
fn check_copy(request: &CopyRequest) -> Result<(), Failure> {
    if request.from.is_empty() || request.to.is_empty() {
        return Err(Failure::BadRequest(
            "the source and the target must not be empty".into(),
        ));
    }
    if request.prefix && request.to.0.starts_with(&request.from.0) {
        return Err(Failure::BadRequest(format!(
            "the target {} lies inside the source prefix {}: the copy would copy itself",
            request.to.display(),
            request.from.display()
        )));
    }
    if !request.prefix && request.to == request.from {
        return Err(Failure::BadRequest(
            "the target is the source itself".into(),
        ));
    }
    Ok(())
}

/// Refuses a copy etcd would refuse as one transaction.
fn check_copy_size(count: u64, kvs: &[SourceKv]) -> Result<(), Failure> {
    if count > MAX_COPY_KEYS as u64 {
        return Err(Failure::TooLarge(format!(
            "the source holds {count} keys; one copy moves at most {MAX_COPY_KEYS}, since etcd allows \
             128 operations per transaction (--max-txn-ops 128); nothing was written"
        )));
    }
    let bytes: usize = kvs.iter().map(|kv| kv.key.len() + kv.value.len()).sum();
    if bytes > MAX_VALUE_BYTES {
        return Err(Failure::TooLarge(format!(
            "the {count} keys to copy hold {bytes} bytes; one transaction carries at most \
             {MAX_VALUE_BYTES} (etcd refuses requests over its --max-request-bytes, 1.5 MiB by default); \
             nothing was written"
        )));
    }
    Ok(())
}

/// The target of each source key: `to` for a key, `to` + the key's suffix
/// after `from` for a prefix. Refused when a target is also a source.
fn copy_targets(
    from: &[u8],
    to: &[u8],
    prefix: bool,
    keys: &[&[u8]],
) -> Result<Vec<Vec<u8>>, String> {
    let targets: Vec<Vec<u8>> = keys
        .iter()
        .map(|key| {
            if prefix {
                let mut target = to.to_vec();
                target.extend_from_slice(key.strip_prefix(from).unwrap_or(key));
                target
            } else {
                to.to_vec()
            }
        })
        .collect();
    if let Some(both) = targets.iter().find(|t| keys.contains(&t.as_slice())) {
        return Err(format!(
            "the target {} is also one of the keys being copied; choose a target outside the source",
            Bytes::from(both.as_slice()).display()
        ));
    }
    Ok(targets)
}

/// Up to three keys by name, and how many more.
fn name_some(keys: &[Vec<u8>]) -> String {
    let mut names: Vec<String> = keys
        .iter()
        .take(3)
        .map(|k| Bytes::from(k.as_slice()).display())
        .collect();
    if keys.len() > 3 {
        names.push(format!("and {} more", keys.len() - 3));
    }
    names.join(", ")
}

/// `GET /api/v1/history?key=K`.
async fn history(reader: Reader, RawQuery(raw): RawQuery) -> Result<Json<History>, Failure> {
    let query = Query::parse(raw.as_deref())?;
    let key = query
        .bytes("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Failure::BadRequest("the key parameter is missing or empty".into()))?;
    let current = match reader.etcd.get_key(&key).await? {
        KeyRead::Found(kv) => kv,
        KeyRead::Missing { revision } => {
            return Err(Failure::KeyMissing {
                message: format!("the key {} does not exist", key.display()),
                revision,
            });
        }
    };
    let revision = current.revision;
    let history = match reader.etcd.key_history(current).await {
        Ok(history) => history,
        Err(HistoryError::Etcd(err)) => return Err(Failure::Etcd(err)),
        Err(HistoryError::TimedOut) => {
            return Err(Failure::Etcd(EtcdError::Unavailable(
                "etcd did not replay the key's history within 10 s".into(),
            )));
        }
    };
    Ok(Json(History {
        key,
        versions: history.versions,
        compacted_before: history.compacted_before,
        truncated: history.truncated,
        revision,
    }))
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
    let outcome = match writer.etcd.lease_revoke(request.id.0).await {
        Ok(revision) => Ok(Written {
            revision,
            keys: 0,
            kv: None,
        }),
        Err(err) if is_lease_not_found(&err) => Err(lease_missing(request.id)),
        Err(err) => Err(write_failure(err, writer.user.as_deref(), "leases")),
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

/// `GET /api/v1/audit`.
/// `GET /api/v1/audit`: a user sees their own writes; etcd's `root` user,
/// and everyone when etcd has auth disabled, sees every write (the keys
/// others wrote are not everyone's to see).
async fn audit(State(state): State<AppState>, reader: Reader) -> Json<AuditLog> {
    let open = reader
        .session
        .as_ref()
        .is_none_or(|s| s.kind == etcdeck_shared::edit::SessionKind::Open);
    let sees_all = open || reader.user.as_deref() == Some("root");
    Json(AuditLog {
        entries: state
            .audit
            .recent()
            .into_iter()
            .filter(|entry| sees_all || entry.user == reader.user)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use etcdeck_shared::ErrorCode;

    use super::*;

    /// The error code a failure answers with, for tests of the mapping.
    fn code_of(failure: Failure) -> (u16, ErrorCode) {
        use axum::response::IntoResponse;
        let response = failure.into_response();
        let status = response.status().as_u16();
        let body = futures_body(response);
        (status, body.code)
    }

    fn futures_body(response: axum::response::Response) -> etcdeck_shared::ApiError {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn request(from: &str, to: &str, prefix: bool) -> CopyRequest {
        CopyRequest {
            from: Bytes::from(from),
            to: Bytes::from(to),
            prefix,
            rename: false,
            revision: Revision(1),
        }
    }

    #[test]
    fn prefix_targets_keep_each_suffix() {
        let keys: Vec<&[u8]> = vec![b"/a/x", b"/a/y/z", b"/a/"];
        let targets = copy_targets(b"/a/", b"/b/", true, &keys).unwrap();
        assert_eq!(
            targets,
            vec![b"/b/x".to_vec(), b"/b/y/z".to_vec(), b"/b/".to_vec()]
        );
    }

    #[test]
    fn key_target_is_the_target() {
        let keys: Vec<&[u8]> = vec![b"/a"];
        assert_eq!(
            copy_targets(b"/a", b"/b", false, &keys).unwrap(),
            vec![b"/b".to_vec()]
        );
    }

    #[test]
    fn targets_that_are_sources_are_refused() {
        // "/a/b/" into "/a/": "/a/b/b/y" would land on "/a/b/y", a source.
        let keys: Vec<&[u8]> = vec![b"/a/b/b/y", b"/a/b/y"];
        let err = copy_targets(b"/a/b/", b"/a/", true, &keys).unwrap_err();
        assert!(err.contains("/a/b/y"), "{err}");
    }

    #[test]
    fn copies_into_themselves_are_refused() {
        assert!(check_copy(&request("/a/", "/a/b/", true)).is_err());
        assert!(check_copy(&request("/a/", "/a/", true)).is_err());
        assert!(check_copy(&request("/a", "/a", false)).is_err());
        assert!(check_copy(&request("", "/b", false)).is_err());
        assert!(check_copy(&request("/a", "", false)).is_err());
        // A key copied to a name that starts with it is fine.
        assert!(check_copy(&request("/a", "/a-copy", false)).is_ok());
        assert!(check_copy(&request("/a/", "/ab/", true)).is_ok());
    }

    #[test]
    fn copy_limits_name_etcds_limits() {
        let (status, code) = code_of(check_copy_size(65, &[]).unwrap_err());
        assert_eq!((status, code), (413, ErrorCode::TooLarge));
        let Err(Failure::TooLarge(sentence)) = check_copy_size(65, &[]) else {
            panic!()
        };
        assert!(sentence.contains("65") && sentence.contains("--max-txn-ops 128"));
        let big = SourceKv {
            key: b"k".to_vec(),
            value: vec![0; MAX_VALUE_BYTES],
            mod_revision: 1,
            lease: 0,
        };
        let Err(Failure::TooLarge(sentence)) = check_copy_size(1, &[big]) else {
            panic!()
        };
        assert!(sentence.contains("--max-request-bytes"), "{sentence}");
        assert!(check_copy_size(64, &[]).is_ok());
    }

    #[test]
    fn revisions_in_queries() {
        let query = Query::parse(Some("revision=12")).unwrap();
        assert_eq!(revision_param(&query).unwrap(), Some(Revision(12)));
        for bad in ["revision=0", "revision=-3", "revision=x"] {
            assert!(revision_param(&Query::parse(Some(bad)).unwrap()).is_err());
        }
        assert_eq!(revision_param(&Query::parse(None).unwrap()).unwrap(), None);
    }

    #[test]
    fn past_reads_say_what_is_gone() {
        let (status, code) = code_of(at_revision_failure(
            EtcdError::Compacted(0),
            Some(Revision(3)),
        ));
        assert_eq!((status, code), (410, ErrorCode::Compacted));
        let future =
            EtcdError::Other("etcdserver: mvcc: required revision is a future revision".into());
        let (status, code) = code_of(at_revision_failure(future, Some(Revision(99))));
        assert_eq!((status, code), (400, ErrorCode::BadRequest));
    }

    #[test]
    fn write_denials_say_may_not_write() {
        let failure = write_failure(
            EtcdError::PermissionDenied("etcdserver: permission denied".into()),
            Some("alice"),
            "/secret/x",
        );
        assert_eq!(audit_result(&failure), AuditResult::Denied);
        let text = sentence(&failure);
        assert!(text.contains("alice may not write /secret/x"), "{text}");
    }
}
