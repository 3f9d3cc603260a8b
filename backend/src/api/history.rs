//! Reads of the past: the `revision` parameter that browses a level or a
//! key as of an earlier revision, and a key's history (its versions since
//! it was created, as far back as etcd keeps them).

use axum::Json;
use axum::extract::{RawQuery, State};
use etcdeck_shared::Revision;
use etcdeck_shared::edit::History;

use super::extract::Reader;
use super::query::Query;
use super::{AppState, Failure};
use crate::etcd::KeyRead;

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

/// `GET /api/v1/history?key=K`.
pub(super) async fn history(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<History>, Failure> {
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
    let history = reader.etcd.key_history(current).await?;
    let history = History {
        key,
        versions: history.versions,
        compacted_before: history.compacted_before,
        truncated: history.truncated,
        revision,
    };
    Ok(Json(super::mask::masked(history, &state.config.masks)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_in_queries() {
        let query = Query::parse(Some("revision=12")).unwrap();
        assert_eq!(revision_param(&query).unwrap(), Some(Revision(12)));
        for bad in ["revision=0", "revision=-3", "revision=x"] {
            assert!(revision_param(&Query::parse(Some(bad)).unwrap()).is_err());
        }
        assert_eq!(revision_param(&Query::parse(None).unwrap()).unwrap(), None);
    }
}
