//! The elections view: one card per election prefix with its leader (the
//! proposal in big type, since when it leads) and who is next in line.

use etcdeck_shared::coord::{Election, Elections};
use leptos::prelude::*;

use super::contenders::{short_key_link, waiting_list};
use super::frame::{CARD, Frame, MUTED, frame, grid, plural, ticking};
use crate::components::masked_value::hidden_short;
use crate::coord::{format_shown, held_for, since_words};
use crate::freshness::ViewState;
use crate::live_view::ReadState;
use crate::route::CoordKind;

#[component]
pub fn ElectionsView(
    #[prop(into)] state: Signal<ReadState<Elections>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
    /// The view's freshness, for the stale notice; none without it.
    #[prop(into, optional)]
    live: MaybeProp<ViewState>,
) -> impl IntoView {
    frame(
        state,
        Frame {
            kind: CoordKind::Elections,
            count: |d: &Elections| plural(d.elections.len(), "election", "elections"),
            revision: |d| d.revision,
            is_empty: |d| d.elections.is_empty(),
            empty: "no elections found",
            hint: |_| {
                "Candidates are keys named by a lease id under a common prefix with their \
                 proposal as the value, as etcdctl elect NAME PROPOSAL and the concurrency \
                 Election make them; the oldest leads."
                    .to_owned()
            },
            live,
        },
        on_retry,
        move |data, read_at| {
            grid(
                data.elections
                    .into_iter()
                    .map(|election| election_card(election, read_at, now)),
            )
        },
    )
}

fn election_card(election: Election, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let Election {
        prefix,
        leader,
        candidates,
    } = election;
    let leader_view = match leader {
        Some(leader) => {
            let value = leader
                .masked
                .as_ref()
                .map_or_else(|| leader.value.display(), hidden_short);
            let value_attr = value.clone();
            let left = ticking(leader.lease_ttl, read_at, now);
            let since = leader.holding_since_ms;
            let exact = leader.since_exact;
            let (word, tooltip) = since_words(exact, since, "leading", "seen leading");
            view! {
                <div
                    data-testid="election-leader"
                    data-key=leader.key.display()
                    data-value=value_attr
                    class="rounded-lg border border-slate-300 bg-white p-3 dark:border-slate-600 dark:bg-slate-950"
                >
                    <p class=format!("text-sm font-medium {MUTED}")>"leader"</p>
                    <p class="break-words text-2xl font-bold leading-tight">
                        {if value.is_empty() { "(empty proposal)".to_owned() } else { value }}
                    </p>
                    <p class="mt-1 flex flex-wrap items-baseline gap-x-4 text-base tabular-nums">
                        <span title=tooltip>
                            <span class=MUTED>{format!("{word} since ")}</span>
                            <span data-testid="held-for" data-exact=exact.to_string()>
                                {move || {
                                    held_for(since, now.get())
                                        .map(|d| format!("{d} ago"))
                                        .unwrap_or_else(|| "not known".to_owned())
                                }}
                            </span>
                        </span>
                        <span>
                            <span class=MUTED>"TTL "</span>
                            <span data-testid="contender-ttl">{move || format_shown(left())}</span>
                        </span>
                        {short_key_link(&leader.key, leader.lease)}
                    </p>
                </div>
            }
            .into_any()
        }
        None => view! {
            <p data-testid="election-no-leader" class="text-2xl font-bold text-amber-700 dark:text-amber-300">
                "no leader"
            </p>
        }
        .into_any(),
    };
    view! {
        <article data-testid="election-card" data-prefix=prefix.display() class=CARD>
            <h2 class="break-all font-mono text-xl font-semibold">{prefix.display()}</h2>
            {leader_view}
            {waiting_list(candidates, "election-candidate", "next in line", read_at, now)}
        </article>
    }
}
