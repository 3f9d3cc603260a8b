//! A value the backend left out because its key looks secret (it matches
//! one of etcdeck's mask patterns): "Hidden: this key looks secret (matches
//! `*password*`) · N bytes" (`value-masked`), and for etcd's root a
//! "Reveal" button (`reveal-value`) that asks `POST /api/v1/reveal` for it
//! (audited by the backend) and shows it in the normal [`ValueViewer`],
//! where copying works, until the key changes or the page is left (the
//! revealed value lives in the key view's state only).

use etcdeck_shared::mask::Masked;
use etcdeck_shared::{Bytes, Revision};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::value_viewer::ValueViewer;
use crate::session;

/// "Hidden: this key looks secret (matches *password*) · 7 bytes".
pub fn hidden_text(masked: &Masked) -> String {
    format!(
        "Hidden: this key looks secret (matches {}) · {}",
        masked.pattern,
        bytes_text(masked.size)
    )
}

/// "hidden · 7 bytes", for rows, history and diffs.
pub fn hidden_short(masked: &Masked) -> String {
    format!("hidden · {}", bytes_text(masked.size))
}

fn bytes_text(size: u64) -> String {
    if size == 1 {
        "1 byte".to_owned()
    } else {
        format!("{size} bytes")
    }
}

/// Why someone who is not root may not edit a masked value.
pub fn edit_refusal(masked: &Masked) -> String {
    format!(
        "this value is hidden (the key matches {}); only etcd's root may reveal and edit it",
        masked.pattern
    )
}

/// What root must do before editing a masked value.
pub const REVEAL_FIRST: &str = "reveal the value first to edit it";

#[component]
pub fn MaskedValue(
    key: Bytes,
    masked: Masked,
    /// The revision the shown metadata is of: the value revealed is the
    /// one of that revision.
    revision: Revision,
    /// Set once revealed; the key view clears it when the key changes.
    revealed: RwSignal<Option<Bytes>>,
) -> impl IntoView {
    let is_root = session::is_root();
    let failure = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let key = StoredValue::new(key);
    let reveal = move |_| {
        busy.set(true);
        failure.set(None);
        let key = key.get_value();
        spawn_local(async move {
            match api::edit::reveal(&key, Some(revision)).await {
                Ok(kv) => {
                    revealed.try_set(Some(kv.value));
                }
                Err(err) => {
                    failure.try_set(Some(err.to_string()));
                }
            }
            busy.try_set(false);
        });
    };
    let text = hidden_text(&masked);
    move || {
        match revealed.get() {
        Some(value) => view! {
            <p data-testid="value-revealed" role="status" class="text-sm text-amber-800 dark:text-amber-300">
                "Revealed for you (the reveal is in the audit log); hidden again when the key changes or you leave the page."
            </p>
            <ValueViewer value=value />
        }
        .into_any(),
        None => view! {
            <div data-testid="value-masked" role="note" class="rounded border border-slate-300 bg-slate-50 p-3 dark:border-slate-700 dark:bg-slate-900">
                <p class="font-medium">{text.clone()}</p>
                {move || is_root.get().then(|| view! {
                    <button
                        type="button"
                        data-testid="reveal-value"
                        title="Show the value (etcd's root only; recorded in the audit log)"
                        disabled=move || busy.get()
                        class="mt-2 rounded border border-slate-300 px-2 py-0.5 text-sm hover:bg-slate-100 disabled:opacity-50 dark:border-slate-600 dark:hover:bg-slate-800"
                        on:click=reveal
                    >
                        "Reveal"
                    </button>
                })}
                {move || failure.get().map(|why| view! {
                    <p data-testid="reveal-error" role="alert" class="mt-2 text-sm text-red-700 dark:text-red-300">{why}</p>
                })}
            </div>
        }
        .into_any(),
    }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    fn masked(size: u64) -> Masked {
        Masked {
            pattern: "*password*".into(),
            size,
        }
    }

    #[unit_test]
    fn hidden_values_say_why_and_how_large() {
        assert_eq!(
            hidden_text(&masked(7)),
            "Hidden: this key looks secret (matches *password*) · 7 bytes"
        );
        assert_eq!(hidden_short(&masked(1)), "hidden · 1 byte");
        assert!(edit_refusal(&masked(0)).contains("only etcd's root"));
    }
}
