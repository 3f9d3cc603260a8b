//! Since when a contender has held a lock or led an election, as far as the
//! backend has seen: etcd keeps no such time, so the backend remembers when
//! it first saw each holder (a key and its `create_revision`, which a new
//! session's key never shares with an old one's).

use std::collections::HashMap;
use std::sync::Mutex;

use etcdeck_shared::coord::Contender;

/// First sightings of the current holders; holders no longer seen are
/// forgotten, so the map is as large as one answer's holders.
#[derive(Debug, Default)]
pub struct HoldTracker {
    first_seen: Mutex<HashMap<(Vec<u8>, i64), u64>>,
}

impl HoldTracker {
    /// Sets `holding_since_ms` of every holder in this answer (`now_ms` for
    /// one not seen holding before) and forgets the others.
    pub fn stamp<'a>(&self, holders: impl IntoIterator<Item = &'a mut Contender>, now_ms: u64) {
        let mut first_seen = self.first_seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut current = HashMap::new();
        for holder in holders {
            let id = (holder.key.0.clone(), holder.create_revision.0);
            let since = first_seen.get(&id).copied().unwrap_or(now_ms);
            holder.holding_since_ms = Some(since);
            current.insert(id, since);
        }
        *first_seen = current;
    }
}

#[cfg(test)]
mod tests {
    use etcdeck_shared::{Bytes, LeaseId, Revision};

    use super::*;

    fn holder(key: &str, create_revision: i64) -> Contender {
        Contender {
            key: Bytes::from(key),
            value: Bytes::from(""),
            lease: LeaseId(1),
            lease_ttl: None,
            create_revision: Revision(create_revision),
            holding_since_ms: None,
            role: None,
        }
    }

    #[test]
    fn first_sighting_sticks_until_the_holder_changes() {
        let tracker = HoldTracker::default();
        let mut a = holder("l/1", 5);
        tracker.stamp([&mut a], 1_000);
        assert_eq!(a.holding_since_ms, Some(1_000));
        let mut a = holder("l/1", 5);
        tracker.stamp([&mut a], 2_000);
        assert_eq!(a.holding_since_ms, Some(1_000));
        // The same key written again by a new session is a new holder.
        let mut b = holder("l/1", 9);
        tracker.stamp([&mut b], 3_000);
        assert_eq!(b.holding_since_ms, Some(3_000));
        let mut a = holder("l/1", 5);
        tracker.stamp([&mut a], 4_000);
        assert_eq!(a.holding_since_ms, Some(4_000));
    }
}
