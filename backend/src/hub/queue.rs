//! The bounded buffer between an upstream watch and one subscriber.
//!
//! The upstream never waits for a subscriber: it [`Queue::push`]es and moves
//! on. When a subscriber has fallen so far behind that its buffer would pass
//! [`MAX_ITEMS`] or [`MAX_BYTES`], the buffer is emptied and marked lagged:
//! from then on it holds nothing until the subscriber has noticed
//! ([`Popped::Lagged`]) and starts its resync with [`Queue::restart`]. So a
//! slow browser costs a bounded amount of memory and never slows the others.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use etcdeck_shared::Revision;
use tokio::sync::Notify;

use super::{Batch, Ended};

/// Most items one subscriber may have waiting.
pub const MAX_ITEMS: usize = 4_096;
/// Most bytes of events one subscriber may have waiting.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// What an upstream tells its subscribers.
#[derive(Clone, Debug)]
pub enum Item {
    /// One whole revision of changes.
    Batch(Arc<Batch>),
    /// Nothing changed in the range up to this revision.
    Progress(Revision),
    /// The upstream lost etcd and is re-watching.
    Reconnecting(Arc<str>),
    /// The upstream is live again.
    Live,
    /// The upstream missed changes (its resume revision was compacted).
    Compacted(Revision),
}

/// What a subscriber finds in its queue.
#[derive(Debug)]
pub enum Popped {
    Item(Item),
    /// The buffer overflowed and was emptied; resync.
    Lagged,
    /// The upstream ended for good.
    Closed(Ended),
}

#[derive(Debug, Default)]
pub struct Queue {
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Item>,
    bytes: usize,
    lagged: bool,
    closed: Option<Ended>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind; carry on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an item without waiting; overflows into the lagged state.
    pub fn push(&self, item: Item) {
        let mut state = self.lock();
        if state.lagged || state.closed.is_some() {
            return;
        }
        let size = match &item {
            Item::Batch(batch) => batch.bytes,
            _ => 0,
        };
        if state.items.len() >= MAX_ITEMS || state.bytes + size > MAX_BYTES {
            state.items.clear();
            state.bytes = 0;
            state.lagged = true;
        } else {
            state.bytes += size;
            state.items.push_back(item);
        }
        drop(state);
        self.notify.notify_one();
    }

    /// Ends the queue: the subscriber learns why once it has read what is
    /// already waiting.
    pub fn close(&self, why: Ended) {
        self.lock().closed = Some(why);
        self.notify.notify_one();
    }

    /// The next item, waiting for one if needed.
    pub async fn pop(&self) -> Popped {
        loop {
            if let Some(popped) = self.try_pop() {
                return popped;
            }
            self.notify.notified().await;
        }
    }

    /// The next item if there is one now.
    pub fn try_pop(&self) -> Option<Popped> {
        let mut state = self.lock();
        if state.lagged {
            return Some(Popped::Lagged);
        }
        if let Some(item) = state.items.pop_front() {
            if let Item::Batch(batch) = &item {
                state.bytes -= batch.bytes;
            }
            return Some(Popped::Item(item));
        }
        state.closed.clone().map(Popped::Closed)
    }

    /// The next item if it is a batch (to gather several into one message).
    pub fn try_pop_batch(&self) -> Option<Arc<Batch>> {
        let mut state = self.lock();
        if state.lagged || !matches!(state.items.front(), Some(Item::Batch(_))) {
            return None;
        }
        match state.items.pop_front() {
            Some(Item::Batch(batch)) => {
                state.bytes -= batch.bytes;
                Some(batch)
            }
            _ => None,
        }
    }

    /// Empties the queue and starts collecting again (after a lag or a gap,
    /// before the subscriber reads its snapshot).
    pub fn restart(&self) {
        let mut state = self.lock();
        state.items.clear();
        state.bytes = 0;
        state.lagged = false;
    }

    /// Whether the queue has overflowed.
    #[cfg(test)]
    pub fn is_lagged(&self) -> bool {
        self.lock().lagged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(revision: i64, bytes: usize) -> Item {
        Item::Batch(Arc::new(Batch::new(Revision(revision), Vec::new(), bytes)))
    }

    #[tokio::test]
    async fn overflow_empties_and_marks_lagged_until_restart() {
        let queue = Queue::default();
        for rev in 0..MAX_ITEMS as i64 {
            queue.push(batch(rev, 1));
        }
        assert!(!queue.is_lagged());
        queue.push(batch(99_999, 1));
        assert!(queue.is_lagged());
        queue.push(batch(100_000, 1));
        assert!(matches!(queue.pop().await, Popped::Lagged));
        queue.restart();
        queue.push(batch(100_001, 1));
        match queue.pop().await {
            Popped::Item(Item::Batch(b)) => assert_eq!(b.revision, Revision(100_001)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn byte_bound_counts_batches() {
        let queue = Queue::default();
        queue.push(batch(1, MAX_BYTES - 10));
        queue.push(batch(2, 10));
        assert!(!queue.is_lagged());
        queue.push(batch(3, 1));
        assert!(queue.is_lagged());
    }

    #[tokio::test]
    async fn closed_after_waiting_items() {
        let queue = Queue::default();
        queue.push(Item::Progress(Revision(5)));
        queue.close(Ended::WatchDenied {
            user: None,
            reason: "no".into(),
        });
        assert!(matches!(queue.pop().await, Popped::Item(Item::Progress(_))));
        assert!(matches!(queue.pop().await, Popped::Closed(_)));
    }
}
