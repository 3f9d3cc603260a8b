//! How a view reaches the connection: [`Watcher`] subscribes through the
//! tab's [`LiveClient`] (or what a test hands in), [`Health`] says whether
//! changes can reach the view now, [`follow_link`] is the one "retry when
//! the connection is healthy" of the app (and marks a view stale while it
//! is not, through [`Freshness`]), and [`watch_changes`] reports "something
//! under this range changed", debounced, for views that re-read in their
//! own way (the tree list's pages).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use etcdeck_shared::ws::{SubId, WatchEvent, WatchRange};
use etcdeck_shared::{Connection, Revision};
use leptos::prelude::*;

use crate::api::live::LiveClient;
use crate::connection::ConnectionState;
use crate::freshness::{Freshness, now_ms};
use crate::live::{Delivery, SocketState};

/// A subscriber's handler.
pub type Handler = Rc<dyn Fn(Delivery)>;
type Subscribe = Rc<dyn Fn(WatchRange, bool, Option<Revision>, Handler) -> SubId>;

/// How a view subscribes: the tab's [`LiveClient`], or what a test hands in.
#[derive(Clone)]
pub struct Watcher {
    subscribe: Subscribe,
    unsubscribe: Rc<dyn Fn(SubId)>,
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Watcher {
    pub fn new(
        subscribe: impl Fn(WatchRange, bool, Option<Revision>, Handler) -> SubId + 'static,
        unsubscribe: impl Fn(SubId) + 'static,
    ) -> Self {
        Watcher {
            subscribe: Rc::new(subscribe),
            unsubscribe: Rc::new(unsubscribe),
        }
    }

    /// Subscribes through the tab's live client.
    pub fn client(client: LiveClient) -> Self {
        Watcher::new(
            move |range, prev_kv, from, handler| {
                client.subscribe(range, prev_kv, from, move |delivery| handler(delivery))
            },
            move |id| client.unsubscribe(id),
        )
    }

    /// The tab's live client, when the app provides one.
    pub fn from_context() -> Option<Self> {
        use_context::<LiveClient>().map(Watcher::client)
    }

    /// Subscribes to `range` from `from` (`None`: from now).
    pub fn subscribe(
        &self,
        range: WatchRange,
        prev_kv: bool,
        from: Option<Revision>,
        handler: impl Fn(Delivery) + 'static,
    ) -> SubId {
        (self.subscribe)(range, prev_kv, from, Rc::new(handler))
    }

    pub fn unsubscribe(&self, id: SubId) {
        (self.unsubscribe)(id);
    }
}

/// The connection as a view sees it.
#[derive(Clone, Copy, Debug)]
pub struct Health {
    /// Changes can reach the view: the tab's WebSocket is not down, no
    /// subscription is waiting for the backend to reach etcd, and the last
    /// status poll reached the backend and found etcd connected (or has not
    /// answered yet). Notifies at every poll, not only on changes.
    pub up: Signal<bool>,
}

impl Health {
    /// From the app's status polling and live client (either may be
    /// missing: then it does not count).
    pub fn from_context() -> Self {
        let client = use_context::<LiveClient>();
        let connection = use_context::<ConnectionState>();
        Health {
            up: Signal::derive(move || {
                let socket = client.is_none_or(|c| {
                    c.socket.get() != SocketState::Down && !c.any_reconnecting.get()
                });
                let polled = connection.is_none_or(|c| {
                    c.failure.with(Option::is_none)
                        && c.status.with(|s| {
                            !s.as_ref().is_some_and(|s| {
                                matches!(s.connection, Connection::Disconnected { .. })
                            })
                        })
                });
                socket && polled
            }),
        }
    }
}

/// Feeds the connection into `freshness` (stale since it went down) and
/// calls `retry` whenever it is healthy while the last read failed for a
/// passing reason: the one "retry when healthy" of the app.
pub fn follow_link(health: Health, freshness: RwSignal<Freshness>, retry: impl Fn() + 'static) {
    Effect::new(move |_| {
        let up = health.up.get();
        let now = now_ms();
        // Polls come every few seconds; the state is written (and the page
        // told) only when it changes.
        let Some((next, again)) = freshness.try_with_untracked(|f| {
            let mut next = f.clone();
            let again = next.link(up, now);
            ((next != *f).then_some(next), again)
        }) else {
            return;
        };
        if let Some(next) = next {
            freshness.set(next);
        }
        if again {
            retry();
        }
    });
}

/// A running [`watch_changes`]; ends with [`ChangeWatch::stop`].
#[derive(Clone, Debug, Default)]
pub struct ChangeWatch {
    inner: Rc<RefCell<ChangeInner>>,
}

#[derive(Debug, Default)]
struct ChangeInner {
    id: Option<SubId>,
    pending: Option<TimeoutHandle>,
    stopped: bool,
}

impl ChangeWatch {
    /// Ends the subscription and any waiting report.
    pub fn stop(&self, watcher: &Watcher) {
        let mut inner = self.inner.borrow_mut();
        inner.stopped = true;
        if let Some(timer) = inner.pending.take() {
            timer.clear();
        }
        if let Some(id) = inner.id.take() {
            drop(inner);
            watcher.unsubscribe(id);
        }
    }
}

/// Watches `range` from `from` and calls `changed` when events pass
/// `touches`, the first starting a wait of `debounce` that later ones
/// join, and at once after a gap (the snapshot that follows is not needed:
/// the caller reads again).
pub fn watch_changes(
    watcher: &Watcher,
    range: WatchRange,
    from: Revision,
    touches: fn(&WatchEvent) -> bool,
    debounce: Duration,
    changed: Callback<()>,
) -> ChangeWatch {
    let watch = ChangeWatch::default();
    let inner = Rc::downgrade(&watch.inner);
    let id = watcher.subscribe(range, false, Some(from), move |delivery| {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        match delivery {
            Delivery::Gap(_) => changed.run(()),
            Delivery::Events(events) if events.iter().any(touches) => {
                let mut state = inner.borrow_mut();
                if state.pending.is_some() || state.stopped {
                    return;
                }
                let weak = Rc::downgrade(&inner);
                state.pending = set_timeout_with_handle(
                    move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.borrow_mut().pending = None;
                            changed.run(());
                        }
                    },
                    debounce,
                )
                .ok();
            }
            _ => {}
        }
    });
    watch.inner.borrow_mut().id = Some(id);
    watch
}
