//! The readers of the sizes index: a tree level answered from the model
//! (the skip-scan of `crate::tree` run over the store instead of etcd, so
//! the answer is the one etcd would give at the model's revision, with each
//! child's bytes added) and the largest prefixes under a prefix. Pure: the
//! caller holds the model's read lock and says what the person may read.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use etcdeck_shared::sizes::{PrefixSize, SizeOf};
use etcdeck_shared::{Bytes, Level};

use super::access::Readable;
use super::sizes::{Size, is_dir};
use super::store::Store;
use crate::tree::{self, End, KeySource, LevelError, RangeKeys, RangeRead, prefix_end};

/// Why the store cannot answer a read of the skip-scan.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreReadError {
    #[error("the model is at revision {have}, not {want}")]
    OtherRevision { have: i64, want: i64 },
    #[error("the level scan waited, which a read of the model never does")]
    Waited,
}

/// The store as the tree lister's [`KeySource`]: every read is answered at
/// the store's revision, and a count of a whole tree prefix comes from the
/// sizes index.
#[derive(Debug)]
pub struct StoreSource<'a> {
    pub store: &'a Store,
}

impl StoreSource<'_> {
    fn at(&self, revision: Option<i64>) -> Result<i64, StoreReadError> {
        let have = self.store.revision();
        match revision {
            Some(want) if want != have => Err(StoreReadError::OtherRevision { have, want }),
            _ => Ok(have),
        }
    }
}

impl KeySource for StoreSource<'_> {
    type Error = StoreReadError;

    fn range_keys(
        &self,
        read: RangeRead,
    ) -> impl Future<Output = Result<RangeKeys, StoreReadError>> + Send {
        let answer = self.at(read.revision).map(|revision| {
            let mut keys: Vec<Vec<u8>> = self
                .store
                .range(&read.start, read.end.as_deref())
                .take(read.limit + 1)
                .map(|(key, _)| key.to_vec())
                .collect();
            let more = keys.len() > read.limit;
            keys.truncate(read.limit);
            RangeKeys {
                keys,
                more,
                revision,
            }
        });
        std::future::ready(answer)
    }

    fn count_ranges(
        &self,
        ranges: Vec<(Vec<u8>, End)>,
        revision: i64,
    ) -> impl Future<Output = Result<Vec<u64>, StoreReadError>> + Send {
        let answer = self.at(Some(revision)).map(|_| {
            ranges
                .iter()
                .map(|(start, end)| count(self.store, start, end))
                .collect()
        });
        std::future::ready(answer)
    }
}

fn count(store: &Store, start: &[u8], end: &End) -> u64 {
    if *end == prefix_end(start)
        && let Some(size) = store.sizes().under(start)
    {
        return size.keys;
    }
    store.range(start, end.as_deref()).count() as u64
}

/// Runs a future that never waits (every read of the store is ready at once).
fn now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// One page of a level from the store, as the skip-scan over etcd would
/// answer it at the store's revision, each child with its bytes. `None`
/// when the person may not read the whole level (etcd would refuse some of
/// its reads; the caller asks etcd as the person instead).
pub fn level(
    store: &Store,
    readable: &Readable,
    prefix: &[u8],
    separator: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Option<Result<Level, LevelError<StoreReadError>>> {
    if !readable.covers(prefix, &prefix_end(prefix)) {
        return None;
    }
    let source = StoreSource { store };
    let scan = tree::list_level_at(
        &source,
        prefix,
        separator,
        after,
        limit,
        Some(store.revision()),
    );
    let mut level = match now(scan) {
        Some(Ok(level)) => level,
        Some(Err(err)) => return Some(Err(err)),
        None => return Some(Err(LevelError::Source(StoreReadError::Waited))),
    };
    let (at, sep) = (Bytes::from(prefix), Bytes::from(separator));
    for child in &mut level.children {
        let mut size = if child.has_children {
            readable.size_under(store, child.dir(&at, &sep).as_slice())
        } else {
            Size::default()
        };
        if child.is_key {
            let key = child.key(&at);
            if let Some(entry) = store.get(key.as_slice()) {
                size.add(Size::of(key.as_slice(), entry.value_size));
            }
        }
        child.bytes = Some(size.bytes);
    }
    Some(Ok(level))
}

/// The largest prefixes one level below `prefix` (a tree prefix: `""` or
/// ending in the index's separator), as the person may read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Largest {
    /// Everything readable under `prefix`.
    pub here: SizeOf,
    /// Readable keys directly under `prefix`, in no deeper prefix.
    pub direct: SizeOf,
    /// Up to `n` prefixes, largest first by bytes (then in key order).
    pub largest: Vec<PrefixSize>,
    /// How many readable prefixes lie one level below `prefix`.
    pub prefixes: u64,
}

/// [`Largest`] of `prefix`; `None` when `prefix` is not a tree prefix the
/// index keeps.
pub fn largest(store: &Store, readable: &Readable, prefix: &[u8], n: usize) -> Option<Largest> {
    if !is_dir(prefix) {
        return None;
    }
    let here = readable.size_under(store, prefix);
    let mut below = Size::default();
    let mut all: Vec<(&[u8], Size)> = Vec::new();
    for (dir, size) in store.sizes().children(prefix) {
        let size = if readable.covers(dir, &prefix_end(dir)) {
            size
        } else {
            readable.size_under(store, dir)
        };
        if size.keys > 0 {
            below.add(size);
            all.push((dir, size));
        }
    }
    let prefixes = all.len() as u64;
    all.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then_with(|| a.0.cmp(b.0)));
    all.truncate(n);
    Some(Largest {
        here: size_of(here),
        direct: SizeOf {
            keys: here.keys.saturating_sub(below.keys),
            bytes: here.bytes.saturating_sub(below.bytes),
        },
        largest: all
            .into_iter()
            .map(|(dir, size)| PrefixSize {
                prefix: Bytes::from(dir),
                size: size_of(size),
            })
            .collect(),
        prefixes,
    })
}

pub fn size_of(size: Size) -> SizeOf {
    SizeOf {
        keys: size.keys,
        bytes: size.bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    fn store(keys: &[(&[u8], u32)]) -> Store {
        let mut store = Store::new();
        for (key, value_size) in keys {
            store.put(
                key,
                Entry {
                    create_revision: 2,
                    mod_revision: 2,
                    version: 1,
                    lease: 0,
                    value_size: *value_size,
                    value: None,
                },
            );
        }
        store.set_revision(5);
        store
    }

    #[test]
    fn a_level_from_the_store_carries_counts_and_bytes() {
        let store = store(&[(b"a", 1), (b"a/x", 2), (b"a/y/z", 3), (b"b", 4)]);
        let level = level(&store, &Readable::all(), b"", b"/", None, 10)
            .unwrap()
            .unwrap();
        assert_eq!(level.revision.0, 5);
        let rows: Vec<_> = level
            .children
            .iter()
            .map(|c| (c.name.display(), c.count, c.bytes))
            .collect();
        // a: itself (1 + 1) and a/x (3 + 2) and a/y/z (5 + 3).
        assert_eq!(
            rows,
            vec![
                ("a".to_owned(), Some(2), Some(15)),
                ("b".to_owned(), None, Some(5))
            ]
        );
        assert!(matches!(
            level_at_other_revision(&store),
            Some(Err(LevelError::Source(
                StoreReadError::OtherRevision { .. }
            )))
        ));
    }

    fn level_at_other_revision(store: &Store) -> Option<Result<Level, LevelError<StoreReadError>>> {
        let source = StoreSource { store };
        now(tree::list_level_at(&source, b"", b"/", None, 10, Some(4)))
    }

    #[test]
    fn largest_prefixes_are_ordered_by_bytes_and_say_what_is_direct() {
        let store = store(&[
            (b"a/1", 100),
            (b"b/1", 10),
            (b"b/2", 10),
            (b"c", 50),
            (b"d/x/y", 1),
        ]);
        let top = largest(&store, &Readable::all(), b"", 2).unwrap();
        let names: Vec<String> = top.largest.iter().map(|p| p.prefix.display()).collect();
        assert_eq!(names, vec!["a/", "b/"]);
        assert_eq!(top.prefixes, 3);
        assert_eq!(top.direct, SizeOf { keys: 1, bytes: 51 });
        assert_eq!(top.here.keys, 5);
        assert!(largest(&store, &Readable::all(), b"a", 2).is_none());
    }
}
