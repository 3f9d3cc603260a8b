//! Comparing two prefixes at fixed revisions, and copying a selection of
//! the left side's keys to the right through the guarded import.
//!
//! `GET /api/v1/compare` walks both prefixes side by side in key order
//! (keys are matched by their part after each prefix), a page of each at a
//! time, as the person's own etcd session, and answers one page of
//! differences: only-left, only-right and different keys in key order, and
//! how many keys were equal in the range the page covered. Both sides are
//! read at the revisions of the first page on every later page, so the
//! pages add up to one comparison of two fixed states.
//!
//! `right_cluster` names the right side's cluster once etcdeck speaks to
//! more than one; until then only the left (the one cluster) is accepted.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{RawQuery, State};
use etcdeck_shared::transfer::{
    CompareItem, Comparison, CopyAcross, Difference, EXPORT_FORMAT, ExportHeader, ExportLine,
    ImportOptions, ImportResult, MAX_COPY_ACROSS, MAX_DIFF_VALUE,
};
use etcdeck_shared::{Bytes, Revision};

use super::edit::{Attempt, body};
use super::export::{after, read_page, revision_param};
use super::extract::{Reader, Writer};
use super::import::{Cursor, Source, apply, check_key_to_write};
use super::query::Query;
use super::{AppState, Failure};
use crate::config::Masks;
use crate::etcd::PageKv;

/// Differences one page lists unless fewer are asked for.
const DEFAULT_ITEMS: usize = 100;
/// Most differences one page lists.
const MAX_ITEMS: usize = 1000;
/// Most keys (of both sides) one page reads before it answers, so a page
/// over two long equal stretches still answers quickly.
const MAX_SCANNED: usize = 20_000;

/// `GET /api/v1/compare?left=L&right=R[&left_revision=&right_revision=&after=&limit=&right_cluster=]`.
pub(super) async fn compare(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<Comparison>, Failure> {
    let query = Query::parse(raw.as_deref())?;
    let left = query.bytes("left").unwrap_or_default();
    let right = query.bytes("right").unwrap_or_default();
    let right_cluster = query.text("right_cluster").filter(|c| !c.is_empty());
    if let Some(cluster) = &right_cluster {
        return Err(Failure::BadRequest(format!(
            "this etcdeck speaks to one cluster; the cluster '{cluster}' cannot be compared with it"
        )));
    }
    if left == right {
        return Err(Failure::BadRequest(
            "the two prefixes are the same: choose two different prefixes".into(),
        ));
    }
    let limit = match query.text("limit").filter(|l| !l.is_empty()) {
        None => DEFAULT_ITEMS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_ITEMS).contains(n))
            .ok_or_else(|| {
                Failure::BadRequest(format!("limit is a number from 1 to {MAX_ITEMS}"))
            })?,
    };
    let suffix_after = query.bytes("after");
    let start = |prefix: &Bytes| {
        let mut start = prefix.0.clone();
        if let Some(suffix) = &suffix_after {
            start.extend_from_slice(&after(&suffix.0));
        }
        start
    };
    let left_revision = revision_param(&query, "left_revision")?;
    let right_revision = revision_param(&query, "right_revision")?;
    let etcd = &reader.etcd;
    let mut lefts = Cursor::starting(
        etcd.clone(),
        &left.0,
        start(&left),
        left_revision.map(|r| r.0),
    );
    let mut rights = Cursor::starting(
        etcd.clone(),
        &right.0,
        start(&right),
        right_revision.map(|r| r.0),
    );
    lefts.start().await?;
    rights.start().await?;
    let mut items = Vec::new();
    let mut equal = 0;
    let mut scanned = 0;
    let mut last: Option<Vec<u8>> = None;
    let complete = loop {
        if items.len() >= limit || scanned >= MAX_SCANNED {
            break false;
        }
        let l = lefts.peek().await?.map(|kv| suffix(&left, kv));
        let r = rights.peek().await?.map(|kv| suffix(&right, kv));
        let (take_left, take_right) = match (&l, &r) {
            (None, None) => break true,
            (Some(_), None) => (true, false),
            (None, Some(_)) => (false, true),
            (Some(l), Some(r)) => (l <= r, r <= l),
        };
        let lkv = if take_left {
            lefts.take_any().await?
        } else {
            None
        };
        let rkv = if take_right {
            rights.take_any().await?
        } else {
            None
        };
        scanned += usize::from(take_left) + usize::from(take_right);
        let Some(key) = l.filter(|_| take_left).or(r.filter(|_| take_right)) else {
            break true;
        };
        last = Some(key.clone());
        let difference = match (&lkv, &rkv) {
            (Some(a), Some(b)) if a.value == b.value => {
                equal += 1;
                continue;
            }
            (Some(_), Some(_)) => Difference::Different,
            (Some(_), None) => Difference::OnlyLeft,
            _ => Difference::OnlyRight,
        };
        let cut = [&lkv, &rkv].iter().any(|kv| {
            kv.as_ref()
                .is_some_and(|kv| kv.value.len() > MAX_DIFF_VALUE)
        });
        // Values of keys that look secret stay hidden here too.
        let masks = &state.config.masks;
        let masked = [&lkv, &rkv]
            .iter()
            .find_map(|kv| kv.as_ref().and_then(|kv| masks.matching(&kv.key)))
            .map(str::to_owned);
        let shown = |kv: Option<PageKv>| {
            kv.filter(|_| masked.is_none())
                .map(|kv| cut_value(kv.value))
        };
        items.push(CompareItem {
            suffix: Bytes::from(key),
            difference,
            left: shown(lkv),
            right: shown(rkv),
            cut,
            masked,
        });
    };
    Ok(Json(Comparison {
        left,
        right,
        left_revision: Revision(lefts.revision().unwrap_or_default()),
        right_revision: Revision(rights.revision().unwrap_or_default()),
        right_cluster,
        items,
        equal,
        next: if complete {
            None
        } else {
            last.map(Bytes::from)
        },
    }))
}

fn suffix(prefix: &Bytes, kv: &PageKv) -> Vec<u8> {
    kv.key
        .strip_prefix(prefix.0.as_slice())
        .unwrap_or(&kv.key)
        .to_vec()
}

fn cut_value(mut value: Vec<u8>) -> Bytes {
    value.truncate(MAX_DIFF_VALUE);
    Bytes::from(value)
}

/// `POST /api/v1/compare/copy`: each chosen key's left value, as it was at
/// the left revision, written to the right through the guarded import
/// (a right key changed after the right revision is a conflict and is not
/// written). Keys only on the right are left alone.
pub(super) async fn copy_across(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<CopyAcross>, JsonRejection>,
) -> Result<Json<ImportResult>, Failure> {
    let request = body(request)?;
    if request.suffixes.len() > MAX_COPY_ACROSS {
        return Err(Failure::TooLarge(format!(
            "{} keys were chosen; one copy takes at most {MAX_COPY_ACROSS}; nothing was written",
            request.suffixes.len()
        )));
    }
    state
        .audit
        .check_writable()
        .map_err(|err| Failure::Unavailable(err.to_string()))?;
    let attempt =
        Attempt::new(&state, &writer, "import", &request.right).saw(request.right_revision);
    let outcome = do_copy_across(&writer, request, &state.config.masks).await;
    attempt.finish_partial(outcome, |r| r.revision, |r| r.failure.clone())
}

async fn do_copy_across(
    writer: &Writer,
    request: CopyAcross,
    masks: &Masks,
) -> Result<ImportResult, Failure> {
    let CopyAcross {
        left,
        right,
        left_revision,
        right_revision,
        mut suffixes,
        leases,
    } = request;
    if left == right {
        return Err(Failure::BadRequest(
            "the two prefixes are the same: nothing to copy".into(),
        ));
    }
    suffixes.sort();
    suffixes.dedup();
    let mut lines = VecDeque::new();
    for suffix in &suffixes {
        let mut key = left.0.clone();
        key.extend_from_slice(&suffix.0);
        let mut target = right.0.clone();
        target.extend_from_slice(&suffix.0);
        check_key_to_write(&right.0, &target)?;
        let page = read_page(&writer.etcd, &key, &[], Some(left_revision.0), 1).await?;
        let Some(kv) = page.kvs.into_iter().next() else {
            continue;
        };
        let lease_ttl = match kv.lease {
            0 => None,
            id => writer.etcd.lease_remaining(id).await?,
        };
        // A masked value is not copied: its new name might not be masked,
        // and would show it (the import leaves it alone).
        let masked = masks
            .matching(&kv.key)
            .or_else(|| masks.matching(&target))
            .map(str::to_owned);
        lines.push_back(ExportLine {
            key: Bytes::from(kv.key),
            value: Bytes::from(kv.value),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
            lease_ttl,
            masked,
        });
    }
    let header = ExportHeader {
        format: EXPORT_FORMAT.to_owned(),
        cluster: String::new(),
        prefix: left,
        revision: left_revision,
        etcd_version: String::new(),
        count: lines.len() as u64,
    };
    let options = ImportOptions {
        to: Some(right.clone()),
        apply: true,
        mirror: false,
        leases,
        seen: Some(right_revision),
    };
    let source: Source<futures::stream::Empty<Result<axum::body::Bytes, Infallible>>> =
        Source::List(lines);
    apply(writer, &header, &right, &options, source).await
}
