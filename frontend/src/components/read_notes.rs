//! What a page shows before it has an answer to show: that it is still
//! loading, or that its read failed (what could not be read, and the
//! error's sentence). Shared by the pages that poll the backend (audit,
//! sessions, cluster), so they look and announce themselves alike.

use leptos::prelude::*;

/// "loading…", announced as a status.
#[component]
pub fn Loading(testid: &'static str) -> impl IntoView {
    view! {
        <p data-testid=testid role="status" class="text-2xl text-slate-600 dark:text-slate-300">
            "loading…"
        </p>
    }
}

/// A failed first read: `what` ("could not read the audit log") over the
/// error's sentence, announced as an alert.
#[component]
pub fn ReadFailed(
    testid: &'static str,
    what: &'static str,
    #[prop(into)] error: String,
) -> impl IntoView {
    view! {
        <div data-testid=testid role="alert" class="max-w-4xl rounded-xl border-2 border-red-400 bg-red-50 p-6 text-red-900 dark:border-red-700 dark:bg-red-950 dark:text-red-100">
            <p class="text-2xl font-semibold">{what}</p>
            <p class="mt-2 text-lg">{error}</p>
        </div>
    }
}
