//! The browse page: breadcrumbs and the children of the current level on
//! the left, the selected key on the right. Where the user is lives in the
//! URL (`/?prefix=..&key=..`, see [`crate::route`]), so every level and key
//! has a deep link and back/forward walk the history; this page turns tree
//! actions into navigations and drives the paging of the listed level,
//! including re-reading it when the tree list reports a live change.
//!
//! Above the tree: "New key" (the editor in create mode, the key pre-filled
//! with the level's prefix) and the prefix operations (delete, copy,
//! rename) of [`crate::components::prefix_ops`]. With `rev=R` in the URL
//! the level and the key are shown as of revision `R`, read-only, under a
//! banner with a way back to live.
//!
//! Under the breadcrumbs, a "go to prefix" box opens any level by name. A
//! user whose etcd role may not read the top level is not left at a
//! refusal: the start page goes on to the last prefix that user listed in
//! this browser, or asks for one with a sentence naming the etcd user
//! ([`crate::landing`]). A deep-linked key is brought into view and
//! selected by the tree list, however many pages down it is.

use etcdeck_shared::edit::Written;
use etcdeck_shared::{Bytes, Revision};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

use crate::api;
use crate::components::breadcrumbs::Breadcrumbs;
use crate::components::editor::{EditTarget, Editor};
use crate::components::key_view::KeyView;
use crate::components::prefix_box::GoToPrefix;
use crate::components::prefix_ops::{CopyDialog, DeletePrefixDialog, READ_ONLY_TITLE};
use crate::components::stale_notice::StaleNotice;
use crate::components::tree_list::{TreeAction, TreeList};
use crate::connection::ConnectionState;
use crate::crumbs;
use crate::freshness::{Freshness, now_ms};
use crate::landing::{self, Landing, LocalStorage};
use crate::listing::{Listing, PAGE_SIZE, PageRequest};
use crate::live_view::{Health, follow_link};
use crate::route::{self, BrowseLocation};
use crate::session::Session;

/// A prefix dialog the page has open.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PrefixDialog {
    Delete(Bytes),
    Copy { prefix: Bytes, rename: bool },
}

#[component]
pub fn BrowsePage() -> impl IntoView {
    let location = use_location();
    let here = Memo::new(move |_| BrowseLocation::from_query(&location.search.get()));
    let prefix = Memo::new(move |_| here.with(|h| h.prefix.clone()));
    let selected = Memo::new(move |_| here.with(|h| h.key.clone()));
    let rev_param = Memo::new(move |_| route::revision_param(&location.search.get()));
    let at = Memo::new(move |_| rev_param.with(|r| r.clone().ok().flatten()));
    let separator = use_context::<ConnectionState>()
        .map(|c| c.separator())
        .unwrap_or_else(|| Signal::stored(Bytes::from("/")));

    // The router's navigate function is not `Send`; keep it local.
    let navigate = StoredValue::new_local(use_navigate());
    // Walking the tree stays at the revision shown, if any.
    let go = move |to: BrowseLocation| {
        let href = route::href_at(to.href(), at.get_untracked());
        navigate.with_value(|nav| nav(&href, NavigateOptions::default()));
    };
    let go_live = move |_| {
        let href = here.with_untracked(BrowseLocation::href);
        navigate.with_value(|nav| nav(&href, NavigateOptions::default()));
    };

    let listing = RwSignal::new(Listing::default());
    let fetch = move |request: PageRequest| fetch_page(listing, request, at.get_untracked());
    // A new prefix or revision (navigation, back/forward, deep link) lists
    // from scratch; selecting a key leaves both equal, so the listing stays.
    Effect::new(move |_| {
        let prefix = prefix.get();
        at.track();
        if let Some(request) = listing.try_update(|l| l.restart(prefix)) {
            fetch(request);
        }
    });

    // How current the listed level is: stale while the connection is down;
    // after etcd or the backend was away, a page that failed for that reason
    // is read again once the connection is healthy (the one rule of
    // `crate::live_view::follow_link`), so a wall screen recovers by itself.
    // Other failures (permission denied, bad request) would fail again and
    // wait for the user's "retry".
    let freshness = RwSignal::new(Freshness::new());
    Effect::new(move |_| {
        let now = now_ms();
        listing.with(|l| {
            let failure = l.error.as_ref().or(l.refresh_error.as_ref());
            let answer = match (failure, l.revision) {
                (Some(failure), _) => Some(Err(failure)),
                (None, Some(revision)) if l.started => Some(Ok(revision)),
                _ => None,
            };
            if let Some(answer) = answer {
                freshness.update(|f| {
                    f.answered(now, answer);
                });
            }
        });
    });
    follow_link(Health::from_context(), freshness, move || {
        let request = listing.try_update(|l| {
            if l.error.is_some() {
                l.next_request()
            } else if l.refresh_error.is_some() {
                l.mark_stale();
                l.refresh_request()
            } else {
                None
            }
        });
        if let Some(request) = request.flatten() {
            fetch(request);
        }
    });
    let view_state = Signal::derive(move || freshness.with(Freshness::state));

    // The etcd user this browser acts as: remembered prefixes are theirs.
    let session = Session::get();
    let user = Memo::new(move |_| {
        session.and_then(|s| s.phase.with(|p| p.info().and_then(|i| i.user.clone())))
    });
    // Every level that lists is the user's last prefix from then on.
    let listed = Memo::new(move |_| listing.with(|l| l.started.then(|| l.prefix.clone())));
    Effect::new(move |_| {
        if let Some(prefix) = listed.get() {
            landing::remember(&LocalStorage, user.get().as_deref(), &prefix);
        }
    });
    let landing_at = Memo::new(move |_| {
        here.with(|h| {
            listing.with(|l| {
                landing::landing(h, l, || {
                    landing::remembered(&LocalStorage, user.get_untracked().as_deref())
                })
            })
        })
    });
    Effect::new(move |_| {
        if let Landing::GoTo(prefix) = landing_at.get() {
            // Replaces the refused start page, so Back does not return to it.
            let to = BrowseLocation { prefix, key: None };
            let href = route::href_at(to.href(), at.get_untracked());
            let options = NavigateOptions {
                replace: true,
                ..NavigateOptions::default()
            };
            navigate.with_value(|nav| nav(&href, options));
        }
    });
    // A memo, so the tree list below is made again only when this flips.
    let asking = Memo::new(move |_| landing_at.with(|l| *l == Landing::AskForPrefix));
    // Like walking the tree, a typed level keeps the key view as it is.
    let go_to_prefix = Callback::new(move |prefix: Bytes| {
        go(here.get_untracked().with_prefix(prefix));
    });

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
        // The past does not change.
        TreeAction::Changed if at.get_untracked().is_some() => {}
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

    let can_write = crate::session::can_write();
    // Whether etcd would let this user write every key of the level, asked
    // once per level opened (the whole keyspace is not asked: nothing acts
    // on it at once, and a new key at the root is judged at save).
    let level_probe = crate::may_write::may_write(Signal::derive(move || {
        (at.get().is_none() && !prefix.with(Bytes::is_empty))
            .then(|| crate::may_write::prefix(prefix.get()))
    }));
    // etcdeck never writes Kubernetes objects: refused with the backend's
    // own sentence, without asking.
    let level_may = Signal::derive(move || {
        match prefix.with(|p| etcdeck_shared::kubernetes::write_refusal(&p.0, true)) {
            Some(why) if !prefix.with(Bytes::is_empty) => {
                crate::may_write::Permission::Refused(why)
            }
            _ => level_probe.get(),
        }
    });
    let creating = RwSignal::new(None::<EditTarget>);
    let dialog = RwSignal::new(None::<PrefixDialog>);
    // Another level closes what was open for the last one.
    // Only when something is open: setting it anyway would mount the key
    // view again (and read the key and ask the probe twice).
    Effect::new(move |_| {
        prefix.track();
        at.track();
        if creating.with_untracked(Option::is_some) {
            creating.set(None);
        }
        if dialog.with_untracked(Option::is_some) {
            dialog.set(None);
        }
    });
    let refresh_level = move || on_action.run(TreeAction::Changed);
    let open_key = Callback::new(move |key: Bytes| go(here.get_untracked().with_key(key)));
    let created = Callback::new(move |written: Written| {
        let key = written.kv.map(|kv| kv.key);
        creating.set(None);
        refresh_level();
        if let Some(key) = key {
            open_key.run(key);
        }
    });
    let close = Callback::new(move |()| {
        creating.set(None);
        dialog.set(None);
    });

    let banner = move || {
        match rev_param.get() {
        Ok(None) => None,
        Ok(Some(revision)) => Some(view! {
            <div data-testid="as-of-banner" role="status" class="flex flex-wrap items-center gap-3 border-b border-amber-300 bg-amber-50 px-3 py-2 text-sm dark:border-amber-800 dark:bg-amber-950/40">
                <span>{format!("Showing the keyspace as of revision {revision}: read-only, not live.")}</span>
                <button type="button" data-testid="back-to-live" class="underline" on:click=go_live>
                    "back to live"
                </button>
            </div>
        }
        .into_any()),
        Err(why) => Some(view! {
            <div data-testid="as-of-banner" role="alert" class="flex flex-wrap items-center gap-3 border-b border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
                <span>{why}</span>
                <button type="button" data-testid="back-to-live" class="underline" on:click=go_live>
                    "back to live"
                </button>
            </div>
        }
        .into_any()),
    }
    };

    let toolbar = move || {
        at.get().is_none().then(|| {
            let tool = "rounded border border-slate-300 px-2 py-0.5 text-sm hover:bg-slate-100 disabled:cursor-not-allowed disabled:opacity-50 dark:border-slate-600 dark:hover:bg-slate-800";
            let root = move || prefix.with(Bytes::is_empty);
            let prefix_title = move |what: &'static str| {
                if !can_write.get() {
                    READ_ONLY_TITLE.to_owned()
                } else if root() {
                    "Open a level first: etcdeck does not act on the whole keyspace at once"
                        .to_owned()
                } else {
                    level_may.with(|p| p.title(what))
                }
            };
            let level_enabled = move || level_may.with(crate::may_write::Permission::enabled);
            view! {
                <div data-testid="prefix-tools" class="flex flex-wrap items-center gap-1 border-b border-slate-200 px-3 py-1.5 dark:border-slate-800">
                    <button type="button" data-testid="new-key" class=tool
                        disabled=move || !level_enabled()
                        title=move || level_may.with(|p| p.title("Create a key under this level"))
                        on:click=move |_| creating.set(Some(EditTarget::create(prefix.get_untracked())))>
                        "New key"
                    </button>
                    <button type="button" data-testid="delete-prefix" class=tool
                        disabled=move || !level_enabled() || root()
                        title=move || prefix_title("Delete every key under this prefix")
                        on:click=move |_| dialog.set(Some(PrefixDialog::Delete(prefix.get_untracked())))>
                        "Delete prefix…"
                    </button>
                    <button type="button" data-testid="copy-prefix" class=tool
                        disabled=move || !can_write.get() || root()
                        title=move || if can_write.get() && !root() { "Copy every key under this prefix to another prefix".to_owned() } else { prefix_title("") }
                        on:click=move |_| dialog.set(Some(PrefixDialog::Copy { prefix: prefix.get_untracked(), rename: false }))>
                        "Copy…"
                    </button>
                    <button type="button" data-testid="rename-prefix" class=tool
                        disabled=move || !level_enabled() || root()
                        title=move || prefix_title("Move every key under this prefix to another prefix")
                        on:click=move |_| dialog.set(Some(PrefixDialog::Copy { prefix: prefix.get_untracked(), rename: true }))>
                        "Rename…"
                    </button>
                    {move || level_may.with(|p| p.refusal()).filter(|_| can_write.get()).map(|why| view! {
                        <span data-testid="level-write-hint" class="text-xs text-slate-600 dark:text-slate-400">
                            {format!("Read-only here: {why}")}
                        </span>
                    })}
                    <crate::components::etcdctl_copy::EtcdctlCopy prefix=prefix />
                    <RevisionJump go=Callback::new(move |revision: Revision| {
                        let href = route::href_at(here.with_untracked(BrowseLocation::href), Some(revision));
                        navigate.with_value(|nav| nav(&href, NavigateOptions::default()));
                    }) />
                </div>
            }
        })
    };

    let dialogs = move || {
        dialog.get().map(|open| match open {
            PrefixDialog::Delete(prefix) => view! {
                <DeletePrefixDialog prefix=prefix on_close=close
                    on_done=Callback::new(move |_| { dialog.set(None); refresh_level(); }) />
            }
            .into_any(),
            PrefixDialog::Copy { prefix, rename } => view! {
                <CopyDialog from=prefix prefix=true rename=rename on_close=close
                    on_done=Callback::new(move |target: Bytes| {
                        dialog.set(None);
                        go(here.get_untracked().with_prefix(target));
                    }) />
            }
            .into_any(),
        })
    };

    // A new revision mounts a new key view: whether it watches and offers
    // writes is decided when it is made.
    let right = move || {
        let at = at.get();
        match creating.get().filter(|_| at.is_none()) {
            Some(target) => view! {
                <section aria-label="New key" class="flex min-h-0 min-w-0 flex-col gap-3 overflow-auto p-4">
                    <Editor target=target on_saved=created on_cancel=close />
                </section>
            }
            .into_any(),
            None => view! { <KeyView selected=selected at=at on_open=open_key /> }.into_any(),
        }
    };

    view! {
        <div class="flex flex-col lg:min-h-0 lg:flex-1">
            {banner}
            {move || at.get().is_none().then(|| view! { <StaleNotice state=view_state /> })}
            <div class="flex flex-col lg:grid lg:min-h-0 lg:flex-1 lg:grid-cols-[minmax(18rem,2fr)_3fr]">
                <aside
                    aria-label="Key tree"
                    class="flex h-[65vh] min-h-0 flex-col border-b border-slate-200 lg:h-auto lg:border-r lg:border-b-0 dark:border-slate-800"
                >
                    <div class="border-b border-slate-200 px-3 py-2 dark:border-slate-800">
                        <Breadcrumbs prefix=prefix separator=separator selected=selected at=at />
                        <GoToPrefix separator=separator go=go_to_prefix focus=asking />
                    </div>
                    {toolbar}
                    {move || {
                        if asking.get() {
                            let sentence = landing::top_level_refused(user.get().as_deref());
                            view! {
                                <p data-testid="landing" role="alert" class="m-3 rounded border border-amber-300 bg-amber-50 p-3 text-amber-900 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-100">
                                    {sentence}
                                </p>
                            }
                            .into_any()
                        } else {
                            view! { <TreeList listing=listing separator=separator selected=selected on_action=on_action /> }
                                .into_any()
                        }
                    }}
                </aside>
                {right}
            </div>
            {dialogs}
        </div>
    }
}

/// "as of revision [R] go": opens the level as it was at revision R.
#[component]
fn RevisionJump(go: Callback<Revision>) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match route::revision_param(&format!("rev={}", typed.get_untracked().trim())) {
            Ok(Some(revision)) => {
                error.set(None);
                go.run(revision);
            }
            Ok(None) => {}
            Err(why) => error.set(Some(why)),
        }
    };
    view! {
        <form class="ml-auto flex items-center gap-1 text-sm" on:submit=submit>
            <label class="text-slate-600 dark:text-slate-400" for="rev-input">"as of revision"</label>
            <input id="rev-input" type="text" inputmode="numeric" data-testid="rev-input"
                class="w-24 rounded border border-slate-300 bg-white px-1 py-0.5 tabular-nums dark:border-slate-600 dark:bg-slate-900"
                prop:value=move || typed.get()
                on:input=move |ev| typed.set(event_target_value(&ev)) />
            <button type="submit" data-testid="rev-go" class="rounded border border-slate-300 px-2 py-0.5 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800">"go"</button>
            {move || error.get().map(|why| view! { <span role="alert" class="text-red-700 dark:text-red-300">{why}</span> })}
        </form>
    }
}

/// Requests one page and applies it; the answer may call for another page
/// (the rest of a refresh), which is requested in turn.
fn fetch_page(listing: RwSignal<Listing>, request: PageRequest, at: Option<Revision>) {
    spawn_local(async move {
        let after = request.after.as_ref();
        let answer = match at {
            Some(revision) => {
                api::edit::level_at(&request.prefix, after, PAGE_SIZE, revision).await
            }
            None => api::level(&request.prefix, after, PAGE_SIZE).await,
        };
        if let Some(next) = listing.try_update(|l| l.apply(&request, answer)).flatten() {
            fetch_page(listing, next, at);
        }
    });
}
