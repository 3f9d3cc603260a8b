//! The coordination views as grids of cards, one per lease, lock, election,
//! queue or service, sized to be read from across a room on a wall screen
//! (big numbers, high contrast, no scrolling tables) and still fit a laptop.
//! Each view takes a [`ReadState`] and the ticking clock and shows the
//! loading, empty (saying what such keys look like) and error states; TTLs
//! count down from the answer's figure between answers.
//!
//! DOM contract for tests: `coord-page` (`data-kind`), `coord-loading`,
//! `coord-empty`, `coord-error`, `coord-stale`; cards `lease-card`
//! (`data-lease`), `lock-card` / `election-card` / `queue-card`
//! (`data-prefix`), `service-card` (`data-name`); inside them
//! `lease-remaining`, `lock-holder` / `lock-waiter` / `election-leader` /
//! `election-candidate` (`data-key`, leaders also `data-value`),
//! `queue-depth`, `sparkline`, `service-instance` (`data-name`,
//! `data-state`). Lease actions (for sessions that may write):
//! `lease-ttl`, `lease-grant`, `lease-ttl-error`, `lease-done`,
//! `lease-action-error`, `lease-actions-off`, and on cards
//! `lease-keep-alive`, `lease-revoke`, `revoke-confirmation`,
//! `confirm-revoke`, `cancel-revoke`.

use etcdeck_shared::coord::{
    Contender, DepthSample, Election, Elections, Instance, LeaseDetail, Leases, Lock, LockKind,
    Locks, Queue, QueueKind, Queues, RwRole, Service, Services,
};
use etcdeck_shared::{Bytes, ErrorCode, LeaseId, Revision};
use leptos::prelude::*;

use crate::api::ApiFailure;
use crate::coord::{
    Countdown, Liveness, format_count, format_duration, format_rate, format_ttl, held_for,
    key_href, liveness, lock_summary, sparkline_points,
};
use crate::pages::coord::{LeaseActions, ReadState, parse_ttl};
use crate::route::CoordKind;

/// The sparkline's box in CSS pixels.
pub const SPARK_W: f64 = 160.0;
pub const SPARK_H: f64 = 48.0;

const GRID: &str = "grid gap-4 2xl:gap-6 grid-cols-[repeat(auto-fill,minmax(min(100%,22rem),1fr))]";
const CARD: &str = "flex min-w-0 flex-col gap-3 rounded-xl border-2 border-slate-300 bg-slate-50 p-4 dark:border-slate-700 dark:bg-slate-900";
const MUTED: &str = "text-slate-600 dark:text-slate-300";
const BADGE: &str = "rounded border border-slate-400 px-1.5 py-0.5 text-xs font-semibold uppercase tracking-wide text-slate-700 dark:border-slate-500 dark:text-slate-200";
const KEY_LINK: &str =
    "break-all font-mono text-blue-800 underline-offset-2 hover:underline dark:text-blue-300";

/// How a view fills the page around its cards.
struct Frame<T> {
    kind: CoordKind,
    /// "3 locks".
    count: fn(&T) -> String,
    revision: fn(&T) -> Revision,
    is_empty: fn(&T) -> bool,
    empty: &'static str,
    hint: fn(&T) -> String,
}

fn frame<T: Clone + Send + Sync + 'static>(
    state: Signal<ReadState<T>>,
    frame: Frame<T>,
    on_retry: Option<Callback<()>>,
    cards: impl Fn(T, u64) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    frame_with_tools(state, frame, on_retry, None, cards)
}

/// [`frame`] with `tools` (the leases page's actions) between the heading
/// and the cards.
fn frame_with_tools<T: Clone + Send + Sync + 'static>(
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

fn failure_view(error: &ApiFailure, on_retry: Option<Callback<()>>) -> AnyView {
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

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Seconds left now on a TTL read at `read_at`.
fn ticking(ttl: Option<i64>, read_at: u64, now: Signal<u64>) -> impl Fn() -> Option<i64> + Copy {
    let countdown = Countdown::new(ttl, read_at);
    move || countdown.remaining(now.get())
}

fn liveness_tone(state: Liveness) -> &'static str {
    match state {
        Liveness::Alive => "text-emerald-800 dark:text-emerald-300",
        Liveness::Expiring => "text-amber-700 dark:text-amber-300",
        Liveness::Gone => "text-red-700 dark:text-red-300",
    }
}

fn key_link(key: &Bytes, testid: &'static str) -> impl IntoView + use<> {
    view! {
        <a href=key_href(key) data-testid=testid class=KEY_LINK title="Open this key">
            {key.display()}
        </a>
    }
}

// ---------------------------------------------------------------- leases

#[component]
pub fn LeasesView(
    #[prop(into)] state: Signal<ReadState<Leases>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
    /// Grant, keep alive once and revoke; none without it.
    #[prop(optional)]
    actions: Option<LeaseActions>,
) -> impl IntoView {
    frame_with_tools(
        state,
        Frame {
            kind: CoordKind::Leases,
            count: |d: &Leases| plural(d.leases.len(), "lease", "leases"),
            revision: |d| d.revision,
            is_empty: |d| d.leases.is_empty(),
            empty: "no leases found",
            hint: |_| {
                "Leases are granted by clients (etcdctl lease grant, every session's keep-alive); \
                 keys attached to a lease vanish when it expires or is revoked."
                    .to_owned()
            },
        },
        on_retry,
        actions.map(|actions| lease_tools(actions).into_any()),
        move |data, read_at| {
            grid(
                data.leases
                    .into_iter()
                    .map(|lease| lease_card(lease, read_at, now, actions)),
            )
        },
    )
}

/// "Grant lease" with its TTL, and how the last action went; or why
/// there are no actions.
fn lease_tools(actions: LeaseActions) -> impl IntoView {
    let ttl = RwSignal::new("60".to_owned());
    let invalid = RwSignal::new(None::<String>);
    let grant = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match parse_ttl(&ttl.get_untracked()) {
            Ok(seconds) => {
                invalid.set(None);
                actions.grant(seconds);
            }
            Err(why) => invalid.set(Some(why)),
        }
    };
    let outcome = move || {
        actions.outcome.get().map(|outcome| {
            let (testid, role, tone, text) = match outcome {
                Ok(text) => (
                    "lease-done",
                    "status",
                    "border-emerald-500 text-emerald-900 dark:text-emerald-200",
                    text,
                ),
                Err(text) => (
                    "lease-action-error",
                    "alert",
                    "border-red-400 bg-red-50 text-red-900 dark:border-red-700 dark:bg-red-950 dark:text-red-100",
                    text,
                ),
            };
            view! {
                <p
                    data-testid=testid
                    role=role
                    class=format!("rounded-lg border-2 px-3 py-2 font-medium {tone}")
                >
                    {text}
                </p>
            }
        })
    };
    view! {
        {move || {
            if actions.can_write.get() {
                view! {
                    <form
                        data-testid="lease-grant-form"
                        class="flex flex-wrap items-end gap-3"
                        on:submit=grant
                    >
                        <label class="flex flex-col gap-1">
                            <span class=format!("text-sm font-medium {MUTED}")>"TTL (seconds)"</span>
                            <input
                                data-testid="lease-ttl"
                                type="text"
                                inputmode="numeric"
                                autocomplete="off"
                                aria-invalid=move || invalid.with(Option::is_some).then_some("true")
                                class="w-40 rounded-lg border-2 border-slate-300 bg-white px-3 py-1.5 text-lg tabular-nums focus:border-sky-600 focus:outline-none dark:border-slate-600 dark:bg-slate-900"
                                prop:value=move || ttl.get()
                                on:input=move |ev| ttl.set(event_target_value(&ev))
                            />
                        </label>
                        <button
                            type="submit"
                            data-testid="lease-grant"
                            class="rounded-lg bg-sky-700 px-4 py-2 font-semibold text-white hover:bg-sky-800 disabled:opacity-60 dark:bg-sky-600 dark:hover:bg-sky-500"
                            prop:disabled=move || actions.busy.get()
                        >
                            "Grant lease"
                        </button>
                        {move || {
                            invalid
                                .get()
                                .map(|why| {
                                    view! {
                                        <p data-testid="lease-ttl-error" role="alert" class="text-red-700 dark:text-red-300">
                                            {why}
                                        </p>
                                    }
                                })
                        }}
                    </form>
                }
                    .into_any()
            } else {
                let reason = actions
                    .reason
                    .get()
                    .unwrap_or_else(|| "this session may not write".to_owned());
                view! {
                    <p data-testid="lease-actions-off" class=format!("text-sm {MUTED}")>
                        {format!("Granting, renewing and revoking leases is off: {reason}")}
                    </p>
                }
                    .into_any()
            }
        }}
        {outcome}
    }
}

/// "Keep alive once" and "Revoke" (after a confirmation naming the lease
/// and how many keys go with it) on one lease card.
fn lease_card_actions(actions: LeaseActions, id: LeaseId, key_count: u64) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let question = StoredValue::new(format!(
        "Revoke lease {id}? {}",
        match key_count {
            0 => "It has no keys attached.".to_owned(),
            1 => "Its 1 attached key will be deleted with it.".to_owned(),
            n => format!("Its {n} attached keys will be deleted with it."),
        }
    ));
    const BUTTON: &str = "rounded border-2 px-3 py-1 font-medium disabled:opacity-60";
    view! {
        <Show when=move || actions.can_write.get()>
            <div class="flex flex-wrap items-center gap-2">
                <button
                    type="button"
                    data-testid="lease-keep-alive"
                    class=format!("{BUTTON} border-slate-400 hover:bg-slate-200 dark:border-slate-500 dark:hover:bg-slate-800")
                    prop:disabled=move || actions.busy.get()
                    on:click=move |_| actions.keep_alive(id)
                >
                    "Keep alive once"
                </button>
                <button
                    type="button"
                    data-testid="lease-revoke"
                    class=format!("{BUTTON} border-red-500 text-red-800 hover:bg-red-50 dark:text-red-300 dark:hover:bg-red-950")
                    prop:disabled=move || actions.busy.get()
                    on:click=move |_| confirming.set(true)
                >
                    "Revoke"
                </button>
            </div>
            <Show when=move || confirming.get()>
                <div
                    data-testid="revoke-confirmation"
                    role="alertdialog"
                    aria-label="Confirm revoking the lease"
                    class="flex flex-col gap-2 rounded-lg border-2 border-red-500 bg-red-50 p-3 text-red-900 dark:bg-red-950 dark:text-red-100"
                >
                    <p class="font-medium">{move || question.get_value()}</p>
                    <div class="flex flex-wrap gap-2">
                        <button
                            type="button"
                            data-testid="confirm-revoke"
                            class=format!("{BUTTON} border-red-700 bg-red-700 text-white hover:bg-red-800")
                            prop:disabled=move || actions.busy.get()
                            on:click=move |_| {
                                confirming.set(false);
                                actions.revoke(id);
                            }
                        >
                            {format!("Revoke {id}")}
                        </button>
                        <button
                            type="button"
                            data-testid="cancel-revoke"
                            class=format!("{BUTTON} border-current")
                            on:click=move |_| confirming.set(false)
                        >
                            "Cancel"
                        </button>
                    </div>
                </div>
            </Show>
        </Show>
    }
}

fn lease_card(
    lease: LeaseDetail,
    read_at: u64,
    now: Signal<u64>,
    actions: Option<LeaseActions>,
) -> impl IntoView {
    let LeaseDetail {
        id,
        granted_ttl,
        remaining_ttl,
        keys,
        more_keys,
    } = lease;
    let left = ticking(remaining_ttl, read_at, now);
    let state = move || liveness(true, left(), Some(granted_ttl));
    let bar = move || {
        let fraction = match (left(), granted_ttl) {
            (Some(left), granted) if granted > 0 => (left as f64 / granted as f64).clamp(0.0, 1.0),
            _ => 0.0,
        };
        format!("width: {:.1}%", fraction * 100.0)
    };
    let bar_tone = move || match state() {
        Liveness::Alive => "h-full rounded-full bg-emerald-500",
        Liveness::Expiring => "h-full rounded-full bg-amber-500",
        Liveness::Gone => "h-full rounded-full bg-red-500",
    };
    let key_count = keys.len() as u64 + more_keys;
    view! {
        <article data-testid="lease-card" data-lease=id.to_string() class=CARD>
            <h2 class="break-all font-mono text-xl font-semibold">{id.to_string()}</h2>
            <div class="flex flex-wrap items-baseline gap-x-2">
                <span
                    data-testid="lease-remaining"
                    data-state=move || state().as_str()
                    class=move || format!("text-5xl font-bold tabular-nums {}", liveness_tone(state()))
                >
                    {move || format_ttl(left())}
                </span>
                <span class=format!("text-lg {MUTED}")>
                    {move || {
                        if left().is_some() {
                            format!("left of {}", format_ttl(Some(granted_ttl)))
                        } else {
                            format!("expired (granted {})", format_ttl(Some(granted_ttl)))
                        }
                    }}
                </span>
            </div>
            <div class="h-2 w-full rounded-full bg-slate-200 dark:bg-slate-700" aria-hidden="true">
                <div class=bar_tone style=bar></div>
            </div>
            <div>
                <p class=format!("text-sm font-medium {MUTED}")>
                    {if key_count == 0 {
                        "no keys attached".to_owned()
                    } else {
                        plural(key_count as usize, "key attached", "keys attached")
                    }}
                </p>
                <ul class="mt-1 flex flex-col gap-0.5 text-base">
                    {keys
                        .iter()
                        .map(|key| view! { <li>{key_link(key, "lease-key")}</li> })
                        .collect_view()}
                </ul>
                {(more_keys > 0)
                    .then(|| {
                        view! { <p class=format!("text-sm {MUTED}")>{format!("and {more_keys} more")}</p> }
                    })}
            </div>
            {actions.map(|actions| lease_card_actions(actions, id, key_count))}
        </article>
    }
}

// ---------------------------------------------------------------- locks

#[component]
pub fn LocksView(
    #[prop(into)] state: Signal<ReadState<Locks>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
) -> impl IntoView {
    frame(
        state,
        Frame {
            kind: CoordKind::Locks,
            count: |d: &Locks| plural(d.locks.len(), "lock", "locks"),
            revision: |d| d.revision,
            is_empty: |d| d.locks.is_empty(),
            empty: "no locks found",
            hint: |_| {
                "Locks are keys named by a lease id under a common prefix (NAME/694d7f3a…), as \
                 etcdctl lock NAME and the concurrency Mutex and RWMutex make them; a lock shows \
                 here while someone holds it or waits for it."
                    .to_owned()
            },
        },
        on_retry,
        move |data, read_at| {
            grid(
                data.locks
                    .into_iter()
                    .map(|lock| lock_card(lock, read_at, now)),
            )
        },
    )
}

fn lock_card(lock: Lock, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let summary = lock_summary(&lock);
    let Lock {
        prefix,
        kind,
        holders,
        waiters,
    } = lock;
    let kind_text = match kind {
        LockKind::Mutex => "mutex",
        LockKind::RwMutex => "rwmutex",
    };
    let held = !holders.is_empty();
    view! {
        <article data-testid="lock-card" data-prefix=prefix.display() class=CARD>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 class="break-all font-mono text-xl font-semibold">{prefix.display()}</h2>
                <span class=BADGE>{kind_text}</span>
            </div>
            <p
                data-testid="lock-state"
                class=if held {
                    "text-3xl font-bold text-amber-700 dark:text-amber-300"
                } else {
                    "text-3xl font-bold text-emerald-800 dark:text-emerald-300"
                }
            >
                {summary}
            </p>
            <div class="flex flex-col gap-2">
                {holders
                    .into_iter()
                    .map(|holder| contender_block(holder, "lock-holder", read_at, now))
                    .collect_view()}
            </div>
            {waiting_list(waiters, "lock-waiter", "waiting, in order", read_at, now)}
        </article>
    }
}

/// A holder: its key (shown by its last segment, the session's lease id;
/// the card already names the prefix), its lease TTL and since when.
fn contender_block(
    contender: Contender,
    testid: &'static str,
    read_at: u64,
    now: Signal<u64>,
) -> impl IntoView {
    let left = ticking(contender.lease_ttl, read_at, now);
    let since = contender.holding_since_ms;
    let role = contender.role.map(role_text);
    view! {
        <div
            data-testid=testid
            data-key=contender.key.display()
            data-lease=contender.lease.to_string()
            class="rounded-lg border border-slate-300 bg-white px-3 py-2 dark:border-slate-600 dark:bg-slate-950"
        >
            <div class="flex flex-wrap items-center gap-2 text-lg">
                {role.map(|r| view! { <span class=BADGE>{r}</span> })}
                {short_key_link(&contender.key, contender.lease)}
            </div>
            <p class="flex flex-wrap gap-x-4 text-base tabular-nums">
                <span>
                    <span class=MUTED>"TTL "</span>
                    <span data-testid="contender-ttl">{move || format_ttl(left())}</span>
                </span>
                <span>
                    <span class=MUTED>"held for "</span>
                    <span data-testid="held-for">
                        {move || held_for(since, now.get()).unwrap_or_else(|| "not known".to_owned())}
                    </span>
                </span>
            </p>
        </div>
    }
}

/// A link to a contender's key, labelled with its last segment (the lease
/// id of its session, by the recipes' layout), the whole key in the
/// tooltip; the lease is named beside it when the key is not named by it.
fn short_key_link(key: &Bytes, lease: LeaseId) -> impl IntoView + use<> {
    let bytes = key.as_slice();
    let tail = bytes
        .iter()
        .rposition(|b| *b == b'/')
        .map(|i| Bytes::from(&bytes[i + 1..]))
        .unwrap_or_else(|| key.clone());
    let lease = lease.to_string();
    let other_lease = (tail.as_slice() != lease.as_bytes()).then(|| {
        view! { <span class=format!("font-mono text-base {MUTED}")>{format!("lease {lease}")}</span> }
    });
    view! {
        <a href=key_href(key) data-testid="contender-key" class=KEY_LINK title=key.display()>
            {tail.display()}
        </a>
        {other_lease}
    }
}

fn role_text(role: RwRole) -> &'static str {
    match role {
        RwRole::Read => "reader",
        RwRole::Write => "writer",
    }
}

/// Waiters or candidates, numbered in the order they come next.
fn waiting_list(
    waiting: Vec<Contender>,
    testid: &'static str,
    title: &'static str,
    read_at: u64,
    now: Signal<u64>,
) -> impl IntoView {
    (!waiting.is_empty()).then(|| {
        view! {
            <div>
                <p class=format!("text-sm font-medium {MUTED}")>{title}</p>
                <ol class="mt-1 flex flex-col gap-1">
                    {waiting
                        .into_iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let left = ticking(c.lease_ttl, read_at, now);
                            let value = c.value.display();
                            let value_attr = value.clone();
                            view! {
                                <li
                                    data-testid=testid
                                    data-key=c.key.display()
                                    data-value=value_attr
                                    class="flex flex-wrap items-baseline gap-x-2 text-base"
                                >
                                    <span class="w-6 shrink-0 text-right font-semibold tabular-nums">
                                        {format!("{}.", i + 1)}
                                    </span>
                                    {c.role.map(|r| view! { <span class=BADGE>{role_text(r)}</span> })}
                                    {(!value.is_empty())
                                        .then(|| view! { <span class="break-words font-semibold">{value}</span> })}
                                    {short_key_link(&c.key, c.lease)}
                                    <span class=format!("tabular-nums {MUTED}")>
                                        {move || format!("TTL {}", format_ttl(left()))}
                                    </span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            </div>
        }
    })
}

// ---------------------------------------------------------------- elections

#[component]
pub fn ElectionsView(
    #[prop(into)] state: Signal<ReadState<Elections>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
) -> impl IntoView {
    frame(
        state,
        Frame {
            kind: CoordKind::Elections,
            count: |d: &Elections| plural(d.elections.len(), "election", "elections"),
            revision: |d| d.revision,
            is_empty: |d| d.elections.is_empty(),
            empty: "no elections found",
            hint: |_| {
                "Candidates are keys named by a lease id under a common prefix with their \
                 proposal as the value, as etcdctl elect NAME PROPOSAL and the concurrency \
                 Election make them; the oldest leads."
                    .to_owned()
            },
        },
        on_retry,
        move |data, read_at| {
            grid(
                data.elections
                    .into_iter()
                    .map(|election| election_card(election, read_at, now)),
            )
        },
    )
}

/// The cards of a view, laid out for a laptop and a wall screen alike.
fn grid<V: IntoView>(cards: impl Iterator<Item = V>) -> AnyView {
    view! {
        <div data-testid="coord-grid" class=GRID>
            {cards.collect_view()}
        </div>
    }
    .into_any()
}

fn election_card(election: Election, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let Election {
        prefix,
        leader,
        candidates,
    } = election;
    let leader_view = match leader {
        Some(leader) => {
            let value = leader.value.display();
            let value_attr = value.clone();
            let left = ticking(leader.lease_ttl, read_at, now);
            let since = leader.holding_since_ms;
            view! {
                <div
                    data-testid="election-leader"
                    data-key=leader.key.display()
                    data-value=value_attr
                    class="rounded-lg border border-slate-300 bg-white p-3 dark:border-slate-600 dark:bg-slate-950"
                >
                    <p class=format!("text-sm font-medium {MUTED}")>"leader"</p>
                    <p class="break-words text-2xl font-bold leading-tight">
                        {if value.is_empty() { "(empty proposal)".to_owned() } else { value }}
                    </p>
                    <p class="mt-1 flex flex-wrap items-baseline gap-x-4 text-base tabular-nums">
                        <span>
                            <span class=MUTED>"since "</span>
                            <span data-testid="held-for">
                                {move || {
                                    held_for(since, now.get())
                                        .map(|d| format!("{d} ago"))
                                        .unwrap_or_else(|| "not known".to_owned())
                                }}
                            </span>
                        </span>
                        <span>
                            <span class=MUTED>"TTL "</span>
                            <span data-testid="contender-ttl">{move || format_ttl(left())}</span>
                        </span>
                        {short_key_link(&leader.key, leader.lease)}
                    </p>
                </div>
            }
            .into_any()
        }
        None => view! {
            <p data-testid="election-no-leader" class="text-2xl font-bold text-amber-700 dark:text-amber-300">
                "no leader"
            </p>
        }
        .into_any(),
    };
    view! {
        <article data-testid="election-card" data-prefix=prefix.display() class=CARD>
            <h2 class="break-all font-mono text-xl font-semibold">{prefix.display()}</h2>
            {leader_view}
            {waiting_list(candidates, "election-candidate", "next in line", read_at, now)}
        </article>
    }
}

// ---------------------------------------------------------------- queues

#[component]
pub fn QueuesView(
    #[prop(into)] state: Signal<ReadState<Queues>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
) -> impl IntoView {
    frame(
        state,
        Frame {
            kind: CoordKind::Queues,
            count: |d: &Queues| plural(d.queues.len(), "queue", "queues"),
            revision: |d| d.revision,
            is_empty: |d| d.queues.is_empty(),
            empty: "no queues found",
            hint: |_| {
                "Queue items are keys named by a Unix-nanosecond time under a common prefix \
                 (the recipes Queue), or by priority and sequence (PriorityQueue). etcdeck \
                 finds queues in use by a slow walk of the key tree (within a minute or so); \
                 to show one even while it is empty, start etcdeck with --queue-prefix NAME."
                    .to_owned()
            },
        },
        on_retry,
        move |data, read_at| {
            grid(
                data.queues
                    .into_iter()
                    .map(|queue| queue_card(queue, read_at, now)),
            )
        },
    )
}

fn queue_card(queue: Queue, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let Queue {
        prefix,
        kind,
        depth,
        oldest_age_secs,
        priorities,
        enqueue_per_sec,
        dequeue_per_sec,
        depth_history,
    } = queue;
    let kind_text = match kind {
        QueueKind::Queue => "queue",
        QueueKind::PriorityQueue => "priority queue",
    };
    let oldest = move || match oldest_age_secs {
        Some(age) if depth > 0 => {
            format_duration(age + now.get().saturating_sub(read_at) as f64 / 1000.0)
        }
        _ => "—".to_owned(),
    };
    let top = priorities.iter().map(|p| p.depth).max().unwrap_or(0).max(1);
    view! {
        <article data-testid="queue-card" data-prefix=prefix.display() class=CARD>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 class="break-all font-mono text-xl font-semibold">{prefix.display()}</h2>
                <span class=BADGE>{kind_text}</span>
            </div>
            <div class="flex flex-wrap items-end justify-between gap-3">
                <div>
                    <p data-testid="queue-depth" data-depth=depth class="text-6xl font-bold leading-none tabular-nums">
                        {format_count(depth)}
                    </p>
                    <p class=format!("mt-1 text-lg {MUTED}")>
                        {if depth == 1 { "item" } else { "items" }}
                    </p>
                </div>
                <Sparkline history=depth_history />
            </div>
            <dl class="grid grid-cols-3 gap-2 text-center">
                <div>
                    <dt class=format!("text-sm {MUTED}")>"oldest"</dt>
                    <dd data-testid="queue-oldest" class="text-xl font-semibold tabular-nums">{oldest}</dd>
                </div>
                <div>
                    <dt class=format!("text-sm {MUTED}")>"in"</dt>
                    <dd data-testid="queue-in" class="text-xl font-semibold tabular-nums">
                        {format_rate(enqueue_per_sec)}
                    </dd>
                </div>
                <div>
                    <dt class=format!("text-sm {MUTED}")>"out"</dt>
                    <dd data-testid="queue-out" class="text-xl font-semibold tabular-nums">
                        {format_rate(dequeue_per_sec)}
                    </dd>
                </div>
            </dl>
            {(!priorities.is_empty())
                .then(|| {
                    view! {
                        <ul class="flex flex-col gap-1" aria-label="depth per priority">
                            {priorities
                                .into_iter()
                                .map(|p| {
                                    let width = format!(
                                        "width: {:.1}%",
                                        100.0 * p.depth as f64 / top as f64,
                                    );
                                    view! {
                                        <li
                                            data-testid="queue-priority"
                                            data-priority=p.priority
                                            class="grid grid-cols-[4rem_1fr_4rem] items-center gap-2 text-base"
                                        >
                                            <span class="font-mono">{format!("p{}", p.priority)}</span>
                                            <span class="h-2 rounded-full bg-slate-200 dark:bg-slate-700">
                                                <span class="block h-full rounded-full bg-sky-500" style=width></span>
                                            </span>
                                            <span class="text-right font-semibold tabular-nums">
                                                {format_count(p.depth)}
                                            </span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                })}
        </article>
    }
}

/// Depth over time as a small inline SVG line; a note until there are two
/// samples.
#[component]
pub fn Sparkline(history: Vec<DepthSample>) -> impl IntoView {
    if history.len() < 2 {
        return view! {
            <span data-testid="sparkline-empty" class=format!("text-sm {MUTED}")>
                "no history yet"
            </span>
        }
        .into_any();
    }
    let points = sparkline_points(&history, SPARK_W, SPARK_H);
    let points_attr = points.clone();
    let max = history.iter().map(|s| s.depth).max().unwrap_or(0);
    let label = format!(
        "depth over the last {}, highest {max}",
        format_duration(
            history
                .last()
                .zip(history.first())
                .map(|(l, f)| l.at_ms.saturating_sub(f.at_ms) as f64 / 1000.0)
                .unwrap_or(0.0)
        )
    );
    view! {
        <svg
            data-testid="sparkline"
            data-points=points_attr
            role="img"
            aria-label=label
            class="shrink-0 text-sky-600 dark:text-sky-400"
            width=SPARK_W
            height=SPARK_H
            viewBox=format!("0 0 {SPARK_W} {SPARK_H}")
        >
            <polyline
                points=points
                fill="none"
                stroke="currentColor"
                stroke-width="2"
                stroke-linejoin="round"
                stroke-linecap="round"
            />
        </svg>
    }
    .into_any()
}

// ---------------------------------------------------------------- services

#[component]
pub fn ServicesView(
    #[prop(into)] state: Signal<ReadState<Services>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
) -> impl IntoView {
    frame(
        state,
        Frame {
            kind: CoordKind::Services,
            count: |d: &Services| plural(d.services.len(), "service", "services"),
            revision: |d| d.revision,
            is_empty: |d| d.services.is_empty(),
            empty: "no services found",
            hint: |d| {
                let read = if d.prefixes.is_empty() {
                    "no registration prefix is configured".to_owned()
                } else {
                    format!(
                        "read under {}",
                        d.prefixes
                            .iter()
                            .map(Bytes::display)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                format!(
                    "Instances are keys <prefix><service>/<instance> holding their address, \
                     attached to a lease the instance keeps alive ({read})."
                )
            },
        },
        on_retry,
        move |data, read_at| {
            grid(
                data.services
                    .into_iter()
                    .map(|service| service_card(service, read_at, now)),
            )
        },
    )
}

fn service_card(service: Service, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let Service {
        prefix,
        name,
        instances,
    } = service;
    let countdowns: Vec<(bool, Countdown, Option<i64>)> = instances
        .iter()
        .map(|i| {
            (
                i.lease.is_some(),
                Countdown::new(i.lease_ttl, read_at),
                i.granted_ttl,
            )
        })
        .collect();
    let tally = move || {
        let now = now.get();
        let mut counts = [0usize; 3];
        for (lease, countdown, granted) in &countdowns {
            match liveness(*lease, countdown.remaining(now), *granted) {
                Liveness::Alive => counts[0] += 1,
                Liveness::Expiring => counts[1] += 1,
                Liveness::Gone => counts[2] += 1,
            }
        }
        let mut parts = vec![format!("{} alive", counts[0])];
        if counts[1] > 0 {
            parts.push(format!("{} expiring", counts[1]));
        }
        if counts[2] > 0 {
            parts.push(format!("{} gone", counts[2]));
        }
        parts.join(" · ")
    };
    view! {
        <article data-testid="service-card" data-name=name.display() class=CARD>
            <div>
                <h2 class="break-all text-2xl font-bold">{name.display()}</h2>
                <p class=format!("break-all font-mono text-sm {MUTED}")>{prefix.display()}</p>
            </div>
            <p data-testid="service-tally" class="text-lg font-medium">{tally}</p>
            <ul class="flex flex-col gap-2">
                {instances
                    .into_iter()
                    .map(|instance| instance_row(instance, read_at, now))
                    .collect_view()}
            </ul>
        </article>
    }
}

fn instance_row(instance: Instance, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let Instance {
        key,
        name,
        address,
        lease,
        lease_ttl,
        granted_ttl,
        ..
    } = instance;
    let left = ticking(lease_ttl, read_at, now);
    let has_lease = lease.is_some();
    let state = move || liveness(has_lease, left(), granted_ttl);
    let dot = move || match state() {
        Liveness::Alive => "inline-block h-3 w-3 shrink-0 rounded-full bg-emerald-500",
        Liveness::Expiring => {
            "inline-block h-3 w-3 shrink-0 animate-pulse rounded-full bg-amber-500"
        }
        Liveness::Gone => "inline-block h-3 w-3 shrink-0 rounded-full bg-red-500",
    };
    let ttl = move || match (has_lease, granted_ttl) {
        (false, _) => "no lease".to_owned(),
        (true, Some(granted)) => {
            format!("TTL {} / {}", format_ttl(left()), format_ttl(Some(granted)))
        }
        (true, None) => format!("TTL {}", format_ttl(left())),
    };
    view! {
        <li
            data-testid="service-instance"
            data-name=name.display()
            data-state=move || state().as_str()
            class="rounded-lg border border-slate-300 bg-white p-2 dark:border-slate-600 dark:bg-slate-950"
        >
            <div class="flex flex-wrap items-center gap-2">
                <span aria-hidden="true" class=dot></span>
                <a href=key_href(&key) class="break-all font-mono text-lg font-semibold hover:underline" title="Open this key">
                    {name.display()}
                </a>
                <span class=move || format!("ml-auto text-sm font-bold uppercase {}", liveness_tone(state()))>
                    {move || state().as_str()}
                </span>
            </div>
            <div class="flex flex-wrap items-baseline justify-between gap-x-3">
                <span data-testid="instance-address" class="break-all font-mono text-base">
                    {address.unwrap_or_else(|| "(no address in the value)".to_owned())}
                </span>
                <span data-testid="instance-ttl" class=format!("tabular-nums {MUTED}")>{ttl}</span>
            </div>
        </li>
    }
}
