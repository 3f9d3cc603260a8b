//! The sizes index of the keyspace model: how many keys, and how many bytes
//! (keys and values), lie under every tree prefix, kept as keys are put and
//! deleted so a tree level or the largest prefixes of any prefix answer
//! without walking the keys below it. Pure data, owned by the store.
//!
//! A tree prefix here is the empty prefix (the whole keyspace) or a key's
//! leading bytes up to and including a [`SEPARATOR`]: `a/b/c` counts under
//! `""`, `a/` and `a/b/`. A prefix that ends in the separator and has no
//! entry holds no key, because every key that starts with it registers it.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::tree::prefix_end;

/// The byte that separates tree levels in the index (etcdeck's default
/// `--separator`; with another separator, sizes are summed from the keys).
pub const SEPARATOR: u8 = b'/';

/// Keys and bytes under one prefix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size {
    pub keys: u64,
    /// Every key's length plus its value's length.
    pub bytes: u64,
}

impl Size {
    /// The size one key adds: its own bytes and its value's.
    pub fn of(key: &[u8], value_size: u32) -> Size {
        Size {
            keys: 1,
            bytes: key.len() as u64 + u64::from(value_size),
        }
    }

    pub fn add(&mut self, other: Size) {
        self.keys += other.keys;
        self.bytes += other.bytes;
    }
}

/// Every tree prefix that holds a key, with its size.
#[derive(Debug, Default)]
pub struct Sizes {
    dirs: BTreeMap<Box<[u8]>, Size>,
}

impl Sizes {
    /// Counts `key` (of `size`) under every prefix it has.
    pub fn add(&mut self, key: &[u8], size: Size) {
        for dir in dirs_of(key) {
            match self.dirs.get_mut(dir) {
                Some(total) => total.add(size),
                None => {
                    self.dirs.insert(dir.into(), size);
                }
            }
        }
    }

    /// Stops counting `key` (of `size`, as it was added) anywhere; a prefix
    /// left with no key is forgotten.
    pub fn remove(&mut self, key: &[u8], size: Size) {
        for dir in dirs_of(key) {
            let Some(total) = self.dirs.get_mut(dir) else {
                continue;
            };
            total.keys = total.keys.saturating_sub(size.keys);
            total.bytes = total.bytes.saturating_sub(size.bytes);
            if total.keys == 0 {
                self.dirs.remove(dir);
            }
        }
    }

    /// The size under `dir`, which must be `""` or end in [`SEPARATOR`];
    /// `None` for any other prefix (the index does not know it).
    pub fn under(&self, dir: &[u8]) -> Option<Size> {
        if !is_dir(dir) {
            return None;
        }
        Some(self.dirs.get(dir).copied().unwrap_or_default())
    }

    /// The prefixes one level below `dir` (`dir + name + SEPARATOR`) that
    /// hold keys, in key order, with their sizes. It seeks from one to the
    /// next, so it costs the number of such prefixes, not of the keys or
    /// deeper prefixes below them.
    pub fn children<'a>(&'a self, dir: &'a [u8]) -> impl Iterator<Item = (&'a [u8], Size)> + 'a {
        let end = prefix_end(dir);
        // Where the next child may start: after `dir` itself, then after
        // each child's whole subtree.
        let mut from: Option<Bound<Vec<u8>>> = Some(Bound::Excluded(dir.to_vec()));
        std::iter::from_fn(move || {
            let lower = from.take()?;
            let lower = match &lower {
                Bound::Excluded(at) => Bound::Excluded(at.as_slice()),
                Bound::Included(at) => Bound::Included(at.as_slice()),
                Bound::Unbounded => Bound::Unbounded,
            };
            let upper = match &end {
                Some(end) => Bound::Excluded(end.as_slice()),
                None => Bound::Unbounded,
            };
            let (found, size) = self.dirs.range::<[u8], _>((lower, upper)).next()?;
            // The first prefix past the last subtree is always a child of
            // `dir`: a deeper one's own parent prefix is registered too and
            // sorts before it.
            from = prefix_end(found).map(Bound::Included);
            Some((&**found, *size))
        })
    }
}

/// Whether `prefix` is a tree prefix the index keeps.
pub fn is_dir(prefix: &[u8]) -> bool {
    prefix.last().is_none_or(|&b| b == SEPARATOR)
}

/// `""` and every leading part of `key` that ends in the separator.
fn dirs_of(key: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::once(&key[..0]).chain(
        key.iter()
            .enumerate()
            .filter(|(_, b)| **b == SEPARATOR)
            .map(move |(i, _)| &key[..=i]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_a_key_counts_it_until_it_is_removed() {
        let mut sizes = Sizes::default();
        sizes.add(b"a/b/c", Size::of(b"a/b/c", 10));
        sizes.add(b"a/d", Size::of(b"a/d", 1));
        sizes.add(b"x", Size::of(b"x", 0));
        assert_eq!(sizes.under(b""), Some(Size { keys: 3, bytes: 20 }));
        assert_eq!(sizes.under(b"a/"), Some(Size { keys: 2, bytes: 19 }));
        assert_eq!(sizes.under(b"a/b/"), Some(Size { keys: 1, bytes: 15 }));
        assert_eq!(sizes.under(b"q/"), Some(Size::default()));
        assert_eq!(sizes.under(b"a"), None);
        sizes.remove(b"a/b/c", Size::of(b"a/b/c", 10));
        assert_eq!(sizes.under(b"a/b/"), Some(Size::default()));
        assert_eq!(sizes.dirs.len(), 2);
    }

    #[test]
    fn children_are_the_prefixes_one_level_down_including_0xff_names() {
        let mut sizes = Sizes::default();
        for key in [
            &b"a/1/x"[..],
            b"a/1/y/z",
            b"a/2/",
            b"a/\xff/q",
            b"a/\xff\xff/q",
            b"a/k",
            b"b/1/x",
        ] {
            sizes.add(key, Size::of(key, 0));
        }
        let names: Vec<Vec<u8>> = sizes.children(b"a/").map(|(d, _)| d.to_vec()).collect();
        assert_eq!(
            names,
            vec![
                b"a/1/".to_vec(),
                b"a/2/".to_vec(),
                b"a/\xff/".to_vec(),
                b"a/\xff\xff/".to_vec()
            ]
        );
        let top: Vec<Vec<u8>> = sizes.children(b"").map(|(d, _)| d.to_vec()).collect();
        assert_eq!(top, vec![b"a/".to_vec(), b"b/".to_vec()]);
    }
}
