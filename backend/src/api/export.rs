//! `GET /api/v1/export?prefix=P&revision=R`: every key under a prefix as it
//! was at one revision, as a JSON-lines file (an `ExportHeader`, then one
//! `ExportLine` per key in key order), read as the person's own etcd
//! session page by page and streamed as it is read, so no export holds
//! more than one page in memory however many keys it carries.
//!
//! Masked values stay masked here as everywhere: their lines carry no value
//! and name the pattern, and an import leaves those keys alone.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use etcdeck_shared::transfer::{
    EXPORT_CONTENT_TYPE, EXPORT_FORMAT, ExportError, ExportHeader, ExportLine,
};
use etcdeck_shared::{Bytes, Connection, Revision};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::extract::Reader;
use super::query::Query;
use super::{AppState, Failure};
use crate::config::Masks;
use crate::etcd::{EtcdError, EtcdSession, Page, PageKv};
use crate::tree::range_end;

/// Keys per range read. Halved (down to one) when etcd refuses a page,
/// e.g. one whose values together exceed the largest answer accepted.
pub(super) const PAGE_KEYS: usize = 500;
/// Pages read ahead of a browser that downloads slowly.
const PAGES_AHEAD: usize = 2;

/// `GET /api/v1/export`.
pub(super) async fn export(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let query = Query::parse(raw.as_deref())?;
    let prefix = query.bytes("prefix").unwrap_or_default();
    let revision = revision_param(&query, "revision")?;
    let etcd = reader.etcd.clone();
    let end = range_end(&prefix.0);
    // The first page fixes the revision (now, unless one was asked for)
    // and counts the keys, before anything is sent.
    let first = read_page(&etcd, &prefix.0, &end, revision.map(|r| r.0), PAGE_KEYS).await?;
    let header = ExportHeader {
        format: EXPORT_FORMAT.to_owned(),
        cluster: format!("{:x}", first.cluster_id),
        prefix: prefix.clone(),
        revision: Revision(first.revision),
        etcd_version: match etcd.connection() {
            Connection::Connected { etcd_version, .. } => etcd_version,
            _ => String::new(),
        },
        count: first.count,
    };
    let filename = export_filename(&prefix, first.revision);
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(PAGES_AHEAD);
    let masks = state.config.masks.clone();
    tokio::spawn(async move {
        let mut exporter = Exporter {
            etcd,
            masks,
            ttls: HashMap::new(),
        };
        if let Err(err) = exporter.stream(header, first, &end, &tx).await {
            // The status is sent already: the file ends with a line that
            // says why, and an import refuses a file that holds one.
            tracing::warn!(error = %err, "an export broke off");
            let line = ExportError {
                error: format!("the export broke off: {err}"),
            };
            let _ = tx.send(Ok(json_line(&line))).await;
        }
    });
    let mut response = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(EXPORT_CONTENT_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// A revision given in the query (`None`: not given).
pub(super) fn revision_param(query: &Query, name: &str) -> Result<Option<Revision>, Failure> {
    match query.text(name).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(revision) if revision > 0 => Ok(Some(Revision(revision))),
            _ => Err(Failure::BadRequest(format!(
                "{name} must be a positive revision, not '{text}'"
            ))),
        },
    }
}

/// A page, retried with half as many keys when etcd refuses it.
pub(super) async fn read_page(
    etcd: &EtcdSession,
    start: &[u8],
    end: &[u8],
    revision: Option<i64>,
    mut limit: usize,
) -> Result<Page, EtcdError> {
    loop {
        match etcd.range_page(start, end, revision, limit).await {
            Ok(page) => return Ok(page),
            Err(EtcdError::TooLarge(_)) if limit > 1 => limit /= 2,
            Err(err) => return Err(err),
        }
    }
}

/// The key right after `key` in key order: where the next page starts.
pub(super) fn after(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

struct Exporter {
    etcd: EtcdSession,
    masks: Masks,
    /// Each lease's remaining TTL, asked once per export.
    ttls: HashMap<i64, Option<i64>>,
}

impl Exporter {
    async fn stream(
        &mut self,
        header: ExportHeader,
        first: Page,
        end: &[u8],
        tx: &mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    ) -> Result<(), EtcdError> {
        let revision = header.revision.0;
        if tx.send(Ok(json_line(&header))).await.is_err() {
            return Ok(());
        }
        let mut page = first;
        loop {
            let mut chunk = Vec::new();
            for kv in &page.kvs {
                let line = self.line(kv).await?;
                chunk.extend_from_slice(&json_line(&line));
            }
            // The browser went away: nothing more to read.
            if tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
            let Some(last) = page.kvs.last().filter(|_| page.more) else {
                return Ok(());
            };
            let start = after(&last.key);
            page = read_page(&self.etcd, &start, end, Some(revision), PAGE_KEYS).await?;
        }
    }

    async fn line(&mut self, kv: &PageKv) -> Result<ExportLine, EtcdError> {
        let lease_ttl = match kv.lease {
            0 => None,
            id => match self.ttls.get(&id) {
                Some(ttl) => *ttl,
                None => {
                    let ttl = self.etcd.lease_remaining(id).await?;
                    self.ttls.insert(id, ttl);
                    ttl
                }
            },
        };
        let masked = self.masks.matching(&kv.key).map(str::to_owned);
        Ok(ExportLine {
            key: Bytes::from(kv.key.as_slice()),
            value: if masked.is_some() {
                Bytes::default()
            } else {
                Bytes::from(kv.value.as_slice())
            },
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
            lease_ttl,
            masked,
        })
    }
}

/// One JSON line: serde_json writes no raw newline inside a value.
fn json_line(value: &impl serde::Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

/// `etcdeck-export-<prefix>-r<revision>.jsonl`, with the prefix reduced to
/// characters every file system takes.
fn export_filename(prefix: &Bytes, revision: i64) -> String {
    let name: String = String::from_utf8_lossy(&prefix.0)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let name = name.trim_matches('_');
    let name = if name.is_empty() { "all" } else { name };
    format!("etcdeck-export-{name}-r{revision}.jsonl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_plain() {
        assert_eq!(
            export_filename(&Bytes::from("/app/cfg/"), 42),
            "etcdeck-export-app_cfg-r42.jsonl"
        );
        assert_eq!(
            export_filename(&Bytes::default(), 7),
            "etcdeck-export-all-r7.jsonl"
        );
    }

    #[test]
    fn the_next_page_starts_after_the_last_key() {
        assert_eq!(after(b"/a"), b"/a\0".to_vec());
    }
}
