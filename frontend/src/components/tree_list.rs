//! The children of one tree level as a windowed list: rows have a fixed
//! height, only the visible ones (plus overscan) are in the DOM, and a spacer
//! gives the scrollbar the full height, so a level with 100,000 children
//! scrolls smoothly. Scrolling near the end asks for the next page.
//!
//! The list also watches its level live (when the app provides a live
//! client), through [`crate::live_view::watch_changes`]:
//! from the revision after its first page, a change that adds or removes a
//! key under the level is reported as [`TreeAction::Changed`] at most every
//! [`CHANGE_DEBOUNCE`], and a gap at once, so the page re-reads what is
//! loaded.
//!
//! Keyboard (on the focused list): Up/Down move the cursor, Enter activates,
//! Right enters a directory, Left/Backspace goes up a level. The list keeps
//! DOM focus itself and points at the cursor row with
//! `aria-activedescendant`, because rows come and go as the window moves.
//! The cursor row carries the focus ring itself (rows are opaque, so a ring
//! on the list would be hidden under them).
//!
//! The selected key is brought into view: when the selection or the level
//! changes (a deep link, back and forward), the list asks for pages until
//! the key's row is loaded ([`crate::listing::seek`], bounded), scrolls it
//! to the middle, puts the cursor on it and, unless the user is typing
//! elsewhere, takes keyboard focus, so arrow keys move on from there.

use etcdeck_shared::ws::{EventKind, WatchEvent, WatchRange};
use etcdeck_shared::{Bytes, Child, Revision};
use leptos::ev;
use leptos::html;
use leptos::prelude::*;

use crate::listing::{Listing, Seek, seek};
use crate::live_view::{ChangeWatch, Watcher, watch_changes};
use crate::windowing::{self, OVERSCAN, PREFETCH_ROWS};

/// Height of one row in CSS pixels (the `h-9` class below).
pub const ROW_PX: f64 = 36.0;

pub use crate::live_view::CHANGE_DEBOUNCE;

/// What the user asked the list to do; the page decides what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeAction {
    /// Show this key in the key view.
    SelectKey(Bytes),
    /// List this level (a child's `dir`).
    EnterDir(Bytes),
    /// Go to the level above.
    Up,
    /// The next page is wanted: the visible window is near the end of what
    /// is loaded, or the selected key's row is not loaded yet.
    NearEnd,
    /// Try the failed page request again.
    Retry,
    /// The level changed (a key under it was added or removed, or changes
    /// were missed): read the loaded pages again.
    Changed,
}

/// Whether a change can alter what a level lists (names, kinds, counts): a
/// key created or deleted. A new value for an existing key cannot.
pub fn touches_level(event: &WatchEvent) -> bool {
    event.kind == EventKind::Delete || event.kv.version == 1
}

/// Subscribes to the listed level from the revision after its first page,
/// again whenever the level changes, and reports changes to `on_action`
/// ([`watch_changes`]: debounced, a gap at once).
fn watch_level(watcher: Watcher, listing: Signal<Listing>, on_action: Callback<TreeAction>) {
    let watcher = StoredValue::new_local(watcher);
    let running = StoredValue::new_local(None::<ChangeWatch>);
    let stop = move || {
        if let (Some(Some(watch)), Some(watcher)) = (
            running.try_update_value(Option::take),
            watcher.try_get_value(),
        ) {
            watch.stop(&watcher);
        }
    };
    let base = Memo::new(move |_| listing.with(|l| (l.generation, l.prefix.clone(), l.revision)));
    let changed = Callback::new(move |()| on_action.run(TreeAction::Changed));
    Effect::new(move |_| {
        let (_, prefix, revision) = base.get();
        stop();
        let (Some(revision), Some(watcher)) = (revision, watcher.try_get_value()) else {
            return;
        };
        let watch = watch_changes(
            &watcher,
            WatchRange::prefix(prefix),
            Revision(revision.0 + 1),
            touches_level,
            CHANGE_DEBOUNCE,
            changed,
        );
        running.set_value(Some(watch));
    });
    on_cleanup(stop);
}

#[component]
pub fn TreeList(
    #[prop(into)] listing: Signal<Listing>,
    #[prop(into)] separator: Signal<Bytes>,
    #[prop(into)] selected: Signal<Option<Bytes>>,
    on_action: Callback<TreeAction>,
) -> impl IntoView {
    if let Some(watcher) = Watcher::from_context() {
        watch_level(watcher, listing, on_action);
    }
    let scroller = NodeRef::<html::Div>::new();
    let scroll_top = RwSignal::new(0.0_f64);
    // A guess until the element is measured after mounting.
    let viewport = RwSignal::new(600.0_f64);
    let cursor = RwSignal::new(None::<usize>);

    let measure = move || {
        if let Some(el) = scroller.get_untracked() {
            // Never more than the window: if the list were laid out
            // unconstrained (say the stylesheet failed to load) its own
            // height would be that of every row, and all would be rendered.
            let window_height = window()
                .inner_height()
                .ok()
                .and_then(|h| h.as_f64())
                .unwrap_or(f64::MAX);
            let height = f64::from(el.client_height()).min(window_height);
            if height > 0.0 {
                viewport.set(height);
            }
            scroll_top.set(f64::from(el.scroll_top()));
        }
    };
    Effect::new(move |_| {
        if scroller.get().is_some() {
            measure();
        }
    });
    let resize = window_event_listener(ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());

    // A new level starts at the top with no cursor.
    Effect::new(move |previous: Option<u64>| {
        let generation = listing.with(|l| l.generation);
        if previous.is_some_and(|p| p != generation) {
            cursor.set(None);
            scroll_top.set(0.0);
            if let Some(el) = scroller.get_untracked() {
                el.set_scroll_top(0);
            }
        }
        generation
    });

    // The selected key waiting to be brought into view: set again whenever
    // the selection or the level changes, cleared once its row is shown or
    // it is known not to be in the level.
    let generation = Memo::new(move |_| listing.with(|l| l.generation));
    let pending = RwSignal::new(None::<Bytes>);
    Effect::new(move |_| {
        generation.track();
        pending.set(selected.get());
    });
    let bring_into_view = move |index: usize| {
        cursor.set(Some(index));
        let Some(el) = scroller.get_untracked() else {
            return;
        };
        let height = viewport.get_untracked();
        if windowing::reveal(index, f64::from(el.scroll_top()), height, ROW_PX).is_some() {
            let top = windowing::center(index, height, ROW_PX);
            // Renders the rows there now; the element scrolls once the
            // spacer's new height is in the DOM (the renderer runs first).
            scroll_top.set(top);
            request_animation_frame(move || {
                if let Some(el) = scroller.get_untracked() {
                    el.set_scroll_top(top as i32);
                    scroll_top.set(f64::from(el.scroll_top()));
                }
            });
        }
        if !typing_elsewhere(&el) {
            let _ = el.focus();
        }
    };
    Effect::new(move |_| {
        let Some(key) = pending.get() else {
            return;
        };
        let separator = separator.get();
        match listing.with(|l| seek(l, &key, &separator)) {
            Seek::Found(index) => {
                pending.set(None);
                bring_into_view(index);
            }
            Seek::More => on_action.run(TreeAction::NearEnd),
            Seek::Waiting => {}
            Seek::Absent => pending.set(None),
        }
    });

    let total = move || listing.with(|l| l.children.len());
    let range = Memo::new(move |_| {
        windowing::visible_range(scroll_top.get(), viewport.get(), ROW_PX, total(), OVERSCAN)
    });

    Effect::new(move |_| {
        let end = range.get().end;
        let wants_more = listing.with(|l| {
            l.started
                && !l.loading
                && l.error.is_none()
                && windowing::needs_more(end, l.children.len(), l.has_more(), PREFETCH_ROWS)
        });
        if wants_more {
            on_action.run(TreeAction::NearEnd);
        }
    });

    let child_at = move |index: usize| listing.with_untracked(|l| l.children.get(index).cloned());
    let prefix = move || listing.with_untracked(|l| l.prefix.clone());
    let activate = move |child: &Child| {
        if child.is_key {
            on_action.run(TreeAction::SelectKey(child.key(&prefix())));
        } else if child.has_children {
            on_action.run(TreeAction::EnterDir(
                child.dir(&prefix(), &separator.get_untracked()),
            ));
        }
    };
    let reveal = move |index: usize| {
        if let Some(el) = scroller.get_untracked()
            && let Some(top) = windowing::reveal(
                index,
                f64::from(el.scroll_top()),
                viewport.get_untracked(),
                ROW_PX,
            )
        {
            el.set_scroll_top(top as i32);
            scroll_top.set(top);
        }
    };
    let on_keydown = move |ev: ev::KeyboardEvent| {
        let len = total();
        let step = |delta: isize| {
            let next = windowing::move_cursor(cursor.get_untracked(), delta, len);
            cursor.set(next);
            if let Some(at) = next {
                reveal(at);
            }
        };
        let page = (viewport.get_untracked() / ROW_PX).floor().max(1.0) as isize;
        match ev.key().as_str() {
            "ArrowDown" => step(1),
            "ArrowUp" => step(-1),
            "PageDown" => step(page),
            "PageUp" => step(-page),
            "Home" => step(-(len as isize)),
            "End" => step(len as isize),
            "Enter" => {
                if let Some(child) = cursor.get_untracked().and_then(child_at) {
                    activate(&child);
                }
            }
            "ArrowRight" => match cursor.get_untracked().and_then(child_at) {
                Some(child) if child.has_children => on_action.run(TreeAction::EnterDir(
                    child.dir(&prefix(), &separator.get_untracked()),
                )),
                _ => return,
            },
            "ArrowLeft" | "Backspace" => on_action.run(TreeAction::Up),
            _ => return,
        }
        ev.prevent_default();
    };

    let rows = move || {
        // A refresh bumps `version`, so rows whose child changed re-render.
        let generation = listing.with(|l| (l.generation, l.version));
        let visible = range.get();
        listing.with(|l| {
            visible
                .filter_map(|i| l.children.get(i).map(|c| (generation, i, c.clone())))
                .collect::<Vec<_>>()
        })
    };
    let row_view = move |(_, index, child): ((u64, u64), usize, Child)| {
        // An empty segment (keys that start with the separator) is shown as
        // the separator itself, everywhere a person or a test reads a name.
        let name = if child.name.is_empty() {
            separator.get_untracked().display()
        } else {
            child.name.display()
        };
        let full_key = child.key(&prefix());
        let full_key_text = full_key.clone();
        let is_key = child.is_key;
        let is_selected =
            Memo::new(move |_| is_key && selected.with(|s| s.as_ref() == Some(&full_key)));
        let is_cursor = move || cursor.get() == Some(index);
        let row_class = move || {
            let base = "absolute inset-x-0 flex h-9 cursor-pointer items-center gap-2 border-b border-slate-100 px-3 dark:border-slate-800/60";
            // The ring shows on the cursor row while the list has keyboard
            // focus, over the row's own background in either colour scheme.
            let ring = "group-focus-visible:ring-2 group-focus-visible:ring-inset group-focus-visible:ring-sky-600 dark:group-focus-visible:ring-sky-300";
            match (is_selected.get(), is_cursor()) {
                (true, true) => format!("{base} bg-sky-100 dark:bg-sky-900/60 {ring}"),
                (true, false) => format!("{base} bg-sky-100 dark:bg-sky-900/60"),
                (false, true) => format!("{base} bg-slate-100 dark:bg-slate-800 {ring}"),
                (false, false) => format!("{base} hover:bg-slate-50 dark:hover:bg-slate-900"),
            }
        };
        let (icon, kind) = match (child.is_key, child.has_children) {
            (true, true) => ("◆", "key and directory"),
            (false, true) => ("▸", "directory"),
            _ => ("•", "key"),
        };
        let label = if child.name.is_empty() {
            view! { <span class="text-slate-500 dark:text-slate-400">{name.clone()}</span> }
                .into_any()
        } else {
            view! { <span>{name.clone()}</span> }.into_any()
        };
        // Kubernetes objects (`/registry/<resource>/[<namespace>/]<name>`)
        // show their kind from the key's path; the name is the row's own.
        let kube_kind = child
            .is_key
            .then(|| etcdeck_shared::kubernetes::key_kind(&full_key_text.0))
            .flatten()
            .map(|k| k.kind);
        let count = child.count.filter(|_| child.has_children);
        // Known only when the backend answered from its keyspace model.
        let bytes = child.bytes;
        let both = child.is_key && child.has_children;
        let dir = child.dir(&prefix(), &separator.get_untracked());
        let clicked = child.clone();
        view! {
            <div
                id=format!("tree-row-{index}")
                data-testid="tree-row"
                data-name=name.clone()
                role="option"
                aria-selected=move || if is_selected.get() { "true" } else { "false" }
                class=row_class
                style:position="absolute"
                style:height=format!("{ROW_PX}px")
                style:top=format!("{}px", index as f64 * ROW_PX)
                on:click=move |_| {
                    cursor.set(Some(index));
                    if let Some(el) = scroller.get_untracked() {
                        let _ = el.focus();
                    }
                    activate(&clicked);
                }
            >
                <span
                    aria-label=kind
                    title=kind
                    class="w-4 shrink-0 text-center text-slate-500 dark:text-slate-400"
                >
                    {icon}
                </span>
                {kube_kind
                    .map(|kind| {
                        view! {
                            <span
                                data-testid="kube-kind"
                                class="shrink-0 rounded bg-indigo-100 px-1.5 text-xs font-semibold text-indigo-900 dark:bg-indigo-900 dark:text-indigo-100"
                                title=format!("Kubernetes {kind}")
                            >
                                {kind.clone()}
                            </span>
                        }
                    })}
                <span class="min-w-0 flex-1 truncate font-mono" title=name.clone()>
                    {label}
                </span>
                {count
                    .map(|n| {
                        view! {
                            <span
                                data-testid="child-count"
                                class="shrink-0 rounded-full bg-slate-200 px-2 text-xs tabular-nums text-slate-700 dark:bg-slate-700 dark:text-slate-200"
                                title=format!("{n} keys under it")
                            >
                                {n}
                            </span>
                        }
                    })}
                {bytes
                    .map(|b| {
                        view! {
                            <span
                                data-testid="child-bytes"
                                class="shrink-0 text-xs tabular-nums text-slate-500 dark:text-slate-400"
                                title=format!("{b} bytes of keys and values")
                            >
                                {crate::format::human_size(usize::try_from(b).unwrap_or(usize::MAX))}
                            </span>
                        }
                    })}
                {both
                    .then(|| {
                        let dir = dir.clone();
                        view! {
                            <button
                                type="button"
                                data-testid="enter-dir"
                                aria-label=format!("Open directory {name}")
                                title="Open as directory"
                                tabindex="-1"
                                class="shrink-0 rounded px-2 text-lg leading-none text-slate-600 hover:bg-slate-200 dark:text-slate-300 dark:hover:bg-slate-700"
                                on:click=move |ev| {
                                    ev.stop_propagation();
                                    on_action.run(TreeAction::EnterDir(dir.clone()));
                                }
                            >
                                "›"
                            </button>
                        }
                    })}
            </div>
        }
    };

    let footer = move || {
        listing.with(|l| {
            let n = l.children.len();
            if !l.started {
                None
            } else if let Some(err) = &l.refresh_error {
                Some(failed_with_retry(
                    format!("loaded {n}; the level changed, re-reading it failed: {err}"),
                    on_action,
                    TreeAction::Changed,
                ))
            } else if let Some(err) = &l.error {
                Some(failed_with_retry(
                    format!("loaded {n}; next page failed: {err}"),
                    on_action,
                    TreeAction::Retry,
                ))
            } else if l.next.is_some() {
                Some(
                    view! { <span>{format!("loaded {n}")}{l.loading.then_some(" …")}</span> }
                        .into_any(),
                )
            } else {
                Some(view! { <span>{format!("all {n}")}</span> }.into_any())
            }
        })
    };

    let first_page_state = move || {
        listing.with(|l| {
            if l.started {
                if l.children.is_empty() {
                    Some(
                        view! {
                            <p data-testid="tree-empty" class="p-4 text-slate-600 dark:text-slate-300">
                                "no keys under this prefix"
                            </p>
                        }
                            .into_any(),
                    )
                } else {
                    None
                }
            } else if let Some(err) = &l.error {
                let message = err.to_string();
                Some(
                    view! {
                        <div data-testid="tree-error" role="alert" class="m-3 rounded border border-red-300 bg-red-50 p-3 text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
                            <p class="font-medium">"Could not list this prefix"</p>
                            <p class="mt-1 text-sm">{message}</p>
                            <button
                                type="button"
                                class="mt-2 rounded border border-red-400 px-2 py-0.5 text-sm"
                                on:click=move |_| on_action.run(TreeAction::Retry)
                            >
                                "retry"
                            </button>
                        </div>
                    }
                        .into_any(),
                )
            } else {
                Some(
                    view! {
                        <p data-testid="tree-loading" class="p-4 text-slate-600 dark:text-slate-300">
                            "loading…"
                        </p>
                    }
                        .into_any(),
                )
            }
        })
    };

    view! {
        // The layout that the windowing depends on is also set on the
        // element, so the list stays bounded (and small) even without the
        // stylesheet; through the CSSOM (`style:`), since the
        // Content-Security-Policy refuses `style` attributes.
        <div
            class="flex min-h-0 flex-1 flex-col"
            style:display="flex"
            style:flex-direction="column"
            style:flex="1 1 0%"
            style:min-height="0"
        >
            {first_page_state}
            <div
                node_ref=scroller
                data-testid="tree-list"
                role="listbox"
                tabindex="0"
                aria-label="Children of this prefix"
                aria-activedescendant=move || cursor.get().map(|i| format!("tree-row-{i}"))
                class="group relative min-h-0 flex-1 overflow-y-auto outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-inset"
                style:overflow-y="auto"
                style:position="relative"
                style:flex="1 1 0%"
                style:min-height="0"
                on:scroll=move |_| {
                    if let Some(el) = scroller.get_untracked() {
                        scroll_top.set(f64::from(el.scroll_top()));
                    }
                }
                on:keydown=on_keydown
            >
                <div class="relative" style:position="relative" style:height=move || format!("{}px", total() as f64 * ROW_PX)>
                    <For each=rows key=|(generation, index, _)| (*generation, *index) children=row_view />
                </div>
            </div>
            <div
                data-testid="tree-footer"
                class="border-t border-slate-200 px-3 py-1 text-sm text-slate-600 dark:border-slate-800 dark:text-slate-300"
            >
                {footer}
            </div>
        </div>
    }
}

/// Whether keyboard focus is on a control outside the list (an input, a
/// button, a link): then bringing a row into view leaves it there.
fn typing_elsewhere(list: &web_sys::HtmlElement) -> bool {
    let Some(active) = document().active_element() else {
        return false;
    };
    let body = document().body();
    let on_body = body.is_some_and(|b| {
        let b: &web_sys::Element = b.as_ref();
        b == &active
    });
    let in_list = list.contains(Some(active.as_ref()));
    !on_body && !in_list
}

/// A failure in the list's footer, with a button that asks again.
fn failed_with_retry(
    message: String,
    on_action: Callback<TreeAction>,
    retry: TreeAction,
) -> AnyView {
    view! {
        <span role="alert" class="text-red-700 dark:text-red-300">
            {message}
        </span>
        <button type="button" class="ml-2 underline" on:click=move |_| on_action.run(retry.clone())>
            "retry"
        </button>
    }
    .into_any()
}
