//! Writing text to the system clipboard with `navigator.clipboard`.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Copies `text`; the error is a sentence to show. The clipboard is missing
/// on pages not served over HTTPS or localhost, and the browser may refuse
/// (permissions, document not focused): both are reported, never panicked.
pub async fn write_text(text: &str) -> Result<(), String> {
    let window = web_sys::window().ok_or("no browser window")?;
    let navigator = window.navigator();
    // `navigator.clipboard` is undefined in insecure contexts; calling a
    // method on it would throw, so check first.
    let clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .ok()
        .filter(|c| !c.is_undefined() && !c.is_null())
        .ok_or("clipboard unavailable (the page must be served over HTTPS or from localhost)")?;
    let clipboard: web_sys::Clipboard = clipboard.unchecked_into();
    JsFuture::from(clipboard.write_text(text))
        .await
        .map(|_| ())
        .map_err(|err| {
            let detail = err
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| "refused".to_owned());
            format!("copy failed: {detail}")
        })
}
