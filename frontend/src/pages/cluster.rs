//! `/cluster`: the cluster's health at a glance (green, amber or red, with
//! every alert in words and a sentence each of what to do), its members
//! through their own endpoints, alarms, fault tolerance, the database
//! against its quota (and where the quota comes from), the compaction
//! revision, and the leader changes seen while etcdeck runs. Read through a [`LiveView`] every
//! [`REFRESH_EVERY`] (the view is made of the backend's prober readings,
//! which cost etcd nothing more); stale meanwhile.
//!
//! DOM contract: `cluster-page`, `cluster-loading`, `cluster-error`,
//! `cluster-verdict` (`data-tone`: `ok`, `warn`, `bad`), `cluster-reason`
//! (one per alert, `data-tone`; its `cluster-todo` inside), `cluster-tolerance`,
//! `cluster-member` rows (`data-state`: `up`, `down`, `unknown`;
//! `data-leader`), `cluster-alarm`, `cluster-leader-change`, `cluster-db`,
//! `cluster-quota-source`, `cluster-compaction` (`data-revision` when
//! known), `stale-notice`.

use std::time::Duration;

use etcdeck_shared::cluster::{ClusterView, Member, MemberState, Tone, verdict};
use leptos::prelude::*;

use crate::api;
use crate::components::cluster_ops::ClusterOps;
use crate::components::read_notes::{Loading, ReadFailed};
use crate::components::stale_notice::StaleNotice;
use crate::format::human_size;
use crate::freshness::{ViewState, clock_text};
use crate::live_view::{LiveView, ReadState, polled_answer};

pub use crate::route::CLUSTER_PATH;

/// How often a visible cluster page reads again: as often as the prober
/// asks the members, so that a member down or a new leader shows within a
/// probe round and one read. It costs etcd nothing (the backend answers
/// from its readings).
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

const MUTED: &str = "text-slate-600 dark:text-slate-300";

// The cluster view is not in etcd's keyspace: nothing to watch.
polled_answer!(ClusterView);

#[component]
pub fn ClusterPage() -> impl IntoView {
    let live = LiveView::start(api::cluster).poll_every(REFRESH_EVERY);
    view! { <ClusterPanel state=live.state live=live.view_state() /> <ClusterOps cluster=live.state /> }
}

/// The cluster view (fetches nothing).
#[component]
pub fn ClusterPanel(
    #[prop(into)] state: Signal<ReadState<ClusterView>>,
    /// The page's freshness, for the stale notice.
    #[prop(into, optional)]
    live: MaybeProp<ViewState>,
) -> impl IntoView {
    let body = move || {
        let (data, error) = state.with(|s| (s.data.clone(), s.error.clone()));
        match (data, error) {
            (Some(view), _) => cluster_body(view).into_any(),
            (None, Some(error)) => view! {
                <ReadFailed testid="cluster-error" what="could not read the cluster's state" error=error.to_string() />
            }
            .into_any(),
            (None, None) => view! {
                <Loading testid="cluster-loading" />
            }
            .into_any(),
        }
    };
    view! {
        <section
            data-testid="cluster-page"
            aria-label="Cluster"
            class="flex min-h-0 flex-1 flex-col gap-4 overflow-auto p-4 lg:p-6 min-[3000px]:[zoom:1.25]"
        >
            <div class="flex flex-wrap items-baseline gap-x-6 gap-y-1">
                <h1 class="text-3xl font-bold tracking-tight">"Cluster"</h1>
                <span class=format!("text-sm {MUTED}")>
                    "every member through its own endpoint, refreshed every second"
                </span>
            </div>
            <StaleNotice state=live />
            {body}
        </section>
    }
}

fn tone_name(tone: Tone) -> &'static str {
    match tone {
        Tone::Ok => "ok",
        Tone::Warn => "warn",
        Tone::Bad => "bad",
    }
}

fn tone_box(tone: Tone) -> &'static str {
    match tone {
        Tone::Ok => {
            "border-emerald-500 bg-emerald-50 text-emerald-950 dark:border-emerald-600 dark:bg-emerald-950 dark:text-emerald-100"
        }
        Tone::Warn => {
            "border-amber-500 bg-amber-50 text-amber-950 dark:border-amber-600 dark:bg-amber-950 dark:text-amber-100"
        }
        Tone::Bad => {
            "border-red-500 bg-red-50 text-red-950 dark:border-red-600 dark:bg-red-950 dark:text-red-100"
        }
    }
}

fn cluster_body(view: ClusterView) -> impl IntoView {
    let verdict = verdict(&view, view.read_at_ms);
    let headline = match verdict.tone {
        Tone::Ok => "healthy",
        Tone::Warn => "degraded",
        Tone::Bad => "in trouble",
    };
    let db = match (view.db_size_bytes, view.quota_bytes) {
        (Some(size), Some(quota)) if quota > 0 => format!(
            "{} of {} quota ({:.0} %)",
            human_size(size as usize),
            human_size(quota as usize),
            size as f64 * 100.0 / quota as f64
        ),
        (Some(size), _) => format!("{} (quota not known)", human_size(size as usize)),
        (None, _) => "unknown: no member answers".to_owned(),
    };
    let writes = view.writes_per_sec.map_or_else(
        || "measuring…".to_owned(),
        |rate| format!("{rate:.1} revisions/s over the last minute"),
    );
    let revision = view
        .revision
        .map_or_else(|| "unknown".to_owned(), |r| r.to_string());
    let compact_revision = view
        .compact_revision
        .filter(|r| *r > 0)
        .map(|r| r.to_string());
    view! {
        <div
            data-testid="cluster-verdict"
            data-tone=tone_name(verdict.tone)
            role="status"
            class=format!("max-w-5xl rounded-xl border-4 p-4 {}", tone_box(verdict.tone))
        >
            <p class="text-3xl font-bold">{format!("etcd is {headline}")}</p>
            <ul class="mt-2 space-y-2 text-lg">
                {verdict
                    .alerts
                    .into_iter()
                    .map(|alert| {
                        view! {
                            <li
                                data-testid="cluster-reason"
                                data-tone=tone_name(alert.tone)
                                class=format!("rounded-lg border-l-8 px-3 py-1 {}", tone_box(alert.tone))
                            >
                                <p class="font-semibold">{alert.what}</p>
                                <p data-testid="cluster-todo" class="text-base">
                                    <span class="font-semibold">"What to do: "</span>
                                    {alert.todo}
                                </p>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <p data-testid="cluster-tolerance" class="mt-2 text-xl font-semibold">
                {view.tolerance.clone()}
            </p>
        </div>
        <dl class="grid max-w-5xl grid-cols-[max-content_1fr] gap-x-6 gap-y-1 text-base 2xl:text-lg">
            <dt class=MUTED>"revision"</dt>
            <dd class="tabular-nums">{revision}</dd>
            <dt class=MUTED>"writes"</dt>
            <dd class="tabular-nums">{writes}</dd>
            <dt class=MUTED>"compaction"</dt>
            <dd data-testid="cluster-compaction" data-revision=compact_revision>
                {view.compaction.clone()}
            </dd>
            <dt class=MUTED>"database"</dt>
            <dd data-testid="cluster-db" class="tabular-nums">{db}</dd>
            <dt class=MUTED>"quota from"</dt>
            <dd data-testid="cluster-quota-source">{view.quota_source.clone()}</dd>
            <dt class=MUTED>"forecast"</dt>
            <dd>{view.forecast.clone()}</dd>
        </dl>
        {(!view.alarms.is_empty())
            .then(|| {
                view! {
                    <div class="max-w-5xl rounded-xl border-2 border-red-500 p-4">
                        <h2 class="text-xl font-semibold">"Alarms"</h2>
                        <ul class="mt-1 list-disc pl-6">
                            {view
                                .alarms
                                .iter()
                                .map(|a| {
                                    view! {
                                        <li data-testid="cluster-alarm">
                                            {format!("{} on member {}", a.alarm, a.member)}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </div>
                }
            })}
        {members_table(view.members)}
        <div class="max-w-5xl">
            <h2 class="text-xl font-semibold">"Leader changes"</h2>
            {if view.leader_changes.is_empty() {
                view! {
                    <p class=MUTED>"none since etcdeck started watching"</p>
                }
                    .into_any()
            } else {
                view! {
                    <ol class="mt-1 space-y-0.5">
                        {view
                            .leader_changes
                            .iter()
                            .map(|change| {
                                let name = |id: &Option<String>| {
                                    id.clone().unwrap_or_else(|| "no leader".to_owned())
                                };
                                view! {
                                    <li data-testid="cluster-leader-change" class="tabular-nums">
                                        {format!(
                                            "{}  {} → {}",
                                            clock_text(change.at_ms),
                                            name(&change.from),
                                            name(&change.to),
                                        )}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ol>
                }
                    .into_any()
            }}
        </div>
    }
}

fn members_table(members: Vec<Member>) -> impl IntoView {
    const TH: &str =
        "border-b-2 border-slate-300 px-2 py-1 text-left font-semibold dark:border-slate-700";
    const TD: &str = "border-b border-slate-200 px-2 py-1 align-top dark:border-slate-800";
    let rows = members
        .into_iter()
        .map(|member| {
            let (state, detail) = match &member.state {
                MemberState::Up(s) => (
                    "up",
                    format!(
                        "etcd {} · db {} ({} in use) · term {} · index {} · applied {} (lag {}) · {} ms",
                        s.version,
                        human_size(s.db_size_bytes as usize),
                        human_size(s.db_size_in_use_bytes as usize),
                        s.raft_term,
                        s.raft_index,
                        s.raft_applied_index,
                        s.apply_lag(),
                        s.latency_ms
                    ),
                ),
                MemberState::Down { error } => ("down", error.clone()),
                MemberState::Unknown { reason } => ("unknown", reason.clone()),
            };
            let tone = match state {
                "up" => "text-emerald-700 dark:text-emerald-400",
                "down" => "text-red-700 dark:text-red-400",
                _ => MUTED,
            };
            let role = match (member.is_leader, member.is_learner) {
                (true, _) => "leader",
                (_, true) => "learner",
                _ => "follower",
            };
            view! {
                <tr
                    data-testid="cluster-member"
                    data-state=state
                    data-leader=member.is_leader.to_string()
                >
                    <td class=format!("{TD} font-semibold")>
                        {if member.name.is_empty() { "(unnamed)".to_owned() } else { member.name.clone() }}
                    </td>
                    <td class=format!("{TD} font-mono")>{member.id.clone()}</td>
                    <td class=TD>{role}</td>
                    <td class=format!("{TD} font-mono text-sm")>{member.client_urls.join(" ")}</td>
                    <td class=format!("{TD} font-semibold {tone}")>{state}</td>
                    <td class=format!("{TD} text-sm")>{detail}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="overflow-x-auto">
            <table class="w-full border-collapse text-sm 2xl:text-base">
                <thead>
                    <tr>
                        <th class=TH>"member"</th>
                        <th class=TH>"id"</th>
                        <th class=TH>"role"</th>
                        <th class=TH>"client URLs"</th>
                        <th class=TH>"state"</th>
                        <th class=TH>"status"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
