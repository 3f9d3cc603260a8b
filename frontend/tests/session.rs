//! The session side of the app mounted with canned state: the login form
//! (and its countdown after a throttled login), the header's user and
//! read-only badge, the audit table (writes and logins), the lease actions
//! shown only to sessions that may write, and masked values with Reveal
//! only for etcd's root. Run with
//! `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p etcdeck-frontend --target wasm32-unknown-unknown --test session`.

use etcdeck_frontend::api::ApiFailure;
use etcdeck_frontend::components::coord::LeasesView;
use etcdeck_frontend::components::header::SessionBadge;
use etcdeck_frontend::lease_actions::LeaseActions;
use etcdeck_frontend::live_view::ReadState;
use etcdeck_frontend::pages::audit::AuditView;
use etcdeck_frontend::pages::login::LoginForm;
use etcdeck_frontend::session::{self, Phase, Session};
use etcdeck_shared::coord::{LeaseDetail, Leases};
use etcdeck_shared::edit::{AuditEntry, AuditLog, AuditResult, SessionInfo, SessionKind};
use etcdeck_shared::limits::{MAX_LEASE_TTL, lease_ttl_error};
use etcdeck_shared::{ApiError, Bytes, ErrorCode, LeaseId, Revision};
use leptos::mount::mount_to;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

mod support;
use support::{container, query_all, settle};

fn one(root: &HtmlElement, testid: &str) -> HtmlElement {
    let found = query_all(root, &format!("[data-testid='{testid}']"));
    assert_eq!(found.len(), 1, "one {testid}");
    found.into_iter().next().expect("found")
}

fn count(root: &HtmlElement, testid: &str) -> usize {
    query_all(root, &format!("[data-testid='{testid}']")).len()
}

fn info(can_write: bool, reason: Option<&str>) -> SessionInfo {
    SessionInfo {
        kind: SessionKind::Login,
        user: Some("alice".into()),
        can_write,
        read_only_reason: reason.map(str::to_owned),
        csrf: "token-1".into(),
        idle_timeout_secs: 900,
        is_root: false,
    }
}

// ------------------------------------------------------------------ login

#[wasm_bindgen_test]
async fn login_form_sends_the_fields_and_shows_the_backends_sentence() {
    let root = container();
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    let sent = RwSignal::new(None::<(String, String)>);
    let _handle = mount_to(root.clone(), move || {
        view! {
            <LoginForm
                on_submit=Callback::new(move |fields| sent.set(Some(fields)))
                error=error
                sending=sending
            />
        }
    });
    settle().await;
    let user: HtmlInputElement = one(&root, "login-user").unchecked_into();
    let password: HtmlInputElement = one(&root, "login-password").unchecked_into();
    // The first field has the focus, and password managers know the fields.
    assert_eq!(
        document()
            .active_element()
            .map(|e| e.get_attribute("data-testid")),
        Some(Some("login-user".into()))
    );
    assert_eq!(user.autocomplete(), "username");
    assert_eq!(password.autocomplete(), "current-password");
    assert_eq!(password.type_(), "password");
    assert_eq!(count(&root, "login-error"), 0);
    assert!(
        root.text_content()
            .unwrap_or_default()
            .contains("etcdeck server's memory")
    );

    user.set_value(" alice ");
    password.set_value("pw 1");
    one(&root, "login-submit").click();
    settle().await;
    assert_eq!(sent.get_untracked(), Some(("alice".into(), "pw 1".into())));

    // Disabled while sending: a second submit does nothing.
    sending.set(true);
    settle().await;
    assert!(user.disabled());
    sent.set(None);
    one(&root, "login-submit").click();
    settle().await;
    assert_eq!(sent.get_untracked(), None);

    sending.set(false);
    error.set(Some(
        "etcd refused user 'alice': wrong name or password".into(),
    ));
    settle().await;
    let shown = one(&root, "login-error");
    assert_eq!(
        shown.text_content().unwrap_or_default(),
        "etcd refused user 'alice': wrong name or password"
    );
    assert_eq!(shown.get_attribute("role").as_deref(), Some("alert"));
    assert!(!user.disabled());
}

#[wasm_bindgen_test]
async fn login_form_says_when_the_session_ended() {
    let root = container();
    let _handle = mount_to(root.clone(), move || {
        view! {
            <LoginForm
                on_submit=Callback::new(|_| {})
                error=Signal::stored(None::<String>)
                sending=Signal::stored(false)
                ended=Signal::stored(true)
            />
        }
    });
    settle().await;
    assert!(
        one(&root, "login-ended")
            .text_content()
            .unwrap_or_default()
            .contains("session ended")
    );
}

#[wasm_bindgen_test]
async fn a_throttled_login_counts_down_on_the_button_and_keeps_the_fields() {
    let root = container();
    let retry_in = RwSignal::new(0u64);
    let sent = RwSignal::new(None::<(String, String)>);
    let error = RwSignal::new(None::<String>);
    let _handle = mount_to(root.clone(), move || {
        view! {
            <LoginForm
                on_submit=Callback::new(move |fields| sent.set(Some(fields)))
                error=error
                sending=Signal::stored(false)
                retry_in=retry_in
            />
        }
    });
    settle().await;
    let button = one(&root, "login-submit");
    assert_eq!(button.text_content().unwrap_or_default(), "Log in");
    assert_eq!(button.get_attribute("data-retry-in"), None);

    error.set(Some(
        "too many failed logins for this user or from this address; try again in 42 s".into(),
    ));
    retry_in.set(42);
    settle().await;
    assert!(button.has_attribute("disabled"));
    assert_eq!(
        button.text_content().unwrap_or_default(),
        "Try again in 42 s"
    );
    assert_eq!(button.get_attribute("data-retry-in").as_deref(), Some("42"));
    assert!(
        one(&root, "login-error")
            .text_content()
            .unwrap_or_default()
            .starts_with("too many failed logins")
    );
    // The fields stay usable; submitting waits for the countdown.
    let user: HtmlInputElement = one(&root, "login-user").unchecked_into();
    let password: HtmlInputElement = one(&root, "login-password").unchecked_into();
    assert!(!user.disabled() && !password.disabled());
    user.set_value("root");
    password.set_value("pw");
    button.click();
    settle().await;
    assert_eq!(sent.get_untracked(), None);

    retry_in.set(0);
    settle().await;
    assert!(!button.has_attribute("disabled"));
    assert_eq!(button.text_content().unwrap_or_default(), "Log in");
    button.click();
    settle().await;
    assert_eq!(sent.get_untracked(), Some(("root".into(), "pw".into())));
}

// ---------------------------------------------------------------- session

#[wasm_bindgen_test]
async fn read_only_badge_carries_the_backends_reason() {
    let root = container();
    let reason = "etcd has auth disabled: etcdeck is read-only unless started with \
                  --allow-unauthenticated-writes";
    let _handle = mount_to(root.clone(), move || {
        Session::provide_active(SessionInfo {
            kind: SessionKind::Open,
            user: None,
            ..info(false, Some(reason))
        });
        let can_write = session::can_write();
        view! {
            <SessionBadge />
            <span data-testid="probe">{move || can_write.get().to_string()}</span>
        }
    });
    settle().await;
    let badge = one(&root, "read-only");
    assert_eq!(badge.get_attribute("title").as_deref(), Some(reason));
    assert_eq!(
        one(&root, "read-only-reason")
            .text_content()
            .unwrap_or_default(),
        reason
    );
    assert!(
        one(&root, "session-user")
            .text_content()
            .unwrap_or_default()
            .contains("no etcd auth")
    );
    assert_eq!(
        one(&root, "probe").text_content().unwrap_or_default(),
        "false"
    );
    // Nothing to log out of without etcd auth.
    assert_eq!(count(&root, "logout"), 0);
    assert_eq!(session::csrf().as_deref(), Some("token-1"));
}

#[wasm_bindgen_test]
async fn a_writable_session_shows_its_user_and_no_badge() {
    let root = container();
    let phase = RwSignal::new(None::<Session>);
    let _handle = mount_to(root.clone(), move || {
        let session = Session::provide(Phase::Unknown);
        phase.set(Some(session));
        let can_write = session::can_write();
        view! {
            <SessionBadge />
            <span data-testid="probe">{move || can_write.get().to_string()}</span>
        }
    });
    settle().await;
    // Unknown: no writes, no user yet.
    assert_eq!(
        one(&root, "probe").text_content().unwrap_or_default(),
        "false"
    );
    assert_eq!(count(&root, "session-user"), 0);

    let session = phase.get_untracked().expect("mounted");
    session.started(info(true, None));
    settle().await;
    assert_eq!(
        one(&root, "probe").text_content().unwrap_or_default(),
        "true"
    );
    assert!(
        one(&root, "session-user")
            .text_content()
            .unwrap_or_default()
            .contains("alice")
    );
    assert_eq!(count(&root, "read-only"), 0);
    assert_eq!(count(&root, "logout"), 1);

    // A 401 from any request ends it: writes off, the token gone.
    etcdeck_frontend::api::notice_failure(&ApiFailure::Api {
        status: 401,
        error: ApiError {
            code: ErrorCode::LoginRequired,
            message: "log in first".into(),
            revision: None,
        },
    });
    settle().await;
    assert_eq!(
        session.phase.get_untracked(),
        Phase::LoggedOut { ended: true }
    );
    assert_eq!(
        one(&root, "probe").text_content().unwrap_or_default(),
        "false"
    );
    assert_eq!(session::csrf(), None);
    assert_eq!(count(&root, "session-user"), 0);
}

#[wasm_bindgen_test]
async fn can_write_is_false_without_a_session() {
    let root = container();
    let _handle = mount_to(root.clone(), move || {
        let can_write = session::can_write();
        view! { <span data-testid="probe">{move || can_write.get().to_string()}</span> }
    });
    settle().await;
    assert_eq!(
        one(&root, "probe").text_content().unwrap_or_default(),
        "false"
    );
}

// ------------------------------------------------------------------ audit

fn entry(action: &str, key: Bytes, result: AuditResult) -> AuditEntry {
    AuditEntry {
        at_ms: 1_760_000_000_000,
        user: Some("alice".into()),
        action: action.into(),
        key,
        to: None,
        old_revision: Some(Revision(41)),
        new_revision: Some(Revision(42)),
        result,
        detail: None,
        address: None,
    }
}

#[wasm_bindgen_test]
async fn audit_table_lists_entries_as_given() {
    let root = container();
    let log = AuditLog {
        entries: vec![
            AuditEntry {
                to: Some(Bytes::from("/app/new")),
                ..entry("rename", Bytes::from("/app/old"), AuditResult::Ok)
            },
            AuditEntry {
                new_revision: None,
                detail: Some("someone else changed it first".into()),
                ..entry(
                    "put",
                    Bytes::new(vec![b'/', b'b', 0xff]),
                    AuditResult::Conflict,
                )
            },
            AuditEntry {
                user: None,
                new_revision: None,
                ..entry("delete", Bytes::from("/secret"), AuditResult::Denied)
            },
        ],
    };
    let state = RwSignal::new(ReadState::loaded(log, 0));
    let _handle = mount_to(root.clone(), move || view! { <AuditView state=state /> });
    settle().await;
    let rows = query_all(&root, "[data-testid='audit-row']");
    assert_eq!(rows.len(), 3);
    let results: Vec<_> = rows
        .iter()
        .map(|r| r.get_attribute("data-result").unwrap_or_default())
        .collect();
    assert_eq!(results, ["ok", "conflict", "denied"]);
    let first = rows[0].text_content().unwrap_or_default();
    assert!(first.contains("rename"), "{first}");
    assert!(first.contains("41 → 42"), "{first}");
    assert_eq!(
        one(&rows[0], "audit-to").text_content().unwrap_or_default(),
        "/app/new"
    );
    // Binary keys as Bytes::display shows them, with a copy button.
    assert_eq!(
        one(&rows[1], "audit-key")
            .text_content()
            .unwrap_or_default(),
        "/b\\xff"
    );
    assert_eq!(count(&rows[1], "audit-copy"), 1);
    assert!(
        rows[1]
            .text_content()
            .unwrap_or_default()
            .contains("41 → —")
    );
    assert_eq!(
        one(&rows[1], "audit-detail")
            .text_content()
            .unwrap_or_default(),
        "someone else changed it first"
    );
    assert!(
        rows[2]
            .text_content()
            .unwrap_or_default()
            .contains("(no auth)")
    );

    state.set(ReadState::loaded(AuditLog { entries: vec![] }, 0));
    settle().await;
    assert_eq!(count(&root, "audit-row"), 0);
    assert_eq!(count(&root, "audit-empty"), 1);

    state.set(ReadState::failed(ApiFailure::Network(
        "Failed to fetch".into(),
    )));
    settle().await;
    assert!(
        one(&root, "audit-error")
            .text_content()
            .unwrap_or_default()
            .contains("cannot reach the etcdeck backend")
    );
}

#[wasm_bindgen_test]
async fn audit_table_shows_logins_with_their_address_and_no_key() {
    let root = container();
    let login = |user: Option<&str>, action: &str, result, detail: Option<&str>| AuditEntry {
        user: user.map(str::to_owned),
        old_revision: None,
        new_revision: None,
        detail: detail.map(str::to_owned),
        address: Some("192.0.2.7".into()),
        ..entry(action, Bytes::default(), result)
    };
    let log = AuditLog {
        entries: vec![
            login(
                Some("root"),
                "login",
                AuditResult::Throttled,
                Some("too many failed logins for this user or from this address; try again in 4 s"),
            ),
            login(
                Some("root"),
                "login",
                AuditResult::Denied,
                Some("etcd rejected this user name or password"),
            ),
            login(None, "login_token", AuditResult::Ok, None),
        ],
    };
    let state = RwSignal::new(ReadState::loaded(log, 0));
    let _handle = mount_to(root.clone(), move || view! { <AuditView state=state /> });
    settle().await;
    let rows = query_all(&root, "[data-testid='audit-row']");
    let results: Vec<_> = rows
        .iter()
        .map(|r| r.get_attribute("data-result").unwrap_or_default())
        .collect();
    assert_eq!(results, ["throttled", "denied", "ok"]);
    // A login has no key: a dash, no copy button.
    assert_eq!(count(&root, "audit-no-key"), 3);
    assert_eq!(count(&root, "audit-key"), 0);
    assert_eq!(count(&root, "audit-copy"), 0);
    for row in &rows {
        assert_eq!(
            one(row, "audit-address").text_content().unwrap_or_default(),
            "192.0.2.7"
        );
        assert!(row.text_content().unwrap_or_default().contains("— → —"));
    }
    assert_eq!(
        one(&rows[0], "audit-result")
            .text_content()
            .unwrap_or_default(),
        "throttled"
    );
    let first = rows[0].text_content().unwrap_or_default();
    assert!(first.contains("root") && first.contains("login"), "{first}");
    assert!(
        rows[2]
            .text_content()
            .unwrap_or_default()
            .contains("(wall screen)")
    );
}

// ----------------------------------------------------------------- leases

fn leases() -> Leases {
    Leases {
        leases: vec![LeaseDetail {
            id: LeaseId(0x694d_a1fd_28ed_4b18),
            granted_ttl: 60,
            remaining_ttl: Some(50),
            keys: vec![Bytes::from("svc/a"), Bytes::from("svc/b")],
            more_keys: 1,
        }],
        revision: Revision(40),
    }
}

#[wasm_bindgen_test]
async fn lease_actions_are_hidden_with_the_reason_when_read_only() {
    let root = container();
    let _handle = mount_to(root.clone(), move || {
        let actions = LeaseActions::new(
            Signal::stored(false),
            Signal::stored(Some("a wall screen's access token only reads".into())),
            Callback::new(|()| {}),
        );
        view! {
            <LeasesView
                state=ReadState::loaded(leases(), 0)
                now=Signal::stored(0)
                actions=actions
            />
        }
    });
    settle().await;
    assert_eq!(count(&root, "lease-card"), 1);
    for testid in [
        "lease-grant",
        "lease-ttl",
        "lease-keep-alive",
        "lease-revoke",
    ] {
        assert_eq!(count(&root, testid), 0, "{testid} hidden");
    }
    assert!(
        one(&root, "lease-actions-off")
            .text_content()
            .unwrap_or_default()
            .contains("a wall screen's access token only reads")
    );
}

#[wasm_bindgen_test]
async fn lease_actions_validate_and_confirm_before_revoking() {
    let root = container();
    let _handle = mount_to(root.clone(), move || {
        let actions = LeaseActions::new(
            Signal::stored(true),
            Signal::stored(None),
            Callback::new(|()| {}),
        );
        view! {
            <LeasesView
                state=ReadState::loaded(leases(), 0)
                now=Signal::stored(0)
                actions=actions
            />
        }
    });
    settle().await;
    assert_eq!(count(&root, "lease-actions-off"), 0);
    assert_eq!(count(&root, "lease-keep-alive"), 1);

    // A TTL that is not whole seconds is refused before any request.
    let ttl: HtmlInputElement = one(&root, "lease-ttl").unchecked_into();
    ttl.set_value("1.5");
    ttl.dispatch_event(&web_sys::Event::new("input").expect("event"))
        .expect("dispatch");
    one(&root, "lease-grant").click();
    settle().await;
    assert!(
        one(&root, "lease-ttl-error")
            .text_content()
            .unwrap_or_default()
            .contains("whole number")
    );
    assert_eq!(count(&root, "lease-done"), 0);
    assert_eq!(count(&root, "lease-action-error"), 0);

    // Revoking asks first, naming the lease and its keys.
    assert_eq!(count(&root, "confirm-revoke"), 0);
    one(&root, "lease-revoke").click();
    settle().await;
    let question = one(&root, "revoke-confirmation")
        .text_content()
        .unwrap_or_default();
    assert!(question.contains("694da1fd28ed4b18"), "{question}");
    assert!(question.contains("3 attached keys"), "{question}");
    one(&root, "cancel-revoke").click();
    settle().await;
    assert_eq!(count(&root, "confirm-revoke"), 0);
}

#[wasm_bindgen_test]
async fn a_ttl_over_the_backends_limit_is_refused_with_the_backends_sentence() {
    let root = container();
    let asked = RwSignal::new(0);
    let _handle = mount_to(root.clone(), move || {
        let actions = LeaseActions::new(
            Signal::stored(true),
            Signal::stored(None),
            Callback::new(move |()| asked.update(|n| *n += 1)),
        );
        view! {
            <LeasesView
                state=ReadState::loaded(leases(), 0)
                now=Signal::stored(0)
                actions=actions
            />
        }
    });
    settle().await;
    let over = MAX_LEASE_TTL + 1;
    let ttl: HtmlInputElement = one(&root, "lease-ttl").unchecked_into();
    ttl.set_value(&over.to_string());
    ttl.dispatch_event(&web_sys::Event::new("input").expect("event"))
        .expect("dispatch");
    one(&root, "lease-grant").click();
    settle().await;
    // Exactly what the backend answers with a 400 for this TTL, and no
    // request was made (an action would have run its `after` callback).
    assert_eq!(
        one(&root, "lease-ttl-error")
            .text_content()
            .unwrap_or_default(),
        lease_ttl_error(over).expect("over the limit")
    );
    assert_eq!(asked.get_untracked(), 0);
    assert_eq!(count(&root, "lease-done"), 0);
    assert_eq!(count(&root, "lease-action-error"), 0);

    // The limit itself is accepted: the error goes away as the grant starts.
    ttl.set_value(&MAX_LEASE_TTL.to_string());
    ttl.dispatch_event(&web_sys::Event::new("input").expect("event"))
        .expect("dispatch");
    one(&root, "lease-grant").click();
    settle().await;
    assert_eq!(count(&root, "lease-ttl-error"), 0);
}

// ------------------------------------------------------------------ masked values

/// A masked value says why and how large; only etcd's root gets Reveal, and
/// a revealed value shows in the normal viewer.
#[wasm_bindgen_test]
async fn masked_values_are_hidden_and_only_root_may_reveal() {
    use etcdeck_frontend::components::masked_value::MaskedValue;
    use etcdeck_shared::mask::Masked;

    let masked = Masked {
        pattern: "*password*".into(),
        size: 7,
    };
    for is_root in [false, true] {
        let root = container();
        let revealed = RwSignal::new(None::<Bytes>);
        let shown = masked.clone();
        let _handle = mount_to(root.clone(), move || {
            Session::provide_active(SessionInfo {
                is_root,
                ..info(false, None)
            });
            view! {
                <MaskedValue key=Bytes::from("/app/db/password") masked=shown.clone()
                    revision=Revision(3) revealed=revealed />
            }
        });
        settle().await;
        let notice = one(&root, "value-masked").inner_text();
        assert!(
            notice.starts_with("Hidden: this key looks secret (matches *password*) · 7 bytes"),
            "{notice}"
        );
        assert_eq!(notice.contains("Reveal"), is_root, "{notice}");
        assert_eq!(count(&root, "reveal-value"), usize::from(is_root));
        assert_eq!(count(&root, "value"), 0, "no value before a reveal");
        if is_root {
            revealed.set(Some(Bytes::from("hunter2")));
            settle().await;
            assert_eq!(count(&root, "value-masked"), 0);
            assert_eq!(count(&root, "value-revealed"), 1);
            assert!(one(&root, "value").inner_text().contains("hunter2"));
        }
    }
}
