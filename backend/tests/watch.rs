//! Live watch events that are never silently wrong: real etcd (auth on),
//! the real etcdeck server, real WebSockets.
//!
//! Each scenario subscribes through `support::live::LiveClient`, writes to
//! etcd directly, reads etcd's own history as ground truth and holds every
//! subscription to the promise of `shared/src/ws.rs` with
//! `support::live::check_subscription`. The checker's own tests come first:
//! a checker that cannot fail proves nothing.
//!
//! Faults (etcd killed, a 3-member cluster losing members) are in
//! `watch_faults.rs`; the slow subscriber and its memory bound in
//! `watch_slow.rs`.

mod support;

use std::time::{Duration, Instant};

use etcdeck_shared::ws::{
    ClientMessage, EventKind, GapReason, MAX_CLIENT_FRAME, ServerMessage, SubId, WatchEvent,
    WatchKv, WatchRange,
};
use etcdeck_shared::{Bytes, ErrorCode, LiveStats, Revision, path};
use support::live::{
    LIMIT, LiveClient, PREFIX, Scene, Session, Sub, Truth, TruthEvent, TruthKv, VIEWER, Writer,
    check_session, etcd_metric, finish, open_tab, open_tabs, root_server, server_as, start_etcd,
};
use tokio_tungstenite::tungstenite::Message;
use xtask::harness::ClusterOptions;

// ---------------------------------------------------------------------------
// The checker on hand-made sequences
// ---------------------------------------------------------------------------

fn truth_event(revision: i64, key: &str, value: &str) -> TruthEvent {
    TruthEvent {
        revision,
        kind: if value.is_empty() {
            EventKind::Delete
        } else {
            EventKind::Put
        },
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        prev: None,
    }
}

fn with_prev(mut event: TruthEvent, value: &str, modified: i64) -> TruthEvent {
    event.prev = Some((value.as_bytes().to_vec(), modified));
    event
}

/// History 11..=16 under `/t/`: a txn at 13 changes two keys, `/t/b` is
/// deleted at 15, `/u/x` (outside `/t/`) changes at 14.
fn fake_truth() -> Truth {
    let mut truth = Truth {
        prefix: b"/".to_vec(),
        events: vec![
            truth_event(11, "/t/a", "1"),
            truth_event(12, "/t/b", "2"),
            with_prev(truth_event(13, "/t/a", "3"), "1", 11),
            truth_event(13, "/t/c", "3"),
            truth_event(14, "/u/x", "4"),
            with_prev(truth_event(15, "/t/b", ""), "2", 12),
            with_prev(truth_event(16, "/t/a", "6"), "3", 13),
        ],
        start: 11,
        end: 16,
        ..Truth::default()
    };
    let kv = |key: &str, value: &str, create: i64, modified: i64, version: i64| TruthKv {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        create_revision: create,
        mod_revision: modified,
        version,
    };
    truth.snapshots.insert(
        14,
        vec![
            kv("/t/a", "3", 11, 13, 2),
            kv("/t/b", "2", 12, 12, 1),
            kv("/t/c", "3", 13, 13, 1),
            kv("/u/x", "4", 14, 14, 1),
        ],
    );
    truth
}

fn wkv(key: &str, value: &str, create: i64, modified: i64, version: i64) -> WatchKv {
    WatchKv {
        key: Bytes::from(key),
        value: Bytes::from(value),
        create_revision: Revision(create),
        mod_revision: Revision(modified),
        version,
        lease: None,
        masked: None,
    }
}

fn ev(revision: i64, key: &str, value: &str) -> WatchEvent {
    WatchEvent {
        kind: if value.is_empty() {
            EventKind::Delete
        } else {
            EventKind::Put
        },
        kv: wkv(key, value, 0, revision, 0),
        prev: None,
        lease_ended: false,
    }
}

fn subscribed(revision: i64) -> ServerMessage {
    ServerMessage::Subscribed {
        id: SubId(1),
        revision: Revision(revision),
    }
}

fn events(list: &[(i64, &str, &str)]) -> ServerMessage {
    ServerMessage::Events {
        id: SubId(1),
        events: list.iter().map(|&(r, k, v)| ev(r, k, v)).collect(),
    }
}

fn gap(reason: GapReason) -> ServerMessage {
    ServerMessage::Gap {
        id: SubId(1),
        reason,
    }
}

fn snapshot(revision: i64, kvs: Vec<WatchKv>, done: bool) -> ServerMessage {
    ServerMessage::Snapshot {
        id: SubId(1),
        revision: Revision(revision),
        kvs,
        done,
    }
}

fn check(from: Option<i64>, messages: Vec<ServerMessage>) -> Result<usize, String> {
    let session = Session::fake(1, WatchRange::prefix("/t/"), from, messages);
    check_session(&session, &fake_truth(), Some(16), false).map(|v| v.events)
}

const ALL: &[(i64, &str, &str)] = &[
    (11, "/t/a", "1"),
    (12, "/t/b", "2"),
    (13, "/t/a", "3"),
    (13, "/t/c", "3"),
    (15, "/t/b", ""),
    (16, "/t/a", "6"),
];

#[test]
fn checker_accepts_every_event_exactly_once() {
    assert_eq!(check(None, vec![subscribed(10), events(ALL)]), Ok(6));
    // Any split at revision boundaries, with progress in between.
    let progress = ServerMessage::Progress {
        id: SubId(1),
        revision: Revision(14),
    };
    assert_eq!(
        check(
            Some(11),
            vec![
                subscribed(10),
                events(&ALL[..2]),
                events(&ALL[2..4]),
                progress,
                events(&ALL[4..]),
            ]
        ),
        Ok(6)
    );
    // From a later revision on, only what follows it.
    assert_eq!(
        check(Some(15), vec![subscribed(14), events(&ALL[4..])]),
        Ok(2)
    );
    // Reconnecting then live is allowed anywhere.
    assert_eq!(
        check(
            None,
            vec![
                subscribed(10),
                events(&ALL[..4]),
                ServerMessage::Reconnecting {
                    id: SubId(1),
                    reason: "etcd restarted".into()
                },
                ServerMessage::Live { id: SubId(1) },
                events(&ALL[4..]),
            ]
        ),
        Ok(6)
    );
}

#[test]
fn checker_rejects_a_missing_event() {
    let mut some = ALL.to_vec();
    some.remove(1);
    let err = check(None, vec![subscribed(10), events(&some)]).unwrap_err();
    assert!(err.contains("missing"), "{err}");
    // Missing at the end: never arrived.
    let err = check(None, vec![subscribed(10), events(&ALL[..5])]).unwrap_err();
    assert!(err.contains("never arrived"), "{err}");
    // Missing by starting late.
    let err = check(Some(12), vec![subscribed(11), events(&ALL[2..])]).unwrap_err();
    assert!(err.contains("missing"), "{err}");
    // `subscribed` must say `from - 1`: anything else skips or repeats.
    let err = check(Some(11), vec![subscribed(11), events(&ALL[1..])]).unwrap_err();
    assert!(err.contains("subscribed at 11"), "{err}");
}

#[test]
fn checker_rejects_a_duplicate() {
    let err = check(
        None,
        vec![subscribed(10), events(&ALL[..4]), events(&ALL[3..])],
    )
    .unwrap_err();
    assert!(err.contains("duplicate"), "{err}");
    let err = check(None, vec![subscribed(10), events(ALL), events(&ALL[5..])]).unwrap_err();
    assert!(err.contains("not in etcd's history"), "{err}");
}

#[test]
fn checker_rejects_out_of_order_and_wrong_content() {
    let mut swapped = ALL.to_vec();
    swapped.swap(0, 1);
    let err = check(None, vec![subscribed(10), events(&swapped)]).unwrap_err();
    assert!(err.contains("missing"), "{err}");
    let mut swapped = ALL.to_vec();
    swapped.swap(2, 3);
    let err = check(None, vec![subscribed(10), events(&swapped)]).unwrap_err();
    assert!(err.contains("within a revision"), "{err}");
    let mut wrong = ALL.to_vec();
    wrong[0].2 = "one";
    let err = check(None, vec![subscribed(10), events(&wrong)]).unwrap_err();
    assert!(err.contains("wrong content"), "{err}");
    // An event outside the range.
    let err = check(None, vec![subscribed(13), events(&[(14, "/u/x", "4")])]).unwrap_err();
    assert!(err.contains("outside the range"), "{err}");
    // A transaction split over two messages.
    let err = check(
        None,
        vec![subscribed(10), events(&ALL[..3]), events(&ALL[3..])],
    )
    .unwrap_err();
    assert!(err.contains("split"), "{err}");
    // Progress past an undelivered event.
    let err = check(
        None,
        vec![
            subscribed(10),
            ServerMessage::Progress {
                id: SubId(1),
                revision: Revision(12),
            },
        ],
    )
    .unwrap_err();
    assert!(err.contains("progress"), "{err}");
}

/// `(revision, key, value, prev (value, mod revision))`; an empty value is a delete.
type EventWithPrev<'a> = (i64, &'a str, &'a str, Option<(&'a str, i64)>);

#[test]
fn checker_holds_prev_to_etcd() {
    let check_prev = |messages: Vec<ServerMessage>| {
        let mut session = Session::fake(1, WatchRange::prefix("/t/"), None, messages);
        session.prev_kv = true;
        check_session(&session, &fake_truth(), Some(16), false).map(|v| v.events)
    };
    let with = |list: &[EventWithPrev]| ServerMessage::Events {
        id: SubId(1),
        events: list
            .iter()
            .map(|&(r, k, v, prev)| WatchEvent {
                prev: prev.map(|(pv, pr)| wkv(k, pv, 0, pr, 0)),
                ..ev(r, k, v)
            })
            .collect(),
    };
    let right = [
        (11, "/t/a", "1", None),
        (12, "/t/b", "2", None),
        (13, "/t/a", "3", Some(("1", 11))),
        (13, "/t/c", "3", None),
        (15, "/t/b", "", Some(("2", 12))),
        (16, "/t/a", "6", Some(("3", 13))),
    ];
    assert_eq!(check_prev(vec![subscribed(10), with(&right)]), Ok(6));
    let mut stale = right;
    stale[5].3 = Some(("1", 11));
    let err = check_prev(vec![subscribed(10), with(&stale)]).unwrap_err();
    assert!(err.contains("prev"), "{err}");
    let mut missing = right;
    missing[4].3 = None;
    let err = check_prev(vec![subscribed(10), with(&missing)]).unwrap_err();
    assert!(err.contains("prev"), "{err}");
    // Not asked for: must not be sent.
    let err = check(None, vec![subscribed(10), with(&right)]).unwrap_err();
    assert!(err.contains("did not ask"), "{err}");
}

fn good_snapshot() -> Vec<WatchKv> {
    vec![
        wkv("/t/a", "3", 11, 13, 2),
        wkv("/t/b", "2", 12, 12, 1),
        wkv("/t/c", "3", 13, 13, 1),
    ]
}

#[test]
fn checker_accepts_a_gap_with_a_true_snapshot() {
    let mut pages = good_snapshot();
    let last = pages.split_off(2);
    assert_eq!(
        check(
            None,
            vec![
                subscribed(10),
                events(&ALL[..1]),
                gap(GapReason::Lagged),
                snapshot(14, pages, false),
                snapshot(14, last, true),
                events(&ALL[4..]),
            ]
        ),
        Ok(3)
    );
}

#[test]
fn checker_rejects_gaps_without_a_true_snapshot() {
    // A gap and then events, no snapshot.
    let err = check(
        None,
        vec![subscribed(10), gap(GapReason::Lagged), events(&ALL[4..])],
    )
    .unwrap_err();
    assert!(err.contains("between a gap"), "{err}");
    // A gap whose snapshot never finishes.
    let err = check(
        None,
        vec![
            subscribed(10),
            gap(GapReason::Lagged),
            snapshot(14, good_snapshot(), false),
        ],
    )
    .unwrap_err();
    assert!(err.contains("inside a gap"), "{err}");
    // A silent skip: events jump over revisions without a gap.
    let err = check(None, vec![subscribed(10), events(&ALL[4..])]).unwrap_err();
    assert!(err.contains("missing"), "{err}");
    // A snapshot without a gap.
    let err = check(
        None,
        vec![subscribed(10), snapshot(14, good_snapshot(), true)],
    )
    .unwrap_err();
    assert!(err.contains("without a gap"), "{err}");
    // A snapshot that is not etcd's range: a missing key, a stale value.
    let mut short = good_snapshot();
    short.remove(1);
    let err = check(
        None,
        vec![
            subscribed(10),
            gap(GapReason::Lagged),
            snapshot(14, short, true),
        ],
    )
    .unwrap_err();
    assert!(err.contains("differs") || err.contains("lacks"), "{err}");
    let mut stale = good_snapshot();
    stale[0] = wkv("/t/a", "1", 11, 11, 1);
    let err = check(
        None,
        vec![
            subscribed(10),
            gap(GapReason::Lagged),
            snapshot(14, stale, true),
        ],
    )
    .unwrap_err();
    assert!(err.contains("differs"), "{err}");
    // Events after the snapshot that repeat what it already holds.
    let err = check(
        None,
        vec![
            subscribed(10),
            gap(GapReason::Lagged),
            snapshot(14, good_snapshot(), true),
            events(&ALL[2..]),
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("duplicate") || err.contains("out of order"),
        "{err}"
    );
    // A closed subscription never keeps the promise.
    let err = check(
        None,
        vec![
            subscribed(10),
            ServerMessage::Closed {
                id: SubId(1),
                error: etcdeck_shared::ApiError {
                    code: ErrorCode::PermissionDenied,
                    message: "no".into(),
                    revision: None,
                },
            },
        ],
    )
    .unwrap_err();
    assert!(err.contains("closed"), "{err}");
}

// ---------------------------------------------------------------------------
// Scenarios against real etcd
// ---------------------------------------------------------------------------

fn prefix(p: &str) -> WatchRange {
    WatchRange::prefix(p)
}

/// The seed story, at its most hostile: tokens live 2 s. A subscription
/// opened 4.5 s after etcdeck connected (a new range, the same range, and
/// the same range replaying history) and subscriptions left idle past
/// expiry before any write all deliver every event, for root and for a
/// non-root user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_cancel_no_subscription() {
    let Scene {
        etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_token_ttl(2)).await;
    writer.write(5).await;
    let viewer = server_as(&etcd, VIEWER).await;
    let connected = Instant::now();
    let [mut root_ws, mut viewer_ws] = open_tabs([&root, &viewer], &[Sub::prefix(1, PREFIX)]).await;

    // The scenario itself: idle past two token lifetimes, with no request
    // from etcdeck's users, before the next subscriptions.
    tokio::time::sleep_until((connected + Duration::from_millis(4500)).into()).await;
    for ws in [&mut root_ws, &mut viewer_ws] {
        ws.subscribe_all(&[
            Sub::prefix(2, "/w/a/").prev_kv(),
            Sub::prefix(3, PREFIX),
            Sub::prefix(4, PREFIX).from(start),
        ])
        .await;
    }
    writer.write(150).await;

    let mut subs = Vec::new();
    for (name, ws) in [("root", &root_ws), ("viewer", &viewer_ws)] {
        for id in 1..=4 {
            subs.push((name, ws, id));
        }
    }
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    assert!(verdicts.iter().all(|v| v.gaps.is_empty()), "{verdicts:?}");
    // The replaying subscriptions saw the five writes made before etcdeck started.
    assert!(verdicts[3].events > verdicts[2].events);
    root.stop().await;
    viewer.stop().await;
}

/// The seed scenario: token TTL 5 s, a writer writing all along, a first
/// subscription at once, a second 6 s after etcdeck connected and a third
/// 1 s later: none is closed, every one delivers every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_story_subscriptions_opened_after_token_expiry() {
    let Scene {
        etcd,
        endpoints,
        writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_token_ttl(5)).await;
    let viewer = server_as(&etcd, VIEWER).await;
    let connected = Instant::now();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let writing = writer.spawn_until(stopped, Duration::from_millis(40));

    let mut root_ws = LiveClient::connect(root.live()).await;
    let mut viewer_ws = LiveClient::connect(viewer.live()).await;
    let schedule = [
        (1, PREFIX, Duration::ZERO),
        (2, "/w/a/", Duration::from_secs(6)),
        (3, "/w/b/", Duration::from_secs(7)),
    ];
    for (id, range, after) in schedule {
        // The schedule is the scenario: subscriptions opened after the
        // token etcdeck connected with has expired.
        tokio::time::sleep_until((connected + after).into()).await;
        for ws in [&mut root_ws, &mut viewer_ws] {
            ws.subscribe(id, prefix(range), None, false).await;
        }
    }
    for ws in [&root_ws, &viewer_ws] {
        for id in 1..=3 {
            ws.wait_subscribed(id, LIMIT).await;
        }
    }
    // The writer goes on until every subscription has delivered writes.
    for ws in [&root_ws, &viewer_ws] {
        ws.wait_until(LIMIT, "events on every subscription", |r| {
            (1..=3).all(|id| r.last(SubId(id)).is_some_and(|s| s.events().count() > 0))
        })
        .await;
    }
    stop.send_replace(true);
    let mut writer = writing.await.expect("writer");
    eprintln!("writer: {writer:?}");

    let subs: Vec<(&str, &LiveClient, u32)> = [("root", &root_ws), ("viewer", &viewer_ws)]
        .into_iter()
        .flat_map(|(name, ws)| (1..=3).map(move |id| (name, ws, id)))
        .collect();
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    assert!(verdicts.iter().all(|v| v.gaps.is_empty()), "{verdicts:?}");
    assert!(verdicts.iter().all(|v| v.events > 0), "{verdicts:?}");
    root.stop().await;
    viewer.stop().await;
}

/// A browser that was away while etcd compacted past its resume point comes
/// back with `from = seen + 1` and is told so: a compaction gap, a snapshot
/// equal to etcd's range, then live events.
///
/// The hub remembers recent revisions of a range that someone else still
/// watches and replays them to a resuming subscriber itself, which is honest
/// too. So on each server (root and a non-root user) one tab stays, the
/// absent tab misses more writes than the hub remembers ([`REMEMBERED`]),
/// and the staying tab then leaves briefly across the same compaction and
/// must keep the promise either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_while_disconnected_gives_a_gap_and_a_true_snapshot() {
    /// More revisions than the hub keeps for replay (1024 batches per
    /// range), also for the half `/w/b/` alone.
    const REMEMBERED: usize = 2_600;
    let Scene {
        etcd,
        endpoints,
        mut writer,
        root,
        ..
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    // Enough keys for a snapshot of several pages (500 keys a page).
    seed_keys(&writer, "/w/many/", 1_200).await;
    let start = writer.revision().await + 1;
    let viewer = server_as(&etcd, VIEWER).await;

    let subs = [Sub::prefix(1, PREFIX), Sub::prefix(2, "/w/b/").prev_kv()];
    let mut tabs = Vec::new();
    for server in [&root, &viewer] {
        tabs.extend(open_tabs([server, server], &subs).await);
    }
    let [root_away, root_short, viewer_away, viewer_short] = &mut tabs[..] else {
        unreachable!()
    };
    let written = writer.write(30).await;
    for ws in [&mut *root_away, &mut *viewer_away] {
        ws.wait_seen(1, written, LIMIT).await;
        ws.wait_seen(2, written - 5, LIMIT).await;
        ws.disconnect().await;
    }
    let written = writer.write(REMEMBERED).await;
    for ws in [&mut *root_short, &mut *viewer_short] {
        ws.wait_seen(1, written, LIMIT).await;
        ws.disconnect().await;
    }
    let compact_at = writer.write(5).await;
    // Ground truth up to the compaction, before etcd forgets it.
    let truth = Truth::read(&endpoints, PREFIX, start, compact_at).await;
    etcd.etcdctl(&["compact", &compact_at.to_string()])
        .expect("compact");

    for ws in tabs.iter_mut() {
        ws.reconnect().await;
    }
    for ws in &tabs {
        for id in [1, 2] {
            ws.wait_seen(id, compact_at, LIMIT).await;
        }
    }
    writer.write(30).await;
    let names = ["root away", "root short", "viewer away", "viewer short"];
    let subs: Vec<(&str, &LiveClient, u32)> = names
        .iter()
        .zip(&tabs)
        .flat_map(|(name, ws)| [(*name, ws, 1), (*name, ws, 2)])
        .collect();
    let (_, verdicts) = finish(&endpoints, &mut writer, truth, &subs).await;
    for (name, ws) in names.iter().zip(&tabs) {
        eprintln!("{name}:\n{}", ws.recording().summary());
    }
    for (i, verdict) in verdicts.iter().enumerate() {
        if subs[i].0.ends_with("away") {
            assert_eq!(
                verdict.gaps,
                [GapReason::Compacted {
                    compact_revision: Revision(compact_at)
                }],
                "{}: {verdict:?}",
                subs[i].0
            );
            assert_eq!(verdict.snapshot_revisions.len(), 1);
        }
    }
    let pages = tabs[0]
        .recording()
        .last(SubId(1))
        .expect("session")
        .messages
        .iter()
        .filter(|m| matches!(m.message, ServerMessage::Snapshot { .. }))
        .count();
    assert!(pages >= 3, "a snapshot of 1200+ keys came in {pages} pages");
    root.stop().await;
    viewer.stop().await;
}

/// Waits until the last session of subscription `id` has delivered `count`
/// events (writes flow through the server it is connected to).
async fn wait_events(ws: &LiveClient, id: u32, count: usize) {
    ws.wait_until(LIMIT, &format!("{count} events on sub {id}"), |r| {
        r.last(SubId(id))
            .is_some_and(|s| s.events().count() >= count)
    })
    .await;
}

/// Puts `count` keys `prefix kNNNNN` in transactions of 100.
async fn seed_keys(writer: &Writer, prefix: &str, count: usize) {
    let mut client = writer.client();
    for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
        let ops: Vec<etcd_client::TxnOp> = chunk
            .iter()
            .map(|i| etcd_client::TxnOp::put(format!("{prefix}k{i:05}"), format!("{i}"), None))
            .collect();
        client
            .txn(etcd_client::Txn::new().and_then(ops))
            .await
            .expect("seed keys");
    }
}

/// A non-root user asking for a range it may not read gets one `closed` with
/// `permission_denied`, promptly and for good; its other subscriptions on
/// the same socket carry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_range_is_closed_and_the_rest_carries_on() {
    let Scene {
        etcd,
        endpoints,
        mut writer,
        start,
        ..
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    etcd.etcdctl(&["put", "/secret/x", "hidden"]).expect("put");
    let viewer = server_as(&etcd, VIEWER).await;

    let mut ws = LiveClient::connect(viewer.live()).await;
    ws.subscribe(1, prefix(PREFIX), None, false).await;
    ws.subscribe(2, prefix("/secret/"), None, false).await;
    ws.subscribe(3, WatchRange::key("/secret/x"), None, false)
        .await;
    ws.subscribe(4, prefix(""), Some(Revision(1)), false).await;
    ws.wait_subscribed(1, LIMIT).await;
    for id in [2, 3, 4] {
        ws.wait_until(LIMIT, &format!("sub {id} to be closed"), |r| {
            r.last(SubId(id)).is_some_and(|s| s.closed().is_some())
        })
        .await;
    }
    let recording = ws.recording();
    for id in [2, 3, 4] {
        let session = recording.last(SubId(id)).expect("session");
        let error = session.closed().expect("closed");
        assert_eq!(
            error.code,
            ErrorCode::PermissionDenied,
            "sub {id}: {error:?}"
        );
        let closed_at = session
            .messages
            .iter()
            .find(|m| matches!(m.message, ServerMessage::Closed { .. }))
            .expect("closed")
            .at;
        let took = closed_at - session.sent_at;
        eprintln!("sub {id}: closed after {took:?}: {}", error.message);
        assert!(
            took < Duration::from_secs(5),
            "sub {id} took {took:?} to close"
        );
    }

    // Writes to the readable range still arrive; nothing more is said about
    // the closed ones (no retry loop behind the scenes).
    writer.write(60).await;
    // The quiet window is the scenario: a retry loop behind the scenes would
    // speak about the closed subscriptions in it, and nothing can be waited
    // for instead of a thing that must not happen.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &[("viewer", &ws, 1)],
    )
    .await;
    assert!(verdicts[0].events >= 60);
    let recording = ws.recording();
    for id in [2, 3, 4] {
        let outline = recording.last(SubId(id)).expect("session").outline();
        assert!(
            outline.ends_with("closed") && !outline.contains("closed "),
            "sub {id}: {outline}"
        );
    }
    assert!(
        recording.errors.is_empty() && recording.strays.is_empty(),
        "{}",
        recording.summary()
    );
    viewer.stop().await;
}

/// Frames the backend does not understand get `error` with `bad_request`;
/// the socket stays open and a following subscription works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_an_error_and_the_socket_carries_on() {
    let Scene {
        etcd: _etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let mut ws = LiveClient::connect(root.live()).await;

    let oversized = format!(
        r#"{{"type":"subscribe","id":9,"range":{{"key":"{}","prefix":true}}}}"#,
        "A".repeat(MAX_CLIENT_FRAME)
    );
    assert!(oversized.len() > MAX_CLIENT_FRAME);
    let bad = [
        Message::text("this is not JSON"),
        Message::text(r#"{"type":"launch","id":1}"#),
        Message::text(r#"{"type":"subscribe","id":1}"#),
        Message::text(r#"{"type":"subscribe","id":-1,"range":{"key":""}}"#),
        Message::text(oversized),
        Message::binary(vec![0u8, 159, 146, 150]),
    ];
    let count = bad.len();
    for frame in bad {
        ws.send_raw(frame).await;
    }
    ws.wait_until(LIMIT, "an error per malformed frame", |r| {
        r.errors.len() >= count
    })
    .await;
    let recording = ws.recording();
    for error in &recording.errors {
        let ServerMessage::Error { error } = &error.message else {
            unreachable!()
        };
        assert_eq!(error.code, ErrorCode::BadRequest, "{error:?}");
        eprintln!("bad_request: {}", error.message);
    }
    // Unsubscribing an unknown id is ignored without a word.
    ws.send(&ClientMessage::Unsubscribe { id: SubId(77) }).await;

    ws.subscribe_all(&[Sub::prefix(1, PREFIX)]).await;
    writer.write(40).await;
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &[("root", &ws, 1)],
    )
    .await;
    assert!(verdicts[0].events >= 40);
    let recording = ws.recording();
    assert_eq!(recording.errors.len(), count, "{}", recording.summary());
    assert!(
        recording.socket_ends.is_empty(),
        "{:?}",
        recording.socket_ends
    );
    root.stop().await;
}

/// Twenty browser tabs watching the same prefix cost etcd one watcher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upstream_watch_per_range() {
    let Scene {
        etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let endpoint = etcd.endpoint(0);
    const WATCHERS: &str = "etcd_debugging_mvcc_watcher_total";
    let baseline = etcd_metric(&endpoint, WATCHERS).await;

    let mut sockets = Vec::new();
    for _ in 0..20 {
        let mut ws = LiveClient::connect(root.live()).await;
        ws.subscribe(1, prefix(PREFIX), None, false).await;
        sockets.push(ws);
    }
    for ws in &sockets {
        ws.wait_subscribed(1, LIMIT).await;
    }
    // Short-lived catch-up watches may come and go; wait until only the
    // lasting ones remain, then check that the count stays there.
    let watchers = support::wait_for(LIMIT, "one etcd watcher for the 20 tabs", async || {
        let watchers = etcd_metric(&endpoint, WATCHERS).await;
        if watchers <= baseline + 1.0 {
            Ok(watchers)
        } else {
            Err(format!("{watchers} watchers, {baseline} before"))
        }
    })
    .await;
    eprintln!("etcd watchers: {baseline} before, {watchers} with 20 subscribers");
    assert_eq!(watchers, baseline + 1.0);

    writer.write(30).await;
    let subs: Vec<(&str, &LiveClient, u32)> = sockets.iter().map(|ws| ("tab", ws, 1)).collect();
    finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    let watchers = etcd_metric(&endpoint, WATCHERS).await;
    assert_eq!(watchers, baseline + 1.0, "after delivering events");
    root.stop().await;
}

/// Resuming from far back replays history through a watch of the hub's own;
/// etcd sends up to 1000 revisions in one watch response, so with large
/// values one response is many MiB. The replay must still deliver every
/// event (or say gap and resync), not fail on a message size limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_over_many_mib_of_history() {
    let Scene {
        etcd: _etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let mut big = Writer::connect(&endpoints, "/w/big/")
        .await
        .with_values(3000, 4000)
        .with_keys(16)
        .with_txns_of(8);
    // About 200 revisions of 28 KiB: 5.5 MiB, one replay response.
    big.write(200).await;
    eprintln!("history: {} MiB of values", big.bytes / (1024 * 1024));
    let mut ws = LiveClient::connect(root.live()).await;
    ws.subscribe(1, prefix(PREFIX), Some(Revision(start)), false)
        .await;
    ws.subscribe(2, prefix("/w/big/"), Some(Revision(start)), true)
        .await;
    writer.write(20).await;
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &[("root", &ws, 1)],
    )
    .await;
    eprintln!("{verdicts:?}");
    // Sub 2's range does not hold the end marker: its last write is enough.
    let last = big.acks.last().expect("writes").0;
    ws.wait_seen(2, last, LIMIT).await;
    root.stop().await;
}

/// Lease expiry and revocation arrive as deletes marked `lease_ended`; a
/// user deleting a key that has a live lease is not marked; puts carry the
/// lease id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_ends_are_marked_and_user_deletes_are_not() {
    use etcdeck_shared::LeaseId;
    let Scene {
        etcd: _etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let ws = open_tab(
        &root,
        &[
            Sub::prefix(1, PREFIX),
            Sub::prefix(2, "/w/lease/").prev_kv(),
            Sub::key(3, "/w/lease/b").prev_kv(),
        ],
    )
    .await;

    let mut client = writer.client();
    let mut grant = async |ttl| client.lease_grant(ttl, None).await.expect("lease").id();
    let (expiring, explicit, revoked) = (grant(2).await, grant(60).await, grant(60).await);
    let mut client = writer.client();
    for (key, lease) in [("a", expiring), ("b", explicit), ("c", revoked)] {
        client
            .put(
                format!("/w/lease/{key}"),
                "v",
                Some(etcd_client::PutOptions::new().with_lease(lease)),
            )
            .await
            .expect("put with lease");
    }
    client.delete("/w/lease/b", None).await.expect("delete");
    client.lease_revoke(revoked).await.expect("revoke");
    // The 2 s lease ends within a few seconds (etcd checks expiry every 500 ms).
    ws.wait_until(LIMIT, "the expired lease's delete", |r| {
        r.last(SubId(2)).is_some_and(|s| {
            s.events()
                .any(|e| e.kind == EventKind::Delete && e.kv.key == Bytes::from("/w/lease/a"))
        })
    })
    .await;

    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &[("root", &ws, 1), ("root", &ws, 2), ("root", &ws, 3)],
    )
    .await;
    eprintln!("{verdicts:?}");
    let recording = ws.recording();
    for id in [1, 2] {
        let session = recording.last(SubId(id)).expect("session");
        let mut seen = Vec::new();
        for event in session.events() {
            let key = event.kv.key.display();
            if !key.starts_with("/w/lease/") {
                continue;
            }
            match event.kind {
                EventKind::Put => {
                    let lease = [("/w/lease/a", expiring), ("/w/lease/b", explicit)]
                        .into_iter()
                        .chain([("/w/lease/c", revoked)])
                        .find(|(k, _)| *k == key)
                        .map(|(_, l)| LeaseId(l));
                    assert_eq!(event.kv.lease, lease, "sub {id}: put of {key}");
                }
                EventKind::Delete => seen.push((key, event.lease_ended)),
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                ("/w/lease/a".to_owned(), true),
                ("/w/lease/b".to_owned(), false),
                ("/w/lease/c".to_owned(), true)
            ],
            "sub {id}"
        );
    }
    root.stop().await;
}

/// A change to users or roles makes etcd call every earlier token old
/// ("revision of auth store is old"): open subscriptions carry on and new
/// ones (a new range, and one replaying history) open and deliver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_store_change_cancels_no_subscription() {
    let Scene {
        etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let viewer = server_as(&etcd, VIEWER).await;
    let [mut root_ws, mut viewer_ws] = open_tabs([&root, &viewer], &[Sub::prefix(1, PREFIX)]).await;
    writer.write(20).await;
    etcd.etcdctl(&["role", "add", "unrelated"])
        .expect("role add");
    etcd.etcdctl(&[
        "role",
        "grant-permission",
        "viewer-role",
        "read",
        "/elsewhere",
    ])
    .expect("grant");
    for ws in [&mut root_ws, &mut viewer_ws] {
        ws.subscribe_all(&[
            Sub::prefix(2, "/w/a/").prev_kv(),
            Sub::prefix(3, PREFIX).from(start),
        ])
        .await;
    }
    writer.write(20).await;
    let subs: Vec<(&str, &LiveClient, u32)> = [("root", &root_ws), ("viewer", &viewer_ws)]
        .into_iter()
        .flat_map(|(name, ws)| (1..=3).map(move |id| (name, ws, id)))
        .collect();
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    assert!(verdicts.iter().all(|v| v.gaps.is_empty()), "{verdicts:?}");
    root.stop().await;
    viewer.stop().await;
}

/// Unsubscribing ends a subscription's messages; a socket holds at most
/// `MAX_SUBSCRIPTIONS`, and one more is refused without harming the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_and_the_subscription_limit() {
    use etcdeck_shared::ws::MAX_SUBSCRIPTIONS;
    let Scene {
        etcd: _etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let subs: Vec<Sub> = (0..MAX_SUBSCRIPTIONS as u32)
        .map(|id| Sub::prefix(id, if id % 2 == 0 { PREFIX } else { "/w/b/" }))
        .collect();
    let mut ws = open_tab(&root, &subs).await;
    ws.subscribe(1000, prefix(PREFIX), None, false).await;
    ws.wait_until(LIMIT, "the refusal of one subscription too many", |r| {
        r.last(SubId(1000)).is_some_and(|s| !s.messages.is_empty())
    })
    .await;
    ws.unsubscribe(1).await;
    writer.write(20).await;
    let subs: Vec<(&str, &LiveClient, u32)> = (0..MAX_SUBSCRIPTIONS as u32)
        .filter(|id| *id != 1)
        .map(|id| ("tab", &ws, id))
        .collect();
    finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    let recording = ws.recording();
    let refused = recording.last(SubId(1000)).expect("session");
    assert_eq!(refused.messages.len(), 1, "{}", refused.outline());
    let ServerMessage::Closed { error, .. } = &refused.messages[0].message else {
        panic!("refused with {}", refused.outline())
    };
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert!(recording.errors.is_empty());
    // Nothing for the unsubscribed one after the first writes went out.
    let gone = recording.last(SubId(1)).expect("session");
    assert!(
        gone.events().all(|e| e.kv.mod_revision.0 < start + 5),
        "events after unsubscribe: {}",
        gone.outline()
    );
    root.stop().await;
}

/// etcdeck itself restarts while a writer writes: the tab's socket ends,
/// it reconnects to the new process with `from = seen + 1` and misses and
/// repeats nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdeck_restart_resumes_exactly() {
    let Scene {
        etcd,
        endpoints,
        writer,
        start,
        root: first,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let mut ws = open_tab(
        &first,
        &[Sub::prefix(1, PREFIX), Sub::prefix(2, "/w/b/").prev_kv()],
    )
    .await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let writing = writer.spawn_until(stopped, Duration::from_millis(5));
    // Mid-stream: the restart comes once writes flow through the first process.
    wait_events(&ws, 1, 20).await;

    let stopping = Instant::now();
    first.stop().await;
    eprintln!("etcdeck stopped in {:?}", stopping.elapsed());
    // Whether the old socket was closed is `a_stopping_etcdeck_closes_its_sockets`'s
    // business; here the tab leaves it and resumes on the new process.
    let second = root_server(&etcd).await;
    ws.reconnect_to(second.live()).await;
    // And the writer stops once writes flow through the second one.
    wait_events(&ws, 1, 20).await;
    stop.send_replace(true);
    let mut writer = writing.await.expect("writer");
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &[("tab", &ws, 1), ("tab", &ws, 2)],
    )
    .await;
    assert!(verdicts.iter().all(|v| v.gaps.is_empty()), "{verdicts:?}");
    second.stop().await;
}

/// Stopping etcdeck (`run`'s shutdown future) closes its WebSockets, so tabs
/// learn at once that it is going away instead of holding a socket to a
/// server that has returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_etcdeck_closes_its_sockets() {
    let Scene {
        etcd, root: server, ..
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let ws = open_tab(&server, &[Sub::prefix(1, PREFIX)]).await;
    server.stop().await;
    // `run` has returned; does anything still serve this socket?
    etcd.etcdctl(&["put", "/w/after-stop", "1"]).expect("put");
    let served = tokio::time::timeout(
        Duration::from_secs(2),
        ws.wait_until(LIMIT, "an event", |r| {
            r.last(SubId(1)).is_some_and(|s| s.events().count() > 0)
        }),
    )
    .await
    .is_ok();
    eprintln!("events still delivered after etcdeck stopped: {served}");
    ws.wait_until(
        Duration::from_secs(5),
        "etcdeck to close the socket as it stops",
        |r| !r.socket_ends.is_empty(),
    )
    .await;
    eprintln!("{:?}", ws.recording().socket_ends);
}

/// Tabs join a busy range one after another, from now, from a moment ago,
/// from further back and from before etcdeck started, while a writer writes
/// as fast as it can: every one delivers exactly its share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_joining_a_busy_range_at_every_kind_of_start() {
    let Scene {
        etcd: _etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    writer.write(50).await;
    let first = open_tab(&root, &[Sub::prefix(1, PREFIX)]).await;
    let mut probe = support::live::root_client(&endpoints).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let writing = writer.spawn_until(stopped, Duration::ZERO);

    let mut tabs = vec![first];
    let mut joined_at = start;
    for i in 0..12u32 {
        // Each tab joins further on in the busy stream: after the first tab
        // has been told of 20 more revisions.
        tabs[0].wait_seen(1, joined_at + 20, LIMIT).await;
        let now = probe
            .get("etcdeck-test-probe", None)
            .await
            .expect("revision")
            .header()
            .expect("header")
            .revision();
        joined_at = now;
        let from = match i % 4 {
            0 => None,
            1 => Some(Revision(now - 3)),
            2 => Some(Revision(now - 200)),
            _ => Some(Revision(start)),
        };
        let range = if i % 3 == 2 { "/w/a/" } else { PREFIX };
        let mut ws = LiveClient::connect(root.live()).await;
        ws.subscribe(
            1,
            prefix(range),
            from.map(|f| Revision(f.0.max(start))),
            i % 2 == 0,
        )
        .await;
        tabs.push(ws);
    }
    for ws in &tabs {
        ws.wait_subscribed(1, LIMIT).await;
    }
    // The writer stops once every tab has delivered a write made after all
    // of them were open.
    let all_open = probe
        .get("etcdeck-test-probe", None)
        .await
        .expect("revision")
        .header()
        .expect("header")
        .revision();
    for ws in &tabs {
        ws.wait_seen(1, all_open + 1, LIMIT).await;
    }
    stop.send_replace(true);
    let mut writer = writing.await.expect("writer");
    eprintln!("writer: {writer:?}");
    let names: Vec<String> = tabs
        .iter()
        .enumerate()
        .map(|(i, ws)| {
            let recording = ws.recording();
            let session = recording.last(SubId(1)).expect("session");
            format!(
                "tab {i} ({} from {:?})",
                session.range.key.display(),
                session.from.map(|r| r.0)
            )
        })
        .collect();
    let subs: Vec<(&str, &LiveClient, u32)> = names
        .iter()
        .zip(&tabs)
        .map(|(name, ws)| (name.as_str(), ws, 1))
        .collect();
    let (_, verdicts) = finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &subs,
    )
    .await;
    assert!(verdicts.iter().all(|v| v.gaps.is_empty()), "{verdicts:?}");
    root.stop().await;
}

/// A quiet range while the rest of the keyspace is busy: its subscribers are
/// told of progress (so a resume point moves on without events), progress
/// never passes an event they were not given, and resuming from a
/// progress-advanced point misses nothing; also for a subscription that
/// started by replaying history (etcd 3.4 may report progress too early on
/// such a watch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_on_a_quiet_range_never_skips_an_event() {
    let etcd = start_etcd(ClusterOptions::single().with_auth());
    let endpoints = etcd.endpoints();
    let mut quiet = Writer::connect(&endpoints, "/w/q/").await;
    let start = quiet.revision().await + 1;
    quiet.write(10).await;
    let busy = Writer::connect(&endpoints, "/w/busy/").await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let writing = busy.spawn_until(stopped, Duration::from_millis(10));
    let root = root_server(&etcd).await;
    let mut ws = open_tab(
        &root,
        &[
            Sub::prefix(1, "/w/q/"),
            Sub::prefix(2, "/w/q/").from(start).prev_kv(),
            Sub::prefix(3, "/w/q/a/").from(start),
        ],
    )
    .await;
    let before = quiet.write(5).await;
    // Progress moves the resume point past the busy writes. (Only for the
    // subscription whose upstream watch started at "now": etcd 3.4.23
    // answers a progress request with the current revision even while a
    // watch is still replaying history, so the hub does not trust progress
    // on a watch that started with a replay, and on a quiet range of a busy
    // etcd its re-opened watch always starts with one.)
    ws.wait_until(LIMIT, "progress for sub 1", |r| {
        r.seen(SubId(1)).is_some_and(|s| s.0 >= before + 20)
    })
    .await;
    for id in 2..=3 {
        ws.wait_seen(id, before - 5, LIMIT).await;
    }
    ws.disconnect().await;
    quiet.write(10).await;
    ws.reconnect().await;
    let last = quiet.write(10).await;
    // The busy writer stops once the resumed subscriptions delivered the
    // quiet range's last write.
    for id in 1..=2 {
        ws.wait_seen(id, last, LIMIT).await;
    }
    stop.send_replace(true);
    let busy = writing.await.expect("writer");
    eprintln!("busy writer: {busy:?}");
    let (_, verdicts) = finish(
        &endpoints,
        &mut quiet,
        Truth::starting(PREFIX, start),
        &[("quiet", &ws, 1), ("quiet", &ws, 2), ("quiet", &ws, 3)],
    )
    .await;
    for verdict in &verdicts {
        assert!(verdict.gaps.is_empty(), "{verdict:?}");
    }
    assert!(verdicts[0].progress > 0, "{:?}", verdicts[0]);
    root.stop().await;
}

/// A tab that leaves a range and comes back a moment later (the hub keeps
/// the range's upstream watch open for a while for exactly this) gets new
/// events at once, not when the idle upstream next looks at its watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_tab_gets_events_at_once() {
    let Scene {
        etcd: _etcd,
        endpoints,
        mut writer,
        start,
        root,
    } = Scene::start(ClusterOptions::single().with_auth()).await;
    let mut ws = open_tab(&root, &[Sub::prefix(1, PREFIX)]).await;
    let first = writer.write(3).await;
    ws.wait_seen(1, first, LIMIT).await;
    ws.unsubscribe(1).await;
    // Gone: the hub has no subscriber left, and keeps the idle upstream.
    support::wait_for(LIMIT, "the hub to let the tab go", async || {
        let stats: LiveStats = root
            .get_json(path::LIVE)
            .await
            .map_err(|e| format!("{e:?}"))?;
        if stats.subscribers == 0 {
            Ok(())
        } else {
            Err(format!("{stats:?}"))
        }
    })
    .await;

    // Back, both from now and resuming where it left off.
    ws.subscribe_all(&[
        Sub::prefix(2, PREFIX),
        Sub::prefix(3, PREFIX).from(first + 1),
    ])
    .await;
    let written = writer.write(1).await;
    let wrote_at = Instant::now();
    for id in [2, 3] {
        ws.wait_seen(id, written, LIMIT).await;
        let took = wrote_at.elapsed();
        eprintln!("sub {id}: the event arrived {took:?} after its write");
        assert!(
            took < Duration::from_secs(2),
            "sub {id} got an event {took:?} after it was written"
        );
    }
    finish(
        &endpoints,
        &mut writer,
        Truth::starting(PREFIX, start),
        &[("back", &ws, 2), ("back", &ws, 3)],
    )
    .await;
    root.stop().await;
}
