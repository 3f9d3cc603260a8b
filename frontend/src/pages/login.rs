//! `/login?next=<path>`: the etcd user's name and password, or a wall
//! screen's access token in the fragment (`/login?next=/locks#token=XYZ`),
//! which logs in by itself and is wiped from the address bar first.
//!
//! `next` is where the user was when the session was found missing, so
//! deep links survive the login; it is only ever a path on this site. A
//! wall screen's token with no `next` lands on the wall screen (`/wall`).
//!
//! A throttled login (429) shows the backend's sentence and counts its
//! `Retry-After` down on the button; the fields stay usable meanwhile. A
//! page loaded over plain HTTP from another machine says so above the form
//! (`login-unencrypted`): the password would cross the network in clear.
//!
//! DOM contract: `login-user`, `login-password`, `login-submit`
//! (`data-retry-in` while counting down), `login-error`, `login-ended`,
//! `login-unencrypted`.

use std::time::Duration;

use etcdeck_shared::edit::LoginRequest;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use crate::api;
use crate::session::{Phase, Session};

pub use crate::route::LOGIN_PATH;

/// What the login page's address asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginTarget {
    /// Where to go once logged in: a path on this site, `/` by default
    /// (`/wall` for a wall screen's token).
    pub next: String,
    /// The wall screen's access token from the fragment.
    pub token: Option<String>,
}

/// Reads `?next=..` from `search` and `#token=..` from `hash` (each with or
/// without its leading `?` / `#`). A token without a `next` (or with `/`)
/// goes to the wall screen, which is what wall tokens are for.
pub fn parse_login_location(search: &str, hash: &str) -> LoginTarget {
    let token = param(hash.strip_prefix('#').unwrap_or(hash), "token").filter(|t| !t.is_empty());
    let next = param(search.strip_prefix('?').unwrap_or(search), "next")
        .map(|raw| safe_next(&raw))
        .filter(|next| token.is_none() || next != "/")
        .unwrap_or_else(|| {
            if token.is_some() {
                crate::route::WALL_PATH.to_owned()
            } else {
                "/".to_owned()
            }
        });
    LoginTarget { next, token }
}

/// `next` if it is a path on this site (not another site's address, not
/// the login page itself), `/` otherwise.
pub fn safe_next(next: &str) -> String {
    let path_only = next.split(['?', '#']).next().unwrap_or("");
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && path_only != LOGIN_PATH;
    if ok { next.to_owned() } else { "/".to_owned() }
}

/// The login page's address that comes back to `here` (path, query and
/// all) after logging in.
pub fn login_href(here: &str) -> String {
    let next = safe_next(here);
    if next == "/" {
        LOGIN_PATH.to_owned()
    } else {
        format!("{LOGIN_PATH}?next={}", encode_component(&next))
    }
}

/// The value of `name` in `a=1&b=2`, percent-decoded; `None` when absent
/// or not decodable.
fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| decode_component(v)).flatten()
    })
}

/// Percent-encodes every byte but unreserved characters and `/`, so a
/// path with its own query (itself percent-encoded) survives intact.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Undoes [`encode_component`] (and `+` for a space, as forms send it);
/// `None` for a malformed escape or bytes that are not UTF-8.
pub fn decode_component(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a page loaded with `protocol` (as `window.location` says it,
/// `http:`) from `hostname` sends what is typed into it across a network
/// unencrypted: plain HTTP from a host that is not this machine.
pub fn unencrypted_over_network(protocol: &str, hostname: &str) -> bool {
    protocol.eq_ignore_ascii_case("http:") && !is_loopback_host(hostname)
}

/// `localhost`, a name under `.localhost`, or a loopback address (IPv6 in
/// brackets, as `location.hostname` gives it).
fn is_loopback_host(hostname: &str) -> bool {
    let host = hostname.trim_start_matches('[').trim_end_matches(']');
    let lower = host.to_ascii_lowercase();
    lower == "localhost"
        || lower.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The page: logs in with the fragment's token at once when there is one,
/// goes straight on to `next` when a session already stands, and shows the
/// form otherwise.
#[component]
pub fn LoginPage() -> impl IntoView {
    let session = Session::get();
    let navigate = use_navigate();
    let location = window().location();
    let target = parse_login_location(
        &location.search().unwrap_or_default(),
        &location.hash().unwrap_or_default(),
    );
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    let retry = RetryCountdown::new();
    let next = StoredValue::new(target.next.clone());

    let go_next = {
        let navigate = navigate.clone();
        move || {
            navigate(
                &next.get_value(),
                NavigateOptions {
                    replace: true,
                    ..NavigateOptions::default()
                },
            );
        }
    };
    let send = {
        let go_next = go_next.clone();
        move |request: LoginRequest| {
            if sending.get_untracked() {
                return;
            }
            sending.set(true);
            error.set(None);
            let go_next = go_next.clone();
            spawn_local(async move {
                let answer = api::session::login(&request).await;
                sending.try_set(false);
                match answer {
                    Ok(info) => {
                        if let Some(session) = session {
                            session.started(info);
                        }
                        go_next();
                    }
                    Err(failure) => retry.refused(&failure, error),
                }
            });
        }
    };

    if let Some(token) = target.token {
        // The token must not stay in the address bar, the history or a
        // bookmark: drop the fragment before anything else happens.
        let clean = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        if let Ok(history) = window().history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
        }
        send(LoginRequest::Token { token });
    } else if session.is_some_and(|s| s.phase.with_untracked(Phase::is_active)) {
        // Already logged in: on to `next`, once the page has rendered (the
        // router does not take a navigation in the middle of one).
        request_animation_frame(go_next);
    }

    let ended =
        move || session.is_some_and(|s| s.phase.with(|p| *p == Phase::LoggedOut { ended: true }));
    let on_submit = Callback::new(move |(user, password): (String, String)| {
        send(LoginRequest::Password { user, password });
    });
    view! {
        <LoginForm
            on_submit=on_submit
            error=error
            sending=sending
            ended=Signal::derive(ended)
            retry_in=retry.left
        />
    }
}

/// A login dialog over the page when the session ended while it was open:
/// the page keeps its place, and after the login its live subscriptions
/// resume where they stopped.
#[component]
pub fn SessionEndedDialog(session: Session) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let shown = move || {
        session
            .phase
            .with(|p| *p == Phase::LoggedOut { ended: true })
            && crate::api::unbased(&location.pathname.get()) != LOGIN_PATH
    };
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    let retry = RetryCountdown::new();
    let on_submit = Callback::new(move |(user, password): (String, String)| {
        if sending.get_untracked() {
            return;
        }
        sending.set(true);
        error.set(None);
        spawn_local(async move {
            let request = LoginRequest::Password { user, password };
            let answer = api::session::login(&request).await;
            sending.try_set(false);
            match answer {
                Ok(info) => session.started(info),
                Err(failure) => retry.refused(&failure, error),
            }
        });
    });
    view! {
        <Show when=shown>
            <div
                data-testid="session-ended-dialog"
                role="dialog"
                aria-modal="true"
                aria-label="Log in again"
                class="fixed inset-0 z-50 flex items-center justify-center overflow-y-auto bg-slate-950/60 p-4"
            >
                <LoginForm
                    on_submit=on_submit
                    error=error
                    sending=sending
                    ended=true
                    retry_in=retry.left
                />
            </div>
        </Show>
    }
}

/// The form alone (what the page shows, and what tests mount).
#[component]
pub fn LoginForm(
    /// Called with the user name and password.
    on_submit: Callback<(String, String)>,
    /// The backend's sentence after a refused login.
    #[prop(into)]
    error: Signal<Option<String>>,
    /// A login is on its way: the form is disabled.
    #[prop(into)]
    sending: Signal<bool>,
    /// The previous session ended (idle expiry, refused).
    #[prop(into, optional)]
    ended: Signal<bool>,
    /// Seconds until a throttled login may be tried again (0: now); the
    /// button waits and says so, the fields stay usable.
    #[prop(into, optional)]
    retry_in: Signal<u64>,
) -> impl IntoView {
    let user = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = user.get() {
            let _ = input.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() || retry_in.get_untracked() > 0 {
            return;
        }
        let (Some(user), Some(password)) = (user.get_untracked(), password.get_untracked()) else {
            return;
        };
        on_submit.run((user.value().trim().to_owned(), password.value()));
    };
    let location = window().location();
    let unencrypted = unencrypted_over_network(
        &location.protocol().unwrap_or_default(),
        &location.hostname().unwrap_or_default(),
    );
    const FIELD: &str = "w-full rounded-lg border-2 border-slate-300 bg-white px-3 py-2 text-lg focus:border-sky-600 focus:outline-none disabled:opacity-60 dark:border-slate-600 dark:bg-slate-900";
    view! {
        <section class="flex flex-1 items-start justify-center p-4 sm:items-center lg:p-8">
            <form
                data-testid="login-form"
                class="flex w-full max-w-md flex-col gap-4 rounded-xl border-2 border-slate-300 bg-slate-50 p-6 2xl:max-w-lg dark:border-slate-700 dark:bg-slate-900"
                on:submit=submit
            >
                <h1 class="text-2xl font-bold tracking-tight">"Log in to etcdeck"</h1>
                {unencrypted
                    .then(|| {
                        view! {
                            <p
                                data-testid="login-unencrypted"
                                role="alert"
                                class="rounded-lg border-2 border-red-500 bg-red-50 px-3 py-2 text-red-900 dark:border-red-700 dark:bg-red-950 dark:text-red-100"
                            >
                                <strong class="font-semibold">
                                    "This connection is not encrypted."
                                </strong>
                                " The password you type crosses the network in clear, readable by \
                                 anyone on the way; ask whoever runs etcdeck to serve it over HTTPS."
                            </p>
                        }
                    })}
                <Show when=move || ended.get()>
                    <p
                        data-testid="login-ended"
                        role="status"
                        class="rounded-lg border-2 border-amber-500 bg-amber-50 px-3 py-2 font-medium text-amber-900 dark:bg-amber-950 dark:text-amber-200"
                    >
                        "Your session ended. Log in again to carry on where you were."
                    </p>
                </Show>
                <p class="text-sm text-slate-600 dark:text-slate-300">
                    "Use an etcd user's name and password: etcdeck acts on etcd as that user, so etcd's \
                     permissions decide what you see and change. The credentials are kept only in the \
                     etcdeck server's memory for this session, never in the browser."
                </p>
                <label class="flex flex-col gap-1">
                    <span class="font-medium">"etcd user"</span>
                    <input
                        node_ref=user
                        data-testid="login-user"
                        name="username"
                        type="text"
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck="false"
                        required
                        class=FIELD
                        prop:disabled=move || sending.get()
                    />
                </label>
                <label class="flex flex-col gap-1">
                    <span class="font-medium">"Password"</span>
                    <input
                        node_ref=password
                        data-testid="login-password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        class=FIELD
                        prop:disabled=move || sending.get()
                    />
                </label>
                {move || {
                    error
                        .get()
                        .map(|text| {
                            view! {
                                <p
                                    data-testid="login-error"
                                    role="alert"
                                    class="rounded-lg border-2 border-red-400 bg-red-50 px-3 py-2 text-red-900 dark:border-red-700 dark:bg-red-950 dark:text-red-100"
                                >
                                    {text}
                                </p>
                            }
                        })
                }}
                <button
                    type="submit"
                    data-testid="login-submit"
                    class="rounded-lg bg-sky-700 px-4 py-2 text-lg font-semibold text-white hover:bg-sky-800 disabled:opacity-60 dark:bg-sky-600 dark:hover:bg-sky-500"
                    prop:disabled=move || sending.get() || retry_in.get() != 0
                    data-retry-in=move || {
                        let left = retry_in.get();
                        (left > 0).then(|| left.to_string())
                    }
                >
                    {move || submit_label(sending.get(), retry_in.get())}
                </button>
            </form>
        </section>
    }
}

/// What the login button says: sending, waiting out a throttled login
/// (`retry_in` seconds), or ready.
pub fn submit_label(sending: bool, retry_in: u64) -> String {
    if sending {
        "Logging in…".to_owned()
    } else if retry_in > 0 {
        format!("Try again in {retry_in} s")
    } else {
        "Log in".to_owned()
    }
}

/// Seconds until a throttled login may be tried again (a 429's
/// `Retry-After`), counted down once a second; 0 when it may.
#[derive(Clone, Copy)]
struct RetryCountdown {
    left: RwSignal<u64>,
    timer: StoredValue<Option<IntervalHandle>>,
}

impl RetryCountdown {
    fn new() -> Self {
        let countdown = RetryCountdown {
            left: RwSignal::new(0),
            timer: StoredValue::new(None),
        };
        on_cleanup(move || countdown.stop());
        countdown
    }

    /// Shows a refused login's sentence and, for a throttled one, starts
    /// counting its wait down.
    fn refused(self, failure: &api::session::LoginFailure, error: RwSignal<Option<String>>) {
        error.try_set(Some(failure.to_string()));
        if let Some(secs) = failure.retry_after_secs {
            self.start(secs);
        }
    }

    fn start(self, secs: u64) {
        self.stop();
        self.left.try_set(secs);
        let tick = move || {
            let left = self.left.try_get_untracked().unwrap_or(0).saturating_sub(1);
            self.left.try_set(left);
            if left == 0 {
                self.stop();
            }
        };
        let timer = set_interval_with_handle(tick, Duration::from_secs(1)).ok();
        self.timer.try_set_value(timer);
    }

    fn stop(self) {
        if let Some(timer) = self.timer.try_update_value(Option::take).flatten() {
            timer.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    #[unit_test]
    fn the_button_counts_a_throttled_login_down() {
        assert_eq!(submit_label(false, 0), "Log in");
        assert_eq!(submit_label(true, 0), "Logging in…");
        assert_eq!(submit_label(false, 7), "Try again in 7 s");
    }

    #[unit_test]
    fn next_and_token_come_from_the_address() {
        assert_eq!(
            parse_login_location("?next=/locks", "#token=XYZ"),
            LoginTarget {
                next: "/locks".into(),
                token: Some("XYZ".into())
            }
        );
        assert_eq!(
            parse_login_location("", ""),
            LoginTarget {
                next: "/".into(),
                token: None
            }
        );
        // An empty token is no token.
        assert_eq!(parse_login_location("", "#token=").token, None);
        // A wall token lands on the wall screen unless told otherwise.
        assert_eq!(
            parse_login_location("", "#token=XYZ"),
            LoginTarget {
                next: "/wall".into(),
                token: Some("XYZ".into())
            }
        );
        assert_eq!(parse_login_location("?next=/", "#token=XYZ").next, "/wall");
        assert_eq!(
            parse_login_location("next=%2Fleases", "token=a%2Bb&x=1").token,
            Some("a+b".into())
        );
    }

    #[unit_test]
    fn deep_links_survive_the_round_trip() {
        // A browse link to a binary key: its own query is percent-encoded.
        let here = "/?prefix=/a%20%FF/&key=/a%20%FF/k";
        let href = login_href(here);
        assert_eq!(
            href,
            "/login?next=/%3Fprefix%3D/a%2520%25FF/%26key%3D/a%2520%25FF/k"
        );
        let search = href.split_once('?').unwrap().1;
        assert_eq!(parse_login_location(search, "").next, here);
        assert_eq!(login_href("/"), "/login");
        assert_eq!(
            login_href("/events?prefix=x"),
            "/login?next=/events%3Fprefix%3Dx"
        );
    }

    #[unit_test]
    fn plain_http_from_another_machine_is_unencrypted() {
        assert!(unencrypted_over_network("http:", "10.0.0.5"));
        assert!(unencrypted_over_network("http:", "deck.example.com"));
        assert!(unencrypted_over_network("http:", "[fd00::1]"));
        assert!(!unencrypted_over_network("https:", "deck.example.com"));
        assert!(!unencrypted_over_network("http:", "localhost"));
        assert!(!unencrypted_over_network("http:", "app.localhost"));
        assert!(!unencrypted_over_network("http:", "127.0.0.1"));
        assert!(!unencrypted_over_network("http:", "127.1.2.3"));
        assert!(!unencrypted_over_network("http:", "[::1]"));
    }

    #[unit_test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("locks"), "/");
        assert_eq!(safe_next("/login?next=/x"), "/");
        assert_eq!(safe_next("/locks\n"), "/");
        assert_eq!(safe_next("/leases"), "/leases");
        assert_eq!(
            parse_login_location("?next=https%3A%2F%2Fevil.example", "").next,
            "/"
        );
        // A malformed escape is ignored, not a panic.
        assert_eq!(parse_login_location("?next=%zz", "").next, "/");
        assert_eq!(decode_component("%e"), None);
        assert_eq!(decode_component("%FF"), None);
    }
}
