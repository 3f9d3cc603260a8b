//! The leases view: one card per lease with its countdown, its attached
//! keys, and (for sessions that may write) keep-alive and revoke; above
//! the cards, "Grant lease" with the TTL checked as the backend checks it.

use std::collections::HashMap;

use etcdeck_shared::LeaseId;
use etcdeck_shared::coord::{LeaseDetail, Leases};
use leptos::prelude::*;

use super::frame::{
    CARD, Frame, MUTED, frame_with_tools, grid, key_link, liveness_tone, plural, ticking,
    ttl_tooltip,
};
use crate::coord::{Liveness, TtlShown, format_shown, format_ttl, shown_liveness};
use crate::freshness::ViewState;
use crate::lease_actions::{LeaseActions, parse_ttl, revoke_permissions};
use crate::live_view::ReadState;
use crate::may_write::Permission;
use crate::route::CoordKind;

#[component]
pub fn LeasesView(
    #[prop(into)] state: Signal<ReadState<Leases>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
    /// The view's freshness, for the stale notice; none without it.
    #[prop(into, optional)]
    live: MaybeProp<ViewState>,
    /// Grant, keep alive once and revoke; none without it.
    #[prop(optional)]
    actions: Option<LeaseActions>,
) -> impl IntoView {
    // Whether etcd would let this user revoke each lease shown (revoking
    // deletes its keys); asked when the shown keys change, not per answer.
    let may_revoke = actions.map(|actions| {
        revoke_permissions(
            actions,
            Signal::derive(move || {
                state.with(|s| {
                    s.data.as_ref().map_or_else(Vec::new, |d| {
                        d.leases.iter().map(|l| (l.id, l.keys.clone())).collect()
                    })
                })
            }),
        )
    });
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
            live,
        },
        on_retry,
        actions.map(|actions| lease_tools(actions).into_any()),
        move |data, read_at| {
            grid(
                data.leases
                    .into_iter()
                    .map(|lease| lease_card(lease, read_at, now, actions, may_revoke)),
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
fn lease_card_actions(
    actions: LeaseActions,
    id: LeaseId,
    key_count: u64,
    may_revoke: Signal<Permission>,
) -> impl IntoView {
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
                    prop:disabled=move || actions.busy.get() || !may_revoke.with(Permission::enabled)
                    title=move || may_revoke.with(|p| p.title("Revoke this lease: its keys are deleted with it"))
                    on:click=move |_| confirming.set(true)
                >
                    "Revoke"
                </button>
            </div>
            {move || may_revoke.with(Permission::refusal).map(|why| view! {
                <p data-testid="lease-revoke-hint" class=format!("text-sm {MUTED}")>
                    {format!("Revoking is off: {why}")}
                </p>
            })}
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
                            prop:disabled=move || actions.busy.get() || !may_revoke.with(Permission::enabled)
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
    may_revoke: Option<Memo<HashMap<LeaseId, Permission>>>,
) -> impl IntoView {
    let LeaseDetail {
        id,
        granted_ttl,
        remaining_ttl,
        keys,
        more_keys,
    } = lease;
    let left = ticking(remaining_ttl, read_at, now);
    let state = move || shown_liveness(true, left(), Some(granted_ttl));
    let tooltip = ttl_tooltip(remaining_ttl, read_at);
    let bar = move || {
        let fraction = match (left(), granted_ttl) {
            (TtlShown::Left(left), granted) if granted > 0 => {
                (left as f64 / granted as f64).clamp(0.0, 1.0)
            }
            _ => 0.0,
        };
        // A width through the CSSOM, not a `style` attribute, which the
        // Content-Security-Policy (`style-src 'self'`) refuses.
        format!("{:.1}%", fraction * 100.0)
    };
    let bar_tone = move || match state() {
        Liveness::Alive => "h-full rounded-full bg-emerald-500",
        Liveness::Expiring | Liveness::Checking => "h-full rounded-full bg-amber-500",
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
                    title=tooltip
                    class=move || format!("text-5xl font-bold tabular-nums {}", liveness_tone(state()))
                >
                    {move || format_shown(left())}
                </span>
                <span class=format!("text-lg {MUTED}")>
                    {move || match left() {
                        TtlShown::Left(_) => format!("left of {}", format_ttl(Some(granted_ttl))),
                        TtlShown::Checking => {
                            format!("asking etcd (granted {})", format_ttl(Some(granted_ttl)))
                        }
                        TtlShown::Gone => {
                            format!("expired (granted {})", format_ttl(Some(granted_ttl)))
                        }
                    }}
                </span>
            </div>
            <div class="h-2 w-full rounded-full bg-slate-200 dark:bg-slate-700" aria-hidden="true">
                <div class=bar_tone style:width=bar></div>
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
            {actions.map(|actions| {
                let may = Signal::derive(move || {
                    may_revoke
                        .and_then(|m| m.with(|m| m.get(&id).cloned()))
                        .unwrap_or(Permission::Unknown)
                });
                lease_card_actions(actions, id, key_count, may)
            })}
        </article>
    }
}
