//! Acting on a whole prefix: the preview a prefix delete is confirmed
//! against (exact count and first keys, at one revision), and the guarded
//! delete of everything under the prefix.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{RawQuery, State};
use etcdeck_shared::edit::{DeletePrefixRequest, PrefixPreview, Written};

use super::edit::{Attempt, body};
use super::error::write_failure;
use super::extract::{Reader, Writer};
use super::kubernetes::refuse_kubernetes_prefix;
use super::query::Query;
use super::{AppState, Failure};

/// `GET /api/v1/prefix?prefix=P`.
pub(super) async fn preview(
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
pub(super) async fn delete_prefix(
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
    refuse_kubernetes_prefix(writer, &prefix).await?;
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
