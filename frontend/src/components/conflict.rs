//! The conflict screen (`data-testid="conflict"`): a save was refused
//! because the key changed since the user saw it. Both versions side by
//! side (`conflict-mine`, `conflict-theirs`), who changed what as diffs
//! against the version the user started from, and the three ways on:
//! save mine over theirs (guarded on their revision), take theirs (drop
//! the edit), or keep editing with the guard moved to their revision.

use etcdeck_shared::Bytes;
use etcdeck_shared::edit::Conflict;
use leptos::prelude::*;

use crate::components::diff_view::{DiffView, shown_value};
use crate::components::masked_value::hidden_text;
use crate::format;

#[component]
pub fn ConflictView(
    conflict: Conflict,
    /// The value the user tried to save.
    mine: Bytes,
    /// The value the user started editing from (`None` for a new key).
    original: Option<Bytes>,
    on_save_mine: Callback<()>,
    on_take_theirs: Callback<()>,
    on_keep_editing: Callback<()>,
    /// A save of mine is on its way.
    #[prop(into, default = Signal::stored(false))]
    busy: Signal<bool>,
) -> impl IntoView {
    let button = "rounded border px-3 py-1 text-sm disabled:opacity-50";
    let (theirs_title, theirs_body, theirs_value, save_label) = match &conflict.current {
        // A masked key's current value is not sent: say so, compare nothing.
        Some(kv) if kv.masked.is_some() => (
            format!(
                "Current version: mod revision {}, version {}",
                kv.mod_revision, kv.version
            ),
            kv.masked.as_ref().map(hidden_text).unwrap_or_default(),
            None,
            "Save mine over it",
        ),
        Some(kv) => (
            format!(
                "Current version: mod revision {}, version {}, {}",
                kv.mod_revision,
                kv.version,
                format::human_size(kv.value.len())
            ),
            shown_value(&kv.value),
            Some(kv.value.clone()),
            "Save mine over it",
        ),
        None => (
            format!(
                "The key was deleted meanwhile (as of revision {})",
                conflict.revision
            ),
            String::new(),
            None,
            "Re-create it with mine",
        ),
    };
    let diffs = {
        let mine = mine.clone();
        match (&original, &theirs_value) {
            (Some(original), Some(theirs)) => view! {
                <DiffView old=original.clone() new=theirs.clone() title="Their change" testid="conflict-their-diff" />
                <DiffView old=original.clone() new=mine title="Your change" testid="conflict-your-diff" />
            }
            .into_any(),
            (None, Some(theirs)) => view! {
                <DiffView old=theirs.clone() new=mine title="Saving yours would change theirs" testid="conflict-your-diff" />
            }
            .into_any(),
            _ => ().into_any(),
        }
    };
    view! {
        <div
            data-testid="conflict"
            role="alert"
            class="flex flex-col gap-3 rounded border border-amber-400 bg-amber-50 p-3 text-slate-900 dark:border-amber-700 dark:bg-amber-950/40 dark:text-slate-100"
        >
            <p class="font-medium">{conflict.message.clone()}</p>
            <p class="text-sm">"Nothing was written. Compare both versions and choose."</p>
            <div class="grid min-w-0 gap-3 md:grid-cols-2">
                <div class="min-w-0">
                    <h3 class="text-sm font-semibold">{format!("Yours ({})", format::human_size(mine.len()))}</h3>
                    <pre data-testid="conflict-mine" class="mt-1 max-h-60 overflow-auto whitespace-pre-wrap break-all rounded border border-slate-300 bg-white p-2 font-mono text-xs dark:border-slate-700 dark:bg-slate-900">
                        {shown_value(&mine)}
                    </pre>
                </div>
                <div class="min-w-0">
                    <h3 class="text-sm font-semibold">{theirs_title}</h3>
                    <pre data-testid="conflict-theirs" class="mt-1 max-h-60 overflow-auto whitespace-pre-wrap break-all rounded border border-slate-300 bg-white p-2 font-mono text-xs dark:border-slate-700 dark:bg-slate-900">
                        {theirs_body}
                    </pre>
                </div>
            </div>
            {diffs}
            <div class="flex flex-wrap gap-2">
                <button
                    type="button"
                    data-testid="save-mine"
                    class=format!("{button} border-amber-600 bg-amber-600 text-white hover:bg-amber-700")
                    disabled=move || busy.get()
                    on:click=move |_| on_save_mine.run(())
                >
                    {save_label}
                </button>
                <button
                    type="button"
                    data-testid="take-theirs"
                    class=format!("{button} border-slate-400 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800")
                    on:click=move |_| on_take_theirs.run(())
                >
                    "Take theirs"
                </button>
                <button
                    type="button"
                    data-testid="keep-editing"
                    class=format!("{button} border-slate-400 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800")
                    on:click=move |_| on_keep_editing.run(())
                >
                    "Keep editing"
                </button>
            </div>
        </div>
    }
}
