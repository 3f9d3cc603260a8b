//! What the component tests share: a fresh element to mount into, a pause
//! for effects and the renderer, and finding elements.

#![allow(dead_code)]

use std::time::Duration;

use leptos::prelude::document;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

/// A new `div` at the end of the page's body.
pub fn container() -> HtmlElement {
    let document = document();
    let div: HtmlElement = document
        .create_element("div")
        .expect("create div")
        .unchecked_into();
    document
        .body()
        .expect("body")
        .append_child(&div)
        .expect("append");
    div
}

/// Lets effects and the renderer run (they are scheduled as microtasks or
/// the next frame).
pub async fn settle() {
    gloo_timers::future::sleep(Duration::from_millis(50)).await;
}

/// Every element under `root` matching `selector`.
pub fn query_all(root: &HtmlElement, selector: &str) -> Vec<HtmlElement> {
    let list = root.query_selector_all(selector).expect("valid selector");
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.unchecked_into())
        .collect()
}
