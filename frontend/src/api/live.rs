//! The tab's one WebSocket to the backend ([`path::WS`]): it opens at
//! start-up, reconnects by itself with capped backoff after every close,
//! and carries all live subscriptions, which [`crate::live::Registry`]
//! keeps across reconnects so each resumes where it stopped.
//!
//! [`LiveClient`] is provided as context by the app shell. Views call
//! [`LiveClient::subscribe`] with a handler and [`LiveClient::unsubscribe`]
//! in `on_cleanup`. Malformed frames are logged to the console and ignored.
//! A socket that hears nothing (not even the backend's heartbeat, every
//! [`HEARTBEAT_SECS`]) for [`SILENCE_LIMIT_SECS`] is dropped at once (the
//! header and the pages say so) and another is opened.
//!
//! While the browser has no etcdeck session the client is suspended
//! ([`LiveClient::suspend`]): no socket, no reconnect attempts, the
//! subscriptions kept; [`LiveClient::resume`] after a login opens a socket
//! that resumes them all. A socket that closes before it ever opened may
//! have been refused for want of a session (the browser does not say), so
//! the session is checked then ([`crate::api::session::recheck`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use etcdeck_shared::Revision;
use etcdeck_shared::path;
use etcdeck_shared::ws::{
    ClientMessage, HEARTBEAT_SECS, SESSION_ENDED_CLOSE, SILENCE_LIMIT_SECS, SubId, WatchRange,
};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::live::{Backoff, Delivery, LiveState, Outcome, RESYNCED_FOR, Registry, SocketState};

/// How often the watchdog looks at the socket: often, so a dead socket is
/// noticed close to [`SILENCE_LIMIT_SECS`], not a whole period later.
const WATCHDOG_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// Silence after which an open socket is presumed dead.
const SILENCE_LIMIT_MS: f64 = (SILENCE_LIMIT_SECS * 1000) as f64;
// The limit must leave room for at least two heartbeats.
const _: () = assert!(SILENCE_LIMIT_SECS >= 2 * HEARTBEAT_SECS);

/// A subscriber's handler; called outside any borrow of the client, so it
/// may subscribe or unsubscribe itself.
pub type Handler = Rc<dyn Fn(Delivery)>;

/// The live connection, as reactive state plus the socket behind it.
/// `Copy`, so closures take it.
#[derive(Clone, Copy)]
pub struct LiveClient {
    inner: StoredValue<Rc<RefCell<Inner>>, LocalStorage>,
    /// The socket's state.
    pub socket: RwSignal<SocketState>,
    /// Some subscription is waiting for the backend to reach etcd again.
    pub any_reconnecting: RwSignal<bool>,
    /// A gap happened within the last [`RESYNCED_FOR`] and was not
    /// dismissed.
    pub resynced: RwSignal<bool>,
}

impl std::fmt::Debug for LiveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveClient")
            .field("socket", &self.socket.try_get_untracked())
            .field(
                "any_reconnecting",
                &self.any_reconnecting.try_get_untracked(),
            )
            .field("resynced", &self.resynced.try_get_untracked())
            .finish_non_exhaustive()
    }
}

struct Inner {
    url: String,
    registry: Registry,
    handlers: HashMap<SubId, Handler>,
    socket: Option<WebSocket>,
    /// The current socket's callbacks. Kept until the next attempt replaces
    /// them: dropping a closure while it runs (in `onclose`) is not allowed.
    callbacks: Vec<Closure<dyn FnMut(JsValueEvent)>>,
    backoff: Backoff,
    retry: Option<TimeoutHandle>,
    resynced_timer: Option<TimeoutHandle>,
    /// Checks that the open socket is still heard from.
    watchdog: Option<IntervalHandle>,
    /// When the current socket last received a frame (ms since the epoch).
    last_heard: f64,
    /// The current socket has opened.
    opened: bool,
    /// No session: no socket until [`LiveClient::resume`].
    suspended: bool,
    stopped: bool,
}

/// Every socket callback takes the event as a plain `JsValue` and casts it.
type JsValueEvent = wasm_bindgen::JsValue;

impl LiveClient {
    /// Creates the client and opens the socket; it is closed when the
    /// calling owner is cleaned up.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Creates the client suspended: no socket until
    /// [`LiveClient::resume`] (the app starts so, before it knows whether
    /// there is a session).
    pub fn start_suspended() -> Self {
        Self::start_with(true)
    }

    fn start_with(suspended: bool) -> Self {
        let inner = Rc::new(RefCell::new(Inner {
            url: socket_url(),
            registry: Registry::new(),
            handlers: HashMap::new(),
            socket: None,
            callbacks: Vec::new(),
            backoff: Backoff::default(),
            retry: None,
            resynced_timer: None,
            watchdog: None,
            last_heard: js_sys::Date::now(),
            opened: false,
            suspended,
            stopped: false,
        }));
        let client = LiveClient {
            inner: StoredValue::new_local(inner),
            socket: RwSignal::new(SocketState::Connecting),
            any_reconnecting: RwSignal::new(false),
            resynced: RwSignal::new(false),
        };
        client.connect();
        if let Some(rc) = client.inner.try_get_value() {
            rc.borrow_mut().watchdog =
                set_interval_with_handle(move || client.check_heard(), WATCHDOG_EVERY).ok();
        }
        on_cleanup(move || client.stop());
        client
    }

    /// Drops an open socket that has been silent for [`SILENCE_LIMIT_SECS`]:
    /// the connection died without a close (a laptop asleep, a dropped
    /// network), and only a new socket will tell. The socket is let go at
    /// once rather than waiting for its close, which on a dead network can
    /// take a minute: the header and the pages turn now.
    fn check_heard(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        let silent_ms = {
            let inner = rc.borrow();
            let open = inner
                .socket
                .as_ref()
                .is_some_and(|socket| socket.ready_state() == WebSocket::OPEN);
            if !open {
                return;
            }
            js_sys::Date::now() - inner.last_heard
        };
        if silent_ms <= SILENCE_LIMIT_MS {
            return;
        }
        let Some(socket) = rc.borrow_mut().socket.take() else {
            return;
        };
        socket.set_onclose(None);
        socket.set_onmessage(None);
        let _ = socket.close();
        self.closed(
            &format!("nothing heard for {:.0} s", silent_ms / 1000.0),
            None,
        );
    }

    /// The state shown in the header.
    pub fn state(&self) -> Signal<LiveState> {
        let (socket, reconnecting, resynced) = (self.socket, self.any_reconnecting, self.resynced);
        Signal::derive(move || LiveState::of(socket.get(), reconnecting.get(), resynced.get()))
    }

    /// Hides "resynced" before its time is up.
    pub fn dismiss_resynced(&self) {
        self.resynced.set(false);
    }

    /// Subscribes to `range` from revision `from` (`None`: from now) and
    /// calls `handler` with everything that happens to it until
    /// [`LiveClient::unsubscribe`].
    pub fn subscribe(
        &self,
        range: WatchRange,
        prev_kv: bool,
        from: Option<Revision>,
        handler: impl Fn(Delivery) + 'static,
    ) -> SubId {
        let Some(inner) = self.inner.try_get_value() else {
            return SubId::default();
        };
        let mut inner = inner.borrow_mut();
        let (id, message) = inner.registry.subscribe(range, prev_kv, from);
        inner.handlers.insert(id, Rc::new(handler));
        inner.send(&message);
        id
    }

    /// Ends a subscription; its handler is not called again.
    pub fn unsubscribe(&self, id: SubId) {
        let Some(inner) = self.inner.try_get_value() else {
            return;
        };
        let mut inner = inner.borrow_mut();
        inner.handlers.remove(&id);
        if let Some(message) = inner.registry.unsubscribe(id) {
            inner.send(&message);
        }
        drop(inner);
        self.update_reconnecting();
    }

    fn connect(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        let mut inner = rc.borrow_mut();
        if inner.stopped || inner.suspended {
            return;
        }
        inner.retry = None;
        inner.opened = false;
        inner.callbacks.clear();
        let socket = match WebSocket::new(&inner.url) {
            Ok(socket) => socket,
            Err(err) => {
                log(&format!("live: cannot open {}: {err:?}", inner.url));
                drop(inner);
                self.schedule_reconnect();
                return;
            }
        };
        let on_open = Closure::<dyn FnMut(JsValueEvent)>::new(move |_| self.opened());
        let on_message = Closure::<dyn FnMut(JsValueEvent)>::new(move |event: JsValueEvent| {
            if let Ok(event) = event.dyn_into::<MessageEvent>() {
                self.received(&event);
            }
        });
        let on_close = Closure::<dyn FnMut(JsValueEvent)>::new(move |event: JsValueEvent| {
            let close = event.dyn_ref::<CloseEvent>();
            let detail = close
                .map(|e| format!("code {}, {:?}", e.code(), e.reason()))
                .unwrap_or_default();
            let code = close.map(CloseEvent::code);
            self.closed(&detail, code);
        });
        // An error event is always followed by a close event, which is
        // where reconnecting starts; the browser gives no detail here.
        let on_error = Closure::<dyn FnMut(JsValueEvent)>::new(|_| {});
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        inner.callbacks = vec![on_open, on_message, on_close, on_error];
        inner.socket = Some(socket);
    }

    fn opened(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        let mut inner = rc.borrow_mut();
        inner.backoff.reset();
        inner.opened = true;
        inner.last_heard = js_sys::Date::now();
        for message in inner.registry.resubscribe_all() {
            inner.send(&message);
        }
        drop(inner);
        self.socket.try_set(SocketState::Open);
        self.update_reconnecting();
    }

    fn received(self, event: &MessageEvent) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        rc.borrow_mut().last_heard = js_sys::Date::now();
        let Some(text) = event.data().as_string() else {
            log("live: ignored a binary frame");
            return;
        };
        let message = match crate::live::parse(&text) {
            Ok(message) => message,
            Err(err) => {
                let start: String = text.chars().take(200).collect();
                log(&format!("live: ignored a malformed frame ({err}): {start}"));
                return;
            }
        };
        let outcome = rc.borrow_mut().registry.receive(message);
        match outcome {
            Outcome::Deliver(id, delivery) => {
                if matches!(delivery, Delivery::Gap(_)) {
                    self.mark_resynced();
                }
                let closed = matches!(delivery, Delivery::Closed(_));
                let handler = if closed {
                    rc.borrow_mut().handlers.remove(&id)
                } else {
                    rc.borrow().handlers.get(&id).cloned()
                };
                self.update_reconnecting();
                if let Some(handler) = handler {
                    handler(delivery);
                }
            }
            Outcome::Quiet | Outcome::Unknown(_) => {}
            Outcome::ServerError(error) => {
                log(&format!(
                    "live: the backend refused a message: {}",
                    error.message
                ));
            }
        }
    }

    fn closed(self, detail: &str, code: Option<u16>) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        let (quiet, refused) = {
            let mut inner = rc.borrow_mut();
            inner.socket = None;
            (inner.stopped || inner.suspended, !inner.opened)
        };
        if quiet {
            return;
        }
        log(&format!("live: socket closed ({detail}); reconnecting"));
        self.socket.try_set(SocketState::Down);
        if refused || code == Some(SESSION_ENDED_CLOSE) {
            crate::api::session::recheck();
        }
        self.schedule_reconnect();
    }

    fn schedule_reconnect(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        let mut inner = rc.borrow_mut();
        if inner.stopped || inner.suspended || inner.retry.is_some() {
            return;
        }
        let delay = inner.backoff.next_delay();
        inner.retry = set_timeout_with_handle(move || self.connect(), delay).ok();
    }

    fn mark_resynced(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        self.resynced.try_set(true);
        let mut inner = rc.borrow_mut();
        if let Some(timer) = inner.resynced_timer.take() {
            timer.clear();
        }
        let resynced = self.resynced;
        inner.resynced_timer = set_timeout_with_handle(
            move || {
                resynced.try_set(false);
            },
            RESYNCED_FOR,
        )
        .ok();
    }

    fn update_reconnecting(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        let now = rc.borrow().registry.any_reconnecting();
        if self.any_reconnecting.try_get_untracked() != Some(now) {
            self.any_reconnecting.try_set(now);
        }
    }

    /// Closes the socket and makes no new one until [`LiveClient::resume`]
    /// (there is no session to open it with). Subscriptions are kept.
    pub fn suspend(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        let mut inner = rc.borrow_mut();
        if inner.suspended {
            return;
        }
        inner.suspended = true;
        if let Some(timer) = inner.retry.take() {
            timer.clear();
        }
        if let Some(socket) = inner.socket.take() {
            socket.set_onclose(None);
            let _ = socket.close();
        }
        drop(inner);
        self.socket.try_set(SocketState::Connecting);
    }

    /// Opens a socket again after [`LiveClient::suspend`]; every kept
    /// subscription resumes where it stopped.
    pub fn resume(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        {
            let mut inner = rc.borrow_mut();
            if !inner.suspended {
                return;
            }
            inner.suspended = false;
            inner.backoff.reset();
            inner.last_heard = js_sys::Date::now();
        }
        self.connect();
    }

    fn stop(self) {
        let Some(rc) = self.inner.try_get_value() else {
            return;
        };
        let mut inner = rc.borrow_mut();
        inner.stopped = true;
        for timer in [inner.retry.take(), inner.resynced_timer.take()]
            .into_iter()
            .flatten()
        {
            timer.clear();
        }
        if let Some(watchdog) = inner.watchdog.take() {
            watchdog.clear();
        }
        if let Some(socket) = inner.socket.take() {
            socket.set_onclose(None);
            let _ = socket.close();
        }
    }
}

impl Inner {
    /// Sends when the socket is open; otherwise the next open re-sends
    /// every subscription anyway.
    fn send(&self, message: &ClientMessage) {
        let Some(socket) = &self.socket else {
            return;
        };
        if socket.ready_state() != WebSocket::OPEN {
            return;
        }
        match serde_json::to_string(message) {
            Ok(text) => {
                if let Err(err) = socket.send_with_str(&text) {
                    log(&format!("live: send failed: {err:?}"));
                }
            }
            Err(err) => log(&format!("live: cannot encode a message: {err}")),
        }
    }
}

/// `ws://host/api/v1/ws`, or `wss://` when the page came over HTTPS.
fn socket_url() -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    format!("{scheme}://{host}{}", super::within(path::WS))
}

fn log(text: &str) {
    web_sys::console::warn_1(&text.into());
}
