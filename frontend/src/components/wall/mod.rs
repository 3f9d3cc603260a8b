//! The wall screen's tiles, each drawn from data it is handed (fetching
//! nothing): [`cluster`] (the cluster's state and alerts, writes per
//! second), [`live`] (watch events per second), [`coord`] (locks held and
//! waiting, election leaders, queue depths with their trend, services alive
//! and expiring). This file holds the frame every tile shares ([`Tile`]:
//! its title, its own "stale since HH:MM:SS" line, loading and failed
//! states) and the type sizes, which scale with the viewport so one screen
//! reads the same at 1920x1080 and 3840x2160; the page sets
//! `--wall-scale` (larger in kiosk mode). [`model`] is the pure logic.
//!
//! DOM contract: `wall-tile` (`data-tile`: `cluster`, `writes`, `events`,
//! `locks`, `elections`, `queues`, `services`; `data-state`: `loading`,
//! `live`, `stale`, `failed`), `wall-tile-body`, `wall-stale` (`data-since`), `wall-loading`,
//! `wall-failed`, `wall-empty`, and each tile's own (see its module).

pub mod cluster;
pub mod coord;
pub mod live;
pub mod model;

pub use cluster::{ClusterTile, WritesTile};
pub use coord::{ElectionsTile, LocksTile, QueuesTile, ServicesTile};
pub use live::EventsTile;

use leptos::prelude::*;

use crate::freshness::clock_text;
use model::TileState;

/// A tile's title.
pub(crate) const TITLE: &str = "truncate text-[length:calc(var(--wall-scale)*min(1.4vw,2.5vh))] font-semibold uppercase tracking-wide text-slate-600 dark:text-slate-300";
/// The one big figure of a tile.
pub(crate) const BIG: &str = "truncate text-[length:calc(var(--wall-scale)*min(4.2vw,7.5vh))] font-bold leading-none tabular-nums";
/// Text under the big figure and list rows.
pub(crate) const TEXT: &str =
    "truncate text-[length:calc(var(--wall-scale)*min(1.3vw,2.3vh))] leading-tight";
/// Muted text.
pub(crate) const MUTED: &str = "text-slate-600 dark:text-slate-300";
/// Most rows a list tile shows; the rest are counted.
pub const MAX_ROWS: usize = 3;

/// The frame of one tile: title, stale line, and the body, or loading /
/// failed in its place.
#[component]
pub fn Tile(
    /// The `data-tile` name.
    name: &'static str,
    title: &'static str,
    #[prop(into)] state: Signal<TileState>,
    /// Extra classes (grid placement, border colour).
    #[prop(into, optional)]
    class: MaybeProp<String>,
    children: ChildrenFn,
) -> impl IntoView {
    let children = StoredValue::new(children);
    let frame = move || {
        format!(
            "flex min-h-0 min-w-0 flex-col gap-[0.8vh] overflow-hidden rounded-2xl border-4 p-[1.4vh] {}",
            class.get().unwrap_or_else(|| {
                "border-slate-300 bg-slate-50 dark:border-slate-700 dark:bg-slate-900".to_owned()
            })
        )
    };
    let body = move || {
        match state.get() {
        TileState::Loading => view! {
            <p data-testid="wall-loading" role="status" class=format!("{TEXT} {MUTED}")>"loading…"</p>
        }
        .into_any(),
        TileState::Failed { message } => {
            let full = message.clone();
            view! {
            <div data-testid="wall-failed" role="alert" class="min-h-0 overflow-hidden text-red-800 dark:text-red-300">
                <p class=format!("{TEXT} font-semibold")>"could not read"</p>
                <p class=format!("{TEXT} line-clamp-3 whitespace-normal") title=full>{message}</p>
            </div>
        }
        .into_any()
        }
        TileState::Live | TileState::Stale { .. } => children.with_value(|c| c()).into_any(),
    }
    };
    let stale = move || match state.get() {
        TileState::Stale { since_ms } => Some(view! {
            <p
                data-testid="wall-stale"
                data-since=since_ms.to_string()
                role="status"
                class=format!("{TEXT} shrink-0 rounded bg-amber-100 px-[0.5vw] font-semibold text-amber-900 dark:bg-amber-950 dark:text-amber-200")
            >
                {format!("stale since {}", clock_text(since_ms))}
            </p>
        }),
        _ => None,
    };
    view! {
        <article
            data-testid="wall-tile"
            data-tile=name
            data-state=move || state.get().as_str()
            aria-label=title
            class=frame
        >
            <h2 class=format!("{TITLE} shrink-0")>{title}</h2>
            {stale}
            <div data-testid="wall-tile-body" class="flex min-h-0 flex-1 flex-col gap-[0.6vh] overflow-hidden">{body}</div>
        </article>
    }
}

/// A list tile's rows, the first [`MAX_ROWS`] of `rows` and "+N more".
pub(crate) fn rows_view(rows: Vec<(String, String)>, testid: &'static str) -> impl IntoView {
    let (rows, more) = model::first_of(rows, MAX_ROWS);
    view! {
        <ul class="flex min-h-0 flex-col gap-[0.4vh]">
            {rows
                .into_iter()
                .map(|(name, detail)| {
                    let full = name.clone();
                    view! {
                        <li data-testid=testid class=format!("{TEXT} flex min-w-0 gap-[0.6vw]")>
                            <span class="truncate font-mono font-semibold" title=full>{name}</span>
                            <span class=format!("ml-auto shrink-0 {MUTED}")>{detail}</span>
                        </li>
                    }
                })
                .collect_view()}
            {(more > 0).then(|| view! { <li class=format!("{TEXT} {MUTED}")>{format!("+{more} more")}</li> })}
        </ul>
    }
}

/// The empty state of a tile.
pub(crate) fn empty_view(words: &'static str) -> impl IntoView {
    view! { <p data-testid="wall-empty" class=format!("{TEXT} {MUTED}")>{words}</p> }
}
