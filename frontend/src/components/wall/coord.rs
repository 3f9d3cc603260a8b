//! The coordination tiles: locks held and waiting, election leaders, queue
//! depths with their trend (the depths the page keeps, drawn as a
//! sparkline), services alive and expiring by their leases' countdowns.
//!
//! DOM contract: `wall-locks-held`, `wall-locks-waiting`, `wall-lock`,
//! `wall-leaders`, `wall-election`, `wall-queue-depth`, `wall-queue`
//! (`data-trend`), `wall-services-alive`, `wall-services-expiring`,
//! `wall-service`.

use etcdeck_shared::coord::{Elections, Locks, Queues, Services};
use leptos::prelude::*;

use super::model::{QueueTrends, TileState, first_of};
use super::{BIG, MAX_ROWS, MUTED, TEXT, Tile, empty_view, rows_view};
use crate::coord::{
    Countdown, Liveness, format_count, lock_summary, shown_liveness, sparkline_points,
};
use crate::live_view::ReadState;

#[component]
pub fn LocksTile(
    #[prop(into)] state: Signal<ReadState<Locks>>,
    #[prop(into)] tile: Signal<TileState>,
) -> impl IntoView {
    view! {
        <Tile name="locks" title="Locks" state=tile>
            {move || {
                let Some(locks) = state.with(|s| s.data.clone()) else {
                    return ().into_any();
                };
                if locks.locks.is_empty() {
                    return empty_view("no locks found").into_any();
                }
                let held = locks.locks.iter().filter(|l| !l.holders.is_empty()).count();
                let waiting: usize = locks.locks.iter().map(|l| l.waiters.len()).sum();
                let rows = locks
                    .locks
                    .iter()
                    .map(|l| (l.prefix.display(), lock_summary(l)))
                    .collect();
                view! {
                    <p class=BIG>
                        <span data-testid="wall-locks-held">{held}</span>
                        " held"
                    </p>
                    <p data-testid="wall-locks-waiting" class=format!("{TEXT} {MUTED}")>
                        {format!("{waiting} waiting · {} locks", locks.locks.len())}
                    </p>
                    {rows_view(rows, "wall-lock")}
                }
                .into_any()
            }}
        </Tile>
    }
}

#[component]
pub fn ElectionsTile(
    #[prop(into)] state: Signal<ReadState<Elections>>,
    #[prop(into)] tile: Signal<TileState>,
) -> impl IntoView {
    view! {
        <Tile name="elections" title="Election leaders" state=tile>
            {move || {
                let Some(elections) = state.with(|s| s.data.clone()) else {
                    return ().into_any();
                };
                if elections.elections.is_empty() {
                    return empty_view("no elections found").into_any();
                }
                let led = elections.elections.iter().filter(|e| e.leader.is_some()).count();
                let rows = elections
                    .elections
                    .iter()
                    .map(|e| {
                        let leader = e.leader.as_ref().map_or_else(
                            || "no leader".to_owned(),
                            |l| {
                                if l.masked.is_some() {
                                    "(hidden)".to_owned()
                                } else {
                                    l.value.display()
                                }
                            },
                        );
                        (e.prefix.display(), leader)
                    })
                    .collect();
                view! {
                    <p class=BIG>
                        <span data-testid="wall-leaders">{led}</span>
                        {format!(" of {}", elections.elections.len())}
                    </p>
                    <p class=format!("{TEXT} {MUTED}")>"elections with a leader"</p>
                    {rows_view(rows, "wall-election")}
                }
                .into_any()
            }}
        </Tile>
    }
}

#[component]
pub fn QueuesTile(
    #[prop(into)] state: Signal<ReadState<Queues>>,
    #[prop(into)] trends: Signal<QueueTrends>,
    #[prop(into)] tile: Signal<TileState>,
) -> impl IntoView {
    view! {
        <Tile name="queues" title="Queues" state=tile>
            {move || {
                let Some(queues) = state.with(|s| s.data.clone()) else {
                    return ().into_any();
                };
                if queues.queues.is_empty() {
                    return empty_view("no queues found").into_any();
                }
                let total: u64 = queues.queues.iter().map(|q| q.depth).sum();
                let (shown, more) = first_of(queues.queues.clone(), MAX_ROWS);
                let rows = trends.with(|trends| {
                    shown
                        .into_iter()
                        .map(|q| {
                            let trend = trends.trend(&q.prefix);
                            let points = sparkline_points(&trends.samples(&q.prefix), 100.0, 20.0);
                            (q.prefix.display(), q.depth, trend, points)
                        })
                        .collect::<Vec<_>>()
                });
                view! {
                    <p class=BIG>
                        <span data-testid="wall-queue-depth">{format_count(total)}</span>
                        <span class=format!("{TEXT} {MUTED}")>" items"</span>
                    </p>
                    <ul class="flex min-h-0 flex-col gap-[0.4vh]">
                        {rows
                            .into_iter()
                            .map(|(name, depth, trend, points)| {
                                let full = name.clone();
                                view! {
                                    <li
                                        data-testid="wall-queue"
                                        data-trend=trend.as_str()
                                        class=format!("{TEXT} flex min-w-0 items-center gap-[0.6vw]")
                                    >
                                        <span class="truncate font-mono font-semibold" title=full>{name}</span>
                                        <svg
                                            aria-hidden="true"
                                            viewBox="0 0 100 20"
                                            preserveAspectRatio="none"
                                            class="ml-auto h-[2.2vh] w-[5vw] shrink-0 text-sky-600 dark:text-sky-400"
                                        >
                                            <polyline
                                                points=points
                                                fill="none"
                                                stroke="currentColor"
                                                stroke-width="2"
                                                vector-effect="non-scaling-stroke"
                                            />
                                        </svg>
                                        <span class="shrink-0 font-bold tabular-nums">{format_count(depth)}</span>
                                        <span class=format!("shrink-0 {MUTED}")>{trend.words()}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                        {(more > 0).then(|| view! { <li class=format!("{TEXT} {MUTED}")>{format!("+{more} more")}</li> })}
                    </ul>
                }
                .into_any()
            }}
        </Tile>
    }
}

#[component]
pub fn ServicesTile(
    #[prop(into)] state: Signal<ReadState<Services>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(into)] tile: Signal<TileState>,
) -> impl IntoView {
    view! {
        <Tile name="services" title="Services" state=tile>
            {move || {
                let Some((services, read_at)) = state.with(|s| s.data.clone().map(|d| (d, s.read_at_ms))) else {
                    return ().into_any();
                };
                if services.services.is_empty() {
                    return empty_view("no services registered").into_any();
                }
                let now = now.get();
                let mut alive = 0;
                let mut expiring = 0;
                let rows = services
                    .services
                    .iter()
                    .map(|service| {
                        let mut counts = [0usize; 2];
                        for i in &service.instances {
                            let shown = Countdown::new(i.lease_ttl, read_at).shown(now);
                            match shown_liveness(i.lease.is_some(), shown, i.granted_ttl) {
                                Liveness::Alive => counts[0] += 1,
                                Liveness::Expiring | Liveness::Checking => counts[1] += 1,
                                Liveness::Gone => {}
                            }
                        }
                        alive += counts[0];
                        expiring += counts[1];
                        let detail = if counts[1] > 0 {
                            format!("{} alive · {} expiring", counts[0], counts[1])
                        } else {
                            format!("{} alive", counts[0])
                        };
                        (service.name.display(), detail)
                    })
                    .collect();
                view! {
                    <p class=BIG>
                        <span data-testid="wall-services-alive">{alive}</span>
                        " alive"
                    </p>
                    <p
                        data-testid="wall-services-expiring"
                        class=move || {
                            if expiring > 0 {
                                format!("{TEXT} font-semibold text-amber-700 dark:text-amber-300")
                            } else {
                                format!("{TEXT} {MUTED}")
                            }
                        }
                    >
                        {format!("{expiring} expiring · {} services", services.services.len())}
                    </p>
                    {rows_view(rows, "wall-service")}
                }
                .into_any()
            }}
        </Tile>
    }
}
