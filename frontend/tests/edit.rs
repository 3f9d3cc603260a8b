//! Component tests of the write side: the value editor (validation with the
//! line of the error, save disabled, modes, the size limit), the conflict
//! screen (both versions shown, the choices) and the delete-prefix dialog
//! (enabled only by the exact prefix). Mounted in a headless browser; run
//! with `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend
//! --target wasm32-unknown-unknown --test edit`.

use etcdeck_frontend::components::conflict::ConflictView;
use etcdeck_frontend::components::editor::{EditTarget, Editor};
use etcdeck_frontend::components::prefix_ops::DeletePrefixDialog;
use etcdeck_shared::edit::{Conflict, MAX_VALUE_BYTES, PrefixPreview};
use etcdeck_shared::{Bytes, KeyValue, Revision};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{HtmlElement, HtmlInputElement, HtmlTextAreaElement};

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{container, settle};

fn find(root: &HtmlElement, testid: &str) -> Option<HtmlElement> {
    root.query_selector(&format!("[data-testid=\"{testid}\"]"))
        .expect("valid selector")
        .map(|e| e.unchecked_into())
}

fn get(root: &HtmlElement, testid: &str) -> HtmlElement {
    find(root, testid).unwrap_or_else(|| panic!("no element with data-testid={testid}"))
}

fn disabled(root: &HtmlElement, testid: &str) -> bool {
    get(root, testid).has_attribute("disabled")
}

/// Types `text` into the textarea or input as if the user did.
fn type_into(el: HtmlElement, text: &str) {
    if let Some(area) = el.dyn_ref::<HtmlTextAreaElement>() {
        area.set_value(text);
    } else {
        el.unchecked_ref::<HtmlInputElement>().set_value(text);
    }
    let event = web_sys::Event::new("input").expect("event");
    el.dispatch_event(&event).expect("dispatch");
}

fn target(value: &[u8]) -> EditTarget {
    EditTarget {
        key: Bytes::from("/app/config"),
        value: Bytes::new(value.to_vec()),
        original: Some(Bytes::new(value.to_vec())),
        expect: Revision(7),
        lease: None,
        new_key: false,
    }
}

/// A logged-in session that may write, as the app shell provides it.
fn writer_session() {
    etcdeck_frontend::session::Session::provide_active(etcdeck_shared::edit::SessionInfo {
        kind: etcdeck_shared::edit::SessionKind::Login,
        user: Some("alice".into()),
        can_write: true,
        read_only_reason: None,
        csrf: "csrf".into(),
        idle_timeout_secs: 1800,
        is_root: false,
    });
}

fn mount_editor(value: &[u8]) -> HtmlElement {
    let root = container();
    let target = target(value);
    let handle = mount_to(root.clone(), move || {
        writer_session();
        view! {
            <Editor target=target on_saved=Callback::new(|_| {}) on_cancel=Callback::new(|()| {}) />
        }
    });
    handle.forget();
    root
}

#[wasm_bindgen_test]
async fn invalid_json_shows_its_line_and_disables_save() {
    let root = mount_editor(br#"{"a": 1}"#);
    settle().await;
    assert_eq!(
        get(&root, "editor-mode-json")
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );
    assert!(find(&root, "editor-error").is_none());
    assert!(!disabled(&root, "save"));

    type_into(get(&root, "editor-text"), "{\n  \"a\": 1,\n  \"b\" 2\n}");
    settle().await;
    let error = get(&root, "editor-error")
        .text_content()
        .unwrap_or_default();
    assert!(error.contains("line 3, column 7"), "{error}");
    let marked = get(&root, "editor-error-line")
        .text_content()
        .unwrap_or_default();
    assert!(marked.contains("\"b\" 2"), "{marked}");
    assert!(disabled(&root, "save"));

    // Fixed: the error goes and save is possible again.
    type_into(get(&root, "editor-text"), "{\"a\": 2}");
    settle().await;
    assert!(find(&root, "editor-error").is_none());
    assert!(!disabled(&root, "save"));
    let size = get(&root, "editor-size").text_content().unwrap_or_default();
    assert!(size.contains("(8 bytes)"), "{size}");
}

#[wasm_bindgen_test]
async fn invalid_yaml_shows_its_line() {
    let root = mount_editor(b"a: 1\n");
    settle().await;
    get(&root, "editor-mode-yaml").click();
    settle().await;
    type_into(get(&root, "editor-text"), "a: 1\n  b: 2\n");
    settle().await;
    let error = get(&root, "editor-error")
        .text_content()
        .unwrap_or_default();
    assert!(error.contains("line 2"), "{error}");
    assert!(disabled(&root, "save"));
}

#[wasm_bindgen_test]
async fn a_binary_value_opens_in_hex_and_refuses_text() {
    let root = mount_editor(&[0xff, 0x00, 0x41]);
    settle().await;
    assert_eq!(
        get(&root, "editor-mode-hex")
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );
    let area: HtmlTextAreaElement = get(&root, "editor-text").unchecked_into();
    assert_eq!(area.value(), "ff 00 41");

    get(&root, "editor-mode-text").click();
    settle().await;
    let refused = get(&root, "editor-mode-refused")
        .text_content()
        .unwrap_or_default();
    assert!(refused.contains("not valid UTF-8"), "{refused}");
    assert_eq!(
        get(&root, "editor-mode-hex")
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );

    // Base64 takes the same bytes, and back to hex loses nothing.
    get(&root, "editor-mode-base64").click();
    settle().await;
    assert_eq!(area.value(), "/wBB");
    get(&root, "editor-mode-hex").click();
    settle().await;
    assert_eq!(area.value(), "ff 00 41");

    type_into(get(&root, "editor-text"), "ff 0");
    settle().await;
    assert!(disabled(&root, "save"));
    assert!(
        get(&root, "editor-error")
            .text_content()
            .unwrap_or_default()
            .contains("line 1, column 4")
    );
}

#[wasm_bindgen_test]
async fn a_value_over_the_limit_is_refused_before_sending() {
    let root = mount_editor(b"small");
    settle().await;
    type_into(get(&root, "editor-text"), &"x".repeat(MAX_VALUE_BYTES + 1));
    settle().await;
    let refused = get(&root, "editor-too-big")
        .text_content()
        .unwrap_or_default();
    assert!(
        refused.contains(&format!("{} bytes", MAX_VALUE_BYTES + 1)),
        "{refused}"
    );
    assert!(disabled(&root, "save"));
}

#[wasm_bindgen_test]
async fn a_new_key_must_be_named() {
    let root = container();
    let handle = mount_to(root.clone(), move || {
        writer_session();
        view! {
            <Editor target=EditTarget::create(Bytes::from("/app/")) on_saved=Callback::new(|_| {}) on_cancel=Callback::new(|()| {}) />
        }
    });
    handle.forget();
    settle().await;
    let key: HtmlInputElement = get(&root, "editor-key").unchecked_into();
    assert_eq!(key.value(), "/app/");
    assert!(!disabled(&root, "save"));
    type_into(get(&root, "editor-key"), "");
    settle().await;
    assert!(disabled(&root, "save"));
}

fn kv(value: &str, mod_revision: i64) -> KeyValue {
    KeyValue {
        key: Bytes::from("/app/config"),
        value: Bytes::from(value),
        create_revision: Revision(2),
        mod_revision: Revision(mod_revision),
        version: 3,
        lease: None,
        revision: Revision(mod_revision),
        masked: None,
    }
}

#[wasm_bindgen_test]
async fn the_conflict_screen_shows_both_versions_and_the_choices() {
    let root = container();
    let chosen = RwSignal::new(Vec::<&'static str>::new());
    let conflict = Conflict {
        message: "/app/config changed since you read it".into(),
        key: Bytes::from("/app/config"),
        current: Some(kv("port: 8081\nhost: b\n", 12)),
        revision: Revision(12),
    };
    let handle = mount_to(root.clone(), move || {
        writer_session();
        view! {
            <ConflictView
                conflict=conflict
                mine=Bytes::from("port: 9090\nhost: a\n")
                original=Some(Bytes::from("port: 8080\nhost: a\n"))
                on_save_mine=Callback::new(move |()| chosen.update(|c| c.push("mine")))
                on_take_theirs=Callback::new(move |()| chosen.update(|c| c.push("theirs")))
                on_keep_editing=Callback::new(move |()| chosen.update(|c| c.push("edit")))
            />
        }
    });
    handle.forget();
    settle().await;
    let mine = get(&root, "conflict-mine")
        .text_content()
        .unwrap_or_default();
    let theirs = get(&root, "conflict-theirs")
        .text_content()
        .unwrap_or_default();
    assert!(mine.contains("port: 9090"), "{mine}");
    assert!(theirs.contains("port: 8081"), "{theirs}");
    let their_change = get(&root, "conflict-their-diff")
        .text_content()
        .unwrap_or_default();
    assert!(
        their_change.contains("- port: 8080") && their_change.contains("+ port: 8081"),
        "{their_change}"
    );
    let your_change = get(&root, "conflict-your-diff")
        .text_content()
        .unwrap_or_default();
    assert!(your_change.contains("+ port: 9090"), "{your_change}");
    assert!(
        get(&root, "conflict")
            .text_content()
            .unwrap_or_default()
            .contains("mod revision 12")
    );

    get(&root, "save-mine").click();
    get(&root, "take-theirs").click();
    get(&root, "keep-editing").click();
    settle().await;
    assert_eq!(chosen.get_untracked(), vec!["mine", "theirs", "edit"]);
}

#[wasm_bindgen_test]
async fn a_key_deleted_meanwhile_offers_to_recreate_it() {
    let root = container();
    let conflict = Conflict {
        message: "/app/config no longer exists".into(),
        key: Bytes::from("/app/config"),
        current: None,
        revision: Revision(20),
    };
    let handle = mount_to(root.clone(), move || {
        writer_session();
        view! {
            <ConflictView
                conflict=conflict
                mine=Bytes::from("mine")
                original=None
                on_save_mine=Callback::new(|()| {})
                on_take_theirs=Callback::new(|()| {})
                on_keep_editing=Callback::new(|()| {})
            />
        }
    });
    handle.forget();
    settle().await;
    let theirs_title = get(&root, "conflict").text_content().unwrap_or_default();
    assert!(theirs_title.contains("deleted meanwhile"), "{theirs_title}");
    assert_eq!(
        get(&root, "save-mine").text_content().as_deref(),
        Some("Re-create it with mine")
    );
}

#[wasm_bindgen_test]
async fn deleting_a_prefix_needs_the_exact_prefix_typed() {
    let root = container();
    let prefix = Bytes::new(vec![b'/', b'o', b'l', b'd', 0xff, b'/']);
    let preview = PrefixPreview {
        prefix: prefix.clone(),
        count: 3,
        keys: vec![
            Bytes::from("/old\u{ff}/a"),
            Bytes::new(vec![b'/', b'o', b'l', b'd', 0xff, b'/', b'b']),
        ],
        revision: Revision(40),
    };
    let handle = mount_to(root.clone(), move || {
        writer_session();
        view! {
            <DeletePrefixDialog prefix=prefix preview=preview on_close=Callback::new(|()| {}) on_done=Callback::new(|_| {}) />
        }
    });
    handle.forget();
    settle().await;
    let count = get(&root, "prefix-count")
        .text_content()
        .unwrap_or_default();
    assert!(count.contains("3 keys will be deleted"), "{count}");
    let keys = get(&root, "prefix-keys").text_content().unwrap_or_default();
    assert!(
        keys.contains("/old\\xff/b") && keys.contains("and 1 more"),
        "{keys}"
    );

    assert!(disabled(&root, "confirm-delete-prefix"));
    for wrong in ["/old", "/old\\xff", "/OLD\\xff/", "/old\\xff/ "] {
        type_into(get(&root, "confirm-input"), wrong);
        settle().await;
        assert!(
            disabled(&root, "confirm-delete-prefix"),
            "{wrong:?} must not confirm"
        );
    }
    type_into(get(&root, "confirm-input"), "/old\\xff/");
    settle().await;
    assert!(!disabled(&root, "confirm-delete-prefix"));
}
