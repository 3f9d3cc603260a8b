//! `POST /api/v1/may-write` and `GET /api/v1/may-write?key=K|prefix=P`:
//! whether this session may write keys or prefixes, so the page can disable
//! controls that would be refused and say why.
//!
//! Nothing is written. A session etcdeck does not let write (`--read-only`,
//! a wall token, etcd without auth) is answered from its read-only reason
//! without asking etcd; any other is asked of etcd as the session's own
//! etcd user (see `crate::etcd` probe), a screen of targets in one round.
//! The answer is advice for the screen: etcd still decides at write time.

use axum::Json;
use axum::extract::RawQuery;
use axum::extract::rejection::JsonRejection;
use etcdeck_shared::Bytes;
use etcdeck_shared::edit::{
    MAX_MAY_WRITE_TARGETS, MayWrite, MayWriteRequest, WriteAnswer, WriteTarget,
};

use super::Failure;
use super::extract::Reader;
use super::query::Query;
use crate::etcd;

/// `GET /api/v1/may-write?key=K` or `?prefix=P`: one target.
pub(super) async fn one(
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<MayWrite>, Failure> {
    let query = Query::parse(raw.as_deref())?;
    let target = match (query.bytes("key"), query.bytes("prefix")) {
        (Some(key), None) => WriteTarget { key, prefix: false },
        (None, Some(key)) => WriteTarget { key, prefix: true },
        _ => {
            return Err(Failure::BadRequest(
                "give either key=K or prefix=P (for several, POST a list)".into(),
            ));
        }
    };
    answer(&reader, vec![target]).await.map(Json)
}

/// `POST /api/v1/may-write` with a [`MayWriteRequest`]: up to
/// [`MAX_MAY_WRITE_TARGETS`] targets, answered in order. It changes
/// nothing, so it needs no CSRF token, only the session.
pub(super) async fn many(
    reader: Reader,
    body: Result<Json<MayWriteRequest>, JsonRejection>,
) -> Result<Json<MayWrite>, Failure> {
    let Json(request) = body.map_err(|rejection| {
        Failure::BadRequest(format!(
            "the request body was not understood: {}",
            rejection.body_text()
        ))
    })?;
    if request.targets.len() > MAX_MAY_WRITE_TARGETS {
        return Err(Failure::BadRequest(format!(
            "ask about at most {MAX_MAY_WRITE_TARGETS} keys or prefixes at once, not {}",
            request.targets.len()
        )));
    }
    answer(&reader, request.targets).await.map(Json)
}

async fn answer(reader: &Reader, targets: Vec<WriteTarget>) -> Result<MayWrite, Failure> {
    if let Some(empty) = targets.iter().position(|t| t.key.is_empty() && !t.prefix) {
        return Err(Failure::BadRequest(format!(
            "target {} has an empty key (the whole keyspace is the empty prefix)",
            empty + 1
        )));
    }
    // etcdeck's own refusal comes first, and then etcd is not asked at all.
    if let Err(reason) = session_may_write(reader) {
        let refused = WriteAnswer {
            allowed: false,
            reason: Some(reason),
        };
        return Ok(MayWrite {
            answers: vec![refused; targets.len()],
        });
    }
    let asked: Vec<(Bytes, bool)> = targets.iter().map(|t| (t.key.clone(), t.prefix)).collect();
    let answers = reader.etcd.may_write_all(&asked).await?;
    Ok(MayWrite {
        answers: targets
            .iter()
            .zip(answers)
            .map(|(target, answer)| match answer {
                etcd::MayWrite::Allowed => WriteAnswer {
                    allowed: true,
                    reason: None,
                },
                etcd::MayWrite::Refused { reason } => WriteAnswer {
                    allowed: false,
                    reason: Some(refusal(reader.user.as_deref(), target, &reason)),
                },
            })
            .collect(),
    })
}

/// Whether etcdeck lets this request's session write at all: the same
/// rule the write extractor applies, said as the session's reason.
fn session_may_write(reader: &Reader) -> Result<(), String> {
    match &reader.session {
        Some(session) => session.can_write(),
        // A cookie-less read of an etcd without auth: writes need a session.
        None => Err("writes need a session; reload etcdeck's page to start one".into()),
    }
}

/// The tooltip for a target etcd refused, with etcd's own words.
fn refusal(user: Option<&str>, target: &WriteTarget, etcd_reason: &str) -> String {
    let user = user.unwrap_or("etcdeck acts as");
    let what = if target.prefix {
        if target.key.is_empty() {
            "every key".to_owned()
        } else {
            format!("every key under {}", target.key.display())
        }
    } else {
        target.key.display()
    };
    format!("etcd refused: the etcd user {user} may not write {what} ({etcd_reason})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_user_and_the_target() {
        let key = WriteTarget {
            key: Bytes::from("/secret/x"),
            prefix: false,
        };
        assert_eq!(
            refusal(Some("alice"), &key, "etcdserver: permission denied"),
            "etcd refused: the etcd user alice may not write /secret/x (etcdserver: permission denied)"
        );
        let prefix = WriteTarget {
            key: Bytes::from("/secret/"),
            prefix: true,
        };
        assert!(refusal(Some("alice"), &prefix, "no").contains("every key under /secret/"));
        let everything = WriteTarget {
            key: Bytes::from(""),
            prefix: true,
        };
        assert!(refusal(None, &everything, "no").contains("may not write every key ("));
    }
}
