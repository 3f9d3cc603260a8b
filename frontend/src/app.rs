//! The application shell: starts the status polling and the live
//! WebSocket, provides both as context, and lays out the header above the
//! routed page.
//!
//! Routes (the backend serves the app for every path that is not the API):
//! - `/` with `?prefix=..&key=..`: [`BrowsePage`];
//! - `/events` with `?prefix=..`: [`EventsPage`];
//! - `/leases`, `/locks`, `/elections`, `/queues`, `/services`: the
//!   coordination pages ([`crate::pages::coord`]);
//! - anything else: [`NotFound`].

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::api::live::LiveClient;
use crate::components::header::Header;
use crate::connection::ConnectionState;
use crate::pages::browse::BrowsePage;
use crate::pages::coord::{ElectionsPage, LeasesPage, LocksPage, QueuesPage, ServicesPage};
use crate::pages::events::EventsPage;
use crate::pages::not_found::NotFound;

#[component]
pub fn App() -> impl IntoView {
    let connection = ConnectionState::new();
    provide_context(connection);
    connection.start_polling();
    provide_context(LiveClient::start());
    view! {
        <Router>
            <div class="flex min-h-screen flex-col bg-white text-base text-slate-900 lg:h-screen 2xl:text-lg dark:bg-slate-950 dark:text-slate-100">
                <Header />
                <main class="flex min-h-0 flex-1 flex-col">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=BrowsePage />
                        <Route path=path!("/events") view=EventsPage />
                        <Route path=path!("/leases") view=LeasesPage />
                        <Route path=path!("/locks") view=LocksPage />
                        <Route path=path!("/elections") view=ElectionsPage />
                        <Route path=path!("/queues") view=QueuesPage />
                        <Route path=path!("/services") view=ServicesPage />
                    </Routes>
                </main>
            </div>
        </Router>
    }
}
