//! The keyspace model's store: every key's metadata and, within the memory
//! budget, its value, as of one revision. Pure data: it knows nothing of
//! etcd, the hub or who may read what; the model's builder fills it and
//! keeps it current, and the readers (search, sizes, levels, coordination)
//! walk it under the model's read lock.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use super::sizes::{Size, Sizes};
use crate::tree::{End, prefix_end};

/// One key as the model holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    /// The lease the key is attached to; 0 for none.
    pub lease: i64,
    /// The value's length in bytes, known even when the value is not held.
    pub value_size: u32,
    /// The value, unless the memory budget dropped it (then readers that
    /// need it read etcd instead).
    pub value: Option<Arc<[u8]>>,
}

/// What the store holds in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub keys: u64,
    /// The sum of every key's length.
    pub key_bytes: u64,
    /// The sum of every value's length (held or not).
    pub value_bytes: u64,
    /// The sum of the lengths of the values held in memory.
    pub held_value_bytes: u64,
}

/// Every key of the keyspace (or of the range the model covers) in key order.
#[derive(Debug, Default)]
pub struct Store {
    keys: BTreeMap<Box<[u8]>, Entry>,
    /// The revision the store is complete at.
    revision: i64,
    totals: Totals,
    /// Keys and bytes under every tree prefix, kept with the keys.
    sizes: Sizes,
}

impl Store {
    pub fn new() -> Self {
        Store::default()
    }

    /// The revision the store reflects: every change up to and including it,
    /// nothing after.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Marks the store complete at `revision` (after a whole revision's
    /// events, or the initial read, have been applied).
    pub fn set_revision(&mut self, revision: i64) {
        self.revision = revision;
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Keys and bytes under every tree prefix.
    pub fn sizes(&self) -> &Sizes {
        &self.sizes
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    /// Creates or replaces `key`; the totals follow.
    pub fn put(&mut self, key: &[u8], entry: Entry) {
        self.add_to_totals(key, &entry);
        if let Some(old) = self.keys.insert(key.into(), entry) {
            self.remove_from_totals(key, &old);
        }
    }

    /// Removes `key`, answering what it held.
    pub fn delete(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.keys.remove(key)?;
        self.remove_from_totals(key, &old);
        Some(old)
    }

    /// Forgets `key`'s value (keeping its metadata) to stay within the
    /// memory budget; answers how many bytes that freed.
    pub fn drop_value(&mut self, key: &[u8]) -> u64 {
        let Some(entry) = self.keys.get_mut(key) else {
            return 0;
        };
        match entry.value.take() {
            Some(value) => {
                let freed = value.len() as u64;
                self.totals.held_value_bytes -= freed;
                freed
            }
            None => 0,
        }
    }

    /// The keys from `start` (inclusive) to `end` (exclusive; `None` is the
    /// end of the keyspace), in key order.
    pub fn range<'a>(
        &'a self,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> impl Iterator<Item = (&'a [u8], &'a Entry)> + 'a {
        let upper = match end {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        self.keys
            .range::<[u8], _>((Bound::Included(start), upper))
            .map(|(key, entry)| (&**key, entry))
    }

    /// The keys that start with `prefix`, in key order.
    pub fn prefix<'a>(&'a self, prefix: &[u8]) -> impl Iterator<Item = (&'a [u8], &'a Entry)> + 'a {
        let end: End = prefix_end(prefix);
        let start: Box<[u8]> = prefix.into();
        let upper = match end {
            Some(end) => Bound::Excluded(end.into_boxed_slice()),
            None => Bound::Unbounded,
        };
        self.keys
            .range((Bound::Included(start), upper))
            .map(|(key, entry)| (&**key, entry))
    }

    fn add_to_totals(&mut self, key: &[u8], entry: &Entry) {
        self.sizes.add(key, Size::of(key, entry.value_size));
        self.totals.keys += 1;
        self.totals.key_bytes += key.len() as u64;
        self.totals.value_bytes += u64::from(entry.value_size);
        self.totals.held_value_bytes += entry.value.as_ref().map_or(0, |v| v.len() as u64);
    }

    fn remove_from_totals(&mut self, key: &[u8], entry: &Entry) {
        self.sizes.remove(key, Size::of(key, entry.value_size));
        self.totals.keys -= 1;
        self.totals.key_bytes -= key.len() as u64;
        self.totals.value_bytes -= u64::from(entry.value_size);
        self.totals.held_value_bytes -= entry.value.as_ref().map_or(0, |v| v.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(rev: i64, value: &[u8]) -> Entry {
        Entry {
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            lease: 0,
            value_size: value.len() as u32,
            value: Some(value.into()),
        }
    }

    #[test]
    fn totals_follow_puts_replacements_deletes_and_dropped_values() {
        let mut store = Store::new();
        store.put(b"a/1", entry(2, b"xyz"));
        store.put(b"a/2", entry(3, b"12345"));
        store.put(b"a/1", entry(4, b"x"));
        assert_eq!(
            store.totals(),
            Totals {
                keys: 2,
                key_bytes: 6,
                value_bytes: 6,
                held_value_bytes: 6
            }
        );
        assert_eq!(store.drop_value(b"a/2"), 5);
        assert_eq!(store.totals().held_value_bytes, 1);
        assert_eq!(store.totals().value_bytes, 6);
        assert!(store.delete(b"a/1").is_some());
        assert_eq!(
            store.totals(),
            Totals {
                keys: 1,
                key_bytes: 3,
                value_bytes: 5,
                held_value_bytes: 0
            }
        );
    }

    #[test]
    fn a_prefix_holds_exactly_the_keys_that_start_with_it_including_0xff() {
        let mut store = Store::new();
        for key in [&b"a"[..], b"a/", b"a/\xff", b"a0", b"\xff", b"\xff\xff"] {
            store.put(key, entry(2, b""));
        }
        let under = |p: &[u8]| store.prefix(p).map(|(k, _)| k.to_vec()).collect::<Vec<_>>();
        assert_eq!(under(b"a/"), vec![b"a/".to_vec(), b"a/\xff".to_vec()]);
        assert_eq!(under(b"\xff"), vec![b"\xff".to_vec(), b"\xff\xff".to_vec()]);
        assert_eq!(under(b"").len(), 6);
        let range: Vec<_> = store
            .range(b"a/", Some(b"a0"))
            .map(|(k, _)| k.to_vec())
            .collect();
        assert_eq!(range, vec![b"a/".to_vec(), b"a/\xff".to_vec()]);
    }
}
