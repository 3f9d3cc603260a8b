//! The locks view: one card per Mutex or RWMutex prefix, free or held,
//! its holders and its waiters in the order they will hold.

use etcdeck_shared::coord::{Lock, LockKind, Locks};
use leptos::prelude::*;

use super::contenders::{contender_block, waiting_list};
use super::frame::{BADGE, CARD, Frame, frame, grid, plural};
use crate::coord::lock_summary;
use crate::freshness::ViewState;
use crate::live_view::ReadState;
use crate::route::CoordKind;

#[component]
pub fn LocksView(
    #[prop(into)] state: Signal<ReadState<Locks>>,
    #[prop(into)] now: Signal<u64>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
    /// The view's freshness, for the stale notice; none without it.
    #[prop(into, optional)]
    live: MaybeProp<ViewState>,
) -> impl IntoView {
    frame(
        state,
        Frame {
            kind: CoordKind::Locks,
            count: |d: &Locks| plural(d.locks.len(), "lock", "locks"),
            revision: |d| d.revision,
            is_empty: |d| d.locks.is_empty(),
            empty: "no locks found",
            hint: |_| {
                "Locks are keys named by a lease id under a common prefix (NAME/694d7f3a…), as \
                 etcdctl lock NAME and the concurrency Mutex and RWMutex make them; a lock shows \
                 here while someone holds it or waits for it."
                    .to_owned()
            },
            live,
        },
        on_retry,
        move |data, read_at| {
            grid(
                data.locks
                    .into_iter()
                    .map(|lock| lock_card(lock, read_at, now)),
            )
        },
    )
}

fn lock_card(lock: Lock, read_at: u64, now: Signal<u64>) -> impl IntoView {
    let summary = lock_summary(&lock);
    let Lock {
        prefix,
        kind,
        holders,
        waiters,
    } = lock;
    let kind_text = match kind {
        LockKind::Mutex => "mutex",
        LockKind::RwMutex => "rwmutex",
    };
    let held = !holders.is_empty();
    view! {
        <article data-testid="lock-card" data-prefix=prefix.display() class=CARD>
            <div class="flex flex-wrap items-baseline justify-between gap-2">
                <h2 class="break-all font-mono text-xl font-semibold">{prefix.display()}</h2>
                <span class=BADGE>{kind_text}</span>
            </div>
            <p
                data-testid="lock-state"
                class=if held {
                    "text-3xl font-bold text-amber-700 dark:text-amber-300"
                } else {
                    "text-3xl font-bold text-emerald-800 dark:text-emerald-300"
                }
            >
                {summary}
            </p>
            <div class="flex flex-col gap-2">
                {holders
                    .into_iter()
                    .map(|holder| contender_block(holder, "lock-holder", read_at, now))
                    .collect_view()}
            </div>
            {waiting_list(waiters, "lock-waiter", "waiting, in order", read_at, now)}
        </article>
    }
}
