//! The top bar: app name, the page links (Browse, Events, Leases, Locks,
//! Elections, Queues, Services, Audit, Cluster, Sessions, Users, Wall), the
//! connection indicator (`data-testid="connection"`: etcd as the backend sees it) with
//! the live indicator beside it (`data-testid="live-state"`: this tab's
//! WebSocket, and not live while the status poll fails or says
//! disconnected), and the session: the etcd user (`session-user`), a
//! read-only badge with the backend's reason (`read-only`,
//! `read-only-reason`) and the logout button (`logout`). The search box
//! (`header-search`) is focused by `/` or Ctrl-K (not while typing in another
//! field; on the events page `/` stays its filter's), Enter opens the results
//! page for the typed text (under the prefix being browsed), Escape leaves it.

use etcdeck_shared::edit::SessionKind;
use etcdeck_shared::{Bytes, Connection};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos::wasm_bindgen::JsCast;
use leptos_router::hooks::{use_location, use_navigate};

use crate::api::live::LiveClient;
use crate::connection::{ConnectionState, POLL_EVERY};
use crate::live::LiveState;
use crate::route::{
    AUDIT_PATH, BrowseLocation, CLUSTER_PATH, CoordKind, EVENTS_PATH, EventsLocation, LOGIN_PATH,
    SEARCH_PATH, SESSIONS_PATH, USERS_PATH, WALL_PATH, bytes_from_display, search_href,
    search_request,
};
use crate::session::{Phase, Session, read_only_text};

#[component]
pub fn Header() -> impl IntoView {
    let state = use_context::<ConnectionState>().unwrap_or_default();
    view! {
        <header class="flex flex-wrap items-center gap-x-4 gap-y-1 border-b border-slate-200 bg-slate-50 px-4 py-2 dark:border-slate-800 dark:bg-slate-900">
            <a href=crate::api::within("/") class="text-lg font-semibold tracking-tight">
                "etcdeck"
            </a>
            <PageLinks />
            <SearchBox />
            <ConnectionIndicator state=state />
            {use_context::<LiveClient>()
                .map(|client| {
                    let socket = client.state();
                    let live = Signal::derive(move || {
                        socket.get().with_backend(backend_answers(&state))
                    });
                    view! {
                        <LiveIndicator
                            state=live
                            on_dismiss=Callback::new(move |()| client.dismiss_resynced())
                        />
                    }
                })}
            <SessionBadge />
        </header>
    }
}

/// Whether the last status poll reached etcdeck and found etcd connected
/// (or none has answered yet): the live indicator turns with it, within a
/// poll of etcdeck or the network going away.
fn backend_answers(state: &ConnectionState) -> bool {
    state.failure.with(Option::is_none)
        && state.status.with(|s| {
            !s.as_ref()
                .is_some_and(|s| matches!(s.connection, Connection::Disconnected { .. }))
        })
}

/// "connected · etcd X" in green, or a red "disconnected — retrying in Ns"
/// with the reason, whether etcd or the backend itself is unreachable.
#[component]
pub fn ConnectionIndicator(state: ConnectionState) -> impl IntoView {
    let summary = move || {
        let since = state.seconds_since_poll();
        if let Some(failure) = state.failure.get() {
            // The backend itself did not answer: it is retried at the next poll.
            let retry = POLL_EVERY.as_secs().saturating_sub(since).max(1);
            return (
                Health::Down,
                format!("disconnected — retrying in {retry}s"),
                failure.to_string(),
            );
        }
        match state
            .status
            .with(|s| s.as_ref().map(|s| s.connection.clone()))
        {
            None => (Health::Down, "connecting…".to_owned(), String::new()),
            Some(connection) => describe(&connection, since),
        }
    };
    let tone = move || match summary().0 {
        Health::Ok => {
            "flex min-w-0 items-center gap-2 text-sm text-emerald-800 dark:text-emerald-300"
        }
        Health::Degraded => {
            "flex min-w-0 items-center gap-2 text-sm text-amber-800 dark:text-amber-300"
        }
        Health::Down => "flex min-w-0 items-center gap-2 text-sm text-red-700 dark:text-red-300",
    };
    let dot = move || match summary().0 {
        Health::Ok => "inline-block h-2.5 w-2.5 shrink-0 rounded-full bg-emerald-500",
        Health::Degraded => "inline-block h-2.5 w-2.5 shrink-0 rounded-full bg-amber-500",
        Health::Down => "inline-block h-2.5 w-2.5 shrink-0 rounded-full bg-red-500",
    };
    view! {
        <div data-testid="connection" role="status" aria-live="polite" class=tone>
            <span aria-hidden="true" class=dot></span>
            <span class="font-medium whitespace-nowrap">{move || summary().1}</span>
            {move || {
                let reason = summary().2;
                (!reason.is_empty())
                    .then(|| {
                        view! {
                            <span
                                data-testid="connection-reason"
                                class="truncate text-slate-600 dark:text-slate-300"
                                title=reason.clone()
                            >
                                {reason.clone()}
                            </span>
                        }
                    })
            }}
        </div>
    }
}

/// How the etcd connection looks in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// etcd answers, every member with it.
    Ok,
    /// etcd answers, but some members do not: requests go to the others.
    Degraded,
    /// etcd (or etcdeck) does not answer.
    Down,
}

/// The header's words for `connection`, `since` seconds after it was read:
/// its health, the short text and the longer reason (empty when none).
pub fn describe(connection: &Connection, since: u64) -> (Health, String, String) {
    match connection {
        Connection::Connected {
            etcd_version,
            unreachable,
        } if unreachable.is_empty() => (
            Health::Ok,
            format!("connected · etcd {etcd_version}"),
            String::new(),
        ),
        Connection::Connected {
            etcd_version,
            unreachable,
        } => {
            let names: Vec<String> = unreachable
                .iter()
                .map(|m| match &m.name {
                    Some(name) => format!("{name} ({})", m.endpoint),
                    None => m.endpoint.clone(),
                })
                .collect();
            let members = if unreachable.len() == 1 {
                "1 member".to_owned()
            } else {
                format!("{} members", unreachable.len())
            };
            (
                Health::Degraded,
                format!("degraded · etcd {etcd_version} · {members} down"),
                format!(
                    "not answering: {}; requests go to the other members",
                    names.join(", ")
                ),
            )
        }
        Connection::Disconnected {
            reason,
            retry_in_secs,
        } => (
            Health::Down,
            format!(
                "disconnected — retrying in {}s",
                retry_in_secs.saturating_sub(since)
            ),
            reason.clone(),
        ),
    }
}

/// Browse and Events, each carrying the prefix of the page the user is on,
/// so "Events" shows the changes of the level being browsed and back; then
/// one link per coordination page.
#[component]
fn PageLinks() -> impl IntoView {
    let location = use_location();
    let on_events =
        Memo::new(move |_| crate::api::unbased(&location.pathname.get()) == EVENTS_PATH);
    let on_coord =
        Memo::new(move |_| CoordKind::at(&crate::api::unbased(&location.pathname.get())));
    // The pages of etcdeck itself, after the coordination pages.
    let own_pages = [
        (AUDIT_PATH, "nav-audit", "Audit"),
        (CLUSTER_PATH, "nav-cluster", "Cluster"),
        (SESSIONS_PATH, "nav-sessions", "Sessions"),
        (USERS_PATH, "nav-users", "Users"),
        (WALL_PATH, "nav-wall", "Wall"),
    ];
    let on_own_page = Memo::new(move |_| {
        let here = crate::api::unbased(&location.pathname.get());
        own_pages.iter().any(|(path, ..)| here == *path)
    });
    let on_search = Memo::new(move |_| location.pathname.get() == SEARCH_PATH);
    let on_browse = move || {
        !on_events.get() && !on_own_page.get() && !on_search.get() && on_coord.get().is_none()
    };
    let prefix =
        Memo::new(move |_| -> Bytes { BrowseLocation::from_query(&location.search.get()).prefix });
    let browse_href = move || BrowseLocation::default().with_prefix(prefix.get()).href();
    let events_href = move || {
        EventsLocation {
            prefix: prefix.get(),
        }
        .href()
    };
    let link = |active: bool| {
        if active {
            "rounded px-2 py-0.5 font-medium bg-slate-200 text-slate-900 dark:bg-slate-700 dark:text-slate-100"
        } else {
            "rounded px-2 py-0.5 text-slate-700 hover:bg-slate-200 dark:text-slate-300 dark:hover:bg-slate-800"
        }
    };
    view! {
        <nav aria-label="Pages" class="flex flex-wrap items-center gap-1 text-sm 2xl:text-base">
            <a
                href=browse_href
                data-testid="nav-browse"
                class=move || link(on_browse())
                aria-current=move || on_browse().then_some("page")
            >
                "Browse"
            </a>
            <a
                href=events_href
                data-testid="nav-events"
                class=move || link(on_events.get())
                aria-current=move || on_events.get().then_some("page")
            >
                "Events"
            </a>
            <span aria-hidden="true" class="mx-1 h-4 w-px bg-slate-300 dark:bg-slate-700"></span>
            {CoordKind::ALL
                .into_iter()
                .map(|kind| {
                    let here = move || on_coord.get() == Some(kind);
                    view! {
                        <a
                            href=kind.path()
                            data-testid=format!("nav-{}", kind.label().to_lowercase())
                            class=move || link(here())
                            aria-current=move || here().then_some("page")
                        >
                            {kind.label()}
                        </a>
                    }
                })
                .collect_view()}
            <span aria-hidden="true" class="mx-1 h-4 w-px bg-slate-300 dark:bg-slate-700"></span>
            {own_pages
                .into_iter()
                .map(|(path, testid, label)| {
                    let here = move || crate::api::unbased(&location.pathname.get()) == path;
                    view! {
                        <a
                            href=path
                            data-testid=testid
                            class=move || link(here())
                            aria-current=move || here().then_some("page")
                        >
                            {label}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// The search box: a shortcut focuses it, Enter searches.
#[component]
fn SearchBox() -> impl IntoView {
    let location = use_location();
    let navigate = use_navigate();
    let input = NodeRef::<leptos::html::Input>::new();
    let text = RwSignal::new(String::new());
    // On the results page the box shows the search; elsewhere it is empty.
    Effect::new(move |_| {
        if location.pathname.get() == SEARCH_PATH {
            text.set(search_request(&location.search.get()).q.display());
        }
    });
    // The prefix searched: the level being browsed (a person limited to a
    // prefix finds their keys without typing it), or that of the search shown.
    let prefix = Memo::new(move |_| -> Bytes {
        let path = location.pathname.get();
        let search = location.search.get();
        if path == SEARCH_PATH {
            search_request(&search).prefix
        } else if path == "/" {
            BrowseLocation::from_query(&search).prefix
        } else {
            Bytes::default()
        }
    });
    let keys = window_event_listener(leptos::ev::keydown, move |e: leptos::ev::KeyboardEvent| {
        if e.default_prevented() || e.alt_key() {
            return;
        }
        let target = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok());
        let tag = target.as_ref().map(|t| t.tag_name()).unwrap_or_default();
        let typing = matches!(tag.as_str(), "INPUT" | "TEXTAREA" | "SELECT")
            || target.as_ref().is_some_and(|t| t.is_content_editable());
        if typing {
            return;
        }
        let slash = e.key() == "/"
            && !e.ctrl_key()
            && !e.meta_key()
            && location.pathname.get_untracked() != EVENTS_PATH;
        let ctrl_k = (e.ctrl_key() || e.meta_key()) && e.key().eq_ignore_ascii_case("k");
        if (slash || ctrl_k)
            && let Some(input) = input.get_untracked()
        {
            e.prevent_default();
            let _ = input.focus();
            input.select();
        }
    });
    on_cleanup(move || keys.remove());
    let on_key = move |e: leptos::ev::KeyboardEvent| match e.key().as_str() {
        "Enter" => {
            e.prevent_default();
            let q = text.get_untracked();
            if q.is_empty() {
                return;
            }
            let mut request = search_request(&location.search.get_untracked());
            if location.pathname.get_untracked() != SEARCH_PATH {
                request = Default::default();
            }
            request.q = bytes_from_display(&q);
            request.prefix = prefix.get_untracked();
            navigate(&search_href(&request), Default::default());
            if let Some(input) = input.get_untracked() {
                let _ = input.blur();
            }
        }
        "Escape" => {
            if let Some(input) = input.get_untracked() {
                let _ = input.blur();
            }
        }
        _ => {}
    };
    let placeholder = move || {
        let prefix = prefix.get();
        if prefix.is_empty() {
            "search keys and values (/)".to_owned()
        } else {
            format!("search under {} (/)", prefix.display())
        }
    };
    view! {
        <input
            node_ref=input
            type="search"
            data-testid="header-search"
            aria-label="Search keys and values"
            aria-keyshortcuts="/ Control+K"
            placeholder=placeholder
            class="w-56 rounded border border-slate-300 bg-white px-2 py-0.5 text-sm dark:border-slate-700 dark:bg-slate-950"
            bind:value=text
            on:keydown=on_key
        />
    }
}

/// This tab's live connection: "live" in green, "reconnecting" in amber
/// (changes are late, not lost), "resynced after a gap" in blue for a while
/// after a view was reset to a snapshot.
#[component]
pub fn LiveIndicator(
    #[prop(into)] state: Signal<LiveState>,
    /// Hides "resynced" before its time is up.
    on_dismiss: Callback<()>,
) -> impl IntoView {
    let text = move || match state.get() {
        LiveState::Connecting => "live: connecting…",
        LiveState::Connected => "live",
        LiveState::Reconnecting => "live: reconnecting…",
        LiveState::Resynced => "live: resynced after a gap",
    };
    let title = move || match state.get() {
        LiveState::Connecting => "Opening the live connection to etcdeck",
        LiveState::Connected => "Changes appear as they happen",
        LiveState::Reconnecting => {
            "The live connection is down or etcd is out of reach; changes will follow, none lost"
        }
        LiveState::Resynced => {
            "Some changes could not be replayed; an affected view was reloaded from a snapshot"
        }
    };
    let tone = move || match state.get() {
        LiveState::Connected => "text-emerald-800 dark:text-emerald-300",
        LiveState::Connecting | LiveState::Reconnecting => "text-amber-800 dark:text-amber-300",
        LiveState::Resynced => "text-sky-800 dark:text-sky-300",
    };
    let dot = move || match state.get() {
        LiveState::Connected => "inline-block h-2.5 w-2.5 shrink-0 rounded-full bg-emerald-500",
        LiveState::Connecting | LiveState::Reconnecting => {
            "inline-block h-2.5 w-2.5 shrink-0 animate-pulse rounded-full bg-amber-500"
        }
        LiveState::Resynced => "inline-block h-2.5 w-2.5 shrink-0 rounded-full bg-sky-500",
    };
    view! {
        <div
            data-testid="live-state"
            data-state=move || state.get().as_str()
            role="status"
            aria-live="polite"
            title=title
            class=move || format!("flex items-center gap-2 text-sm {}", tone())
        >
            <span aria-hidden="true" class=dot></span>
            <span class="font-medium whitespace-nowrap">{text}</span>
            <Show when=move || state.get() == LiveState::Resynced>
                <button
                    type="button"
                    data-testid="live-dismiss"
                    aria-label="Dismiss the resynced notice"
                    class="rounded px-1 leading-none hover:bg-slate-200 dark:hover:bg-slate-800"
                    on:click=move |_| on_dismiss.run(())
                >
                    "×"
                </button>
            </Show>
        </div>
    }
}

/// Who the session acts as, a read-only badge with the backend's reason
/// when it may not write, and the logout button. Reads the [`Session`]
/// context; shows nothing without an active session.
#[component]
pub fn SessionBadge() -> impl IntoView {
    let session = Session::get();
    let info = move || session.and_then(|s| s.phase.with(|p| p.info().cloned()));
    let logging_out = RwSignal::new(false);
    let logout_error = RwSignal::new(None::<String>);
    let logout = move |_| {
        if logging_out.get_untracked() {
            return;
        }
        logging_out.set(true);
        logout_error.set(None);
        spawn_local(async move {
            match crate::api::session::logout().await {
                Ok(()) => {
                    if let Some(session) = session {
                        session.set(Phase::LoggedOut { ended: false });
                    }
                    // A fresh page load: nothing the previous user saw
                    // stays in memory.
                    let _ = window()
                        .location()
                        .set_href(&crate::api::within(LOGIN_PATH));
                }
                Err(failure) => {
                    logging_out.try_set(false);
                    logout_error.try_set(Some(format!("could not log out: {failure}")));
                }
            }
        });
    };
    view! {
        <div class="ml-auto flex min-w-0 flex-wrap items-center gap-2 text-sm">
            {move || {
                info()
                    .map(|info| {
                        let kind = kind_text(info.kind);
                        let user = info.user.clone().unwrap_or_else(|| "no etcd auth".to_owned());
                        let reason = (!info.can_write)
                            .then(|| read_only_text(info.read_only_reason.as_deref()));
                        view! {
                            <span
                                data-testid="session-user"
                                data-kind=kind
                                class="text-slate-600 dark:text-slate-300"
                                title=format!("session: {kind}")
                            >
                                "user: "
                                <span class="font-medium text-slate-900 dark:text-slate-100">
                                    {user}
                                </span>
                                <span class="ml-1 text-xs">{format!("({kind})")}</span>
                            </span>
                            {reason
                                .map(|reason| {
                                    view! {
                                        <span
                                            data-testid="read-only"
                                            class="rounded border border-amber-600 px-1.5 py-0.5 text-xs font-semibold uppercase text-amber-800 dark:border-amber-400 dark:text-amber-300"
                                            title=reason.clone()
                                        >
                                            "read-only"
                                        </span>
                                        <span
                                            data-testid="read-only-reason"
                                            class="max-w-[28rem] truncate text-xs text-amber-800 dark:text-amber-300"
                                            title=reason.clone()
                                        >
                                            {reason.clone()}
                                        </span>
                                    }
                                })}
                        }
                    })
            }}
            <Show when=move || info().is_some_and(|i| i.kind != SessionKind::Open)>
                <button
                    type="button"
                    data-testid="logout"
                    class="rounded border border-slate-400 px-2 py-0.5 hover:bg-slate-200 disabled:opacity-60 dark:border-slate-500 dark:hover:bg-slate-800"
                    prop:disabled=move || logging_out.get()
                    on:click=logout
                >
                    {move || if logging_out.get() { "logging out…" } else { "Log out" }}
                </button>
            </Show>
            {move || {
                logout_error
                    .get()
                    .map(|text| {
                        view! {
                            <span role="alert" class="text-red-700 dark:text-red-300">
                                {text}
                            </span>
                        }
                    })
            }}
        </div>
    }
}

/// How the session acts on etcd, in a word or two.
pub fn kind_text(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Login => "logged in",
        SessionKind::Token => "access token",
        SessionKind::Open => "etcd without auth",
    }
}
