//! Any path the app does not know (the backend serves the app for them all).

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <div class="p-8">
            <h1 class="text-xl font-semibold">"Nothing here"</h1>
            <p class="mt-2">
                <a href=crate::api::within("/") class="text-sky-700 underline dark:text-sky-300">
                    "Browse keys from the root"
                </a>
            </p>
        </div>
    }
}
