//! Write controls that follow what etcd would allow, mounted with a canned
//! probe ([`Prober`]): refused with the reason in the title and a visible
//! hint, disabled while asking, enabled again when the probe fails, never
//! asked for a session that may not write; and the dialogs closing on
//! Escape wherever the focus is. Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown --test permissions`.

use std::cell::RefCell;
use std::rc::Rc;

use etcdeck_frontend::api::ApiFailure;
use etcdeck_frontend::components::coord::LeasesView;
use etcdeck_frontend::components::prefix_ops::DeletePrefixDialog;
use etcdeck_frontend::lease_actions::LeaseActions;
use etcdeck_frontend::live_view::ReadState;
use etcdeck_frontend::may_write::{self, CHECKING_TITLE, Permission, Prober};
use etcdeck_frontend::session::Session;
use etcdeck_shared::coord::{LeaseDetail, Leases};
use etcdeck_shared::edit::{
    MayWrite, PrefixPreview, SessionInfo, SessionKind, WriteAnswer, WriteTarget,
};
use etcdeck_shared::{Bytes, LeaseId, Revision};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{container, query_all, settle};

fn all(root: &HtmlElement, testid: &str) -> Vec<HtmlElement> {
    query_all(root, &format!("[data-testid='{testid}']"))
}

fn one(root: &HtmlElement, testid: &str) -> HtmlElement {
    let found = all(root, testid);
    assert_eq!(found.len(), 1, "one {testid}");
    found.into_iter().next().expect("found")
}

fn is_disabled(el: &HtmlElement) -> bool {
    el.has_attribute("disabled")
}

fn session(can_write: bool) {
    Session::provide_active(SessionInfo {
        kind: SessionKind::Login,
        user: Some("app-reader".into()),
        can_write,
        read_only_reason: (!can_write).then(|| "etcdeck runs with --read-only".to_owned()),
        csrf: "csrf".into(),
        idle_timeout_secs: 1800,
        is_root: false,
    });
}

const REFUSED: &str = "etcd refused: the etcd user app-reader may not write the key /app/a";

/// Refuses every key under `/app/` and allows the rest; records what was
/// asked.
fn app_is_read_only(asked: Rc<RefCell<Vec<Vec<WriteTarget>>>>) -> Prober {
    Prober::new(move |targets: Vec<WriteTarget>| {
        asked.borrow_mut().push(targets.clone());
        async move {
            Ok(MayWrite {
                answers: targets
                    .iter()
                    .map(|t| {
                        let refused = t.key.as_slice().starts_with(b"/app/");
                        WriteAnswer {
                            allowed: !refused,
                            reason: refused.then(|| REFUSED.to_owned()),
                        }
                    })
                    .collect(),
            })
        }
    })
}

fn leases() -> Leases {
    Leases {
        leases: vec![
            LeaseDetail {
                id: LeaseId(0x10),
                granted_ttl: 60,
                remaining_ttl: Some(50),
                keys: vec![Bytes::from("/app/a"), Bytes::from("/free/b")],
                more_keys: 0,
            },
            LeaseDetail {
                id: LeaseId(0x20),
                granted_ttl: 60,
                remaining_ttl: Some(50),
                keys: vec![Bytes::from("/free/c")],
                more_keys: 0,
            },
        ],
        revision: Revision(7),
    }
}

fn card(root: &HtmlElement, id: &str) -> HtmlElement {
    query_all(
        root,
        &format!("[data-testid='lease-card'][data-lease='{id}']"),
    )
    .into_iter()
    .next()
    .expect("the lease's card")
}

#[wasm_bindgen_test]
async fn revoking_is_disabled_with_the_reason_where_etcd_would_refuse() {
    let root = container();
    let asked = Rc::new(RefCell::new(Vec::new()));
    let prober = app_is_read_only(asked.clone());
    let state = RwSignal::new(ReadState::loaded(leases(), 0));
    let _handle = mount_to(root.clone(), move || {
        session(true);
        prober.provide();
        let actions = LeaseActions::new(
            Signal::stored(true),
            Signal::stored(None),
            Callback::new(|()| {}),
        );
        view! { <LeasesView state=state now=Signal::stored(0) actions=actions /> }
    });
    settle().await;
    let refused = card(&root, "10");
    let revoke = one(&refused, "lease-revoke");
    assert!(is_disabled(&revoke), "a lease with a key under /app/");
    assert_eq!(revoke.title(), REFUSED);
    assert!(
        one(&refused, "lease-revoke-hint")
            .text_content()
            .unwrap_or_default()
            .contains(REFUSED)
    );
    let allowed = card(&root, "20");
    assert!(!is_disabled(&one(&allowed, "lease-revoke")));
    assert!(all(&allowed, "lease-revoke-hint").is_empty());
    // Renewing needs no permission on any key in etcd.
    assert!(!is_disabled(&one(&refused, "lease-keep-alive")));
    // One request for every key the screen shows.
    assert_eq!(asked.borrow().len(), 1);
    assert_eq!(asked.borrow()[0].len(), 3);

    // A re-read with the same keys (a watch event, a countdown) asks
    // nothing again.
    state.set(ReadState::loaded(leases(), 1_000));
    settle().await;
    assert_eq!(asked.borrow().len(), 1, "no probe per answer");
}

#[wasm_bindgen_test]
async fn controls_are_disabled_while_asking_and_enabled_when_the_probe_fails() {
    let root = container();
    let answered = RwSignal::new(false);
    let failing = Prober::new(move |_targets: Vec<WriteTarget>| async move {
        // Answers only once the test says so.
        while !answered.get_untracked() {
            gloo_timers::future::sleep(std::time::Duration::from_millis(10)).await;
        }
        Err::<MayWrite, _>(ApiFailure::Network("the backend is away".into()))
    });
    let shown = RwSignal::new(None::<Permission>);
    let _handle = mount_to(root.clone(), move || {
        session(true);
        failing.provide();
        let permission =
            may_write::may_write(Signal::stored(Some(may_write::key(Bytes::from("/app/a")))));
        Effect::new(move |_| shown.set(Some(permission.get())));
        view! { <p>{move || format!("{:?}", permission.get())}</p> }
    });
    settle().await;
    assert_eq!(shown.get_untracked(), Some(Permission::Checking));
    assert!(!Permission::Checking.enabled());
    assert_eq!(Permission::Checking.title("Edit"), CHECKING_TITLE);
    answered.set(true);
    settle().await;
    assert_eq!(
        shown.get_untracked(),
        Some(Permission::Unknown),
        "a failed probe falls back to etcd deciding at save"
    );
    assert!(Permission::Unknown.enabled());
}

#[wasm_bindgen_test]
async fn a_session_that_may_not_write_is_refused_without_asking() {
    let root = container();
    let asked = Rc::new(RefCell::new(Vec::new()));
    let prober = app_is_read_only(asked.clone());
    let shown = RwSignal::new(None::<Permission>);
    let _handle = mount_to(root.clone(), move || {
        session(false);
        prober.provide();
        let permission = may_write::may_write(Signal::stored(Some(may_write::prefix(
            Bytes::from("/free/"),
        ))));
        Effect::new(move |_| shown.set(Some(permission.get())));
        view! { <p>{move || format!("{:?}", permission.get())}</p> }
    });
    settle().await;
    assert_eq!(
        shown.get_untracked(),
        Some(Permission::Refused("etcdeck runs with --read-only".into()))
    );
    assert!(asked.borrow().is_empty());
}

#[wasm_bindgen_test]
async fn escape_closes_the_delete_prefix_dialog_wherever_the_focus_is() {
    let root = container();
    let closed = RwSignal::new(0);
    let preview = PrefixPreview {
        prefix: Bytes::from("/app/"),
        count: 2,
        keys: vec![Bytes::from("/app/a"), Bytes::from("/app/b")],
        revision: Revision(9),
    };
    let _handle = mount_to(root.clone(), move || {
        session(true);
        view! {
            <DeletePrefixDialog prefix=Bytes::from("/app/") preview=preview
                on_close=Callback::new(move |()| closed.update(|n| *n += 1))
                on_done=Callback::new(|_| {}) />
        }
    });
    settle().await;
    assert_eq!(all(&root, "delete-prefix-dialog").len(), 1);
    // The focus is on the page's body, outside the dialog, as after the
    // button that opened it went away.
    if let Some(active) = document().active_element() {
        active.unchecked_into::<HtmlElement>().blur().ok();
    }
    js_sys::eval(
        "document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))",
    )
    .expect("dispatch Escape");
    settle().await;
    assert_eq!(closed.get_untracked(), 1, "Escape closed the dialog");
}
