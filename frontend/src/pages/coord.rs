//! The coordination pages (`/leases`, `/locks`, `/elections`, `/queues`,
//! `/services`): each reads its endpoint through a [`LiveView`], which
//! keeps the answer current (see [`crate::live_view`]), and hands it to its
//! view in [`crate::components::coord`] with the one-second clock the TTL
//! countdowns are drawn with, the only timer that repeats. Nothing polls.
//!
//! Views that can gain items anywhere (a lock taken under a new name) watch
//! the whole keyspace and filter events with [`CoordAnswer::touches`]; an
//! etcd user who may not do that watches the shown prefixes instead. The
//! leases page also acts ([`LeaseActions`]) and reads again after each
//! action.

use std::time::Duration;

use etcdeck_shared::ws::{WatchEvent, WatchRange};
use etcdeck_shared::{Bytes, Revision};
use leptos::prelude::*;

use crate::api;
use crate::components::coord::{ElectionsView, LeasesView, LocksView, QueuesView, ServicesView};
use crate::coord::{CoordAnswer, not_yet_shown, recheck_at_ms, watch_plan};
use crate::freshness::now_ms;
use crate::lease_actions::LeaseActions;
use crate::live_view::{LiveAnswer, LiveView};

/// Every coordination answer is kept current the same way: what it
/// watches, which events touch it and which countdowns it shows are the
/// pure rules of [`crate::coord`].
impl<T: CoordAnswer> LiveAnswer for T {
    fn read_at(&self) -> Revision {
        CoordAnswer::revision(self)
    }

    fn watches(&self, whole_keyspace_allowed: bool) -> Vec<WatchRange> {
        watch_plan(self, whole_keyspace_allowed)
    }

    fn changed_by(&self, event: &WatchEvent) -> bool {
        CoordAnswer::touches(self, event)
    }

    fn not_shown(&self, created: &[Bytes]) -> Vec<Bytes> {
        not_yet_shown(self, created)
    }

    fn recheck_at_ms(&self, read_at_ms: u64) -> Option<u64> {
        recheck_at_ms(&CoordAnswer::countdowns(self), read_at_ms)
    }
}

/// The clock the countdowns are drawn with: the time now, updated every
/// second until the calling owner is cleaned up.
pub fn ticking_clock() -> Signal<u64> {
    let now = RwSignal::new(now_ms());
    let timer = set_interval_with_handle(
        move || {
            now.try_set(now_ms());
        },
        Duration::from_secs(1),
    )
    .ok();
    on_cleanup(move || {
        if let Some(timer) = timer {
            timer.clear();
        }
    });
    now.into()
}

#[component]
pub fn LeasesPage() -> impl IntoView {
    let live = LiveView::start(api::leases);
    let now = ticking_clock();
    let actions = LeaseActions::new(
        crate::session::can_write(),
        crate::session::read_only_reason(),
        Callback::new(move |()| live.read()),
    );
    view! {
        <LeasesView
            state=live.state
            now=now
            on_retry=Callback::new(move |()| live.read())
            actions=actions
            live=live.view_state()
        />
    }
}

#[component]
pub fn LocksPage() -> impl IntoView {
    let live = LiveView::start(api::locks);
    let now = ticking_clock();
    view! {
        <LocksView
            state=live.state
            now=now
            on_retry=Callback::new(move |()| live.read())
            live=live.view_state()
        />
    }
}

#[component]
pub fn ElectionsPage() -> impl IntoView {
    let live = LiveView::start(api::elections);
    let now = ticking_clock();
    view! {
        <ElectionsView
            state=live.state
            now=now
            on_retry=Callback::new(move |()| live.read())
            live=live.view_state()
        />
    }
}

#[component]
pub fn QueuesPage() -> impl IntoView {
    let live = LiveView::start(api::queues);
    let now = ticking_clock();
    view! {
        <QueuesView
            state=live.state
            now=now
            on_retry=Callback::new(move |()| live.read())
            live=live.view_state()
        />
    }
}

#[component]
pub fn ServicesPage() -> impl IntoView {
    let live = LiveView::start(api::services);
    let now = ticking_clock();
    view! {
        <ServicesView
            state=live.state
            now=now
            on_retry=Callback::new(move |()| live.read())
            live=live.view_state()
        />
    }
}
