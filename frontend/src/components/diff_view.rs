//! A line diff of two values (see [`crate::diff`]), folded to the changes
//! with three lines of context, for the conflict screen and the history.

use etcdeck_shared::Bytes;
use leptos::prelude::*;

use crate::diff::{self, Change, Shown};

#[component]
pub fn DiffView(
    old: Bytes,
    new: Bytes,
    /// Says what the diff is, e.g. "their change".
    #[prop(into)]
    title: String,
    #[prop(into, default = "value-diff".to_owned())] testid: String,
) -> impl IntoView {
    let d = diff::value_diff(&old, &new);
    let (removed, added) = d.counts();
    let summary = if removed == 0 && added == 0 {
        format!("{title}: no difference")
    } else {
        format!(
            "{title} ({} diff): {removed} removed, {added} added{}",
            d.kind.label(),
            if d.truncated {
                " (values cut for the diff)"
            } else {
                ""
            },
        )
    };
    let lines = diff::fold(&d.lines, 3)
        .into_iter()
        .map(|shown| match shown {
            Shown::Folded(n) => view! {
                <div class="text-slate-500 italic dark:text-slate-400">
                    {format!("  … {n} unchanged lines")}
                </div>
            }
            .into_any(),
            Shown::Line(line) => {
                let (mark, class) = match line.change {
                    Change::Same => (" ", ""),
                    Change::Removed => (
                        "-",
                        "bg-red-50 text-red-900 dark:bg-red-950 dark:text-red-200",
                    ),
                    Change::Added => (
                        "+",
                        "bg-emerald-50 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200",
                    ),
                };
                view! { <div class=class>{format!("{mark} {}", line.text)}</div> }.into_any()
            }
        })
        .collect_view();
    view! {
        <div data-testid=testid class="min-w-0">
            <p class="text-xs text-slate-600 dark:text-slate-400">{summary}</p>
            <pre class="mt-1 max-h-72 overflow-auto rounded border border-slate-200 bg-slate-50 p-2 font-mono text-xs leading-5 dark:border-slate-700 dark:bg-slate-900">
                {lines}
            </pre>
        </div>
    }
}

/// A value as a person reads it: its text, or a hex dump when binary.
pub fn shown_value(value: &Bytes) -> String {
    match std::str::from_utf8(value.as_slice()) {
        Ok(text) => text.to_owned(),
        Err(_) => crate::format::hex_dump(value.as_slice()),
    }
}
