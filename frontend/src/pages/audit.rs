//! `/audit`: the most recent writes and logins through etcdeck, newest
//! first (who, from where, what, which key, the revision seen and the one
//! written, and how it ended). A login row has no key; a wall screen's
//! login has no user. Read through a [`LiveView`] at once, on "refresh", every
//! [`REFRESH_EVERY`] while the tab is visible (the log lives in the
//! backend, so no etcd watch can follow it), and when the connection is
//! healthy again after a failed read; stale meanwhile.
//!
//! DOM contract: `audit-page`, `audit-loading`, `audit-empty`,
//! `audit-error`, `audit-refresh`, `audit-stale`, `stale-notice`, rows
//! `audit-row` (`data-result`), and in them `audit-key`, `audit-to`,
//! `audit-result`, `audit-detail`, `audit-address`, `audit-no-key`.

use std::time::Duration;

use etcdeck_shared::Bytes;
use etcdeck_shared::edit::{ACTION_LOGIN_TOKEN, AuditEntry, AuditLog, AuditResult};
use leptos::prelude::*;

use crate::api;
use crate::components::copy_button::CopyButton;
use crate::components::read_notes::{Loading, ReadFailed};
use crate::components::stale_notice::StaleNotice;
use crate::freshness::{MAX_DATE_MS, ViewState, local_time};
use crate::live_view::{LiveView, ReadState, polled_answer};

pub use crate::route::AUDIT_PATH;

/// How often a visible audit page reads again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(10);

const MUTED: &str = "text-slate-600 dark:text-slate-300";

// The audit log is not in etcd: nothing to watch, only re-read.
polled_answer!(AuditLog);

#[component]
pub fn AuditPage() -> impl IntoView {
    let live = LiveView::start(api::session::audit).poll_every(REFRESH_EVERY);
    view! {
        <AuditView
            state=live.state
            on_refresh=Callback::new(move |()| live.read())
            live=live.view_state()
        />
    }
}

/// The audit log as a table (fetches nothing).
#[component]
pub fn AuditView(
    #[prop(into)] state: Signal<ReadState<AuditLog>>,
    #[prop(optional)] on_refresh: Option<Callback<()>>,
    /// The page's freshness, for the stale notice; none without it.
    #[prop(into, optional)]
    live: MaybeProp<ViewState>,
) -> impl IntoView {
    let stale = move || {
        state.with(|s| {
            s.data
                .as_ref()
                .and(s.error.as_ref())
                .map(|e| format!("could not refresh: {e}"))
        })
    };
    let body = move || {
        let (data, error) = state.with(|s| (s.data.clone(), s.error.clone()));
        match (data, error) {
            (Some(log), _) if log.entries.is_empty() => view! {
                <div data-testid="audit-empty" role="status" class="max-w-4xl rounded-xl border-2 border-dashed border-slate-300 p-6 dark:border-slate-700">
                    <p class="text-2xl font-semibold">"no writes or logins yet"</p>
                    <p class=format!("mt-2 text-lg {MUTED}")>
                        "Every put, delete, copy, rename and lease action made through etcdeck \
                         is listed here, with who made it and how it ended, and so is every \
                         login, failed or throttled, with the address it came from."
                    </p>
                </div>
            }
            .into_any(),
            (Some(log), _) => audit_table(log).into_any(),
            (None, Some(error)) => view! {
                <ReadFailed testid="audit-error" what="could not read the audit log" error=error.to_string() />
            }
            .into_any(),
            (None, None) => view! {
                <Loading testid="audit-loading" />
            }
            .into_any(),
        }
    };
    view! {
        <section
            data-testid="audit-page"
            aria-label="Audit"
            class="flex min-h-0 flex-1 flex-col gap-4 overflow-auto p-4 lg:p-6 min-[3000px]:[zoom:1.25]"
        >
            <div class="flex flex-wrap items-baseline gap-x-6 gap-y-1">
                <h1 class="text-3xl font-bold tracking-tight">"Audit"</h1>
                <span class=format!("text-sm {MUTED}")>
                    "writes and logins through etcdeck, newest first; refreshed every 10 s"
                </span>
                {on_refresh
                    .map(|refresh| {
                        view! {
                            <button
                                type="button"
                                data-testid="audit-refresh"
                                class="rounded border-2 border-slate-400 px-3 py-0.5 font-medium hover:bg-slate-100 dark:border-slate-500 dark:hover:bg-slate-800"
                                on:click=move |_| refresh.run(())
                            >
                                "refresh"
                            </button>
                        }
                    })}
            </div>
            <StaleNotice state=live />
            {move || {
                stale()
                    .map(|text| {
                        view! {
                            <p data-testid="audit-stale" role="alert" class="rounded-lg border-2 border-amber-500 bg-amber-50 px-3 py-2 font-medium text-amber-900 dark:bg-amber-950 dark:text-amber-200">
                                {text}
                            </p>
                        }
                    })
            }}
            {body}
        </section>
    }
}

fn audit_table(log: AuditLog) -> impl IntoView {
    const TH: &str =
        "border-b-2 border-slate-300 px-2 py-1 text-left font-semibold dark:border-slate-700";
    view! {
        <div class="overflow-x-auto">
            <table class="w-full border-collapse text-sm 2xl:text-base">
                <thead>
                    <tr>
                        <th class=TH>"time"</th>
                        <th class=TH>"user"</th>
                        <th class=TH>"action"</th>
                        <th class=TH>"key"</th>
                        <th class=TH>"revision"</th>
                        <th class=TH>"result"</th>
                        <th class=TH>"detail"</th>
                    </tr>
                </thead>
                <tbody>{log.entries.into_iter().map(audit_row).collect_view()}</tbody>
            </table>
        </div>
    }
}

fn audit_row(entry: AuditEntry) -> impl IntoView {
    const TD: &str = "border-b border-slate-200 px-2 py-1 align-top dark:border-slate-800";
    let AuditEntry {
        at_ms,
        user,
        action,
        key,
        to,
        old_revision,
        new_revision,
        result,
        detail,
        address,
    } = entry;
    let who = user_text(user, &action);
    let revisions = revision_text(
        old_revision.map(|r| r.to_string()),
        new_revision.map(|r| r.to_string()),
    );
    view! {
        <tr data-testid="audit-row" data-result=result_text(result)>
            <td class=format!("{TD} whitespace-nowrap tabular-nums")>
                <time datetime=iso_time(at_ms)>{local_time(at_ms)}</time>
            </td>
            <td class=TD>
                {who}
                {address
                    .map(|address| {
                        view! {
                            <span data-testid="audit-address" class=format!("block {MUTED}")>
                                {address}
                            </span>
                        }
                    })}
            </td>
            <td class=format!("{TD} font-mono")>{action}</td>
            <td class=TD>
                {if key.is_empty() && to.is_none() {
                    view! {
                        <span data-testid="audit-no-key" class=MUTED>
                            "—"
                        </span>
                    }
                        .into_any()
                } else {
                    key_cell(key, "audit-key").into_any()
                }}
                {to
                    .map(|to| {
                        view! {
                            <span class=MUTED>" → "</span>
                            {key_cell(to, "audit-to")}
                        }
                    })}
            </td>
            <td class=format!("{TD} whitespace-nowrap tabular-nums")>{revisions}</td>
            <td class=TD>
                <span data-testid="audit-result" class=result_tone(result)>
                    {result_text(result)}
                </span>
            </td>
            <td data-testid="audit-detail" class=format!("{TD} {MUTED}")>
                {detail.unwrap_or_default()}
            </td>
        </tr>
    }
}

fn key_cell(key: Bytes, testid: &'static str) -> impl IntoView {
    let shown = key.display();
    let copied = shown.clone();
    view! {
        <span class="inline-flex flex-wrap items-center gap-1">
            <span data-testid=testid class="break-all font-mono">
                {shown}
            </span>
            <CopyButton text=Callback::new(move |()| copied.clone()) what="key" testid="audit-copy" />
        </span>
    }
}

/// "41 → 42", "41 → —" for a write that was not made, "— → 42" for one
/// with nothing seen before.
pub fn revision_text(old: Option<String>, new: Option<String>) -> String {
    let dash = || "—".to_owned();
    format!(
        "{} → {}",
        old.unwrap_or_else(dash),
        new.unwrap_or_else(dash)
    )
}

pub fn result_text(result: AuditResult) -> &'static str {
    match result {
        AuditResult::Ok => "ok",
        AuditResult::Conflict => "conflict",
        AuditResult::Denied => "denied",
        AuditResult::Failed => "failed",
        AuditResult::Throttled => "throttled",
    }
}

/// Who an entry names: the etcd user, or for an entry without one, a wall
/// screen's login or a session of an etcd without auth.
pub fn user_text(user: Option<String>, action: &str) -> String {
    user.unwrap_or_else(|| {
        if action == ACTION_LOGIN_TOKEN {
            "(wall screen)".to_owned()
        } else {
            "(no auth)".to_owned()
        }
    })
}

fn result_tone(result: AuditResult) -> &'static str {
    match result {
        AuditResult::Ok => "font-semibold text-emerald-800 dark:text-emerald-300",
        AuditResult::Conflict | AuditResult::Throttled => {
            "font-semibold text-amber-700 dark:text-amber-300"
        }
        AuditResult::Denied | AuditResult::Failed => "font-semibold text-red-700 dark:text-red-300",
    }
}

fn iso_time(at_ms: u64) -> String {
    if at_ms > MAX_DATE_MS {
        return String::new();
    }
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    date.to_iso_string().as_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    #[unit_test]
    fn revisions_read_old_to_new() {
        assert_eq!(
            revision_text(Some("41".into()), Some("42".into())),
            "41 → 42"
        );
        assert_eq!(revision_text(Some("41".into()), None), "41 → —");
        assert_eq!(revision_text(None, Some("7".into())), "— → 7");
        assert_eq!(result_text(AuditResult::Denied), "denied");
        assert_eq!(result_text(AuditResult::Throttled), "throttled");
        assert_eq!(user_text(None, "login_token"), "(wall screen)");
        assert_eq!(user_text(None, "put"), "(no auth)");
        assert_eq!(user_text(Some("root".into()), "login"), "root");
    }
}
