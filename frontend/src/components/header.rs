//! The top bar: app name, the connection indicator (`data-testid="connection"`),
//! the etcd user and a read-only badge.

use etcdeck_shared::Connection;
use leptos::prelude::*;

use crate::connection::{ConnectionState, POLL_EVERY};

#[component]
pub fn Header() -> impl IntoView {
    let state = use_context::<ConnectionState>().unwrap_or_default();
    view! {
        <header class="flex flex-wrap items-center gap-x-4 gap-y-1 border-b border-slate-200 bg-slate-50 px-4 py-2 dark:border-slate-800 dark:bg-slate-900">
            <a href="/" class="text-lg font-semibold tracking-tight">
                "etcdeck"
            </a>
            <ConnectionIndicator state=state />
            <div class="ml-auto flex items-center gap-2 text-sm">
                {move || {
                    state
                        .status
                        .with(|s| {
                            s.as_ref()
                                .map(|s| {
                                    let user = s
                                        .user
                                        .clone()
                                        .unwrap_or_else(|| "no auth".to_owned());
                                    let endpoints = s.endpoints.join(", ");
                                    let read_only = s.read_only;
                                    view! {
                                        <span
                                            data-testid="etcd-user"
                                            class="text-slate-600 dark:text-slate-300"
                                            title=format!("etcd endpoints: {endpoints}")
                                        >
                                            "user: "
                                            <span class="font-medium text-slate-900 dark:text-slate-100">
                                                {user}
                                            </span>
                                        </span>
                                        <Show when=move || read_only>
                                            <span
                                                data-testid="read-only"
                                                class="rounded border border-amber-600 px-1.5 py-0.5 text-xs font-semibold uppercase text-amber-800 dark:border-amber-400 dark:text-amber-300"
                                                title="this etcdeck refuses every write"
                                            >
                                                "read-only"
                                            </span>
                                        </Show>
                                    }
                                })
                        })
                }}
            </div>
        </header>
    }
}

/// "connected · etcd X" in green, or a red "disconnected — retrying in Ns"
/// with the reason, whether etcd or the backend itself is unreachable.
#[component]
pub fn ConnectionIndicator(state: ConnectionState) -> impl IntoView {
    let summary = move || {
        let since = state.seconds_since_poll();
        if let Some(failure) = state.failure.get() {
            // The backend itself did not answer: it is retried at the next poll.
            let retry = POLL_EVERY.as_secs().saturating_sub(since).max(1);
            return (
                false,
                format!("disconnected — retrying in {retry}s"),
                failure.to_string(),
            );
        }
        match state
            .status
            .with(|s| s.as_ref().map(|s| s.connection.clone()))
        {
            None => (false, "connecting…".to_owned(), String::new()),
            Some(Connection::Connected { etcd_version }) => (
                true,
                format!("connected · etcd {etcd_version}"),
                String::new(),
            ),
            Some(Connection::Disconnected {
                reason,
                retry_in_secs,
            }) => {
                let retry = retry_in_secs.saturating_sub(since);
                (
                    false,
                    format!("disconnected — retrying in {retry}s"),
                    reason,
                )
            }
        }
    };
    let ok = move || summary().0;
    let tone = move || {
        if ok() {
            "flex min-w-0 items-center gap-2 text-sm text-emerald-800 dark:text-emerald-300"
        } else {
            "flex min-w-0 items-center gap-2 text-sm text-red-700 dark:text-red-300"
        }
    };
    let dot = move || {
        if ok() {
            "inline-block h-2.5 w-2.5 shrink-0 rounded-full bg-emerald-500"
        } else {
            "inline-block h-2.5 w-2.5 shrink-0 rounded-full bg-red-500"
        }
    };
    view! {
        <div data-testid="connection" role="status" aria-live="polite" class=tone>
            <span aria-hidden="true" class=dot></span>
            <span class="font-medium whitespace-nowrap">{move || summary().1}</span>
            {move || {
                let reason = summary().2;
                (!reason.is_empty())
                    .then(|| {
                        view! {
                            <span
                                data-testid="connection-reason"
                                class="truncate text-slate-600 dark:text-slate-300"
                                title=reason.clone()
                            >
                                {reason.clone()}
                            </span>
                        }
                    })
            }}
        </div>
    }
}
