//! The "go to prefix" box of the browse page: a person types a level
//! (`\xNN` for bytes that are not text, as the tree shows them) and Enter
//! goes there. It is a plain form, so it is reached with Tab and submitted
//! with Enter; the page turns the typed prefix
//! ([`crate::landing::typed_prefix`]) into a navigation. `focus` puts the
//! cursor in it, for the user whose start page has nothing else to offer.

use etcdeck_shared::Bytes;
use leptos::html;
use leptos::prelude::*;

use crate::landing::typed_prefix;

#[component]
pub fn GoToPrefix(
    #[prop(into)] separator: Signal<Bytes>,
    /// Called with the typed level.
    go: Callback<Bytes>,
    /// While true, the box takes keyboard focus.
    #[prop(into, optional)]
    focus: Signal<bool>,
) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let input = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if focus.get()
            && let Some(el) = input.get()
        {
            let _ = el.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        go.run(typed_prefix(
            &typed.get_untracked(),
            &separator.get_untracked(),
        ));
    };
    view! {
        <form data-testid="goto-form" class="mt-1 flex items-center gap-1 text-sm" on:submit=submit>
            <label class="shrink-0 text-slate-600 dark:text-slate-400" for="goto-prefix">"go to prefix"</label>
            <input id="goto-prefix" type="text" data-testid="goto-prefix" node_ref=input
                placeholder="/app/" spellcheck="false" autocomplete="off"
                class="min-w-0 flex-1 rounded border border-slate-300 bg-white px-1 py-0.5 font-mono dark:border-slate-600 dark:bg-slate-900"
                prop:value=move || typed.get()
                on:input=move |ev| typed.set(event_target_value(&ev)) />
            <button type="submit" data-testid="goto-go" class="rounded border border-slate-300 px-2 py-0.5 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800">"go"</button>
        </form>
    }
}
