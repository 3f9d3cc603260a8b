//! What every coordination view shares: the page frame around the cards
//! (heading with count and revision, the stale notice, loading, empty,
//! error and "could not refresh" states, the live note) and the small
//! pieces the cards are drawn with.

use etcdeck_shared::{Bytes, ErrorCode, Revision};
use leptos::prelude::*;

use crate::api::ApiFailure;
use crate::components::stale_notice::StaleNotice;
use crate::coord::{Countdown, Liveness, TtlShown, key_href};
use crate::freshness::ViewState;
use crate::live_view::ReadState;
use crate::route::CoordKind;

pub(super) const GRID: &str =
    "grid gap-4 2xl:gap-6 grid-cols-[repeat(auto-fill,minmax(min(100%,22rem),1fr))]";
pub(super) const CARD: &str = "flex min-w-0 flex-col gap-3 rounded-xl border-2 border-slate-300 bg-slate-50 p-4 dark:border-slate-700 dark:bg-slate-900";
pub(super) const MUTED: &str = "text-slate-600 dark:text-slate-300";
pub(super) const BADGE: &str = "rounded border border-slate-400 px-1.5 py-0.5 text-xs font-semibold uppercase tracking-wide text-slate-700 dark:border-slate-500 dark:text-slate-200";
pub(super) const KEY_LINK: &str =
    "break-all font-mono text-blue-800 underline-offset-2 hover:underline dark:text-blue-300";

/// How a view fills the page around its cards.
pub(super) struct Frame<T> {
    pub(super) kind: CoordKind,
    /// "3 locks".
    pub(super) count: fn(&T) -> String,
    pub(super) revision: fn(&T) -> Revision,
    pub(super) is_empty: fn(&T) -> bool,
    pub(super) empty: &'static str,
    pub(super) hint: fn(&T) -> String,
    /// The view's freshness, for the stale notice.
    pub(super) live: MaybeProp<ViewState>,
}

pub(super) fn frame<T: Clone + Send + Sync + 'static>(
    state: Signal<ReadState<T>>,
    frame: Frame<T>,
    on_retry: Option<Callback<()>>,
    cards: impl Fn(T, u64) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    frame_with_tools(state, frame, on_retry, None, cards)
}

/// [`frame`] with `tools` (the leases page's actions) between the heading
/// and the cards.
pub(super) fn frame_with_tools<T: Clone + Send + Sync + 'static>(
    state: Signal<ReadState<T>>,
    frame: Frame<T>,
    on_retry: Option<Callback<()>>,
    tools: Option<AnyView>,
    cards: impl Fn(T, u64) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    let Frame {
        kind,
        count,
        revision,
        is_empty,
        empty,
        hint,
        live,
    } = frame;
    let summary = move || {
        state.with(|s| {
            s.data
                .as_ref()
                .map(|d| (count(d), format!("as of revision {}", revision(d))))
        })
    };
    let stale = move || {
        state.with(|s| {
            s.data
                .as_ref()
                .and(s.error.as_ref())
                .map(|e| format!("could not refresh: {e}"))
        })
    };
    let live_note = move || state.with(|s| s.live_note.clone());
    let body = move || {
        let (data, read_at, error) =
            state.with(|s| (s.data.clone(), s.read_at_ms, s.error.clone()));
        match (data, error) {
            (Some(data), _) if is_empty(&data) => view! {
                <div data-testid="coord-empty" role="status" class="max-w-4xl rounded-xl border-2 border-dashed border-slate-300 p-6 dark:border-slate-700">
                    <p class="text-2xl font-semibold">{empty}</p>
                    <p class=format!("mt-2 text-lg {MUTED}")>{hint(&data)}</p>
                </div>
            }
            .into_any(),
            (Some(data), _) => cards(data, read_at),
            (None, Some(error)) => failure_view(&error, on_retry),
            (None, None) => view! {
                <p data-testid="coord-loading" role="status" class=format!("text-2xl {MUTED}")>
                    "loading…"
                </p>
            }
            .into_any(),
        }
    };
    view! {
        <section
            data-testid="coord-page"
            data-kind=kind.label()
            aria-label=kind.label()
            class="flex min-h-0 flex-1 flex-col gap-4 overflow-auto p-4 lg:p-6 min-[3000px]:[zoom:1.25]"
        >
            <div class="flex flex-wrap items-baseline gap-x-6 gap-y-1">
                <h1 class="text-3xl font-bold tracking-tight">{kind.label()}</h1>
                {move || {
                    summary()
                        .map(|(count, revision)| {
                            view! {
                                <span data-testid="coord-count" class="text-xl font-medium">
                                    {count}
                                </span>
                                <span class=format!("text-sm {MUTED}")>{revision}</span>
                            }
                        })
                }}
            </div>
            <StaleNotice state=live />
            {tools}
            {move || {
                stale()
                    .map(|text| {
                        view! {
                            <p data-testid="coord-stale" role="alert" class="rounded-lg border-2 border-amber-500 bg-amber-50 px-3 py-2 font-medium text-amber-900 dark:bg-amber-950 dark:text-amber-200">
                                {text}
                            </p>
                        }
                    })
            }}
            {move || {
                live_note()
                    .map(|text| {
                        view! {
                            <p data-testid="coord-live-note" role="status" class="flex flex-wrap items-center gap-3 rounded-lg border-2 border-amber-500 px-3 py-2 text-amber-900 dark:text-amber-200">
                                <span>{text}</span>
                                {on_retry
                                    .map(|retry| {
                                        view! {
                                            <button
                                                type="button"
                                                data-testid="coord-read-again"
                                                class="rounded border-2 border-current px-2 py-0.5 font-medium"
                                                on:click=move |_| retry.run(())
                                            >
                                                "read again"
                                            </button>
                                        }
                                    })}
                            </p>
                        }
                    })
            }}
            {body}
        </section>
    }
}

pub(super) fn failure_view(error: &ApiFailure, on_retry: Option<Callback<()>>) -> AnyView {
    let title = match error.code() {
        Some(ErrorCode::PermissionDenied) => "permission denied",
        Some(ErrorCode::EtcdUnavailable) => "etcd is unavailable",
        Some(ErrorCode::NotFound) => "this etcdeck does not offer this view",
        _ => "could not read",
    };
    view! {
        <div data-testid="coord-error" role="alert" class="max-w-4xl rounded-xl border-2 border-red-400 bg-red-50 p-6 text-red-900 dark:border-red-700 dark:bg-red-950 dark:text-red-100">
            <p class="text-2xl font-semibold">{title}</p>
            <p class="mt-2 text-lg">{error.to_string()}</p>
            {on_retry
                .map(|retry| {
                    view! {
                        <button
                            type="button"
                            data-testid="coord-retry"
                            class="mt-3 rounded border-2 border-current px-3 py-1 font-medium"
                            on:click=move |_| retry.run(())
                        >
                            "retry"
                        </button>
                    }
                })}
        </div>
    }
    .into_any()
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a TTL read at `read_at` shows now: the browser's count from etcd's
/// figure, "checking" once that ran out (the view is asking etcd again), or
/// gone when etcd said so.
pub(super) fn ticking(
    ttl: Option<i64>,
    read_at: u64,
    now: Signal<u64>,
) -> impl Fn() -> TtlShown + Copy {
    let countdown = Countdown::new(ttl, read_at);
    move || countdown.shown(now.get())
}

/// The tooltip of a countdown: etcd's figure and when it came, so the
/// count is known for the estimate it is between two answers.
pub(super) fn ttl_tooltip(ttl: Option<i64>, read_at: u64) -> String {
    match ttl {
        Some(secs) => format!(
            "etcd said {secs}s left at {}; counted down in the browser until the next answer",
            crate::freshness::clock_text(read_at)
        ),
        None => "etcd says this lease is gone".to_owned(),
    }
}

pub(super) fn liveness_tone(state: Liveness) -> &'static str {
    match state {
        Liveness::Alive => "text-emerald-800 dark:text-emerald-300",
        Liveness::Expiring | Liveness::Checking => "text-amber-700 dark:text-amber-300",
        Liveness::Gone => "text-red-700 dark:text-red-300",
    }
}

pub(super) fn key_link(key: &Bytes, testid: &'static str) -> impl IntoView + use<> {
    view! {
        <a href=key_href(key) data-testid=testid class=KEY_LINK title="Open this key">
            {key.display()}
        </a>
    }
}

/// The cards of a view, laid out for a laptop and a wall screen alike.
pub(super) fn grid<V: IntoView>(cards: impl Iterator<Item = V>) -> AnyView {
    view! {
        <div data-testid="coord-grid" class=GRID>
            {cards.collect_view()}
        </div>
    }
    .into_any()
}
