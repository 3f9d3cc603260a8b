//! One row of the events page: a change (put, delete, or a delete whose
//! lease ended) with its key linked to the key view, a copy button, its
//! revision, the value and the diff against the previous value (open at
//! once when both are small); or a gap, in line where it happened, with
//! the snapshot it was resynced to.
//!
//! DOM contract: `event-row` (`data-kind`, `data-key`, `data-revision`),
//! `event-key`, `event-copy-key`, `event-diff-toggle`, `event-diff`,
//! `events-gap`.

use std::sync::Arc;

use etcdeck_shared::Bytes;
use etcdeck_shared::ws::{EventKind, GapReason, WatchEvent};
use leptos::prelude::*;

use crate::components::copy_button::CopyButton;
use crate::crumbs;
use crate::diff::{self, Change, Shown};
use crate::feed::{self, Item};
use crate::format;
use crate::route::BrowseLocation;

/// Values up to this size get their diff shown right away; larger ones on
/// request.
const DIFF_OPEN_UP_TO: usize = 2 * 1024;
/// Characters of a value shown on its row.
const PREVIEW_CHARS: usize = 160;
/// Bytes of a binary value shown on its row, in hex.
const PREVIEW_HEX_BYTES: usize = 32;

/// Rows are keyed by sequence number; a gap row also by what it says, so
/// it re-renders when its snapshot completes.
pub fn item_key(item: &Arc<Item>) -> (u64, usize, i64) {
    match &**item {
        Item::Event { seq, .. } => (*seq, 0, 0),
        Item::Gap {
            seq,
            keys,
            revision,
            ..
        } => (*seq, *keys, revision.map_or(-1, |r| r.0)),
    }
}

pub fn row(item: Arc<Item>, separator: Signal<Bytes>) -> AnyView {
    match &*item {
        Item::Gap {
            reason,
            keys,
            revision,
            ..
        } => {
            let why = match reason {
                GapReason::Compacted { compact_revision } => {
                    format!("history compacted at revision {compact_revision}")
                }
                GapReason::Lagged => "this tab fell behind".to_owned(),
            };
            let then = match revision {
                Some(r) => format!(
                    "resynced to a snapshot of {} keys at revision {r}",
                    feed::thousands(*keys as u64)
                ),
                None => "resyncing…".to_owned(),
            };
            view! {
                <li
                    data-testid="events-gap"
                    role="status"
                    class="border-y border-sky-300 bg-sky-50 px-4 py-2 text-sm text-sky-900 dark:border-sky-800 dark:bg-sky-950 dark:text-sky-200"
                >
                    <span class="font-medium">{format!("Gap: {why}")}</span>
                    " — "
                    <span>{then}</span>
                    ". Changes between were not seen one by one."
                </li>
            }
            .into_any()
        }
        Item::Event { event, .. } => event_row(event.clone(), separator),
    }
}

fn event_row(event: WatchEvent, separator: Signal<Bytes>) -> AnyView {
    let (kind, label, badge) = match (event.kind, event.lease_ended) {
        (EventKind::Put, _) => (
            "put",
            "PUT",
            "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/60 dark:text-emerald-200",
        ),
        (EventKind::Delete, false) => (
            "delete",
            "DELETE",
            "bg-red-100 text-red-900 dark:bg-red-900/60 dark:text-red-200",
        ),
        (EventKind::Delete, true) => (
            "lease_ended",
            "LEASE ENDED",
            "bg-amber-100 text-amber-900 dark:bg-amber-900/60 dark:text-amber-200",
        ),
    };
    let key = event.kv.key.clone();
    let shown_key = key.display();
    let revision = event.kv.mod_revision;
    let href = BrowseLocation {
        prefix: crumbs::level_of(&key, &separator.get_untracked()),
        key: Some(key.clone()),
    }
    .href();
    let copy = shown_key.clone();
    let value_line = match event.kind {
        EventKind::Put => {
            let what = if event.kv.version == 1 {
                "created"
            } else {
                "value"
            };
            Some((what, preview(&event.kv.value)))
        }
        EventKind::Delete => event.prev.as_ref().map(|p| ("was", preview(&p.value))),
    };
    let diff_part = match (event.kind, &event.prev) {
        (EventKind::Put, Some(prev)) => {
            let small =
                prev.value.len() <= DIFF_OPEN_UP_TO && event.kv.value.len() <= DIFF_OPEN_UP_TO;
            Some(diff_view(prev.value.clone(), event.kv.value.clone(), small).into_any())
        }
        (EventKind::Put, None) if event.kv.version > 1 => Some(
            view! {
                <p class="text-xs text-slate-500 dark:text-slate-400">
                    "previous value not available (etcd no longer had it)"
                </p>
            }
            .into_any(),
        ),
        _ => None,
    };
    let data_key = shown_key.clone();
    view! {
        <li
            data-testid="event-row"
            data-kind=kind
            data-key=data_key
            data-revision=revision.0.to_string()
            class="border-b border-slate-100 px-4 py-2 dark:border-slate-800/60"
        >
            <div class="flex min-w-0 flex-wrap items-center gap-x-3 gap-y-1">
                <span class=format!("shrink-0 rounded px-1.5 py-0.5 text-xs font-semibold tracking-wide {badge}")>
                    {label}
                </span>
                <a
                    href=href
                    data-testid="event-key"
                    title="Open this key"
                    class="min-w-0 break-all font-mono text-sky-800 underline-offset-2 hover:underline dark:text-sky-300"
                >
                    {shown_key}
                </a>
                <CopyButton text=Callback::new(move |()| copy.clone()) what="key" testid="event-copy-key" />
                <span class="ml-auto shrink-0 text-sm tabular-nums text-slate-600 dark:text-slate-400" title="mod revision">
                    {format!("rev {revision}")}
                </span>
            </div>
            {value_line
                .map(|(what, text)| {
                    view! {
                        <p class="mt-1 min-w-0 truncate font-mono text-sm text-slate-700 dark:text-slate-300" title=text.clone()>
                            <span class="mr-2 font-sans text-xs text-slate-500 dark:text-slate-400">{what}</span>
                            {text.clone()}
                        </p>
                    }
                })}
            {diff_part}
        </li>
    }
    .into_any()
}

/// A diff of the previous and new value, open from the start when small.
fn diff_view(old: Bytes, new: Bytes, open_at_start: bool) -> impl IntoView {
    let open = RwSignal::new(open_at_start);
    let values = StoredValue::new((old, new));
    let computed = Memo::new(move |_| {
        open.get()
            .then(|| values.with_value(|(old, new)| diff::value_diff(old, new)))
    });
    view! {
        <div class="mt-1">
            <button
                type="button"
                data-testid="event-diff-toggle"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                class="text-xs text-slate-600 underline dark:text-slate-400"
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {move || if open.get() { "hide diff" } else { "show diff" }}
            </button>
            {move || {
                computed
                    .get()
                    .map(|d| {
                        let (removed, added) = d.counts();
                        let lines = diff::fold(&d.lines, 3)
                            .into_iter()
                            .map(|shown| match shown {
                                Shown::Folded(n) => {
                                    view! {
                                        <div class="text-slate-500 italic dark:text-slate-400">
                                            {format!("  … {n} unchanged lines")}
                                        </div>
                                    }
                                        .into_any()
                                }
                                Shown::Line(line) => {
                                    let (mark, class) = match line.change {
                                        Change::Same => (" ", ""),
                                        Change::Removed => (
                                            "-",
                                            "bg-red-50 text-red-900 dark:bg-red-950 dark:text-red-200",
                                        ),
                                        Change::Added => (
                                            "+",
                                            "bg-emerald-50 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200",
                                        ),
                                    };
                                    view! { <div class=class>{format!("{mark} {}", line.text)}</div> }
                                        .into_any()
                                }
                            })
                            .collect_view();
                        view! {
                            <div data-testid="event-diff" class="mt-1">
                                <p class="text-xs text-slate-500 dark:text-slate-400">
                                    {format!(
                                        "{} diff: {removed} removed, {added} added{}",
                                        d.kind.label(),
                                        if d.truncated { " (values cut for the diff)" } else { "" },
                                    )}
                                </p>
                                <pre class="mt-1 max-h-80 overflow-auto rounded border border-slate-200 bg-slate-50 p-2 font-mono text-xs leading-5 dark:border-slate-700 dark:bg-slate-900 2xl:text-sm">
                                    {lines}
                                </pre>
                            </div>
                        }
                    })
            }}
        </div>
    }
}

/// One line of a value for its row: text as itself, binary as the start of
/// a hex dump.
fn preview(value: &Bytes) -> String {
    let size = format::human_size(value.len());
    let body = match value.as_text() {
        Some(text) => {
            let line: String = text
                .chars()
                .map(|c| if c == '\n' || c == '\r' { '⏎' } else { c })
                .take(PREVIEW_CHARS)
                .collect();
            if text.chars().count() > PREVIEW_CHARS {
                format!("{line}…")
            } else {
                line
            }
        }
        None => {
            let head: Vec<String> = value
                .as_slice()
                .iter()
                .take(PREVIEW_HEX_BYTES)
                .map(|b| format!("{b:02x}"))
                .collect();
            let more = if value.len() > PREVIEW_HEX_BYTES {
                " …"
            } else {
                ""
            };
            format!("hex {}{more}", head.join(" "))
        }
    };
    format!("{body}  ({size})")
}
