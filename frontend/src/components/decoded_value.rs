//! A value the backend decoded (`GET /api/v1/decoded`): a Kubernetes object
//! with its kind, apiVersion, namespace and name, as YAML or JSON; an
//! object of a kind etcdeck does not know, with its envelope's type and raw
//! bytes; or a gzip'd value decompressed, with the fact said. Shown above
//! the stored bytes, which stay viewable as they are.

use etcdeck_shared::kubernetes::{Content, Decoded, KubeObject};
use etcdeck_shared::{Bytes, Revision};
use leptos::prelude::*;

use crate::api;
use crate::components::copy_button::CopyButton;
use crate::components::value_viewer::ValueViewer;
use crate::highlight;

#[component]
pub fn DecodedValue(key: Bytes, revision: Revision) -> impl IntoView {
    let resource = LocalResource::new(move || {
        let key = key.clone();
        async move { api::decoded(&key, revision).await }
    });
    move || {
        match resource.get() {
        None => view! {
            <p data-testid="decoded-loading" class="text-sm text-slate-600 dark:text-slate-300">
                "decoding…"
            </p>
        }
        .into_any(),
        Some(Err(failure)) => view! {
            <p data-testid="decoded-failed" role="status" class="text-sm text-slate-600 dark:text-slate-300">
                {format!("Could not decode the value: {failure}")}
            </p>
        }
        .into_any(),
        Some(Ok(decoded)) => decoded_view(decoded),
    }
    }
}

fn decoded_view(decoded: Decoded) -> AnyView {
    let gzip = decoded.gzip.map(|g| {
        view! {
            <p data-testid="decoded-gzip" class="text-sm text-slate-700 dark:text-slate-300">
                {format!(
                    "Stored gzip-compressed ({} bytes); shown decompressed ({} bytes).",
                    g.stored,
                    g.decompressed,
                )}
            </p>
        }
    });
    let body = match decoded.content {
        Content::Kubernetes(object) => kube_view(object),
        Content::Bytes { bytes } => view! { <ValueViewer value=bytes /> }.into_any(),
        Content::Plain { why } => why
            .map(|why| {
                view! {
                    <p data-testid="decoded-note" class="text-sm text-slate-600 dark:text-slate-300">
                        {why}
                    </p>
                }
            })
            .into_any(),
        Content::Masked(_) => ().into_any(),
    };
    view! {
        <section data-testid="decoded" aria-label="Decoded value" class="flex flex-col gap-2">
            {gzip}
            {body}
        </section>
    }
    .into_any()
}

fn kube_view(object: KubeObject) -> AnyView {
    let KubeObject {
        api_version,
        kind,
        namespace,
        name,
        yaml,
        json,
        raw,
        note,
    } = object;
    let header = view! {
        <dl data-testid="kube-object" class="flex flex-wrap gap-x-4 gap-y-1 text-sm">
            <div><dt class="inline text-slate-500">"kind "</dt><dd data-testid="kube-object-kind" class="inline font-semibold">{kind}</dd></div>
            <div><dt class="inline text-slate-500">"apiVersion "</dt><dd class="inline font-mono">{api_version}</dd></div>
            {namespace.map(|ns| view! {
                <div><dt class="inline text-slate-500">"namespace "</dt><dd data-testid="kube-object-namespace" class="inline font-mono">{ns}</dd></div>
            })}
            {name.map(|n| view! {
                <div><dt class="inline text-slate-500">"name "</dt><dd data-testid="kube-object-name" class="inline font-mono">{n}</dd></div>
            })}
        </dl>
    };
    let text = match (yaml, json) {
        (Some(yaml), Some(json)) => {
            let as_json = RwSignal::new(false);
            let shown = Memo::new(move |_| {
                if as_json.get() {
                    json.clone()
                } else {
                    yaml.clone()
                }
            });
            let copy = Callback::new(move |()| shown.get_untracked());
            let tokens = move || {
                let text = shown.get();
                let tokens = if as_json.get() {
                    highlight::json(&text)
                } else {
                    highlight::yaml(&text)
                };
                tokens
                    .into_iter()
                    .map(|t| {
                        let class = t.kind.class();
                        view! { <span class=class>{t.text}</span> }
                    })
                    .collect_view()
            };
            let toggle = move |json: bool, label: &'static str| {
                view! {
                    <button
                        type="button"
                        data-testid="decoded-format"
                        data-format=label
                        aria-pressed=move || if as_json.get() == json { "true" } else { "false" }
                        class="rounded border border-slate-300 px-2 py-0.5 text-sm aria-pressed:bg-slate-800 aria-pressed:text-white dark:border-slate-600"
                        on:click=move |_| as_json.set(json)
                    >
                        {label}
                    </button>
                }
            };
            view! {
                <div class="flex items-center gap-2">
                    {toggle(false, "YAML")}
                    {toggle(true, "JSON")}
                    <span class="text-sm text-slate-600 dark:text-slate-300">"decoded by etcdeck from protobuf"</span>
                    <span class="ml-auto"><CopyButton text=copy what="object" testid="copy-object" /></span>
                </div>
                <pre data-testid="decoded-text" class="max-h-[32rem] overflow-auto whitespace-pre rounded border border-slate-200 p-3 font-mono text-sm dark:border-slate-700">
                    {tokens}
                </pre>
            }
            .into_any()
        }
        _ => ().into_any(),
    };
    view! {
        {header}
        {note.map(|note| view! {
            <p data-testid="decoded-note" class="text-sm text-slate-600 dark:text-slate-300">{note}</p>
        })}
        {text}
        {raw.map(|raw| view! { <ValueViewer value=raw /> })}
    }
    .into_any()
}
