//! The value editor (`data-testid="editor"`): edits one key's value in
//! Text, JSON, YAML, Hex or Base64 ([`crate::edit`] does the conversions
//! and validation), shows the byte size and refuses a value over the limit
//! before sending, chooses what happens to the key's lease, and saves with
//! a [`PutRequest`] guarded on the `mod_revision` the user saw. Ctrl/Cmd+S
//! saves, Escape cancels (asking first when there are changes). A refused
//! save (409) turns into the [`ConflictView`].
//!
//! The same editor creates keys (`new_key`: the key is typed, and the guard
//! is revision 0, "must not exist yet").

use etcdeck_shared::edit::{Conflict, LeaseChoice, MAX_VALUE_BYTES, PutRequest, Written};
use etcdeck_shared::{Bytes, LeaseId, Revision};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiFailure;
use crate::api::edit as api;
use crate::components::conflict::ConflictView;
use crate::components::diff_view::shown_value;
use crate::edit::{self, InputError};
use crate::format::{self, ViewMode};
use crate::route::bytes_from_display;

/// What an editor opens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditTarget {
    pub key: Bytes,
    /// The value the editor starts with: what the user saw, or an older
    /// version being restored.
    pub value: Bytes,
    /// The key's value as the user saw it, for the conflict screen's
    /// "who changed what" (`None` for a new key).
    pub original: Option<Bytes>,
    /// The guard: the `mod_revision` the user saw; `Revision(0)` for a key
    /// that must not exist yet.
    pub expect: Revision,
    /// The key's lease when it was read.
    pub lease: Option<LeaseId>,
    /// The key is typed by the user (creating a key).
    pub new_key: bool,
}

impl EditTarget {
    /// A new key under `prefix` (the key input starts with the prefix).
    pub fn create(prefix: Bytes) -> Self {
        EditTarget {
            key: prefix,
            value: Bytes::default(),
            original: None,
            expect: Revision(0),
            lease: None,
            new_key: true,
        }
    }
}

/// What to do with the lease, as chosen in the editor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LeaseAction {
    Keep,
    Detach,
    Attach,
}

const BUTTON: &str =
    "rounded border px-3 py-1 text-sm disabled:cursor-not-allowed disabled:opacity-50";
const QUIET: &str =
    "border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800";

#[component]
pub fn Editor(
    target: EditTarget,
    /// Called with the write once saved.
    on_saved: Callback<Written>,
    /// Called when the user cancels or takes the other version.
    on_cancel: Callback<()>,
) -> impl IntoView {
    let can_write = crate::session::can_write();
    let start_mode = edit::default_mode(&target.value);
    let start_text = edit::to_text(target.value.as_slice(), start_mode).unwrap_or_default();
    let original = target.original.clone();
    let start_value = StoredValue::new(target.value.clone());
    let new_key = target.new_key;
    let had_lease = target.lease;

    let key_text = RwSignal::new(target.key.display());
    let mode = RwSignal::new(start_mode);
    let text = RwSignal::new(start_text);
    let notice = RwSignal::new(None::<String>);
    let expect = RwSignal::new(target.expect);
    let lease_action = RwSignal::new(LeaseAction::Keep);
    let lease_text = RwSignal::new(String::new());
    let saving = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);
    let conflict = RwSignal::new(None::<(Conflict, Bytes)>);
    // Their value, shown for reference after "keep editing".
    let theirs = RwSignal::new(None::<(Revision, Option<Bytes>)>);
    let fixed_key = target.key.clone();

    let key = Memo::new(move |_| {
        if new_key {
            bytes_from_display(&key_text.get())
        } else {
            fixed_key.clone()
        }
    });
    let invalid = Memo::new(move |_| text.with(|t| edit::validate(t, mode.get())));
    let size =
        Memo::new(move |_| text.with(|t| edit::to_bytes(t, mode.get()).ok().map(|b| b.len())));
    let too_big = Memo::new(move |_| size.get().and_then(edit::size_error));
    let lease_error = Memo::new(move |_| match lease_action.get() {
        LeaseAction::Attach => lease_text.with(|t| edit::parse_lease(t).err()),
        _ => None,
    });
    let key_error = Memo::new(move |_| {
        key.with(Bytes::is_empty)
            .then(|| "the key must not be empty: type one".to_owned())
    });
    let dirty = move || {
        let now = text.with(|t| edit::to_bytes(t, mode.get_untracked()).ok());
        let same = start_value.with_value(|v| now.as_deref() == Some(v.as_slice()));
        !same || lease_action.get_untracked() != LeaseAction::Keep
    };
    let blocked = Memo::new(move |_| {
        !can_write.get()
            || saving.get()
            || invalid.with(Option::is_some)
            || too_big.with(Option::is_some)
            || lease_error.with(Option::is_some)
            || key_error.with(Option::is_some)
    });

    let lease_choice = move || -> Result<LeaseChoice, String> {
        match lease_action.get_untracked() {
            LeaseAction::Keep => Ok(LeaseChoice::Keep),
            LeaseAction::Detach => Ok(LeaseChoice::Detach),
            LeaseAction::Attach => lease_text
                .with_untracked(|t| edit::parse_lease(t))
                .map(|id| LeaseChoice::Attach { id }),
        }
    };

    let send = move |value: Bytes, guard: Revision, lease: LeaseChoice| {
        let request = PutRequest {
            key: key.get_untracked(),
            value: value.clone(),
            expect_mod_revision: guard,
            lease,
        };
        saving.set(true);
        failure.set(None);
        spawn_local(async move {
            let answer = api::put(&request).await;
            saving.try_set(false);
            match answer {
                Ok(written) => on_saved.run(written),
                Err(ApiFailure::Conflict(refused)) => {
                    conflict.try_set(Some((*refused, value)));
                }
                Err(other) => {
                    failure.try_set(Some(other.to_string()));
                }
            }
        });
    };

    let save = move || {
        // On the conflict screen its own buttons decide (Ctrl+S does not).
        if conflict.with_untracked(Option::is_some) {
            return;
        }
        if blocked.get_untracked() {
            // Say why instead of doing nothing.
            let why = key_error
                .get_untracked()
                .or_else(|| invalid.get_untracked().map(|e| e.sentence()))
                .or_else(|| too_big.get_untracked())
                .or_else(|| lease_error.get_untracked())
                .or_else(|| {
                    (!can_write.get_untracked()).then(|| "this session may not write".to_owned())
                });
            if why.is_some() {
                failure.set(why);
            }
            return;
        }
        let bytes = match text.with_untracked(|t| edit::check_save(t, mode.get_untracked())) {
            Ok(bytes) => bytes,
            Err(err) => {
                failure.set(Some(err.sentence()));
                return;
            }
        };
        let lease = match lease_choice() {
            Ok(lease) => lease,
            Err(why) => {
                failure.set(Some(why));
                return;
            }
        };
        send(Bytes::new(bytes), expect.get_untracked(), lease);
    };

    let cancel = move || {
        let leave = !dirty()
            || window()
                .confirm_with_message("Discard your changes to this value?")
                .unwrap_or(false);
        if leave {
            on_cancel.run(());
        }
    };

    let on_keydown = move |ev: web_sys::KeyboardEvent| {
        if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("s") {
            ev.prevent_default();
            save();
        } else if ev.key() == "Escape" {
            ev.prevent_default();
            cancel();
        }
    };

    let switch_to = move |to: ViewMode| {
        let from = mode.get_untracked();
        match text.with_untracked(|t| edit::switch(t, from, to)) {
            Ok(converted) => {
                text.set(converted);
                mode.set(to);
                notice.set(None);
            }
            Err(why) => notice.set(Some(why)),
        }
    };

    let key_field = new_key.then(|| {
        view! {
            <label class="flex flex-col gap-1 text-sm">
                <span class="font-medium">"Key"</span>
                <input
                    type="text"
                    data-testid="editor-key"
                    class="rounded border border-slate-300 bg-white px-2 py-1 font-mono dark:border-slate-600 dark:bg-slate-900"
                    prop:value=move || key_text.get()
                    on:input=move |ev| key_text.set(event_target_value(&ev))
                />
                <span class="text-xs text-slate-600 dark:text-slate-400">
                    "Bytes that are not text are typed as \\xNN, a backslash as \\\\."
                </span>
            </label>
        }
    });

    let lease_options = move || {
        let keep = match (new_key, had_lease) {
            (true, _) | (false, None) => "no lease".to_owned(),
            (false, Some(id)) => format!("keep lease {id}"),
        };
        let detach = (!new_key && had_lease.is_some()).then(|| {
            view! { <option value="detach">"detach from its lease"</option> }
        });
        view! {
            <option value="keep">{keep}</option>
            {detach}
            <option value="attach">"attach to lease…"</option>
        }
    };

    let error_view = move || {
        invalid.get().map(|err| {
            let marked = error_excerpt(&text.get_untracked(), &err);
            view! {
                <div data-testid="editor-error" role="alert" class="rounded border border-red-300 bg-red-50 p-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
                    <p>{err.sentence()}</p>
                    {marked.map(|(line_no, line, caret)| view! {
                        <pre data-testid="editor-error-line" class="mt-1 overflow-auto font-mono text-xs">
                            <span class="bg-red-200 dark:bg-red-900">{format!("{line_no:>4} │ {line}")}</span>
                            {format!("\n       {caret}^")}
                        </pre>
                    })}
                </div>
            }
        })
    };

    let mode_buttons = move || {
        ViewMode::ALL
        .into_iter()
        .map(|m| {
            let testid = format!("editor-mode-{}", edit::mode_id(m));
            view! {
                <button
                    type="button"
                    data-testid=testid
                    aria-pressed=move || if mode.get() == m { "true" } else { "false" }
                    class=move || {
                        if mode.get() == m {
                            "rounded bg-slate-700 px-2 py-0.5 text-sm text-white dark:bg-slate-200 dark:text-slate-900"
                        } else {
                            "rounded px-2 py-0.5 text-sm hover:bg-slate-100 dark:hover:bg-slate-800"
                        }
                    }
                    on:click=move |_| switch_to(m)
                >
                    {m.label()}
                </button>
            }
        })
        .collect_view()
    };

    let form = move || {
        view! {
            {theirs.get().map(|(rev, value)| view! {
                <details data-testid="editor-theirs" open class="rounded border border-amber-300 p-2 text-sm dark:border-amber-800">
                    <summary>{match &value {
                        Some(_) => format!("Their version (mod revision {rev}); your save is now guarded on it"),
                        None => format!("The key was deleted (as of revision {rev}); saving re-creates it"),
                    }}</summary>
                    <pre class="mt-1 max-h-40 overflow-auto whitespace-pre-wrap break-all font-mono text-xs">
                        {value.as_ref().map(shown_value).unwrap_or_default()}
                    </pre>
                </details>
            })}
            <div class="flex flex-wrap items-center gap-1" role="group" aria-label="Edit as">
                {mode_buttons()}
            </div>
            {move || notice.get().map(|why| view! {
                <p data-testid="editor-mode-refused" role="status" class="text-sm text-amber-800 dark:text-amber-300">{why}</p>
            })}
            <textarea
                data-testid="editor-text"
                aria-label="Value"
                spellcheck="false"
                rows="14"
                class=move || {
                    let border = if invalid.with(Option::is_some) {
                        "border-red-500"
                    } else {
                        "border-slate-300 dark:border-slate-600"
                    };
                    format!("w-full rounded border {border} bg-white p-2 font-mono text-sm dark:bg-slate-900")
                }
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
            {error_view}
            <p data-testid="editor-size" class="text-xs text-slate-600 dark:text-slate-400">
                {move || match size.get() {
                    Some(n) => format!(
                        "{} ({n} bytes) of at most {}",
                        format::human_size(n),
                        format::human_size(MAX_VALUE_BYTES)
                    ),
                    None => "size unknown until the text decodes".to_owned(),
                }}
            </p>
            {move || too_big.get().map(|why| view! {
                <p data-testid="editor-too-big" role="alert" class="text-sm text-red-700 dark:text-red-300">{why}</p>
            })}
            <div class="flex flex-wrap items-center gap-2 text-sm">
                <label for="editor-lease" class="font-medium">"Lease"</label>
                <select
                    id="editor-lease"
                    data-testid="editor-lease"
                    class="rounded border border-slate-300 bg-white px-1 py-0.5 dark:border-slate-600 dark:bg-slate-900"
                    on:change=move |ev| {
                        lease_action.set(match event_target_value(&ev).as_str() {
                            "detach" => LeaseAction::Detach,
                            "attach" => LeaseAction::Attach,
                            _ => LeaseAction::Keep,
                        })
                    }
                >
                    {lease_options}
                </select>
                {move || (lease_action.get() == LeaseAction::Attach).then(|| view! {
                    <input
                        type="text"
                        data-testid="editor-lease-id"
                        placeholder="lease id in hex"
                        aria-label="Lease id in hex"
                        class="w-48 rounded border border-slate-300 bg-white px-2 py-0.5 font-mono dark:border-slate-600 dark:bg-slate-900"
                        prop:value=move || lease_text.get()
                        on:input=move |ev| lease_text.set(event_target_value(&ev))
                    />
                })}
                {move || lease_error.get().map(|why| view! {
                    <span data-testid="editor-lease-error" class="text-red-700 dark:text-red-300">{why}</span>
                })}
            </div>
            {move || failure.get().map(|why| view! {
                <p data-testid="editor-failure" role="alert" class="rounded border border-red-300 bg-red-50 p-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">{why}</p>
            })}
            <div class="flex flex-wrap items-center gap-2">
                <button
                    type="button"
                    data-testid="save"
                    class=format!("{BUTTON} border-blue-700 bg-blue-700 text-white hover:bg-blue-800")
                    disabled=move || blocked.get()
                    title=move || if can_write.get() { "Save (Ctrl+S)" } else { "This session may not write" }
                    on:click=move |_| save()
                >
                    {move || if saving.get() { "saving…" } else if new_key { "Create" } else { "Save" }}
                </button>
                <button type="button" data-testid="cancel-edit" class=format!("{BUTTON} {QUIET}") on:click=move |_| cancel()>
                    "Cancel"
                </button>
                <span class="text-xs text-slate-600 dark:text-slate-400">
                    {move || if expect.get() == Revision(0) {
                        "saved only if the key does not exist yet".to_owned()
                    } else {
                        format!("saved only if the key is still at mod revision {}", expect.get())
                    }}
                </span>
            </div>
        }
    };

    let body = move || match conflict.get() {
        Some((refused, mine)) => {
            let current = refused.current.clone();
            let kept_current = refused.current.clone();
            let revision = refused.revision;
            let lease = lease_choice().unwrap_or_default();
            let retry_mine = mine.clone();
            view! {
                <ConflictView
                    conflict=refused
                    mine=mine
                    original=original.clone()
                    busy=saving
                    on_save_mine=Callback::new(move |()| {
                        let guard = current.as_ref().map_or(Revision(0), |kv| kv.mod_revision);
                        expect.set(guard);
                        send(retry_mine.clone(), guard, lease);
                    })
                    on_take_theirs=Callback::new(move |()| on_cancel.run(()))
                    on_keep_editing=Callback::new({
                        let current = kept_current;
                        move |()| {
                            let (guard, value) = match &current {
                                Some(kv) => (kv.mod_revision, Some(kv.value.clone())),
                                None => (Revision(0), None),
                            };
                            expect.set(guard);
                            theirs.set(Some((if value.is_some() { guard } else { revision }, value)));
                            conflict.set(None);
                        }
                    })
                />
            }
            .into_any()
        }
        None => form().into_any(),
    };

    view! {
        <div
            data-testid="editor"
            class="flex flex-col gap-2 rounded border border-slate-300 p-3 dark:border-slate-700"
            on:keydown=on_keydown
        >
            <h3 class="text-sm font-semibold">
                {if new_key { "New key" } else { "Edit value" }}
            </h3>
            {key_field}
            {body}
        </div>
    }
}

/// The line an error points at, with spaces up to its column, for marking.
fn error_excerpt(text: &str, err: &InputError) -> Option<(usize, String, String)> {
    let line_no = err.line?;
    let line = text.split('\n').nth(line_no.checked_sub(1)?)?;
    let shown: String = line.chars().take(200).collect();
    let column = err
        .column
        .unwrap_or(1)
        .saturating_sub(1)
        .min(shown.chars().count());
    Some((line_no, shown, " ".repeat(column)))
}
