//! A button that copies text to the clipboard and says whether it worked:
//! "copied" briefly, or the reason the browser refused, until the next try.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::clipboard;

#[derive(Clone, Debug, PartialEq, Eq)]
enum CopyState {
    Idle,
    Copied,
    Failed(String),
}

/// `text` is read when clicked, so a large value is only turned into a
/// string when the user actually copies it.
#[component]
pub fn CopyButton(
    /// Produces the text to copy.
    #[prop(into)]
    text: Callback<(), String>,
    /// What is copied, for the visible label and the accessible name
    /// ("key" gives "Copy key").
    what: &'static str,
    #[prop(optional)] testid: &'static str,
) -> impl IntoView {
    let state = RwSignal::new(CopyState::Idle);
    let reset: StoredValue<Option<TimeoutHandle>> = StoredValue::new(None);
    on_cleanup(move || {
        if let Some(handle) = reset.try_get_value().flatten() {
            handle.clear();
        }
    });
    let copy = move |_| {
        let text = text.run(());
        spawn_local(async move {
            let result = clipboard::write_text(&text).await;
            if let Some(handle) = reset.try_get_value().flatten() {
                handle.clear();
            }
            match result {
                Ok(()) => {
                    state.set(CopyState::Copied);
                    let handle = set_timeout_with_handle(
                        move || state.set(CopyState::Idle),
                        Duration::from_millis(1500),
                    )
                    .ok();
                    reset.try_set_value(handle);
                }
                Err(reason) => state.set(CopyState::Failed(reason)),
            }
        });
    };
    let testid = if testid.is_empty() { "copy" } else { testid };
    view! {
        <span class="inline-flex items-center gap-2">
            <button
                type="button"
                data-testid=testid
                aria-label=format!("Copy {what}")
                title=format!("Copy {what} to the clipboard")
                class="rounded border border-slate-300 px-2 py-0.5 text-sm hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-sky-500 dark:border-slate-600 dark:hover:bg-slate-800"
                on:click=copy
            >
                {move || match state.get() {
                    CopyState::Copied => "copied ✓".to_owned(),
                    _ => format!("copy {what}"),
                }}
            </button>
            {move || match state.get() {
                CopyState::Failed(reason) => {
                    Some(
                        view! {
                            <span role="alert" class="text-sm text-red-700 dark:text-red-300">
                                {reason}
                            </span>
                        },
                    )
                }
                _ => None,
            }}
        </span>
    }
}
