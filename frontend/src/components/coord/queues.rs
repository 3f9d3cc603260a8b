//! The queues view: one card per queue with its depth counted by etcd,
//! the oldest item's age, the rates in and out and the depth's sparkline,
//! and the depth per priority of a priority queue.

use etcdeck_shared::coord::{DepthSample, Queue, QueueKind, Queues};
use leptos::prelude::*;

use super::frame::{BADGE, CARD, Frame, MUTED, frame, grid, plural};
use crate::coord::{format_count, format_duration, format_rate, sparkline_points};
use crate::freshness::ViewState;
use crate::live_view::ReadState;
use crate::route::CoordKind;

/// The sparkline's box in CSS pixels.
pub const SPARK_W: f64 = 160.0;
pub const SPARK_H: f64 = 48.0;

#[component]
pub fn QueuesView(
    #[prop(into)] state: Signal<ReadState<Queues>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
    /// The view's freshness, for the stale notice; none without it.
    #[prop(into, optional)]
    live: MaybeProp<ViewState>,
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
            live,
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
                                    // Through the CSSOM: the Content-Security-Policy
                                    // refuses `style` attributes.
                                    let width = format!(
                                        "{:.1}%",
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
                                                <span class="block h-full rounded-full bg-sky-500" style:width=width></span>
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
