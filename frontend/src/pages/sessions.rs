//! `/sessions`: the browser sessions this user may see (their own etcd
//! user's, or everyone's for etcd's root), each with when it started, when
//! it was last used, its address, browser and kind, "this session" marked,
//! and an "End" button that asks once more before it ends the session.
//! Ending this very session logs the page out, as the logout button does.
//! Read through a [`LiveView`] at once, on "refresh", every
//! [`REFRESH_EVERY`] while the tab is visible (sessions live in the
//! backend, so no etcd watch can follow them), and after each end.
//!
//! DOM contract: `sessions-page`, `sessions-loading`, `sessions-empty`,
//! `sessions-error`, `sessions-refresh`, `sessions-end-error`, rows
//! `session-row` (`data-this` on this session's), and in them
//! `session-user`, `session-last-used`, `session-address`,
//! `session-browser`, `session-kind`, `session-this`, `session-end`,
//! `session-end-confirm`, `session-end-cancel`.

use std::time::Duration;

use etcdeck_shared::edit::SessionKind;
use etcdeck_shared::sessions::{SessionList, SessionSummary};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::read_notes::{Loading, ReadFailed};
use crate::freshness::local_time;
use crate::live_view::{LiveView, ReadState, polled_answer};
use crate::route::LOGIN_PATH;
use crate::session::{Phase, Session};

/// How often a visible sessions page reads again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);

const MUTED: &str = "text-slate-600 dark:text-slate-300";
const BUTTON: &str = "rounded border-2 border-slate-400 px-3 py-0.5 font-medium hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:opacity-60 dark:border-slate-500 dark:hover:bg-slate-800";
const DANGER: &str = "rounded border-2 border-red-600 bg-red-600 px-3 py-0.5 font-semibold text-white hover:bg-red-700 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:opacity-60 dark:border-red-500 dark:bg-red-700";

// Sessions are not in etcd: nothing to watch, only re-read.
polled_answer!(SessionList);

#[component]
pub fn SessionsPage() -> impl IntoView {
    let live = LiveView::start(api::session::sessions).poll_every(REFRESH_EVERY);
    let ending = RwSignal::new(None::<String>);
    let end_error = RwSignal::new(None::<String>);
    let session = Session::get();
    let on_end = Callback::new(move |(handle, this_session): (String, bool)| {
        if ending.get_untracked().is_some() {
            return;
        }
        ending.set(Some(handle.clone()));
        end_error.set(None);
        spawn_local(async move {
            let answer = api::session::end_session(handle).await;
            ending.try_set(None);
            match answer {
                Ok(()) if this_session => log_out_here(session),
                Ok(()) => live.read(),
                // This session itself ended meanwhile: the shell asks to
                // log in again.
                Err(failure) if api::is_login_required(&failure) => {}
                Err(failure) => {
                    end_error.try_set(Some(format!("could not end the session: {failure}")));
                    live.read();
                }
            }
        });
    });
    view! {
        <SessionsView
            state=live.state
            ending=ending
            end_error=end_error
            on_end=on_end
            on_refresh=Callback::new(move |()| live.read())
        />
    }
}

/// This session ended at its own request: like logging out, a fresh page
/// load at the login page, so nothing the user saw stays in memory.
fn log_out_here(session: Option<Session>) {
    if let Some(session) = session {
        session.set(Phase::LoggedOut { ended: false });
    }
    let _ = window()
        .location()
        .set_href(&crate::api::within(LOGIN_PATH));
}

/// The sessions as a table (fetches nothing).
#[component]
pub fn SessionsView(
    #[prop(into)] state: Signal<ReadState<SessionList>>,
    /// The handle of the session being ended, while it is.
    #[prop(into)]
    ending: Signal<Option<String>>,
    #[prop(into)] end_error: Signal<Option<String>>,
    /// Ends a session: its handle, and whether it is this one.
    on_end: Callback<(String, bool)>,
    #[prop(optional)] on_refresh: Option<Callback<()>>,
) -> impl IntoView {
    // The row whose "End" was pressed, waiting for the confirmation.
    let confirming = RwSignal::new(None::<String>);
    let stale = move || {
        state.with(|s| {
            s.data
                .as_ref()
                .and(s.error.as_ref())
                .map(|e| format!("could not refresh: {e}"))
        })
    };
    let body = move || {
        let (data, error) = state.with(|s| (s.data.clone(), s.error.clone()));
        match (data, error) {
            (Some(list), _) if list.sessions.is_empty() => view! {
                <div data-testid="sessions-empty" role="status" class="max-w-4xl rounded-xl border-2 border-dashed border-slate-300 p-6 dark:border-slate-700">
                    <p class="text-2xl font-semibold">"no sessions"</p>
                    <p class=format!("mt-2 text-lg {MUTED}")>
                        "Every browser logged in to etcdeck is listed here while its session lasts."
                    </p>
                </div>
            }
            .into_any(),
            (Some(list), _) => sessions_table(list, confirming, ending, on_end).into_any(),
            (None, Some(error)) => view! {
                <ReadFailed testid="sessions-error" what="could not read the sessions" error=error.to_string() />
            }
            .into_any(),
            (None, None) => view! {
                <Loading testid="sessions-loading" />
            }
            .into_any(),
        }
    };
    let scope = move || {
        state.with(|s| {
            s.data.as_ref().map(|list| {
                if list.all_users {
                    "every user's sessions (you are etcd's root)"
                } else {
                    "your etcd user's sessions"
                }
            })
        })
    };
    view! {
        <section
            data-testid="sessions-page"
            aria-label="Sessions"
            class="flex min-h-0 flex-1 flex-col gap-4 overflow-auto p-4 lg:p-6"
            on:keydown=move |ev| {
                if ev.key() == "Escape" && confirming.get_untracked().is_some() {
                    confirming.set(None);
                }
            }
        >
            <div class="flex flex-wrap items-baseline gap-x-6 gap-y-1">
                <h1 class="text-3xl font-bold tracking-tight">"Sessions"</h1>
                <span class=format!("text-sm {MUTED}")>
                    {move || scope().unwrap_or("browsers logged in to etcdeck")}
                    "; refreshed every 10 s"
                </span>
                {on_refresh
                    .map(|refresh| {
                        view! {
                            <button
                                type="button"
                                data-testid="sessions-refresh"
                                class=BUTTON
                                on:click=move |_| refresh.run(())
                            >
                                "refresh"
                            </button>
                        }
                    })}
            </div>
            {move || {
                stale()
                    .map(|text| {
                        view! {
                            <p role="alert" class="rounded-lg border-2 border-amber-500 bg-amber-50 px-3 py-2 font-medium text-amber-900 dark:bg-amber-950 dark:text-amber-200">
                                {text}
                            </p>
                        }
                    })
            }}
            {move || {
                end_error
                    .get()
                    .map(|text| {
                        view! {
                            <p data-testid="sessions-end-error" role="alert" class="rounded-lg border-2 border-red-500 bg-red-50 px-3 py-2 font-medium text-red-900 dark:bg-red-950 dark:text-red-200">
                                {text}
                            </p>
                        }
                    })
            }}
            {body}
        </section>
    }
}

fn sessions_table(
    list: SessionList,
    confirming: RwSignal<Option<String>>,
    ending: Signal<Option<String>>,
    on_end: Callback<(String, bool)>,
) -> impl IntoView {
    const TH: &str =
        "border-b-2 border-slate-300 px-2 py-1 text-left font-semibold dark:border-slate-700";
    let all_users = list.all_users;
    let now_ms = list.now_ms;
    view! {
        <div class="overflow-x-auto">
            <table class="w-full border-collapse text-sm 2xl:text-base">
                <thead>
                    <tr>
                        {all_users.then(|| view! { <th class=TH>"user"</th> })}
                        <th class=TH>"started"</th>
                        <th class=TH>"last used"</th>
                        <th class=TH>"address"</th>
                        <th class=TH>"browser"</th>
                        <th class=TH>"kind"</th>
                        <th class=TH>
                            <span class="sr-only">"actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .sessions
                        .into_iter()
                        .map(|summary| {
                            session_row(summary, all_users, now_ms, confirming, ending, on_end)
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn session_row(
    summary: SessionSummary,
    all_users: bool,
    now_ms: u64,
    confirming: RwSignal<Option<String>>,
    ending: Signal<Option<String>>,
    on_end: Callback<(String, bool)>,
) -> impl IntoView {
    const TD: &str = "border-b border-slate-200 px-2 py-1 align-top dark:border-slate-800";
    let SessionSummary {
        handle,
        kind,
        user,
        started_ms,
        last_used_ms,
        expires_ms,
        address,
        browser,
        this_session,
    } = summary;
    let asking = {
        let handle = handle.clone();
        move || confirming.with(|c| c.as_deref() == Some(handle.as_str()))
    };
    let busy = {
        let handle = handle.clone();
        move || ending.with(|e| e.as_deref() == Some(handle.as_str()))
    };
    // A wall screen's session comes back from its cookie: it cannot be
    // ended here (the backend says so too).
    let endable = kind != SessionKind::Token || this_session;
    let who = user.clone().unwrap_or_else(|| "(no auth)".to_owned());
    let label = if this_session {
        "End this session (logs this page out)".to_owned()
    } else {
        format!("End the session of {who} in {browser}")
    };
    let expires =
        expires_ms.map(|at| format!("ends at {} however much it is used", local_time(at)));
    let start_handle = handle.clone();
    let confirm_handle = handle.clone();
    let actions = move || {
        if !endable {
            return view! {
                <span class=format!("text-xs {MUTED}")>
                    "change the wall-screen token to end it"
                </span>
            }
            .into_any();
        }
        if asking() {
            let confirm_handle = confirm_handle.clone();
            view! {
                <span class="inline-flex flex-wrap items-center gap-2" role="group" aria-label="Confirm ending the session">
                    <span class="font-medium">
                        {if this_session { "Log this page out?" } else { "End this session?" }}
                    </span>
                    <button
                        type="button"
                        data-testid="session-end-confirm"
                        class=DANGER
                        autofocus=true
                        prop:disabled=busy.clone()
                        on:click=move |_| {
                            confirming.set(None);
                            on_end.run((confirm_handle.clone(), this_session));
                        }
                    >
                        "End it"
                    </button>
                    <button
                        type="button"
                        data-testid="session-end-cancel"
                        class=BUTTON
                        on:click=move |_| confirming.set(None)
                    >
                        "Cancel"
                    </button>
                </span>
            }
            .into_any()
        } else {
            let start_handle = start_handle.clone();
            view! {
                <button
                    type="button"
                    data-testid="session-end"
                    class=BUTTON
                    aria-label=label.clone()
                    title=label.clone()
                    prop:disabled=busy.clone()
                    on:click=move |_| confirming.set(Some(start_handle.clone()))
                >
                    {let busy = busy.clone(); move || if busy() { "ending…" } else { "End" }}
                </button>
            }
            .into_any()
        }
    };
    let row_class = if this_session {
        "bg-sky-50 dark:bg-sky-950"
    } else {
        ""
    };
    view! {
        <tr data-testid="session-row" data-this=this_session.then_some("true") class=row_class>
            {all_users
                .then(|| {
                    view! {
                        <td data-testid="session-user" class=format!("{TD} font-medium")>
                            {who.clone()}
                        </td>
                    }
                })}
            <td class=format!("{TD} whitespace-nowrap tabular-nums")>
                <span title=expires.unwrap_or_default()>{local_time(started_ms)}</span>
                {this_session
                    .then(|| {
                        view! {
                            <span
                                data-testid="session-this"
                                class="ml-2 rounded bg-sky-700 px-1.5 py-0.5 text-xs font-semibold text-white dark:bg-sky-400 dark:text-slate-950"
                            >
                                "this session"
                            </span>
                        }
                    })}
            </td>
            <td data-testid="session-last-used" class=format!("{TD} whitespace-nowrap") title=local_time(last_used_ms)>
                {ago(now_ms.saturating_sub(last_used_ms))}
            </td>
            <td data-testid="session-address" class=format!("{TD} font-mono")>
                {address.unwrap_or_else(|| "unknown".to_owned())}
            </td>
            <td data-testid="session-browser" class=TD>{browser.clone()}</td>
            <td data-testid="session-kind" class=TD>{kind_text(kind)}</td>
            <td class=format!("{TD} whitespace-nowrap")>{actions}</td>
        </tr>
    }
}

/// A session's kind in words.
pub fn kind_text(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Login => "login",
        SessionKind::Token => "wall screen",
        SessionKind::Open => "open (no etcd auth)",
    }
}

/// How long ago something happened, `ms` milliseconds before now, as people
/// say it: "just now", "40 s ago", "5 min ago", "3 h ago", "2 days ago".
pub fn ago(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..10 => "just now".to_owned(),
        10..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => match secs / 86_400 {
            1 => "1 day ago".to_owned(),
            days => format!("{days} days ago"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    #[unit_test]
    fn times_ago_as_people_say_them() {
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(9_999), "just now");
        assert_eq!(ago(42_000), "42 s ago");
        assert_eq!(ago(5 * 60_000 + 10), "5 min ago");
        assert_eq!(ago(3 * 3_600_000), "3 h ago");
        assert_eq!(ago(86_400_000), "1 day ago");
        assert_eq!(ago(3 * 86_400_000), "3 days ago");
        assert_eq!(kind_text(SessionKind::Token), "wall screen");
    }
}
