//! The wall screen's pure logic, with no DOM, timer or network in it: what
//! state each tile is in ([`tile_state`]), the colour the cluster tile may
//! show ([`shown_tone`]: never green unless its data is live), the one
//! reading of the cluster verdict ([`verdict_lines`]), the rate of watch
//! events counted in the browser ([`EventRate`]), and the queue depths the
//! page keeps for their trend ([`QueueTrends`]).

use std::collections::{BTreeMap, VecDeque};

use etcdeck_shared::Bytes;
use etcdeck_shared::cluster::{ClusterView, Tone, verdict};
use etcdeck_shared::coord::{DepthSample, Queues};

use crate::freshness::ViewState;

/// What a tile shows about its own data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TileState {
    /// Nothing read yet.
    Loading,
    /// Current.
    Live,
    /// What is shown may be out of date since `since_ms`.
    Stale { since_ms: u64 },
    /// Nothing can be shown: the read failed with this sentence.
    Failed { message: String },
}

impl TileState {
    /// The `data-state` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            TileState::Loading => "loading",
            TileState::Live => "live",
            TileState::Stale { .. } => "stale",
            TileState::Failed { .. } => "failed",
        }
    }
}

/// A tile's state from its view's freshness and whether it holds data. A
/// view that has data but no verdict on it yet (its first read is still
/// being confirmed) counts as live; a failure with nothing to show is
/// failed whatever the freshness says.
pub fn tile_state(view: &ViewState, has_data: bool, error: Option<String>) -> TileState {
    match view {
        ViewState::Stale { since_ms, .. } => TileState::Stale {
            since_ms: *since_ms,
        },
        ViewState::Failed { message } => TileState::Failed {
            message: message.clone(),
        },
        ViewState::Ready { .. } | ViewState::Loading if has_data => TileState::Live,
        ViewState::Ready { .. } | ViewState::Loading => match error {
            Some(message) => TileState::Failed { message },
            None => TileState::Loading,
        },
    }
}

/// The colour of the cluster tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WallTone {
    Ok,
    Warn,
    Bad,
    /// The data is not live: no colour is claimed.
    Unknown,
}

impl WallTone {
    /// The `data-tone` value.
    pub fn as_str(self) -> &'static str {
        match self {
            WallTone::Ok => "ok",
            WallTone::Warn => "warn",
            WallTone::Bad => "bad",
            WallTone::Unknown => "unknown",
        }
    }
}

/// The tone the cluster tile shows: the verdict's while its data is live;
/// otherwise only red survives (a cluster last seen in trouble is not
/// reassuring), and anything better is unknown, so a frozen screen never
/// looks green.
pub fn shown_tone(state: &TileState, tone: Option<Tone>) -> WallTone {
    let tone = tone.map(|t| match t {
        Tone::Ok => WallTone::Ok,
        Tone::Warn => WallTone::Warn,
        Tone::Bad => WallTone::Bad,
    });
    match (state, tone) {
        (TileState::Live, Some(tone)) => tone,
        (_, Some(WallTone::Bad)) => WallTone::Bad,
        _ => WallTone::Unknown,
    }
}

/// The cluster's verdict as the wall draws it: the tone and each reason
/// with its own tone, worst first. The one place the wall reads the shape
/// of [`etcdeck_shared::cluster::Verdict`].
pub fn verdict_lines(view: &ClusterView, now_ms: u64) -> (Tone, Vec<(Tone, String)>) {
    let verdict = verdict(view, now_ms);
    let lines = verdict
        .alerts
        .into_iter()
        .map(|a| (a.tone, a.what))
        .collect();
    (verdict.tone, lines)
}

/// How far back the events rate looks.
pub const RATE_WINDOW_MS: u64 = 10_000;

/// Watch events counted as they arrive, for a rate over the last
/// [`RATE_WINDOW_MS`] (or since counting began, when that is shorter).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventRate {
    /// When counting began.
    started_ms: Option<u64>,
    /// Events per whole second (the second's start in ms), oldest first.
    seconds: VecDeque<(u64, u64)>,
}

impl EventRate {
    /// Counting begins at `now_ms` (the subscription opened); what was
    /// counted before is dropped.
    pub fn start(&mut self, now_ms: u64) {
        self.started_ms = Some(now_ms);
        self.seconds.clear();
    }

    /// `count` events arrived at `now_ms`.
    pub fn add(&mut self, now_ms: u64, count: u64) {
        if self.started_ms.is_none() {
            self.started_ms = Some(now_ms);
        }
        let second = now_ms - now_ms % 1_000;
        match self.seconds.back_mut() {
            Some((at, n)) if *at == second => *n += count,
            _ => self.seconds.push_back((second, count)),
        }
        self.forget(now_ms);
    }

    fn forget(&mut self, now_ms: u64) {
        while self
            .seconds
            .front()
            .is_some_and(|(at, _)| at + RATE_WINDOW_MS <= now_ms)
        {
            self.seconds.pop_front();
        }
    }

    /// Events per second at `now_ms`; `None` before counting began or in
    /// its first second (too short to say).
    pub fn per_sec(&self, now_ms: u64) -> Option<f64> {
        let started = self.started_ms?;
        let span = now_ms.saturating_sub(started).min(RATE_WINDOW_MS);
        if span < 1_000 {
            return None;
        }
        let counted: u64 = self
            .seconds
            .iter()
            .filter(|(at, _)| at + RATE_WINDOW_MS > now_ms)
            .map(|(_, n)| n)
            .sum();
        Some(counted as f64 * 1_000.0 / span as f64)
    }
}

/// How long the page keeps each queue's depths.
pub const TREND_KEEP_MS: u64 = 10 * 60 * 1000;
/// A trend compares the latest depth with the one this long before.
pub const TREND_SPAN_MS: u64 = 60 * 1000;

/// Which way a queue's depth goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    Rising,
    Falling,
    Steady,
    /// Too few samples yet.
    Unknown,
}

impl Trend {
    /// An arrow and a word, for the tile.
    pub fn words(self) -> &'static str {
        match self {
            Trend::Rising => "↑ rising",
            Trend::Falling => "↓ falling",
            Trend::Steady => "→ steady",
            Trend::Unknown => "",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Rising => "rising",
            Trend::Falling => "falling",
            Trend::Steady => "steady",
            Trend::Unknown => "unknown",
        }
    }
}

/// Every queue's depths over the last [`TREND_KEEP_MS`], kept by the page
/// from each answer: the backend's samples (five minutes) and the depth of
/// each answer, so the trend outlives the backend's window and survives
/// its restart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueTrends {
    queues: BTreeMap<Bytes, BTreeMap<u64, u64>>,
}

impl QueueTrends {
    /// Takes in an answer read at `read_at_ms`; queues it no longer lists
    /// are dropped.
    pub fn take(&mut self, answer: &Queues, read_at_ms: u64) {
        self.queues
            .retain(|prefix, _| answer.queues.iter().any(|q| q.prefix == *prefix));
        for queue in &answer.queues {
            let samples = self.queues.entry(queue.prefix.clone()).or_default();
            for sample in &queue.depth_history {
                samples.insert(sample.at_ms, sample.depth);
            }
            samples.insert(read_at_ms, queue.depth);
            let cutoff = read_at_ms.saturating_sub(TREND_KEEP_MS);
            samples.retain(|at, _| *at >= cutoff);
        }
    }

    /// A queue's kept depths, oldest first.
    pub fn samples(&self, prefix: &Bytes) -> Vec<DepthSample> {
        self.queues
            .get(prefix)
            .map(|samples| {
                samples
                    .iter()
                    .map(|(&at_ms, &depth)| DepthSample { at_ms, depth })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A queue's trend: its latest depth against the depth
    /// [`TREND_SPAN_MS`] before (or the oldest kept, when the page has
    /// watched less long, but at least a few seconds).
    pub fn trend(&self, prefix: &Bytes) -> Trend {
        let Some(samples) = self.queues.get(prefix) else {
            return Trend::Unknown;
        };
        let Some((&last_at, &last)) = samples.iter().next_back() else {
            return Trend::Unknown;
        };
        let from = last_at.saturating_sub(TREND_SPAN_MS);
        let Some((&first_at, &first)) = samples.range(from..).next() else {
            return Trend::Unknown;
        };
        if last_at.saturating_sub(first_at) < 5_000 {
            return Trend::Unknown;
        }
        match last.cmp(&first) {
            std::cmp::Ordering::Greater => Trend::Rising,
            std::cmp::Ordering::Less => Trend::Falling,
            std::cmp::Ordering::Equal => Trend::Steady,
        }
    }
}

/// The first `max` items and how many more there are.
pub fn first_of<T>(mut items: Vec<T>, max: usize) -> (Vec<T>, usize) {
    let more = items.len().saturating_sub(max);
    items.truncate(max);
    (items, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;
    use etcdeck_shared::Revision;
    use etcdeck_shared::coord::{Queue, QueueKind};

    #[unit_test]
    fn a_tile_is_stale_or_failed_as_its_view_says() {
        let ready = ViewState::Ready {
            revision: Revision(3),
        };
        assert_eq!(tile_state(&ready, true, None), TileState::Live);
        assert_eq!(
            tile_state(&ViewState::Loading, false, None),
            TileState::Loading
        );
        assert_eq!(
            tile_state(&ViewState::Loading, false, Some("no".into())),
            TileState::Failed {
                message: "no".into()
            }
        );
        let stale = ViewState::Stale {
            since_ms: 7,
            revision: None,
        };
        assert_eq!(
            tile_state(&stale, true, None),
            TileState::Stale { since_ms: 7 }
        );
    }

    #[unit_test]
    fn only_live_data_may_be_green() {
        let stale = TileState::Stale { since_ms: 1 };
        assert_eq!(shown_tone(&TileState::Live, Some(Tone::Ok)), WallTone::Ok);
        assert_eq!(shown_tone(&stale, Some(Tone::Ok)), WallTone::Unknown);
        assert_eq!(shown_tone(&stale, Some(Tone::Warn)), WallTone::Unknown);
        assert_eq!(shown_tone(&stale, Some(Tone::Bad)), WallTone::Bad);
        assert_eq!(shown_tone(&TileState::Loading, None), WallTone::Unknown);
        let failed = TileState::Failed {
            message: "x".into(),
        };
        assert_eq!(shown_tone(&failed, Some(Tone::Ok)), WallTone::Unknown);
    }

    #[unit_test]
    fn the_event_rate_covers_the_last_ten_seconds() {
        let mut rate = EventRate::default();
        assert_eq!(rate.per_sec(5_000), None);
        rate.start(10_000);
        assert_eq!(rate.per_sec(10_500), None);
        rate.add(10_100, 4);
        rate.add(10_900, 6);
        // 10 events in the first 2 s.
        assert_eq!(rate.per_sec(12_000), Some(5.0));
        // Long after, those events are out of the window.
        rate.add(30_000, 20);
        assert_eq!(rate.per_sec(30_000), Some(2.0));
        assert_eq!(rate.per_sec(45_000), Some(0.0));
    }

    fn queues(depth: u64, history: &[(u64, u64)]) -> Queues {
        Queues {
            queues: vec![Queue {
                prefix: Bytes::from("jobs".as_bytes()),
                kind: QueueKind::Queue,
                depth,
                oldest_age_secs: None,
                priorities: Vec::new(),
                enqueue_per_sec: None,
                dequeue_per_sec: None,
                depth_history: history
                    .iter()
                    .map(|&(at_ms, depth)| DepthSample { at_ms, depth })
                    .collect(),
            }],
            revision: Revision(1),
        }
    }

    #[unit_test]
    fn queue_trends_are_kept_by_the_page_and_compared_over_a_minute() {
        let jobs = Bytes::from("jobs".as_bytes());
        let mut trends = QueueTrends::default();
        assert_eq!(trends.trend(&jobs), Trend::Unknown);
        trends.take(&queues(3, &[(1_000, 1), (6_000, 2)]), 8_000);
        assert_eq!(trends.samples(&jobs).len(), 3);
        assert_eq!(trends.trend(&jobs), Trend::Rising);
        // Later answers keep what the backend no longer sends.
        trends.take(&queues(1, &[(60_000, 1)]), 62_000);
        assert_eq!(trends.samples(&jobs).first().map(|s| s.at_ms), Some(1_000));
        assert_eq!(trends.trend(&jobs), Trend::Falling);
        trends.take(&queues(1, &[]), 90_000);
        assert_eq!(trends.trend(&jobs), Trend::Steady);
        // Past the page's window, old samples go.
        trends.take(&queues(1, &[]), 1_000 + TREND_KEEP_MS + 1);
        assert!(trends.samples(&jobs).iter().all(|s| s.at_ms > 1_000));
        // A queue no longer listed is forgotten.
        trends.take(
            &Queues {
                queues: Vec::new(),
                revision: Revision(2),
            },
            1,
        );
        assert!(trends.samples(&jobs).is_empty());
    }

    #[unit_test]
    fn first_of_counts_the_rest() {
        assert_eq!(first_of(vec![1, 2, 3, 4], 3), (vec![1, 2, 3], 1));
        assert_eq!(first_of(vec![1], 3), (vec![1], 0));
    }
}
