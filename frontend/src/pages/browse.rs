//! The browse page: breadcrumbs and the children of the current level on
//! the left, the selected key on the right. Where the user is lives in the
//! URL (`/?prefix=..&key=..`, see [`crate::route`]), so every level and key
//! has a deep link and back/forward walk the history; this page turns tree
//! actions into navigations and drives the paging of the listed level,
//! including re-reading it when the tree list reports a live change.

use etcdeck_shared::{Bytes, Connection, ErrorCode};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

use crate::api::{self, ApiFailure};
use crate::components::breadcrumbs::Breadcrumbs;
use crate::components::key_view::KeyView;
use crate::components::tree_list::{TreeAction, TreeList};
use crate::connection::ConnectionState;
use crate::crumbs;
use crate::listing::{Listing, PAGE_SIZE, PageRequest};
use crate::route::BrowseLocation;

#[component]
pub fn BrowsePage() -> impl IntoView {
    let location = use_location();
    let here = Memo::new(move |_| BrowseLocation::from_query(&location.search.get()));
    let prefix = Memo::new(move |_| here.with(|h| h.prefix.clone()));
    let selected = Memo::new(move |_| here.with(|h| h.key.clone()));
    let separator = use_context::<ConnectionState>()
        .map(|c| c.separator())
        .unwrap_or_else(|| Signal::stored(Bytes::from("/")));

    // The router's navigate function is not `Send`; keep it local.
    let navigate = StoredValue::new_local(use_navigate());
    let go = move |to: BrowseLocation| {
        navigate.with_value(|nav| nav(&to.href(), NavigateOptions::default()));
    };

    let listing = RwSignal::new(Listing::default());
    let fetch = move |request: PageRequest| fetch_page(listing, request);
    // A new prefix (navigation, back/forward, deep link) lists from scratch;
    // selecting a key leaves `prefix` equal, so the listing stays.
    Effect::new(move |_| {
        let prefix = prefix.get();
        if let Some(request) = listing.try_update(|l| l.restart(prefix)) {
            fetch(request);
        }
    });

    // After etcd or the backend was away, a listing that failed for that
    // reason is retried once the status poll says all is well again, so a
    // wall screen recovers by itself. Other failures (permission denied, bad
    // request) would fail again and wait for the user's "retry".
    if let Some(connection) = use_context::<ConnectionState>() {
        Effect::new(move |_| {
            let healthy = connection.failure.with(Option::is_none)
                && connection.status.with(|s| {
                    s.as_ref()
                        .is_some_and(|s| matches!(s.connection, Connection::Connected { .. }))
                });
            let transient = listing.with_untracked(|l| {
                l.error.as_ref().is_some_and(|e| {
                    matches!(e, ApiFailure::Network(_))
                        || e.code() == Some(ErrorCode::EtcdUnavailable)
                })
            });
            if healthy
                && transient
                && let Some(request) = listing.try_update(|l| l.next_request()).flatten()
            {
                fetch(request);
            }
        });
    }

    let on_action = Callback::new(move |action: TreeAction| match action {
        TreeAction::SelectKey(key) => go(here.get_untracked().with_key(key)),
        TreeAction::EnterDir(dir) => go(here.get_untracked().with_prefix(dir)),
        TreeAction::Up => {
            let parent = crumbs::parent(&prefix.get_untracked(), &separator.get_untracked());
            if let Some(parent) = parent {
                go(here.get_untracked().with_prefix(parent));
            }
        }
        TreeAction::NearEnd | TreeAction::Retry => {
            if let Some(request) = listing.try_update(|l| l.next_request()).flatten() {
                fetch(request);
            }
        }
        TreeAction::Changed => {
            let request = listing.try_update(|l| {
                l.mark_stale();
                l.refresh_request()
            });
            if let Some(request) = request.flatten() {
                fetch(request);
            }
        }
    });

    view! {
        <div class="flex flex-col lg:grid lg:min-h-0 lg:flex-1 lg:grid-cols-[minmax(18rem,2fr)_3fr]">
            <aside
                aria-label="Key tree"
                class="flex h-[65vh] min-h-0 flex-col border-b border-slate-200 lg:h-auto lg:border-r lg:border-b-0 dark:border-slate-800"
            >
                <div class="border-b border-slate-200 px-3 py-2 dark:border-slate-800">
                    <Breadcrumbs prefix=prefix separator=separator selected=selected />
                </div>
                <TreeList listing=listing separator=separator selected=selected on_action=on_action />
            </aside>
            <KeyView selected=selected />
        </div>
    }
}

/// Requests one page and applies it; the answer may call for another page
/// (the rest of a refresh), which is requested in turn.
fn fetch_page(listing: RwSignal<Listing>, request: PageRequest) {
    spawn_local(async move {
        let answer = api::level(&request.prefix, request.after.as_ref(), PAGE_SIZE).await;
        if let Some(next) = listing.try_update(|l| l.apply(&request, answer)).flatten() {
            fetch_page(listing, next);
        }
    });
}
