//! A value in one of several view modes (Text, JSON, YAML, Hex, Base64),
//! starting in the detected one, with highlighting, a copy button and a
//! size limit that the user can lift ("show all"). Opened from a search hit
//! (`highlight`: bytes `[start, end)` of a UTF-8 value) it starts in Text
//! mode with those bytes marked (`value-match`).

use etcdeck_shared::Bytes;
use leptos::prelude::*;

use crate::components::copy_button::CopyButton;
use crate::format::{self, Rendered, TRUNCATE_AT, ViewMode};
use crate::highlight::{self, Token};

#[component]
pub fn ValueViewer(
    value: Bytes,
    #[prop(default = None)] highlight: Option<(usize, usize)>,
) -> impl IntoView {
    let detected = format::detect(&value);
    // The match is marked in the value's own text, so only where that text
    // is whole UTF-8 at both ends of the match.
    let highlight = highlight.filter(|&(start, end)| {
        value.as_text().is_some_and(|text| {
            start < end
                && end <= text.len()
                && text.is_char_boundary(start)
                && text.is_char_boundary(end)
        })
    });
    let mode = RwSignal::new(if highlight.is_some() {
        ViewMode::Text
    } else {
        detected
    });
    let show_all = RwSignal::new(false);
    let size = value.len();
    // Shared, not cloned per mode switch: values can be megabytes.
    let value = StoredValue::new(value);

    let rendered = Memo::new(move |_| {
        let limit = (!show_all.get()).then_some(TRUNCATE_AT);
        let mode = mode.get();
        value.with_value(|v| format::render(v, mode, limit))
    });

    let copy_text = Callback::new(move |()| {
        let mode = mode.get_untracked();
        value.with_value(|v| match mode {
            ViewMode::Hex => v.to_hex(),
            ViewMode::Base64 => v.to_base64(),
            ViewMode::Json => v
                .as_text()
                .and_then(format::pretty_json)
                .unwrap_or_else(|| v.display()),
            ViewMode::Text | ViewMode::Yaml => {
                v.as_text().map_or_else(|| v.display(), str::to_owned)
            }
        })
    });

    let body = move || match rendered.get() {
        Rendered::NotApplicable(why) => view! {
            <pre data-testid="value" class="hidden"></pre>
            <p data-testid="value-not-applicable" class="p-3 text-slate-600 dark:text-slate-300">
                {why}
            </p>
        }
        .into_any(),
        Rendered::Shown { text, truncated } => {
            let tokens: Vec<Token> = match mode.get_untracked() {
                ViewMode::Json => highlight::json(&text),
                ViewMode::Yaml => highlight::yaml(&text),
                _ => Vec::new(),
            };
            let marked = highlight
                .filter(|&(_, end)| mode.get_untracked() == ViewMode::Text && end <= text.len());
            let content = if let Some((start, end)) = marked {
                view! {
                    {text[..start].to_owned()}
                    <mark data-testid="value-match" class="rounded bg-amber-200 text-slate-900 dark:bg-amber-500">
                        {text[start..end].to_owned()}
                    </mark>
                    {text[end..].to_owned()}
                }
                .into_any()
            } else if tokens.is_empty() {
                view! { {text} }.into_any()
            } else {
                tokens
                    .into_iter()
                    .map(|t| {
                        let class = t.kind.class();
                        view! { <span class=class>{t.text}</span> }
                    })
                    .collect_view()
                    .into_any()
            };
            let wrap = matches!(mode.get_untracked(), ViewMode::Base64 | ViewMode::Text);
            let pre_class = if wrap {
                "overflow-auto whitespace-pre-wrap break-all p-3 font-mono text-sm leading-relaxed"
            } else {
                "overflow-auto whitespace-pre p-3 font-mono text-sm leading-relaxed"
            };
            view! {
                <pre data-testid="value" data-mode=mode.get_untracked().label() class=pre_class>
                    {content}
                </pre>
                {truncated
                    .then(|| {
                        view! {
                            <div class="flex items-center gap-3 border-t border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-200">
                                <span>
                                    {format!(
                                        "Showing the first {} of {}.",
                                        format::human_size(TRUNCATE_AT),
                                        format::human_size(size),
                                    )}
                                </span>
                                <button
                                    type="button"
                                    data-testid="show-all"
                                    class="rounded border border-amber-500 px-2 py-0.5"
                                    on:click=move |_| show_all.set(true)
                                >
                                    "show all"
                                </button>
                            </div>
                        }
                    })}
            }
            .into_any()
        }
    };

    view! {
        <section aria-label="Value" class="flex min-h-0 flex-col rounded border border-slate-200 dark:border-slate-700">
            <div class="flex flex-wrap items-center gap-2 border-b border-slate-200 px-3 py-2 dark:border-slate-700">
                <div role="group" aria-label="View value as" class="inline-flex overflow-hidden rounded border border-slate-300 dark:border-slate-600">
                    {ViewMode::ALL
                        .into_iter()
                        .map(|m| {
                            let pressed = move || mode.get() == m;
                            view! {
                                <button
                                    type="button"
                                    data-testid="view-mode"
                                    data-mode=m.label()
                                    aria-pressed=move || if pressed() { "true" } else { "false" }
                                    title=if m == detected {
                                        format!("{} (detected)", m.label())
                                    } else {
                                        m.label().to_owned()
                                    }
                                    class=move || {
                                        if pressed() {
                                            "px-2.5 py-1 text-sm font-semibold bg-slate-800 text-white dark:bg-slate-200 dark:text-slate-900"
                                        } else {
                                            "px-2.5 py-1 text-sm hover:bg-slate-100 dark:hover:bg-slate-800"
                                        }
                                    }
                                    on:click=move |_| mode.set(m)
                                >
                                    {m.label()}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                <span data-testid="value-size" class="text-sm tabular-nums text-slate-600 dark:text-slate-300">
                    {format!("{size} bytes")}
                    {(size >= 1024).then(|| format!(" ({})", format::human_size(size)))}
                </span>
                <span class="ml-auto">
                    <CopyButton text=copy_text what="value" testid="copy-value" />
                </span>
            </div>
            {(size == 0)
                .then(|| {
                    view! {
                        <p data-testid="empty-value" class="px-3 pt-3 italic text-slate-600 dark:text-slate-300">
                            "empty value (0 bytes)"
                        </p>
                    }
                })}
            <div class="min-h-0 flex-1 overflow-auto">{body}</div>
        </section>
    }
}
