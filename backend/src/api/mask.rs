//! Masking values whose keys look secret, in every answer the API sends to
//! a browser: one [`Mask`] implementation per answer type that carries a
//! value (key reads, written keys, conflicts, history, watch events and
//! snapshots, the locks, elections and services views), applied by the
//! handlers and by the WebSocket where each subscriber's frames are built.
//!
//! A masked value is replaced by nothing and the answer says so with
//! [`Masked`] (the pattern that matched and the value's size). Everyone
//! sees masked values this way, etcd's root too; only the audited
//! `POST /api/v1/reveal` (`reveal.rs`) answers one, and only to root.
//! Masking is a display rule on top of etcd's RBAC, which still decides
//! who may read a key at all.

use etcdeck_shared::coord::{Contender, Elections, Instance, Locks, Services};
use etcdeck_shared::edit::{Conflict, History, Written};
use etcdeck_shared::mask::Masked;
use etcdeck_shared::ws::{ServerMessage, WatchEvent, WatchKv};
use etcdeck_shared::{Bytes, KeyValue};

use crate::config::Masks;

/// An answer whose values may need masking.
pub(super) trait Mask {
    /// Leaves out every value whose key matches one of `masks`.
    fn mask(&mut self, masks: &Masks);
}

/// The mark for `value` of `key`, and the value emptied, when `key` is
/// masked.
fn hide(masks: &Masks, key: &Bytes, value: &mut Bytes) -> Option<Masked> {
    let pattern = masks.matching(key.as_slice())?;
    let size = value.len() as u64;
    *value = Bytes::default();
    Some(Masked {
        pattern: pattern.to_owned(),
        size,
    })
}

/// Whether anything in `events` would be masked: most frames carry no
/// masked key and go out as the hub serialised them, once for everyone.
pub(super) fn touches(masks: &Masks, events: &[WatchEvent]) -> bool {
    events
        .iter()
        .any(|e| masks.matching(e.kv.key.as_slice()).is_some())
}

impl Mask for KeyValue {
    fn mask(&mut self, masks: &Masks) {
        if let Some(masked) = hide(masks, &self.key, &mut self.value) {
            self.masked = Some(masked);
        }
    }
}

impl Mask for WatchKv {
    fn mask(&mut self, masks: &Masks) {
        if let Some(masked) = hide(masks, &self.key, &mut self.value) {
            self.masked = Some(masked);
        }
    }
}

impl Mask for WatchEvent {
    fn mask(&mut self, masks: &Masks) {
        self.kv.mask(masks);
        if let Some(prev) = &mut self.prev {
            prev.mask(masks);
        }
    }
}

impl Mask for ServerMessage {
    fn mask(&mut self, masks: &Masks) {
        match self {
            ServerMessage::Events { events, .. } => events.iter_mut().for_each(|e| e.mask(masks)),
            ServerMessage::Snapshot { kvs, .. } => kvs.iter_mut().for_each(|kv| kv.mask(masks)),
            ServerMessage::Subscribed { .. }
            | ServerMessage::Progress { .. }
            | ServerMessage::Reconnecting { .. }
            | ServerMessage::Live { .. }
            | ServerMessage::Gap { .. }
            | ServerMessage::Closed { .. }
            | ServerMessage::Error { .. }
            | ServerMessage::Heartbeat => {}
        }
    }
}

impl Mask for Written {
    fn mask(&mut self, masks: &Masks) {
        if let Some(kv) = &mut self.kv {
            kv.mask(masks);
        }
    }
}

impl Mask for Conflict {
    fn mask(&mut self, masks: &Masks) {
        if let Some(kv) = &mut self.current {
            kv.mask(masks);
        }
    }
}

impl Mask for History {
    fn mask(&mut self, masks: &Masks) {
        for version in &mut self.versions {
            if let Some(value) = &mut version.value
                && let Some(masked) = hide(masks, &self.key, value)
            {
                version.masked = Some(masked);
            }
        }
    }
}

impl Mask for Contender {
    fn mask(&mut self, masks: &Masks) {
        if let Some(masked) = hide(masks, &self.key, &mut self.value) {
            self.masked = Some(masked);
        }
    }
}

impl Mask for Locks {
    fn mask(&mut self, masks: &Masks) {
        for lock in &mut self.locks {
            lock.holders.iter_mut().for_each(|c| c.mask(masks));
            lock.waiters.iter_mut().for_each(|c| c.mask(masks));
        }
    }
}

impl Mask for Elections {
    fn mask(&mut self, masks: &Masks) {
        for election in &mut self.elections {
            if let Some(leader) = &mut election.leader {
                leader.mask(masks);
            }
            election.candidates.iter_mut().for_each(|c| c.mask(masks));
        }
    }
}

impl Mask for Instance {
    fn mask(&mut self, masks: &Masks) {
        if let Some(masked) = hide(masks, &self.key, &mut self.value) {
            self.masked = Some(masked);
            // The address is read from the value, so it is part of what
            // is hidden.
            self.address = None;
        }
    }
}

impl Mask for Services {
    fn mask(&mut self, masks: &Masks) {
        for service in &mut self.services {
            service.instances.iter_mut().for_each(|i| i.mask(masks));
        }
    }
}

/// The first masked source a copy or rename would write under a target
/// that is not masked, with that target: such a copy would show the value
/// to everyone who may read the target.
pub(super) fn unmasked_target<'a>(
    masks: &Masks,
    sources: &[&'a [u8]],
    targets: &'a [Vec<u8>],
) -> Option<(&'a [u8], &'a [u8])> {
    sources
        .iter()
        .zip(targets)
        .find(|(source, target)| {
            masks.matching(source).is_some() && masks.matching(target).is_none()
        })
        .map(|(source, target)| (*source, target.as_slice()))
}

/// `answer` with its values masked.
pub(super) fn masked<T: Mask>(mut answer: T, masks: &Masks) -> T {
    answer.mask(masks);
    answer
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use etcdeck_shared::coord::{Election, Lock, LockKind, Service};
    use etcdeck_shared::edit::Version;
    use etcdeck_shared::ws::{EventKind, SubId};
    use etcdeck_shared::{LeaseId, Revision};

    use super::*;

    const SECRET_KEY: &str = "/app/db/password";
    const SECRET: &str = "hunter2-do-not-show";
    const PLAIN_KEY: &str = "/app/db/host";
    const PLAIN: &str = "db.internal-visible";

    fn key_value(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: Bytes::from(key),
            value: Bytes::from(value),
            create_revision: Revision(2),
            mod_revision: Revision(3),
            version: 1,
            lease: None,
            revision: Revision(4),
            masked: None,
        }
    }

    fn watch_kv(key: &str, value: &str) -> WatchKv {
        WatchKv {
            key: Bytes::from(key),
            value: Bytes::from(value),
            create_revision: Revision(2),
            mod_revision: Revision(3),
            version: 1,
            lease: None,
            masked: None,
        }
    }

    fn event(key: &str, value: &str) -> WatchEvent {
        WatchEvent {
            kind: EventKind::Put,
            kv: watch_kv(key, value),
            prev: Some(watch_kv(key, value)),
            lease_ended: false,
        }
    }

    fn contender(key: &str, value: &str) -> Contender {
        Contender {
            key: Bytes::from(key),
            value: Bytes::from(value),
            lease: LeaseId(0x694d),
            lease_ttl: Some(5),
            create_revision: Revision(2),
            holding_since_ms: None,
            since_exact: false,
            role: None,
            masked: None,
        }
    }

    fn instance(key: &str, value: &str) -> Instance {
        Instance {
            key: Bytes::from(key),
            name: Bytes::from("i-1"),
            value: Bytes::from(value),
            address: Some(value.to_owned()),
            lease: None,
            lease_ttl: None,
            granted_ttl: None,
            masked: None,
        }
    }

    /// Every answer type that carries a value, with the secret key and a
    /// plain one in it, as JSON after masking.
    fn every_answer(key: &str, value: &str) -> Vec<(&'static str, String)> {
        let masks = Masks::default();
        fn json<T: Mask + serde::Serialize>(answer: T, masks: &Masks) -> String {
            serde_json::to_string(&masked(answer, masks)).unwrap()
        }
        vec![
            ("key", json(key_value(key, value), &masks)),
            (
                "written",
                json(
                    Written {
                        revision: Revision(3),
                        keys: 1,
                        kv: Some(key_value(key, value)),
                    },
                    &masks,
                ),
            ),
            (
                "conflict",
                json(
                    Conflict {
                        message: "changed".into(),
                        key: Bytes::from(key),
                        current: Some(key_value(key, value)),
                        revision: Revision(4),
                    },
                    &masks,
                ),
            ),
            (
                "history",
                json(
                    History {
                        key: Bytes::from(key),
                        versions: vec![Version {
                            mod_revision: Revision(3),
                            value: Some(Bytes::from(value)),
                            create_revision: Revision(2),
                            version: 1,
                            lease: None,
                            masked: None,
                        }],
                        compacted_before: None,
                        truncated: false,
                        revision: Revision(4),
                    },
                    &masks,
                ),
            ),
            (
                "events",
                json(
                    ServerMessage::Events {
                        id: SubId(1),
                        events: vec![event(key, value)],
                    },
                    &masks,
                ),
            ),
            (
                "snapshot",
                json(
                    ServerMessage::Snapshot {
                        id: SubId(1),
                        revision: Revision(4),
                        kvs: vec![watch_kv(key, value)],
                        done: true,
                    },
                    &masks,
                ),
            ),
            (
                "locks",
                json(
                    Locks {
                        locks: vec![Lock {
                            prefix: Bytes::from("/app/db"),
                            kind: LockKind::Mutex,
                            holders: vec![contender(key, value)],
                            waiters: vec![contender(key, value)],
                        }],
                        revision: Revision(4),
                    },
                    &masks,
                ),
            ),
            (
                "elections",
                json(
                    Elections {
                        elections: vec![Election {
                            prefix: Bytes::from("/app/db"),
                            leader: Some(contender(key, value)),
                            candidates: vec![contender(key, value)],
                        }],
                        revision: Revision(4),
                    },
                    &masks,
                ),
            ),
            (
                "services",
                json(
                    Services {
                        prefixes: vec![Bytes::from("/app/")],
                        services: vec![Service {
                            prefix: Bytes::from("/app/"),
                            name: Bytes::from("db"),
                            instances: vec![instance(key, value)],
                        }],
                        revision: Revision(4),
                    },
                    &masks,
                ),
            ),
        ]
    }

    fn encoded(value: &str) -> String {
        serde_json::to_string(&Bytes::from(value)).unwrap()
    }

    #[test]
    fn no_answer_carries_a_masked_value() {
        for (what, json) in every_answer(SECRET_KEY, SECRET) {
            assert!(!json.contains(SECRET), "{what}: {json}");
            assert!(
                !json.contains(encoded(SECRET).trim_matches('"')),
                "{what}: {json}"
            );
            assert!(
                json.contains(r#""masked":{"pattern":"*password*","size":19}"#),
                "{what}: {json}"
            );
        }
    }

    #[test]
    fn other_values_are_left_alone() {
        for (what, json) in every_answer(PLAIN_KEY, PLAIN) {
            assert!(
                json.contains(encoded(PLAIN).trim_matches('"')),
                "{what}: {json}"
            );
            assert!(!json.contains("masked"), "{what}: {json}");
        }
    }

    #[test]
    fn frames_are_rebuilt_only_when_they_touch_a_masked_key() {
        let masks = Masks::default();
        assert!(!touches(&masks, &[event(PLAIN_KEY, PLAIN)]));
        assert!(touches(
            &masks,
            &[event(PLAIN_KEY, PLAIN), event(SECRET_KEY, SECRET)]
        ));
        assert!(!touches(&Masks::off(), &[event(SECRET_KEY, SECRET)]));
    }

    #[test]
    fn copies_may_not_move_a_masked_value_under_a_plain_name() {
        let masks = Masks::default();
        let sources: Vec<&[u8]> = vec![b"/a/host", b"/a/db/password"];
        let exposed = vec![b"/b/host".to_vec(), b"/b/db/pw".to_vec()];
        assert_eq!(
            unmasked_target(&masks, &sources, &exposed),
            Some((&b"/a/db/password"[..], &b"/b/db/pw"[..]))
        );
        let kept = vec![b"/b/host".to_vec(), b"/b/db/password".to_vec()];
        assert_eq!(unmasked_target(&masks, &sources, &kept), None);
        assert_eq!(unmasked_target(&Masks::off(), &sources, &exposed), None);
    }

    #[test]
    fn a_deleted_version_stays_a_delete() {
        let mut history = History {
            key: Bytes::from(SECRET_KEY),
            versions: vec![Version {
                mod_revision: Revision(5),
                value: None,
                create_revision: Revision(0),
                version: 0,
                lease: None,
                masked: None,
            }],
            compacted_before: None,
            truncated: false,
            revision: Revision(5),
        };
        history.mask(&Masks::default());
        assert_eq!(history.versions[0].value, None);
        assert_eq!(history.versions[0].masked, None);
    }
}
