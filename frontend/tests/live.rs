//! The live view's pure logic in the browser, fed with made-up server
//! messages (no socket, no backend): resume points and de-duplication across
//! a reconnect, gaps and snapshots, the events page's pause buffer and
//! bounded list, the event rate, and value diffs. Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown`.

use etcdeck_frontend::diff::{self, Change, DiffKind, Shown};
use etcdeck_frontend::feed::{self, Action, DISPLAY_LIMIT, Feed, Item, PAUSE_BUFFER, Rate};
use etcdeck_frontend::live::{Delivery, Outcome, Registry};
use etcdeck_shared::ws::{
    ClientMessage, EventKind, GapReason, ServerMessage, SubId, WatchEvent, WatchKv, WatchRange,
};
use etcdeck_shared::{ApiError, Bytes, ErrorCode, Revision};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn kv(key: &str, value: &str, rev: i64) -> WatchKv {
    WatchKv {
        key: Bytes::from(key),
        value: Bytes::from(value),
        create_revision: Revision(2),
        mod_revision: Revision(rev),
        version: 2,
        lease: None,
        masked: None,
    }
}

fn put(key: &str, rev: i64) -> WatchEvent {
    WatchEvent {
        kind: EventKind::Put,
        kv: kv(key, "v", rev),
        prev: None,
        lease_ended: false,
    }
}

fn events(id: SubId, revs: &[i64]) -> ServerMessage {
    ServerMessage::Events {
        id,
        events: revs.iter().map(|&r| put(&format!("/k{r}"), r)).collect(),
    }
}

/// The revisions a delivery carries, for short assertions.
fn revisions(outcome: &Outcome) -> Vec<i64> {
    match outcome {
        Outcome::Deliver(_, Delivery::Events(events)) => {
            events.iter().map(|e| e.kv.mod_revision.0).collect()
        }
        _ => Vec::new(),
    }
}

fn subscribe_from(message: &ClientMessage) -> Option<Revision> {
    match message {
        ClientMessage::Subscribe { from, .. } => *from,
        other => panic!("not a subscribe: {other:?}"),
    }
}

#[wasm_bindgen_test]
fn resume_point_survives_a_reconnect_without_loss_or_duplicates() {
    let mut registry = Registry::new();
    let (id, first) = registry.subscribe(WatchRange::prefix("/app/"), true, None);
    assert_eq!(subscribe_from(&first), None, "from now");
    assert_eq!(registry.seen(id), None);

    registry.receive(ServerMessage::Subscribed {
        id,
        revision: Revision(10),
    });
    assert_eq!(registry.seen(id), Some(Revision(10)));
    assert_eq!(
        revisions(&registry.receive(events(id, &[11, 12]))),
        [11, 12]
    );
    // Progress moves the resume point without telling the view.
    assert_eq!(
        registry.receive(ServerMessage::Progress {
            id,
            revision: Revision(15)
        }),
        Outcome::Quiet
    );
    assert_eq!(registry.seen(id), Some(Revision(15)));

    // The socket drops; the new one re-subscribes right after what was seen.
    let again = registry.resubscribe_all();
    assert_eq!(again.len(), 1);
    assert_eq!(subscribe_from(&again[0]), Some(Revision(16)));
    match &again[0] {
        ClientMessage::Subscribe {
            id: same,
            prev_kv,
            range,
            ..
        } => {
            assert_eq!((*same, *prev_kv), (id, true));
            assert_eq!(range, &WatchRange::prefix("/app/"));
        }
        other => panic!("{other:?}"),
    }
    // A resumed subscription keeps its own resume point even if the
    // backend names a later revision.
    registry.receive(ServerMessage::Subscribed {
        id,
        revision: Revision(20),
    });
    assert_eq!(registry.seen(id), Some(Revision(15)));
    // A replay that overlaps what was seen is cut to what is new.
    assert_eq!(
        revisions(&registry.receive(events(id, &[12, 16, 17]))),
        [16, 17]
    );
    assert_eq!(registry.receive(events(id, &[16, 17])), Outcome::Quiet);
    assert_eq!(registry.seen(id), Some(Revision(17)));
}

#[wasm_bindgen_test]
fn a_subscription_from_a_revision_resumes_from_it_before_any_answer() {
    let mut registry = Registry::new();
    let (id, message) = registry.subscribe(WatchRange::key("/k"), false, Some(Revision(43)));
    assert_eq!(subscribe_from(&message), Some(Revision(43)));
    assert_eq!(registry.seen(id), Some(Revision(42)));
    // Dropped before anything arrived: resume from the same place.
    assert_eq!(
        subscribe_from(&registry.resubscribe_all()[0]),
        Some(Revision(43))
    );
    // Events of one transaction share a revision and come together.
    let outcome = registry.receive(ServerMessage::Events {
        id,
        events: vec![put("/k", 43), put("/k", 43)],
    });
    assert_eq!(revisions(&outcome), [43, 43]);
}

#[wasm_bindgen_test]
fn gaps_snapshots_and_endings() {
    let mut registry = Registry::new();
    let (id, _) = registry.subscribe(WatchRange::prefix(""), false, Some(Revision(5)));
    let gap = registry.receive(ServerMessage::Gap {
        id,
        reason: GapReason::Compacted {
            compact_revision: Revision(30),
        },
    });
    assert!(matches!(gap, Outcome::Deliver(_, Delivery::Gap(_))));
    registry.receive(ServerMessage::Snapshot {
        id,
        revision: Revision(50),
        kvs: vec![kv("/a", "1", 40)],
        done: false,
    });
    assert_eq!(
        registry.seen(id),
        Some(Revision(4)),
        "a partial snapshot is no resume point"
    );
    registry.receive(ServerMessage::Snapshot {
        id,
        revision: Revision(50),
        kvs: vec![kv("/b", "2", 41)],
        done: true,
    });
    assert_eq!(registry.seen(id), Some(Revision(50)));
    assert_eq!(revisions(&registry.receive(events(id, &[50, 51]))), [51]);

    // Reconnecting at the backend is tracked for the indicator.
    registry.receive(ServerMessage::Reconnecting {
        id,
        reason: "etcd restarted".into(),
    });
    assert!(registry.any_reconnecting());
    registry.receive(ServerMessage::Live { id });
    assert!(!registry.any_reconnecting());

    // Closed ends it for good: not re-sent after a reconnect.
    let denied = ApiError {
        code: ErrorCode::PermissionDenied,
        message: "etcd user 'viewer' may not read this range".into(),
        revision: None,
    };
    assert_eq!(
        registry.receive(ServerMessage::Closed {
            id,
            error: denied.clone()
        }),
        Outcome::Deliver(id, Delivery::Closed(denied))
    );
    assert!(registry.resubscribe_all().is_empty());
    assert_eq!(registry.receive(events(id, &[60])), Outcome::Unknown(id));
}

#[wasm_bindgen_test]
fn unsubscribed_ids_are_never_reused() {
    let mut registry = Registry::new();
    let (a, _) = registry.subscribe(WatchRange::key("/a"), false, None);
    assert_eq!(
        registry.unsubscribe(a),
        Some(ClientMessage::Unsubscribe { id: a })
    );
    assert_eq!(registry.unsubscribe(a), None);
    let (b, _) = registry.subscribe(WatchRange::key("/a"), false, None);
    assert_ne!(a, b);
    // A late answer for the old id is not taken for the new one.
    assert_eq!(registry.receive(events(a, &[3])), Outcome::Unknown(a));
    assert!(registry.contains(b));
}

#[wasm_bindgen_test]
fn malformed_frames_are_errors_not_panics() {
    use etcdeck_frontend::live::parse;
    assert!(parse("not json").is_err());
    assert!(parse(r#"{"type":"events","id":1}"#).is_err());
    assert!(parse(r#"{"type":"teleport","id":1}"#).is_err());
    assert!(parse(r#"{"type":"progress","id":1,"revision":9}"#).is_ok());
}

/// When the feed's changes are received, for tests that do not look at it.
const NOW: u64 = 1_000;

fn feed_events(revs: std::ops::Range<i64>) -> Delivery {
    Delivery::Events(revs.map(|r| put(&format!("/e/{r}"), r)).collect())
}

fn shown_revisions(feed: &Feed) -> Vec<i64> {
    feed.items
        .iter()
        .filter_map(|i| match &**i {
            Item::Event { event, .. } => Some(event.kv.mod_revision.0),
            Item::Gap { .. } => None,
        })
        .collect()
}

#[wasm_bindgen_test]
fn pausing_buffers_and_resuming_shows_everything_in_order() {
    let mut feed = Feed::new();
    feed.apply(
        Delivery::Subscribed {
            revision: Revision(1),
        },
        NOW,
    );
    feed.apply(feed_events(2..4), NOW);
    feed.pause();
    assert_eq!(feed.apply(feed_events(4..7), NOW), Action::None);
    assert_eq!(feed.buffered(), 3);
    assert_eq!(
        shown_revisions(&feed),
        [2, 3],
        "nothing new is shown while paused"
    );
    assert_eq!(feed.resume(), Action::None);
    assert_eq!(shown_revisions(&feed), [2, 3, 4, 5, 6]);
    assert_eq!(feed.buffered(), 0);
}

#[wasm_bindgen_test]
fn a_full_pause_buffer_stops_receiving_and_resume_replays_the_rest() {
    let mut feed = Feed::new();
    feed.apply(
        Delivery::Subscribed {
            revision: Revision(1),
        },
        NOW,
    );
    feed.pause();
    let full = PAUSE_BUFFER as i64;
    assert_eq!(feed.apply(feed_events(2..2 + full), NOW), Action::None);
    assert_eq!(feed.buffered(), PAUSE_BUFFER);
    // The next message does not fit: it is not taken, and receiving stops.
    assert_eq!(
        feed.apply(feed_events(2 + full..5 + full), NOW),
        Action::Unsubscribe
    );
    assert!(feed.overflowed);
    // Late messages of the ended subscription are ignored.
    assert_eq!(
        feed.apply(feed_events(5 + full..6 + full), NOW),
        Action::None
    );
    assert_eq!(feed.buffered(), PAUSE_BUFFER);
    // Resume replays from right after the last change taken.
    assert_eq!(feed.resume(), Action::SubscribeFrom(Revision(2 + full)));
    assert!(!feed.overflowed);
    // The display is bounded; what was trimmed is counted.
    assert_eq!(feed.items.len(), DISPLAY_LIMIT);
    assert_eq!(feed.trimmed, (PAUSE_BUFFER - DISPLAY_LIMIT) as u64);
    assert_eq!(shown_revisions(&feed).last(), Some(&(1 + full)));
}

#[wasm_bindgen_test]
fn gaps_are_shown_in_line_with_their_snapshot() {
    let mut feed = Feed::new();
    feed.apply(
        Delivery::Subscribed {
            revision: Revision(1),
        },
        NOW,
    );
    feed.apply(feed_events(2..3), NOW);
    feed.apply(Delivery::Gap(GapReason::Lagged), NOW);
    feed.apply(
        Delivery::Snapshot {
            revision: Revision(90),
            kvs: vec![kv("/a", "1", 50), kv("/b", "1", 60)],
            done: false,
        },
        NOW,
    );
    feed.apply(
        Delivery::Snapshot {
            revision: Revision(90),
            kvs: vec![kv("/c", "1", 70)],
            done: true,
        },
        NOW,
    );
    assert_eq!(feed.seen, Some(Revision(90)));
    match &*feed.items[1] {
        Item::Gap {
            reason,
            keys,
            revision,
            ..
        } => {
            assert_eq!(reason, &GapReason::Lagged);
            assert_eq!(*keys, 3);
            assert_eq!(*revision, Some(Revision(90)));
        }
        other => panic!("{other:?}"),
    }
    // The filter keeps gaps and matching keys.
    assert!(feed.items[1].matches("nothing-like-it"));
    assert!(feed.items[0].matches("/e/"));
    assert!(!feed.items[0].matches("/x/"));
    feed.clear();
    assert!(feed.items.is_empty());
    assert_eq!(
        feed.seen,
        Some(Revision(90)),
        "clearing keeps the resume point"
    );
}

#[wasm_bindgen_test]
fn rate_is_events_per_second_over_ten_seconds() {
    let mut rate = Rate::new(0.0);
    // Before a whole window has passed, the time there was counts.
    rate.record(500.0, 4);
    assert_eq!(rate.per_second(1_000.0), 4.0);
    rate.record(2_000.0, 6);
    assert_eq!(rate.per_second(5_000.0), 2.0);
    // 10 events in the window of the last 10 s.
    assert_eq!(rate.per_second(10_000.0), 1.0);
    // The first sample has left the window.
    assert_eq!(rate.per_second(10_600.0), 0.6);
    assert_eq!(rate.per_second(30_000.0), 0.0);
    assert_eq!(feed::rate_text(0.0), "0");
    assert_eq!(feed::rate_text(0.6), "0.6");
    assert_eq!(feed::rate_text(1250.4), "1,250");
}

#[wasm_bindgen_test]
fn text_diff_shows_removed_before_added_with_context() {
    let d = diff::line_diff("a\nb\nc\nd", "a\nB\nc\nd\ne");
    let marks: Vec<(Change, &str)> = d.iter().map(|l| (l.change, l.text.as_str())).collect();
    assert_eq!(
        marks,
        [
            (Change::Same, "a"),
            (Change::Removed, "b"),
            (Change::Added, "B"),
            (Change::Same, "c"),
            (Change::Same, "d"),
            (Change::Added, "e"),
        ]
    );
    let long: String = (0..20).map(|i| format!("{i}\n")).collect();
    let changed = long.replace("10\n", "ten\n");
    let folded = diff::fold(&diff::line_diff(&long, &changed), 2);
    assert_eq!(folded.first(), Some(&Shown::Folded(8)));
    assert_eq!(folded.last(), Some(&Shown::Folded(7)));
}

#[wasm_bindgen_test]
fn json_diffs_by_field_and_binary_as_hex() {
    let d = diff::value_diff(
        &Bytes::from(r#"{"a":1,"b":2}"#),
        &Bytes::from(r#"{"a":1,"b":3}"#),
    );
    assert_eq!(d.kind, DiffKind::Json);
    assert_eq!(d.counts(), (1, 1));
    assert!(
        d.lines
            .iter()
            .any(|l| l.change == Change::Added && l.text.contains("\"b\": 3"))
    );

    let d = diff::value_diff(&Bytes::new(vec![0, 1, 2]), &Bytes::new(vec![0, 1, 3]));
    assert_eq!(d.kind, DiffKind::Hex);
    assert_eq!(d.counts(), (1, 1));
    assert!(d.lines[0].text.starts_with("00000000  00 01 02"));

    // Huge values are cut, and say so.
    let big = Bytes::new(vec![b'x'; diff::MAX_DIFF_BYTES + 1]);
    assert!(diff::value_diff(&big, &Bytes::from("y")).truncated);
}
