//! Cluster operations for an incident: compact, defragment one member,
//! disarm an alarm, move the leader, and download a snapshot
//! (`/api/v1/cluster/...`), with the capability answer that tells the page
//! which of them this session may use.
//!
//! Each is checked like a write (the [`Writer`] extractor: the page's
//! `Origin`, the session's CSRF token, a session allowed to write, an audit
//! log that takes lines), then needs etcd's root role: etcd 3.4 lets any
//! authenticated user defragment or disarm, but etcdeck asks for root for
//! every operation, as etcd 3.5 does, and refuses anyone else with 403
//! without asking etcd. The operation itself is sent as the session's own
//! etcd user (`crate::etcd` maintenance), so etcd decides too. Every
//! attempt past the extractor is audited (actions `compact`, `defragment`,
//! `disarm`, `move_leader`, `snapshot`) and answered only after its audit
//! line is written.
//!
//! A defragment runs as a task of its own that holds the cluster's one
//! defragment claim and writes the audit line, so a browser that gives up
//! waiting neither frees the claim early nor leaves it unrecorded.
//!
//! The snapshot is a plain `GET` link (so the browser shows its own
//! download progress), which cannot carry the CSRF header: the token comes
//! in the query instead. It is streamed from etcd to the browser chunk by
//! chunk; etcdeck holds one chunk at a time.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use etcdeck_shared::Bytes;
use etcdeck_shared::Revision;
use etcdeck_shared::edit::{AuditEntry, AuditResult};
use etcdeck_shared::operations::{
    ACTION_COMPACT, ACTION_DEFRAGMENT, ACTION_DISARM, ACTION_MOVE_LEADER, ACTION_SNAPSHOT,
    CompactRequest, Compacted, DisarmRequest, Done, MemberRequest, Operations, ROOT_ONLY,
    confirm_word, history_lost, path, snapshot_filename,
};
use futures::StreamExt;

use super::client::ClientAddr;
use super::edit::body;
use super::extract::{Reader, Writer, session_from};
use super::query::Query;
use super::{AppState, Failure, same_site};
use crate::etcd::{EtcdError, EtcdSession, MaintenanceError, member_hex, parse_member};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(path::OPERATIONS, get(operations))
        .route(path::COMPACT, post(compact))
        .route(path::DEFRAGMENT, post(defragment))
        .route(path::DISARM, post(disarm))
        .route(path::MOVE_LEADER, post(move_leader))
        .route(path::SNAPSHOT, get(snapshot).head(snapshot_head))
}

/// A `HEAD` of the snapshot would make etcd stream one (and audit it) for a
/// body nobody gets; only `GET` is served.
async fn snapshot_head() -> Failure {
    Failure::MethodNotAllowed("a snapshot is downloaded with GET".into())
}

/// One operation on its way to the audit log.
struct Record {
    state: AppState,
    user: Option<String>,
    action: &'static str,
    /// The member (or nothing, for a compaction).
    target: String,
    to: Option<String>,
    address: String,
}

impl Record {
    fn new(
        state: &AppState,
        client: &ClientAddr,
        user: Option<String>,
        action: &'static str,
        target: &str,
    ) -> Self {
        Record {
            state: state.clone(),
            user,
            action,
            target: target.to_owned(),
            to: None,
            address: client.shown(),
        }
    }

    fn to(mut self, to: &str) -> Self {
        self.to = Some(to.to_owned());
        self
    }

    /// Writes the outcome's audit line, then passes the outcome on;
    /// `revisions` are the revisions before and after, where they mean
    /// something (a compaction's).
    fn finish<T>(
        self,
        outcome: Result<T, Failure>,
        revisions: impl Fn(&T) -> (Option<i64>, Option<i64>),
    ) -> Result<T, Failure> {
        let ((old, new), result, detail) = match &outcome {
            Ok(done) => (revisions(done), AuditResult::Ok, None),
            Err(failure) => (
                (None, None),
                audit_result(failure),
                Some(failure.sentence()),
            ),
        };
        let recorded = self.state.audit.record_checked(AuditEntry {
            at_ms: crate::audit::now_ms(),
            user: self.user,
            action: self.action.to_owned(),
            key: Bytes::from(self.target.as_str()),
            to: self.to.as_deref().map(Bytes::from),
            old_revision: old.map(Revision),
            new_revision: new.map(Revision),
            result,
            detail,
            address: Some(self.address),
        });
        if let Err(err) = recorded {
            let made = match &outcome {
                Ok(_) => "the operation itself was done".to_owned(),
                Err(failure) => format!("the operation itself failed: {}", failure.sentence()),
            };
            return Err(Failure::Unavailable(format!("{err}; {made}")));
        }
        outcome
    }
}

fn audit_result(failure: &Failure) -> AuditResult {
    match failure {
        Failure::Forbidden(_) | Failure::ReadOnly(_) | Failure::LoginRequired(_) => {
            AuditResult::Denied
        }
        Failure::Etcd(EtcdError::PermissionDenied(_)) => AuditResult::Denied,
        Failure::Conflict(_) => AuditResult::Conflict,
        _ => AuditResult::Failed,
    }
}

/// etcdeck's own refusal of a session whose etcd user is not root.
async fn root_only(etcd: &EtcdSession, user: Option<&str>, was_root: bool) -> Result<(), Failure> {
    // The session's `is_root` is what etcd said at login; root may have been
    // revoked since, and etcd 3.4 itself would still let that user snapshot
    // or defragment. So a root session is asked of etcd again (one `UserGet`
    // on its own user), and anyone else is refused without asking.
    if was_root && etcd.is_root().await.map_err(etcd_failure)? {
        return Ok(());
    }
    let who = match user {
        Some(user) => format!("the etcd user {user} is not root"),
        None => "etcd has auth disabled, so no one is root".to_owned(),
    };
    Err(Failure::Forbidden(format!(
        "{ROOT_ONLY}; {who}; nothing was done"
    )))
}

/// A maintenance failure as the browser is told it.
fn failure(err: MaintenanceError) -> Failure {
    match err {
        MaintenanceError::UnknownMember(_) => Failure::NotFound(err.to_string()),
        MaintenanceError::Unreachable { .. } | MaintenanceError::NoLeader => {
            Failure::Unavailable(err.to_string())
        }
        MaintenanceError::Busy(_) => Failure::Conflict(err.to_string()),
        MaintenanceError::AlreadyLeader(_) | MaintenanceError::UnknownAlarm(_) => {
            Failure::BadRequest(err.to_string())
        }
        MaintenanceError::Etcd(err) => etcd_failure(err),
    }
}

fn etcd_failure(err: EtcdError) -> Failure {
    match err {
        EtcdError::PermissionDenied(reason) => {
            Failure::Forbidden(format!("etcd refused the operation: {reason}"))
        }
        EtcdError::InvalidRequest(reason) => {
            Failure::BadRequest(format!("etcd refused the operation: {reason}"))
        }
        other => Failure::Etcd(other),
    }
}

/// The member named by its hex id in a request, with the word that
/// confirms an operation on it (its name, or the id).
fn member(etcd: &EtcdSession, id: &str) -> Result<(u64, String), Failure> {
    let Some(parsed) = parse_member(id) else {
        return Err(Failure::BadRequest(format!(
            "'{id}' is not a member id (hex, as the cluster page shows it)"
        )));
    };
    let readings = etcd.cluster_readings();
    let name = readings
        .members
        .iter()
        .find(|m| m.id == parsed)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let hex = member_hex(parsed);
    Ok((parsed, confirm_word(&name, &hex).to_owned()))
}

fn confirmed(typed: &str, expected: &str) -> Result<(), Failure> {
    if typed.trim() == expected {
        Ok(())
    } else {
        Err(Failure::BadRequest(format!(
            "type {expected} to confirm; nothing was done"
        )))
    }
}

/// `GET /api/v1/cluster/operations`.
async fn operations(State(_state): State<AppState>, reader: Reader) -> Json<Operations> {
    let defragmenting = reader.etcd.defragmenting().map(member_hex);
    let refused = |reason: String| Operations {
        allowed: false,
        reason: Some(reason),
        revision: None,
        compaction_revision: None,
        defragmenting: defragmenting.clone(),
    };
    let Some(session) = &reader.session else {
        return Json(refused(format!(
            "{ROOT_ONLY}; etcd has auth disabled, so no one logs in as root"
        )));
    };
    if let Err(reason) = session.can_write() {
        return Json(refused(format!(
            "this session may not change anything: {reason}"
        )));
    }
    if let Err(refusal) = root_only(&reader.etcd, reader.user.as_deref(), session.is_root).await {
        return Json(refused(refusal.sentence()));
    }
    // The figures a compaction is confirmed with; an etcd that does not
    // answer leaves them out rather than the whole answer.
    let revision = reader.etcd.current_revision().await.ok().map(|r| r.0);
    let compaction_revision = match revision {
        Some(current) => reader.etcd.compaction_revision(current).await.ok(),
        None => None,
    };
    Json(Operations {
        allowed: true,
        reason: None,
        revision,
        compaction_revision,
        defragmenting,
    })
}

/// `POST /api/v1/cluster/compact`.
async fn compact(
    State(state): State<AppState>,
    client: ClientAddr,
    writer: Writer,
    request: Result<Json<CompactRequest>, JsonRejection>,
) -> Result<Json<Compacted>, Failure> {
    let request = body(request)?;
    let record = Record::new(&state, &client, writer.user.clone(), ACTION_COMPACT, "");
    let outcome = do_compact(&writer, &request).await;
    record
        .finish(outcome, |c| (Some(c.previous_compaction), Some(c.revision)))
        .map(Json)
}

async fn do_compact(writer: &Writer, request: &CompactRequest) -> Result<Compacted, Failure> {
    root_only(&writer.etcd, writer.user.as_deref(), writer.is_root).await?;
    let target = request.revision;
    if target <= 0 {
        return Err(Failure::BadRequest(
            "the revision to compact to must be a positive whole number".into(),
        ));
    }
    confirmed(&request.confirm, &target.to_string())?;
    let current = writer
        .etcd
        .current_revision()
        .await
        .map_err(etcd_failure)?
        .0;
    let previous = writer
        .etcd
        .compaction_revision(current)
        .await
        .map_err(etcd_failure)?;
    if target > current {
        return Err(Failure::BadRequest(format!(
            "revision {target} is in the future: etcd is at {current}; nothing was done"
        )));
    }
    if target <= previous {
        return Err(Failure::BadRequest(format!(
            "etcd is already compacted to revision {previous}; choose a later revision (up to {current})"
        )));
    }
    let message = history_lost(current, target, previous);
    writer.etcd.compact(target).await.map_err(etcd_failure)?;
    Ok(Compacted {
        revision: target,
        previous_compaction: previous,
        current_revision: current,
        message: format!("done: {message}"),
    })
}

/// `POST /api/v1/cluster/defragment`.
async fn defragment(
    State(state): State<AppState>,
    client: ClientAddr,
    writer: Writer,
    request: Result<Json<MemberRequest>, JsonRejection>,
) -> Result<Json<Done>, Failure> {
    let request = body(request)?;
    let record = Record::new(
        &state,
        &client,
        writer.user.clone(),
        ACTION_DEFRAGMENT,
        &request.member,
    );
    let claim = async {
        root_only(&writer.etcd, writer.user.as_deref(), writer.is_root).await?;
        let (id, word) = member(&writer.etcd, &request.member)?;
        confirmed(&request.confirm, &word)?;
        let claim = writer.etcd.begin_defragment(id).map_err(failure)?;
        Ok::<_, Failure>((claim, word))
    }
    .await;
    let (claim, word) = match claim {
        Ok(claim) => claim,
        Err(refusal) => {
            return record
                .finish(Err(refusal), |_: &Done| (None, None))
                .map(Json);
        }
    };
    // The task holds the claim and writes the audit line whether or not
    // this request is still waiting for it.
    let task = tokio::spawn(async move {
        let outcome = claim.run().await.map_err(failure).map(|()| Done {
            message: format!(
                "member {word} was defragmented and serves again; its database size shows on the cluster page within seconds"
            ),
        });
        record.finish(outcome, |_| (None, None))
    });
    match task.await {
        Ok(outcome) => outcome.map(Json),
        Err(err) => Err(Failure::Internal(format!(
            "the defragment task failed: {err}"
        ))),
    }
}

/// `POST /api/v1/cluster/disarm`.
async fn disarm(
    State(state): State<AppState>,
    client: ClientAddr,
    writer: Writer,
    request: Result<Json<DisarmRequest>, JsonRejection>,
) -> Result<Json<Done>, Failure> {
    let request = body(request)?;
    let record = Record::new(
        &state,
        &client,
        writer.user.clone(),
        ACTION_DISARM,
        &request.member,
    )
    .to(&request.alarm);
    let outcome = do_disarm(&writer, &request).await;
    record.finish(outcome, |_| (None, None)).map(Json)
}

async fn do_disarm(writer: &Writer, request: &DisarmRequest) -> Result<Done, Failure> {
    root_only(&writer.etcd, writer.user.as_deref(), writer.is_root).await?;
    let (id, word) = member(&writer.etcd, &request.member)?;
    confirmed(&request.confirm, &request.alarm)?;
    let alarm = &request.alarm;
    let had = writer.etcd.disarm(id, alarm).await.map_err(failure)?;
    let message = if had {
        format!(
            "disarmed {alarm} on member {word}; etcd accepts writes again once no alarm is left"
        )
    } else {
        format!("member {word} had no {alarm} alarm; nothing to disarm")
    };
    Ok(Done { message })
}

/// `POST /api/v1/cluster/move-leader`.
async fn move_leader(
    State(state): State<AppState>,
    client: ClientAddr,
    writer: Writer,
    request: Result<Json<MemberRequest>, JsonRejection>,
) -> Result<Json<Done>, Failure> {
    let request = body(request)?;
    let record = Record::new(
        &state,
        &client,
        writer.user.clone(),
        ACTION_MOVE_LEADER,
        &request.member,
    );
    let outcome = do_move_leader(&writer, &request).await;
    record.finish(outcome, |_| (None, None)).map(Json)
}

async fn do_move_leader(writer: &Writer, request: &MemberRequest) -> Result<Done, Failure> {
    root_only(&writer.etcd, writer.user.as_deref(), writer.is_root).await?;
    let (id, word) = member(&writer.etcd, &request.member)?;
    confirmed(&request.confirm, &word)?;
    writer.etcd.move_leader(id).await.map_err(failure)?;
    Ok(Done {
        message: format!("member {word} is the leader now"),
    })
}

/// `GET /api/v1/cluster/snapshot?member=ID&csrf=TOKEN`.
async fn snapshot(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    // The checks of the `Writer` extractor, with the CSRF token from the
    // query: a download link cannot send a header.
    same_site(&headers, &state.config)?;
    let session = session_from(&headers, &state.sessions)?;
    let query = Query::parse(raw.as_deref())?;
    let csrf = query.text("csrf").unwrap_or_default();
    if !session.csrf_matches(&csrf) {
        tracing::warn!(
            user = session.user.as_deref().unwrap_or("-"),
            "refused a snapshot without this session's CSRF token"
        );
        return Err(Failure::Forbidden(
            "this download lacks the session's CSRF token; reload the page and try again".into(),
        ));
    }
    session.can_write().map_err(Failure::ReadOnly)?;
    state
        .audit
        .check_writable()
        .map_err(|err| Failure::Unavailable(err.to_string()))?;
    let asked = query.text("member").unwrap_or_default();
    let record = Record::new(
        &state,
        &client,
        session.user.clone(),
        ACTION_SNAPSHOT,
        &asked,
    );
    let started = async {
        root_only(&session.etcd, session.user.as_deref(), session.is_root).await?;
        let (id, word) = member(&session.etcd, &asked)?;
        let snapshot = session.etcd.snapshot(id).await.map_err(failure)?;
        Ok::<_, Failure>((snapshot, word))
    }
    .await;
    let (snapshot, word) = record.finish(started, |(s, _)| (None, Some(s.revision)))?;
    let filename = snapshot_filename(&word, snapshot.revision);
    let user = session.user.clone();
    let member = word.clone();
    // A break in the middle can no longer change the status: it is logged,
    // and the browser sees a download that failed.
    let chunks = snapshot.chunks.map(move |chunk| {
        chunk.inspect_err(|err| {
            tracing::warn!(
                user = user.as_deref().unwrap_or("-"),
                member = %member,
                error = %err,
                "a snapshot download broke off"
            );
        })
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Some(size) = snapshot.size {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    Ok(response)
}
