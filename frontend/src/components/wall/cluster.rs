//! The tiles drawn from the cluster view: the cluster's state first (green,
//! amber or red with every reason in words, the fault tolerance, the
//! members that answer), and etcd's writes per second.
//!
//! DOM contract: `wall-cluster-tone` (`data-tone`: `ok`, `warn`, `bad`,
//! `unknown`), `wall-reason` (`data-tone`), `wall-tolerance`,
//! `wall-members`, `wall-writes`.

use etcdeck_shared::cluster::{ClusterView, MemberState, Tone};
use leptos::prelude::*;

use super::model::{TileState, WallTone, first_of, shown_tone, verdict_lines};
use super::{BIG, MAX_ROWS, MUTED, TEXT, Tile};
use crate::coord::format_rate;
use crate::live_view::ReadState;

fn tone_frame(tone: WallTone) -> &'static str {
    match tone {
        WallTone::Ok => {
            "border-emerald-500 bg-emerald-50 text-emerald-950 dark:border-emerald-600 dark:bg-emerald-950 dark:text-emerald-100"
        }
        WallTone::Warn => {
            "border-amber-500 bg-amber-50 text-amber-950 dark:border-amber-500 dark:bg-amber-950 dark:text-amber-100"
        }
        WallTone::Bad => {
            "border-red-500 bg-red-50 text-red-950 dark:border-red-600 dark:bg-red-950 dark:text-red-100"
        }
        WallTone::Unknown => {
            "border-slate-400 bg-slate-100 text-slate-800 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-200"
        }
    }
}

fn headline(tone: WallTone) -> &'static str {
    match tone {
        WallTone::Ok => "etcd is healthy",
        WallTone::Warn => "etcd is degraded",
        WallTone::Bad => "etcd is in trouble",
        WallTone::Unknown => "state not live",
    }
}

fn reason_dot(tone: Tone) -> (&'static str, &'static str) {
    match tone {
        Tone::Ok => ("ok", "bg-emerald-500"),
        Tone::Warn => ("warn", "bg-amber-500"),
        Tone::Bad => ("bad", "bg-red-600"),
    }
}

/// The cluster's state and alerts.
#[component]
pub fn ClusterTile(
    #[prop(into)] state: Signal<ReadState<ClusterView>>,
    #[prop(into)] tile: Signal<TileState>,
    /// Grid placement.
    #[prop(into, optional)]
    place: &'static str,
) -> impl IntoView {
    let verdict = Memo::new(move |_| {
        state.with(|s| {
            s.data
                .as_ref()
                .map(|view| verdict_lines(view, view.read_at_ms))
        })
    });
    let tone = Memo::new(move |_| {
        shown_tone(
            &tile.get(),
            verdict.with(|v| v.as_ref().map(|(tone, _)| *tone)),
        )
    });
    let class = Signal::derive(move || format!("{place} {}", tone_frame(tone.get())));
    view! {
        <Tile name="cluster" title="Cluster" state=tile class=class>
            {move || {
                let Some(view) = state.with(|s| s.data.clone()) else {
                    return ().into_any();
                };
                let reasons = verdict.get().map(|(_, r)| r).unwrap_or_default();
                let up = view
                    .members
                    .iter()
                    .filter(|m| matches!(m.state, MemberState::Up(_)))
                    .count();
                let leader = view
                    .members
                    .iter()
                    .find(|m| m.is_leader)
                    .map(|m| if m.name.is_empty() { m.id.clone() } else { m.name.clone() });
                let members = format!(
                    "{up} of {} members answer · {}",
                    view.members.len(),
                    leader.map_or_else(|| "no leader".to_owned(), |l| format!("leader {l}"))
                );
                let (reasons, more) = first_of(reasons, MAX_ROWS);
                view! {
                    <p
                        data-testid="wall-cluster-tone"
                        data-tone=move || tone.get().as_str()
                        role="status"
                        class=BIG
                    >
                        {move || headline(tone.get())}
                    </p>
                    <p data-testid="wall-tolerance" class=format!("{TEXT} font-semibold")>
                        {view.tolerance.clone()}
                    </p>
                    <p data-testid="wall-members" class=format!("{TEXT} {MUTED}")>{members}</p>
                    <ul class="flex min-h-0 flex-col gap-[0.4vh]">
                        {reasons
                            .into_iter()
                            .map(|(tone, reason)| {
                                let (name, dot) = reason_dot(tone);
                                let full = reason.clone();
                                view! {
                                    <li
                                        data-testid="wall-reason"
                                        data-tone=name
                                        class=format!("{TEXT} flex min-w-0 items-center gap-[0.6vw]")
                                    >
                                        <span
                                            aria-hidden="true"
                                            class=format!("inline-block h-[1.2vh] w-[1.2vh] shrink-0 rounded-full {dot}")
                                        ></span>
                                        <span class="truncate" title=full>{reason}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                        {(more > 0)
                            .then(|| {
                                view! {
                                    <li class=format!("{TEXT} {MUTED}")>
                                        {format!("+{more} more on the cluster page")}
                                    </li>
                                }
                            })}
                    </ul>
                }
                .into_any()
            }}
        </Tile>
    }
}

/// etcd's writes per second (revisions per second over the last minute).
#[component]
pub fn WritesTile(
    #[prop(into)] state: Signal<ReadState<ClusterView>>,
    #[prop(into)] tile: Signal<TileState>,
) -> impl IntoView {
    view! {
        <Tile name="writes" title="Writes" state=tile>
            {move || {
                state
                    .with(|s| s.data.as_ref().map(|v| (v.writes_per_sec, v.revision)))
                    .map(|(rate, revision)| {
                        view! {
                            <p data-testid="wall-writes" class=BIG>
                                {format_rate(rate)}
                            </p>
                            <p class=format!("{TEXT} {MUTED}")>
                                {if rate.is_some() { "revisions per second, last minute" } else { "measuring the first minute" }}
                            </p>
                            <p class=format!("{TEXT} {MUTED}")>
                                {revision.map_or_else(|| "revision unknown".to_owned(), |r| format!("revision {r}"))}
                            </p>
                        }
                    })
            }}
        </Tile>
    }
}
