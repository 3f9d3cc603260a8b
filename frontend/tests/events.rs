//! The events page's compact rows and the boundary between the history it
//! starts with and the live changes after it, in the browser: the feed fed
//! through the live client's registry with made-up server messages (a
//! replay that straddles the boundary, a reconnect that replays what was
//! already seen), and a mounted compact row opened by a click and by
//! Enter. Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown --test events`.

use std::sync::Arc;

use etcdeck_frontend::components::event_row::{RowStyle, row};
use etcdeck_frontend::feed::{
    self, Action, Feed, HISTORY_REVISIONS, HISTORY_WINDOW, Item, clock_text, history_from,
};
use etcdeck_frontend::live::{Delivery, Outcome, Registry};
use etcdeck_shared::ws::{
    EventKind, GapReason, ServerMessage, SubId, WatchEvent, WatchKv, WatchRange,
};
use etcdeck_shared::{Bytes, Revision};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{container, query_all, settle};

/// 2023-11-14 22:13:20.123 UTC.
const RECEIVED: u64 = 1_700_000_000_123;

fn kv(key: &str, value: &str, rev: i64, version: i64) -> WatchKv {
    WatchKv {
        key: Bytes::from(key),
        value: Bytes::from(value),
        create_revision: Revision(rev - version + 1),
        mod_revision: Revision(rev),
        version,
        lease: None,
        masked: None,
    }
}

fn put(key: &str, rev: i64) -> WatchEvent {
    WatchEvent {
        kind: EventKind::Put,
        kv: kv(key, "v", rev, 1),
        prev: None,
        lease_ended: false,
    }
}

fn events(id: SubId, revs: &[i64]) -> ServerMessage {
    ServerMessage::Events {
        id,
        events: revs
            .iter()
            .map(|&r| put(&format!("/app/k{r}"), r))
            .collect(),
    }
}

/// Passes a server message through the registry to the feed, as the page
/// does.
fn deliver(registry: &mut Registry, feed: &mut Feed, message: ServerMessage, now_ms: u64) {
    if let Outcome::Deliver(_, delivery) = registry.receive(message) {
        feed.apply(delivery, now_ms);
    }
}

/// (revision, from history) of every change shown, oldest first.
fn shown(feed: &Feed) -> Vec<(i64, bool)> {
    feed.items
        .iter()
        .filter_map(|i| match &**i {
            Item::Event { event, .. } => Some((event.kv.mod_revision.0, i.is_history())),
            Item::Gap { .. } => None,
        })
        .collect()
}

#[wasm_bindgen_test]
fn the_subscription_starts_a_window_of_revisions_back() {
    assert_eq!(
        history_from(Revision(5_000)),
        Revision(5_000 - HISTORY_WINDOW + 1)
    );
    assert_eq!(
        history_from(Revision(10)),
        Revision(1),
        "never before revision 1"
    );
}

#[wasm_bindgen_test]
fn history_then_live_each_change_once_in_order_across_a_reconnect() {
    let current = Revision(1_200);
    let mut registry = Registry::new();
    let mut feed = Feed::with_history(current);
    let (id, _) = registry.subscribe(
        WatchRange::prefix("/app/"),
        true,
        Some(history_from(current)),
    );
    deliver(
        &mut registry,
        &mut feed,
        ServerMessage::Subscribed {
            id,
            revision: Revision(history_from(current).0 - 1),
        },
        RECEIVED,
    );
    assert!(feed.started);
    // The replay reaches past the revision read: 1,201 was written after
    // the page read etcd's revision, so it is live.
    deliver(
        &mut registry,
        &mut feed,
        events(id, &[300, 1_100, 1_200, 1_201]),
        RECEIVED,
    );
    assert_eq!(
        shown(&feed),
        [(300, true), (1_100, true), (1_200, true), (1_201, false)]
    );
    assert!(feed.has_history() && feed.has_live());

    // The socket drops and the backend replays from before what was seen:
    // nothing is shown twice, nothing is lost.
    registry.resubscribe_all();
    deliver(
        &mut registry,
        &mut feed,
        ServerMessage::Subscribed {
            id,
            revision: Revision(1_201),
        },
        RECEIVED + 1,
    );
    deliver(
        &mut registry,
        &mut feed,
        events(id, &[1_200, 1_201, 1_202]),
        RECEIVED + 5,
    );
    assert_eq!(
        shown(&feed),
        [
            (300, true),
            (1_100, true),
            (1_200, true),
            (1_201, false),
            (1_202, false)
        ]
    );
    // History has no time received; live changes have theirs.
    let times: Vec<Option<u64>> = feed
        .items
        .iter()
        .map(|i| match &**i {
            Item::Event { received_ms, .. } => *received_ms,
            Item::Gap { .. } => None,
        })
        .collect();
    assert_eq!(
        times,
        [None, None, None, Some(RECEIVED), Some(RECEIVED + 5)]
    );
}

#[wasm_bindgen_test]
fn history_keeps_the_latest_revisions_and_pausing_keeps_the_boundary() {
    let mut feed = Feed::with_history(Revision(100));
    feed.apply(
        Delivery::Subscribed {
            revision: Revision(0),
        },
        RECEIVED,
    );
    let extra = 10;
    let first = 100 - (HISTORY_REVISIONS as i64 + extra) + 1;
    // Two changes in one revision (one transaction) count as one revision.
    let mut replay: Vec<WatchEvent> = (first..=100).map(|r| put(&format!("/h/{r}"), r)).collect();
    replay.push(put("/h/same-txn", 100));
    feed.apply(Delivery::Events(replay), RECEIVED);
    let kept = shown(&feed);
    assert_eq!(kept.len(), HISTORY_REVISIONS + 1);
    assert_eq!(kept.first(), Some(&(first + extra, true)));
    assert_eq!(feed.history_trimmed, extra as u64);

    // Paused, live changes are held and shown after the history on resume.
    feed.pause();
    feed.apply(Delivery::Events(vec![put("/h/live", 101)]), RECEIVED);
    assert!(feed.has_live(), "a held live change counts as live");
    feed.resume();
    assert_eq!(shown(&feed).last(), Some(&(101, false)));
    assert_eq!(shown(&feed).len(), HISTORY_REVISIONS + 2);
}

#[wasm_bindgen_test]
fn compacted_history_is_replayed_from_the_compaction_point_or_resynced() {
    // Compacted inside the history: start again from what is left.
    let mut feed = Feed::with_history(Revision(500));
    feed.apply(
        Delivery::Subscribed {
            revision: Revision(0),
        },
        RECEIVED,
    );
    let compacted = Delivery::Gap(GapReason::Compacted {
        compact_revision: Revision(450),
    });
    assert_eq!(
        feed.apply(compacted, RECEIVED),
        Action::SubscribeFrom(Revision(450))
    );
    assert!(
        feed.items.is_empty(),
        "no gap row: nothing after 450 is missed"
    );
    assert_eq!(feed.history_compacted, Some(Revision(450)));
    feed.apply(
        Delivery::Subscribed {
            revision: Revision(449),
        },
        RECEIVED,
    );
    feed.apply(
        Delivery::Events(vec![put("/a", 460), put("/a", 501)]),
        RECEIVED,
    );
    assert_eq!(shown(&feed), [(460, true), (501, false)]);

    // Compacted past the revision the page read: the history is gone, and
    // so is what came after it; the gap and its snapshot say so.
    let mut feed = Feed::with_history(Revision(500));
    feed.apply(
        Delivery::Subscribed {
            revision: Revision(0),
        },
        RECEIVED,
    );
    let past = Delivery::Gap(GapReason::Compacted {
        compact_revision: Revision(700),
    });
    assert_eq!(feed.apply(past, RECEIVED), Action::None);
    assert!(matches!(
        &*feed.items[0],
        Item::Gap {
            in_history: true,
            ..
        }
    ));
    feed.apply(
        Delivery::Snapshot {
            revision: Revision(701),
            kvs: vec![kv("/a", "1", 680, 1)],
            done: true,
        },
        RECEIVED,
    );
    feed.apply(Delivery::Events(vec![put("/a", 702)]), RECEIVED);
    feed.apply(Delivery::Gap(GapReason::Lagged), RECEIVED);
    assert!(matches!(
        &*feed.items[2],
        Item::Gap {
            in_history: false,
            ..
        }
    ));
}

#[wasm_bindgen_test]
fn a_compact_line_has_time_revision_kind_key_and_size() {
    assert_eq!(clock_text(RECEIVED, 0), "22:13:20.123");
    assert_eq!(clock_text(RECEIVED, 120), "00:13:20.123");
    assert_eq!(clock_text(RECEIVED, -23 * 60), "23:13:20.123");

    let mut feed = Feed::with_history(Revision(10));
    feed.apply(
        Delivery::Subscribed {
            revision: Revision(0),
        },
        RECEIVED,
    );
    let mut big = put("/app/big", 11);
    big.kv.value = Bytes::new(vec![b'x'; 1536]);
    let deleted = WatchEvent {
        kind: EventKind::Delete,
        kv: kv("/app/gone", "", 12, 0),
        prev: None,
        lease_ended: true,
    };
    feed.apply(Delivery::Events(vec![put("/app/old", 9)]), RECEIVED);
    feed.apply(Delivery::Events(vec![big, deleted]), RECEIVED);
    let lines: Vec<feed::Line> = feed.items.iter().filter_map(|i| i.line(60)).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].time, None, "from history: no time received");
    assert_eq!(
        (lines[0].revision, lines[0].kind, lines[0].key.as_str()),
        (Revision(9), "put", "/app/old")
    );
    assert_eq!(lines[1].time.as_deref(), Some("23:13:20.123"));
    assert_eq!(
        (lines[1].label, lines[1].size.as_deref()),
        ("PUT", Some("1.5 KiB"))
    );
    assert_eq!(
        (lines[2].kind, lines[2].label, lines[2].size.as_deref()),
        ("lease_ended", "LEASE ENDED", None)
    );
}

#[wasm_bindgen_test]
async fn a_compact_row_opens_its_diff_on_click_and_on_enter() {
    let mut changed = put("/app/conf", 42);
    changed.kv.version = 2;
    changed.kv.value = Bytes::from("b");
    changed.prev = Some(kv("/app/conf", "a", 41, 1));
    let item = Arc::new(Item::Event {
        seq: 1,
        event: changed,
        received_ms: Some(RECEIVED),
    });
    let root = container();
    let style = RowStyle {
        compact: true,
        utc_offset_min: 0,
    };
    let _mounted = mount_to(root.clone(), move || {
        view! { <ol>{row(item.clone(), Signal::stored(Bytes::from("/")), style)}</ol> }
    });
    settle().await;
    let rows = query_all(&root, r#"[data-testid="event-row"]"#);
    assert_eq!(rows.len(), 1);
    let row_el = &rows[0];
    assert_eq!(
        row_el.get_attribute("data-history").as_deref(),
        Some("false")
    );
    assert_eq!(row_el.get_attribute("data-revision").as_deref(), Some("42"));
    let text = row_el.inner_text();
    assert!(text.contains("22:13:20.123"), "{text}");
    assert!(text.contains("/app/conf"), "{text}");
    assert!(
        query_all(&root, r#"[data-testid="event-diff"]"#).is_empty(),
        "closed at first"
    );

    row_el.click();
    settle().await;
    assert_eq!(
        row_el.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert_eq!(query_all(&root, r#"[data-testid="event-diff"]"#).len(), 1);

    // Enter on the focused row closes it again.
    let init = js_sys::Object::new();
    js_sys::Reflect::set(&init, &"key".into(), &"Enter".into()).expect("key");
    js_sys::Reflect::set(&init, &"bubbles".into(), &true.into()).expect("bubbles");
    let constructor: js_sys::Function =
        js_sys::Reflect::get(&js_sys::global(), &"KeyboardEvent".into())
            .expect("KeyboardEvent")
            .unchecked_into();
    let enter =
        js_sys::Reflect::construct(&constructor, &js_sys::Array::of2(&"keydown".into(), &init))
            .expect("keydown event");
    row_el
        .dispatch_event(enter.unchecked_ref())
        .expect("dispatch");
    settle().await;
    assert_eq!(
        row_el.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert!(query_all(&root, r#"[data-testid="event-diff"]"#).is_empty());
}
