//! The browser's etcdeck session as the app knows it. The session itself is
//! an HttpOnly cookie the page never sees; what the page holds is the
//! backend's [`SessionInfo`] (who it acts as, whether it may write) and the
//! CSRF token every write carries.
//!
//! [`Session`] is provided as context by the app shell and moves through
//! [`Phase`]s: unknown until `GET /api/v1/session` answers, then active or
//! logged out. Any request answered 401 `login_required` while active ends
//! the session ([`login_required`], called by the request helpers): the shell
//! then sends the user to the login page with "your session ended", and the
//! status polling and the live WebSocket stop until the next login.

use std::cell::RefCell;

use etcdeck_shared::edit::SessionInfo;
use leptos::prelude::*;

thread_local! {
    static CSRF: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The app's session, for code that runs outside any component (the
    /// request helpers and the WebSocket).
    static CURRENT: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// The token to send with writes, once the session is known.
pub fn csrf() -> Option<String> {
    CSRF.with(|c| c.borrow().clone())
}

/// Records the session's token (`None` after logout).
pub fn set_csrf(token: Option<String>) {
    CSRF.with(|c| *c.borrow_mut() = token);
}

/// Where the browser's session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `GET /api/v1/session` has not answered yet.
    Unknown,
    /// The backend could not be asked (it is down, or answered nonsense);
    /// the sentence says why.
    Unreachable(String),
    /// Logged in (or etcd without auth, or a wall screen's token).
    Active(SessionInfo),
    /// No session. `ended`: there was one and it expired or was refused,
    /// as opposed to never having logged in or having logged out.
    LoggedOut { ended: bool },
}

impl Phase {
    pub fn info(&self) -> Option<&SessionInfo> {
        match self {
            Phase::Active(info) => Some(info),
            _ => None,
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self, Phase::Active(_))
    }

    /// Whether the phase is settled enough to show pages (the login page
    /// included).
    pub fn is_known(&self) -> bool {
        matches!(self, Phase::Active(_) | Phase::LoggedOut { .. })
    }
}

/// The session as reactive state. `Copy`, so closures take it.
#[derive(Clone, Copy, Debug)]
pub struct Session {
    pub phase: RwSignal<Phase>,
}

impl Session {
    /// Creates the session in `phase`, provides it as context and makes it
    /// the one [`login_required`] acts on.
    pub fn provide(phase: Phase) -> Self {
        let session = Session {
            phase: RwSignal::new(Phase::Unknown),
        };
        session.set(phase);
        provide_context(session);
        CURRENT.with(|c| *c.borrow_mut() = Some(session));
        session
    }

    /// Provides an active session with `info` (what a component test
    /// mounts under).
    pub fn provide_active(info: SessionInfo) -> Self {
        Self::provide(Phase::Active(info))
    }

    /// The context's session, if the app shell provided one.
    pub fn get() -> Option<Self> {
        use_context::<Session>()
    }

    /// Moves to `phase`, keeping the CSRF token in step.
    pub fn set(self, phase: Phase) {
        set_csrf(phase.info().map(|info| info.csrf.clone()));
        self.phase.try_set(phase);
    }

    /// A session the backend just confirmed or started.
    pub fn started(self, info: SessionInfo) {
        self.set(Phase::Active(info));
    }

    /// The backend said there is no session: if there was one, it ended.
    pub fn ended(self) {
        let was_active = self
            .phase
            .try_with_untracked(Phase::is_active)
            .unwrap_or(false);
        self.set(Phase::LoggedOut { ended: was_active });
    }

    /// Whether it is active now (untracked).
    pub fn is_active_now(self) -> bool {
        self.phase
            .try_with_untracked(Phase::is_active)
            .unwrap_or(false)
    }

    pub fn info(self) -> Signal<Option<SessionInfo>> {
        let phase = self.phase;
        Signal::derive(move || phase.with(|p| p.info().cloned()))
    }
}

/// Whether this browser's session may write (writes are still checked by the
/// backend, and by etcd). Controls that write are hidden or disabled when
/// it is `false`; it is `false` while the session is unknown.
pub fn can_write() -> Signal<bool> {
    match Session::get() {
        Some(session) => {
            let phase = session.phase;
            Signal::derive(move || phase.with(|p| p.info().is_some_and(|i| i.can_write)))
        }
        None => Signal::stored(false),
    }
}

/// Whether the session's etcd user has etcd's root role, the one that may
/// reveal masked values; `false` while the session is unknown.
pub fn is_root() -> Signal<bool> {
    match Session::get() {
        Some(session) => {
            let phase = session.phase;
            Signal::derive(move || phase.with(|p| p.info().is_some_and(|i| i.is_root)))
        }
        None => Signal::stored(false),
    }
}

/// Why writes are refused, when they are (`None` while they are allowed or
/// the session is unknown).
pub fn read_only_reason() -> Signal<Option<String>> {
    match Session::get() {
        Some(session) => {
            let phase = session.phase;
            Signal::derive(move || {
                phase.with(|p| {
                    p.info()
                        .filter(|i| !i.can_write)
                        .map(|i| read_only_text(i.read_only_reason.as_deref()))
                })
            })
        }
        None => Signal::stored(None),
    }
}

/// The sentence shown for a read-only session; the backend's reason when it
/// gave one.
pub fn read_only_text(reason: Option<&str>) -> String {
    match reason.map(str::trim) {
        Some(reason) if !reason.is_empty() => reason.to_owned(),
        _ => "this session may not write".to_owned(),
    }
}

/// Whether the app's session is active now (untracked; for timers and
/// sockets that must stay quiet while logged out). `true` when no session
/// was ever provided, so components mounted alone behave as before.
pub fn is_active() -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .is_none_or(|s| s.phase.try_with_untracked(Phase::is_active).unwrap_or(true))
    })
}

/// The app's session, if the shell provided one (for the request helpers
/// and the socket, which run outside any component).
pub fn current() -> Option<Session> {
    CURRENT.with(|c| *c.borrow())
}

/// The backend refused a request for want of a session (a 401): if the
/// session was active, it ended.
pub fn login_required() {
    if let Some(session) = current()
        && session.is_active_now()
    {
        session.ended();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    #[unit_test]
    fn read_only_text_prefers_the_backend_sentence() {
        assert_eq!(
            read_only_text(Some("etcd has auth disabled")),
            "etcd has auth disabled"
        );
        assert_eq!(read_only_text(Some("  ")), "this session may not write");
        assert_eq!(read_only_text(None), "this session may not write");
    }
}
