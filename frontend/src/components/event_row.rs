//! One row of the events page: a change (put, delete, or a delete whose
//! lease ended) with its key linked to the key view, a copy button, its
//! revision, when it was received (or "from history"), the value and the
//! diff against the previous value (open at once when both are small); or
//! a gap, in line where it happened, with the snapshot it was resynced to.
//! In the compact list a change is one line (time, revision, kind, key,
//! size) and opens its value and diff on a click or Enter.
//!
//! DOM contract: `event-row` (`data-kind`, `data-key`, `data-revision`,
//! `data-history`, `aria-expanded` when compact), `event-time`,
//! `event-key`, `event-copy-key`, `event-detail`, `event-diff-toggle`,
//! `event-diff`, `event-diff-masked`, `events-gap`. A value the backend
//! masked shows as "hidden" with its size, and has no diff.

use std::sync::Arc;

use etcdeck_shared::Bytes;
use etcdeck_shared::ws::{EventKind, GapReason, WatchEvent, WatchKv};
use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::components::copy_button::CopyButton;
use crate::components::masked_value::hidden_short;
use crate::crumbs;
use crate::diff::{self, Change, Shown};
use crate::feed::{self, Item, Line};
use crate::format;
use crate::route::BrowseLocation;

/// Values up to this size get their diff shown right away; larger ones on
/// request.
const DIFF_OPEN_UP_TO: usize = 2 * 1024;
/// Characters of a value shown on its row.
const PREVIEW_CHARS: usize = 160;
/// Bytes of a binary value shown on its row, in hex.
const PREVIEW_HEX_BYTES: usize = 32;

/// How a row is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowStyle {
    /// One line per change, value and diff on demand.
    pub compact: bool,
    /// The browser's time zone, minutes east of UTC, for times received.
    pub utc_offset_min: i64,
}

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

pub fn row(item: Arc<Item>, separator: Signal<Bytes>, style: RowStyle) -> AnyView {
    match &*item {
        Item::Gap {
            reason,
            keys,
            revision,
            in_history,
            ..
        } => {
            let why = match (reason, in_history) {
                (GapReason::Compacted { compact_revision }, false) => {
                    format!("history compacted at revision {compact_revision}")
                }
                (GapReason::Compacted { compact_revision }, true) => format!(
                    "history compacted at revision {compact_revision}, so the changes \
                     this page starts with are no longer in etcd"
                ),
                (GapReason::Lagged, _) => "this tab fell behind".to_owned(),
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
        Item::Event { event, .. } => {
            let Some(line) = item.line(style.utc_offset_min) else {
                return ().into_any();
            };
            if style.compact {
                compact_row(event.clone(), line, separator)
            } else {
                event_row(event.clone(), line, separator)
            }
        }
    }
}

/// The badge colours of a change's kind.
fn badge_class(kind: &str) -> &'static str {
    match kind {
        "put" => "bg-emerald-100 text-emerald-900 dark:bg-emerald-900/60 dark:text-emerald-200",
        "delete" => "bg-red-100 text-red-900 dark:bg-red-900/60 dark:text-red-200",
        _ => "bg-amber-100 text-amber-900 dark:bg-amber-900/60 dark:text-amber-200",
    }
}

/// The key view's link for a changed key.
fn key_href(key: &Bytes, separator: Signal<Bytes>) -> String {
    BrowseLocation {
        prefix: crumbs::level_of(key, &separator.get_untracked()),
        key: Some(key.clone()),
    }
    .href()
}

/// When the change was received, or that it is from history.
fn time_view(line: &Line) -> AnyView {
    match &line.time {
        Some(time) => view! {
            <span data-testid="event-time" class="shrink-0 font-mono text-xs tabular-nums text-slate-600 dark:text-slate-400" title="received by this page (local time)">
                {time.clone()}
            </span>
        }
        .into_any(),
        None => view! {
            <span data-testid="event-time" class="shrink-0 text-xs italic text-violet-700 dark:text-violet-300" title="read from etcd's history when the page opened: not seen live, so no time received">
                "from history"
            </span>
        }
        .into_any(),
    }
}

/// One line per change; the value and the diff open on a click or Enter
/// (not on the key's link or the copy button, which do their own thing).
fn compact_row(event: WatchEvent, line: Line, separator: Signal<Bytes>) -> AnyView {
    let open = RwSignal::new(false);
    let history = line.time.is_none();
    let href = key_href(&event.kv.key, separator);
    let copy = line.key.clone();
    let toggle_click = move |e: ev::MouseEvent| {
        let on_control = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest("a, button").ok().flatten())
            .is_some();
        if !on_control {
            open.update(|o| *o = !*o);
        }
    };
    let toggle_key = move |e: ev::KeyboardEvent| {
        let on_row = e
            .target()
            .zip(e.current_target())
            .is_some_and(|(t, c)| t == c);
        if on_row && e.key() == "Enter" {
            e.prevent_default();
            open.update(|o| *o = !*o);
        }
    };
    let event = StoredValue::new(event);
    let tint = if history {
        "bg-violet-50/60 dark:bg-violet-950/30"
    } else {
        ""
    };
    view! {
        <li
            data-testid="event-row"
            data-kind=line.kind
            data-key=line.key.clone()
            data-revision=line.revision.0.to_string()
            data-history=if history { "true" } else { "false" }
            tabindex="0"
            aria-expanded=move || if open.get() { "true" } else { "false" }
            title="Click or press Enter for the value and diff"
            class=format!("cursor-pointer border-b border-slate-100 px-4 py-0.5 hover:bg-slate-50 focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-sky-500 dark:border-slate-800/60 dark:hover:bg-slate-900 {tint}")
            on:click=toggle_click
            on:keydown=toggle_key
        >
            <div class="flex min-w-0 items-center gap-3 text-sm leading-6">
                <span class="w-24 shrink-0">{time_view(&line)}</span>
                <span class="w-16 shrink-0 text-right tabular-nums text-slate-600 dark:text-slate-400" title="mod revision">
                    {line.revision.0.to_string()}
                </span>
                <span class=format!("w-24 shrink-0 rounded px-1.5 text-center text-xs font-semibold tracking-wide {}", badge_class(line.kind))>
                    {line.label}
                </span>
                <a
                    href=href
                    data-testid="event-key"
                    title="Open this key"
                    class="min-w-0 flex-1 truncate font-mono text-sky-800 underline-offset-2 hover:underline dark:text-sky-300"
                >
                    {line.key.clone()}
                </a>
                <CopyButton text=Callback::new(move |()| copy.clone()) what="key" testid="event-copy-key" />
                <span class="w-20 shrink-0 text-right text-xs tabular-nums text-slate-600 dark:text-slate-400" title="value size">
                    {line.size.clone().unwrap_or_else(|| "–".to_owned())}
                </span>
            </div>
            <Show when=move || open.get()>
                <div data-testid="event-detail" class="cursor-auto pb-2 pl-4">
                    {event.with_value(|e| details(e, true))}
                </div>
            </Show>
        </li>
    }
    .into_any()
}

fn event_row(event: WatchEvent, line: Line, separator: Signal<Bytes>) -> AnyView {
    let (kind, label, badge) = (line.kind, line.label, badge_class(line.kind));
    let history = line.time.is_none();
    let shown_key = line.key.clone();
    let revision = event.kv.mod_revision;
    let href = key_href(&event.kv.key, separator);
    let copy = shown_key.clone();
    let data_key = shown_key.clone();
    let time = time_view(&line);
    let details = details(&event, false);
    view! {
        <li
            data-testid="event-row"
            data-kind=kind
            data-key=data_key
            data-revision=revision.0.to_string()
            data-history=if history { "true" } else { "false" }
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
                <span class="ml-auto flex shrink-0 items-center gap-3">
                    {time}
                    <span class="text-sm tabular-nums text-slate-600 dark:text-slate-400" title="mod revision">
                        {format!("rev {revision}")}
                    </span>
                </span>
            </div>
            {details}
        </li>
    }
    .into_any()
}

/// The value line and the diff of a change; `open` forces the diff open
/// (the compact list opens a row to see it), else it opens when small.
fn details(event: &WatchEvent, open: bool) -> AnyView {
    let value_line = match event.kind {
        EventKind::Put => {
            let what = if event.kv.version == 1 {
                "created"
            } else {
                "value"
            };
            Some((what, value_text(&event.kv)))
        }
        EventKind::Delete => event.prev.as_ref().map(|p| ("was", value_text(p))),
    };
    let masked =
        event.kv.masked.is_some() || event.prev.as_ref().is_some_and(|p| p.masked.is_some());
    let diff_part = match (event.kind, &event.prev) {
        // The backend left the values out: there is nothing to compare.
        (EventKind::Put, Some(_)) if masked => Some(
            view! {
                <p data-testid="event-diff-masked" class="text-xs text-slate-500 dark:text-slate-400">
                    "no diff: the values are hidden (the key looks secret)"
                </p>
            }
            .into_any(),
        ),
        (EventKind::Put, Some(prev)) => {
            let small =
                prev.value.len() <= DIFF_OPEN_UP_TO && event.kv.value.len() <= DIFF_OPEN_UP_TO;
            Some(diff_view(prev.value.clone(), event.kv.value.clone(), open || small).into_any())
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
    view! {
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

/// A key's value for its row, or "hidden" when the backend masked it.
fn value_text(kv: &WatchKv) -> String {
    match &kv.masked {
        Some(masked) => hidden_short(masked),
        None => preview(&kv.value),
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
