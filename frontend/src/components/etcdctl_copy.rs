//! "etcdctl commands…" for the keys of a level's first page: reads each
//! key (at most `etcdctl::MAX_KEYS`), builds the script that recreates them
//! byte for byte (`etcdeck_shared::etcdctl`), and shows it with a copy
//! button, so the copy is one click once it is ready (a browser lets a page
//! write the clipboard only right after a click, not after a long read).

use etcdeck_shared::Bytes;
use etcdeck_shared::etcdctl::{KeyToCopy, MAX_KEYS, commands};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::copy_button::CopyButton;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Script {
    Closed,
    Reading,
    Ready(String),
    Failed(String),
}

#[component]
pub fn EtcdctlCopy(#[prop(into)] prefix: Signal<Bytes>) -> impl IntoView {
    let script = RwSignal::new(Script::Closed);
    // Another level drops the script of the last one.
    Effect::new(move |_| {
        prefix.track();
        script.set(Script::Closed);
    });
    let read = move |_| {
        let prefix = prefix.get_untracked();
        script.set(Script::Reading);
        spawn_local(async move {
            let result = level_script(&prefix).await;
            script.set(match result {
                Ok(text) => Script::Ready(text),
                Err(why) => Script::Failed(why),
            });
        });
    };
    let tool = "rounded border border-slate-300 px-2 py-0.5 text-sm hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800";
    view! {
        <button type="button" data-testid="level-etcdctl" class=tool
            title="The etcdctl commands that recreate the keys of this level's first page"
            on:click=read>
            "etcdctl commands…"
        </button>
        {move || match script.get() {
            Script::Closed => ().into_any(),
            Script::Reading => view! { <span class="text-xs">"reading the keys…"</span> }.into_any(),
            Script::Failed(why) => view! {
                <span data-testid="level-etcdctl-failed" role="status" class="text-xs">{why}</span>
            }
            .into_any(),
            Script::Ready(text) => {
                let copy = text.clone();
                view! {
                    <div class="flex w-full flex-col gap-1">
                        <CopyButton text=Callback::new(move |()| copy.clone()) what="etcdctl commands" testid="copy-level-etcdctl" />
                        <textarea data-testid="level-etcdctl-script" readonly rows="8"
                            class="w-full rounded border border-slate-300 p-2 font-mono text-xs dark:border-slate-600 dark:bg-slate-900">
                            {text}
                        </textarea>
                    </div>
                }
                .into_any()
            }
        }}
    }
}

/// The script for the keys of the first page of `prefix`'s level.
async fn level_script(prefix: &Bytes) -> Result<String, String> {
    let level = api::level(prefix, None, MAX_KEYS)
        .await
        .map_err(|f| format!("could not read the level: {f}"))?;
    let mut items = Vec::new();
    for child in level.children.iter().filter(|c| c.is_key) {
        let key = child.key(prefix);
        let item = match api::key(&key).await {
            Ok(kv) => KeyToCopy {
                value: kv.masked.is_none().then_some(kv.value),
                lease: kv.lease.map(|l| (l.id.to_string(), l.granted_ttl)),
                key: kv.key,
            },
            // Deleted or unreadable meanwhile: said in the script.
            Err(_) => KeyToCopy {
                key,
                value: None,
                lease: None,
            },
        };
        items.push(item);
    }
    if items.is_empty() {
        return Err("this level's first page holds no keys of its own".into());
    }
    Ok(commands(&items, &[], None))
}
