//! The events page (`/events?prefix=P`): every change under a prefix as it
//! happens, newest first, with the previous value diffed, the event rate,
//! pause and resume without losing anything, a key filter, and gaps shown
//! where they happened. The state lives in [`crate::feed`]; this page
//! subscribes through [`LiveClient`] and renders it.
//!
//! Keyboard: `/` focuses the filter; space or `p` pauses and resumes when
//! the focus is not in a text field.

use std::sync::Arc;
use std::time::Duration;

use etcdeck_shared::ws::{EventKind, GapReason, SubId, WatchEvent, WatchRange};
use etcdeck_shared::{Bytes, Revision};
use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};
use wasm_bindgen::JsCast;

use crate::api::live::LiveClient;
use crate::components::copy_button::CopyButton;
use crate::connection::ConnectionState;
use crate::crumbs;
use crate::diff::{self, Change, Shown};
use crate::feed::{self, Action, DISPLAY_LIMIT, Feed, Item, PAUSE_BUFFER, Rate};
use crate::format;
use crate::live::{Delivery, LiveState};
use crate::route::{BrowseLocation, EventsLocation, bytes_from_display};

/// Values up to this size get their diff shown right away; larger ones on
/// request.
const DIFF_OPEN_UP_TO: usize = 2 * 1024;
/// Characters of a value shown on its row.
const PREVIEW_CHARS: usize = 160;
/// Bytes of a binary value shown on its row, in hex.
const PREVIEW_HEX_BYTES: usize = 32;

#[component]
pub fn EventsPage() -> impl IntoView {
    let location = use_location();
    let here = Memo::new(move |_| EventsLocation::from_query(&location.search.get()));
    let prefix = Memo::new(move |_| here.with(|h| h.prefix.clone()));
    let separator = use_context::<ConnectionState>()
        .map(|c| c.separator())
        .unwrap_or_else(|| Signal::stored(Bytes::from("/")));
    let navigate = StoredValue::new_local(use_navigate());
    let client = use_context::<LiveClient>();
    let live_state = client.map(|c| c.state());

    let feed = RwSignal::new(Feed::new());
    let rate = StoredValue::new(Rate::new(now()));
    let rate_shown = RwSignal::new(0.0_f64);
    let filter = RwSignal::new(String::new());
    let subscription = StoredValue::new(None::<SubId>);

    let unsubscribe = move || {
        if let (Some(client), Some(id)) = (client, subscription.try_get_value().flatten()) {
            subscription.try_set_value(None);
            client.unsubscribe(id);
        }
    };
    let subscribe = move |from: Option<Revision>| {
        let Some(client) = client else {
            return;
        };
        let range = WatchRange::prefix(prefix.get_untracked());
        let id = client.subscribe(range, true, from, move |delivery| {
            if let Delivery::Events(events) = &delivery {
                let count = events.len();
                rate.try_update_value(|r| r.record(now(), count));
            }
            if feed.try_update(|f| f.apply(delivery)) == Some(Action::Unsubscribe) {
                unsubscribe();
            }
        });
        subscription.set_value(Some(id));
    };

    // A new prefix starts a new feed, from now.
    Effect::new(move |_| {
        prefix.track();
        unsubscribe();
        feed.set(Feed::new());
        rate.set_value(Rate::new(now()));
        rate_shown.set(0.0);
        subscribe(None);
    });
    on_cleanup(unsubscribe);

    let ticker = set_interval_with_handle(
        move || {
            if let Some(per_second) = rate.try_with_value(|r| r.per_second(now())) {
                rate_shown.try_set(per_second);
            }
        },
        Duration::from_secs(1),
    )
    .ok();
    on_cleanup(move || {
        if let Some(ticker) = ticker {
            ticker.clear();
        }
    });

    let toggle_pause = move || {
        if feed.with_untracked(|f| f.paused) {
            if let Some(Action::SubscribeFrom(from)) = feed.try_update(Feed::resume) {
                subscribe(Some(from));
            }
        } else {
            feed.update(Feed::pause);
        }
    };

    let filter_input = NodeRef::<html::Input>::new();
    let keys = window_event_listener(ev::keydown, move |e: ev::KeyboardEvent| {
        if e.ctrl_key() || e.meta_key() || e.alt_key() || e.default_prevented() {
            return;
        }
        let target = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok());
        let tag = target.as_ref().map(|t| t.tag_name()).unwrap_or_default();
        let typing = matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT")
            || target.as_ref().is_some_and(|t| t.is_content_editable());
        if typing {
            return;
        }
        match e.key().as_str() {
            "/" => {
                if let Some(input) = filter_input.get_untracked() {
                    e.prevent_default();
                    let _ = input.focus();
                }
            }
            // Space on a button or link is that element's own click.
            " " if matches!(tag.as_str(), "BUTTON" | "A" | "SUMMARY") => {}
            " " | "p" | "P" => {
                e.prevent_default();
                toggle_pause();
            }
            _ => {}
        }
    });
    on_cleanup(move || keys.remove());

    // The prefix field: Enter navigates, so the URL is the state.
    let prefix_text = RwSignal::new(String::new());
    Effect::new(move |_| prefix_text.set(prefix.get().display()));
    let apply_prefix = move |ev: ev::SubmitEvent| {
        ev.prevent_default();
        let to = EventsLocation {
            prefix: bytes_from_display(&prefix_text.get_untracked()),
        };
        navigate.with_value(|nav| nav(&to.href(), NavigateOptions::default()));
    };

    let shown = Memo::new(move |_| {
        let filter = filter.get();
        feed.with(|f| {
            f.items
                .iter()
                .rev()
                .filter(|i| i.matches(&filter))
                .cloned()
                .collect::<Vec<Arc<Item>>>()
        })
    });
    let where_text = move || {
        let p = prefix.get();
        if p.is_empty() {
            "every key".to_owned()
        } else {
            p.display()
        }
    };

    let status = move || {
        feed.with(|f| {
            if let Some(error) = &f.closed {
                let message = error.message.clone();
                return Some(
                    view! {
                        <div data-testid="events-error" role="alert" class="m-3 rounded border border-red-300 bg-red-50 p-3 text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
                            <p class="font-medium">{format!("Cannot watch {}", where_text())}</p>
                            <p class="mt-1 text-sm">{message}</p>
                        </div>
                    }
                    .into_any(),
                );
            }
            if !f.started {
                return Some(
                    view! {
                        <p data-testid="events-loading" class="p-4 text-slate-600 dark:text-slate-300">
                            {move || format!("subscribing to changes under {}…", where_text())}
                        </p>
                    }
                    .into_any(),
                );
            }
            (f.items.is_empty() && f.buffer.is_empty()).then(|| {
                view! {
                    <p data-testid="events-empty" class="p-4 text-slate-600 dark:text-slate-300">
                        {move || format!("waiting for changes under {}", where_text())}
                    </p>
                }
                .into_any()
            })
        })
    };

    let paused = move || feed.with(|f| f.paused);
    let button = "rounded border border-slate-300 px-2 py-0.5 text-sm hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-sky-500 dark:border-slate-600 dark:hover:bg-slate-800";
    let field = "min-w-0 rounded border border-slate-300 bg-white px-2 py-0.5 font-mono text-sm dark:border-slate-600 dark:bg-slate-900";

    view! {
        <div class="flex min-h-0 flex-1 flex-col">
            <div class="flex flex-wrap items-center gap-x-4 gap-y-2 border-b border-slate-200 px-4 py-2 dark:border-slate-800">
                <form class="flex min-w-0 items-center gap-2" on:submit=apply_prefix>
                    <label for="events-prefix" class="text-sm text-slate-600 dark:text-slate-300">
                        "prefix"
                    </label>
                    <input
                        id="events-prefix"
                        data-testid="events-prefix"
                        type="text"
                        spellcheck="false"
                        autocomplete="off"
                        placeholder="(every key)"
                        class=format!("{field} w-64 2xl:w-96")
                        prop:value=move || prefix_text.get()
                        on:input=move |ev| prefix_text.set(event_target_value(&ev))
                    />
                </form>
                <label class="flex min-w-0 items-center gap-2">
                    <span class="text-sm text-slate-600 dark:text-slate-300">"filter"</span>
                    <input
                        node_ref=filter_input
                        data-testid="events-filter"
                        type="search"
                        spellcheck="false"
                        autocomplete="off"
                        placeholder="key contains…"
                        title="Show only keys containing this text (press / to get here)"
                        aria-label="Show only keys containing"
                        class=format!("{field} w-48 2xl:w-72")
                        prop:value=move || filter.get()
                        on:input=move |ev| filter.set(event_target_value(&ev))
                    />
                </label>
                <div class="flex items-center gap-2">
                    <Show
                        when=paused
                        fallback=move || {
                            view! {
                                <button
                                    type="button"
                                    data-testid="events-pause"
                                    title="Pause (space or p): new changes are held, none lost"
                                    class=button
                                    on:click=move |_| toggle_pause()
                                >
                                    "❚❚ pause"
                                </button>
                            }
                        }
                    >
                        <button
                            type="button"
                            data-testid="events-resume"
                            title="Resume (space or p)"
                            class=format!("{button} border-amber-500 dark:border-amber-400")
                            on:click=move |_| toggle_pause()
                        >
                            "▶ resume"
                        </button>
                    </Show>
                    <button
                        type="button"
                        data-testid="events-clear"
                        title="Empty the list"
                        class=button
                        on:click=move |_| feed.update(Feed::clear)
                    >
                        "clear"
                    </button>
                </div>
                <span
                    data-testid="events-rate"
                    class="ml-auto text-sm tabular-nums text-slate-600 dark:text-slate-300"
                    title="Changes per second over the last 10 seconds"
                >
                    {move || format!("{} events/s", feed::rate_text(rate_shown.get()))}
                </span>
            </div>
            <Show when=paused>
                <div
                    data-testid="events-buffered"
                    role="status"
                    class="border-b border-amber-300 bg-amber-50 px-4 py-1 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200"
                >
                    {move || feed.with(paused_text)}
                </div>
            </Show>
            {move || {
                let (trimmed, total) = feed.with(|f| (f.trimmed, f.items.len()));
                let matching = shown.with(Vec::len);
                let filtering = !filter.with(String::is_empty);
                (trimmed > 0 || filtering)
                    .then(|| {
                        let mut parts = Vec::new();
                        if filtering {
                            parts.push(format!("{} of {} match the filter", feed::thousands(matching as u64), feed::thousands(total as u64)));
                        }
                        if trimmed > 0 {
                            parts.push(format!(
                                "showing the latest {}; {} older trimmed",
                                feed::thousands(DISPLAY_LIMIT as u64),
                                feed::thousands(trimmed),
                            ));
                        }
                        view! {
                            <p data-testid="events-trimmed" class="border-b border-slate-200 px-4 py-1 text-sm text-slate-600 dark:border-slate-800 dark:text-slate-300">
                                {parts.join(" · ")}
                            </p>
                        }
                    })
            }}
            {move || {
                live_state
                    .map(|s| s.get())
                    .filter(|s| *s == LiveState::Reconnecting)
                    .map(|_| {
                        view! {
                            <p
                                data-testid="events-reconnecting"
                                role="status"
                                class="border-b border-amber-300 bg-amber-50 px-4 py-1 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200"
                            >
                                "The live connection is down or etcd is out of reach: changes will appear when it is back, none lost."
                            </p>
                        }
                    })
            }}
            {status}
            <ol
                data-testid="events-list"
                aria-label="Changes, newest first"
                class="min-h-0 flex-1 overflow-y-auto"
            >
                <For
                    each=move || shown.get()
                    key=|item| item_key(item)
                    children=move |item| row(item, separator)
                />
            </ol>
        </div>
    }
}

fn paused_text(f: &Feed) -> String {
    let held = feed::thousands(f.buffered() as u64);
    if f.overflowed {
        let from = f.seen.map_or(0, |s| s.0 + 1);
        format!(
            "paused · {held} changes held; the buffer is full ({}), so no more are being received. \
             On resume the later ones are replayed from revision {from}, none lost \
             (if etcd has compacted that history by then, the view resyncs instead).",
            feed::thousands(PAUSE_BUFFER as u64)
        )
    } else {
        format!(
            "paused · {held} new changes held (up to {})",
            feed::thousands(PAUSE_BUFFER as u64)
        )
    }
}

/// Rows are keyed by sequence number; a gap row also by what it says, so
/// it re-renders when its snapshot completes.
fn item_key(item: &Arc<Item>) -> (u64, usize, i64) {
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

fn row(item: Arc<Item>, separator: Signal<Bytes>) -> AnyView {
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

fn now() -> f64 {
    js_sys::Date::now()
}
