//! The services view: one card per registered service with its instances,
//! each alive, expiring, checking (the browser's count ran out and etcd is
//! being asked again) or gone by its lease, with its address.

use etcdeck_shared::Bytes;
use etcdeck_shared::coord::{Instance, Service, Services};
use leptos::prelude::*;

use super::frame::{CARD, Frame, MUTED, frame, grid, liveness_tone, plural, ticking, ttl_tooltip};
use crate::components::masked_value::hidden_short;
use crate::coord::{Countdown, Liveness, format_shown, format_ttl, key_href, shown_liveness};
use crate::freshness::ViewState;
use crate::live_view::ReadState;
use crate::route::CoordKind;

#[component]
pub fn ServicesView(
    #[prop(into)] state: Signal<ReadState<Services>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
    /// The view's freshness, for the stale notice; none without it.
    #[prop(into, optional)]
    live: MaybeProp<ViewState>,
) -> impl IntoView {
    frame(
        state,
        Frame {
            kind: CoordKind::Services,
            count: |d: &Services| plural(d.services.len(), "service", "services"),
            revision: |d| d.revision,
            is_empty: |d| d.services.is_empty(),
            empty: "no services found",
            hint: |d| {
                let read = if d.prefixes.is_empty() {
                    "no registration prefix is configured".to_owned()
                } else {
                    format!(
                        "read under {}",
                        d.prefixes
                            .iter()
                            .map(Bytes::display)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                format!(
                    "Instances are keys <prefix><service>/<instance> holding their address, \
                     attached to a lease the instance keeps alive ({read})."
                )
            },
            live,
        },
        on_retry,
        move |data, read_at| {
            grid(
                data.services
                    .into_iter()
                    .map(|service| service_card(service, read_at, now)),
            )
        },
    )
}

fn service_card(service: Service, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let Service {
        prefix,
        name,
        instances,
    } = service;
    let countdowns: Vec<(bool, Countdown, Option<i64>)> = instances
        .iter()
        .map(|i| {
            (
                i.lease.is_some(),
                Countdown::new(i.lease_ttl, read_at),
                i.granted_ttl,
            )
        })
        .collect();
    let tally = move || {
        let now = now.get();
        let mut counts = [0usize; 4];
        for (lease, countdown, granted) in &countdowns {
            match shown_liveness(*lease, countdown.shown(now), *granted) {
                Liveness::Alive => counts[0] += 1,
                Liveness::Expiring => counts[1] += 1,
                Liveness::Checking => counts[2] += 1,
                Liveness::Gone => counts[3] += 1,
            }
        }
        let mut parts = vec![format!("{} alive", counts[0])];
        for (count, word) in counts[1..].iter().zip(["expiring", "checking", "gone"]) {
            if *count > 0 {
                parts.push(format!("{count} {word}"));
            }
        }
        parts.join(" · ")
    };
    view! {
        <article data-testid="service-card" data-name=name.display() class=CARD>
            <div>
                <h2 class="break-all text-2xl font-bold">{name.display()}</h2>
                <p class=format!("break-all font-mono text-sm {MUTED}")>{prefix.display()}</p>
            </div>
            <p data-testid="service-tally" class="text-lg font-medium">{tally}</p>
            <ul class="flex flex-col gap-2">
                {instances
                    .into_iter()
                    .map(|instance| instance_row(instance, read_at, now))
                    .collect_view()}
            </ul>
        </article>
    }
}

fn instance_row(instance: Instance, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let Instance {
        key,
        name,
        address,
        lease,
        lease_ttl,
        granted_ttl,
        masked,
        ..
    } = instance;
    let left = ticking(lease_ttl, read_at, now);
    let has_lease = lease.is_some();
    let state = move || shown_liveness(has_lease, left(), granted_ttl);
    let tooltip = has_lease.then(|| ttl_tooltip(lease_ttl, read_at));
    let dot = move || match state() {
        Liveness::Alive => "inline-block h-3 w-3 shrink-0 rounded-full bg-emerald-500",
        Liveness::Expiring | Liveness::Checking => {
            "inline-block h-3 w-3 shrink-0 animate-pulse rounded-full bg-amber-500"
        }
        Liveness::Gone => "inline-block h-3 w-3 shrink-0 rounded-full bg-red-500",
    };
    let ttl = move || match (has_lease, granted_ttl) {
        (false, _) => "no lease".to_owned(),
        (true, Some(granted)) => {
            format!(
                "TTL {} / {}",
                format_shown(left()),
                format_ttl(Some(granted))
            )
        }
        (true, None) => format!("TTL {}", format_shown(left())),
    };
    view! {
        <li
            data-testid="service-instance"
            data-name=name.display()
            data-state=move || state().as_str()
            class="rounded-lg border border-slate-300 bg-white p-2 dark:border-slate-600 dark:bg-slate-950"
        >
            <div class="flex flex-wrap items-center gap-2">
                <span aria-hidden="true" class=dot></span>
                <a href=key_href(&key) class="break-all font-mono text-lg font-semibold hover:underline" title="Open this key">
                    {name.display()}
                </a>
                <span class=move || format!("ml-auto text-sm font-bold uppercase {}", liveness_tone(state()))>
                    {move || state().as_str()}
                </span>
            </div>
            <div class="flex flex-wrap items-baseline justify-between gap-x-3">
                <span data-testid="instance-address" class="break-all font-mono text-base">
                    {match (address, masked) {
                        (Some(address), _) => address,
                        (None, Some(masked)) => hidden_short(&masked),
                        (None, None) => "(no address in the value)".to_owned(),
                    }}
                </span>
                <span data-testid="instance-ttl" title=tooltip class=format!("tabular-nums {MUTED}")>
                    {ttl}
                </span>
            </div>
        </li>
    }
}
