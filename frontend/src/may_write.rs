//! Whether the user may write what a view shows, so that write controls
//! follow what etcd would allow: [`may_write`] for one key or prefix (the
//! key view, the level), [`may_write_each`] for a batch (the leases a
//! screen shows). Each asks `POST /api/v1/may-write` once per target, when
//! the target is opened (and again for a new session), never per watch
//! event: every probe is one etcd raft proposal, though it writes nothing.
//!
//! A [`Permission`] is advice for the screen only; etcd still decides at
//! write time. While the answer is on its way the controls are disabled
//! ([`Permission::Checking`]): an enabled control is a promise that the
//! write may succeed, and one that turns disabled under the pointer a moment
//! later breaks it. When the probe itself fails the controls fall back to
//! what they did before there was a probe ([`Permission::Unknown`]:
//! enabled, and etcd decides at save). [`Prober`] is how the probe is asked,
//! replaceable in tests.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use etcdeck_shared::edit::{MAX_MAY_WRITE_TARGETS, MayWrite, WriteTarget};
use leptos::prelude::*;

use crate::api::ApiFailure;
use crate::session::{self, Session};

/// The tooltip of a control while its probe is on its way.
pub const CHECKING_TITLE: &str = "Checking with etcd whether you may write this…";

/// Whether one write control should be offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permission {
    /// The probe has not answered yet: disabled.
    Checking,
    /// etcd would allow the write now.
    Allowed,
    /// etcd (or etcdeck, for a read-only session) would refuse it; the
    /// sentence says why.
    Refused(String),
    /// Nothing was asked (no target, say the whole keyspace) or the probe
    /// failed: enabled, as before there was a probe; etcd decides at save.
    Unknown,
}

impl Permission {
    /// Whether the control is enabled.
    pub fn enabled(&self) -> bool {
        matches!(self, Permission::Allowed | Permission::Unknown)
    }

    /// Why it is disabled, when it is.
    pub fn reason(&self) -> Option<String> {
        match self {
            Permission::Checking => Some(CHECKING_TITLE.to_owned()),
            Permission::Refused(why) => Some(why.clone()),
            Permission::Allowed | Permission::Unknown => None,
        }
    }

    /// The control's tooltip: why it is disabled, or what it does.
    pub fn title(&self, what: &str) -> String {
        self.reason().unwrap_or_else(|| what.to_owned())
    }

    /// The refusal to show next to the controls (not while checking, which
    /// would flash a sentence on every open).
    pub fn refusal(&self) -> Option<String> {
        match self {
            Permission::Refused(why) => Some(why.clone()),
            _ => None,
        }
    }

    /// The permission an answer gives (the probe failed: `None`).
    fn from_answer(answer: Option<etcdeck_shared::edit::WriteAnswer>) -> Self {
        match answer {
            Some(answer) if answer.allowed => Permission::Allowed,
            Some(answer) => Permission::Refused(
                answer
                    .reason
                    .unwrap_or_else(|| "etcd would refuse this write".to_owned()),
            ),
            None => Permission::Unknown,
        }
    }
}

type Ask =
    Rc<dyn Fn(Vec<WriteTarget>) -> Pin<Box<dyn Future<Output = Result<MayWrite, ApiFailure>>>>>;

/// How the probe is asked: the backend, or what a test hands in.
#[derive(Clone)]
pub struct Prober {
    ask: Ask,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober").finish_non_exhaustive()
    }
}

/// The context a test provides to replace the backend.
#[derive(Clone, Copy)]
struct ProberContext(StoredValue<Prober, LocalStorage>);

impl Prober {
    pub fn new<F, Fut>(ask: F) -> Self
    where
        F: Fn(Vec<WriteTarget>) -> Fut + 'static,
        Fut: Future<Output = Result<MayWrite, ApiFailure>> + 'static,
    {
        Prober {
            ask: Rc::new(move |targets| Box::pin(ask(targets))),
        }
    }

    /// Asks the backend (`POST /api/v1/may-write`).
    pub fn backend() -> Self {
        Prober::new(crate::api::may_write::may_write)
    }

    /// Makes this the prober of every view below (tests).
    pub fn provide(self) {
        provide_context(ProberContext(StoredValue::new_local(self)));
    }

    fn from_context() -> Self {
        use_context::<ProberContext>()
            .and_then(|c| c.0.try_get_value())
            .unwrap_or_else(Prober::backend)
    }
}

/// Which session the answers belong to: a new login asks again.
fn session_user() -> Memo<Option<Option<String>>> {
    let info = Session::get().map(Session::info);
    Memo::new(move |_| match info {
        Some(info) => info.with(|i| i.as_ref().map(|i| i.user.clone())),
        None => Some(None),
    })
}

/// Whether the session may write each of `targets` (in order), asked in
/// one request whenever the list changes (at most
/// [`MAX_MAY_WRITE_TARGETS`] are asked; the rest are [`Permission::Unknown`]).
/// A session that may not write at all (`can_write`, with its reason
/// `read_only`) is refused without asking.
pub fn may_write_each(
    targets: Memo<Vec<WriteTarget>>,
    can_write: Signal<bool>,
    read_only: Signal<Option<String>>,
) -> Signal<Vec<Permission>> {
    // A memo, so that a session re-confirmed as it was asks nothing again.
    let can_write = Memo::new(move |_| can_write.get());
    let user = session_user();
    let prober = StoredValue::new_local(Prober::from_context());
    // The answers, with the list they answer, so a late answer for a list
    // no longer shown is never taken for the current one.
    let answered = RwSignal::new(None::<(Vec<WriteTarget>, Vec<Permission>)>);
    Effect::new(move |_| {
        // Every source is read on every run, so that what the effect
        // follows never depends on which branch ran last.
        let asked = targets.get();
        let may = can_write.get();
        // Read, not only tracked: a memo that is tracked but never read is
        // recomputed when next checked and counts as changed.
        let _user = user.get();
        if asked.is_empty() || !may {
            return;
        }
        let Some(prober) = prober.try_get_value() else {
            return;
        };
        let sent: Vec<WriteTarget> = asked.iter().take(MAX_MAY_WRITE_TARGETS).cloned().collect();
        leptos::task::spawn_local(async move {
            let answer = (prober.ask)(sent).await;
            let mut answers = answer.ok().map(|m| m.answers.into_iter());
            let permissions = asked
                .iter()
                .map(|_| Permission::from_answer(answers.as_mut().and_then(Iterator::next)))
                .collect();
            if targets.try_with_untracked(|t| *t == asked) == Some(true) {
                answered.try_set(Some((asked, permissions)));
            }
        });
    });
    Signal::derive(move || {
        let shown = targets.get();
        if !can_write.get() {
            let why = session::read_only_text(read_only.get().as_deref());
            return vec![Permission::Refused(why); shown.len()];
        }
        answered.with(|a| match a {
            Some((asked, permissions)) if *asked == shown => permissions.clone(),
            _ => vec![Permission::Checking; shown.len()],
        })
    })
}

/// Whether the session may write `target` (a key, or every key under a
/// prefix), asked once each time the target changes; no target is
/// [`Permission::Unknown`] for a session that may write.
pub fn may_write(target: Signal<Option<WriteTarget>>) -> Signal<Permission> {
    let targets = Memo::new(move |_| target.get().into_iter().collect::<Vec<_>>());
    let can_write = session::can_write();
    let read_only = session::read_only_reason();
    let each = may_write_each(targets, can_write, read_only);
    Signal::derive(move || {
        if !can_write.get() {
            return Permission::Refused(session::read_only_text(read_only.get().as_deref()));
        }
        each.with(|p| p.first().cloned().unwrap_or(Permission::Unknown))
    })
}

/// A key as a target.
pub fn key(key: etcdeck_shared::Bytes) -> WriteTarget {
    WriteTarget { key, prefix: false }
}

/// Every key under `prefix` as a target.
pub fn prefix(prefix: etcdeck_shared::Bytes) -> WriteTarget {
    WriteTarget {
        key: prefix,
        prefix: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    #[unit_test]
    fn only_allowed_and_unknown_enable_a_control() {
        assert!(Permission::Allowed.enabled());
        assert!(Permission::Unknown.enabled());
        assert!(!Permission::Checking.enabled());
        assert!(!Permission::Refused("no".into()).enabled());
        assert_eq!(Permission::Refused("no".into()).title("Edit"), "no");
        assert_eq!(Permission::Allowed.title("Edit"), "Edit");
        assert_eq!(Permission::Checking.title("Edit"), CHECKING_TITLE);
        assert_eq!(Permission::Checking.refusal(), None);
        assert_eq!(
            Permission::from_answer(Some(etcdeck_shared::edit::WriteAnswer {
                allowed: false,
                reason: None
            })),
            Permission::Refused("etcd would refuse this write".into())
        );
        assert_eq!(Permission::from_answer(None), Permission::Unknown);
    }
}
