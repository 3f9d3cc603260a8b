//! `/wall`: the team's monitoring screen, one screen without scrolling,
//! read from across a room. The cluster's state and alerts come first,
//! then writes per second, watch events per second, locks, election
//! leaders, queues with their trend and services. `?kiosk` hides the
//! navigation and sets larger type; dark mode follows the system.
//!
//! Every tile reads through the app's one way of staying current: the
//! cluster view is a [`LiveView`] polled every [`REFRESH_EVERY`] (the
//! backend's prober readings, which cost etcd nothing), the coordination
//! views are [`LiveView`]s that re-read on the changes touching them, and
//! the events rate counts one whole-keyspace subscription over the tab's
//! WebSocket, its freshness fed by [`follow_link`] like every view's. Each
//! tile shows its own "stale since" when its data is not live, and the
//! cluster tile is never green then.
//!
//! DOM contract: `wall` (`data-kiosk`), and the tiles'
//! ([`crate::components::wall`]).

use etcdeck_shared::Bytes;
use etcdeck_shared::ws::WatchRange;
use leptos::prelude::*;

use crate::api;
use crate::components::wall::model::{EventRate, QueueTrends, TileState, tile_state};
use crate::components::wall::{
    ClusterTile, ElectionsTile, EventsTile, LocksTile, QueuesTile, ServicesTile, WritesTile,
};
use crate::freshness::{Freshness, ViewState, now_ms};
use crate::live::Delivery;
use crate::live_view::{Health, LiveAnswer, LiveView, Watcher, follow_link};
use crate::pages::cluster::REFRESH_EVERY;
use crate::pages::coord::ticking_clock;

pub use crate::route::WALL_PATH;

/// Whether `search` (the raw query string) asks for kiosk mode: `?kiosk`,
/// `?kiosk=1`, or `kiosk` among other parameters (`kiosk=0` does not).
pub fn is_kiosk(search: &str) -> bool {
    search
        .strip_prefix('?')
        .unwrap_or(search)
        .split('&')
        .any(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            name == "kiosk" && !matches!(value, "0" | "false" | "no")
        })
}

/// A tile's state from a [`LiveView`].
fn tile_of<T: LiveAnswer>(live: LiveView<T>) -> Signal<TileState> {
    let view_state = live.view_state();
    Signal::derive(move || {
        let (has_data, error) = live
            .state
            .with(|s| (s.data.is_some(), s.error.as_ref().map(ToString::to_string)));
        tile_state(&view_state.get(), has_data, error)
    })
}

#[component]
pub fn WallPage() -> impl IntoView {
    let kiosk = is_kiosk(&window().location().search().unwrap_or_default());
    let cluster = LiveView::start(api::cluster).poll_every(REFRESH_EVERY);
    let locks = LiveView::start(api::locks);
    let elections = LiveView::start(api::elections);
    let queues = LiveView::start(api::queues);
    let services = LiveView::start(api::services);
    let now = ticking_clock();

    // The page keeps the queues' depths for their trend.
    let trends = RwSignal::new(QueueTrends::default());
    Effect::new(move |_| {
        let answer = queues
            .state
            .with(|s| s.data.clone().map(|d| (d, s.read_at_ms)));
        if let Some((answer, read_at)) = answer {
            trends.update(|t| t.take(&answer, read_at));
        }
    });

    let (rate, events_tile) = events_rate(now);
    let cluster_tile = tile_of(cluster);
    let scale = if kiosk {
        "[--wall-scale:1.12]"
    } else {
        "[--wall-scale:1]"
    };
    view! {
        <section
            data-testid="wall"
            data-kiosk=kiosk.to_string()
            aria-label="Wall screen"
            class=format!(
                "{scale} grid min-h-0 flex-1 grid-cols-4 grid-rows-[minmax(0,1fr)_minmax(0,1fr)] gap-[1.2vh] overflow-hidden p-[1.2vh]",
            )
        >
            <ClusterTile state=cluster.state tile=cluster_tile place="col-span-2" />
            <WritesTile state=cluster.state tile=cluster_tile />
            <EventsTile rate=rate tile=events_tile />
            <LocksTile state=locks.state tile=tile_of(locks) />
            <ElectionsTile state=elections.state tile=tile_of(elections) />
            <QueuesTile state=queues.state trends=trends tile=tile_of(queues) />
            <ServicesTile state=services.state now=now tile=tile_of(services) />
        </section>
    }
}

/// Counts the events of a whole-keyspace subscription: the rate (redrawn
/// with `now`) and the tile's state, stale while the connection or the
/// subscription is down, failed when etcd refuses the watch.
fn events_rate(now: Signal<u64>) -> (Signal<Option<f64>>, Signal<TileState>) {
    let counter = RwSignal::new(EventRate::default());
    let freshness = RwSignal::new(Freshness::new());
    let refused = RwSignal::new(None::<String>);
    // Nothing to read again: the subscription replays what it missed.
    follow_link(Health::from_context(), freshness, || {});
    if let Some(watcher) = Watcher::from_context() {
        let range = WatchRange {
            key: Bytes::default(),
            prefix: true,
        };
        let id = watcher.subscribe(range, false, None, move |delivery| match delivery {
            Delivery::Subscribed { revision } => {
                counter.try_update(|c| c.start(now_ms()));
                freshness.try_update(|f| f.seen(revision));
            }
            Delivery::Events(events) => {
                counter.try_update(|c| c.add(now_ms(), events.len() as u64));
                if let Some(latest) = events.iter().map(|e| e.kv.mod_revision).max() {
                    freshness.try_update(|f| f.seen(latest));
                }
            }
            Delivery::Reconnecting { .. } => {
                freshness.try_update(|f| f.watch_down(now_ms()));
            }
            Delivery::Live => {
                freshness.try_update(Freshness::watch_up);
            }
            Delivery::Closed(error) => {
                refused.try_set(Some(error.message));
            }
            // Missed changes cannot be counted; the count goes on.
            Delivery::Gap(_) | Delivery::Snapshot { .. } => {}
        });
        let watcher = StoredValue::new_local(watcher);
        on_cleanup(move || {
            if let Some(watcher) = watcher.try_get_value() {
                watcher.unsubscribe(id);
            }
        });
    }
    let rate = Signal::derive(move || {
        let now = now.get();
        counter.with(|c| c.per_sec(now))
    });
    let tile = Signal::derive(move || match refused.get() {
        Some(message) => TileState::Failed { message },
        None => {
            let state = freshness.with(Freshness::state);
            let has_data = !matches!(state, ViewState::Loading);
            tile_state(&state, has_data, None)
        }
    });
    (rate, tile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    #[unit_test]
    fn kiosk_mode_comes_from_the_query() {
        assert!(is_kiosk("?kiosk"));
        assert!(is_kiosk("?kiosk=1"));
        assert!(is_kiosk("?a=b&kiosk"));
        assert!(!is_kiosk("?kiosk=0"));
        assert!(!is_kiosk("?kiosks"));
        assert!(!is_kiosk(""));
    }
}
