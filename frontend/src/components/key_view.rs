//! The selected key (`data-testid="key-view"`): its name with a copy button,
//! its value in a [`ValueViewer`], and its metadata (revisions, version,
//! lease). Loads the key through [`crate::api`] whenever the selection
//! changes, and shows loading, not-found and error states.
//!
//! With the app's live client ([`Watcher`]) it stays current: after each read it watches the
//! key from the revision after the read and applies puts and deletes in
//! place ("deleted at revision N"); after a gap, or a put that moves the key
//! to another lease (whose TTL only a read can tell), it reads again.
//!
//! Write controls follow what the user may do: when a key is opened,
//! [`crate::may_write`] asks etcd once whether this user may write it
//! (nothing is written), and "edit", "delete", "rename…" and "create it"
//! are disabled while that is being asked and when etcd would refuse, with
//! the reason as their title and under the key (`write-hint`); if the probe
//! fails they are enabled and etcd decides at save. "copy to…" writes only
//! its target, so it follows the session alone. "edit" opens the [`Editor`] on the value shown, guarded on its
//! `mod_revision`; "delete", "copy to…" and "rename…" open the dialogs of
//! [`crate::components::prefix_ops`]; the [`HistoryPanel`] restores an older
//! version through the editor. With `at = Some(R)` the key is shown as it
//! was at revision `R`, read-only and not watched. A value the backend
//! masked shows as hidden ([`MaskedValue`]), with "Reveal" for etcd's root,
//! who may then edit it; for everyone else "edit" is disabled with why.

use etcdeck_shared::edit::Written;
use etcdeck_shared::ws::{EventKind, SubId, WatchKv, WatchRange};
use etcdeck_shared::{Bytes, ErrorCode, KeyValue, Lease, Revision};
use leptos::prelude::*;

use crate::api::{self, ApiFailure};
use crate::components::copy_button::CopyButton;
use crate::components::decoded_value::DecodedValue;
use crate::components::editor::{EditTarget, Editor};
use crate::components::history::HistoryPanel;
use crate::components::masked_value::{MaskedValue, REVEAL_FIRST, edit_refusal};
use crate::components::prefix_ops::{CopyDialog, DeleteKeyDialog};
use crate::components::value_viewer::ValueViewer;
use crate::freshness::{Freshness, now_ms};
use crate::live::Delivery;
use crate::live_view::{Health, Watcher, follow_link};
use crate::may_write::{self, Permission};
use crate::session;

/// Which key an answer belongs to, so a late answer for the previous
/// selection is never shown as the current one.
type Loaded = (Bytes, Result<KeyValue, ApiFailure>);

/// What the live watch learned since the last read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LiveChange {
    Put(WatchKv),
    Deleted(Revision),
}

/// Watches the key of each successful read (or of a "not found", from the
/// revision it was missing at)
/// and records changes in `change`; asks for a new read when the change
/// cannot be applied in place.
fn watch_key(
    watcher: Watcher,
    resource: LocalResource<Option<Loaded>>,
    change: RwSignal<Option<(Bytes, LiveChange)>>,
) {
    let watcher = StoredValue::new_local(watcher);
    let subscription = StoredValue::new(None::<SubId>);
    let stop = move || {
        if let (Some(id), Some(watcher)) = (
            subscription.try_get_value().flatten(),
            watcher.try_get_value(),
        ) {
            watcher.unsubscribe(id);
            subscription.try_set_value(None);
        }
    };
    Effect::new(move |_| {
        // What the last read says: the key, where to watch from, its lease.
        let read = resource.with(|r| match r {
            Some(Some((key, Ok(kv)))) => Some((
                key.clone(),
                Some(Revision(kv.revision.0 + 1)),
                kv.lease.as_ref().map(|l| l.id),
            )),
            // Missing as of the read's revision: watch from the next one,
            // so a key created right after the read still shows up.
            Some(Some((key, Err(e)))) if e.is_not_found() => {
                Some((key.clone(), e.revision().map(|r| Revision(r.0 + 1)), None))
            }
            _ => None,
        });
        stop();
        change.set(None);
        let Some((key, from, lease)) = read else {
            return;
        };
        let Some(client) = watcher.try_get_value() else {
            return;
        };
        let watched = key.clone();
        let id = client.subscribe(WatchRange::key(key), false, from, move |delivery| {
            match delivery {
                Delivery::Events(events) => {
                    // Only the latest state of the key matters.
                    let Some(last) = events.into_iter().last() else {
                        return;
                    };
                    match last.kind {
                        EventKind::Delete => {
                            change.try_set(Some((
                                watched.clone(),
                                LiveChange::Deleted(last.kv.mod_revision),
                            )));
                        }
                        EventKind::Put if last.kv.lease.is_some() && last.kv.lease != lease => {
                            resource.refetch();
                        }
                        EventKind::Put => {
                            change.try_set(Some((watched.clone(), LiveChange::Put(last.kv))));
                        }
                    }
                }
                Delivery::Gap(_) => resource.refetch(),
                _ => {}
            }
        });
        subscription.set_value(Some(id));
    });
    on_cleanup(stop);
}

/// The read key with a later put applied.
fn merged(read: Option<KeyValue>, kv: WatchKv) -> KeyValue {
    let lease = read
        .and_then(|r| r.lease)
        .filter(|l| Some(l.id) == kv.lease);
    KeyValue {
        key: kv.key,
        value: kv.value,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        lease,
        revision: kv.mod_revision,
        masked: kv.masked,
    }
}

/// A dialog the key view has open.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyDialog {
    Delete(Bytes, Revision),
    Copy {
        key: Bytes,
        rename: bool,
        seen_at: Revision,
    },
}

/// The key view's write-side state, passed to the parts it renders.
#[derive(Clone, Copy)]
struct Controls {
    editing: RwSignal<Option<EditTarget>>,
    dialog: RwSignal<Option<KeyDialog>>,
    /// Whether etcd would let this user write the key shown.
    may: Signal<Permission>,
    /// Whether the session may write at all (copies write elsewhere).
    session: Signal<Permission>,
    /// The key is shown as of an earlier revision: nothing is editable.
    past: bool,
}

#[component]
pub fn KeyView(
    #[prop(into)] selected: Signal<Option<Bytes>>,
    /// Show the key as it was at this revision (read-only, not watched).
    #[prop(into, optional)]
    at: MaybeProp<Revision>,
    /// Opens another key (the target of a copy or rename).
    #[prop(optional)]
    on_open: Option<Callback<Bytes>>,
) -> impl IntoView {
    let resource = LocalResource::new(move || {
        let key = selected.get();
        let at = at.get();
        async move {
            match key {
                Some(key) => {
                    let answer = match at {
                        Some(revision) => api::edit::key_at(&key, revision).await,
                        None => api::key(&key).await,
                    };
                    Some((key, answer))
                }
                None => None,
            }
        }
    });
    let editing = RwSignal::new(None::<EditTarget>);
    let dialog = RwSignal::new(None::<KeyDialog>);
    // Another key (or revision) closes what was open for the last one.
    Effect::new(move |_| {
        selected.track();
        at.track();
        editing.set(None);
        dialog.set(None);
    });

    // How current the shown key is, fed by every answer: a read that failed
    // because etcd or the backend was away is repeated once the connection
    // is healthy again (the one rule of `crate::live_view::follow_link`).
    let freshness = RwSignal::new(Freshness::new());
    Effect::new(move |_| {
        resource.with(|r| {
            if let Some(Some((_, answer))) = r {
                let now = now_ms();
                freshness.update(|f| {
                    f.answered(now, answer.as_ref().map(|kv| kv.revision));
                });
            }
        });
    });
    follow_link(Health::from_context(), freshness, move || {
        resource.refetch()
    });

    let change = RwSignal::new(None::<(Bytes, LiveChange)>);
    // The past does not change: only a live view is watched.
    if let Some(watcher) = Watcher::from_context()
        && at.get_untracked().is_none()
    {
        watch_key(watcher, resource, change);
    }
    // Asked once per key opened: live changes to the key do not ask again.
    let past = at.get_untracked().is_some();
    let target = Signal::derive(move || {
        if past {
            None
        } else {
            selected.get().map(may_write::key)
        }
    });
    let controls = Controls {
        editing,
        dialog,
        may: kubernetes_read_only(selected, may_write::may_write(target)),
        session: may_write::may_write(Signal::stored(None)),
        past,
    };
    let write_hint = move || {
        if controls.past || selected.with(Option::is_none) {
            return None;
        }
        controls.may.get().refusal().map(|why| {
            view! {
                <p data-testid="write-hint" role="note" class="rounded border border-slate-300 bg-slate-50 p-2 text-sm text-slate-700 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-300">
                    {format!("Read-only here: {why}")}
                </p>
            }
        })
    };

    // The key as shown now (read, with live changes applied): what a
    // restored version is guarded on.
    let shown = Memo::new(move |_| {
        let key = selected.get()?;
        let (loaded, answer) = resource.get().flatten()?;
        if loaded != key {
            return None;
        }
        let read = answer.ok();
        match change.get().filter(|(k, _)| *k == key).map(|(_, c)| c) {
            None => read,
            Some(LiveChange::Put(kv)) => Some(merged(read, kv)),
            Some(LiveChange::Deleted(_)) => None,
        }
    });
    // Outside `content`, so live changes to the key do not close it.
    let history = move || {
        if controls.past {
            return None;
        }
        let key = selected.get()?;
        let restore = Callback::new(move |value: Bytes| {
            let seen = shown.get_untracked();
            controls.editing.set(Some(EditTarget {
                key: seen
                    .as_ref()
                    .map_or_else(|| key_of(selected), |kv| kv.key.clone()),
                value,
                original: seen.as_ref().map(|kv| kv.value.clone()),
                // A key deleted since is re-created.
                expect: seen.as_ref().map_or(Revision(0), |kv| kv.mod_revision),
                lease: seen.as_ref().and_then(|kv| kv.lease.as_ref().map(|l| l.id)),
                new_key: false,
            }));
        });
        Some(view! { <HistoryPanel key=key on_restore=restore /> })
    };

    let content = move || {
        let Some(key) = selected.get() else {
            return view! {
                <p data-testid="key-hint" class="p-6 text-slate-600 dark:text-slate-300">
                    "Select a key in the list to see its value. "
                    "Use the arrow keys in the list, Enter to open, Left or Backspace to go up."
                </p>
            }
            .into_any();
        };
        match resource.get().flatten() {
            Some((loaded, answer)) if loaded == key => {
                let live = change.get().filter(|(k, _)| *k == key).map(|(_, c)| c);
                match live {
                    None => loaded_view(key, answer, resource, controls),
                    Some(LiveChange::Put(kv)) => {
                        loaded_view(key, Ok(merged(answer.ok(), kv)), resource, controls)
                    }
                    Some(LiveChange::Deleted(revision)) => {
                        deleted_view(key, revision, resource, controls)
                    }
                }
            }
            // Nothing yet, or still the previous key's answer.
            _ => view! {
                <KeyTitle key=key.clone() />
                <p data-testid="key-loading" class="text-slate-600 dark:text-slate-300">
                    "loading…"
                </p>
            }
            .into_any(),
        }
    };

    let saved = Callback::new(move |_: Written| {
        editing.set(None);
        resource.refetch();
    });
    // Cancelled, or "take theirs": read the key as it is now.
    let closed = Callback::new(move |()| {
        editing.set(None);
        resource.refetch();
    });
    // Outside `content`, so live changes to the key never reset an edit.
    let editor = move || {
        editing.get().map(|target| {
            view! { <Editor target=target on_saved=saved on_cancel=closed /> }
        })
    };
    let close_dialog = Callback::new(move |()| dialog.set(None));
    let dialogs = move || {
        dialog.get().map(|open| match open {
            KeyDialog::Delete(key, expect) => view! {
                <DeleteKeyDialog key=key expect=expect on_close=close_dialog
                    on_done=Callback::new(move |_| { dialog.set(None); resource.refetch(); }) />
            }
            .into_any(),
            KeyDialog::Copy { key, rename, seen_at } => view! {
                <CopyDialog from=key prefix=false rename=rename seen_at=seen_at on_close=close_dialog
                    on_done=Callback::new(move |target: Bytes| {
                        dialog.set(None);
                        resource.refetch();
                        if let Some(open) = on_open {
                            open.run(target);
                        }
                    }) />
            }
            .into_any(),
        })
    };

    view! {
        <section
            data-testid="key-view"
            aria-label="Selected key"
            class="flex min-h-0 min-w-0 flex-col gap-3 overflow-auto p-4"
        >
            {move || at.get().map(|revision| view! {
                <p data-testid="key-as-of" role="status" class="rounded border border-amber-300 bg-amber-50 p-2 text-sm dark:border-amber-800 dark:bg-amber-950/40">
                    {format!("As of revision {revision}: read-only.")}
                </p>
            })}
            {editor}
            {content}
            {write_hint}
            {history}
            {dialogs}
        </section>
    }
}

fn key_of(selected: Signal<Option<Bytes>>) -> Bytes {
    selected.get_untracked().unwrap_or_default()
}

/// A write button: disabled with the reason when `may` does not allow it.
fn write_button(
    label: &'static str,
    testid: &'static str,
    title: &'static str,
    may: Signal<Permission>,
    controls: Controls,
    on_click: impl Fn() + 'static,
) -> impl IntoView {
    let editing = controls.editing;
    view! {
        <button
            type="button"
            data-testid=testid
            title=move || may.with(|p| p.title(title))
            disabled=move || !may.with(Permission::enabled) || editing.with(Option::is_some)
            class="rounded border border-slate-300 px-2 py-0.5 text-sm hover:bg-slate-100 disabled:cursor-not-allowed disabled:opacity-50 dark:border-slate-600 dark:hover:bg-slate-800"
            on:click=move |_| on_click()
        >
            {label}
        </button>
    }
}

/// "Create it": opens the editor on a missing key (guarded on "must not
/// exist").
fn recreate_button(key: Bytes, controls: Controls) -> Option<impl IntoView> {
    (!controls.past).then(|| {
        write_button(
            "create it",
            "recreate-key",
            "Write this key again",
            controls.may,
            controls,
            move || {
                controls.editing.set(Some(EditTarget {
                    key: key.clone(),
                    value: Bytes::default(),
                    original: None,
                    expect: Revision(0),
                    lease: None,
                    new_key: false,
                }));
            },
        )
    })
}

fn loaded_view(
    key: Bytes,
    answer: Result<KeyValue, ApiFailure>,
    resource: LocalResource<Option<Loaded>>,
    controls: Controls,
) -> AnyView {
    let reload = move |_| resource.refetch();
    match answer {
        Ok(kv) => {
            // A masked value root revealed; gone when the key changes (this
            // view is built again) or the page is left.
            let revealed = RwSignal::new(None::<Bytes>);
            let actions = (!controls.past).then(|| key_actions(&kv, controls, revealed));
            let KeyValue {
                key: read_key,
                value,
                create_revision,
                mod_revision,
                version,
                lease,
                revision,
                masked,
            } = kv;
            let value_view = match masked {
                // Kubernetes objects and gzip streams are decoded by the
                // backend; the stored bytes stay viewable below.
                None if etcdeck_shared::kubernetes::decodable(&value.0) => view! {
                    <DecodedValue key=read_key.clone() revision=revision />
                    <details data-testid="stored-bytes" class="rounded border border-slate-200 dark:border-slate-700">
                        <summary class="cursor-pointer px-3 py-1 text-sm">"stored bytes"</summary>
                        <ValueViewer value=value />
                    </details>
                }
                .into_any(),
                None => {
                    // Opened from a search hit: the match is marked.
                    let highlight = leptos_router::hooks::use_location()
                        .search
                        .with_untracked(|search| crate::route::highlight_param(search));
                    view! { <ValueViewer value=value highlight=highlight /> }.into_any()
                }
                Some(masked) => view! {
                    <MaskedValue key=read_key masked=masked revision=mod_revision revealed=revealed />
                }
                .into_any(),
            };
            view! {
                <KeyTitle key=key>
                    <button
                        type="button"
                        data-testid="reload-key"
                        aria-label="Reload this key"
                        title="Read the key again"
                        class="rounded border border-slate-300 px-2 py-0.5 text-sm hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800"
                        on:click=reload
                    >
                        "reload"
                    </button>
                    {actions}
                </KeyTitle>
                <dl
                    data-testid="key-meta"
                    class="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm sm:grid-cols-[max-content_1fr_max-content_1fr]"
                >
                    <dt class="text-slate-600 dark:text-slate-400">"create revision"</dt>
                    <dd data-testid="create-revision" class="tabular-nums">{create_revision.to_string()}</dd>
                    <dt class="text-slate-600 dark:text-slate-400">"mod revision"</dt>
                    <dd data-testid="mod-revision" class="tabular-nums">{mod_revision.to_string()}</dd>
                    <dt class="text-slate-600 dark:text-slate-400">"version"</dt>
                    <dd data-testid="version" class="tabular-nums">{version}</dd>
                    <dt class="text-slate-600 dark:text-slate-400">"lease"</dt>
                    <dd data-testid="lease">{lease_text(lease.as_ref())}</dd>
                    <dt class="text-slate-600 dark:text-slate-400">"as of revision"</dt>
                    <dd class="tabular-nums">{revision.to_string()}</dd>
                </dl>
                {value_view}
            }
            .into_any()
        }
        Err(failure) if failure.is_not_found() => view! {
            <KeyTitle key=key.clone() />
            <div data-testid="key-not-found" role="status" class="rounded border border-slate-300 bg-slate-50 p-3 dark:border-slate-700 dark:bg-slate-900">
                <p class="font-medium">{if controls.past { "this key did not exist at that revision" } else { "this key does not exist (any more)" }}</p>
                <div class="mt-2 flex items-center gap-3">
                    <button type="button" class="text-sm underline" on:click=reload>
                        "check again"
                    </button>
                    {recreate_button(key, controls)}
                </div>
            </div>
        }
        .into_any(),
        Err(failure) => {
            let title = match failure.code() {
                Some(ErrorCode::PermissionDenied) => "permission denied",
                Some(ErrorCode::EtcdUnavailable) => "etcd is unavailable",
                Some(ErrorCode::TooLarge) => "too large to show",
                Some(ErrorCode::Compacted) => "that revision is gone",
                _ => "could not read this key",
            };
            view! {
                <KeyTitle key=key />
                <div data-testid="key-error" role="alert" class="rounded border border-red-300 bg-red-50 p-3 text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
                    <p class="font-medium">{title}</p>
                    <p class="mt-1 text-sm">{failure.to_string()}</p>
                    <button type="button" class="mt-2 text-sm underline" on:click=reload>
                        "retry"
                    </button>
                </div>
            }
            .into_any()
        }
    }
}

fn deleted_view(
    key: Bytes,
    revision: Revision,
    resource: LocalResource<Option<Loaded>>,
    controls: Controls,
) -> AnyView {
    view! {
        <KeyTitle key=key.clone() />
        <div data-testid="key-deleted" role="status" class="rounded border border-slate-300 bg-slate-50 p-3 dark:border-slate-700 dark:bg-slate-900">
            <p class="font-medium">{format!("deleted at revision {revision}")}</p>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-300">
                "If it is written again, it shows here."
            </p>
            <div class="mt-2 flex items-center gap-3">
                <button type="button" class="text-sm underline" on:click=move |_| resource.refetch()>
                    "check again"
                </button>
                {recreate_button(key, controls)}
            </div>
        </div>
    }
    .into_any()
}

/// Edit, delete, copy and rename for a key read as `kv`. A masked value is
/// edited only by etcd's root once revealed (the editor starts from the
/// value and the conflict screen compares values, so it needs the value);
/// for everyone else "edit" is disabled with the reason. Delete, copy and
/// rename never show the value, so they follow etcd's permissions alone.
fn key_actions(
    kv: &KeyValue,
    controls: Controls,
    revealed: RwSignal<Option<Bytes>>,
) -> impl IntoView + use<> {
    let edit_target = EditTarget {
        key: kv.key.clone(),
        value: kv.value.clone(),
        original: Some(kv.value.clone()),
        expect: kv.mod_revision,
        lease: kv.lease.as_ref().map(|l| l.id),
        new_key: false,
    };
    let masked = kv.masked.clone();
    let is_root = session::is_root();
    let may_edit = match masked.clone() {
        None => controls.may,
        Some(masked) => Signal::derive(move || {
            if !is_root.get() {
                Permission::Refused(edit_refusal(&masked))
            } else if revealed.with(Option::is_none) {
                Permission::Refused(REVEAL_FIRST.to_owned())
            } else {
                controls.may.get()
            }
        }),
    };
    let (key, mod_revision, seen_at) = (kv.key.clone(), kv.mod_revision, kv.revision);
    let (copy_key, rename_key) = (kv.key.clone(), kv.key.clone());
    // A masked value is left out of the script (with a comment) unless
    // root revealed it.
    let script_kv = kv.clone();
    let etcdctl_script = Callback::new(move |()| {
        let value = match script_kv.masked {
            None => Some(script_kv.value.clone()),
            Some(_) => revealed.get_untracked(),
        };
        let item = etcdeck_shared::etcdctl::KeyToCopy {
            key: script_kv.key.clone(),
            value,
            lease: script_kv
                .lease
                .as_ref()
                .map(|l| (l.id.to_string(), l.granted_ttl)),
        };
        etcdeck_shared::etcdctl::commands(&[item], &[], None)
    });
    view! {
        {write_button("edit", "edit", "Edit this value (saved only if no one changed it meanwhile)", may_edit, controls, move || {
            let mut target = edit_target.clone();
            if masked.is_some() {
                let Some(value) = revealed.get_untracked() else {
                    return;
                };
                target.original = Some(value.clone());
                target.value = value;
            }
            controls.editing.set(Some(target));
        })}
        {write_button("delete", "delete-key", "Delete this key", controls.may, controls, move || {
            controls.dialog.set(Some(KeyDialog::Delete(key.clone(), mod_revision)));
        })}
        {write_button("copy to…", "copy-key-to", "Copy this key to another key", controls.session, controls, move || {
            controls.dialog.set(Some(KeyDialog::Copy { key: copy_key.clone(), rename: false, seen_at }));
        })}
        <CopyButton text=etcdctl_script what="as etcdctl commands" testid="copy-etcdctl" />
        {write_button("rename…", "rename-key", "Move this key to another key", controls.may, controls, move || {
            controls.dialog.set(Some(KeyDialog::Copy { key: rename_key.clone(), rename: true, seen_at }));
        })}
    }
}

/// etcdeck never writes Kubernetes objects: under `/registry/` the write
/// controls are refused with the backend's own sentence, without asking.
fn kubernetes_read_only(
    selected: Signal<Option<Bytes>>,
    probed: Signal<Permission>,
) -> Signal<Permission> {
    Signal::derive(move || {
        let refusal = selected.with(|k| {
            k.as_ref()
                .and_then(|k| etcdeck_shared::kubernetes::write_refusal(&k.0, false))
        });
        match refusal {
            Some(why) => Permission::Refused(why),
            None => probed.get(),
        }
    })
}

/// The key in display form with a copy button; children go at the end.
#[component]
fn KeyTitle(key: Bytes, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    let shown = key.display();
    let copy = shown.clone();
    view! {
        <div class="flex flex-wrap items-center gap-2">
            <h2 data-testid="key-name" class="min-w-0 break-all font-mono text-lg font-semibold">
                {shown}
            </h2>
            <CopyButton text=Callback::new(move |()| copy.clone()) what="key" testid="copy-key" />
            {children.map(|c| c())}
        </div>
    }
}

/// "lease 694d… · granted 60s · 59s left", or "no lease".
pub fn lease_text(lease: Option<&Lease>) -> String {
    match lease {
        None => "no lease".to_owned(),
        Some(lease) => {
            let remaining = match lease.remaining_ttl {
                Some(secs) => format!("{secs}s left"),
                None => "expired or unknown".to_owned(),
            };
            format!(
                "{} · granted {}s · {remaining}",
                lease.id, lease.granted_ttl
            )
        }
    }
}
