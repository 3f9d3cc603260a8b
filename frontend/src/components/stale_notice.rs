//! The quiet notice a page shows on itself while its data is no longer
//! live (`data-testid="stale-notice"`, `data-since` the time in ms): "stale
//! since HH:MM:SS, reconnecting", from the view's [`ViewState`] as
//! [`crate::freshness`] decides it. Nothing is shown in any other state:
//! loading and failures have their own places on each page.

use leptos::prelude::*;

use crate::freshness::{ViewState, clock_text};

/// The words of the notice for a view stale since `since_ms`.
pub fn stale_text(since_ms: u64) -> String {
    format!("stale since {}, reconnecting", clock_text(since_ms))
}

#[component]
pub fn StaleNotice(
    /// The view's state; the notice shows only while it is stale.
    #[prop(into)]
    state: MaybeProp<ViewState>,
    /// A sentence after the notice saying what the page does meanwhile.
    #[prop(optional)]
    detail: Option<&'static str>,
) -> impl IntoView {
    // Only a change of "since" redraws the notice, not every state change.
    let since = Memo::new(move |_| match state.get() {
        Some(ViewState::Stale { since_ms, .. }) => Some(since_ms),
        _ => None,
    });
    move || {
        since.get().map(|since_ms| {
            view! {
                <p
                    data-testid="stale-notice"
                    data-since=since_ms.to_string()
                    role="status"
                    class="rounded border border-amber-300 bg-amber-50 px-3 py-1 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950/40 dark:text-amber-200"
                >
                    <span>{stale_text(since_ms)}</span>
                    {detail.map(|d| view! { <span class="ml-2 text-amber-800 dark:text-amber-300">{d}</span> })}
                </p>
            }
        })
    }
}
