//! Listing one level of the key tree without reading the keyspace.
//!
//! etcd has no directories: a level is the set of distinct path segments that
//! follow a prefix. The obvious ways to compute it both fail at scale (see
//! `ETCD-FACTS.md`): reading every key under the prefix costs the whole subtree
//! in time and bytes, and skipping from one child to the next with `limit = 1`
//! ranges that end at the end of the parent is quadratic, because etcd 3.4
//! counts every key in a range even when the limit is 1. **The end bound of a
//! range decides its cost, not its limit.**
//!
//! So [`list_level`] skip-scans with *tight* end bounds: to find the next key
//! at or after `lo` it probes `[lo, e)` for growing `e`, where each candidate
//! end bumps one byte of `lo` by 1, 2, 4, ... 128 (deepest byte first). Empty
//! probes are cheap (an index seek), and the first non-empty one usually spans
//! about one sibling. The probe width that succeeded last is remembered, so
//! siblings with similar names (`svc-01`, `svc-02`, ...) cost one or two probes
//! each. A probe returns up to a batch of keys, so levels of many leaves are read
//! a batch per round trip; the batch shrinks when it comes back full of one
//! directory's keys. When the scan meets a key below a separator it jumps over
//! that whole subtree.
//!
//! After the children of a page are known, one batch of `count_only` reads (one
//! etcd transaction per 128) says which children have keys below them and how
//! many. Every read of a page is made at the revision of its first read, so a
//! page is a consistent snapshot.
//!
//! The module is pure logic over [`KeySource`]; the etcd implementation lives
//! in [`crate::etcd`], and tests here drive it with an in-memory map.

use std::collections::HashMap;
use std::future::Future;

use etcdeck_shared::{Bytes, Child, Level, Revision};

/// An exclusive upper bound of a key range; `None` is "to the end of the keyspace".
pub type End = Option<Vec<u8>>;

/// One read: keys only, in key order, in `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeRead {
    pub start: Vec<u8>,
    pub end: End,
    pub limit: usize,
    /// Read at this revision; `None` reads the latest.
    pub revision: Option<i64>,
}

/// The answer to a [`RangeRead`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeKeys {
    pub keys: Vec<Vec<u8>>,
    /// More keys lie in the range beyond `limit`.
    pub more: bool,
    /// The revision the read was made at.
    pub revision: i64,
}

/// What [`list_level`] needs from etcd.
pub trait KeySource {
    type Error;

    fn range_keys(
        &self,
        read: RangeRead,
    ) -> impl Future<Output = Result<RangeKeys, Self::Error>> + Send;

    /// How many keys lie in each range, all read at `revision`.
    fn count_ranges(
        &self,
        ranges: Vec<(Vec<u8>, End)>,
        revision: i64,
    ) -> impl Future<Output = Result<Vec<u64>, Self::Error>> + Send;
}

/// Why a level request is refused before any read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError<E> {
    #[error("the cursor does not belong to this level")]
    BadCursor,
    #[error("the separator must not be empty")]
    EmptySeparator,
    #[error(transparent)]
    Source(E),
}

/// The smallest key greater than every key that starts with `prefix`;
/// `None` when there is none (an empty prefix, or one of only 0xff bytes).
pub fn prefix_end(prefix: &[u8]) -> End {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// [`prefix_end`] as etcd spells a range end, where `\0` stands for "to
/// the end of the keyspace": the one range end of a prefix for the etcd
/// layer, the coordination views and the tree alike.
pub fn range_end(prefix: &[u8]) -> Vec<u8> {
    prefix_end(prefix).unwrap_or_else(|| vec![0])
}

fn below(key: &[u8], end: &End) -> bool {
    end.as_ref().is_none_or(|e| key < e.as_slice())
}

/// The key right after `key` in key order.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

/// A candidate probe end for a scan resuming at `lo`: `lo[..pos] + [lo[pos] + 2^step]`.
/// `pos = lo.len()` stands for a virtual `0x00` byte after `lo`, so
/// `lo + [2^step]` is the narrowest candidate there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Width {
    pos: usize,
    /// log2 of the bump.
    step: u8,
}

impl Width {
    fn at(pos: usize) -> Width {
        Width { pos, step: 0 }
    }

    fn end(self, lo: &[u8]) -> Option<Vec<u8>> {
        let pos = self.pos.min(lo.len());
        let base = lo.get(pos).copied().unwrap_or(0) as u16;
        let bumped = base + (1u16 << self.step);
        if bumped > 0xff {
            return None;
        }
        let mut end = lo[..pos].to_vec();
        end.push(bumped as u8);
        Some(end)
    }

    /// The next wider candidate, or `None` when only the level end is left.
    /// `floor` is the first byte after the level prefix; above `start` (the
    /// byte where this search began) only bumps of 1 and 2 are tried, so
    /// that finding nothing more, at the end of a level, costs two probes a
    /// byte rather than eight.
    fn wider(self, floor: usize, start: usize) -> Option<Width> {
        let last_step = if self.pos < start { 1 } else { 7 };
        if self.step < last_step {
            Some(Width {
                pos: self.pos,
                step: self.step + 1,
            })
        } else if self.pos > floor {
            Some(Width::at(self.pos - 1))
        } else {
            None
        }
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Lists up to `limit` direct children of `prefix` starting at the cursor
/// `after` (the `next` of the previous page).
pub async fn list_level<S: KeySource>(
    source: &S,
    prefix: &[u8],
    separator: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Level, LevelError<S::Error>> {
    list_level_at(source, prefix, separator, after, limit, None).await
}

/// [`list_level`] as the level was at `revision` (`None`: now).
pub async fn list_level_at<S: KeySource>(
    source: &S,
    prefix: &[u8],
    separator: &[u8],
    after: Option<&[u8]>,
    limit: usize,
    revision: Option<i64>,
) -> Result<Level, LevelError<S::Error>> {
    if separator.is_empty() {
        return Err(LevelError::EmptySeparator);
    }
    let level_end = prefix_end(prefix);
    let page_start = match after {
        Some(cursor) if cursor.starts_with(prefix) && below(cursor, &level_end) => cursor.to_vec(),
        Some(_) => return Err(LevelError::BadCursor),
        // etcd has no empty key: the whole keyspace starts at "\0".
        None if prefix.is_empty() => vec![0],
        None => prefix.to_vec(),
    };
    let limit = limit.max(1);

    let mut scan = Scan {
        source,
        prefix,
        level_end: &level_end,
        revision,
        // A page resumed from a cursor starts at the cursor's last name byte
        // (cursors end in one artificial byte after a key or directory).
        width: after.map(|_| Width::at(page_start.len().saturating_sub(2))),
        found: None,
        reads: 0,
        last_name: Vec::new(),
        last_differ: 0,
        sibling_pos: (0, 0),
        batch: 64,
    };
    let mut children: Vec<Child> = Vec::new();
    // Where each child name sits in `children`, to merge a key `P+name` with
    // the directory `P+name+sep` that sorts after it, maybe not adjacently.
    let mut by_name: HashMap<Vec<u8>, usize> = HashMap::new();
    // `None` once the scan has passed the end of the level.
    let mut lo: Option<Vec<u8>> = Some(page_start.clone()).filter(|lo| below(lo, &level_end));

    'scan: while let Some(from) = lo.take() {
        if children.len() >= limit {
            lo = Some(from);
            break;
        }
        let (keys, end, more) = scan.next_batch(&from, limit - children.len()).await?;
        let mut consumed_to = Some(from);
        let mut emitted = 0usize;
        for key in &keys {
            let Some(at) = consumed_to.as_deref() else {
                break;
            };
            if key.as_slice() < at {
                // Inside a subtree already jumped over in this batch.
                continue;
            }
            if children.len() >= limit {
                break;
            }
            let rest = &key[prefix.len()..];
            let Some(sep_at) = find(rest, separator) else {
                scan.saw_name(rest);
                by_name.insert(rest.to_vec(), children.len());
                children.push(Child {
                    name: Bytes::from(rest),
                    is_key: true,
                    has_children: false,
                    count: None,
                    bytes: None,
                });
                emitted += 1;
                consumed_to = Some(successor(key));
                continue;
            };
            let name = &rest[..sep_at];
            let dir = &key[..prefix.len() + sep_at + separator.len()];
            if let Some(&i) = by_name.get(name) {
                children[i].has_children = true;
            } else if !scan
                .listed_before(&key[..prefix.len() + sep_at], &page_start)
                .await?
            {
                scan.saw_name(name);
                by_name.insert(name.to_vec(), children.len());
                children.push(Child {
                    name: Bytes::from(name),
                    is_key: false,
                    has_children: true,
                    count: None,
                    bytes: None,
                });
                emitted += 1;
            }
            // Jump over the whole subtree; `None`: it runs to the keyspace end.
            consumed_to = prefix_end(dir);
        }
        scan.adapt(keys.len(), emitted, more);
        lo = match (consumed_to, more) {
            (None, _) => None,
            (Some(at), true) => Some(at),
            // Nothing else lies in [from, end): resume at the later of the two.
            (Some(at), false) => end.map(|end| end.max(at)),
        }
        .filter(|lo| below(lo, &level_end));
        if children.len() >= limit {
            break 'scan;
        }
    }

    let revision = match scan.revision {
        Some(rev) => rev,
        None => scan.latest_revision(&page_start).await?,
    };
    tracing::debug!(
        reads = scan.reads,
        children = children.len(),
        "scanned a level page"
    );
    // Everything before `lo` was read (all of the level when `lo` is None).
    fill_counts(
        source,
        prefix,
        separator,
        &mut children,
        lo.as_deref(),
        revision,
    )
    .await?;

    Ok(Level {
        prefix: Bytes::from(prefix),
        children,
        next: lo.map(Bytes::new),
        revision: Revision(revision),
    })
}

/// The state of a skip-scan over one page.
struct Scan<'a, S> {
    source: &'a S,
    prefix: &'a [u8],
    level_end: &'a End,
    revision: Option<i64>,
    /// Where the next search for keys starts.
    width: Option<Width>,
    /// How many range reads the page took.
    reads: usize,
    /// The width and limit of the probe that found the last batch.
    found: Option<(Width, usize)>,
    /// The last child name seen, where it differed from the one before, and
    /// where the next sibling is likely to differ (absolute key position).
    last_name: Vec<u8>,
    last_differ: usize,
    sibling_pos: (usize, usize),
    /// How many keys a probe asks for.
    batch: usize,
}

impl<S: KeySource> Scan<'_, S> {
    /// Finds the next keys at or after `lo`: returns them, the end of the
    /// probe range that held them, and whether that range holds more.
    async fn next_batch(
        &mut self,
        lo: &[u8],
        want: usize,
    ) -> Result<(Vec<Vec<u8>>, End, bool), LevelError<S::Error>> {
        let floor = self.prefix.len();
        // Names rarely start with a control byte: the first search begins
        // at `lo + [0x20]`.
        let mut width = self.width.unwrap_or(Width {
            pos: lo.len(),
            step: 5,
        });
        width.pos = width.pos.clamp(floor, lo.len().max(floor));
        let start = width.pos;
        let limit = self.batch.min(want.max(1));
        loop {
            // `None`: no candidate below the level end is left.
            let end = match width.end(lo).filter(|e| below(e, self.level_end)) {
                Some(end) => Some(end),
                None => match width.wider(floor, start) {
                    Some(w) => {
                        width = w;
                        continue;
                    }
                    None => None,
                },
            };
            let is_last = end.is_none();
            let end = end.or_else(|| self.level_end.clone());
            let answer = self.read(lo.to_vec(), end.clone(), limit).await?;
            if !answer.keys.is_empty() || is_last {
                self.found = Some((width, limit));
                return Ok((answer.keys, end, answer.more));
            }
            width = width.wider(floor, start).unwrap_or(Width {
                pos: floor,
                step: 8,
            });
        }
    }

    /// Notes a child name found by the scan: siblings usually differ from
    /// each other in the same byte, so that is where the next search starts.
    fn saw_name(&mut self, name: &[u8]) {
        // With no name before it, guess that siblings differ in the last byte.
        let differ = if self.last_name.is_empty() && self.last_differ == 0 {
            name.len().saturating_sub(1)
        } else {
            common_prefix(&self.last_name, name)
        };
        self.sibling_pos = (self.prefix.len() + differ.max(self.last_differ), differ);
        self.last_differ = differ;
        self.last_name = name.to_vec();
    }

    /// Tunes the next search from what the last batch held. A batch that was
    /// mostly one subtree's keys means the probe spanned a directory: seek the
    /// next sibling at the byte where siblings differ, with a small batch. A
    /// batch of mostly distinct children (leaves) keeps or widens its width
    /// and grows the batch.
    fn adapt(&mut self, keys: usize, emitted: usize, more: bool) {
        let Some((width, limit)) = self.found.take() else {
            return;
        };
        if keys == 0 {
            return;
        }
        let floor = self.prefix.len();
        // Fewer than three in four keys were new children: mostly a subtree.
        self.width = Some(if emitted * 4 < keys * 3 {
            self.batch = 2;
            // A bump of 2 at the byte where siblings differ spans exactly the
            // next value there (`svc-01` -> `svc-02`): one probe per sibling.
            Width {
                pos: self.sibling_pos.0,
                step: 1,
            }
        } else if more {
            self.batch = (self.batch * 4).min(1024);
            width
        } else if keys * 2 < limit {
            width.wider(floor, width.pos).unwrap_or(width)
        } else {
            width
        });
    }

    /// The revision of the page when no probe was needed.
    async fn latest_revision(&mut self, at: &[u8]) -> Result<i64, LevelError<S::Error>> {
        let answer = self.read(at.to_vec(), Some(successor(at)), 1).await?;
        Ok(answer.revision)
    }

    /// Whether the key `P+name` of a directory met on this page exists and
    /// sorts before the page, so the child was listed on an earlier page.
    async fn listed_before(
        &mut self,
        key: &[u8],
        page_start: &[u8],
    ) -> Result<bool, LevelError<S::Error>> {
        if key >= page_start || key.is_empty() {
            // It would have been met on this page as a key already, or it
            // is the empty key, which etcd does not allow.
            return Ok(false);
        }
        let answer = self.read(key.to_vec(), Some(successor(key)), 1).await?;
        Ok(!answer.keys.is_empty())
    }

    async fn read(
        &mut self,
        start: Vec<u8>,
        end: End,
        limit: usize,
    ) -> Result<RangeKeys, LevelError<S::Error>> {
        self.reads += 1;
        let answer = self
            .source
            .range_keys(RangeRead {
                start,
                end,
                limit,
                revision: self.revision,
            })
            .await
            .map_err(LevelError::Source)?;
        self.revision.get_or_insert(answer.revision);
        Ok(answer)
    }
}

/// Marks which children have keys below them, with their counts. The scan
/// has read every key before `seen_to` (`None`: to the end of the level), so a
/// key-only child whose subtree range ends before that has no subtree and is
/// not counted again.
async fn fill_counts<S: KeySource>(
    source: &S,
    prefix: &[u8],
    separator: &[u8],
    children: &mut [Child],
    seen_to: Option<&[u8]>,
    revision: i64,
) -> Result<(), LevelError<S::Error>> {
    let (prefix, separator) = (Bytes::from(prefix), Bytes::from(separator));
    let mut to_count = Vec::new();
    let mut ranges = Vec::new();
    for (i, child) in children.iter().enumerate() {
        let dir = child.dir(&prefix, &separator).0;
        let end = prefix_end(&dir);
        let seen_empty = !child.has_children
            && match (seen_to, &end) {
                (None, _) => true,
                (Some(seen), Some(end)) => end.as_slice() <= seen,
                (Some(_), None) => false,
            };
        if !seen_empty {
            to_count.push(i);
            ranges.push((dir, end));
        }
    }
    if ranges.is_empty() {
        return Ok(());
    }
    let counts = source
        .count_ranges(ranges, revision)
        .await
        .map_err(LevelError::Source)?;
    for (i, count) in to_count.into_iter().zip(counts) {
        children[i].has_children = count > 0;
        children[i].count = (count > 0).then_some(count);
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
