//! The selected key (`data-testid="key-view"`): its name with a copy button,
//! its value in a [`ValueViewer`], and its metadata (revisions, version,
//! lease). Loads the key through [`crate::api`] whenever the selection
//! changes, and shows loading, not-found and error states.
//!
//! With a [`LiveClient`] it stays current: after each read it watches the
//! key from the revision after the read and applies puts and deletes in
//! place ("deleted at revision N"); after a gap, or a put that moves the key
//! to another lease (whose TTL only a read can tell), it reads again.

use etcdeck_shared::ws::{EventKind, SubId, WatchKv, WatchRange};
use etcdeck_shared::{Bytes, Connection, ErrorCode, KeyValue, Lease, Revision};
use leptos::prelude::*;

use crate::api::live::LiveClient;
use crate::api::{self, ApiFailure};
use crate::components::copy_button::CopyButton;
use crate::components::value_viewer::ValueViewer;
use crate::connection::ConnectionState;
use crate::live::Delivery;

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
    client: LiveClient,
    resource: LocalResource<Option<Loaded>>,
    change: RwSignal<Option<(Bytes, LiveChange)>>,
) {
    let subscription = StoredValue::new(None::<SubId>);
    let stop = move || {
        if let Some(id) = subscription.try_get_value().flatten() {
            client.unsubscribe(id);
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
    }
}

#[component]
pub fn KeyView(#[prop(into)] selected: Signal<Option<Bytes>>) -> impl IntoView {
    let resource = LocalResource::new(move || {
        let key = selected.get();
        async move {
            match key {
                Some(key) => {
                    let answer = api::key(&key).await;
                    Some((key, answer))
                }
                None => None,
            }
        }
    });

    // Like the tree list: a read that failed because etcd or the backend was
    // away is repeated once the status poll reports a healthy connection.
    if let Some(connection) = use_context::<ConnectionState>() {
        Effect::new(move |_| {
            let healthy = connection.failure.with(Option::is_none)
                && connection.status.with(|s| {
                    s.as_ref()
                        .is_some_and(|s| matches!(s.connection, Connection::Connected { .. }))
                });
            let transient = resource.with_untracked(|r| {
                matches!(r, Some(Some((_, Err(e))))
                    if matches!(e, ApiFailure::Network(_))
                        || e.code() == Some(ErrorCode::EtcdUnavailable))
            });
            if healthy && transient {
                resource.refetch();
            }
        });
    }

    let change = RwSignal::new(None::<(Bytes, LiveChange)>);
    if let Some(client) = use_context::<LiveClient>() {
        watch_key(client, resource, change);
    }

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
                    None => loaded_view(key, answer, resource),
                    Some(LiveChange::Put(kv)) => {
                        loaded_view(key, Ok(merged(answer.ok(), kv)), resource)
                    }
                    Some(LiveChange::Deleted(revision)) => deleted_view(key, revision, resource),
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

    view! {
        <section
            data-testid="key-view"
            aria-label="Selected key"
            class="flex min-h-0 min-w-0 flex-col gap-3 overflow-auto p-4"
        >
            {content}
        </section>
    }
}

fn loaded_view(
    key: Bytes,
    answer: Result<KeyValue, ApiFailure>,
    resource: LocalResource<Option<Loaded>>,
) -> AnyView {
    let reload = move |_| resource.refetch();
    match answer {
        Ok(kv) => {
            let KeyValue {
                value,
                create_revision,
                mod_revision,
                version,
                lease,
                revision,
                ..
            } = kv;
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
                <ValueViewer value=value />
            }
            .into_any()
        }
        Err(failure) if failure.is_not_found() => view! {
            <KeyTitle key=key />
            <div data-testid="key-not-found" role="status" class="rounded border border-slate-300 bg-slate-50 p-3 dark:border-slate-700 dark:bg-slate-900">
                <p class="font-medium">"this key does not exist (any more)"</p>
                <button type="button" class="mt-2 text-sm underline" on:click=reload>
                    "check again"
                </button>
            </div>
        }
        .into_any(),
        Err(failure) => {
            let title = match failure.code() {
                Some(ErrorCode::PermissionDenied) => "permission denied",
                Some(ErrorCode::EtcdUnavailable) => "etcd is unavailable",
                Some(ErrorCode::TooLarge) => "too large to show",
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
) -> AnyView {
    view! {
        <KeyTitle key=key />
        <div data-testid="key-deleted" role="status" class="rounded border border-slate-300 bg-slate-50 p-3 dark:border-slate-700 dark:bg-slate-900">
            <p class="font-medium">{format!("deleted at revision {revision}")}</p>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-300">
                "If it is written again, it shows here."
            </p>
            <button type="button" class="mt-2 text-sm underline" on:click=move |_| resource.refetch()>
                "check again"
            </button>
        </div>
    }
    .into_any()
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
