//! `POST /api/v1/import`: an export file into a prefix (optionally
//! re-rooted), as a dry run or applied, and the guarded run both share.
//!
//! The file and the target prefix are walked side by side in key order
//! (the file must be in key order, as exports are), a page of the target at
//! a time, so an import holds one page and one transaction in memory
//! however large the file. Each file key is created, changed, left alone
//! (already equal) or, when it moved past the revision the user confirmed
//! (`seen`), a conflict that is never written; with `mirror`, target keys
//! the file lacks are deleted. Applying writes in transactions of at most
//! [`MAX_TXN_OPS`] keys and [`MAX_BATCH_BYTES`], each guarded on every
//! key's `mod_revision` as read, so each is all-or-nothing; a key already
//! as the file has it is left alone, which makes a second run of the same
//! import finish an interrupted one without writing anything twice.
//!
//! Every key written passes [`check_key_to_write`] first. An applied import
//! is one audit entry.

use std::collections::{HashMap, VecDeque};

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use etcdeck_shared::Bytes;
use etcdeck_shared::Revision;
use etcdeck_shared::transfer::{
    EXPORT_FORMAT, ExportHeader, ExportLine, ImportAction, ImportCounts, ImportItem, ImportOptions,
    ImportPlan, ImportResult, LeaseMode, MAX_DIFF_VALUE, MAX_PLAN_ITEMS,
};
use futures::{Stream, StreamExt};

use super::edit::Attempt;
use super::error::write_failure;
use super::export::{PAGE_KEYS, after, read_page};
use super::extract::Writer;
use super::query::Query;
use super::{AppState, Failure};
use crate::config::Masks;
use crate::etcd::{BatchWrite, EtcdSession, MAX_TXN_OPS, PageKv};
use crate::tree::range_end;

/// Most bytes of keys and values one import transaction carries: under
/// etcd's default `--max-request-bytes` (1.5 MiB) with room to spare.
pub(super) const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Longest line of an import file: a key and a value of the largest size
/// etcd takes, in base64, with the JSON around them.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// `POST /api/v1/import?to=&apply=&mirror=&leases=&seen=` with an export
/// file as the body.
pub(super) async fn import(
    State(state): State<AppState>,
    writer: Writer,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, Failure> {
    let options = parse_options(&Query::parse(raw.as_deref())?)?;
    let mut lines = Lines::new(body.into_data_stream());
    let header: ExportHeader = match lines.next_line().await? {
        Some(line) => serde_json::from_slice(&line).map_err(|err| {
            Failure::BadRequest(format!(
                "the file's first line is not an etcdeck export header: {err}"
            ))
        })?,
        None => return Err(Failure::BadRequest("the file is empty".into())),
    };
    if header.format != EXPORT_FORMAT {
        return Err(Failure::BadRequest(format!(
            "the file is in the format '{}', not {EXPORT_FORMAT}",
            header.format
        )));
    }
    let to = options.to.clone().unwrap_or_else(|| header.prefix.clone());
    let source = Source::File(lines);
    if options.apply {
        let seen = options.seen.ok_or_else(|| {
            Failure::BadRequest(
                "an import is applied with the revision of the dry run it confirms (seen=)".into(),
            )
        })?;
        state
            .audit
            .check_writable()
            .map_err(|err| Failure::Unavailable(err.to_string()))?;
        // The writes and their audit line run in a task of their own, so a
        // request that times out or a browser that goes away cannot stop
        // an import between a written transaction and its audit line.
        let task = tokio::spawn(async move {
            let attempt = Attempt::new(&state, &writer, "import", &to).saw(seen);
            let outcome = apply(&writer, &header, &to, &options, source).await;
            attempt
                .finish_partial(outcome, |r| r.revision, |r| r.failure.clone())
                .map(IntoResponse::into_response)
        });
        task.await
            .map_err(|err| Failure::Internal(format!("the import stopped: {err}")))?
    } else {
        let plan = dry_run(&writer, header, to, &options, source, &state.config.masks).await?;
        Ok(Json(plan).into_response())
    }
}

fn parse_options(query: &Query) -> Result<ImportOptions, Failure> {
    let flag = |name: &str| -> Result<bool, Failure> {
        match query.text(name).as_deref() {
            None | Some("") | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(Failure::BadRequest(format!(
                "{name} is true or false, not '{other}'"
            ))),
        }
    };
    let leases = match query.text("leases").as_deref() {
        None | Some("") | Some("drop") => LeaseMode::Drop,
        Some("recreate") => LeaseMode::Recreate,
        Some(other) => {
            return Err(Failure::BadRequest(format!(
                "leases is drop or recreate, not '{other}'"
            )));
        }
    };
    let to = query.bytes("to").filter(|to| !to.is_empty());
    Ok(ImportOptions {
        to,
        apply: flag("apply")?,
        mirror: flag("mirror")?,
        leases,
        seen: super::export::revision_param(query, "seen")?,
    })
}

/// The one place every key an import, or a copy across prefixes, is about
/// to write (put or delete) is checked, in the dry run and again before it
/// is written: it must lie under the import's target prefix, and never
/// under Kubernetes' `/registry/`.
pub(super) fn check_key_to_write(to: &[u8], key: &[u8]) -> Result<(), Failure> {
    super::kubernetes::refuse_kubernetes_write(&Bytes::from(key), false)?;
    if to.is_empty() {
        return Err(Failure::BadRequest(
            "the target prefix must not be empty: etcdeck does not import into the whole keyspace"
                .into(),
        ));
    }
    if !key.starts_with(to) {
        return Err(Failure::BadRequest(format!(
            "{} lies outside the target prefix {}",
            Bytes::from(key).display(),
            Bytes::from(to).display()
        )));
    }
    Ok(())
}

/// The lines of an import, one at a time.
pub(super) enum Source<S> {
    /// An uploaded file after its header.
    File(Lines<S>),
    /// Lines read from etcd (a copy across prefixes).
    List(VecDeque<ExportLine>),
}

impl<S, E> Source<S>
where
    S: Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    async fn next(&mut self) -> Result<Option<ExportLine>, Failure> {
        match self {
            Source::List(lines) => Ok(lines.pop_front()),
            Source::File(lines) => {
                let Some(line) = lines.next_line().await? else {
                    return Ok(None);
                };
                serde_json::from_slice::<ExportLine>(&line)
                    .map(Some)
                    .map_err(|err| {
                        let text =
                            String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
                        if text.contains("\"error\"") {
                            Failure::BadRequest(format!(
                                "the file ends in an export that broke off: {text}"
                            ))
                        } else {
                            Failure::BadRequest(format!(
                                "line {} of the file is not an export line: {err}",
                                lines.number
                            ))
                        }
                    })
            }
        }
    }
}

/// Splits a body into lines without holding more than one line (and one
/// chunk) at a time.
pub(super) struct Lines<S> {
    stream: S,
    buffer: Vec<u8>,
    ended: bool,
    /// Lines handed out so far.
    number: u64,
}

impl<S, E> Lines<S>
where
    S: Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub(super) fn new(stream: S) -> Self {
        Lines {
            stream,
            buffer: Vec::new(),
            ended: false,
            number: 0,
        }
    }

    async fn next_line(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        loop {
            if let Some(at) = self.buffer.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=at).collect();
                line.pop();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                self.number += 1;
                return Ok(Some(line));
            }
            if self.ended {
                if self.buffer.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                self.number += 1;
                return Ok(Some(std::mem::take(&mut self.buffer)));
            }
            if self.buffer.len() > MAX_LINE_BYTES {
                return Err(Failure::TooLarge(format!(
                    "line {} of the file is longer than {MAX_LINE_BYTES} bytes",
                    self.number + 1
                )));
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(err)) => {
                    return Err(Failure::BadRequest(format!(
                        "the file could not be read to its end: {err}"
                    )));
                }
                None => self.ended = true,
            }
        }
    }
}

/// A prefix in key order, a page at a time, at one revision (the first
/// page's, unless one is given).
pub(super) struct Cursor {
    etcd: EtcdSession,
    next: Option<Vec<u8>>,
    end: Vec<u8>,
    revision: Option<i64>,
    buffer: VecDeque<PageKv>,
}

impl Cursor {
    fn new(etcd: EtcdSession, prefix: &[u8]) -> Self {
        Cursor::starting(etcd, prefix, prefix.to_vec(), None)
    }

    /// The keys under `prefix` from `start` on, at `revision` (`None`: the
    /// first page's).
    pub(super) fn starting(
        etcd: EtcdSession,
        prefix: &[u8],
        start: Vec<u8>,
        revision: Option<i64>,
    ) -> Self {
        Cursor {
            etcd,
            next: Some(start),
            end: range_end(prefix),
            revision,
            buffer: VecDeque::new(),
        }
    }

    /// The revision read at (once a page was read, or one was given).
    pub(super) fn revision(&self) -> Option<i64> {
        self.revision
    }

    /// The next key, left in place.
    pub(super) async fn peek(&mut self) -> Result<Option<&PageKv>, Failure> {
        self.fill().await?;
        Ok(self.buffer.front())
    }

    /// Reads the first page now: it fixes the revision.
    pub(super) async fn start(&mut self) -> Result<i64, Failure> {
        self.fill().await?;
        Ok(self.revision.unwrap_or_default())
    }

    async fn fill(&mut self) -> Result<(), Failure> {
        if !self.buffer.is_empty() {
            return Ok(());
        }
        let Some(start) = self.next.take() else {
            return Ok(());
        };
        let page = read_page(&self.etcd, &start, &self.end, self.revision, PAGE_KEYS).await?;
        self.revision.get_or_insert(page.revision);
        if page.more
            && let Some(last) = page.kvs.last()
        {
            self.next = Some(after(&last.key));
        }
        self.buffer.extend(page.kvs);
        Ok(())
    }

    /// The next key if it sorts before `key`, taken out.
    async fn take_before(&mut self, key: &[u8]) -> Result<Option<PageKv>, Failure> {
        self.fill().await?;
        if self
            .buffer
            .front()
            .is_some_and(|kv| kv.key.as_slice() < key)
        {
            return Ok(self.buffer.pop_front());
        }
        Ok(None)
    }

    /// Drops every key before `key` without reading pages that only hold
    /// such keys.
    async fn skip_to(&mut self, key: &[u8]) -> Result<(), Failure> {
        loop {
            while self
                .buffer
                .front()
                .is_some_and(|kv| kv.key.as_slice() < key)
            {
                self.buffer.pop_front();
            }
            if !self.buffer.is_empty() {
                return Ok(());
            }
            match &self.next {
                Some(next) if next.as_slice() < key => self.next = Some(key.to_vec()),
                Some(_) => {}
                None => return Ok(()),
            }
            self.fill().await?;
            if self.buffer.is_empty() {
                return Ok(());
            }
        }
    }

    /// The key `key` if it is next, taken out.
    async fn take(&mut self, key: &[u8]) -> Result<Option<PageKv>, Failure> {
        self.fill().await?;
        if self
            .buffer
            .front()
            .is_some_and(|kv| kv.key.as_slice() == key)
        {
            return Ok(self.buffer.pop_front());
        }
        Ok(None)
    }

    /// Every key left, one at a time.
    pub(super) async fn take_any(&mut self) -> Result<Option<PageKv>, Failure> {
        self.fill().await?;
        Ok(self.buffer.pop_front())
    }
}

/// What the walk decided for one key.
enum Decision {
    Write {
        action: ImportAction,
        write: BatchWrite,
        current: Option<Vec<u8>>,
        /// The TTL of the file's lease of the key (0: none).
        ttl: i64,
    },
    Unchanged,
    Conflict {
        current: Option<Vec<u8>>,
        incoming: Option<Vec<u8>>,
    },
    Masked,
}

/// The walk both the dry run and the apply make.
struct Walk<'a, S> {
    from: Vec<u8>,
    to: Vec<u8>,
    options: &'a ImportOptions,
    expected: Option<u64>,
    source: Source<S>,
    cursor: Cursor,
    /// The last target key read from the file.
    last: Option<Vec<u8>>,
    /// A line read from the file and not yet decided, with its target key.
    held: Option<(ExportLine, Vec<u8>)>,
    lines: u64,
    ended: bool,
}

impl<'a, S, E> Walk<'a, S>
where
    S: Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn new(
        writer: &'a Writer,
        from: &[u8],
        to: &[u8],
        options: &'a ImportOptions,
        expected: Option<u64>,
        source: Source<S>,
    ) -> Self {
        Walk {
            from: from.to_vec(),
            to: to.to_vec(),
            options,
            expected,
            source,
            cursor: Cursor::new(writer.etcd.clone(), to),
            last: None,
            held: None,
            lines: 0,
            ended: false,
        }
    }

    /// The next key and what to do with it; `None` at the end.
    async fn next(&mut self) -> Result<Option<(Vec<u8>, Decision)>, Failure> {
        if self.held.is_none() && !self.ended {
            self.read_line().await?;
        }
        let Some(target) = self.held.as_ref().map(|(_, target)| target.clone()) else {
            return self.extra(None).await;
        };
        if self.options.mirror {
            // Target keys before this one are not in the file; the file's
            // line waits for them.
            if let Some(found) = self.extra(Some(&target)).await? {
                return Ok(Some(found));
            }
        } else {
            self.cursor.skip_to(&target).await?;
        }
        let Some((line, target)) = self.held.take() else {
            return Ok(None);
        };
        let current = self.cursor.take(&target).await?;
        let decision = self.decide(&target, line, current).await?;
        Ok(Some((target, decision)))
    }

    /// Reads the file's next line into `held`, checked and re-rooted, or
    /// notes the end.
    async fn read_line(&mut self) -> Result<(), Failure> {
        let Some(line) = self.source.next().await? else {
            if let Some(expected) = self.expected
                && expected != self.lines
            {
                return Err(Failure::BadRequest(format!(
                    "the file holds {} of the {expected} keys its header announces: it was cut \
                     short; nothing after its last key was {}",
                    self.lines,
                    if self.options.apply {
                        "written or deleted"
                    } else {
                        "planned"
                    }
                )));
            }
            self.ended = true;
            return Ok(());
        };
        self.lines += 1;
        let Some(suffix) = line.key.0.strip_prefix(self.from.as_slice()) else {
            return Err(Failure::BadRequest(format!(
                "{} lies outside the file's prefix {}",
                line.key.display(),
                Bytes::from(self.from.as_slice()).display()
            )));
        };
        let mut target = self.to.clone();
        target.extend_from_slice(suffix);
        if self.last.as_ref().is_some_and(|last| *last >= target) {
            return Err(Failure::BadRequest(format!(
                "the file is not in key order at {}: export files list keys in key order",
                line.key.display()
            )));
        }
        self.last = Some(target.clone());
        self.held = Some((line, target));
        Ok(())
    }

    /// A target key the file does not hold (before `before`, or any when
    /// `None`), decided: deleted when mirroring.
    async fn extra(
        &mut self,
        before: Option<&[u8]>,
    ) -> Result<Option<(Vec<u8>, Decision)>, Failure> {
        if !self.options.mirror {
            return Ok(None);
        }
        let found = match before {
            Some(key) => self.cursor.take_before(key).await?,
            None => self.cursor.take_any().await?,
        };
        let Some(kv) = found else {
            return Ok(None);
        };
        check_key_to_write(&self.to, &kv.key)?;
        let decision = if self.moved(&kv) {
            Decision::Conflict {
                current: Some(kv.value.clone()),
                incoming: None,
            }
        } else {
            Decision::Write {
                action: ImportAction::Delete,
                write: BatchWrite::Delete {
                    key: kv.key.clone(),
                    expect: kv.mod_revision,
                },
                current: Some(kv.value.clone()),
                ttl: 0,
            }
        };
        Ok(Some((kv.key, decision)))
    }

    fn moved(&self, kv: &PageKv) -> bool {
        self.options
            .seen
            .is_some_and(|seen| kv.mod_revision > seen.0)
    }

    async fn decide(
        &mut self,
        target: &[u8],
        line: ExportLine,
        current: Option<PageKv>,
    ) -> Result<Decision, Failure> {
        if line.masked.is_some() {
            return Ok(Decision::Masked);
        }
        let wants_lease = self.options.leases == LeaseMode::Recreate
            && line.lease != 0
            && line.lease_ttl.is_some();
        if let Some(kv) = &current {
            if kv.value == line.value.0 && (kv.lease != 0) == wants_lease {
                return Ok(Decision::Unchanged);
            }
            if self.moved(kv) {
                return Ok(Decision::Conflict {
                    current: Some(kv.value.clone()),
                    incoming: Some(line.value.0),
                });
            }
        }
        check_key_to_write(&self.to, target)?;
        let lease = if wants_lease { line.lease } else { 0 };
        Ok(Decision::Write {
            action: if current.is_some() {
                ImportAction::Change
            } else {
                ImportAction::Create
            },
            write: BatchWrite::Put {
                key: target.to_vec(),
                value: line.value.0,
                // The file's lease id: the apply swaps in the lease it grants.
                lease,
                expect: current.as_ref().map_or(0, |kv| kv.mod_revision),
            },
            current: current.map(|kv| kv.value),
            ttl: line.lease_ttl.unwrap_or(0),
        })
    }
}

/// The dry run: what the import would do, read at one revision.
pub(super) async fn dry_run<S, E>(
    writer: &Writer,
    header: ExportHeader,
    to: Bytes,
    options: &ImportOptions,
    source: Source<S>,
    masks: &Masks,
) -> Result<ImportPlan, Failure>
where
    S: Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    check_key_to_write(&to.0, &to.0)?;
    let mut walk = Walk::new(
        writer,
        &header.prefix.0,
        &to.0,
        options,
        Some(header.count),
        source,
    );
    let revision = walk.cursor.start().await?;
    let mut counts = ImportCounts::default();
    let mut items = Vec::new();
    let mut truncated = false;
    while let Some((key, decision)) = walk.next().await? {
        let (action, current, incoming) = match decision {
            Decision::Unchanged => {
                counts.unchanged += 1;
                continue;
            }
            Decision::Masked => {
                counts.masked += 1;
                continue;
            }
            Decision::Conflict { current, incoming } => {
                counts.conflict += 1;
                (ImportAction::Conflict, current, incoming)
            }
            Decision::Write {
                action,
                write,
                current,
                ..
            } => {
                *count_of(&mut counts, action) += 1;
                let incoming = match write {
                    BatchWrite::Put { value, .. } => Some(value),
                    BatchWrite::Delete { .. } => None,
                };
                (action, current, incoming)
            }
        };
        if items.len() >= MAX_PLAN_ITEMS {
            truncated = true;
            continue;
        }
        let cut = current.as_ref().is_some_and(|v| v.len() > MAX_DIFF_VALUE)
            || incoming.as_ref().is_some_and(|v| v.len() > MAX_DIFF_VALUE);
        // Values of keys that look secret stay hidden in the preview too.
        let masked = masks.matching(&key).map(str::to_owned);
        let shown = |value: Option<Vec<u8>>| value.filter(|_| masked.is_none()).map(cut_value);
        items.push(ImportItem {
            key: Bytes::from(key),
            action,
            current: shown(current),
            incoming: shown(incoming),
            cut,
            masked,
        });
    }
    Ok(ImportPlan {
        header,
        to,
        revision: Revision(revision),
        counts,
        items,
        truncated,
    })
}

fn cut_value(mut value: Vec<u8>) -> Bytes {
    value.truncate(MAX_DIFF_VALUE);
    Bytes::from(value)
}

fn count_of(counts: &mut ImportCounts, action: ImportAction) -> &mut u64 {
    match action {
        ImportAction::Create => &mut counts.create,
        ImportAction::Change => &mut counts.change,
        ImportAction::Delete => &mut counts.delete,
        ImportAction::Conflict => &mut counts.conflict,
    }
}

/// The writes of the transaction being gathered.
#[derive(Default)]
struct Batch {
    writes: Vec<BatchWrite>,
    actions: Vec<ImportAction>,
    bytes: usize,
}

/// Applies an import: the walk of the dry run, written in bounded guarded
/// transactions. A failure part way is an answer, not an error: it says
/// what was written.
pub(super) async fn apply<S, E>(
    writer: &Writer,
    header: &ExportHeader,
    to: &Bytes,
    options: &ImportOptions,
    source: Source<S>,
) -> Result<ImportResult, Failure>
where
    S: Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    check_key_to_write(&to.0, &to.0)?;
    let mut run = Apply {
        writer,
        to: to.0.clone(),
        result: ImportResult {
            to: to.clone(),
            ..ImportResult::default()
        },
        batch: Batch::default(),
        leases: HashMap::new(),
        ttls: HashMap::new(),
    };
    let mut walk = Walk::new(
        writer,
        &header.prefix.0,
        &to.0,
        options,
        Some(header.count),
        source,
    );
    let walked = run.walk(&mut walk).await;
    let finished = match walked {
        Ok(()) => run.flush().await,
        Err(failure) => Err(failure),
    };
    match finished {
        Ok(()) => run.result.complete = true,
        Err(failure) => {
            run.result.failure = Some(failure.sentence());
            if run.result.not_written_from.is_none() {
                run.result.not_written_from = run
                    .batch
                    .writes
                    .first()
                    .map(|w| Bytes::from(w.key()))
                    .or_else(|| walk.last.clone().map(Bytes::from));
            }
        }
    }
    Ok(run.result)
}

struct Apply<'a> {
    writer: &'a Writer,
    to: Vec<u8>,
    result: ImportResult,
    batch: Batch,
    /// The file's lease ids and the leases granted for them.
    leases: HashMap<i64, i64>,
    /// Each of the file's leases' TTL, from its lines.
    ttls: HashMap<i64, i64>,
}

impl Apply<'_> {
    async fn walk<S, E>(&mut self, walk: &mut Walk<'_, S>) -> Result<(), Failure>
    where
        S: Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        walk.cursor.start().await?;
        while let Some((key, decision)) = walk.next().await? {
            match decision {
                Decision::Unchanged => self.result.counts.unchanged += 1,
                Decision::Masked => self.result.counts.masked += 1,
                Decision::Conflict { .. } => {
                    self.result.counts.conflict += 1;
                    if self.result.conflicts.len() < MAX_PLAN_ITEMS {
                        self.result.conflicts.push(Bytes::from(key.as_slice()));
                    }
                }
                Decision::Write {
                    action, write, ttl, ..
                } => {
                    if let BatchWrite::Put { lease, .. } = &write
                        && *lease != 0
                    {
                        self.ttls.entry(*lease).or_insert(ttl);
                    }
                    self.add(action, write).await?;
                }
            }
            if self.batch.writes.is_empty() {
                self.result.done_through = Some(Bytes::from(key));
            }
        }
        Ok(())
    }

    async fn add(&mut self, action: ImportAction, mut write: BatchWrite) -> Result<(), Failure> {
        if self.batch.writes.len() >= MAX_TXN_OPS
            || (self.batch.bytes + write.size() > MAX_BATCH_BYTES && !self.batch.writes.is_empty())
        {
            self.flush().await?;
        }
        check_key_to_write(&self.to, write.key())?;
        if let BatchWrite::Put { lease, .. } = &mut write
            && *lease != 0
        {
            *lease = self.granted(*lease).await?;
        }
        self.batch.bytes += write.size();
        self.batch.writes.push(write);
        self.batch.actions.push(action);
        Ok(())
    }

    /// The lease granted for the file's lease `id`, granted on first use
    /// with the TTL the file gives it.
    async fn granted(&mut self, id: i64) -> Result<i64, Failure> {
        if let Some(granted) = self.leases.get(&id) {
            return Ok(*granted);
        }
        let ttl = self.ttls.get(&id).copied().filter(|t| *t > 0).unwrap_or(60);
        let user = self.writer.user.as_deref();
        let (granted, _) = self
            .writer
            .etcd
            .lease_grant(ttl)
            .await
            .map_err(|err| write_failure(err, user, "a lease for the import"))?;
        self.leases.insert(id, granted);
        self.result.leases_granted += 1;
        Ok(granted)
    }

    async fn flush(&mut self) -> Result<(), Failure> {
        if self.batch.writes.is_empty() {
            return Ok(());
        }
        let first = Bytes::from(self.batch.writes[0].key());
        let user = self.writer.user.as_deref();
        match self.writer.etcd.write_batch(&self.batch.writes).await {
            Ok(Some(revision)) => {
                let batch = std::mem::take(&mut self.batch);
                for action in batch.actions {
                    *count_of(&mut self.result.counts, action) += 1;
                }
                self.result.transactions += 1;
                self.result.revision = Some(revision);
                self.result.done_through = batch.writes.last().map(|w| Bytes::from(w.key()));
                Ok(())
            }
            Ok(None) => {
                self.result.not_written_from = Some(first.clone());
                Err(Failure::Conflict(format!(
                    "a key among the {} from {} changed while importing; that transaction wrote \
                     nothing; run the dry run again",
                    self.batch.writes.len(),
                    first.display()
                )))
            }
            Err(err) => {
                self.result.not_written_from = Some(first.clone());
                if err.is_unreachable() {
                    // The transaction may have reached etcd before its answer
                    // was lost.
                    self.result.uncertain = self
                        .batch
                        .writes
                        .iter()
                        .map(|w| Bytes::from(w.key()))
                        .collect();
                }
                Err(write_failure(
                    err,
                    user,
                    &format!("from {}", first.display()),
                ))
            }
        }
    }
}
