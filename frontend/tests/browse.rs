//! The tree list bringing the selected key into view, mounted in a real
//! browser: the row is rendered, selected, scrolled to and under the
//! keyboard cursor, also when it lies on a page not loaded yet. Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown --test browse`.

use etcdeck_frontend::components::tree_list::{ROW_PX, TreeAction, TreeList};
use etcdeck_frontend::listing::Listing;
use etcdeck_shared::{Bytes, Child};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{container, query_all, settle};

/// A mount point with a real height, so the windowed list has a viewport.
fn sized() -> HtmlElement {
    let root = container();
    root.set_attribute(
        "style",
        "height: 360px; display: flex; flex-direction: column;",
    )
    .expect("style");
    root
}

fn keys(range: std::ops::Range<usize>) -> Vec<Child> {
    range
        .map(|i| Child {
            name: Bytes::from(format!("k{i:04}").as_str()),
            is_key: true,
            has_children: false,
            count: None,
            bytes: None,
        })
        .collect()
}

fn loaded(children: Vec<Child>, next: Option<&str>) -> Listing {
    let mut listing = Listing::default();
    listing.generation = 1;
    listing.prefix = Bytes::from("/big/");
    listing.children = children;
    listing.next = next.map(Bytes::from);
    listing.started = true;
    listing
}

fn list(root: &HtmlElement) -> HtmlElement {
    query_all(root, "[data-testid=tree-list]").remove(0)
}

/// The row named `name`, if it is in the DOM.
fn row(root: &HtmlElement, name: &str) -> Option<HtmlElement> {
    query_all(root, "[data-testid=tree-row]")
        .into_iter()
        .find(|r| r.get_attribute("data-name").as_deref() == Some(name))
}

/// Whether `row` lies wholly inside the list's visible box.
fn in_view(root: &HtmlElement, row: &HtmlElement) -> bool {
    let (outer, inner) = (
        list(root).get_bounding_client_rect(),
        row.get_bounding_client_rect(),
    );
    inner.top() >= outer.top() && inner.bottom() <= outer.bottom()
}

#[wasm_bindgen_test]
async fn a_selected_key_far_down_is_scrolled_to_with_the_cursor_on_it() {
    let root = sized();
    let state = RwSignal::new(loaded(keys(0..2000), None));
    let _handle = mount_to(root.clone(), move || {
        view! {
            <TreeList
                listing=state
                separator=Signal::stored(Bytes::from("/"))
                selected=Signal::stored(Some(Bytes::from("/big/k1499")))
                on_action=Callback::new(|_| {})
            />
        }
    });
    settle().await;

    let target = row(&root, "k1499").expect("the selected row is rendered");
    assert_eq!(
        target.get_attribute("aria-selected").as_deref(),
        Some("true")
    );
    assert!(in_view(&root, &target), "the selected row is in view");
    assert!(f64::from(list(&root).scroll_top()) > 1000.0 * ROW_PX);
    assert_eq!(
        list(&root).get_attribute("aria-activedescendant"),
        target.get_attribute("id"),
        "the keyboard cursor starts at the selected row"
    );
    let active = document().active_element().expect("something has focus");
    assert_eq!(
        active.get_attribute("data-testid").as_deref(),
        Some("tree-list"),
        "the list has keyboard focus"
    );
}

#[wasm_bindgen_test]
async fn a_selected_key_on_a_later_page_is_paged_to() {
    let root = sized();
    let state = RwSignal::new(loaded(keys(0..1000), Some("/big/k0999")));
    let actions = RwSignal::new(Vec::<TreeAction>::new());
    // As the page does: a wanted page is marked in flight, then answered.
    let on_action = Callback::new(move |action: TreeAction| {
        if action == TreeAction::NearEnd {
            state.update(|l| l.loading = true);
        }
        actions.update(|v| v.push(action));
    });
    let _handle = mount_to(root.clone(), move || {
        view! {
            <TreeList
                listing=state
                separator=Signal::stored(Bytes::from("/"))
                selected=Signal::stored(Some(Bytes::from("/big/k1499")))
                on_action=on_action
            />
        }
    });
    settle().await;
    assert_eq!(
        actions.get_untracked(),
        vec![TreeAction::NearEnd],
        "the next page is asked for, once"
    );
    assert!(row(&root, "k1499").is_none());

    state.update(|l| {
        l.children.extend(keys(1000..2000));
        l.next = None;
        l.loading = false;
    });
    settle().await;
    let target = row(&root, "k1499").expect("rendered once its page came");
    assert_eq!(
        target.get_attribute("aria-selected").as_deref(),
        Some("true")
    );
    assert!(in_view(&root, &target));
    assert_eq!(
        actions.get_untracked(),
        vec![TreeAction::NearEnd],
        "nothing more is asked for"
    );
}

#[wasm_bindgen_test]
async fn the_cursor_row_carries_the_focus_ring() {
    let root = sized();
    let state = RwSignal::new(loaded(keys(0..20), None));
    let _handle = mount_to(root.clone(), move || {
        view! {
            <TreeList
                listing=state
                separator=Signal::stored(Bytes::from("/"))
                selected=Signal::stored(Some(Bytes::from("/big/k0003")))
                on_action=Callback::new(|_| {})
            />
        }
    });
    settle().await;
    let ringed = |name: &str| {
        row(&root, name)
            .map(|r| r.class_name())
            .unwrap_or_default()
            .contains("group-focus-visible:ring-2")
    };
    assert!(ringed("k0003"), "the cursor row has the ring");
    assert!(!ringed("k0004"));
    assert!(
        list(&root).class_list().contains("group"),
        "the ring follows the list's own focus"
    );
}
