//! The events page's state as pure logic: the bounded list of changes shown
//! (newest last here, shown newest first), pausing into a bounded buffer,
//! gaps shown in line with the snapshot that followed them, the changes the
//! page starts with from etcd's history, the one-line summary of each
//! change for the compact list, and the event rate. The page feeds it
//! [`Delivery`]s and renders it.
//!
//! History: the page reads etcd's current revision `R` and subscribes from
//! [`history_from`]`(R)`, so one subscription replays the recent past and
//! then goes on live. Changes at or below `R` are history (no time
//! received); after `R` they are live. The backend's promise for a
//! subscription (every revision once, in order, or a gap and a snapshot)
//! is what makes the boundary exact: nothing between history and live can
//! be missed or shown twice. Of the history replayed, the changes of the
//! latest [`HISTORY_REVISIONS`] revisions are kept. When etcd has compacted
//! the start of that replay, the subscription starts again from etcd's
//! compaction point (when that is still at or before `R + 1`), so the page
//! shows what history is left and says the rest was compacted.
//!
//! Pausing never loses a change. Changes arriving while paused are buffered
//! up to [`PAUSE_BUFFER`]; a message that would not fit ends the
//! subscription instead ([`Action::Unsubscribe`]), and resuming subscribes
//! again from the last revision received plus one, which the backend
//! replays exactly (or answers with a gap if etcd compacted that history).

use std::collections::VecDeque;
use std::sync::Arc;

use etcdeck_shared::ws::{EventKind, GapReason, WatchEvent};
use etcdeck_shared::{ApiError, Revision};

use crate::format;
use crate::live::Delivery;

/// Most changes kept on screen; older ones are trimmed (and counted).
pub const DISPLAY_LIMIT: usize = 2_000;
/// Most changes held while paused.
pub const PAUSE_BUFFER: usize = 10_000;
/// The rate is averaged over this window.
pub const RATE_WINDOW_MS: f64 = 10_000.0;
/// Most revisions of history the page starts with.
pub const HISTORY_REVISIONS: usize = 50;
/// How many of etcd's latest revisions are replayed to find that history:
/// etcd's revisions count writes to every key, so the prefix's own latest
/// changes are looked for among these.
pub const HISTORY_WINDOW: i64 = 1_000;

/// Where the subscription of a page starting with history begins, when
/// etcd's revision is `current`.
pub fn history_from(current: Revision) -> Revision {
    Revision((current.0 - HISTORY_WINDOW + 1).max(1))
}

/// One line of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Event {
        /// Unique within the feed, for keyed rendering.
        seq: u64,
        event: WatchEvent,
        /// When the browser received it (ms since the Unix epoch); `None`
        /// for a change from history, which was not seen as it happened.
        received_ms: Option<u64>,
    },
    /// Changes were missed; the view was reset to a snapshot of `keys`
    /// keys at `revision` (`None` while its pages are still arriving).
    Gap {
        seq: u64,
        reason: GapReason,
        keys: usize,
        revision: Option<Revision>,
        /// It came before the history the page starts with was all
        /// replayed: that history is (partly) gone.
        in_history: bool,
    },
}

/// One change on one line (the compact list): time received, revision,
/// kind, key and value size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// `HH:MM:SS.mmm` local time; `None` for a change from history.
    pub time: Option<String>,
    pub revision: Revision,
    /// `put`, `delete` or `lease_ended` (the rows' `data-kind`).
    pub kind: &'static str,
    /// `PUT`, `DELETE`, `LEASE ENDED`.
    pub label: &'static str,
    pub key: String,
    /// The value's size; a delete has none.
    pub size: Option<String>,
}

impl Item {
    pub fn seq(&self) -> u64 {
        match self {
            Item::Event { seq, .. } | Item::Gap { seq, .. } => *seq,
        }
    }

    /// Whether the filter text keeps this line: a change whose key's display
    /// text contains it; gaps always stay, they concern every key.
    pub fn matches(&self, filter: &str) -> bool {
        match self {
            Item::Event { event, .. } => {
                filter.is_empty() || event.kv.key.display().contains(filter)
            }
            Item::Gap { .. } => true,
        }
    }

    /// Whether this is a change from history.
    pub fn is_history(&self) -> bool {
        matches!(
            self,
            Item::Event {
                received_ms: None,
                ..
            }
        )
    }

    /// Whether this is a change received live.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            Item::Event {
                received_ms: Some(_),
                ..
            }
        )
    }

    /// The compact line of a change, its time in the zone `utc_offset_min`
    /// minutes east of UTC; gaps have none (they keep their own row).
    pub fn line(&self, utc_offset_min: i64) -> Option<Line> {
        let Item::Event {
            event, received_ms, ..
        } = self
        else {
            return None;
        };
        let (kind, label) = kind_of(event);
        Some(Line {
            time: received_ms.map(|ms| clock_text(ms, utc_offset_min)),
            revision: event.kv.mod_revision,
            kind,
            label,
            key: event.kv.key.display(),
            size: (event.kind == EventKind::Put).then(|| match &event.kv.masked {
                // The backend left the value out; its size is what it said.
                Some(masked) => format!("hidden · {}", format::human_size(masked.size as usize)),
                None => format::human_size(event.kv.value.len()),
            }),
        })
    }

    fn history_revision(&self) -> Option<Revision> {
        match self {
            Item::Event {
                event,
                received_ms: None,
                ..
            } => Some(event.kv.mod_revision),
            _ => None,
        }
    }
}

/// A change's `data-kind` and badge: a delete whose lease ended is told
/// from one somebody asked for.
pub fn kind_of(event: &WatchEvent) -> (&'static str, &'static str) {
    match (event.kind, event.lease_ended) {
        (EventKind::Put, _) => ("put", "PUT"),
        (EventKind::Delete, false) => ("delete", "DELETE"),
        (EventKind::Delete, true) => ("lease_ended", "LEASE ENDED"),
    }
}

/// `HH:MM:SS.mmm` of `ms` since the Unix epoch, `utc_offset_min` minutes
/// east of UTC.
pub fn clock_text(ms: u64, utc_offset_min: i64) -> String {
    let day_ms = 24 * 60 * 60 * 1_000;
    let local = (ms as i64 + utc_offset_min * 60_000).rem_euclid(day_ms);
    let (h, rest) = (local / 3_600_000, local % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1_000, rest % 1_000);
    format!("{h:02}:{m:02}:{s:02}.{milli:03}")
}

/// What the page must do after a delivery or a user action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    /// The pause buffer is full: stop receiving for now.
    Unsubscribe,
    /// Subscribe again from this revision (the one after the last received).
    SubscribeFrom(Revision),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Feed {
    /// Shown lines, oldest first. Shared, so the view can hold the list
    /// without copying values.
    pub items: VecDeque<Arc<Item>>,
    /// Lines dropped off the old end to keep [`DISPLAY_LIMIT`].
    pub trimmed: u64,
    pub paused: bool,
    /// Lines that arrived while paused, oldest first.
    pub buffer: Vec<Arc<Item>>,
    /// The buffer was full, so the subscription was ended; resuming
    /// replays from `seen + 1`.
    pub overflowed: bool,
    /// The highest revision received (events, the start, a snapshot).
    pub seen: Option<Revision>,
    /// The subscription has been confirmed.
    pub started: bool,
    /// The subscription ended for good, with the backend's reason.
    pub closed: Option<ApiError>,
    /// Changes at or below this revision are history, not live.
    pub history_until: Option<Revision>,
    /// Revisions of history left out to keep [`HISTORY_REVISIONS`].
    pub history_trimmed: u64,
    /// etcd had compacted the history before this revision, so the page's
    /// history starts there.
    pub history_compacted: Option<Revision>,
    next_seq: u64,
}

impl Feed {
    pub fn new() -> Self {
        Feed::default()
    }

    /// A feed whose subscription starts at [`history_from`]`(current)`:
    /// what it replays up to `current` is history.
    pub fn with_history(current: Revision) -> Self {
        Feed {
            history_until: Some(current),
            ..Feed::default()
        }
    }

    /// Whether any change from history is shown.
    pub fn has_history(&self) -> bool {
        self.items.iter().any(|i| i.is_history())
    }

    /// Whether any change received live is shown or held.
    pub fn has_live(&self) -> bool {
        self.items.iter().chain(&self.buffer).any(|i| i.is_live())
    }

    /// Changes held in the pause buffer.
    pub fn buffered(&self) -> usize {
        self.buffer
            .iter()
            .filter(|i| matches!(***i, Item::Event { .. }))
            .count()
    }

    /// Applies what the subscription delivered, received at `now_ms`
    /// (ms since the Unix epoch).
    pub fn apply(&mut self, delivery: Delivery, now_ms: u64) -> Action {
        if self.overflowed {
            // Late messages of the ended subscription: resuming replays them.
            return Action::None;
        }
        match delivery {
            Delivery::Subscribed { revision } => {
                self.started = true;
                self.closed = None;
                if self.seen.is_none() {
                    self.seen = Some(revision);
                }
            }
            Delivery::Events(events) => {
                if self.paused && self.buffered() + events.len() > PAUSE_BUFFER {
                    // A message holds whole revisions; taking none of it
                    // keeps `seen` on a revision boundary for the replay.
                    self.overflowed = true;
                    return Action::Unsubscribe;
                }
                if let Some(last) = events.iter().map(|e| e.kv.mod_revision).max() {
                    self.seen = Some(self.seen.map_or(last, |s| s.max(last)));
                }
                let mut history = false;
                for event in events {
                    let seq = self.next_seq();
                    let past = self
                        .history_until
                        .is_some_and(|until| event.kv.mod_revision <= until);
                    history |= past;
                    self.push(Item::Event {
                        seq,
                        event,
                        received_ms: (!past).then_some(now_ms),
                    });
                }
                if history {
                    self.trim_history();
                }
            }
            Delivery::Gap(reason) => {
                let in_history = self
                    .history_until
                    .is_some_and(|until| self.seen.is_none_or(|seen| seen < until));
                if let (true, Some(until), GapReason::Compacted { compact_revision }) =
                    (in_history, self.history_until, &reason)
                    && compact_revision.0 <= until.0 + 1
                    && !self.has_live()
                {
                    // The start of the history is gone, not what follows:
                    // replaying from etcd's compaction point keeps every
                    // change from there on, so no gap is needed.
                    self.history_compacted = Some(*compact_revision);
                    self.items.retain(|i| !i.is_history());
                    self.buffer.retain(|i| !i.is_history());
                    self.seen = Some(Revision(compact_revision.0 - 1));
                    return Action::SubscribeFrom(*compact_revision);
                }
                let seq = self.next_seq();
                self.push(Item::Gap {
                    seq,
                    reason,
                    keys: 0,
                    revision: None,
                    in_history,
                });
            }
            Delivery::Snapshot {
                revision,
                kvs,
                done,
            } => {
                if let Some(Item::Gap {
                    keys, revision: at, ..
                }) = self.last_gap_mut().map(Arc::make_mut)
                {
                    *keys += kvs.len();
                    if done {
                        *at = Some(revision);
                    }
                }
                if done {
                    self.seen = Some(revision);
                }
            }
            Delivery::Closed(error) => self.closed = Some(error),
            Delivery::Reconnecting { .. } | Delivery::Live => {}
        }
        Action::None
    }

    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Shows what was buffered; after an overflow, also asks for the
    /// replay of what was not received.
    pub fn resume(&mut self) -> Action {
        self.paused = false;
        for item in std::mem::take(&mut self.buffer) {
            self.push_shared(item);
        }
        self.trim_history();
        if std::mem::take(&mut self.overflowed) {
            match self.seen {
                Some(seen) => return Action::SubscribeFrom(Revision(seen.0 + 1)),
                None => return Action::None,
            }
        }
        Action::None
    }

    /// Empties the list and the buffer; where the feed stands is kept.
    pub fn clear(&mut self) {
        self.items.clear();
        self.buffer.clear();
        self.trimmed = 0;
    }

    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn push(&mut self, item: Item) {
        self.push_shared(Arc::new(item));
    }

    fn push_shared(&mut self, item: Arc<Item>) {
        if self.paused {
            self.buffer.push(item);
            return;
        }
        self.items.push_back(item);
        while self.items.len() > DISPLAY_LIMIT {
            self.items.pop_front();
            self.trimmed += 1;
        }
    }

    /// Keeps the changes of the latest [`HISTORY_REVISIONS`] revisions of
    /// history; they arrive oldest first, so the oldest go.
    fn trim_history(&mut self) {
        let mut revisions: Vec<Revision> = self
            .items
            .iter()
            .filter_map(|i| i.history_revision())
            .collect();
        revisions.dedup();
        let excess = revisions.len().saturating_sub(HISTORY_REVISIONS);
        if excess == 0 {
            return;
        }
        let cut = revisions[excess - 1];
        self.items
            .retain(|i| i.history_revision().is_none_or(|r| r > cut));
        self.history_trimmed += excess as u64;
    }

    fn last_gap_mut(&mut self) -> Option<&mut Arc<Item>> {
        self.buffer
            .iter_mut()
            .rev()
            .chain(self.items.iter_mut().rev())
            .find(|i| matches!(***i, Item::Gap { .. }))
    }
}

/// Events per second over the last [`RATE_WINDOW_MS`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rate {
    /// (time in ms, events) per arrival, oldest first.
    samples: VecDeque<(f64, usize)>,
    /// When counting started: before a whole window has passed, the rate is
    /// averaged over the time there was.
    since: Option<f64>,
}

impl Rate {
    pub fn new(now: f64) -> Self {
        Rate {
            samples: VecDeque::new(),
            since: Some(now),
        }
    }

    pub fn record(&mut self, now: f64, events: usize) {
        self.since.get_or_insert(now);
        self.samples.push_back((now, events));
        self.forget(now);
    }

    pub fn per_second(&self, now: f64) -> f64 {
        let from = now - RATE_WINDOW_MS;
        let count: usize = self
            .samples
            .iter()
            .filter(|(t, _)| *t > from)
            .map(|(_, n)| n)
            .sum();
        let span = self
            .since
            .map_or(RATE_WINDOW_MS, |s| (now - s).clamp(1_000.0, RATE_WINDOW_MS));
        count as f64 * 1_000.0 / span
    }

    fn forget(&mut self, now: f64) {
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| *t <= now - RATE_WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }
}

/// "0", "0.4", "12", "1,250": one decimal below 10, none above.
pub fn rate_text(per_second: f64) -> String {
    if per_second < 10.0 {
        let text = format!("{per_second:.1}");
        text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
    } else {
        let whole = per_second.round() as u64;
        thousands(whole)
    }
}

/// 12345 as "12,345".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
