//! A key's history (`data-testid="history"`): the versions etcd still
//! keeps (revision, version, size, lease, deletes marked), where its
//! history was compacted away, a diff between any two chosen versions, and
//! "Restore this version", which hands the value to the editor (saved as a
//! normal guarded save). Loaded when the user opens the panel. Values the
//! backend masked show as "hidden" with their size, are not compared and
//! cannot be restored.

use etcdeck_shared::Bytes;
use etcdeck_shared::edit::{History, Version};
use etcdeck_shared::mask::Masked;
use leptos::prelude::*;

use crate::api::ApiFailure;
use crate::api::edit as api;
use crate::components::diff_view::DiffView;
use crate::components::masked_value::hidden_short;
use crate::format;

#[component]
pub fn HistoryPanel(
    key: Bytes,
    /// The value of the version to restore.
    on_restore: Callback<Bytes>,
) -> impl IntoView {
    let can_write = crate::session::can_write();
    let open = RwSignal::new(false);
    let key = StoredValue::new(key);
    let loaded = RwSignal::new(None::<Result<History, ApiFailure>>);
    // The two versions compared, by mod revision.
    let left = RwSignal::new(None::<i64>);
    let right = RwSignal::new(None::<i64>);

    let load = move || {
        loaded.set(None);
        let key = key.get_value();
        leptos::task::spawn_local(async move {
            let answer = api::history(&key).await;
            if let Ok(history) = &answer {
                // Compare the newest version with the one before it.
                let puts: Vec<i64> = history
                    .versions
                    .iter()
                    .rev()
                    .map(|v| v.mod_revision.0)
                    .take(2)
                    .collect();
                right.try_set(puts.first().copied());
                left.try_set(puts.get(1).copied());
            }
            loaded.try_set(Some(answer));
        });
    };

    let toggle = move |_| {
        let now = !open.get_untracked();
        open.set(now);
        if now {
            load();
        }
    };

    let content = move || {
        if !open.get() {
            return ().into_any();
        }
        match loaded.get() {
            None => view! { <p data-testid="history-loading" class="text-sm text-slate-600 dark:text-slate-300">"loading history…"</p> }.into_any(),
            Some(Err(failure)) => view! {
                <p data-testid="history-error" role="alert" class="text-sm text-red-700 dark:text-red-300">
                    {format!("could not read the history: {failure}")}
                </p>
            }
            .into_any(),
            Some(Ok(history)) => history_view(history, left, right, on_restore, can_write).into_any(),
        }
    };

    view! {
        <section aria-label="History" class="flex flex-col gap-2">
            <div class="flex items-center gap-2">
                <button
                    type="button"
                    data-testid="history"
                    aria-expanded=move || if open.get() { "true" } else { "false" }
                    class="rounded border border-slate-300 px-2 py-0.5 text-sm hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800"
                    on:click=toggle
                >
                    {move || if open.get() { "hide history" } else { "history" }}
                </button>
                {move || open.get().then(|| view! {
                    <button type="button" data-testid="history-reload" class="text-sm underline" on:click=move |_| load()>
                        "reload"
                    </button>
                })}
            </div>
            {content}
        </section>
    }
}

fn history_view(
    history: History,
    left: RwSignal<Option<i64>>,
    right: RwSignal<Option<i64>>,
    on_restore: Callback<Bytes>,
    can_write: Signal<bool>,
) -> impl IntoView {
    let compacted = history.compacted_before.map(|rev| {
        view! {
            <p data-testid="history-compacted" class="text-sm text-amber-800 dark:text-amber-300">
                {format!("History before revision {rev} is gone (etcd compacted it).")}
            </p>
        }
    });
    let truncated = history.truncated.then(|| {
        view! {
            <p class="text-sm text-slate-600 dark:text-slate-400">
                {format!("Only the newest {} versions are listed.", history.versions.len())}
            </p>
        }
    });
    let empty = history.versions.is_empty().then(|| {
        view! { <p data-testid="history-empty" class="text-sm text-slate-600 dark:text-slate-300">"No versions are left in etcd's history."</p> }
    });
    let versions = StoredValue::new(history.versions.clone());
    let rows = history
        .versions
        .iter()
        .rev()
        .map(|v| version_row(v, left, right, on_restore, can_write))
        .collect_view();
    let diff = move || {
        let (Some(a), Some(b)) = (left.get(), right.get()) else {
            return view! { <p class="text-xs text-slate-600 dark:text-slate-400">"Choose two versions (A and B) to compare."</p> }.into_any();
        };
        let value_of = |rev: i64| {
            versions.with_value(|vs| {
                vs.iter()
                    .find(|v| v.mod_revision.0 == rev)
                    .map(|v| (v.value.clone().unwrap_or_default(), v.masked.clone()))
            })
        };
        match (value_of(a), value_of(b)) {
            // Masked values never reached the browser: there is nothing to
            // compare, only their sizes.
            (Some((_, old_masked)), Some((_, new_masked)))
                if old_masked.is_some() || new_masked.is_some() =>
            {
                let side = |m: Option<Masked>| m.map_or_else(|| "not hidden".to_owned(), |m| hidden_short(&m));
                view! {
                    <p data-testid="history-diff-masked" class="text-sm text-slate-600 dark:text-slate-300">
                        {format!(
                            "From revision {a} to {b}: the values are hidden ({} → {}).",
                            side(old_masked),
                            side(new_masked)
                        )}
                    </p>
                }
                .into_any()
            }
            (Some((old, _)), Some((new, _))) => view! {
                <DiffView old=old new=new title=format!("From revision {a} to {b}") testid="history-diff" />
            }
            .into_any(),
            _ => ().into_any(),
        }
    };
    view! {
        <div class="flex flex-col gap-2">
            {compacted}
            {truncated}
            {empty}
            <table class="w-full text-left text-sm tabular-nums">
                <thead class="text-xs text-slate-600 dark:text-slate-400">
                    <tr>
                        <th class="pr-2">"A"</th>
                        <th class="pr-2">"B"</th>
                        <th class="pr-2">"revision"</th>
                        <th class="pr-2">"version"</th>
                        <th class="pr-2">"size"</th>
                        <th class="pr-2">"lease"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            {diff}
        </div>
    }
}

fn version_row(
    v: &Version,
    left: RwSignal<Option<i64>>,
    right: RwSignal<Option<i64>>,
    on_restore: Callback<Bytes>,
    can_write: Signal<bool>,
) -> impl IntoView + use<> {
    let rev = v.mod_revision.0;
    let deleted = v.value.is_none();
    let size = match (&v.value, &v.masked) {
        (None, _) => "deleted".to_owned(),
        (Some(_), Some(masked)) => hidden_short(masked),
        (Some(value), None) => format::human_size(value.len()),
    };
    let lease = v.lease.map_or_else(|| "—".to_owned(), |id| id.to_string());
    // A hidden value cannot be restored: the browser does not have it.
    let restore = v.value.clone().filter(|_| v.masked.is_none()).map(|value| {
        view! {
            <button
                type="button"
                data-testid="restore"
                class="text-sm underline disabled:cursor-not-allowed disabled:opacity-50"
                disabled=move || !can_write.get()
                title=move || if can_write.get() { "Open the editor with this version's value" } else { "This session may not write" }
                on:click=move |_| on_restore.run(value.clone())
            >
                "Restore this version"
            </button>
        }
    });
    let row_class = if deleted {
        "text-red-800 line-through decoration-red-400 dark:text-red-300"
    } else {
        ""
    };
    view! {
        <tr data-testid="history-version" data-revision=rev.to_string() class=row_class>
            <td class="pr-2">
                <input type="radio" name="history-a" aria-label=format!("compare from revision {rev}")
                    prop:checked=move || left.get() == Some(rev)
                    on:change=move |_| left.set(Some(rev)) />
            </td>
            <td class="pr-2">
                <input type="radio" name="history-b" aria-label=format!("compare to revision {rev}")
                    prop:checked=move || right.get() == Some(rev)
                    on:change=move |_| right.set(Some(rev)) />
            </td>
            <td class="pr-2">{rev}</td>
            <td class="pr-2">{if deleted { "deleted".to_owned() } else { v.version.to_string() }}</td>
            <td class="pr-2">{size}</td>
            <td class="pr-2 font-mono">{lease}</td>
            <td>{restore}</td>
        </tr>
    }
}
