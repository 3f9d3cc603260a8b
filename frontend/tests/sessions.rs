//! The Sessions page's table mounted with canned lists: loading, empty and
//! error states, "this session" marked, the user column for root only, and
//! "End" asking once more before it ends anything. Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown --test sessions`.

use etcdeck_frontend::api::ApiFailure;
use etcdeck_frontend::live_view::ReadState;
use etcdeck_frontend::pages::sessions::SessionsView;
use etcdeck_shared::edit::SessionKind;
use etcdeck_shared::sessions::{SessionList, SessionSummary};
use etcdeck_shared::{ApiError, ErrorCode};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{container, query_all, settle};

fn count(root: &HtmlElement, testid: &str) -> usize {
    query_all(root, &format!("[data-testid='{testid}']")).len()
}

fn one(root: &HtmlElement, testid: &str) -> HtmlElement {
    let found = query_all(root, &format!("[data-testid='{testid}']"));
    assert_eq!(found.len(), 1, "one {testid}");
    found.into_iter().next().expect("found")
}

fn summary(handle: &str, user: &str, this_session: bool) -> SessionSummary {
    SessionSummary {
        handle: handle.into(),
        kind: SessionKind::Login,
        user: Some(user.into()),
        started_ms: 1_000_000,
        last_used_ms: 1_000_000,
        expires_ms: Some(1_000_000 + 12 * 3_600_000),
        address: Some("192.0.2.7".into()),
        browser: "Chrome 120 on Linux".into(),
        this_session,
    }
}

fn list(sessions: Vec<SessionSummary>, all_users: bool) -> SessionList {
    SessionList {
        sessions,
        all_users,
        // Five minutes after every session was last used.
        now_ms: 1_000_000 + 5 * 60_000,
    }
}

/// Mounts the table; returns the root and the ends asked for.
fn mount(state: ReadState<SessionList>) -> (HtmlElement, RwSignal<Vec<(String, bool)>>) {
    let root = container();
    let asked = RwSignal::new(Vec::new());
    let state = RwSignal::new(state);
    let on_end = Callback::new(move |end: (String, bool)| asked.update(|a| a.push(end)));
    // Kept mounted for the whole test (the page is thrown away after it).
    std::mem::forget(mount_to(root.clone(), move || {
        view! {
            <SessionsView
                state=state
                ending=Signal::stored(None::<String>)
                end_error=Signal::stored(None::<String>)
                on_end=on_end
            />
        }
    }));
    (root, asked)
}

#[wasm_bindgen_test]
async fn loading_empty_and_error_states() {
    let (root, _) = mount(ReadState::default());
    settle().await;
    assert_eq!(count(&root, "sessions-loading"), 1);

    let (root, _) = mount(ReadState::loaded(list(Vec::new(), false), 0));
    settle().await;
    assert_eq!(count(&root, "sessions-empty"), 1);

    let failed = ReadState {
        error: Some(ApiFailure::Api {
            status: 503,
            error: ApiError {
                code: ErrorCode::EtcdUnavailable,
                message: "etcdeck is not answering".into(),
                revision: None,
            },
        }),
        ..ReadState::default()
    };
    let (root, _) = mount(failed);
    settle().await;
    let error = one(&root, "sessions-error");
    assert!(
        error
            .text_content()
            .unwrap_or_default()
            .contains("etcdeck is not answering")
    );
}

#[wasm_bindgen_test]
async fn this_session_is_marked_and_end_asks_first() {
    let sessions = vec![
        summary("mine", "alice", true),
        summary("other", "alice", false),
    ];
    let (root, asked) = mount(ReadState::loaded(list(sessions, false), 0));
    settle().await;
    let rows = query_all(&root, "[data-testid='session-row']");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get_attribute("data-this").as_deref(), Some("true"));
    assert_eq!(rows[1].get_attribute("data-this"), None);
    assert_eq!(count(&root, "session-this"), 1);
    // Not root: no user column.
    assert_eq!(count(&root, "session-user"), 0);
    assert_eq!(
        one(&rows[1], "session-last-used").text_content().as_deref(),
        Some("5 min ago")
    );
    assert_eq!(
        one(&rows[1], "session-browser").text_content().as_deref(),
        Some("Chrome 120 on Linux")
    );

    // "End" asks; "Cancel" ends nothing.
    one(&rows[1], "session-end").click();
    settle().await;
    one(&rows[1], "session-end-cancel").click();
    settle().await;
    assert!(asked.get_untracked().is_empty());
    assert_eq!(count(&rows[1], "session-end-confirm"), 0);

    one(&rows[1], "session-end").click();
    settle().await;
    one(&rows[1], "session-end-confirm").click();
    settle().await;
    assert_eq!(asked.get_untracked(), [("other".to_owned(), false)]);
}

#[wasm_bindgen_test]
async fn root_sees_whose_each_session_is() {
    let sessions = vec![summary("r", "root", true), summary("b", "bob", false)];
    let (root, _) = mount(ReadState::loaded(list(sessions, true), 0));
    settle().await;
    let users: Vec<_> = query_all(&root, "[data-testid='session-user']")
        .iter()
        .map(|cell| cell.text_content().unwrap_or_default())
        .collect();
    assert_eq!(users, ["root", "bob"]);
}
