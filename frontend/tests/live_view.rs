//! The live-view module mounted in the browser with a hand-driven watch
//! feed and connection: it reads, subscribes from the answer's revision + 1,
//! reads again after changes and gaps, goes stale when the connection or its
//! own watch is down (and shows the stale notice), and recovers when it is
//! back, reading again if a read failed meanwhile. Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown --test live_view`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use etcdeck_frontend::api::ApiFailure;
use etcdeck_frontend::components::stale_notice::{StaleNotice, stale_text};
use etcdeck_frontend::freshness::ViewState;
use etcdeck_frontend::live::Delivery;
use etcdeck_frontend::live_view::{Handler, Health, LiveView, Sources, Watcher};
use etcdeck_shared::coord::{Contender, Lock, LockKind, Locks};
use etcdeck_shared::ws::{EventKind, GapReason, SubId, WatchEvent, WatchKv, WatchRange};
use etcdeck_shared::{Bytes, LeaseId, Revision};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{container, query_all, settle};

/// One subscription the view made: its id, range, start and handler.
type Open = (SubId, WatchRange, Option<Revision>, Handler);

/// A watch feed the test drives: it records what the view subscribes to
/// and hands the view whatever the test delivers.
#[derive(Clone, Default)]
struct Feed {
    open: Rc<RefCell<Vec<Open>>>,
    ended: Rc<RefCell<Vec<SubId>>>,
    next_id: Rc<Cell<u32>>,
}

impl Feed {
    fn watcher(&self) -> Watcher {
        let (open, ended, next_id) = (self.open.clone(), self.ended.clone(), self.next_id.clone());
        let open_again = self.open.clone();
        Watcher::new(
            move |range, _prev_kv, from, handler| {
                next_id.set(next_id.get() + 1);
                let id = SubId(next_id.get());
                open.borrow_mut().push((id, range, from, handler));
                id
            },
            move |id| {
                open_again.borrow_mut().retain(|(open, ..)| *open != id);
                ended.borrow_mut().push(id);
            },
        )
    }

    /// What is subscribed now: range and start revision.
    fn subscriptions(&self) -> Vec<(WatchRange, Option<Revision>)> {
        self.open
            .borrow()
            .iter()
            .map(|(_, range, from, _)| (range.clone(), *from))
            .collect()
    }

    fn ids(&self) -> Vec<SubId> {
        self.open.borrow().iter().map(|(id, ..)| *id).collect()
    }

    /// Delivers to every open subscription, outside any borrow (a handler
    /// may subscribe or unsubscribe).
    fn deliver(&self, delivery: Delivery) {
        let handlers: Vec<Handler> = self
            .open
            .borrow()
            .iter()
            .map(|(.., handler)| handler.clone())
            .collect();
        for handler in handlers {
            handler(delivery.clone());
        }
    }
}

/// The answers the endpoint gives: the same one until the test changes
/// it, and how many times it was asked.
#[derive(Clone)]
struct Endpoint {
    answer: Rc<RefCell<Result<Locks, ApiFailure>>>,
    calls: Rc<Cell<u32>>,
}

impl Endpoint {
    fn new(answer: Locks) -> Self {
        Endpoint {
            answer: Rc::new(RefCell::new(Ok(answer))),
            calls: Rc::new(Cell::new(0)),
        }
    }

    fn answers(&self, answer: Result<Locks, ApiFailure>) {
        *self.answer.borrow_mut() = answer;
    }

    fn calls(&self) -> u32 {
        self.calls.get()
    }
}

fn locks(revision: i64) -> Locks {
    Locks {
        locks: vec![Lock {
            prefix: Bytes::from("jobs/nightly"),
            kind: LockKind::Mutex,
            holders: vec![Contender {
                key: Bytes::from("jobs/nightly/1a"),
                value: Bytes::default(),
                lease: LeaseId(0x1a),
                lease_ttl: None,
                create_revision: Revision(5),
                holding_since_ms: None,
                since_exact: false,
                role: None,
                masked: None,
            }],
            waiters: Vec::new(),
        }],
        revision: Revision(revision),
    }
}

fn put(key: &str, revision: i64) -> WatchEvent {
    WatchEvent {
        kind: EventKind::Put,
        kv: WatchKv {
            key: Bytes::from(key),
            value: Bytes::from("v"),
            create_revision: Revision(revision),
            mod_revision: Revision(revision),
            version: 2,
            lease: None,
            masked: None,
        },
        prev: None,
        lease_ended: false,
    }
}

/// A live view of the locks endpoint mounted with its stale notice and a
/// probe of its state.
struct Scene {
    root: HtmlElement,
    feed: Feed,
    endpoint: Endpoint,
    up: RwSignal<bool>,
    live: Rc<Cell<Option<LiveView<Locks>>>>,
    _handle: Box<dyn std::any::Any>,
}

impl Scene {
    async fn start() -> Scene {
        let root = container();
        let feed = Feed::default();
        let endpoint = Endpoint::new(locks(40));
        let up = RwSignal::new(true);
        let live = Rc::new(Cell::new(None));
        let (watcher, fetch_from, keep) = (feed.watcher(), endpoint.clone(), live.clone());
        let handle = mount_to(root.clone(), move || {
            let fetch = move || {
                let endpoint = fetch_from.clone();
                async move {
                    endpoint.calls.set(endpoint.calls.get() + 1);
                    endpoint.answer.borrow().clone()
                }
            };
            let view = LiveView::start_with(
                fetch,
                Sources {
                    watcher: Some(watcher),
                    health: Health { up: up.into() },
                },
            );
            keep.set(Some(view));
            let state = view.view_state();
            view! {
                <StaleNotice state=state />
                <span data-testid="probe">{move || state.get().as_str()}</span>
                <span data-testid="revision">
                    {move || view.state.with(|s| s.data.as_ref().map(|d| d.revision.0))}
                </span>
            }
        });
        settle().await;
        Scene {
            root,
            feed,
            endpoint,
            up,
            live,
            _handle: Box::new(handle),
        }
    }

    fn probe(&self) -> String {
        self.text("probe")
    }

    fn text(&self, testid: &str) -> String {
        query_all(&self.root, &format!("[data-testid={testid}]"))
            .first()
            .and_then(|el| el.text_content())
            .unwrap_or_default()
    }

    fn notices(&self) -> Vec<HtmlElement> {
        query_all(&self.root, "[data-testid=stale-notice]")
    }

    fn live(&self) -> LiveView<Locks> {
        self.live.get().expect("mounted")
    }
}

/// Longer than the re-read debounce.
async fn after_debounce() {
    gloo_timers::future::sleep(Duration::from_millis(450)).await;
}

#[wasm_bindgen_test]
async fn it_reads_then_watches_from_the_answers_next_revision() {
    let scene = Scene::start().await;
    assert_eq!(scene.endpoint.calls(), 1);
    assert_eq!(scene.probe(), "ready");
    assert_eq!(scene.text("revision"), "40");
    // Locks can appear under any name: the whole keyspace, after the answer.
    assert_eq!(
        scene.feed.subscriptions(),
        vec![(WatchRange::prefix(Bytes::default()), Some(Revision(41)))]
    );
    assert!(scene.notices().is_empty());
}

#[wasm_bindgen_test]
async fn changes_that_touch_the_view_are_read_once_and_others_not_at_all() {
    let scene = Scene::start().await;
    scene
        .feed
        .deliver(Delivery::Events(vec![put("elsewhere/key", 41)]));
    after_debounce().await;
    assert_eq!(
        scene.endpoint.calls(),
        1,
        "an unrelated change reads nothing"
    );

    scene.endpoint.answers(Ok(locks(43)));
    scene
        .feed
        .deliver(Delivery::Events(vec![put("jobs/nightly/2b", 42)]));
    scene
        .feed
        .deliver(Delivery::Events(vec![put("jobs/nightly/3c", 43)]));
    after_debounce().await;
    assert_eq!(scene.endpoint.calls(), 2, "two changes, one read");
    assert_eq!(scene.text("revision"), "43");
    assert_eq!(scene.probe(), "ready");
}

#[wasm_bindgen_test]
async fn a_gap_ends_the_subscription_and_reads_and_watches_again() {
    let scene = Scene::start().await;
    let first = scene.feed.ids();
    scene.endpoint.answers(Ok(locks(60)));
    scene.feed.deliver(Delivery::Gap(GapReason::Lagged));
    settle().await;
    // Ended at once: the snapshot that would follow is not needed.
    assert_eq!(*scene.feed.ended.borrow(), first);
    after_debounce().await;
    assert_eq!(scene.endpoint.calls(), 2);
    assert_eq!(
        scene.feed.subscriptions(),
        vec![(WatchRange::prefix(Bytes::default()), Some(Revision(61)))]
    );
    assert_eq!(scene.text("revision"), "60");
    assert_eq!(scene.probe(), "ready");
}

#[wasm_bindgen_test]
async fn a_lost_connection_shows_the_stale_notice_until_it_is_back() {
    let scene = Scene::start().await;
    let before = js_sys::Date::now() as u64;
    scene.up.set(false);
    settle().await;
    let after = js_sys::Date::now() as u64;
    assert_eq!(scene.probe(), "stale");
    let notices = scene.notices();
    assert_eq!(notices.len(), 1);
    let since: u64 = notices[0]
        .get_attribute("data-since")
        .unwrap_or_default()
        .parse()
        .expect("data-since is ms");
    assert!(
        (before..=after).contains(&since),
        "{before} <= {since} <= {after}"
    );
    let text = notices[0].text_content().unwrap_or_default();
    assert_eq!(text, stale_text(since));
    // "stale since HH:MM:SS, reconnecting"
    let time = text
        .strip_prefix("stale since ")
        .and_then(|t| t.strip_suffix(", reconnecting"))
        .unwrap_or_default();
    assert_eq!(time.len(), 8, "{text}");
    assert_eq!((&time[2..3], &time[5..6]), (":", ":"), "{text}");
    // Still showing what it had.
    assert_eq!(scene.text("revision"), "40");

    // The connection is back and nothing failed meanwhile: live again, no
    // read needed (the live protocol replays what was missed).
    scene.up.set(true);
    settle().await;
    assert!(scene.notices().is_empty());
    assert_eq!(scene.probe(), "ready");
    assert_eq!(scene.endpoint.calls(), 1);
}

#[wasm_bindgen_test]
async fn a_read_that_failed_while_away_is_read_again_when_healthy() {
    let scene = Scene::start().await;
    scene
        .endpoint
        .answers(Err(ApiFailure::Network("Failed to fetch".to_owned())));
    scene.up.set(false);
    scene.live().read();
    settle().await;
    assert_eq!(scene.endpoint.calls(), 2);
    assert_eq!(scene.probe(), "stale");
    assert_eq!(scene.notices().len(), 1);
    assert_eq!(scene.text("revision"), "40", "the last answer stays shown");

    scene.endpoint.answers(Ok(locks(70)));
    scene.up.set(true);
    settle().await;
    assert_eq!(scene.endpoint.calls(), 3, "read again once healthy");
    assert_eq!(scene.probe(), "ready");
    assert_eq!(scene.text("revision"), "70");
    assert!(scene.notices().is_empty());

    // Healthy again and again (every status poll): nothing failed, no read.
    scene.up.set(true);
    settle().await;
    assert_eq!(scene.endpoint.calls(), 3);
}

#[wasm_bindgen_test]
async fn its_own_watch_reconnecting_is_stale_until_live() {
    let scene = Scene::start().await;
    scene.feed.deliver(Delivery::Reconnecting {
        reason: "etcd is unavailable".to_owned(),
    });
    settle().await;
    assert_eq!(scene.probe(), "stale");
    assert_eq!(scene.notices().len(), 1);
    scene.feed.deliver(Delivery::Live);
    settle().await;
    assert_eq!(scene.probe(), "ready");
    assert!(scene.notices().is_empty());
}

#[wasm_bindgen_test]
async fn the_notice_shows_only_for_a_stale_state() {
    let root = container();
    let state = RwSignal::new(ViewState::Loading);
    let _handle = mount_to(root.clone(), move || view! { <StaleNotice state=state /> });
    settle().await;
    let count = || query_all(&root, "[data-testid=stale-notice]").len();
    assert_eq!(count(), 0);
    state.set(ViewState::Stale {
        since_ms: 1_000,
        revision: Some(Revision(3)),
    });
    settle().await;
    assert_eq!(count(), 1);
    state.set(ViewState::Failed {
        message: "refused".to_owned(),
    });
    settle().await;
    assert_eq!(count(), 0);
    state.set(ViewState::Ready {
        revision: Revision(4),
    });
    settle().await;
    assert_eq!(count(), 0);
}
