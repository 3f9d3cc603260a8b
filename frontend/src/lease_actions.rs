//! What the leases page does to leases, for sessions that may write:
//! [`LeaseActions`] grants a lease, renews one once or revokes one through
//! [`crate::api::session`] and says how it went; [`parse_ttl`] checks a
//! typed TTL against the limit the backend checks
//! ([`etcdeck_shared::limits`]). The leases page makes the actions and the
//! leases view draws their controls, so both sit above this module.
//!
//! Granting and renewing need no permission on any key in etcd, so they
//! follow the session alone; revoking deletes the lease's keys, which etcd
//! allows only to a user who may write every one of them, so
//! [`revoke_permissions`] asks for the attached keys a screen shows, in one
//! request whenever that set changes.

use std::collections::HashMap;
use std::future::Future;

use etcdeck_shared::limits::lease_ttl_error;
use etcdeck_shared::{Bytes, LeaseId};
use leptos::prelude::*;

use crate::api::{self, ApiFailure};
use crate::may_write::{self, Permission};

/// The TTL typed into "Grant lease", or a sentence on what is wrong with
/// it; a TTL out of range gets the very sentence the backend would answer
/// ([`lease_ttl_error`]).
pub fn parse_ttl(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("enter the lease's TTL in seconds".to_owned());
    }
    let ttl: i64 = text
        .parse()
        .map_err(|_| format!("the TTL must be a whole number of seconds, not \"{text}\""))?;
    match lease_ttl_error(ttl) {
        Some(why) => Err(why),
        None => Ok(ttl),
    }
}

/// What the leases page may do to leases, and how the last action went.
/// `Copy`, so closures take it.
#[derive(Clone, Copy, Debug)]
pub struct LeaseActions {
    /// Whether the session may write; the actions are hidden when not.
    pub can_write: Signal<bool>,
    /// Why it may not, for the screen.
    pub reason: Signal<Option<String>>,
    /// An action is on its way: the buttons are disabled.
    pub busy: RwSignal<bool>,
    /// The last action's outcome as a sentence: `Ok` for done, `Err` for
    /// refused or failed.
    pub outcome: RwSignal<Option<Result<String, String>>>,
    /// Called after every action (the page reads again).
    after: Callback<()>,
}

impl LeaseActions {
    pub fn new(
        can_write: Signal<bool>,
        reason: Signal<Option<String>>,
        after: Callback<()>,
    ) -> Self {
        LeaseActions {
            can_write,
            reason,
            busy: RwSignal::new(false),
            outcome: RwSignal::new(None),
            after,
        }
    }

    /// Runs one action unless one is on its way already.
    fn run<T, Fut>(self, what: String, action: Fut, done: impl FnOnce(T) -> String + 'static)
    where
        T: 'static,
        Fut: Future<Output = Result<T, ApiFailure>> + 'static,
    {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.outcome.set(None);
        leptos::task::spawn_local(async move {
            let answer = action.await;
            self.busy.try_set(false);
            self.outcome.try_set(Some(
                answer
                    .map(done)
                    .map_err(|failure| format!("could not {what}: {failure}")),
            ));
            self.after.run(());
        });
    }

    pub fn grant(self, ttl: i64) {
        self.run(
            "grant a lease".to_owned(),
            api::session::lease_grant(ttl),
            |granted| {
                format!(
                    "granted lease {} with a TTL of {} s",
                    granted.id, granted.ttl
                )
            },
        );
    }

    pub fn keep_alive(self, id: LeaseId) {
        self.run(
            format!("renew lease {id}"),
            api::session::lease_keep_alive(id),
            |kept| format!("renewed lease {}: {} s left", kept.id, kept.ttl),
        );
    }

    pub fn revoke(self, id: LeaseId) {
        self.run(
            format!("revoke lease {id}"),
            api::session::lease_revoke(id),
            move |written| {
                format!(
                    "revoked lease {id} at revision {}; its keys went with it",
                    written.revision
                )
            },
        );
    }
}

/// Whether etcd would let this user revoke each lease shown (`shown`: each
/// lease with its attached keys on screen): refused when any of those keys
/// is refused, checking while asked, and as the session says for a lease
/// without keys. Keys attached but not shown are not asked; etcd decides.
pub fn revoke_permissions(
    actions: LeaseActions,
    shown: Signal<Vec<(LeaseId, Vec<Bytes>)>>,
) -> Memo<HashMap<LeaseId, Permission>> {
    let leases = Memo::new(move |_| shown.get());
    let targets = Memo::new(move |_| {
        let mut keys: Vec<Bytes> = leases.with(|l| l.iter().flat_map(|(_, k)| k.clone()).collect());
        keys.sort();
        keys.dedup();
        keys.into_iter().map(may_write::key).collect::<Vec<_>>()
    });
    let answers = may_write::may_write_each(targets, actions.can_write, actions.reason);
    let (can_write, reason) = (actions.can_write, actions.reason);
    let session = move || {
        if can_write.get() {
            Permission::Unknown
        } else {
            Permission::Refused(crate::session::read_only_text(reason.get().as_deref()))
        }
    };
    Memo::new(move |_| {
        let by_key: HashMap<Bytes, Permission> =
            targets.with(|t| t.iter().map(|t| t.key.clone()).zip(answers.get()).collect());
        leases.with(|l| {
            l.iter()
                .map(|(id, keys)| {
                    let each: Vec<&Permission> =
                        keys.iter().filter_map(|k| by_key.get(k)).collect();
                    let permission = each
                        .iter()
                        .find(|p| matches!(p, Permission::Refused(_)))
                        .or_else(|| each.iter().find(|p| **p == &Permission::Checking))
                        .map(|p| (*p).clone())
                        .unwrap_or_else(session);
                    (*id, permission)
                })
                .collect()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;
    use etcdeck_shared::limits::MAX_LEASE_TTL;

    #[unit_test]
    fn a_ttl_is_whole_seconds_within_the_shared_limits() {
        assert_eq!(parse_ttl("60"), Ok(60));
        assert_eq!(parse_ttl(" 5 "), Ok(5));
        assert_eq!(parse_ttl("2592000"), Ok(MAX_LEASE_TTL));
        assert!(parse_ttl("").unwrap_err().contains("enter"));
        assert!(parse_ttl("0").unwrap_err().contains("at least 1"));
        assert!(parse_ttl("-3").unwrap_err().contains("at least 1"));
        assert!(parse_ttl("1.5").unwrap_err().contains("whole number"));
        assert!(parse_ttl("ten").unwrap_err().contains("whole number"));
        assert!(parse_ttl("2592001").unwrap_err().contains("at most"));
        assert!(parse_ttl("9000000000").unwrap_err().contains("at most"));
        assert!(parse_ttl("99999999999999999999").is_err());
    }
}
