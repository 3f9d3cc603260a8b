//! Finding Queue and PriorityQueue prefixes nobody configured.
//!
//! Queue items carry no lease, so they cannot be found the way locks and
//! elections are. Instead a background walk lists the key tree one level at
//! a time with [`tree::list_level`] (separator `/`, the recipes' own), at
//! most [`LEVELS_PER_PASS`] level pages every [`PASS_INTERVAL`] (paced, not
//! in a burst), carrying on
//! where the previous pass stopped and starting again from the root once
//! the whole tree has been visited. A level `P/` is a queue when every child
//! on its first page is item-shaped ([`shape`]): 19-digit Unix-nanosecond
//! names that are keys without children (`Queue`), or 5-digit priority
//! directories, not keys themselves, whose first one holds only 16-digit
//! sequence keys (`PriorityQueue`); with at least [`MIN_ITEMS`] items, and
//! its first item without a lease (RWMutex readers `P/read/<nanos>` are
//! attached to their session's lease). A found queue gets a
//! [`QueueTracker`] like a configured one; one that has been empty or
//! absent for [`FORGET_AFTER`] is stopped and forgotten.
//!
//! Each level page is the tight, bounded read the tree view makes; a
//! queue's items are never listed beyond one page, and no level is read
//! whole.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use etcdeck_shared::{Bytes, Level};
use tokio::sync::watch;
use tokio::time::Instant;

use super::queues::QueueTracker;
use super::with_slash;
use crate::etcd::{EtcdError, EtcdSession};
use crate::hub::Hub;
use crate::tree::{self, LevelError, range_end};

/// How often a walk pass runs (the first one runs at start-up).
pub const PASS_INTERVAL: Duration = Duration::from_secs(60);
/// Most level pages one pass lists.
pub const LEVELS_PER_PASS: usize = 200;
/// Children read per level page.
pub const PAGE: usize = 200;
/// Pause between two level pages, so a pass is a trickle of small reads
/// rather than a burst.
const PAGE_PAUSE: Duration = Duration::from_millis(20);
/// Fewer items than this is not told from a look-alike key.
pub const MIN_ITEMS: u64 = 2;
/// A found queue empty or absent this long is no longer tracked.
pub const FORGET_AFTER: Duration = Duration::from_secs(300);
/// Most found queues tracked at once.
pub const MAX_DETECTED: usize = 100;
/// Most level pages waiting to be listed; a tree with more directories is
/// walked in part (a warning says so).
const MAX_FRONTIER: usize = 100_000;
/// The recipes' separator.
const SEP: &[u8] = b"/";

/// What the first page of a level `P/` looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Only Queue items, this many on the page.
    Queue {
        items: u64,
    },
    /// Only priority directories: the first one to check for sequence keys,
    /// and the items counted under all of them (when etcd counted them).
    Priorities {
        first: Vec<u8>,
        items: u64,
    },
    Other,
}

/// The shape of a level from its first page.
pub fn shape(level: &Level) -> Shape {
    let children = &level.children;
    if children.is_empty() {
        return Shape::Other;
    }
    let leaf = |c: &etcdeck_shared::Child| c.is_key && !c.has_children;
    if children
        .iter()
        .all(|c| leaf(c) && super::detect::is_unix_nanos(&c.name.0))
    {
        return Shape::Queue {
            items: children.len() as u64,
        };
    }
    if children
        .iter()
        .all(|c| !c.is_key && c.has_children && is_digits(&c.name.0, 5))
    {
        return Shape::Priorities {
            first: children[0].name.0.clone(),
            items: children.iter().filter_map(|c| c.count).sum(),
        };
    }
    Shape::Other
}

/// Whether the first page of a priority directory holds only sequence keys.
pub fn is_sequence_level(level: &Level) -> bool {
    !level.children.is_empty()
        && level
            .children
            .iter()
            .all(|c| c.is_key && !c.has_children && is_digits(&c.name.0, 16))
}

fn is_digits(name: &[u8], len: usize) -> bool {
    name.len() == len && name.iter().all(u8::is_ascii_digit)
}

/// The queue name of a level prefix `P/`: `P`, when not empty.
pub fn queue_name(level: &[u8]) -> Option<&[u8]> {
    level.strip_suffix(SEP).filter(|name| !name.is_empty())
}

/// One found queue.
#[derive(Debug)]
struct Entry {
    tracker: Arc<QueueTracker>,
    /// Ends the tracker's tasks.
    stop: watch::Sender<bool>,
    empty_since: Option<Instant>,
}

/// The queues found by the walk, with their trackers.
#[derive(Debug, Default)]
pub struct Detected {
    queues: Mutex<BTreeMap<Vec<u8>, Entry>>,
}

impl Detected {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, Entry>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The trackers of the found queues, in prefix order.
    pub fn trackers(&self) -> Vec<Arc<QueueTracker>> {
        self.lock().values().map(|e| e.tracker.clone()).collect()
    }

    fn stop_all(&self) {
        for (_, entry) in std::mem::take(&mut *self.lock()) {
            let _ = entry.stop.send(true);
        }
    }
}

/// Starts the walk; it stops, with every tracker it started, when
/// `shutdown` turns `true`.
pub fn spawn(
    detected: Arc<Detected>,
    session: EtcdSession,
    hub: Hub,
    configured: BTreeSet<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut walk = Walk {
            session,
            hub,
            configured,
            detected: detected.clone(),
            frontier: VecDeque::new(),
        };
        loop {
            tokio::select! {
                _ = walk.pass() => {}
                _ = shutdown.changed() => break,
            }
            tokio::select! {
                _ = tokio::time::sleep(PASS_INTERVAL) => {}
                _ = shutdown.changed() => break,
            }
        }
        detected.stop_all();
    });
}

struct Walk {
    session: EtcdSession,
    hub: Hub,
    configured: BTreeSet<Vec<u8>>,
    detected: Arc<Detected>,
    /// Level pages still to list in this cycle: (level prefix, cursor).
    frontier: VecDeque<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Walk {
    async fn pass(&mut self) {
        self.forget_empty().await;
        if self.frontier.is_empty() {
            self.frontier.push_back((Vec::new(), None));
        }
        for _ in 0..LEVELS_PER_PASS {
            let Some((prefix, after)) = self.frontier.pop_front() else {
                return;
            };
            tokio::time::sleep(PAGE_PAUSE).await;
            match self.visit(&prefix, after.as_deref()).await {
                Ok(()) => {}
                Err(LevelError::Source(EtcdError::PermissionDenied(_))) => {
                    tracing::debug!(prefix = %Bytes::from(prefix.as_slice()).display(), "level not readable");
                }
                Err(err) => {
                    // Try this page again next pass.
                    tracing::debug!(error = %err, "queue detection pass stopped");
                    self.frontier.push_front((prefix, after));
                    return;
                }
            }
        }
    }

    /// Lists one page of a level; a queue is recognised on a first page.
    async fn visit(
        &mut self,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<(), LevelError<EtcdError>> {
        let level = tree::list_level(&self.session, prefix, SEP, after, PAGE).await?;
        if after.is_none()
            && let Some(name) = queue_name(prefix)
            && self.is_queue(prefix, &level).await?
        {
            self.found(name);
            return Ok(());
        }
        let mut children = Vec::new();
        for child in level.children.iter().filter(|c| c.has_children) {
            let mut below = prefix.to_vec();
            below.extend_from_slice(&child.name.0);
            below.extend_from_slice(SEP);
            children.push((below, None));
        }
        if let Some(next) = level.next {
            children.push((prefix.to_vec(), Some(next.0)));
        }
        for entry in children {
            if self.frontier.len() >= MAX_FRONTIER {
                tracing::warn!(
                    limit = MAX_FRONTIER,
                    "too many key tree levels to look for queues in all of them"
                );
                break;
            }
            self.frontier.push_back(entry);
        }
        Ok(())
    }

    async fn is_queue(&self, prefix: &[u8], level: &Level) -> Result<bool, LevelError<EtcdError>> {
        let (items, first_dir) = match shape(level) {
            Shape::Queue { items } => (items, None),
            Shape::Priorities { first, items } => (items, Some(first)),
            Shape::Other => return Ok(false),
        };
        if items < MIN_ITEMS {
            return Ok(false);
        }
        let Some(first) = level.children.first() else {
            return Ok(false);
        };
        let mut first_item = prefix.to_vec();
        first_item.extend_from_slice(&first.name.0);
        if let Some(dir) = first_dir {
            let mut dir_prefix = prefix.to_vec();
            dir_prefix.extend_from_slice(&dir);
            dir_prefix.extend_from_slice(SEP);
            let sequences = tree::list_level(&self.session, &dir_prefix, SEP, None, PAGE).await?;
            if !is_sequence_level(&sequences) {
                return Ok(false);
            }
            let Some(sequence) = sequences.children.first() else {
                return Ok(false);
            };
            first_item = dir_prefix;
            first_item.extend_from_slice(&sequence.name.0);
        }
        // A one-key range: cheap however many items there are.
        let mut end = first_item.clone();
        end.push(0);
        let read = self
            .session
            .range_kvs(&first_item, &end, 1, Some(level.revision.0))
            .await
            .map_err(LevelError::Source)?;
        Ok(read.kvs.first().is_some_and(|kv| kv.lease == 0))
    }

    fn found(&self, name: &[u8]) {
        if self.configured.contains(name) {
            return;
        }
        let mut queues = self.detected.lock();
        if queues.contains_key(name) {
            return;
        }
        if queues.len() >= MAX_DETECTED {
            tracing::warn!(
                limit = MAX_DETECTED,
                "too many queues found to track another"
            );
            return;
        }
        tracing::info!(queue = %Bytes::from(name).display(), "found a queue");
        let tracker = Arc::new(QueueTracker::new(name.to_vec()));
        let (stop, stopped) = watch::channel(false);
        tracker.spawn(self.hub.clone(), self.session.clone(), stopped);
        queues.insert(
            name.to_vec(),
            Entry {
                tracker,
                stop,
                empty_since: None,
            },
        );
    }

    /// Counts each found queue; stops tracking those empty for
    /// [`FORGET_AFTER`].
    async fn forget_empty(&self) {
        let names: Vec<Vec<u8>> = self.detected.lock().keys().cloned().collect();
        for name in names {
            let items = with_slash(&name);
            let depth = match self
                .session
                .count_range(&items, &range_end(&items), None)
                .await
            {
                Ok((_, depth)) => depth,
                Err(err) => {
                    tracing::debug!(error = %err, "found queue not counted");
                    continue;
                }
            };
            let mut queues = self.detected.lock();
            let Some(entry) = queues.get_mut(&name) else {
                continue;
            };
            if !still_tracked(depth, &mut entry.empty_since, Instant::now())
                && let Some(entry) = queues.remove(&name)
            {
                tracing::info!(queue = %Bytes::from(name.as_slice()).display(), "found queue empty; no longer tracked");
                let _ = entry.stop.send(true);
            }
        }
    }
}

/// Whether a found queue of `depth` items stays tracked, given since when it
/// has been seen empty (updated here).
fn still_tracked(depth: u64, empty_since: &mut Option<Instant>, now: Instant) -> bool {
    if depth > 0 {
        *empty_since = None;
        return true;
    }
    let since = *empty_since.get_or_insert(now);
    now.duration_since(since) < FORGET_AFTER
}

#[cfg(test)]
mod tests {
    use etcdeck_shared::{Child, Revision};

    use super::*;

    fn key(name: &str) -> Child {
        Child {
            name: Bytes::from(name.as_bytes()),
            is_key: true,
            has_children: false,
            count: Some(0),
            bytes: None,
        }
    }

    fn dir(name: &str, count: u64) -> Child {
        Child {
            name: Bytes::from(name.as_bytes()),
            is_key: false,
            has_children: true,
            count: Some(count),
            bytes: None,
        }
    }

    fn level(children: Vec<Child>) -> Level {
        Level {
            prefix: Bytes::from(&b"jobs/"[..]),
            children,
            next: None,
            revision: Revision(7),
        }
    }

    #[test]
    fn queue_items_make_a_queue() {
        let items = level(vec![key("1763712000123456789"), key("1763712000123456790")]);
        assert_eq!(shape(&items), Shape::Queue { items: 2 });
    }

    #[test]
    fn priority_directories_make_a_priority_queue_candidate() {
        let dirs = level(vec![dir("00001", 3), dir("00010", 1)]);
        assert_eq!(
            shape(&dirs),
            Shape::Priorities {
                first: b"00001".to_vec(),
                items: 4
            }
        );
        assert!(is_sequence_level(&level(vec![
            key("0000000000000001"),
            key("0000000000000002"),
        ])));
    }

    #[test]
    fn look_alikes_are_not_queues() {
        let nanos = "1763712000123456789";
        // A nanosecond-named key that also has children.
        let mut both = key(nanos);
        both.has_children = true;
        // A 5-digit directory that is also a key.
        let mut dir_key = dir("00001", 2);
        dir_key.is_key = true;
        for other in [
            vec![],
            vec![key(nanos), key("job-1")],
            vec![key(nanos), key("176371200012345678")],
            vec![key(nanos), key("17637120001234567890")],
            vec![key(nanos), key("1763712000x23456789")],
            vec![key(nanos), both],
            vec![key(nanos), dir("00001", 2)],
            vec![dir("00001", 2), dir("0001", 2)],
            vec![dir("00001", 2), key("00002")],
            vec![dir_key],
        ] {
            let shown = format!("{other:?}");
            assert_eq!(shape(&level(other)), Shape::Other, "{shown}");
        }
        for not_sequences in [
            vec![],
            vec![key("0000000000000001"), key("000000000000002")],
            vec![key("0000000000000001"), dir("0000000000000002", 1)],
            vec![key("000000000000000a")],
        ] {
            assert!(!is_sequence_level(&level(not_sequences)));
        }
    }

    #[test]
    fn a_single_item_is_counted_as_one() {
        // The walk needs MIN_ITEMS: one numeric key alone is not a queue.
        assert_eq!(
            shape(&level(vec![key("1763712000123456789")])),
            Shape::Queue { items: 1 }
        );
        const { assert!(MIN_ITEMS == 2) };
    }

    #[test]
    fn an_empty_queue_is_forgotten_after_a_while_unless_it_fills_again() {
        let start = Instant::now();
        let mut since = None;
        assert!(still_tracked(0, &mut since, start));
        assert!(still_tracked(0, &mut since, start + FORGET_AFTER / 2));
        // Items again: the clock starts over.
        assert!(still_tracked(3, &mut since, start + FORGET_AFTER / 2));
        assert_eq!(since, None);
        let later = start + FORGET_AFTER;
        assert!(still_tracked(0, &mut since, later));
        assert!(!still_tracked(0, &mut since, later + FORGET_AFTER));
    }

    #[test]
    fn queue_names() {
        assert_eq!(queue_name(b"jobs/"), Some(&b"jobs"[..]));
        assert_eq!(queue_name(b"/app/jobs/"), Some(&b"/app/jobs"[..]));
        assert_eq!(queue_name(b"/"), None);
        assert_eq!(queue_name(b""), None);
        assert_eq!(queue_name(b"jobs"), None);
    }
}
