//! Holders, waiters, leaders and candidates as the locks and elections
//! cards draw them: a contender's key by its last segment, its lease TTL
//! counting down, since when it holds, and the line of those waiting.

use etcdeck_shared::coord::{Contender, RwRole};
use etcdeck_shared::{Bytes, LeaseId};
use leptos::prelude::*;

use super::frame::{BADGE, KEY_LINK, MUTED, ticking};
use crate::components::masked_value::hidden_short;
use crate::coord::{format_shown, held_for, key_href, since_words};

/// A holder: its key (shown by its last segment, the session's lease id;
/// the card already names the prefix), its lease TTL and since when.
pub(super) fn contender_block(
    contender: Contender,
    testid: &'static str,
    read_at: u64,
    now: Signal<u64>,
) -> impl IntoView {
    let left = ticking(contender.lease_ttl, read_at, now);
    let since = contender.holding_since_ms;
    let (word, tooltip) = since_words(contender.since_exact, since, "held", "seen holding");
    let role = contender.role.map(role_text);
    view! {
        <div
            data-testid=testid
            data-key=contender.key.display()
            data-lease=contender.lease.to_string()
            class="rounded-lg border border-slate-300 bg-white px-3 py-2 dark:border-slate-600 dark:bg-slate-950"
        >
            <div class="flex flex-wrap items-center gap-2 text-lg">
                {role.map(|r| view! { <span class=BADGE>{r}</span> })}
                {short_key_link(&contender.key, contender.lease)}
            </div>
            <p class="flex flex-wrap gap-x-4 text-base tabular-nums">
                <span>
                    <span class=MUTED>"TTL "</span>
                    <span data-testid="contender-ttl">{move || format_shown(left())}</span>
                </span>
                <span title=tooltip>
                    <span class=MUTED>{format!("{word} for ")}</span>
                    <span data-testid="held-for" data-exact=contender.since_exact.to_string()>
                        {move || held_for(since, now.get()).unwrap_or_else(|| "not known".to_owned())}
                    </span>
                </span>
            </p>
        </div>
    }
}

/// A link to a contender's key, labelled with its last segment (the lease
/// id of its session, by the recipes' layout), the whole key in the
/// tooltip; the lease is named beside it when the key is not named by it.
pub(super) fn short_key_link(key: &Bytes, lease: LeaseId) -> impl IntoView + use<> {
    let bytes = key.as_slice();
    let tail = bytes
        .iter()
        .rposition(|b| *b == b'/')
        .map(|i| Bytes::from(&bytes[i + 1..]))
        .unwrap_or_else(|| key.clone());
    let lease = lease.to_string();
    let other_lease = (tail.as_slice() != lease.as_bytes()).then(|| {
        view! { <span class=format!("font-mono text-base {MUTED}")>{format!("lease {lease}")}</span> }
    });
    view! {
        <a href=key_href(key) data-testid="contender-key" class=KEY_LINK title=key.display()>
            {tail.display()}
        </a>
        {other_lease}
    }
}

pub(super) fn role_text(role: RwRole) -> &'static str {
    match role {
        RwRole::Read => "reader",
        RwRole::Write => "writer",
    }
}

/// Waiters or candidates, numbered in the order they come next.
pub(super) fn waiting_list(
    waiting: Vec<Contender>,
    testid: &'static str,
    title: &'static str,
    read_at: u64,
    now: Signal<u64>,
) -> impl IntoView {
    (!waiting.is_empty()).then(|| {
        view! {
            <div>
                <p class=format!("text-sm font-medium {MUTED}")>{title}</p>
                <ol class="mt-1 flex flex-col gap-1">
                    {waiting
                        .into_iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let left = ticking(c.lease_ttl, read_at, now);
                            let value = c
                                .masked
                                .as_ref()
                                .map_or_else(|| c.value.display(), hidden_short);
                            let value_attr = value.clone();
                            view! {
                                <li
                                    data-testid=testid
                                    data-key=c.key.display()
                                    data-value=value_attr
                                    class="flex flex-wrap items-baseline gap-x-2 text-base"
                                >
                                    <span class="w-6 shrink-0 text-right font-semibold tabular-nums">
                                        {format!("{}.", i + 1)}
                                    </span>
                                    {c.role.map(|r| view! { <span class=BADGE>{role_text(r)}</span> })}
                                    {(!value.is_empty())
                                        .then(|| view! { <span class="break-words font-semibold">{value}</span> })}
                                    {short_key_link(&c.key, c.lease)}
                                    <span class=format!("tabular-nums {MUTED}")>
                                        {move || format!("TTL {}", format_shown(left()))}
                                    </span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            </div>
        }
    })
}
