//! The events page (`/events?prefix=P`): every change under a prefix as it
//! happens, newest first, with the time it was received and the previous
//! value diffed, the event rate, pause and resume without losing anything,
//! a key filter, and gaps shown where they happened. It starts with the
//! prefix's latest changes from etcd's history, marked as such: it reads
//! etcd's revision `R` and subscribes from [`feed::history_from`]`(R)`, so
//! one subscription carries history up to `R` and live changes after it,
//! each once. The compact list (one line per change, the default on wide
//! screens, remembered in the browser) opens a change's value and diff on a
//! click or Enter. The state lives in [`crate::feed`]; this page
//! subscribes through the tab's live client ([`Watcher`]) and renders it
//! with [`crate::components::event_row`]. It reads nothing, so how current
//! it is comes from its subscription and the connection alone
//! ([`Freshness`]); while either is down it shows the stale notice (the
//! changes arrive when it is back, none lost).
//!
//! Keyboard: `/` focuses the filter; space or `p` pauses and resumes when
//! the focus is not in a text field; Enter on a compact row opens it.

use std::sync::Arc;
use std::time::Duration;

use etcdeck_shared::ws::{SubId, WatchRange};
use etcdeck_shared::{Bytes, Revision};
use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};
use wasm_bindgen::JsCast;

use crate::components::event_row::{RowStyle, item_key, row};
use crate::components::stale_notice::StaleNotice;
use crate::connection::ConnectionState;
use crate::feed::{self, Action, DISPLAY_LIMIT, Feed, Item, PAUSE_BUFFER, Rate};
use crate::freshness::{Freshness, now_ms};
use crate::live::Delivery;
use crate::live_view::{Health, Watcher, follow_link};
use crate::route::{EventsLocation, bytes_from_display};
use history::{current_revision, first_kept, probe_key};
use prefs::{store_compact, stored_compact, wide_screen};

mod history;
mod prefs;

/// Said after the stale notice: what happens to the changes meanwhile.
const STALE_DETAIL: &str = "The live connection is down or etcd is out of reach: changes \
    will appear when it is back, none lost.";

#[component]
pub fn EventsPage() -> impl IntoView {
    let location = use_location();
    let here = Memo::new(move |_| EventsLocation::from_query(&location.search.get()));
    let prefix = Memo::new(move |_| here.with(|h| h.prefix.clone()));
    let separator = use_context::<ConnectionState>()
        .map(|c| c.separator())
        .unwrap_or_else(|| Signal::stored(Bytes::from("/")));
    let navigate = StoredValue::new_local(use_navigate());
    let client = Watcher::from_context();
    let freshness = RwSignal::new(Freshness::new());
    follow_link(Health::from_context(), freshness, || {});

    let feed = RwSignal::new(Feed::new());
    let rate = StoredValue::new(Rate::new(now()));
    let rate_shown = RwSignal::new(0.0_f64);
    let filter = RwSignal::new(String::new());
    let subscription = StoredValue::new(None::<SubId>);
    // Bumped by every new start, so a slow read of etcd's revision for a
    // prefix the page has left does not subscribe.
    let generation = StoredValue::new(0_u64);
    let compact = RwSignal::new(stored_compact().unwrap_or_else(wide_screen));
    let style = Signal::derive(move || RowStyle {
        compact: compact.get(),
        utc_offset_min: utc_offset_min(),
    });
    let toggle_compact = move || {
        let on = !compact.get_untracked();
        compact.set(on);
        store_compact(on);
    };

    // Which subscription the feed follows: a handler of an earlier one
    // (ended, replaced) ignores what still arrives for it.
    let sub_token = StoredValue::new(0_u64);
    let restart_from = RwSignal::new(None::<Revision>);

    let client = StoredValue::new_local(client);
    let unsubscribe = move || {
        sub_token.try_update_value(|t| *t += 1);
        if let (Some(client), Some(id)) = (
            client.try_get_value().flatten(),
            subscription.try_get_value().flatten(),
        ) {
            subscription.try_set_value(None);
            client.unsubscribe(id);
        }
    };
    let subscribe = move |from: Option<Revision>| {
        let Some(client) = client.try_get_value().flatten() else {
            return;
        };
        let range = WatchRange::prefix(prefix.get_untracked());
        let token = sub_token.get_value() + 1;
        sub_token.set_value(token);
        let id = client.subscribe(range, true, from, move |delivery| {
            if sub_token.try_get_value() != Some(token) {
                return;
            }
            follow_delivery(freshness, &delivery);
            if let Delivery::Events(events) = &delivery {
                // Changes from history did not happen at this rate.
                let until = feed.try_with_untracked(|f| f.history_until).flatten();
                let count = events
                    .iter()
                    .filter(|e| until.is_none_or(|r| e.kv.mod_revision > r))
                    .count();
                if count > 0 {
                    rate.try_update_value(|r| r.record(now(), count));
                }
            }
            let at = now() as u64;
            match feed.try_update(|f| f.apply(delivery, at)) {
                Some(Action::Unsubscribe) => unsubscribe(),
                // etcd compacted the start of the history: replay what is
                // left, with a new subscription.
                Some(Action::SubscribeFrom(from)) => {
                    unsubscribe();
                    restart_from.try_set(Some(from));
                }
                _ => {}
            }
        });
        subscription.set_value(Some(id));
    };

    // A new prefix starts a new feed: its recent history, then live.
    Effect::new(move |_| {
        let start = prefix.get();
        unsubscribe();
        freshness.update(Freshness::restart);
        feed.set(Feed::new());
        rate.set_value(Rate::new(now()));
        rate_shown.set(0.0);
        let this = generation.get_value() + 1;
        generation.set_value(this);
        spawn_local(async move {
            let probe = probe_key(start);
            let current = current_revision(&probe).await;
            let from = match current {
                Some(current) => {
                    Some(first_kept(&probe, feed::history_from(current), current).await)
                }
                None => None,
            };
            if generation.try_get_value() != Some(this) {
                return;
            }
            match (current, from) {
                (Some(current), Some(from)) => {
                    let mut started = Feed::with_history(current);
                    if from > feed::history_from(current) {
                        started.history_compacted = Some(from);
                    }
                    feed.try_set(started);
                    subscribe(Some(from));
                }
                // Without etcd's revision there is no history to start
                // from; the subscription says why if it is refused too.
                _ => subscribe(None),
            }
        });
    });
    Effect::new(move |_| {
        if let Some(from) = restart_from.get() {
            restart_from.set(None);
            subscribe(Some(from));
        }
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
    // Newest first, so history (the oldest) is last, under its heading.
    let live_shown = Memo::new(move |_| {
        shown.with(|s| {
            s.iter()
                .filter(|i| !i.is_history())
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let history_shown = Memo::new(move |_| {
        shown.with(|s| {
            s.iter()
                .filter(|i| i.is_history())
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let history_heading = move || {
        let (until, trimmed, compacted) =
            feed.with(|f| (f.history_until, f.history_trimmed, f.history_compacted));
        let until = until?;
        if history_shown.with(Vec::is_empty) && compacted.is_none() {
            return None;
        }
        let mut older = String::new();
        if trimmed > 0 {
            older.push_str(&format!(
                "; {} older revisions left out",
                feed::thousands(trimmed)
            ));
        }
        if let Some(at) = compacted {
            older.push_str(&format!(
                "; etcd has compacted its history before revision {at}, so nothing earlier can be shown"
            ));
        }
        Some(view! {
            <li
                data-testid="events-history"
                role="note"
                class="border-y border-violet-200 bg-violet-50 px-4 py-1 text-xs text-violet-900 dark:border-violet-900 dark:bg-violet-950 dark:text-violet-200"
            >
                {format!(
                    "From etcd's history, not seen live: the latest changes up to revision {until}, \
                     from before this page opened (at most {} revisions{older}).",
                    feed::HISTORY_REVISIONS,
                )}
            </li>
        })
    };
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
            let nothing_live = f.items.iter().chain(&f.buffer).all(|i| i.is_history());
            let live_from = f
                .history_until
                .map(|r| format!("live from revision {}: ", r.0 + 1))
                .unwrap_or_default();
            nothing_live.then(|| {
                view! {
                    <p data-testid="events-empty" class="p-4 text-slate-600 dark:text-slate-300">
                        {move || format!("{live_from}waiting for changes under {}", where_text())}
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
                        data-testid="events-compact"
                        title="One line per change; click a row or press Enter on it for its value and diff"
                        aria-pressed=move || if compact.get() { "true" } else { "false" }
                        class=move || {
                            if compact.get() {
                                format!("{button} bg-slate-200 dark:bg-slate-700")
                            } else {
                                button.to_owned()
                            }
                        }
                        on:click=move |_| toggle_compact()
                    >
                        "compact"
                    </button>
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
            <StaleNotice
                state=Signal::derive(move || freshness.with(Freshness::state))
                detail=STALE_DETAIL
            />
            {status}
            <ol
                data-testid="events-list"
                aria-label="Changes, newest first"
                class="min-h-0 flex-1 overflow-y-auto"
            >
                <For
                    each=move || live_shown.get()
                    key=|item| item_key(item)
                    children=move |item| move || row(item.clone(), separator, style.get())
                />
                {history_heading}
                <For
                    each=move || history_shown.get()
                    key=|item| item_key(item)
                    children=move |item| move || row(item.clone(), separator, style.get())
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

/// What the subscription says about how current the page is.
fn follow_delivery(freshness: RwSignal<Freshness>, delivery: &Delivery) {
    match delivery {
        Delivery::Subscribed { revision } => {
            freshness.try_update(|f| f.seen(*revision));
        }
        Delivery::Events(events) => {
            if let Some(latest) = events.iter().map(|e| e.kv.mod_revision).max() {
                freshness.try_update(|f| f.seen(latest));
            }
        }
        Delivery::Snapshot {
            revision,
            done: true,
            ..
        } => {
            freshness.try_update(|f| f.seen(*revision));
        }
        Delivery::Reconnecting { .. } => {
            let now = now_ms();
            freshness.try_update(|f| f.watch_down(now));
        }
        Delivery::Live => {
            freshness.try_update(Freshness::watch_up);
        }
        _ => {}
    }
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// The browser's time zone, in minutes east of UTC.
fn utc_offset_min() -> i64 {
    -(js_sys::Date::new_0().get_timezone_offset() as i64)
}
