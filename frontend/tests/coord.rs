//! The coordination views: their pure helpers (countdown correction, the
//! expiring and checking states, when a view asks etcd again before a
//! countdown would change state, sparkline scaling, how durations and rates read, which
//! events touch a view, what a view watches) and the views mounted with
//! canned answers. Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown`.

use etcdeck_frontend::api::ApiFailure;
use etcdeck_frontend::components::coord::{
    ElectionsView, LeasesView, LocksView, QueuesView, ServicesView,
};
use etcdeck_frontend::coord::{
    CoordAnswer, Countdown, Liveness, MIN_RECHECK_MS, Ttl, TtlShown, first_zero_at_ms,
    format_count, format_duration, format_rate, format_shown, held_for, is_session_key, liveness,
    not_yet_shown, recheck_at_ms, shown_liveness, sparkline_points, watch_plan,
};
use etcdeck_frontend::live_view::{ReadState, WHOLE_DENIED_NOTE, stale_answer};
use etcdeck_shared::coord::{
    Contender, DepthSample, Election, Elections, Instance, LeaseDetail, Leases, Lock, LockKind,
    Locks, PriorityDepth, Queue, QueueKind, Queues, RwRole, Service, Services,
};
use etcdeck_shared::ws::{EventKind, WatchEvent, WatchKv, WatchRange};
use etcdeck_shared::{ApiError, Bytes, ErrorCode, LeaseId, Revision};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{container, query_all, settle};

// ------------------------------------------------------------ pure helpers

#[wasm_bindgen_test]
fn countdown_ticks_in_whole_seconds_and_stops_at_zero() {
    let countdown = Countdown::new(Some(10), 1_000);
    assert_eq!(countdown.remaining(1_000), Some(10));
    assert_eq!(countdown.remaining(1_999), Some(10));
    assert_eq!(countdown.remaining(2_000), Some(9));
    assert_eq!(countdown.remaining(6_500), Some(5));
    assert_eq!(countdown.remaining(60_000), Some(0));
    // A clock that went backwards does not add time.
    assert_eq!(countdown.remaining(0), Some(10));
    assert_eq!(Countdown::new(None, 1_000).remaining(5_000), None);
}

#[wasm_bindgen_test]
fn countdown_is_corrected_by_each_answer() {
    let countdown = Countdown::new(Some(30), 0);
    assert_eq!(countdown.remaining(20_000), Some(10));
    // A keep-alive renewed the lease: the server's figure wins, upwards...
    let renewed = countdown.corrected(Some(30), 20_000);
    assert_eq!(renewed.remaining(20_000), Some(30));
    assert_eq!(renewed.remaining(21_000), Some(29));
    // ...and downwards, when the browser's timer ran slow.
    let slow = renewed.corrected(Some(3), 21_000);
    assert_eq!(slow.remaining(22_000), Some(2));
    // Gone is gone.
    assert_eq!(slow.corrected(None, 22_000).remaining(22_000), None);
}

#[wasm_bindgen_test]
fn a_read_is_due_when_the_first_countdown_reaches_zero() {
    assert_eq!(Countdown::new(Some(5), 1_000).zero_at_ms(), Some(6_000));
    // Already at zero: once more a second later, not at once.
    assert_eq!(Countdown::new(Some(0), 1_000).zero_at_ms(), Some(2_000));
    assert_eq!(Countdown::new(None, 1_000).zero_at_ms(), None);
    assert_eq!(first_zero_at_ms(&[30, 5, 60], 1_000), Some(6_000));
    assert_eq!(first_zero_at_ms(&[], 1_000), None);
}

#[wasm_bindgen_test]
fn an_instance_is_expiring_below_a_third_of_its_ttl() {
    assert_eq!(liveness(false, None, None), Liveness::Alive);
    assert_eq!(liveness(true, Some(30), Some(30)), Liveness::Alive);
    assert_eq!(liveness(true, Some(10), Some(30)), Liveness::Alive);
    assert_eq!(liveness(true, Some(9), Some(30)), Liveness::Expiring);
    assert_eq!(liveness(true, Some(1), Some(30)), Liveness::Expiring);
    assert_eq!(liveness(true, Some(0), Some(30)), Liveness::Gone);
    assert_eq!(liveness(true, None, Some(30)), Liveness::Gone);
    // The granted TTL unknown: alive while any time is left.
    assert_eq!(liveness(true, Some(1), None), Liveness::Alive);
    assert_eq!(Liveness::Expiring.as_str(), "expiring");
}

#[wasm_bindgen_test]
fn durations_read_at_a_glance() {
    assert_eq!(format_duration(0.0), "0s");
    assert_eq!(format_duration(45.9), "45s");
    assert_eq!(format_duration(60.0), "1m 00s");
    assert_eq!(format_duration(185.0), "3m 05s");
    assert_eq!(format_duration(7_380.0), "2h 03m");
    assert_eq!(format_duration(4.0 * 86_400.0 + 5.0 * 3_600.0), "4d 05h");
    assert_eq!(format_duration(-3.0), "0s");
    assert_eq!(format_duration(f64::NAN), "0s");
    assert_eq!(held_for(Some(10_000), 75_000).as_deref(), Some("1m 05s"));
    // Backend clock ahead of the browser's: never negative.
    assert_eq!(held_for(Some(80_000), 75_000).as_deref(), Some("0s"));
    assert_eq!(held_for(None, 75_000), None);
}

#[wasm_bindgen_test]
fn rates_and_counts_read_at_a_glance() {
    assert_eq!(format_rate(None), "—");
    assert_eq!(format_rate(Some(0.0)), "0/s");
    assert_eq!(format_rate(Some(0.44)), "0.4/s");
    assert_eq!(format_rate(Some(2.0)), "2/s");
    assert_eq!(format_rate(Some(12.4)), "12/s");
    assert_eq!(format_rate(Some(3_200.0)), "3.2k/s");
    assert_eq!(format_count(7), "7");
    assert_eq!(format_count(12_345), "12\u{202f}345");
    assert_eq!(format_count(1_000_000), "1\u{202f}000\u{202f}000");
}

fn sample(at_ms: u64, depth: u64) -> DepthSample {
    DepthSample { at_ms, depth }
}

#[wasm_bindgen_test]
fn sparkline_scales_time_across_and_depth_from_zero_up() {
    // A 102 x 52 box leaves 100 x 50 inside the 1 px margin.
    assert_eq!(sparkline_points(&[], 102.0, 52.0), "");
    assert_eq!(
        sparkline_points(
            &[sample(0, 0), sample(5_000, 5), sample(10_000, 10)],
            102.0,
            52.0
        ),
        "1,51 51,26 101,1"
    );
    // Placed by time: a late sample sits further right.
    assert_eq!(
        sparkline_points(
            &[sample(0, 4), sample(2_500, 2), sample(10_000, 4)],
            102.0,
            52.0
        ),
        "1,1 26,26 101,1"
    );
    // All empty: a line along the bottom; one sample: a flat line.
    assert_eq!(
        sparkline_points(&[sample(0, 0), sample(5_000, 0)], 102.0, 52.0),
        "1,51 101,51"
    );
    assert_eq!(sparkline_points(&[sample(0, 3)], 102.0, 52.0), "1,1 101,1");
}

fn kv(key: &str, lease: Option<i64>, version: i64) -> WatchKv {
    WatchKv {
        key: Bytes::from(key),
        value: Bytes::default(),
        create_revision: Revision(5),
        mod_revision: Revision(9),
        version,
        lease: lease.map(LeaseId),
        masked: None,
    }
}

fn put(key: &str, lease: Option<i64>, version: i64) -> WatchEvent {
    WatchEvent {
        kind: EventKind::Put,
        kv: kv(key, lease, version),
        prev: None,
        lease_ended: false,
    }
}

fn delete(key: &str, lease_ended: bool) -> WatchEvent {
    WatchEvent {
        kind: EventKind::Delete,
        kv: kv(key, None, 0),
        prev: None,
        lease_ended,
    }
}

fn contender(key: &str, lease: i64, ttl: Option<i64>, since: Option<u64>) -> Contender {
    Contender {
        key: Bytes::from(key),
        value: Bytes::default(),
        lease: LeaseId(lease),
        lease_ttl: ttl,
        create_revision: Revision(lease),
        holding_since_ms: since,
        since_exact: false,
        role: None,
        masked: None,
    }
}

fn locks() -> Locks {
    Locks {
        locks: vec![Lock {
            prefix: Bytes::from("jobs/nightly"),
            kind: LockKind::Mutex,
            holders: vec![contender("jobs/nightly/1a", 0x1a, Some(60), Some(1_000))],
            waiters: vec![
                contender("jobs/nightly/2b", 0x2b, Some(60), None),
                contender("jobs/nightly/3c", 0x3c, Some(12), None),
            ],
        }],
        revision: Revision(40),
    }
}

fn leases() -> Leases {
    Leases {
        leases: vec![
            LeaseDetail {
                id: LeaseId(0x694d),
                granted_ttl: 30,
                remaining_ttl: Some(10),
                keys: vec![Bytes::from("/svc/a"), Bytes::from("/svc/b")],
                more_keys: 3,
            },
            LeaseDetail {
                id: LeaseId(0x77),
                granted_ttl: 60,
                remaining_ttl: Some(45),
                keys: Vec::new(),
                more_keys: 0,
            },
        ],
        revision: Revision(12),
    }
}

#[wasm_bindgen_test]
fn lock_views_are_touched_by_their_keys_and_by_new_session_keys() {
    let locks = locks();
    assert!(locks.touches(&delete("jobs/nightly/1a", true)));
    assert!(locks.touches(&put("jobs/nightly/4d", Some(0x4d), 1)));
    // A new lock somewhere else: a key named by its own lease.
    assert!(locks.touches(&put("other/lock/5e", Some(0x5e), 1)));
    assert!(is_session_key(&kv("x/5e", Some(0x5e), 1)));
    // Not a session key: the name is not the lease; no lease; a rewrite.
    assert!(!locks.touches(&put("app/config", Some(0x5e), 1)));
    assert!(!locks.touches(&put("other/lock/5e", None, 1)));
    assert!(!locks.touches(&put("other/lock/5e", Some(0x5e), 2)));
    assert!(!locks.touches(&delete("jobs/nightlyX", false)));
}

#[wasm_bindgen_test]
fn lease_views_are_touched_by_attached_keys_coming_and_going() {
    let leases = leases();
    assert!(leases.touches(&delete("/svc/a", false)));
    // Any key deleted by its lease ending (that lease may be listed).
    assert!(leases.touches(&delete("/elsewhere", true)));
    assert!(!leases.touches(&delete("/elsewhere", false)));
    // Attached to a lease it was not listed under, or moved off it.
    assert!(leases.touches(&put("/new", Some(0x77), 1)));
    assert!(leases.touches(&put("/svc/a", None, 3)));
    assert!(!leases.touches(&put("/svc/a", Some(0x694d), 3)));
    assert!(!leases.touches(&put("/plain", None, 1)));
    assert_eq!(leases.ttls(), [10, 45]);
}

#[wasm_bindgen_test]
fn views_watch_every_key_when_allowed_else_what_they_show() {
    let locks = locks();
    assert_eq!(watch_plan(&locks, true), [WatchRange::prefix("")]);
    assert_eq!(
        watch_plan(&locks, false),
        [WatchRange::prefix("jobs/nightly/")]
    );
    // Nested prefixes are watched once.
    let services = Services {
        prefixes: vec![Bytes::from("svc/"), Bytes::from("svc/internal/")],
        services: Vec::new(),
        revision: Revision(3),
    };
    // Services live under the configured prefixes: never the whole keyspace.
    assert_eq!(watch_plan(&services, true), [WatchRange::prefix("svc/")]);
    assert!(services.touches(&put("svc/api/one", Some(1), 1)));
    assert!(!services.touches(&put("other/api/one", Some(1), 1)));
}

#[wasm_bindgen_test]
fn created_keys_an_answer_does_not_show_yet_are_named() {
    let created = [Bytes::from("jobs/nightly/4d"), Bytes::from("other/lock/5e")];
    assert_eq!(
        not_yet_shown(&locks(), &created),
        [Bytes::from("other/lock/5e")]
    );
    let leases = leases();
    assert_eq!(
        not_yet_shown(&leases, &[Bytes::from("/svc/a"), Bytes::from("/svc/ab")]),
        [Bytes::from("/svc/ab")]
    );
}

#[wasm_bindgen_test]
fn an_answer_older_than_a_seen_change_is_stale() {
    assert!(stale_answer(Some(Revision(4)), Some(Revision(5))));
    assert!(!stale_answer(Some(Revision(5)), Some(Revision(5))));
    assert!(!stale_answer(Some(Revision(9)), Some(Revision(5))));
    // Nothing seen since the last fresh answer, or nothing read.
    assert!(!stale_answer(Some(Revision(4)), None));
    assert!(!stale_answer(None, Some(Revision(5))));
}

#[wasm_bindgen_test]
fn a_count_that_ran_out_is_checking_until_etcd_answers() {
    let countdown = Countdown::new(Some(7), 1_000);
    assert_eq!(countdown.shown(1_000), TtlShown::Left(7));
    assert_eq!(countdown.shown(7_999), TtlShown::Left(1));
    // The browser's count reached zero; only etcd can say the lease ended.
    assert_eq!(countdown.shown(8_000), TtlShown::Checking);
    assert_eq!(countdown.shown(60_000), TtlShown::Checking);
    // etcd's own zero: it still has the lease, in its last second.
    assert_eq!(
        Countdown::new(Some(0), 1_000).shown(5_000),
        TtlShown::Left(0)
    );
    // etcd said it is gone.
    assert_eq!(Countdown::new(None, 1_000).shown(1_000), TtlShown::Gone);
    assert_eq!(format_shown(TtlShown::Left(45)), "45s");
    assert_eq!(format_shown(TtlShown::Checking), "checking…");
    assert_eq!(format_shown(TtlShown::Gone), "—");
}

#[wasm_bindgen_test]
fn only_etcd_makes_an_instance_gone() {
    assert_eq!(shown_liveness(false, TtlShown::Gone, None), Liveness::Alive);
    assert_eq!(
        shown_liveness(true, TtlShown::Left(8), Some(10)),
        Liveness::Alive
    );
    assert_eq!(
        shown_liveness(true, TtlShown::Left(3), Some(10)),
        Liveness::Expiring
    );
    assert_eq!(
        shown_liveness(true, TtlShown::Left(0), Some(10)),
        Liveness::Expiring
    );
    assert_eq!(
        shown_liveness(true, TtlShown::Checking, Some(10)),
        Liveness::Checking
    );
    assert_eq!(
        shown_liveness(true, TtlShown::Gone, Some(10)),
        Liveness::Gone
    );
    assert_eq!(Liveness::Checking.as_str(), "checking");
}

#[wasm_bindgen_test]
fn a_view_asks_etcd_again_before_a_countdown_would_change_state() {
    // A 10 s lease renewed at a third (etcdctl's pace) reads 7-10 s left:
    // read again a second before the count would fall below a third
    // (7 s - 3.333 s - 1 s), so a renewal is seen before it could look late.
    assert_eq!(recheck_at_ms(&[Ttl::new(7, Some(10))], 0), Some(2_667));
    assert_eq!(recheck_at_ms(&[Ttl::new(10, Some(10))], 0), Some(5_667));
    // A 5 s lease reads 3-5 s left: 4 s - 1.667 s - 1 s, and at 3 s left
    // never sooner than the least wait after an answer.
    assert_eq!(recheck_at_ms(&[Ttl::new(4, Some(5))], 0), Some(1_334));
    assert_eq!(
        recheck_at_ms(&[Ttl::new(3, Some(5))], 0),
        Some(MIN_RECHECK_MS)
    );
    // Already below a third: a second before zero; at zero, a second later.
    assert_eq!(recheck_at_ms(&[Ttl::new(8, Some(30))], 0), Some(7_000));
    assert_eq!(recheck_at_ms(&[Ttl::new(0, Some(30))], 500), Some(1_500));
    // No grant known (a contender's session): a second before zero.
    assert_eq!(recheck_at_ms(&[Ttl::new(60, None)], 1_000), Some(60_000));
    // One read for every countdown shown: the first one due.
    assert_eq!(
        recheck_at_ms(
            &[
                Ttl::new(60, None),
                Ttl::new(7, Some(10)),
                Ttl::new(45, Some(60))
            ],
            0
        ),
        Some(2_667)
    );
    assert_eq!(recheck_at_ms(&[], 0), None);
}

#[wasm_bindgen_test]
fn every_view_with_countdowns_rechecks_them() {
    assert_eq!(
        leases().countdowns(),
        [Ttl::new(10, Some(30)), Ttl::new(45, Some(60))]
    );
    assert_eq!(locks().ttls(), [60, 60, 12]);
    let services = Services {
        prefixes: vec![Bytes::from("services/")],
        services: vec![Service {
            prefix: Bytes::from("services/"),
            name: Bytes::from("api"),
            instances: vec![
                instance("a", Some(7), Some(10), true),
                instance("gone", None, Some(10), true),
                instance("static", None, None, false),
            ],
        }],
        revision: Revision(8),
    };
    assert_eq!(services.countdowns(), [Ttl::new(7, Some(10))]);
    let elections = Elections {
        elections: vec![Election {
            prefix: Bytes::from("leader"),
            leader: Some(contender("leader/1a", 0x1a, Some(50), Some(1_000))),
            candidates: vec![contender("leader/2b", 0x2b, Some(40), None)],
        }],
        revision: Revision(9),
    };
    assert_eq!(elections.ttls(), [50, 40]);
}

// ------------------------------------------------------------ mounted views

fn one(root: &HtmlElement, selector: &str) -> HtmlElement {
    let mut found = query_all(root, selector);
    assert_eq!(found.len(), 1, "exactly one {selector}");
    found.remove(0)
}

fn text(el: &HtmlElement) -> String {
    el.text_content().unwrap_or_default()
}

fn attr(el: &HtmlElement, name: &str) -> String {
    el.get_attribute(name).unwrap_or_default()
}

const T0: u64 = 1_700_000_000_000;

#[wasm_bindgen_test]
async fn leases_count_down_every_second_and_take_each_answer() {
    let root = container();
    let state = RwSignal::new(ReadState::loaded(leases(), T0));
    let now = RwSignal::new(T0);
    let _handle = mount_to(root.clone(), move || {
        view! { <LeasesView state=state now=now /> }
    });
    settle().await;

    let cards = query_all(&root, "[data-testid=lease-card]");
    assert_eq!(cards.len(), 2);
    assert_eq!(attr(&cards[0], "data-lease"), "694d");
    let remaining = || one(&root, "[data-lease='694d'] [data-testid=lease-remaining]");
    assert_eq!(text(&remaining()), "10s");
    assert_eq!(attr(&remaining(), "data-state"), "alive");
    assert!(text(&cards[0]).contains("left of 30s"));
    assert!(text(&cards[0]).contains("5 keys attached"));
    assert!(text(&cards[0]).contains("and 3 more"));
    let links = query_all(&cards[0], "[data-testid=lease-key]");
    assert_eq!(attr(&links[0], "href"), "/?prefix=/svc/&key=/svc/a");
    assert!(text(&cards[1]).contains("no keys attached"));
    assert_eq!(text(&one(&root, "[data-testid=coord-count]")), "2 leases");

    // The browser's clock moves: the countdown follows, the card stays.
    now.set(T0 + 3_000);
    settle().await;
    assert_eq!(text(&remaining()), "7s");
    assert_eq!(attr(&remaining(), "data-state"), "expiring");
    // The count ran out with no answer since: checking, not gone (a
    // keep-alive may have renewed it; only etcd can tell).
    now.set(T0 + 60_000);
    settle().await;
    assert_eq!(text(&remaining()), "checking…");
    assert_eq!(attr(&remaining(), "data-state"), "checking");

    // A new answer (a keep-alive renewed it; the other lease was revoked).
    let mut renewed = leases();
    renewed.leases.truncate(1);
    renewed.leases[0].remaining_ttl = Some(30);
    state.set(ReadState::loaded(renewed, T0 + 60_000));
    settle().await;
    assert_eq!(query_all(&root, "[data-testid=lease-card]").len(), 1);
    assert_eq!(text(&remaining()), "30s");
    assert_eq!(attr(&remaining(), "data-state"), "alive");
}

#[wasm_bindgen_test]
async fn locks_show_the_holder_and_the_waiters_in_order() {
    let root = container();
    let state = RwSignal::new(ReadState::loaded(locks(), T0));
    let now = RwSignal::new(T0);
    let _handle = mount_to(root.clone(), move || {
        view! { <LocksView state=state now=now /> }
    });
    settle().await;

    let card = one(&root, "[data-testid=lock-card]");
    assert_eq!(attr(&card, "data-prefix"), "jobs/nightly");
    assert_eq!(
        text(&one(&card, "[data-testid=lock-state]")),
        "held · 2 waiting"
    );
    let holder = one(&card, "[data-testid=lock-holder]");
    assert_eq!(attr(&holder, "data-key"), "jobs/nightly/1a");
    assert_eq!(attr(&holder, "data-lease"), "1a");
    assert_eq!(text(&one(&holder, "[data-testid=contender-ttl]")), "1m 00s");
    let waiters: Vec<String> = query_all(&card, "[data-testid=lock-waiter]")
        .iter()
        .map(|w| attr(w, "data-key"))
        .collect();
    assert_eq!(waiters, ["jobs/nightly/2b", "jobs/nightly/3c"]);
    let waiter_links = query_all(&card, "[data-testid=lock-waiter] a");
    assert_eq!(
        attr(&waiter_links[0], "href"),
        "/?prefix=jobs/nightly/&key=jobs/nightly/2b"
    );
}

#[wasm_bindgen_test]
async fn a_held_for_time_counts_from_the_backends_since() {
    let root = container();
    let mut data = locks();
    data.locks[0].holders[0].holding_since_ms = Some(T0 - 65_000);
    let state = RwSignal::new(ReadState::loaded(data, T0));
    let now = RwSignal::new(T0);
    let _handle = mount_to(root.clone(), move || {
        view! { <LocksView state=state now=now /> }
    });
    settle().await;
    let held = || {
        text(&one(
            &root,
            "[data-testid=lock-holder] [data-testid=held-for]",
        ))
    };
    assert_eq!(held(), "1m 05s");
    now.set(T0 + 2_000);
    settle().await;
    assert_eq!(held(), "1m 07s");
}

#[wasm_bindgen_test]
async fn rwmutex_readers_are_all_holders() {
    let root = container();
    let reader = |key: &str, lease: i64| Contender {
        role: Some(RwRole::Read),
        ..contender(key, lease, Some(20), None)
    };
    let data = Locks {
        locks: vec![Lock {
            prefix: Bytes::from("rw"),
            kind: LockKind::RwMutex,
            holders: vec![reader("rw/read/1", 1), reader("rw/read/2", 2)],
            waiters: vec![Contender {
                role: Some(RwRole::Write),
                // Not named by its lease: the lease is named beside it.
                ..contender("rw/write/odd", 3, Some(20), None)
            }],
        }],
        revision: Revision(9),
    };
    let state = RwSignal::new(ReadState::loaded(data, T0));
    let _handle = mount_to(root.clone(), move || {
        view! { <LocksView state=state now=Signal::stored(T0) /> }
    });
    settle().await;
    assert_eq!(
        text(&one(&root, "[data-testid=lock-state]")),
        "2 holders · 1 waiting"
    );
    assert_eq!(query_all(&root, "[data-testid=lock-holder]").len(), 2);
    let writer = text(&one(&root, "[data-testid=lock-waiter]"));
    assert!(writer.contains("writer"), "{writer}");
    assert!(
        writer.contains("odd") && writer.contains("lease 3"),
        "{writer}"
    );
    let reader = text(&query_all(&root, "[data-testid=lock-holder]")[0]);
    assert!(!reader.contains("lease"), "named by its lease: {reader}");
    assert!(text(&one(&root, "[data-testid=lock-card]")).contains("rwmutex"));
}

#[wasm_bindgen_test]
async fn elections_show_the_leader_and_who_is_next() {
    let root = container();
    let with_value = |c: Contender, value: &str| Contender {
        value: Bytes::from(value),
        ..c
    };
    let data = Elections {
        elections: vec![
            Election {
                prefix: Bytes::from("leader/db"),
                leader: Some(with_value(
                    contender("leader/db/a1", 0xa1, Some(30), Some(T0 - 5_000)),
                    "node-1",
                )),
                candidates: vec![
                    with_value(contender("leader/db/b2", 0xb2, Some(30), None), "node-2"),
                    with_value(contender("leader/db/c3", 0xc3, Some(30), None), "node-3"),
                ],
            },
            Election {
                prefix: Bytes::from("leader/idle"),
                leader: None,
                candidates: Vec::new(),
            },
        ],
        revision: Revision(77),
    };
    let state = RwSignal::new(ReadState::loaded(data, T0));
    let _handle = mount_to(root.clone(), move || {
        view! { <ElectionsView state=state now=Signal::stored(T0) /> }
    });
    settle().await;
    let leader = one(&root, "[data-testid=election-leader]");
    assert_eq!(attr(&leader, "data-value"), "node-1");
    assert!(text(&leader).contains("5s ago"));
    let next: Vec<String> = query_all(&root, "[data-testid=election-candidate]")
        .iter()
        .map(|c| attr(c, "data-value"))
        .collect();
    assert_eq!(next, ["node-2", "node-3"]);
    assert_eq!(
        query_all(&root, "[data-testid=election-no-leader]").len(),
        1
    );
}

#[wasm_bindgen_test]
async fn queues_show_depth_age_rates_sparkline_and_priorities() {
    let root = container();
    let data = Queues {
        queues: vec![
            Queue {
                prefix: Bytes::from("jobs"),
                kind: QueueKind::PriorityQueue,
                depth: 12_345,
                oldest_age_secs: Some(90.0),
                priorities: vec![
                    PriorityDepth {
                        priority: 0,
                        depth: 345,
                    },
                    PriorityDepth {
                        priority: 5,
                        depth: 12_000,
                    },
                ],
                enqueue_per_sec: Some(2.5),
                dequeue_per_sec: None,
                depth_history: vec![sample(0, 10), sample(5_000, 12_345)],
            },
            Queue {
                prefix: Bytes::from("empty"),
                kind: QueueKind::Queue,
                depth: 0,
                oldest_age_secs: None,
                priorities: Vec::new(),
                enqueue_per_sec: Some(0.0),
                dequeue_per_sec: Some(0.0),
                depth_history: vec![sample(0, 0)],
            },
        ],
        revision: Revision(5),
    };
    let state = RwSignal::new(ReadState::loaded(data, T0));
    let now = RwSignal::new(T0);
    let _handle = mount_to(root.clone(), move || {
        view! { <QueuesView state=state now=now /> }
    });
    settle().await;
    let jobs = one(&root, "[data-testid=queue-card][data-prefix=jobs]");
    let depth = one(&jobs, "[data-testid=queue-depth]");
    assert_eq!(attr(&depth, "data-depth"), "12345");
    assert_eq!(text(&depth), "12\u{202f}345");
    assert_eq!(text(&one(&jobs, "[data-testid=queue-oldest]")), "1m 30s");
    assert_eq!(text(&one(&jobs, "[data-testid=queue-in]")), "2.5/s");
    assert_eq!(text(&one(&jobs, "[data-testid=queue-out]")), "—");
    let spark = one(&jobs, "[data-testid=sparkline]");
    assert_eq!(query_all(&spark, "polyline").len(), 1);
    assert_eq!(
        attr(&spark, "data-points"),
        sparkline_points(&[sample(0, 10), sample(5_000, 12_345)], 160.0, 48.0)
    );
    let priorities: Vec<String> = query_all(&jobs, "[data-testid=queue-priority]")
        .iter()
        .map(|p| attr(p, "data-priority"))
        .collect();
    assert_eq!(priorities, ["0", "5"]);
    // The oldest item ages in the browser between answers.
    now.set(T0 + 10_000);
    settle().await;
    assert_eq!(text(&one(&jobs, "[data-testid=queue-oldest]")), "1m 40s");

    let empty = one(&root, "[data-testid=queue-card][data-prefix=empty]");
    assert_eq!(text(&one(&empty, "[data-testid=queue-depth]")), "0");
    assert_eq!(text(&one(&empty, "[data-testid=queue-oldest]")), "—");
    assert_eq!(query_all(&empty, "[data-testid=sparkline-empty]").len(), 1);
}

fn instance(name: &str, ttl: Option<i64>, granted: Option<i64>, lease: bool) -> Instance {
    Instance {
        key: Bytes::from(format!("services/api/{name}").as_str()),
        name: Bytes::from(name),
        value: Bytes::from("{}"),
        address: Some(format!("10.0.0.{}:8080", name.len())),
        lease: lease.then_some(LeaseId(7)),
        lease_ttl: ttl,
        granted_ttl: granted,
        masked: None,
    }
}

#[wasm_bindgen_test]
async fn service_instances_are_alive_expiring_or_gone() {
    let root = container();
    let data = Services {
        prefixes: vec![Bytes::from("services/")],
        services: vec![Service {
            prefix: Bytes::from("services/"),
            name: Bytes::from("api"),
            instances: vec![
                instance("a", Some(30), Some(30), true),
                instance("bb", Some(5), Some(30), true),
                instance("ccc", None, Some(30), true),
                instance("static", None, None, false),
            ],
        }],
        revision: Revision(8),
    };
    let state = RwSignal::new(ReadState::loaded(data, T0));
    let now = RwSignal::new(T0);
    let _handle = mount_to(root.clone(), move || {
        view! { <ServicesView state=state now=now /> }
    });
    settle().await;
    let states = || -> Vec<(String, String)> {
        query_all(&root, "[data-testid=service-instance]")
            .iter()
            .map(|i| (attr(i, "data-name"), attr(i, "data-state")))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        states(),
        pairs(&[
            ("a", "alive"),
            ("bb", "expiring"),
            ("ccc", "gone"),
            ("static", "alive")
        ])
    );
    assert_eq!(
        text(&one(&root, "[data-testid=service-tally]")),
        "2 alive · 1 expiring · 1 gone"
    );
    assert!(text(&root).contains("10.0.0.1:8080"));
    // Twenty-one seconds later the first one's keep-alives are late; the
    // second one's count ran out, and it is checked, not called gone.
    now.set(T0 + 21_000);
    settle().await;
    assert_eq!(states()[0], ("a".to_owned(), "expiring".to_owned()));
    assert_eq!(states()[1], ("bb".to_owned(), "checking".to_owned()));
    assert!(text(&root).contains("TTL checking… / 30s"));
    assert!(!text(&root).contains("TTL 0s"));
}

#[wasm_bindgen_test]
async fn loading_empty_and_denied_states_say_what_they_mean() {
    let root = container();
    let state = RwSignal::new(ReadState::<Locks>::default());
    let _handle = mount_to(root.clone(), move || {
        view! { <LocksView state=state now=Signal::stored(T0) /> }
    });
    settle().await;
    assert_eq!(query_all(&root, "[data-testid=coord-loading]").len(), 1);

    state.set(ReadState::loaded(
        Locks {
            locks: Vec::new(),
            revision: Revision(3),
        },
        T0,
    ));
    settle().await;
    let empty = text(&one(&root, "[data-testid=coord-empty]"));
    assert!(empty.contains("no locks found"), "{empty}");
    assert!(empty.contains("keys named by a lease id under a common prefix"));
    assert!(text(&root).contains("as of revision 3"));

    let denied = ApiFailure::Api {
        status: 403,
        error: ApiError {
            code: ErrorCode::PermissionDenied,
            message: "etcd user 'viewer' may not read the leases".into(),
            revision: None,
        },
    };
    state.set(ReadState::failed(denied.clone()));
    settle().await;
    let error = text(&one(&root, "[data-testid=coord-error]"));
    assert!(error.contains("permission denied"), "{error}");
    assert!(error.contains("etcd user 'viewer' may not read the leases"));
    assert!(query_all(&root, "[data-testid=coord-empty]").is_empty());

    // A failed refresh keeps the last answer on screen and says so.
    let mut stale = ReadState::loaded(locks(), T0);
    stale.error = Some(ApiFailure::Network(
        "Failed to fetch: is it running?".into(),
    ));
    state.set(stale);
    settle().await;
    assert_eq!(query_all(&root, "[data-testid=lock-card]").len(), 1);
    assert!(text(&one(&root, "[data-testid=coord-stale]")).contains("could not refresh"));
}

#[wasm_bindgen_test]
async fn services_empty_state_names_the_prefixes_read() {
    let root = container();
    let state = RwSignal::new(ReadState::loaded(
        Services {
            prefixes: vec![Bytes::from("services/")],
            services: Vec::new(),
            revision: Revision(1),
        },
        T0,
    ));
    let _handle = mount_to(root.clone(), move || {
        view! { <ServicesView state=state now=Signal::stored(T0) /> }
    });
    settle().await;
    let empty = text(&one(&root, "[data-testid=coord-empty]"));
    assert!(empty.contains("no services found"));
    assert!(empty.contains("read under services/"), "{empty}");
}

#[wasm_bindgen_test]
async fn a_live_note_offers_to_read_again() {
    let root = container();
    let mut loaded = ReadState::loaded(locks(), T0);
    loaded.live_note = Some(WHOLE_DENIED_NOTE.to_owned());
    let state = RwSignal::new(loaded);
    let asked = RwSignal::new(0);
    let _handle = mount_to(root.clone(), move || {
        view! {
            <LocksView
                state=state
                now=Signal::stored(T0)
                on_retry=Callback::new(move |()| asked.update(|n| *n += 1))
            />
        }
    });
    settle().await;
    let note = one(&root, "[data-testid=coord-live-note]");
    assert!(text(&note).contains("may not watch every key"));
    one(&note, "[data-testid=coord-read-again]").click();
    assert_eq!(asked.get_untracked(), 1);
}
