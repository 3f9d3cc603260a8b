//! The application shell: asks the backend for the browser's session,
//! starts the status polling and the live WebSocket (both quiet while there
//! is no session), provides all three as context, and lays out the header
//! above the routed page.
//!
//! Until `GET /api/v1/session` answers, a small loading state stands in for
//! the page. Without a session every page but `/login` sends the user to
//! `/login?next=<where they were>`. When a session ends while a page is open
//! (idle expiry, etcdeck restarted: any request answered 401), the page stays
//! where it is under a login dialog, its live subscriptions paused; after the
//! login they resume from where they stopped.
//!
//! Routes (the backend serves the app for every path that is not the API):
//! - `/` with `?prefix=..&key=..`: [`BrowsePage`];
//! - `/events` with `?prefix=..`: [`EventsPage`];
//! - `/leases`, `/locks`, `/elections`, `/queues`, `/services`: the
//!   coordination pages ([`crate::pages::coord`]);
//! - `/login?next=..` (and `#token=..`): [`LoginPage`];
//! - `/audit`: [`AuditPage`];
//! - `/cluster`: [`ClusterPage`];
//! - `/sessions`: [`SessionsPage`];
//! - `/users`: [`UsersPage`];
//! - `/search?q=..&prefix=..&in=..&mode=..&case=..`: [`SearchPage`];
//! - `/wall` (`?kiosk`: without the header): [`WallPage`];
//! - anything else: [`NotFound`].

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::path;

use crate::api;
use crate::api::is_login_required;
use crate::api::live::LiveClient;
use crate::components::header::Header;
use crate::connection::ConnectionState;
use crate::pages::audit::AuditPage;
use crate::pages::browse::BrowsePage;
use crate::pages::cluster::ClusterPage;
use crate::pages::coord::{ElectionsPage, LeasesPage, LocksPage, QueuesPage, ServicesPage};
use crate::pages::events::EventsPage;
use crate::pages::login::{LOGIN_PATH, LoginPage, SessionEndedDialog, login_href};
use crate::pages::not_found::NotFound;
use crate::pages::search::SearchPage;
use crate::pages::sessions::SessionsPage;
use crate::pages::users::UsersPage;
use crate::pages::wall::{WALL_PATH, WallPage, is_kiosk};
use crate::session::{Phase, Session};

/// Wait before asking for the session again when the backend could not be
/// reached at start-up.
const SESSION_RETRY: Duration = Duration::from_secs(5);

/// What the shell shows instead of, or around, the routed page.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Gate {
    Loading,
    Unreachable(String),
    Ready,
}

#[component]
pub fn App() -> impl IntoView {
    let session = Session::provide(Phase::Unknown);
    let connection = ConnectionState::new();
    provide_context(connection);
    connection.start_polling();
    let live = LiveClient::start_suspended();
    provide_context(live);
    let active = Memo::new(move |_| session.phase.with(Phase::is_active));
    Effect::new(move |_| {
        if active.get() {
            live.resume();
        } else {
            live.suspend();
        }
    });
    ask_session(session);
    // Asks again a while after the backend could not be reached.
    Effect::new(move |_| {
        if session.phase.with(|p| matches!(p, Phase::Unreachable(_))) {
            let timer = set_timeout_with_handle(move || ask_session(session), SESSION_RETRY).ok();
            on_cleanup(move || {
                if let Some(timer) = timer {
                    timer.clear();
                }
            });
        }
    });
    view! {
        <Router base=crate::api::base()>
            <LoginRedirect session=session />
            <div class="flex min-h-screen flex-col bg-white text-base text-slate-900 lg:h-screen 2xl:text-lg dark:bg-slate-950 dark:text-slate-100">
                <TopBar active=active />
                <Shell session=session />
                <SessionEndedDialog session=session />
            </div>
        </Router>
    }
}

/// The routed page once the session is known; a loading or unreachable
/// notice before. Without a session only the login page is shown (the
/// others would only be refused on the way to it).
#[component]
fn Shell(session: Session) -> impl IntoView {
    let location = use_location();
    let gate = Memo::new(move |_| {
        session.phase.with(|p| match p {
            Phase::Unknown => Gate::Loading,
            Phase::Unreachable(why) => Gate::Unreachable(why.clone()),
            Phase::Active(_) => Gate::Ready,
            Phase::LoggedOut { .. }
                if crate::api::unbased(&location.pathname.get()) == LOGIN_PATH =>
            {
                Gate::Ready
            }
            // The page keeps its place under the login dialog.
            Phase::LoggedOut { ended: true } => Gate::Ready,
            Phase::LoggedOut { ended: false } => Gate::Loading,
        })
    });
    view! {
                <main class="flex min-h-0 flex-1 flex-col">
                    {move || match gate.get() {
                        Gate::Loading => {
                            view! {
                                <p
                                    data-testid="session-loading"
                                    role="status"
                                    class="p-8 text-xl text-slate-600 dark:text-slate-300"
                                >
                                    "etcdeck is starting…"
                                </p>
                            }
                                .into_any()
                        }
                        Gate::Unreachable(why) => {
                            view! {
                                <div
                                    data-testid="session-unreachable"
                                    role="alert"
                                    class="m-4 max-w-3xl rounded-xl border-2 border-red-400 bg-red-50 p-6 text-red-900 lg:m-8 dark:border-red-700 dark:bg-red-950 dark:text-red-100"
                                >
                                    <p class="text-2xl font-semibold">"cannot start etcdeck"</p>
                                    <p class="mt-2 text-lg">{why}</p>
                                    <p class="mt-2">"Trying again every few seconds."</p>
                                    <button
                                        type="button"
                                        data-testid="session-retry"
                                        class="mt-3 rounded border-2 border-current px-3 py-1 font-medium"
                                        on:click=move |_| ask_session(session)
                                    >
                                        "try now"
                                    </button>
                                </div>
                            }
                                .into_any()
                        }
                        Gate::Ready => {
                            view! {
                                <Routes fallback=NotFound>
                                    <Route path=path!("/") view=BrowsePage />
                                    <Route path=path!("/events") view=EventsPage />
                                    <Route path=path!("/leases") view=LeasesPage />
                                    <Route path=path!("/locks") view=LocksPage />
                                    <Route path=path!("/elections") view=ElectionsPage />
                                    <Route path=path!("/queues") view=QueuesPage />
                                    <Route path=path!("/services") view=ServicesPage />
                                    <Route path=path!("/audit") view=AuditPage />
                                    <Route path=path!("/cluster") view=ClusterPage />
                                    <Route path=path!("/sessions") view=SessionsPage />
                                    <Route path=path!("/users") view=UsersPage />
                                    <Route path=path!("/search") view=SearchPage />
                                    <Route path=path!("/wall") view=WallPage />
                                    <Route path=path!("/login") view=LoginPage />
                                </Routes>
                            }
                                .into_any()
                        }
                    }}
                </main>
    }
}

/// The header while there is a session, except on a kiosk wall screen,
/// which has no navigation.
#[component]
fn TopBar(active: Memo<bool>) -> impl IntoView {
    let location = use_location();
    let kiosk = Memo::new(move |_| {
        crate::api::unbased(&location.pathname.get()) == WALL_PATH
            && is_kiosk(&location.search.get())
    });
    view! {
        <Show when=move || active.get() && !kiosk.get()>
            <Header />
        </Show>
    }
}

/// `GET /api/v1/session`: active, logged out (401), or unreachable.
fn ask_session(session: Session) {
    session.set(Phase::Unknown);
    spawn_local(async move {
        let phase = match api::session::session().await {
            Ok(info) => Phase::Active(info),
            Err(failure) if is_login_required(&failure) => Phase::LoggedOut { ended: false },
            Err(failure) => Phase::Unreachable(failure.to_string()),
        };
        session.set(phase);
    });
}

/// Sends the user to the login page, with the way back, whenever there is
/// no session and they are anywhere else.
#[component]
fn LoginRedirect(session: Session) -> impl IntoView {
    let navigate = use_navigate();
    let location = use_location();
    Effect::new(move |_| {
        // An ended session is asked to log in again over the page instead
        // (`SessionEndedDialog`).
        let logged_out = session
            .phase
            .with(|p| matches!(p, Phase::LoggedOut { ended: false }));
        let path = crate::api::unbased(&location.pathname.get());
        let _ = location.search.get();
        if !logged_out || path == LOGIN_PATH {
            return;
        }
        // The raw address: the router's decoded query would lose bytes of
        // binary keys (see `crate::route`).
        let browser = window().location();
        let here = format!(
            "{}{}",
            browser
                .pathname()
                .map(|p| crate::api::unbased(&p))
                .unwrap_or_else(|_| path.clone()),
            browser.search().unwrap_or_default()
        );
        navigate(
            &login_href(&here),
            NavigateOptions {
                replace: true,
                ..NavigateOptions::default()
            },
        );
    });
}
