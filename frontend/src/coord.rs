//! The coordination views' pure logic (leases, locks, elections, queues,
//! services), with no DOM and no network in it: TTL countdowns corrected by
//! each answer, when a view asks etcd again before a countdown would change
//! what is shown ([`recheck_at_ms`]), the alive / expiring / checking /
//! gone state of an instance ([`shown_liveness`]), the
//! sparkline's scaling, how durations, TTLs and rates read, links to the key
//! view, and which watch events can change an answer ([`CoordAnswer`]).
//!
//! The coordination pages keep their answers current with these rules
//! (through [`crate::live_view`]); the coordination views draw them.

use etcdeck_shared::coord::{Contender, DepthSample, Lock};
use etcdeck_shared::ws::WatchKv;
use etcdeck_shared::{Bytes, LeaseId};

use crate::route::BrowseLocation;
pub use answers::{CoordAnswer, not_yet_shown, watch_plan};

mod answers;

/// Most prefixes watched one by one when the whole keyspace may not be
/// watched; a socket carries at most 64 subscriptions for every view of the
/// tab together.
pub const MAX_WATCHED_PREFIXES: usize = 16;

/// A TTL read from the backend, counting down in the browser until the next
/// answer replaces it. etcd reports whole seconds; the countdown never goes
/// below zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Countdown {
    /// Seconds left when read; `None` when the lease is gone or unreadable.
    pub ttl: Option<i64>,
    /// When the answer arrived (ms since the epoch, browser clock).
    pub read_at_ms: u64,
}

impl Countdown {
    pub fn new(ttl: Option<i64>, read_at_ms: u64) -> Self {
        Countdown { ttl, read_at_ms }
    }

    /// Seconds left at `now_ms`.
    pub fn remaining(&self, now_ms: u64) -> Option<i64> {
        let elapsed = i64::try_from(now_ms.saturating_sub(self.read_at_ms) / 1000).unwrap_or(0);
        self.ttl.map(|ttl| (ttl - elapsed).max(0))
    }

    /// The countdown after a new answer: the server's figure wins over the
    /// local estimate, whether a keep-alive renewed the lease (up) or the
    /// browser's timer ran slow (down).
    pub fn corrected(self, ttl: Option<i64>, now_ms: u64) -> Self {
        Countdown::new(ttl, now_ms)
    }

    /// When the countdown reaches zero (ms since the epoch); an answer that
    /// already says zero or less counts as reaching it a second later, so a
    /// lease etcd has not yet removed is read again once, not at once.
    pub fn zero_at_ms(&self) -> Option<u64> {
        self.ttl
            .map(|ttl| self.read_at_ms + u64::try_from(ttl.max(1)).unwrap_or(1) * 1000)
    }
}

/// When the first of `ttls` (seconds left, read at `read_at_ms`) reaches zero.
pub fn first_zero_at_ms(ttls: &[i64], read_at_ms: u64) -> Option<u64> {
    ttls.iter()
        .filter_map(|ttl| Countdown::new(Some(*ttl), read_at_ms).zero_at_ms())
        .min()
}

/// How long before a countdown would change what is shown the view asks
/// etcd again: a read's round trip, with room to spare.
pub const RECHECK_LEAD_MS: u64 = 1_000;
/// Least wait between an answer and the re-read its countdowns ask for, so
/// a lease in its last seconds costs one read a second, not a busy loop.
pub const MIN_RECHECK_MS: u64 = 1_000;

/// A countdown a view shows, as etcd reported it: seconds `left` and, when
/// known, the seconds `granted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttl {
    pub left: i64,
    pub granted: Option<i64>,
}

impl Ttl {
    pub fn new(left: i64, granted: Option<i64>) -> Self {
        Ttl { left, granted }
    }

    /// How long after the read the browser's estimate would first change
    /// what is shown: fall below a third of the grant (alive to expiring)
    /// or, below that already, reach zero (expiring to checking).
    fn next_change_ms(&self) -> u64 {
        let left_ms = u64::try_from(self.left.max(0)).unwrap_or(0) * 1000;
        let third_ms = self
            .granted
            .filter(|granted| *granted > 0)
            .map(|granted| u64::try_from(granted).unwrap_or(0) * 1000 / 3);
        match third_ms {
            Some(third) if left_ms > third => left_ms - third,
            _ => left_ms,
        }
    }
}

/// When a view showing `ttls` (read at `read_at_ms`) reads again: shortly
/// ([`RECHECK_LEAD_MS`]) before the first of them would change state by the
/// browser's count alone, and never sooner than [`MIN_RECHECK_MS`] after
/// the read. Keep-alives make no watch event, so only a read tells that a
/// lease was renewed: this is what keeps a healthy instance from counting
/// down to "gone". One read of the view's endpoint serves every lease shown.
pub fn recheck_at_ms(ttls: &[Ttl], read_at_ms: u64) -> Option<u64> {
    ttls.iter()
        .map(|ttl| {
            read_at_ms
                + ttl
                    .next_change_ms()
                    .saturating_sub(RECHECK_LEAD_MS)
                    .max(MIN_RECHECK_MS)
        })
        .min()
}

/// A registered instance as its lease says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Its lease has at least a third of its granted TTL left, or it has no
    /// lease at all.
    Alive,
    /// Less than a third of the granted TTL is left: its keep-alives are
    /// late (a healthy client renews at a third).
    Expiring,
    /// The browser's count reached zero but etcd has not said the lease is
    /// gone: the view is asking again (a keep-alive may have renewed it).
    Checking,
    /// Its lease is gone (expired or revoked) or at zero.
    Gone,
}

impl Liveness {
    pub fn as_str(self) -> &'static str {
        match self {
            Liveness::Alive => "alive",
            Liveness::Expiring => "expiring",
            Liveness::Checking => "checking",
            Liveness::Gone => "gone",
        }
    }
}

/// The state of an instance with `lease` (whether it has one), `remaining`
/// seconds left now and `granted` seconds granted.
pub fn liveness(lease: bool, remaining: Option<i64>, granted: Option<i64>) -> Liveness {
    if !lease {
        return Liveness::Alive;
    }
    match remaining {
        None => Liveness::Gone,
        Some(left) if left <= 0 => Liveness::Gone,
        Some(left) => match granted {
            Some(granted) if granted > 0 && left * 3 < granted => Liveness::Expiring,
            _ => Liveness::Alive,
        },
    }
}

/// What a countdown shows at a moment: seconds left (the browser's count
/// from etcd's figure, or etcd's own zero), "checking" once the count ran
/// out without etcd saying the lease ended, or nothing (no lease left).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlShown {
    Left(i64),
    Checking,
    Gone,
}

impl Countdown {
    /// What to show at `now_ms` (see [`TtlShown`]): only an answer from
    /// etcd makes a lease gone, never the browser's count.
    pub fn shown(&self, now_ms: u64) -> TtlShown {
        match (self.ttl, self.remaining(now_ms)) {
            (None, _) | (_, None) => TtlShown::Gone,
            (Some(ttl), _) if ttl <= 0 => TtlShown::Left(0),
            (Some(_), Some(0)) => TtlShown::Checking,
            (Some(_), Some(left)) => TtlShown::Left(left),
        }
    }
}

/// The words of a [`TtlShown`]: `45s`, `checking…`, or a dash.
pub fn format_shown(shown: TtlShown) -> String {
    match shown {
        TtlShown::Left(secs) => format_duration(secs as f64),
        TtlShown::Checking => "checking…".to_owned(),
        TtlShown::Gone => "—".to_owned(),
    }
}

/// The state shown for an instance with `lease` (whether it has one), its
/// countdown at `now_ms` and `granted` seconds granted. Unlike
/// [`liveness`] it tells etcd's figures from the browser's count: a count
/// that ran out is [`Liveness::Checking`] until an answer says more, and
/// etcd's own "0 s left" is expiring (etcd still has the lease). Gone
/// means etcd said so.
pub fn shown_liveness(lease: bool, shown: TtlShown, granted: Option<i64>) -> Liveness {
    if !lease {
        return Liveness::Alive;
    }
    match shown {
        TtlShown::Gone => Liveness::Gone,
        TtlShown::Checking => Liveness::Checking,
        TtlShown::Left(0) => Liveness::Expiring,
        TtlShown::Left(left) => liveness(true, Some(left), granted),
    }
}

/// A duration for people: `0s`, `45s`, `3m 05s`, `2h 03m`, `4d 05h`.
/// Negative durations (clock skew) read as `0s`.
pub fn format_duration(secs: f64) -> String {
    let total = if secs.is_finite() && secs > 0.0 {
        secs.floor() as u64
    } else {
        0
    };
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    if days > 0 {
        format!("{days}d {hours:02}h")
    } else if total >= 3_600 {
        format!("{}h {minutes:02}m", total / 3_600)
    } else if total >= 60 {
        format!("{}m {seconds:02}s", total / 60)
    } else {
        format!("{seconds}s")
    }
}

/// A TTL in seconds, or a dash when there is none.
pub fn format_ttl(ttl: Option<i64>) -> String {
    match ttl {
        Some(secs) => format_duration(secs as f64),
        None => "—".to_owned(),
    }
}

/// How long something has been held or led, from the backend's
/// `holding_since_ms` and the browser's clock; `None` when not known.
pub fn held_for(since_ms: Option<u64>, now_ms: u64) -> Option<String> {
    since_ms.map(|since| format_duration(now_ms.saturating_sub(since) as f64 / 1000.0))
}

/// The words for since when a contender holds (or leads): `word` when
/// etcdeck saw the revision that made it the holder (`exact`: "held"),
/// `seen` when it only saw it already holding, an estimate ("seen
/// holding"). The word, and the tooltip with the clock time (`None` when
/// nothing is known).
pub fn since_words(
    exact: bool,
    since_ms: Option<u64>,
    word: &'static str,
    seen: &'static str,
) -> (&'static str, Option<String>) {
    let word = if exact { word } else { seen };
    let tooltip = since_ms.map(|since| {
        let at = crate::freshness::clock_text(since);
        if exact {
            format!("{word} since {at}")
        } else {
            format!("{word} since {at} (an estimate: etcdeck did not see it start)")
        }
    });
    (word, tooltip)
}

/// A rate per second: `—` until known, `0/s`, `0.4/s`, `12/s`, `3.2k/s`.
pub fn format_rate(per_sec: Option<f64>) -> String {
    match per_sec {
        None => "—".to_owned(),
        Some(rate) if !rate.is_finite() || rate <= 0.0 => "0/s".to_owned(),
        Some(rate) if rate < 10.0 => {
            let text = format!("{rate:.1}");
            format!("{}/s", text.trim_end_matches(".0"))
        }
        Some(rate) if rate < 1_000.0 => format!("{rate:.0}/s"),
        Some(rate) => format!("{:.1}k/s", rate / 1_000.0),
    }
}

/// A count with thin grouping so a big depth reads at a glance: `12 345`.
pub fn format_count(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// The `points` of an SVG polyline drawing `history` in a `width` x
/// `height` box: time left to right (by sample time), depth bottom (zero)
/// to top (the highest depth), one pixel of margin for the stroke. One
/// sample is a flat line; none is an empty string.
pub fn sparkline_points(history: &[DepthSample], width: f64, height: f64) -> String {
    let (Some(first), Some(last)) = (history.first(), history.last()) else {
        return String::new();
    };
    let margin = 1.0;
    let (w, h) = (
        (width - 2.0 * margin).max(0.0),
        (height - 2.0 * margin).max(0.0),
    );
    let max = history.iter().map(|s| s.depth).max().unwrap_or(0);
    let y = |depth: u64| {
        if max == 0 {
            margin + h
        } else {
            margin + h - h * depth as f64 / max as f64
        }
    };
    let round = |v: f64| (v * 10.0).round() / 10.0;
    if history.len() == 1 {
        let y = round(y(first.depth));
        return format!("{margin},{y} {},{y}", round(margin + w));
    }
    let span = last.at_ms.saturating_sub(first.at_ms);
    let count = history.len() - 1;
    history
        .iter()
        .enumerate()
        .map(|(i, sample)| {
            // Samples are evenly spaced in principle; place them by time
            // when times are usable, else by position.
            let fraction = if span > 0 {
                sample.at_ms.saturating_sub(first.at_ms) as f64 / span as f64
            } else {
                i as f64 / count as f64
            };
            format!(
                "{},{}",
                round(margin + w * fraction.clamp(0.0, 1.0)),
                round(y(sample.depth))
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The browse page with `key` selected, its level listed (the part up to
/// the last `/`).
pub fn key_href(key: &Bytes) -> String {
    let bytes = key.as_slice();
    let parent = bytes
        .iter()
        .rposition(|b| *b == b'/')
        .map(|i| Bytes::from(&bytes[..=i]))
        .unwrap_or_default();
    BrowseLocation {
        prefix: parent,
        key: Some(key.clone()),
    }
    .href()
}

/// The last `/`-separated segment of a key.
fn last_segment(key: &[u8]) -> &[u8] {
    key.rsplit(|b| *b == b'/').next().unwrap_or(key)
}

/// A key made by a `concurrency` session (mutex, election, RWMutex): named
/// by the hex id of the lease it is attached to.
pub fn is_session_key(kv: &WatchKv) -> bool {
    kv.lease
        .is_some_and(|lease| last_segment(kv.key.as_slice()) == lease.to_string().as_bytes())
}

/// Whether a new key is named like an item of etcd's `recipes` queues, with
/// no lease: `<queue>/<19-digit nanoseconds>` (Queue) or
/// `<queue>/<5-digit priority>/<16-digit sequence>` (PriorityQueue). Such a
/// key outside the queues shown may be a queue the backend is about to find.
pub fn is_queue_item(kv: &WatchKv) -> bool {
    if kv.lease.is_some() {
        return false;
    }
    let digits =
        |segment: &[u8], n: usize| segment.len() == n && segment.iter().all(u8::is_ascii_digit);
    let mut segments = kv.key.as_slice().rsplit(|&b| b == b'/');
    let last = segments.next().unwrap_or_default();
    let before = segments.next();
    match before {
        Some(priority) if digits(last, 16) && digits(priority, 5) => segments.next().is_some(),
        Some(_) => digits(last, 19),
        None => false,
    }
}

fn under(prefix: &Bytes, key: &Bytes) -> bool {
    key.as_slice().starts_with(prefix.as_slice())
}

/// `prefix + "/"`: the keys of a lock, election or queue named `prefix`.
pub fn children_of(prefix: &Bytes) -> Bytes {
    let mut bytes = prefix.as_slice().to_vec();
    if bytes.last() != Some(&b'/') {
        bytes.push(b'/');
    }
    Bytes::new(bytes)
}

/// A lock's state in a few words: free or held, and how many wait. A
/// mutex or a writer is one holder; an RWMutex may have many readers.
pub fn lock_summary(lock: &Lock) -> String {
    match (lock.holders.len(), lock.waiters.len()) {
        (0, 0) => "free".to_owned(),
        (0, w) => format!("free · {w} waiting"),
        (h, 0) if h > 1 => format!("{h} holders"),
        (h, w) if h > 1 => format!("{h} holders · {w} waiting"),
        (_, 0) => "held".to_owned(),
        (_, w) => format!("held · {w} waiting"),
    }
}

/// A contender's countdown from the answer read at `read_at_ms`.
pub fn contender_countdown(contender: &Contender, read_at_ms: u64) -> Countdown {
    Countdown::new(contender.lease_ttl, read_at_ms)
}

#[cfg(test)]
mod tests;
