//! The events page's remembered choice of the compact list, kept in the
//! browser's `localStorage` (reached without typed bindings), and whether the
//! screen is wide enough for it to be the default.

use wasm_bindgen::JsCast;

/// Where the choice of the compact list is remembered.
const COMPACT_STORAGE_KEY: &str = "etcdeck.events.compact";
/// Screens at least this wide (CSS pixels) start with the compact list.
pub(super) const COMPACT_FROM_WIDTH: f64 = 1024.0;

pub(super) fn wide_screen() -> bool {
    web_sys::window()
        .and_then(|w| w.inner_width().ok())
        .and_then(|w| w.as_f64())
        .is_some_and(|w| w >= COMPACT_FROM_WIDTH)
}

/// The page's `localStorage`, reached without typed bindings; `None` where
/// the browser refuses it (private modes, sandboxed frames).
fn local_storage() -> Option<wasm_bindgen::JsValue> {
    let window = web_sys::window()?;
    let storage = js_sys::Reflect::get(&window, &"localStorage".into()).ok()?;
    (!storage.is_null() && !storage.is_undefined()).then_some(storage)
}

fn storage_method(storage: &wasm_bindgen::JsValue, name: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(storage, &name.into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()
}

/// The compact list's remembered choice, if any.
pub(super) fn stored_compact() -> Option<bool> {
    let storage = local_storage()?;
    let value = storage_method(&storage, "getItem")?
        .call1(&storage, &COMPACT_STORAGE_KEY.into())
        .ok()?
        .as_string()?;
    match value.as_str() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

/// Remembers the choice; a browser that refuses only forgets it.
pub(super) fn store_compact(on: bool) {
    if let Some(storage) = local_storage()
        && let Some(set) = storage_method(&storage, "setItem")
    {
        let value = if on { "1" } else { "0" };
        let _ = set.call2(&storage, &COMPACT_STORAGE_KEY.into(), &value.into());
    }
}
