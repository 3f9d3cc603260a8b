//! Component tests: mount real components into the page of a headless
//! browser and check the DOM they render (the testids the end-to-end tests
//! rely on included). Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown`.

use etcdeck_frontend::components::header::LiveIndicator;
use etcdeck_frontend::components::tree_list::{TreeAction, TreeList};
use etcdeck_frontend::components::value_viewer::ValueViewer;
use etcdeck_frontend::listing::Listing;
use etcdeck_frontend::live::LiveState;
use etcdeck_shared::{Bytes, Child};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{query_all, settle};

/// A fresh element in the document to mount into, sized like a small
/// screen so the windowed list has a real viewport.
fn container() -> HtmlElement {
    let document = document();
    let div: HtmlElement = document
        .create_element("div")
        .expect("create div")
        .unchecked_into();
    div.set_attribute(
        "style",
        "height: 400px; display: flex; flex-direction: column;",
    )
    .expect("style");
    document
        .body()
        .expect("body")
        .append_child(&div)
        .expect("append");
    div
}

/// Lets effects and the renderer run (they are scheduled as microtasks or
/// the next frame).
fn child(name: &[u8], is_key: bool, has_children: bool, count: Option<u64>) -> Child {
    Child {
        name: Bytes::from(name),
        is_key,
        has_children,
        count,
        bytes: None,
    }
}

fn listing(prefix: &str, children: Vec<Child>, next: Option<&str>) -> Listing {
    let mut listing = Listing::default();
    listing.generation = 1;
    listing.prefix = Bytes::from(prefix);
    listing.children = children;
    listing.next = next.map(Bytes::from);
    listing.started = true;
    listing
}

#[wasm_bindgen_test]
async fn tree_list_renders_rows_and_reports_clicks() {
    let root = container();
    let state = RwSignal::new(listing(
        "/app/",
        vec![
            child(b"", false, true, Some(3)),
            child(b"both", true, true, Some(12)),
            child(b"key", true, false, None),
            child(&[b'b', 0xff], true, false, None),
        ],
        None,
    ));
    let actions = RwSignal::new(Vec::<TreeAction>::new());
    let on_action = Callback::new(move |a| actions.update(|v| v.push(a)));
    let _handle = mount_to(root.clone(), move || {
        view! {
            <TreeList
                listing=state
                separator=Signal::stored(Bytes::from("/"))
                selected=Signal::stored(Some(Bytes::from("/app/key")))
                on_action=on_action
            />
        }
    });
    settle().await;

    let rows = query_all(&root, "[data-testid=tree-row]");
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.get_attribute("data-name").unwrap_or_default())
        .collect();
    assert_eq!(names, ["/", "both", "key", "b\\xff"]);
    // An empty name is shown as a muted "/".
    assert!(rows[0].text_content().unwrap_or_default().contains('/'));
    assert!(rows[1].text_content().unwrap_or_default().contains("12"));
    assert_eq!(
        rows[2].get_attribute("aria-selected").as_deref(),
        Some("true")
    );
    assert_eq!(query_all(&root, "[data-testid=enter-dir]").len(), 1);
    let footer = query_all(&root, "[data-testid=tree-footer]");
    assert_eq!(footer[0].text_content().as_deref(), Some("all 4"));

    rows[0].click();
    rows[1].click();
    rows[2].click();
    query_all(&root, "[data-testid=enter-dir]")[0].click();
    assert_eq!(
        actions.get_untracked(),
        vec![
            TreeAction::EnterDir(Bytes::from("/app//")),
            TreeAction::SelectKey(Bytes::from("/app/both")),
            TreeAction::SelectKey(Bytes::from("/app/key")),
            TreeAction::EnterDir(Bytes::from("/app/both/")),
        ]
    );
}

#[wasm_bindgen_test]
async fn tree_list_windows_a_huge_level_and_asks_for_more() {
    let root = container();
    let children: Vec<Child> = (0..100_000)
        .map(|i| child(format!("k{i:06}").as_bytes(), true, false, None))
        .collect();
    let state = RwSignal::new(listing("", children, Some("k099999")));
    let actions = RwSignal::new(Vec::<TreeAction>::new());
    let on_action = Callback::new(move |a| actions.update(|v| v.push(a)));
    let _handle = mount_to(root.clone(), move || {
        view! {
            <TreeList
                listing=state
                separator=Signal::stored(Bytes::from("/"))
                selected=Signal::stored(None)
                on_action=on_action
            />
        }
    });
    settle().await;

    let rows = query_all(&root, "[data-testid=tree-row]");
    assert!(
        !rows.is_empty() && rows.len() < 60,
        "{} rows in the DOM",
        rows.len()
    );
    assert_eq!(
        query_all(&root, "[data-testid=tree-footer]")[0]
            .text_content()
            .as_deref(),
        Some("loaded 100000")
    );
    assert!(
        actions.get_untracked().is_empty(),
        "far from the end: no fetch"
    );

    // Jump to the end: the rows there are rendered and the next page wanted.
    let list = query_all(&root, "[data-testid=tree-list]").remove(0);
    list.set_scroll_top(list.scroll_height());
    list.dispatch_event(&web_sys::Event::new("scroll").expect("event"))
        .expect("dispatch");
    settle().await;
    let rows = query_all(&root, "[data-testid=tree-row]");
    assert!(rows.len() < 60);
    assert!(
        rows.iter()
            .any(|r| r.get_attribute("data-name").as_deref() == Some("k099999"))
    );
    assert!(actions.get_untracked().contains(&TreeAction::NearEnd));
}

#[wasm_bindgen_test]
async fn tree_list_shows_empty_and_error_states() {
    let root = container();
    let state = RwSignal::new(listing("/none/", Vec::new(), None));
    let _handle = mount_to(root.clone(), move || {
        view! {
            <TreeList
                listing=state
                separator=Signal::stored(Bytes::from("/"))
                selected=Signal::stored(None)
                on_action=Callback::new(|_| {})
            />
        }
    });
    settle().await;
    let empty = query_all(&root, "[data-testid=tree-empty]");
    assert_eq!(
        empty[0].text_content().as_deref(),
        Some("no keys under this prefix")
    );

    state.update(|l| {
        l.started = false;
        l.error = Some(etcdeck_frontend::api::ApiFailure::Network(
            "Failed to fetch".into(),
        ));
    });
    settle().await;
    let error = query_all(&root, "[data-testid=tree-error]");
    assert!(
        error[0]
            .text_content()
            .unwrap_or_default()
            .contains("cannot reach the etcdeck backend")
    );
}

#[wasm_bindgen_test]
async fn value_viewer_pretty_prints_json_and_switches_modes() {
    let root = container();
    let _handle = mount_to(root.clone(), || {
        view! { <ValueViewer value=Bytes::from(r#"{"a":[1,true]}"#) /> }
    });
    settle().await;

    let value = query_all(&root, "[data-testid=value]").remove(0);
    assert_eq!(value.get_attribute("data-mode").as_deref(), Some("JSON"));
    assert_eq!(
        value.text_content().as_deref(),
        Some("{\n  \"a\": [\n    1,\n    true\n  ]\n}")
    );
    // Highlighted: the key has its own span.
    let spans = query_all(&value, "span");
    assert!(
        spans
            .iter()
            .any(|s| s.text_content().as_deref() == Some("\"a\""))
    );
    let size = query_all(&root, "[data-testid=value-size]").remove(0);
    assert_eq!(size.text_content().as_deref(), Some("14 bytes"));

    let hex = query_all(&root, "[data-testid=view-mode][data-mode=Hex]").remove(0);
    hex.click();
    settle().await;
    let value = query_all(&root, "[data-testid=value]").remove(0);
    assert_eq!(value.get_attribute("data-mode").as_deref(), Some("Hex"));
    assert!(
        value
            .text_content()
            .unwrap_or_default()
            .starts_with("00000000  7b 22 61 22")
    );
    assert_eq!(hex.get_attribute("aria-pressed").as_deref(), Some("true"));
}

#[wasm_bindgen_test]
async fn value_viewer_truncates_huge_values_until_asked() {
    let root = container();
    let big = Bytes::new(vec![b'x'; 300 * 1024]);
    let _handle = mount_to(root.clone(), move || view! { <ValueViewer value=big /> });
    settle().await;
    let shown = || {
        query_all(&root, "[data-testid=value]")[0]
            .text_content()
            .unwrap_or_default()
            .len()
    };
    assert_eq!(shown(), 256 * 1024);
    query_all(&root, "[data-testid=show-all]")[0].click();
    settle().await;
    assert_eq!(shown(), 300 * 1024);
    assert!(query_all(&root, "[data-testid=show-all]").is_empty());
}

#[wasm_bindgen_test]
async fn value_viewer_shows_binary_as_hex_and_empty_values() {
    let root = container();
    let _handle = mount_to(root.clone(), || {
        view! {
            <ValueViewer value=Bytes::new(vec![0x00, 0xff]) />
            <ValueViewer value=Bytes::default() />
        }
    });
    settle().await;
    let values = query_all(&root, "[data-testid=value]");
    assert_eq!(values[0].get_attribute("data-mode").as_deref(), Some("Hex"));
    assert_eq!(
        values[1].get_attribute("data-mode").as_deref(),
        Some("Text")
    );
    assert_eq!(query_all(&root, "[data-testid=empty-value]").len(), 1);
}

#[wasm_bindgen_test]
async fn live_indicator_names_its_state_and_can_be_dismissed_after_a_gap() {
    let root = container();
    let state = RwSignal::new(LiveState::Connecting);
    let dismissed = RwSignal::new(0);
    let _handle = mount_to(root.clone(), move || {
        view! {
            <LiveIndicator
                state=state
                on_dismiss=Callback::new(move |()| dismissed.update(|n| *n += 1))
            />
        }
    });
    settle().await;
    let indicator = || query_all(&root, "[data-testid=live-state]").remove(0);
    let seen = || {
        let el = indicator();
        (
            el.get_attribute("data-state").unwrap_or_default(),
            el.text_content().unwrap_or_default(),
        )
    };
    assert_eq!(seen(), ("connecting".into(), "live: connecting…".into()));
    assert!(query_all(&root, "[data-testid=live-dismiss]").is_empty());

    state.set(LiveState::Connected);
    settle().await;
    assert_eq!(seen(), ("connected".into(), "live".into()));
    state.set(LiveState::Reconnecting);
    settle().await;
    assert_eq!(seen().0, "reconnecting");

    state.set(LiveState::Resynced);
    settle().await;
    assert_eq!(seen().0, "resynced");
    assert!(seen().1.contains("resynced after a gap"));
    query_all(&root, "[data-testid=live-dismiss]")[0].click();
    assert_eq!(dismissed.get_untracked(), 1);
}

#[wasm_bindgen_test]
async fn breadcrumbs_keep_the_revision_the_page_is_viewed_at() {
    use etcdeck_frontend::components::breadcrumbs::Breadcrumbs;
    use etcdeck_shared::Revision;

    let root = container();
    let at = RwSignal::new(Some(Revision(42)));
    let selected: Option<Bytes> = None;
    let handle = mount_to(root.clone(), move || {
        view! {
            <Breadcrumbs
                prefix=Bytes::from("/app/db/")
                separator=Bytes::from("/")
                selected=selected.clone()
                at=at
            />
        }
    });
    settle().await;
    let hrefs = |root: &HtmlElement| -> Vec<String> {
        query_all(root, "[data-testid='crumb']")
            .iter()
            .map(|a| a.get_attribute("href").unwrap_or_default())
            .collect()
    };
    let past = hrefs(&root);
    assert_eq!(past.len(), 4, "{past:?}");
    assert!(past.iter().all(|h| h.ends_with("rev=42")), "{past:?}");
    at.set(None);
    settle().await;
    let live = hrefs(&root);
    assert!(live.iter().all(|h| !h.contains("rev=")), "{live:?}");
    drop(handle);
}
