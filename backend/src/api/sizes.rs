//! Sizes from the keyspace model: the largest-prefixes view
//! (`GET /api/v1/sizes?prefix=P`), a warm tree level answered from the
//! model, and what a person may read, which limits both.
//!
//! The model is built as etcdeck's own user, so what a logged-in person is
//! shown from it is limited to the ranges their roles grant read access
//! to. Those are asked of etcd as the person's own session (etcd lets a
//! user read their own user and the roles they hold) and kept a few
//! seconds per browser session, so a screen of requests asks once. Wall
//! screens and an etcd without auth see what etcdeck's own user sees.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{RawQuery, State};
use etcdeck_shared::Level;
use etcdeck_shared::edit::SessionKind;
use etcdeck_shared::model::ModelState;
use etcdeck_shared::sizes::{LARGEST_PREFIXES, Sizes};

use super::extract::Reader;
use super::query::Query;
use super::{AppState, Failure};
use crate::etcd::{EtcdError, EtcdSession};
use crate::model::access::Readable;
use crate::model::level as model_level;
use crate::tree::LevelError;

/// How long a person's readable ranges are trusted before etcd is asked
/// again: a revoked role stops counting within this.
const READABLE_TTL: Duration = Duration::from_secs(5);

/// Past this many remembered sessions, expired ones are forgotten.
const READABLE_SESSIONS: usize = 1024;

/// Each browser session's readable ranges, briefly.
#[derive(Clone, Debug, Default)]
pub struct ReadableCache {
    inner: Arc<Mutex<HashMap<String, (Instant, Readable)>>>,
}

impl ReadableCache {
    fn get(&self, handle: &str) -> Option<Readable> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.get(handle)
            .filter(|(at, _)| at.elapsed() < READABLE_TTL)
            .map(|(_, readable)| readable.clone())
    }

    fn put(&self, handle: &str, readable: Readable) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= READABLE_SESSIONS {
            map.retain(|_, (at, _)| at.elapsed() < READABLE_TTL);
        }
        map.insert(handle.to_owned(), (Instant::now(), readable));
    }
}

/// What the reader may read, as etcd's roles say.
pub(super) async fn readable(state: &AppState, reader: &Reader) -> Result<Readable, EtcdError> {
    let Some(session) = reader.session.as_deref() else {
        return Ok(Readable::all());
    };
    let Some(user) = reader.user.as_deref() else {
        return Ok(Readable::all());
    };
    if session.kind != SessionKind::Login || session.is_root {
        return Ok(Readable::all());
    }
    if let Some(readable) = state.readable.get(&session.handle) {
        return Ok(readable);
    }
    let readable = readable_of(&reader.etcd, user).await?;
    state.readable.put(&session.handle, readable.clone());
    Ok(readable)
}

/// `user`'s readable ranges, read as that user's own session.
async fn readable_of(etcd: &EtcdSession, user: &str) -> Result<Readable, EtcdError> {
    Ok(match etcd.own_permissions(user).await? {
        None => Readable::all(),
        Some(permissions) => Readable::from_permissions(&permissions),
    })
}

/// A level page from the model when it is ready, at the asked revision (or
/// none asked) and readable in whole by the person; `None` sends the
/// request to etcd as today.
pub(super) async fn level_from_model(
    state: &AppState,
    reader: &Reader,
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
    at: Option<i64>,
) -> Result<Option<Level>, Failure> {
    let ModelState::Ready { revision, .. } = state.model.state() else {
        return Ok(None);
    };
    if at.is_some_and(|at| at != revision) {
        return Ok(None);
    }
    let readable = match readable(state, reader).await {
        Ok(readable) => readable,
        Err(err) => {
            tracing::debug!(error = %err, "reading the person's roles failed; the level reads etcd");
            return Ok(None);
        }
    };
    let separator = &state.config.separator;
    let answer = state
        .model
        .read(|store| model_level::level(store, &readable, prefix, separator, after, limit));
    match answer.flatten() {
        Some(Ok(level)) => Ok(Some(level)),
        Some(Err(LevelError::BadCursor)) => Err(Failure::from(LevelError::<EtcdError>::BadCursor)),
        Some(Err(LevelError::EmptySeparator)) => {
            Err(Failure::from(LevelError::<EtcdError>::EmptySeparator))
        }
        // The model moved on between its state and its read: etcd answers.
        Some(Err(LevelError::Source(_))) | None => Ok(None),
    }
}

/// `GET /api/v1/sizes?prefix=P`: the largest prefixes one level below `P`
/// (a tree prefix: empty or ending in `/`), with the keys and bytes of
/// each, of `P` and of everything the person may read. While the model is
/// off or building it says so rather than reading every key from etcd.
pub(super) async fn sizes(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<Sizes>, Failure> {
    let query = Query::parse(raw.as_deref())?;
    let prefix = query.bytes("prefix").unwrap_or_default();
    if !crate::model::sizes::is_dir(prefix.as_slice()) {
        return Err(Failure::BadRequest(format!(
            "the sizes of a prefix are kept per tree level: '{}' must be empty or end in '/'",
            prefix.display()
        )));
    }
    let model_state = state.model.state();
    if !matches!(model_state, ModelState::Ready { .. }) {
        return Ok(Json(Sizes::Unavailable { state: model_state }));
    }
    let readable = readable(&state, &reader).await?;
    let answer = state.model.read(|store| {
        let whole = readable.size_under(store, b"");
        model_level::largest(store, &readable, prefix.as_slice(), LARGEST_PREFIXES).map(|largest| {
            Sizes::Ready {
                prefix: prefix.clone(),
                revision: etcdeck_shared::Revision(store.revision()),
                whole: model_level::size_of(whole),
                here: largest.here,
                direct: largest.direct,
                largest: largest.largest,
                prefixes: largest.prefixes,
                limited: !readable.is_all(),
            }
        })
    });
    match answer {
        Some(Some(view)) => Ok(Json(view)),
        Some(None) => Err(Failure::BadRequest("not a tree prefix".into())),
        None => Ok(Json(Sizes::Unavailable {
            state: state.model.state(),
        })),
    }
}
