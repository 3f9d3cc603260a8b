//! Which keys a person may read, as ranges, and the model's sizes counted
//! only inside them (pure). The model is built as etcdeck's own user, so
//! anything derived from it for a logged-in person (sizes, largest
//! prefixes, a warm level) is limited to the ranges the person's roles
//! grant read access to; the API layer asks etcd for those roles as the
//! person's own session.

use etcdeck_shared::users::{Access, PermissionEntry};

use super::sizes::{Size, is_dir};
use super::store::Store;
use crate::tree::{End, prefix_end};

/// The keys one etcd user may read: the whole keyspace, or a union of
/// `[start, end)` ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readable {
    /// Sorted, disjoint and not touching; `None` for the whole keyspace.
    ranges: Option<Vec<(Vec<u8>, End)>>,
}

/// etcd has no empty key: a range from `""` starts at `"\0"`, so both are
/// the same range.
fn normal_start(start: &[u8]) -> &[u8] {
    if start.is_empty() { &[0] } else { start }
}

fn end_le(a: &End, b: &End) -> bool {
    match (a, b) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => a <= b,
    }
}

fn end_min(a: &End, b: &End) -> End {
    if end_le(a, b) { a.clone() } else { b.clone() }
}

fn before_end(key: &[u8], end: &End) -> bool {
    end.as_ref().is_none_or(|e| key < e.as_slice())
}

impl Readable {
    /// Every key (etcd's root role, or an etcd without auth).
    pub fn all() -> Readable {
        Readable { ranges: None }
    }

    /// No key at all.
    pub fn nothing() -> Readable {
        Readable {
            ranges: Some(Vec::new()),
        }
    }

    /// The keys the read (or read-write) permissions of a user's roles
    /// cover, as etcd keeps them: an empty `range_end` is one key, `\0` is
    /// "from `key` to the end of the keyspace".
    pub fn from_permissions<'a>(
        permissions: impl IntoIterator<Item = &'a PermissionEntry>,
    ) -> Readable {
        let mut ranges: Vec<(Vec<u8>, End)> = permissions
            .into_iter()
            .filter(|p| matches!(p.access, Access::Read | Access::Readwrite))
            .filter_map(|p| {
                let key = normal_start(p.key.as_slice()).to_vec();
                let end: End = match p.range_end.as_slice() {
                    [] => {
                        let mut next = key.clone();
                        next.push(0);
                        Some(next)
                    }
                    [0] => None,
                    end => Some(end.to_vec()),
                };
                // etcd ignores a permission whose range is empty.
                before_end(&key, &end).then_some((key, end))
            })
            .collect();
        ranges.sort_by(|a, b| a.0.cmp(&b.0));
        let mut merged: Vec<(Vec<u8>, End)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                // `start` lies at or before the end of the last range: they
                // join, ending where the later of the two ends.
                Some((_, last_end))
                    if before_end(&start, last_end) || last_end.as_deref() == Some(&start[..]) =>
                {
                    if !end_le(&end, last_end) {
                        *last_end = end;
                    }
                }
                _ => merged.push((start, end)),
            }
        }
        Readable {
            ranges: Some(merged),
        }
    }

    pub fn is_all(&self) -> bool {
        self.ranges.is_none()
    }

    /// Whether every key of `[start, end)` may be read.
    pub fn covers(&self, start: &[u8], end: &End) -> bool {
        let start = normal_start(start);
        match &self.ranges {
            None => true,
            Some(ranges) => ranges
                .iter()
                .any(|(s, e)| s.as_slice() <= start && end_le(end, e)),
        }
    }

    /// The readable parts of `[start, end)`, in key order.
    pub fn within(&self, start: &[u8], end: &End) -> Vec<(Vec<u8>, End)> {
        let start = normal_start(start);
        let Some(ranges) = &self.ranges else {
            return vec![(start.to_vec(), end.clone())];
        };
        ranges
            .iter()
            .filter_map(|(s, e)| {
                let from = s.as_slice().max(start).to_vec();
                let to = end_min(e, end);
                before_end(&from, &to).then_some((from, to))
            })
            .collect()
    }

    /// The keys and bytes under `prefix` that may be read: from the sizes
    /// index for every readable part that is a whole tree prefix, else
    /// summed from the keys of that part.
    pub fn size_under(&self, store: &Store, prefix: &[u8]) -> Size {
        let mut total = Size::default();
        for (from, to) in self.within(prefix, &prefix_end(prefix)) {
            total.add(range_size(store, &from, &to));
        }
        total
    }
}

/// The size of `[from, to)`: the index's when the range is a whole tree
/// prefix, else the sum over its keys.
fn range_size(store: &Store, from: &[u8], to: &End) -> Size {
    let as_dir: &[u8] = if from == [0] { &[] } else { from };
    if is_dir(as_dir)
        && *to == prefix_end(as_dir)
        && let Some(size) = store.sizes().under(as_dir)
    {
        return size;
    }
    let mut total = Size::default();
    for (key, entry) in store.range(from, to.as_deref()) {
        total.add(Size::of(key, entry.value_size));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;
    use etcdeck_shared::Bytes;
    use etcdeck_shared::users::KeyRange;

    fn perm(access: Access, key: &[u8], range_end: &[u8]) -> PermissionEntry {
        PermissionEntry {
            access,
            key: Bytes::from(key),
            range_end: Bytes::from(range_end),
            range: KeyRange::of(key, range_end),
        }
    }

    fn store(keys: &[&[u8]]) -> Store {
        let mut store = Store::new();
        for key in keys {
            store.put(
                key,
                Entry {
                    create_revision: 2,
                    mod_revision: 2,
                    version: 1,
                    lease: 0,
                    value_size: 10,
                    value: None,
                },
            );
        }
        store
    }

    #[test]
    fn read_ranges_merge_and_write_only_ones_are_left_out() {
        let readable = Readable::from_permissions(&[
            perm(Access::Read, b"/app/", b"/app0"),
            perm(Access::Readwrite, b"/app/x", b"/b"),
            perm(Access::Write, b"/secret/", b"/secret0"),
            perm(Access::Read, b"k", b""),
        ]);
        assert_eq!(
            readable.ranges,
            Some(vec![
                (b"/app/".to_vec(), Some(b"/b".to_vec())),
                (b"k".to_vec(), Some(b"k\0".to_vec())),
            ])
        );
        assert!(readable.covers(b"/app/", &prefix_end(b"/app/")));
        assert!(!readable.covers(b"/secret/", &prefix_end(b"/secret/")));
        assert!(!readable.covers(b"", &None));
        let everything = Readable::from_permissions(&[perm(Access::Read, b"\0", b"\0")]);
        assert!(everything.covers(b"", &None));
    }

    #[test]
    fn sizes_count_only_readable_keys() {
        let store = store(&[b"/app/a", b"/app/b/c", b"/secret/s", b"/z"]);
        let app = Readable::from_permissions(&[perm(Access::Read, b"/app/", b"/app0")]);
        // Each key is its length plus a 10-byte value.
        assert_eq!(app.size_under(&store, b""), Size { keys: 2, bytes: 34 });
        assert_eq!(app.size_under(&store, b"/secret/"), Size::default());
        assert_eq!(
            app.size_under(&store, b"/app/b/"),
            Size { keys: 1, bytes: 18 }
        );
        assert_eq!(
            Readable::all().size_under(&store, b""),
            Size { keys: 4, bytes: 65 }
        );
        assert_eq!(Readable::nothing().size_under(&store, b""), Size::default());
    }
}
