//! Writes to more than a value: the dialogs that delete a key
//! (`delete-key-dialog`), delete every key under a prefix after showing the
//! exact count and the first keys and having the user type the prefix
//! (`delete-prefix-dialog`, `confirm-input`), and copy or rename a key or
//! a small prefix (`copy-dialog`). Each one write, guarded on what the user
//! saw; refusals from the backend are shown as its sentences. Escape
//! closes any of them wherever the focus is. After the prefix delete is
//! refused (409: the prefix changed since its count; 403: etcd said no) its
//! count is dropped and the button stays disabled until the keys are
//! counted again.

use etcdeck_shared::edit::{
    CopyRequest, DeletePrefixRequest, DeleteRequest, MAX_COPY_KEYS, PrefixPreview, Written,
};
use etcdeck_shared::{Bytes, Revision};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiFailure;
use crate::api::edit as api;
use crate::edit;
use crate::route::bytes_from_display;

const BUTTON: &str =
    "rounded border px-3 py-1 text-sm disabled:cursor-not-allowed disabled:opacity-50";
const QUIET: &str =
    "border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800";
const DANGER: &str = "border-red-700 bg-red-700 text-white hover:bg-red-800";
const INPUT: &str = "w-full rounded border border-slate-300 bg-white px-2 py-1 font-mono text-sm dark:border-slate-600 dark:bg-slate-900";

/// The title a write control carries when the session may not write.
pub const READ_ONLY_TITLE: &str = "This session may not write";

/// A modal box over the page; Escape or "Cancel" closes it.
#[component]
pub fn Dialog(
    #[prop(into)] title: String,
    #[prop(into)] testid: String,
    on_close: Callback<()>,
    children: Children,
) -> impl IntoView {
    let label = title.clone();
    // On the window, not the box: the button that opened the dialog is
    // gone, so the focus is usually on the page's body, outside the box.
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && !ev.default_prevented() {
            ev.prevent_default();
            on_close.run(());
        }
    });
    on_cleanup(move || escape.remove());
    view! {
        <div
            class="fixed inset-0 z-40 flex items-start justify-center overflow-auto bg-black/40 p-4"
        >
            <div
                data-testid=testid
                role="dialog"
                aria-modal="true"
                aria-label=label
                class="mt-12 flex w-full max-w-2xl flex-col gap-3 rounded-lg border border-slate-300 bg-white p-4 text-slate-900 shadow-xl dark:border-slate-700 dark:bg-slate-950 dark:text-slate-100"
            >
                <h2 class="text-lg font-semibold">{title}</h2>
                {children()}
            </div>
        </div>
    }
}

/// A failed write as a sentence for the dialog.
pub fn failure_sentence(failure: &ApiFailure) -> String {
    match failure {
        ApiFailure::Conflict(conflict) => match &conflict.current {
            None => {
                "This key no longer exists: someone deleted it. Nothing was written.".to_owned()
            }
            Some(kv) => format!(
                "{} (it is now at mod revision {}). Nothing was written; look at it again.",
                conflict.message, kv.mod_revision
            ),
        },
        ApiFailure::Api { status: 413, error } => {
            format!("Too large for one etcd transaction: {}", error.message)
        }
        other => other.to_string(),
    }
}

fn error_line(message: RwSignal<Option<String>>) -> impl IntoView {
    move || {
        message.get().map(|m| {
            view! {
                <p data-testid="dialog-error" role="alert" class="rounded border border-red-300 bg-red-50 p-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">{m}</p>
            }
        })
    }
}

/// Deletes one key as the user saw it.
#[component]
pub fn DeleteKeyDialog(
    key: Bytes,
    expect: Revision,
    on_close: Callback<()>,
    on_done: Callback<Written>,
) -> impl IntoView {
    let can_write = crate::session::can_write();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let shown = key.display();
    let request = StoredValue::new(DeleteRequest {
        key,
        expect_mod_revision: expect,
    });
    let delete = move |_| {
        busy.set(true);
        error.set(None);
        let request = request.get_value();
        spawn_local(async move {
            let answer = api::delete(&request).await;
            busy.try_set(false);
            match answer {
                Ok(written) => on_done.run(written),
                Err(failure) => {
                    error.try_set(Some(failure_sentence(&failure)));
                }
            }
        });
    };
    view! {
        <Dialog title="Delete key" testid="delete-key-dialog" on_close=on_close>
            <p class="text-sm">"Delete this key? Only if it is still at mod revision " {expect.0} "."</p>
            <p class="break-all font-mono text-sm">{shown}</p>
            {error_line(error)}
            <div class="flex gap-2">
                <button type="button" data-testid="confirm-delete-key" class=format!("{BUTTON} {DANGER}")
                    disabled=move || busy.get() || !can_write.get()
                    title=move || if can_write.get() { "" } else { READ_ONLY_TITLE }
                    on:click=delete>
                    {move || if busy.get() { "deleting…" } else { "Delete" }}
                </button>
                <button type="button" data-testid="cancel-dialog" class=format!("{BUTTON} {QUIET}") on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
            </div>
        </Dialog>
    }
}

/// What the delete-prefix dialog knows of the prefix.
type Preview = Option<Result<PrefixPreview, ApiFailure>>;

/// Whether a failed prefix delete makes its preview stale: the prefix
/// changed since it was counted (409), or etcd refused (403).
fn refuses_preview(failure: &ApiFailure) -> bool {
    matches!(
        failure,
        ApiFailure::Conflict(_)
            | ApiFailure::Api {
                status: 409 | 403,
                ..
            }
    )
}

/// Deletes every key under a prefix: shows the preview, and enables the
/// button only once the prefix is typed exactly.
#[component]
pub fn DeletePrefixDialog(
    prefix: Bytes,
    on_close: Callback<()>,
    on_done: Callback<Written>,
    /// A preview already read (tests); otherwise it is read on open.
    #[prop(optional)]
    preview: Option<PrefixPreview>,
) -> impl IntoView {
    let can_write = crate::session::can_write();
    let loaded = RwSignal::new(preview.map(Ok) as Preview);
    let typed = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // The delete was refused: the count shown is no longer to be trusted.
    let stale = RwSignal::new(false);
    let prefix = StoredValue::new(prefix);
    let load = move || {
        stale.set(false);
        error.set(None);
        loaded.set(None);
        let prefix = prefix.get_value();
        spawn_local(async move {
            let answer = api::prefix_preview(&prefix).await;
            loaded.try_set(Some(answer));
        });
    };
    if loaded.with_untracked(Option::is_none) {
        load();
    }
    let ready = Memo::new(move |_| {
        !stale.get()
            && loaded.with(|p| matches!(p, Some(Ok(p)) if p.count > 0))
            && typed.with(|t| prefix.with_value(|p| edit::confirms(t, p)))
    });
    let delete = move |_| {
        let Some(Ok(preview)) = loaded.get_untracked() else {
            return;
        };
        let request = DeletePrefixRequest {
            prefix: preview.prefix.clone(),
            revision: preview.revision,
            count: preview.count,
            confirm: typed.get_untracked(),
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let answer = api::delete_prefix(&request).await;
            busy.try_set(false);
            match answer {
                Ok(written) => on_done.run(written),
                Err(failure) => {
                    if refuses_preview(&failure) {
                        stale.try_set(true);
                    }
                    error.try_set(Some(failure_sentence(&failure)));
                }
            }
        });
    };
    let shown = prefix.with_value(Bytes::display);
    let preview_view = move || {
        if stale.get() {
            return view! {
                <div data-testid="preview-cleared" class="flex flex-wrap items-center gap-2 text-sm">
                    <span>"The count was refused and is cleared: count the keys again before deleting."</span>
                    <button type="button" data-testid="recount-prefix" class=format!("{BUTTON} {QUIET}")
                        on:click=move |_| load()>
                        "Count again"
                    </button>
                </div>
            }
            .into_any();
        }
        match loaded.get() {
        None => view! { <p class="text-sm">"counting the keys…"</p> }.into_any(),
        Some(Err(failure)) => view! {
            <p data-testid="dialog-error" role="alert" class="text-sm text-red-700 dark:text-red-300">{failure_sentence(&failure)}</p>
        }
        .into_any(),
        Some(Ok(p)) if p.count == 0 => view! {
            <p data-testid="prefix-count" class="text-sm">"No keys are under this prefix: there is nothing to delete."</p>
        }
        .into_any(),
        Some(Ok(p)) => {
            let more = (p.count as usize).saturating_sub(p.keys.len());
            let keys = p
                .keys
                .iter()
                .map(|k| view! { <li class="break-all">{k.display()}</li> })
                .collect_view();
            view! {
                <p data-testid="prefix-count" class="text-sm font-medium">
                    {format!("{} {} will be deleted (counted at revision {}).", p.count, if p.count == 1 { "key" } else { "keys" }, p.revision)}
                </p>
                <ul data-testid="prefix-keys" class="max-h-48 overflow-auto rounded border border-slate-200 p-2 font-mono text-xs dark:border-slate-700">
                    {keys}
                    {(more > 0).then(|| view! { <li class="italic text-slate-600 dark:text-slate-400">{format!("… and {more} more")}</li> })}
                </ul>
            }
            .into_any()
        }
    }
    };
    view! {
        <Dialog title="Delete prefix" testid="delete-prefix-dialog" on_close=on_close>
            <p class="text-sm">"Every key under this prefix is deleted in one etcd transaction, only if none changed since the count below."</p>
            <p class="break-all font-mono text-sm">{shown.clone()}</p>
            {preview_view}
            <label class="flex flex-col gap-1 text-sm">
                <span>"Type the prefix exactly to confirm: " <code class="font-mono">{shown}</code></span>
                <input type="text" data-testid="confirm-input" class=INPUT autocomplete="off" spellcheck="false"
                    prop:value=move || typed.get()
                    on:input=move |ev| typed.set(event_target_value(&ev)) />
            </label>
            {error_line(error)}
            <div class="flex gap-2">
                <button type="button" data-testid="confirm-delete-prefix" class=format!("{BUTTON} {DANGER}")
                    disabled=move || busy.get() || !ready.get() || !can_write.get()
                    title=move || if can_write.get() { "" } else { READ_ONLY_TITLE }
                    on:click=delete>
                    {move || if busy.get() { "deleting…" } else { "Delete every key" }}
                </button>
                <button type="button" data-testid="cancel-dialog" class=format!("{BUTTON} {QUIET}") on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
            </div>
        </Dialog>
    }
}

/// Copies or renames a key (`prefix = false`, guarded on the revision the
/// key was read at) or every key under a prefix (guarded on a fresh
/// preview's revision).
#[component]
pub fn CopyDialog(
    from: Bytes,
    prefix: bool,
    rename: bool,
    /// The revision the user saw the key at (ignored for a prefix).
    #[prop(optional)]
    seen_at: Option<Revision>,
    on_close: Callback<()>,
    /// Called with the target once written.
    on_done: Callback<Bytes>,
) -> impl IntoView {
    let can_write = crate::session::can_write();
    let target = RwSignal::new(from.display());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let loaded = RwSignal::new(None::<Result<PrefixPreview, ApiFailure>>);
    let from = StoredValue::new(from);
    if prefix {
        spawn_local(async move {
            let answer = api::prefix_preview(&from.get_value()).await;
            loaded.try_set(Some(answer));
        });
    }
    let revision = move || -> Option<Revision> {
        if prefix {
            loaded.with(|l| match l {
                Some(Ok(p)) => Some(p.revision),
                _ => None,
            })
        } else {
            seen_at
        }
    };
    let target_bytes = Memo::new(move |_| bytes_from_display(&target.get()));
    let problem = Memo::new(move |_| {
        let to = target_bytes.get();
        from.with_value(|from| {
            if to.is_empty() {
                Some("type a target".to_owned())
            } else if &to == from {
                Some("the target is the source itself".to_owned())
            } else if prefix && to.as_slice().starts_with(from.as_slice()) {
                Some("the target is inside the prefix being copied".to_owned())
            } else {
                None
            }
        })
    });
    let too_many = move || {
        loaded.with(|l| match l {
            Some(Ok(p)) if p.count as usize > MAX_COPY_KEYS => Some(format!(
                "{} keys are under this prefix; one copy moves at most {MAX_COPY_KEYS} (etcd allows 128 operations per transaction).",
                p.count
            )),
            _ => None,
        })
    };
    let go = move |_| {
        let Some(revision) = revision() else {
            return;
        };
        let to = target_bytes.get_untracked();
        let request = CopyRequest {
            from: from.get_value(),
            to: to.clone(),
            prefix,
            rename,
            revision,
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let answer = api::copy(&request).await;
            busy.try_set(false);
            match answer {
                Ok(_) => on_done.run(to),
                Err(failure) => {
                    error.try_set(Some(failure_sentence(&failure)));
                }
            }
        });
    };
    let verb = if rename { "Rename" } else { "Copy" };
    let what = if prefix { "prefix" } else { "key" };
    let count_view = move || {
        prefix.then(|| match loaded.get() {
            None => view! { <p class="text-sm">"counting the keys…"</p> }.into_any(),
            Some(Err(failure)) => view! { <p role="alert" class="text-sm text-red-700 dark:text-red-300">{failure_sentence(&failure)}</p> }.into_any(),
            Some(Ok(p)) => view! { <p data-testid="prefix-count" class="text-sm">{format!("{} keys under this prefix (at revision {}).", p.count, p.revision)}</p> }.into_any(),
        })
    };
    view! {
        <Dialog title=format!("{verb} {what}") testid="copy-dialog" on_close=on_close>
            <p class="break-all font-mono text-sm">{from.with_value(Bytes::display)}</p>
            {count_view}
            {move || too_many().map(|m| view! { <p role="alert" class="text-sm text-amber-800 dark:text-amber-300">{m}</p> })}
            <label class="flex flex-col gap-1 text-sm">
                <span>{if prefix { "Target prefix (each key keeps its suffix)" } else { "Target key" }}</span>
                <input type="text" data-testid="copy-target" class=INPUT spellcheck="false"
                    prop:value=move || target.get()
                    on:input=move |ev| target.set(event_target_value(&ev)) />
            </label>
            {move || problem.get().map(|p| view! { <p class="text-sm text-slate-600 dark:text-slate-400">{p}</p> })}
            {error_line(error)}
            <div class="flex gap-2">
                <button type="button" data-testid="confirm-copy" class=format!("{BUTTON} border-blue-700 bg-blue-700 text-white hover:bg-blue-800")
                    disabled=move || busy.get() || problem.with(Option::is_some) || revision().is_none() || !can_write.get()
                    title=move || if can_write.get() { "" } else { READ_ONLY_TITLE }
                    on:click=go>
                    {move || if busy.get() { if rename { "renaming…" } else { "copying…" } } else { verb }}
                </button>
                <button type="button" data-testid="cancel-dialog" class=format!("{BUTTON} {QUIET}") on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
            </div>
        </Dialog>
    }
}
