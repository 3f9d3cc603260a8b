//! The backend's view of etcd, polled from `GET /api/v1/status` every few
//! seconds and shared with every component as context: the header shows it,
//! the browse page takes the key separator from it.

use std::time::Duration;

use etcdeck_shared::{Bytes, Status};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiFailure};
use crate::session::Session;

/// How often the status is polled.
pub const POLL_EVERY: Duration = Duration::from_secs(3);

/// The latest status poll, as reactive state. `Copy`, so closures take it.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionState {
    /// The last status the backend sent, kept while later polls fail so the
    /// separator and user stay known.
    pub status: RwSignal<Option<Status>>,
    /// Why the last poll failed; `None` after a successful one.
    pub failure: RwSignal<Option<ApiFailure>>,
    /// When the last poll finished (`Date.now()`, ms), to count down to the
    /// next retry.
    pub polled_at: RwSignal<f64>,
    /// Ticks every second while polling, so countdowns re-render.
    pub now: RwSignal<f64>,
}

impl ConnectionState {
    pub fn new() -> Self {
        ConnectionState {
            status: RwSignal::new(None),
            failure: RwSignal::new(None),
            polled_at: RwSignal::new(0.0),
            now: RwSignal::new(js_sys::Date::now()),
        }
    }

    /// The key separator; `/` until the backend has said otherwise.
    pub fn separator(&self) -> Signal<Bytes> {
        let status = self.status;
        Signal::derive(move || {
            status.with(|s| {
                s.as_ref()
                    .map_or_else(|| Bytes::from("/"), |s| s.separator.clone())
            })
        })
    }

    /// Whole seconds since the last poll, for countdowns.
    pub fn seconds_since_poll(&self) -> u64 {
        let elapsed = (self.now.get() - self.polled_at.get()) / 1000.0;
        elapsed.max(0.0) as u64
    }

    /// Polls now and then every [`POLL_EVERY`] until the calling owner is
    /// cleaned up. One poll at a time: a slow answer delays the next poll
    /// instead of piling requests up. No polls while the browser has no
    /// session (each would be refused); one at once when a session starts.
    pub fn start_polling(self) {
        let in_flight = StoredValue::new(false);
        let poll = move || {
            if in_flight.get_value() || !crate::session::is_active() {
                return;
            }
            in_flight.set_value(true);
            spawn_local(async move {
                let answer = api::status().await;
                match answer {
                    Ok(status) => {
                        self.status.set(Some(status));
                        self.failure.set(None);
                    }
                    Err(failure) => self.failure.set(Some(failure)),
                }
                self.polled_at.set(js_sys::Date::now());
                in_flight.set_value(false);
            });
        };
        match Session::get() {
            Some(session) => {
                let active = Memo::new(move |_| session.phase.with(|p| p.is_active()));
                Effect::new(move |_| {
                    if active.get() {
                        poll();
                    }
                });
            }
            None => poll(),
        }
        let poller = set_interval_with_handle(poll, POLL_EVERY).ok();
        let now = self.now;
        let ticker =
            set_interval_with_handle(move || now.set(js_sys::Date::now()), Duration::from_secs(1))
                .ok();
        on_cleanup(move || {
            for handle in [poller, ticker].into_iter().flatten() {
                handle.clear();
            }
        });
    }
}

impl Default for ConnectionState {
    fn default() -> Self {
        Self::new()
    }
}
