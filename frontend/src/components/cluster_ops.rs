//! The cluster page's operations panel, for an incident: per member,
//! defragment (it stops serving meanwhile), download a snapshot (a plain
//! link, so the browser shows its own progress, with the expected size)
//! and move the leader there; for the cluster, compact (to a revision that
//! defaults to the current one, saying how much history goes) and disarm
//! each active alarm. Each asks for a typed confirmation (the member's
//! name, the revision, the alarm), shows its pending state, and then the
//! result or etcd's refusal in words.
//!
//! The backend allows operations to sessions that may write and whose etcd
//! user is root; it says so in `GET /api/v1/cluster/operations`, read when
//! the panel opens and after each operation. For everyone else every
//! control is disabled, with the reason as its title and in the panel.
//! The members and alarms come from the cluster page's own view (props);
//! the panel asks for nothing else but the operations themselves.
//!
//! DOM contract: `cluster-ops`, `ops-reason`, `ops-result`, `ops-compact`,
//! `ops-disarm` (`data-member`, `data-alarm`), `ops-member` rows
//! (`data-member`, `data-name`) with `ops-defragment`, `ops-snapshot`,
//! `ops-move-leader`; the dialog `ops-dialog` with `ops-revision`,
//! `ops-history-lost`, `ops-confirm`, `ops-confirm-button`,
//! `dialog-error`, `cancel-dialog`.

use etcdeck_shared::cluster::{Alarm, ClusterView, MemberState};
use etcdeck_shared::operations::{
    CompactRequest, DisarmRequest, MemberRequest, Operations, confirm_word, history_lost,
};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiFailure;
use crate::api::operations as api;
use crate::components::prefix_ops::{Dialog, failure_sentence};
use crate::format::human_size;
use crate::live_view::ReadState;

const BUTTON: &str = "rounded border px-3 py-1 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 disabled:cursor-not-allowed disabled:opacity-50";
const QUIET: &str =
    "border-slate-300 hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800";
const DANGER: &str = "border-red-700 bg-red-700 text-white hover:bg-red-800";
const INPUT: &str = "w-full rounded border border-slate-300 bg-white px-2 py-1 font-mono text-sm dark:border-slate-600 dark:bg-slate-900";
const MUTED: &str = "text-slate-600 dark:text-slate-300";

/// One operation the person asked for, waiting for its confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Compact,
    Defragment { id: String, word: String },
    MoveLeader { id: String, word: String },
    Disarm { alarm: Alarm, word: String },
}

/// What the panel shows of one member.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    id: String,
    /// Its name, or its id when it has none: what confirms an operation.
    word: String,
    is_leader: bool,
    up: bool,
    db_size: Option<u64>,
}

fn rows(view: &ClusterView) -> Vec<Row> {
    view.members
        .iter()
        .map(|m| {
            let (up, db_size) = match &m.state {
                MemberState::Up(status) => (true, Some(status.db_size_bytes)),
                _ => (false, None),
            };
            Row {
                id: m.id.clone(),
                word: confirm_word(&m.name, &m.id).to_owned(),
                is_leader: m.is_leader,
                up,
                db_size,
            }
        })
        .collect()
}

/// Why no operation may be used, from the backend's capability answer
/// (`None` when they may).
fn refusal(access: &Option<Result<Operations, ApiFailure>>) -> Option<String> {
    match access {
        None => Some("checking whether this session may use them…".to_owned()),
        Some(Err(failure)) => Some(format!(
            "could not ask whether this session may use them: {failure}"
        )),
        Some(Ok(ops)) if !ops.allowed => Some(
            ops.reason
                .clone()
                .unwrap_or_else(|| "this session may not use them".to_owned()),
        ),
        Some(Ok(_)) => None,
    }
}

/// The operations panel (see the module header).
#[component]
pub fn ClusterOps(#[prop(into)] cluster: Signal<ReadState<ClusterView>>) -> impl IntoView {
    let access = RwSignal::new(None::<Result<Operations, ApiFailure>>);
    let load = move || {
        spawn_local(async move {
            let answer = api::operations().await;
            access.try_set(Some(answer));
        });
    };
    load();
    let open = RwSignal::new(None::<Op>);
    let result = RwSignal::new(None::<String>);
    // Derived, so the rows are drawn again only when what they show
    // changes, not at every poll (keyboard focus stays where it is).
    let members = Memo::new(move |_| cluster.with(|s| s.data.as_ref().map(rows)));
    let alarms = Memo::new(move |_| {
        cluster.with(|s| {
            s.data
                .as_ref()
                .map(|v| v.alarms.clone())
                .unwrap_or_default()
        })
    });
    let view_revision =
        Memo::new(move |_| cluster.with(|s| s.data.as_ref().and_then(|v| v.revision)));
    let refused = Memo::new(move |_| access.with(refusal));
    let defragmenting = Memo::new(move |_| {
        access.with(|a| match a {
            Some(Ok(ops)) => ops.defragmenting.clone(),
            _ => None,
        })
    });
    let name_of = move |id: &str| -> String {
        members
            .get_untracked()
            .unwrap_or_default()
            .into_iter()
            .find(|r| r.id == id)
            .map_or_else(|| id.to_owned(), |r| r.word)
    };

    let member_rows = move || {
        let Some(list) = members.get() else {
            return view! { <p class=format!("text-sm {MUTED}")>"waiting for the member list…"</p> }
                .into_any();
        };
        let rows = list
            .into_iter()
            .map(|row| {
                let base = refused.get();
                let down = (!row.up).then(|| "this member does not answer".to_owned());
                let busy = defragmenting
                    .get()
                    .map(|other| format!("member {} is being defragmented now; one at a time", name_of(&other)));
                let defrag_reason = base.clone().or_else(|| down.clone()).or(busy);
                let leader_reason = base.clone().or_else(|| down.clone()).or_else(|| {
                    row.is_leader
                        .then(|| "this member is the leader already".to_owned())
                });
                let snapshot_reason = base.or(down);
                let size = row.db_size.map_or_else(
                    || "size unknown".to_owned(),
                    |s| format!("about {}", human_size(s as usize)),
                );
                let (defrag_op, leader_op) = (
                    Op::Defragment { id: row.id.clone(), word: row.word.clone() },
                    Op::MoveLeader { id: row.id.clone(), word: row.word.clone() },
                );
                let snapshot = match (&snapshot_reason, api::snapshot_link(&row.id)) {
                    (None, Some(link)) => view! {
                        <a data-testid="ops-snapshot" href=link download=""
                            class=format!("{BUTTON} {QUIET}")>
                            {format!("Download snapshot ({size})")}
                        </a>
                    }
                    .into_any(),
                    (reason, _) => {
                        let reason = reason.clone().unwrap_or_else(|| "no session".to_owned());
                        view! {
                            <button type="button" data-testid="ops-snapshot" disabled=true title=reason
                                class=format!("{BUTTON} {QUIET}")>
                                {format!("Download snapshot ({size})")}
                            </button>
                        }
                        .into_any()
                    }
                };
                view! {
                    <li data-testid="ops-member" data-member=row.id.clone() data-name=row.word.clone()
                        class="flex flex-wrap items-center gap-2 border-t border-slate-200 py-2 dark:border-slate-700">
                        <span class="min-w-32 font-mono font-semibold">{row.word.clone()}</span>
                        <span class=format!("text-xs {MUTED}")>
                            {if row.is_leader { "leader" } else { "follower" }}
                        </span>
                        <button type="button" data-testid="ops-defragment"
                            class=format!("{BUTTON} {QUIET}")
                            disabled=defrag_reason.is_some()
                            title=defrag_reason.clone().unwrap_or_else(|| "rewrites this member's database to give back free space; it stops serving meanwhile".to_owned())
                            on:click=move |_| open.set(Some(defrag_op.clone()))>
                            "Defragment…"
                        </button>
                        {snapshot}
                        <button type="button" data-testid="ops-move-leader"
                            class=format!("{BUTTON} {QUIET}")
                            disabled=leader_reason.is_some()
                            title=leader_reason.clone().unwrap_or_else(|| "hand the leadership to this member".to_owned())
                            on:click=move |_| open.set(Some(leader_op.clone()))>
                            "Move leader here…"
                        </button>
                    </li>
                }
                .into_any()
            })
            .collect_view();
        view! { <ul class="flex flex-col">{rows}</ul> }.into_any()
    };

    let alarm_buttons = move || {
        alarms
            .get()
            .into_iter()
            .map(|alarm| {
                let word = name_of(&alarm.member);
                let reason = refused.get();
                let label = format!("Disarm {} on {word}…", alarm.alarm);
                let op = Op::Disarm { alarm: alarm.clone(), word };
                view! {
                    <button type="button" data-testid="ops-disarm"
                        data-member=alarm.member.clone() data-alarm=alarm.alarm.clone()
                        class=format!("{BUTTON} {QUIET}")
                        disabled=reason.is_some()
                        title=reason.unwrap_or_else(|| "clear this alarm once its cause is fixed".to_owned())
                        on:click=move |_| open.set(Some(op.clone()))>
                        {label}
                    </button>
                }
            })
            .collect_view()
    };

    let dialog = move || {
        open.get().map(|op| {
            let (current, compacted) = access.with_untracked(|a| match a {
                Some(Ok(ops)) => (ops.revision, ops.compaction_revision),
                _ => (None, None),
            });
            let current = current
                .or_else(|| view_revision.get_untracked())
                .unwrap_or(1);
            view! {
                <OpDialog op=op current=current compacted=compacted.unwrap_or(0)
                    on_close=Callback::new(move |()| open.set(None))
                    on_done=Callback::new(move |message: String| {
                        open.set(None);
                        result.set(Some(message));
                        load();
                    }) />
            }
        })
    };

    view! {
        <section data-testid="cluster-ops" aria-label="Operations"
            class="mx-4 mb-4 max-h-[45vh] max-w-5xl shrink-0 overflow-auto rounded-xl border border-slate-300 p-4 lg:mx-6 dark:border-slate-700">
            <h2 class="text-xl font-semibold">"Operations"</h2>
            {move || refused.get().map(|reason| view! {
                <p data-testid="ops-reason" class=format!("mt-1 text-sm {MUTED}")>
                    {format!("Operations are disabled: {reason}")}
                </p>
            })}
            {move || result.get().map(|message| view! {
                <p data-testid="ops-result" role="status"
                    class="mt-2 rounded border border-emerald-400 bg-emerald-50 p-2 text-sm text-emerald-950 dark:border-emerald-700 dark:bg-emerald-950 dark:text-emerald-100">
                    {message}
                </p>
            })}
            <div class="mt-3 flex flex-wrap items-center gap-2">
                <button type="button" data-testid="ops-compact"
                    class=format!("{BUTTON} {QUIET}")
                    disabled=move || refused.get().is_some()
                    title=move || refused.get().unwrap_or_else(|| "drop etcd's history before a revision".to_owned())
                    on:click=move |_| open.set(Some(Op::Compact))>
                    "Compact…"
                </button>
                {alarm_buttons}
            </div>
            <div class="mt-3">{member_rows}</div>
            {dialog}
        </section>
    }
}

/// The confirmation of one operation, its pending state and etcd's
/// refusal; `on_done` gets the result in words.
#[component]
fn OpDialog(
    op: Op,
    /// etcd's revision, the compaction's default target.
    current: i64,
    /// etcd's compaction revision (0: never).
    compacted: i64,
    on_close: Callback<()>,
    on_done: Callback<String>,
) -> impl IntoView {
    let revision = RwSignal::new(current.to_string());
    let typed = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let input = NodeRef::<html::Input>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
        }
    });
    let op = StoredValue::new(op);
    let expected = move || match op.get_value() {
        Op::Compact => revision.get().trim().to_owned(),
        Op::Defragment { word, .. } | Op::MoveLeader { word, .. } => word,
        Op::Disarm { alarm, .. } => alarm.alarm,
    };
    let target = move || revision.get().trim().parse::<i64>().ok().filter(|r| *r > 0);
    let ready = move || {
        let typed = typed.get();
        let expected = expected();
        !busy.get()
            && !expected.is_empty()
            && typed.trim() == expected
            && (!matches!(op.get_value(), Op::Compact) || target().is_some())
    };
    let run = move || {
        if !ready() {
            return;
        }
        busy.set(true);
        error.set(None);
        let confirm = typed.get_untracked().trim().to_owned();
        let op = op.get_value();
        let target = target();
        spawn_local(async move {
            let answer = match op {
                Op::Compact => api::compact(&CompactRequest {
                    revision: target.unwrap_or_default(),
                    confirm,
                })
                .await
                .map(|c| c.message),
                Op::Defragment { id, .. } => api::defragment(&MemberRequest {
                    member: id,
                    confirm,
                })
                .await
                .map(|d| d.message),
                Op::MoveLeader { id, .. } => api::move_leader(&MemberRequest {
                    member: id,
                    confirm,
                })
                .await
                .map(|d| d.message),
                Op::Disarm { alarm, .. } => api::disarm(&DisarmRequest {
                    member: alarm.member,
                    alarm: alarm.alarm,
                    confirm,
                })
                .await
                .map(|d| d.message),
            };
            busy.try_set(false);
            match answer {
                Ok(message) => on_done.run(message),
                Err(failure) => {
                    error.try_set(Some(failure_sentence(&failure)));
                }
            }
        });
    };
    let (title, explanation, action) = match op.get_value() {
        Op::Compact => (
            "Compact etcd's history".to_owned(),
            "etcd forgets every revision before the one below: reads and watches of older revisions fail from then on. Keys and their current values stay.".to_owned(),
            "Compact",
        ),
        Op::Defragment { word, .. } => (
            format!("Defragment member {word}"),
            format!("Member {word} stops serving reads and writes while etcd rewrites its database file (seconds per GiB); its clients wait or go to another member. etcdeck defragments one member at a time: wait for this one before the next."),
            "Defragment",
        ),
        Op::MoveLeader { word, .. } => (
            format!("Move the leader to {word}"),
            format!("The current leader hands the leadership to member {word}; writes pause briefly while it does."),
            "Move leader",
        ),
        Op::Disarm { alarm, word } => (
            format!("Disarm {} on {word}", alarm.alarm),
            format!("etcd refuses writes while {} is raised. Disarm it once its cause is fixed (for NOSPACE: compact, then defragment every member), or etcd raises it again at the next write over its quota.", alarm.alarm),
            "Disarm",
        ),
    };
    let is_compact = matches!(op.get_value(), Op::Compact);
    let lost = move || match target() {
        Some(target) if target > current => {
            format!("revision {target} is in the future: etcd is at {current}")
        }
        Some(target) if target <= compacted => {
            format!("etcd is already compacted to {compacted}: choose a later revision")
        }
        Some(target) => history_lost(current, target, compacted),
        None => "type a revision (a positive whole number)".to_owned(),
    };
    view! {
        <Dialog title=title testid="ops-dialog" on_close=on_close>
            <p class="text-sm">{explanation}</p>
            {is_compact.then(|| view! {
                <label class="flex flex-col gap-1 text-sm">
                    <span>"Compact to revision"</span>
                    <input type="text" inputmode="numeric" data-testid="ops-revision" class=INPUT autocomplete="off"
                        prop:value=move || revision.get()
                        on:input=move |ev| revision.set(event_target_value(&ev)) />
                </label>
                <p data-testid="ops-history-lost" class="text-sm font-medium">{lost}</p>
            })}
            <form class="flex flex-col gap-3" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                run();
            }>
                <label class="flex flex-col gap-1 text-sm">
                    <span>"Type " <code class="font-mono">{expected}</code> " to confirm"</span>
                    <input type="text" data-testid="ops-confirm" class=INPUT autocomplete="off" spellcheck="false"
                        node_ref=input
                        prop:value=move || typed.get()
                        on:input=move |ev| typed.set(event_target_value(&ev)) />
                </label>
                {move || error.get().map(|m| view! {
                    <p data-testid="dialog-error" role="alert" class="rounded border border-red-300 bg-red-50 p-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">{m}</p>
                })}
                <div class="flex gap-2">
                    <button type="submit" data-testid="ops-confirm-button" class=format!("{BUTTON} {DANGER}")
                        disabled=move || !ready()>
                        {move || if busy.get() { "working…".to_owned() } else { action.to_owned() }}
                    </button>
                    <button type="button" data-testid="cancel-dialog" class=format!("{BUTTON} {QUIET}")
                        on:click=move |_| on_close.run(())>
                        "Cancel"
                    </button>
                </div>
            </form>
        </Dialog>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    #[unit_test]
    fn a_refusal_is_said_until_the_backend_allows() {
        assert!(refusal(&None).is_some());
        let allowed = Operations {
            allowed: true,
            reason: None,
            revision: Some(10),
            compaction_revision: Some(0),
            defragmenting: None,
        };
        assert_eq!(refusal(&Some(Ok(allowed.clone()))), None);
        let refused = Operations {
            allowed: false,
            reason: Some("not root".to_owned()),
            ..allowed
        };
        assert_eq!(refusal(&Some(Ok(refused))).as_deref(), Some("not root"));
    }
}
