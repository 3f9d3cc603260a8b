//! `GET /api/v1/search`: search over keys and values under a prefix, in
//! key order, one bounded page per request.
//!
//! With the model ready, candidates come from it (`crate::model::search`)
//! and every one is read back as the person's own etcd session before it
//! becomes a hit: a key etcd refuses them, or that is gone, is dropped
//! without a trace, and a changed key is matched again on what was read
//! (values the model does not hold are read the same way). Without the
//! model, the range is scanned in etcd as the person, page by page at one
//! pinned revision; each request stops after a bounded number of keys or
//! time and answers a cursor, and the browser continues until done.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{RawQuery, State};
use etcdeck_shared::search::{
    DEFAULT_SEARCH_PAGE, MAX_QUERY_BYTES, MAX_SEARCH_PAGE, SearchAnswer, SearchHit, SearchIn,
    SearchMode, SearchRequest, SearchSource,
};
use etcdeck_shared::{Bytes, LeaseId, Revision};

use super::error::at_revision_failure;
use super::extract::Reader;
use super::query::Query;
use super::{AppState, Failure};
use crate::config::Masks;
use crate::etcd::{EtcdError, EtcdSession, SearchKv};
use crate::model::Model;
use crate::model::search::{Found, Matcher, candidates, hit, start_key};
use crate::tree::range_end;

/// How long one answer may take before it returns what it has and a cursor.
const TIME_BUDGET: Duration = Duration::from_secs(2);
/// Keys of the model walked under one hold of its read lock.
const MODEL_KEYS_PER_LOCK: u64 = 100_000;
/// Keys one etcd read asks for.
const ETCD_PAGE: usize = 1_000;
/// Keys of etcd one answer scans at most.
const ETCD_KEYS_PER_ANSWER: u64 = 50_000;

/// `GET /api/v1/search?q=&prefix=&in=&mode=&case=&after=&revision=&limit=`.
pub async fn search(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<SearchAnswer>, Failure> {
    let request = parse(&Query::parse(raw.as_deref())?)?;
    Ok(Json(
        answer_masked(&state.model, &reader.etcd, &request, &state.config.masks).await?,
    ))
}

/// One page of `request`'s search as `etcd`'s user sees it: from `model`
/// when it is ready, else from etcd. No value is masked.
pub async fn answer(
    model: &Model,
    etcd: &EtcdSession,
    request: &SearchRequest,
) -> Result<SearchAnswer, Failure> {
    answer_masked(model, etcd, request, &Masks::off()).await
}

/// [`answer`], where the values of keys that `masks` hide are never
/// searched: such a key is found by its name only, so neither a snippet nor
/// the mere fact of a hit tells anything of its value.
pub async fn answer_masked(
    model: &Model,
    etcd: &EtcdSession,
    request: &SearchRequest,
    masks: &Masks,
) -> Result<SearchAnswer, Failure> {
    let matcher = Matcher::new(
        request.q.as_slice(),
        request.mode,
        request.case_sensitive,
        request.within,
    )
    .map_err(|err| Failure::BadRequest(err.to_string()))?;
    let limit = request
        .limit
        .unwrap_or(DEFAULT_SEARCH_PAGE)
        .clamp(1, MAX_SEARCH_PAGE);
    match from_model(model, etcd, request, &matcher, limit, masks).await? {
        Some(answer) => Ok(answer),
        None => from_etcd(etcd, request, &matcher, limit, masks).await,
    }
}

/// The request's parameters, each checked with a sentence.
fn parse(query: &Query) -> Result<SearchRequest, Failure> {
    let q = query.bytes("q").unwrap_or_default();
    if q.len() > MAX_QUERY_BYTES {
        return Err(Failure::BadRequest(format!(
            "the search text is longer than {MAX_QUERY_BYTES} bytes"
        )));
    }
    let within = match query.text("in") {
        None => SearchIn::default(),
        Some(text) => SearchIn::parse(&text).ok_or_else(|| {
            Failure::BadRequest(format!("in must be keys, values or both, not '{text}'"))
        })?,
    };
    let mode = match query.text("mode") {
        None => SearchMode::default(),
        Some(text) => SearchMode::parse(&text).ok_or_else(|| {
            Failure::BadRequest(format!("mode must be substring or regex, not '{text}'"))
        })?,
    };
    let case_sensitive = match query.text("case").as_deref() {
        None | Some("insensitive") => false,
        Some("sensitive") => true,
        Some(other) => {
            return Err(Failure::BadRequest(format!(
                "case must be sensitive or insensitive, not '{other}'"
            )));
        }
    };
    let number = |name: &str| -> Result<Option<u64>, Failure> {
        query
            .text(name)
            .map(|text| {
                text.parse::<u64>().map_err(|_| {
                    Failure::BadRequest(format!("{name} must be a whole number, not '{text}'"))
                })
            })
            .transpose()
    };
    Ok(SearchRequest {
        q,
        prefix: query.bytes("prefix").unwrap_or_default(),
        within,
        mode,
        case_sensitive,
        after: query.bytes("after"),
        revision: number("revision")?.map(|r| r as i64),
        limit: number("limit")?.map(|l| l as usize),
    })
}

fn search_hit(kv: SearchKv, found: Found) -> SearchHit {
    SearchHit {
        key: Bytes::new(kv.key),
        matched_in: found.matched_in,
        snippet: Bytes::new(found.snippet),
        match_start: found.match_start as u32,
        match_end: found.match_end as u32,
        snippet_offset: found.snippet_offset as u32,
        value_size: kv.value_size,
        mod_revision: kv.mod_revision,
        lease: (kv.lease != 0).then_some(LeaseId(kv.lease)),
    }
}

/// The answer from the model, or `None` when it is not ready.
async fn from_model(
    model: &Model,
    etcd: &EtcdSession,
    request: &SearchRequest,
    matcher: &Matcher,
    limit: usize,
    masks: &Masks,
) -> Result<Option<SearchAnswer>, Failure> {
    let began = Instant::now();
    let prefix = request.prefix.as_slice();
    // The model is etcdeck's own user's view: how many keys it holds under
    // the prefix is not the person's to know, so the answer counts only the
    // keys read back as the person.
    if model.read(|_| ()).is_none() {
        return Ok(None);
    }
    // A keys-only search needs no value to confirm a hit.
    let keys_only = !matcher.within().values();
    let mut after = request.after.as_ref().map(|a| a.0.clone());
    let mut answer = SearchAnswer {
        hits: Vec::new(),
        revision: 0,
        source: SearchSource::Model,
        scanned: 0,
        total: None,
        next: None,
    };
    loop {
        let wanted = limit - answer.hits.len();
        let Some(found) = model.read(|store| {
            candidates(
                store,
                matcher,
                prefix,
                after.as_deref(),
                wanted,
                MODEL_KEYS_PER_LOCK,
            )
        }) else {
            // The model stopped being ready (a rebuild): the cursor lets
            // the browser continue from etcd.
            answer.next = after.map(Bytes::new);
            return Ok(Some(answer));
        };
        answer.revision = answer.revision.max(found.revision);
        let keys: Vec<(Vec<u8>, u64)> = found
            .keys
            .into_iter()
            .map(|c| (c.key, c.value_size))
            .collect();
        let sizes: Vec<u64> = keys.iter().map(|(_, size)| *size).collect();
        let (_, read) = etcd.read_back(&keys, keys_only).await?;
        for (kv, size) in read.into_iter().zip(sizes) {
            let Some(mut kv) = kv else { continue };
            answer.scanned += 1;
            if keys_only {
                kv.value_size = size;
            }
            let value =
                (!keys_only && masks.matching(&kv.key).is_none()).then_some(kv.value.as_slice());
            if let Some(found) = hit(matcher, &kv.key, value) {
                answer.hits.push(search_hit(kv, found));
            }
        }
        after = found.next;
        if after.is_none() {
            return Ok(Some(answer));
        }
        if answer.hits.len() >= limit || began.elapsed() >= TIME_BUDGET {
            answer.next = after.map(Bytes::new);
            return Ok(Some(answer));
        }
    }
}

/// The answer from a scan of etcd as the person, at the request's revision
/// (or the latest, which later pages are pinned to).
async fn from_etcd(
    etcd: &EtcdSession,
    request: &SearchRequest,
    matcher: &Matcher,
    limit: usize,
    masks: &Masks,
) -> Result<SearchAnswer, Failure> {
    let began = Instant::now();
    let prefix = request.prefix.as_slice();
    let end = range_end(prefix);
    let pinned = request.revision;
    let failure = |err| at_revision_failure(err, pinned.map(Revision));
    let mut revision = pinned;
    let mut total = None;
    if request.after.is_none() {
        let (at, count) = etcd
            .count_range(&start_key(prefix, None), &end, revision)
            .await
            .map_err(failure)?;
        revision = Some(at);
        total = Some(count);
    }
    let mut answer = SearchAnswer {
        hits: Vec::new(),
        revision: revision.unwrap_or_default(),
        source: SearchSource::Etcd,
        scanned: 0,
        total,
        next: None,
    };
    let mut start = start_key(prefix, request.after.as_ref().map(|a| a.as_slice()));
    // Large values can make a page of keys larger than etcd answers at
    // once: the page halves until it fits, for the rest of this answer.
    let mut page_keys = ETCD_PAGE;
    loop {
        let page = loop {
            match etcd
                .search_page(&start, &end, page_keys, revision, false)
                .await
            {
                Err(EtcdError::TooLarge(_)) if page_keys > 1 => page_keys /= 2,
                other => break other.map_err(failure)?,
            }
        };
        let at = *revision.get_or_insert(page.revision);
        answer.revision = at;
        let mut last = None;
        for kv in page.kvs {
            answer.scanned += 1;
            last = Some(kv.key.clone());
            let value = masks
                .matching(&kv.key)
                .is_none()
                .then_some(kv.value.as_slice());
            if let Some(found) = hit(matcher, &kv.key, value) {
                answer.hits.push(search_hit(kv, found));
                if answer.hits.len() >= limit {
                    answer.next = last.map(Bytes::new);
                    return Ok(answer);
                }
            }
        }
        let Some(last) = last.filter(|_| page.more) else {
            return Ok(answer);
        };
        if answer.scanned >= ETCD_KEYS_PER_ANSWER || began.elapsed() >= TIME_BUDGET {
            answer.next = Some(Bytes::new(last));
            return Ok(answer);
        }
        start = start_key(prefix, Some(&last));
    }
}
