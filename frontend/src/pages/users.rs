//! `/users`: etcd's users with their roles and its roles with their
//! permissions, and, for etcd's root in a session that may write, the
//! forms that change them: add a user (the password typed twice, sent
//! once, never shown), delete one, grant and revoke roles, add and delete
//! roles, add and remove permissions (a prefix, one key, a range or the
//! whole keyspace). Deletes and anything touching `root` open a dialog
//! that asks for the name typed; a change that would lock the person out
//! (`etcdeck_shared::users::lock_out`, the backend's own rule) says so in
//! the dialog first. Everyone else sees what etcd lets them read (their
//! own user and roles) and every control disabled with the reason.
//! Read through a [`LiveView`] at once, on "refresh" and after each change
//! (users and roles are not keys: no watch can follow them).
//!
//! DOM contract: `users-page`, `users-loading`, `users-error`,
//! `users-refresh`, `users-refused`, `users-done`, `users-change-error`;
//! rows `user-row` (`data-user`) with `user-name`, `user-role`
//! (`data-role`), `role-revoke`, `user-delete`; rows `role-row`
//! (`data-role`) with `role-name`, `permission`, `permission-remove`,
//! `role-delete`, `roles-empty`; the forms' `new-user-name`,
//! `new-user-password`, `new-user-password2`, `new-user-mismatch`,
//! `new-user-add`, `grant-user`, `grant-role`, `grant-submit`,
//! `new-role-name`, `new-role-add`, `perm-role`, `perm-access`,
//! `perm-kind`, `perm-key`, `perm-end`, `perm-add`; the dialog
//! `users-confirm` with `users-confirm-text`, `lockout-warning`,
//! `confirm-input`, `confirm-go`, `confirm-cancel`.

use etcdeck_shared::ErrorCode;
use etcdeck_shared::users::{
    Access, AuthChange, AuthView, ChangeRequest, KeyRange, PermissionEntry, ROOT, RoleEntry,
    Secret, UserEntry, lock_out,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::api::ApiFailure;
use crate::components::prefix_ops::Dialog;
use crate::components::read_notes::{Loading, ReadFailed};
use crate::live_view::{LiveView, polled_answer};
use crate::route::bytes_from_display;

const MUTED: &str = "text-slate-600 dark:text-slate-300";
const BUTTON: &str = "rounded border-2 border-slate-400 px-3 py-0.5 font-medium hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:cursor-not-allowed disabled:opacity-50 dark:border-slate-500 dark:hover:bg-slate-800";
const SMALL: &str = "rounded border border-slate-400 px-1.5 text-xs hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-600 disabled:cursor-not-allowed disabled:opacity-50 dark:border-slate-500 dark:hover:bg-slate-800";
const DANGER: &str = "rounded border-2 border-red-700 bg-red-700 px-3 py-0.5 font-semibold text-white hover:bg-red-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:cursor-not-allowed disabled:opacity-50";
const INPUT: &str = "rounded border border-slate-300 bg-white px-2 py-1 font-mono text-sm dark:border-slate-600 dark:bg-slate-900";
const CARD: &str =
    "flex flex-col gap-2 rounded-lg border border-slate-200 p-3 dark:border-slate-800";

// Users and roles are not keys: nothing to watch, only re-read.
polled_answer!(AuthView);

/// A change waiting for the person to confirm it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub change: AuthChange,
    /// What would lock the person out, in a sentence.
    pub danger: Option<String>,
    /// What must be typed to go ahead; `None`: a click is enough.
    pub typed: Option<String>,
}

/// What the page asks before sending `change`, as `view` shows etcd now:
/// `None` when it is sent at once. Deletes and anything touching `root`
/// need the name typed; a lock-out is named first.
pub fn confirmation(change: &AuthChange, view: &AuthView) -> Option<Pending> {
    let danger = lock_out(change, &view.you, &view.users);
    let deletes = matches!(
        change,
        AuthChange::DeleteUser { .. } | AuthChange::DeleteRole { .. }
    );
    let removes = matches!(change, AuthChange::RemovePermission { .. });
    let typed = match &danger {
        Some(danger) => Some(danger.confirm.clone()),
        None if deletes => Some(change.subject().to_owned()),
        None if change.touches_root() => Some(ROOT.to_owned()),
        None => None,
    };
    (typed.is_some() || removes).then(|| Pending {
        change: change.clone(),
        danger: danger.map(|d| d.danger),
        typed,
    })
}

/// The permission form's range as typed: `kind` is `prefix`, `key`,
/// `range` or `all`; keys are read as [`bytes_from_display`] reads them.
pub fn typed_range(kind: &str, key: &str, end: &str) -> Result<KeyRange, String> {
    let range = match kind {
        "all" => KeyRange::All,
        "key" => KeyRange::Key {
            key: bytes_from_display(key),
        },
        "range" => KeyRange::Range {
            from: bytes_from_display(key),
            to: (!end.is_empty()).then(|| bytes_from_display(end)),
        },
        _ if key.is_empty() => {
            return Err("type a prefix, or choose the whole keyspace".to_owned());
        }
        _ => KeyRange::Prefix {
            prefix: bytes_from_display(key),
        },
    };
    match range.problem() {
        Some(problem) => Err(problem),
        None => Ok(range),
    }
}

/// What the page knows while a change is on its way and after.
#[derive(Clone, Copy)]
struct Changes {
    live: LiveView<AuthView>,
    busy: RwSignal<bool>,
    done: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    pending: RwSignal<Option<Pending>>,
}

impl Changes {
    /// Asks first when [`confirmation`] says so, else sends.
    fn ask(self, change: AuthChange, after: Option<Callback<()>>) {
        let view = self.live.state.with_untracked(|s| s.data.clone());
        let pending = view.as_ref().and_then(|v| confirmation(&change, v));
        match pending {
            Some(pending) => self.pending.set(Some(pending)),
            None => self.send(change, None, after),
        }
    }

    fn send(self, change: AuthChange, confirm: Option<String>, after: Option<Callback<()>>) {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        self.done.set(None);
        spawn_local(async move {
            let request = ChangeRequest {
                change: change.clone(),
                confirm,
            };
            let answer = api::users::change(&request).await;
            self.busy.try_set(false);
            match answer {
                Ok(changed) => {
                    self.pending.try_set(None);
                    self.done.try_set(Some(format!("Done: {}.", changed.done)));
                    if let Some(after) = after {
                        after.run(());
                    }
                    self.live.read();
                }
                // This session ended (it deleted its own user, say): the
                // shell asks to log in again.
                Err(failure) if api::is_login_required(&failure) => {}
                // A lock-out the page did not foresee (the lists were old):
                // the backend's sentence, and the name to type.
                Err(ApiFailure::Api { error, .. }) if error.code == ErrorCode::Conflict => {
                    self.pending.try_set(Some(Pending {
                        danger: Some(error.message),
                        typed: Some(change.subject().to_owned()),
                        change,
                    }));
                    self.live.read();
                }
                Err(failure) => {
                    self.pending.try_set(None);
                    self.error.try_set(Some(format!("Not done: {failure}")));
                    self.live.read();
                }
            }
        });
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let live = LiveView::start(api::users::view);
    let changes = Changes {
        live,
        busy: RwSignal::new(false),
        done: RwSignal::new(None),
        error: RwSignal::new(None),
        pending: RwSignal::new(None),
    };
    let state = live.state;
    let refused = Memo::new(move |_| {
        state.with(|s| match &s.data {
            Some(view) => view.refused.clone(),
            None => Some("the users and roles have not been read yet".to_owned()),
        })
    });
    // The forms are made once the first answer is there and kept across
    // re-reads, so what someone is typing survives a refresh; only the
    // lists follow each answer.
    let has_data = Memo::new(move |_| state.with(|s| s.data.is_some()));
    let body = move || {
        if has_data.get() {
            return lists(live, changes, refused).into_any();
        }
        match state.with(|s| s.error.clone()) {
            Some(error) => view! {
                <ReadFailed testid="users-error" what="could not read etcd's users and roles" error=error.to_string() />
            }
            .into_any(),
            None => view! { <Loading testid="users-loading" /> }.into_any(),
        }
    };
    view! {
        <section
            data-testid="users-page"
            aria-label="Users and roles"
            class="flex min-h-0 flex-1 flex-col gap-4 overflow-auto p-4 lg:p-6"
        >
            <div class="flex flex-wrap items-baseline gap-x-6 gap-y-1">
                <h1 class="text-3xl font-bold tracking-tight">"Users and roles"</h1>
                <span class=format!("text-sm {MUTED}")>
                    {move || {
                        state
                            .with(|s| {
                                s.data
                                    .as_ref()
                                    .map(|v| {
                                        if v.complete {
                                            "every etcd user and role".to_owned()
                                        } else {
                                            format!(
                                                "your etcd user {} and its roles: etcd shows the rest to root only",
                                                v.you,
                                            )
                                        }
                                    })
                            })
                            .unwrap_or_else(|| "etcd's users and roles".to_owned())
                    }}
                </span>
                <button
                    type="button"
                    data-testid="users-refresh"
                    class=BUTTON
                    on:click=move |_| live.read()
                >
                    "refresh"
                </button>
            </div>
            {move || {
                state
                    .with(|s| s.data.as_ref().and_then(|v| v.refused.clone()))
                    .map(|reason| {
                        view! {
                            <p data-testid="users-refused" role="note" class="rounded-lg border-2 border-slate-400 bg-slate-50 px-3 py-2 font-medium dark:border-slate-600 dark:bg-slate-900">
                                "Changes are disabled: " {reason} "."
                            </p>
                        }
                    })
            }}
            {move || {
                state
                    .with(|s| s.data.as_ref().and(s.error.as_ref()).map(|e| format!("could not refresh: {e}")))
                    .map(|text| {
                        view! {
                            <p role="alert" class="rounded-lg border-2 border-amber-500 bg-amber-50 px-3 py-2 font-medium text-amber-900 dark:bg-amber-950 dark:text-amber-200">
                                {text}
                            </p>
                        }
                    })
            }}
            {move || {
                changes
                    .done
                    .get()
                    .map(|text| {
                        view! {
                            <p data-testid="users-done" role="status" class="rounded-lg border-2 border-emerald-600 bg-emerald-50 px-3 py-2 font-medium text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200">
                                {text}
                            </p>
                        }
                    })
            }}
            {move || {
                changes
                    .error
                    .get()
                    .map(|text| {
                        view! {
                            <p data-testid="users-change-error" role="alert" class="rounded-lg border-2 border-red-500 bg-red-50 px-3 py-2 font-medium text-red-900 dark:bg-red-950 dark:text-red-200">
                                {text}
                            </p>
                        }
                    })
            }}
            {body}
            {move || changes.pending.get().map(|pending| confirm_dialog(pending, changes))}
        </section>
    }
}

/// The two lists and the forms.
fn lists(
    live: LiveView<AuthView>,
    changes: Changes,
    refused: Memo<Option<String>>,
) -> impl IntoView {
    let disabled = move || refused.get().is_some() || changes.busy.get();
    let why = move || refused.get().unwrap_or_default();
    let state = live.state;
    let names = move |of_roles: bool| {
        state.with(|s| {
            s.data.as_ref().map_or_else(Vec::new, |v| {
                if of_roles {
                    v.roles.iter().map(|r| r.name.clone()).collect()
                } else {
                    v.users.iter().map(|u| u.name.clone()).collect::<Vec<_>>()
                }
            })
        })
    };
    let users = move || {
        let users = state.with(|s| s.data.as_ref().map(|v| v.users.clone()).unwrap_or_default());
        users
            .into_iter()
            .map(|user| user_row(user, changes, refused))
            .collect_view()
    };
    let roles = move || {
        let roles = state.with(|s| s.data.as_ref().map(|v| v.roles.clone()).unwrap_or_default());
        if roles.is_empty() {
            return view! {
                <p data-testid="roles-empty" class=MUTED>
                    "no roles"
                </p>
            }
            .into_any();
        }
        roles
            .into_iter()
            .map(|role| role_row(role, changes, refused))
            .collect_view()
            .into_any()
    };
    view! {
        <datalist id="users-names">
            {move || names(false).into_iter().map(|n| view! { <option value=n></option> }).collect_view()}
        </datalist>
        <datalist id="roles-names">
            {move || names(true).into_iter().map(|n| view! { <option value=n></option> }).collect_view()}
        </datalist>
        <div class="grid gap-6 xl:grid-cols-2">
            <section aria-labelledby="users-heading" class="flex flex-col gap-3">
                <h2 id="users-heading" class="text-xl font-semibold">"Users"</h2>
                <ul class="flex flex-col gap-2">{users}</ul>
                {add_user_form(changes, disabled, why)}
                {grant_form(changes, disabled, why)}
            </section>
            <section aria-labelledby="roles-heading" class="flex flex-col gap-3">
                <h2 id="roles-heading" class="text-xl font-semibold">"Roles"</h2>
                <ul class="flex flex-col gap-2">{roles}</ul>
                {add_role_form(changes, disabled, why)}
                {permission_form(changes, disabled, why)}
            </section>
        </div>
    }
}

fn user_row(user: UserEntry, changes: Changes, refused: Memo<Option<String>>) -> impl IntoView {
    let disabled = move || refused.get().is_some() || changes.busy.get();
    let name = user.name.clone();
    let delete_name = name.clone();
    let roles = if user.roles.is_empty() {
        view! { <span class=format!("text-sm {MUTED}")>"no roles"</span> }.into_any()
    } else {
        user.roles
            .into_iter()
            .map(|role| {
                let label = format!("Revoke the role {role} from {name}");
                let change = AuthChange::RevokeRole {
                    user: name.clone(),
                    role: role.clone(),
                };
                view! {
                    <span
                        data-testid="user-role"
                        data-role=role.clone()
                        class="inline-flex items-center gap-1 rounded bg-slate-200 px-1.5 py-0.5 font-mono text-sm dark:bg-slate-800"
                    >
                        {role.clone()}
                        <button
                            type="button"
                            data-testid="role-revoke"
                            class=SMALL
                            aria-label=label.clone()
                            title=move || refused.get().unwrap_or_else(|| label.clone())
                            prop:disabled=disabled
                            on:click=move |_| changes.ask(change.clone(), None)
                        >
                            "revoke"
                        </button>
                    </span>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <li data-testid="user-row" data-user=name.clone() class=CARD>
            <div class="flex flex-wrap items-center gap-2">
                <span data-testid="user-name" class="font-mono text-lg font-semibold">{name.clone()}</span>
                <span class="flex flex-wrap gap-1">{roles}</span>
                <button
                    type="button"
                    data-testid="user-delete"
                    class=format!("{SMALL} ml-auto")
                    aria-label=format!("Delete the user {name}")
                    title=move || refused.get().unwrap_or_default()
                    prop:disabled=disabled
                    on:click=move |_| {
                        changes.ask(AuthChange::DeleteUser { user: delete_name.clone() }, None)
                    }
                >
                    "delete user"
                </button>
            </div>
        </li>
    }
}

fn role_row(role: RoleEntry, changes: Changes, refused: Memo<Option<String>>) -> impl IntoView {
    let disabled = move || refused.get().is_some() || changes.busy.get();
    let name = role.name.clone();
    let delete_name = name.clone();
    let permissions = if role.permissions.is_empty() {
        view! { <li class=format!("text-sm {MUTED}")>"no permissions"</li> }.into_any()
    } else {
        role.permissions
            .into_iter()
            .map(|permission| permission_row(&name, permission, changes, refused))
            .collect_view()
            .into_any()
    };
    view! {
        <li data-testid="role-row" data-role=name.clone() class=CARD>
            <div class="flex flex-wrap items-center gap-2">
                <span data-testid="role-name" class="font-mono text-lg font-semibold">{name.clone()}</span>
                {(name == ROOT)
                    .then(|| view! { <span class=format!("text-sm {MUTED}")>"every key, and managing users and roles"</span> })}
                <button
                    type="button"
                    data-testid="role-delete"
                    class=format!("{SMALL} ml-auto")
                    aria-label=format!("Delete the role {name}")
                    title=move || refused.get().unwrap_or_default()
                    prop:disabled=disabled
                    on:click=move |_| {
                        changes.ask(AuthChange::DeleteRole { role: delete_name.clone() }, None)
                    }
                >
                    "delete role"
                </button>
            </div>
            <ul class="flex flex-col gap-1 pl-2">{permissions}</ul>
        </li>
    }
}

fn permission_row(
    role: &str,
    permission: PermissionEntry,
    changes: Changes,
    refused: Memo<Option<String>>,
) -> impl IntoView {
    let disabled = move || refused.get().is_some() || changes.busy.get();
    let text = format!("{} {}", permission.access.word(), permission.range.text());
    let label = format!("Remove {text} from the role {role}");
    let change = AuthChange::RemovePermission {
        role: role.to_owned(),
        key: permission.key,
        range_end: permission.range_end,
    };
    view! {
        <li class="flex flex-wrap items-center gap-2">
            <span data-testid="permission" class="font-mono text-sm">{text}</span>
            <button
                type="button"
                data-testid="permission-remove"
                class=SMALL
                aria-label=label.clone()
                title=move || refused.get().unwrap_or_else(|| label.clone())
                prop:disabled=disabled
                on:click=move |_| changes.ask(change.clone(), None)
            >
                "remove"
            </button>
        </li>
    }
}

/// A labelled text input bound to `value`.
fn field(
    label: &'static str,
    testid: &'static str,
    value: RwSignal<String>,
    kind: &'static str,
    list: Option<&'static str>,
) -> impl IntoView {
    let autocomplete = if kind == "password" {
        "new-password"
    } else {
        "off"
    };
    view! {
        <label class="flex flex-col gap-0.5 text-sm">
            <span>{label}</span>
            <input
                type=kind
                data-testid=testid
                class=INPUT
                list=list
                autocomplete=autocomplete
                spellcheck="false"
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </label>
    }
}

fn add_user_form(
    changes: Changes,
    disabled: impl Fn() -> bool + Send + Sync + Copy + 'static,
    why: impl Fn() -> String + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let mismatch = move || {
        let (first, second) = (password.get(), again.get());
        !second.is_empty() && first != second
    };
    let ready = move || {
        !name.get().trim().is_empty() && !password.get().is_empty() && password.get() == again.get()
    };
    let cleared = Callback::new(move |()| {
        name.set(String::new());
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if disabled() || !ready() {
            return;
        }
        let change = AuthChange::AddUser {
            user: name.get_untracked().trim().to_owned(),
            password: Secret(password.get_untracked()),
        };
        // The password leaves the page's memory with the request.
        password.set(String::new());
        again.set(String::new());
        changes.ask(change, Some(cleared));
    };
    view! {
        <form class=CARD on:submit=submit aria-label="Add a user">
            <h3 class="font-semibold">"Add a user"</h3>
            <div class="flex flex-wrap items-end gap-2">
                {field("name", "new-user-name", name, "text", None)}
                {field("password", "new-user-password", password, "password", None)}
                {field("password again", "new-user-password2", again, "password", None)}
                <button
                    type="submit"
                    data-testid="new-user-add"
                    class=BUTTON
                    title=why
                    prop:disabled=move || disabled() || !ready()
                >
                    "add user"
                </button>
            </div>
            {move || {
                mismatch()
                    .then(|| {
                        view! {
                            <p data-testid="new-user-mismatch" role="alert" class="text-sm font-medium text-red-700 dark:text-red-300">
                                "The two passwords differ."
                            </p>
                        }
                    })
            }}
        </form>
    }
}

fn grant_form(
    changes: Changes,
    disabled: impl Fn() -> bool + Send + Sync + Copy + 'static,
    why: impl Fn() -> String + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let user = RwSignal::new(String::new());
    let role = RwSignal::new(String::new());
    let ready = move || !user.get().trim().is_empty() && !role.get().trim().is_empty();
    let cleared = Callback::new(move |()| role.set(String::new()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if disabled() || !ready() {
            return;
        }
        let change = AuthChange::GrantRole {
            user: user.get_untracked().trim().to_owned(),
            role: role.get_untracked().trim().to_owned(),
        };
        changes.ask(change, Some(cleared));
    };
    view! {
        <form class=CARD on:submit=submit aria-label="Grant a role">
            <h3 class="font-semibold">"Grant a role"</h3>
            <div class="flex flex-wrap items-end gap-2">
                {field("user", "grant-user", user, "text", Some("users-names"))}
                {field("role", "grant-role", role, "text", Some("roles-names"))}
                <button
                    type="submit"
                    data-testid="grant-submit"
                    class=BUTTON
                    title=why
                    prop:disabled=move || disabled() || !ready()
                >
                    "grant"
                </button>
            </div>
        </form>
    }
}

fn add_role_form(
    changes: Changes,
    disabled: impl Fn() -> bool + Send + Sync + Copy + 'static,
    why: impl Fn() -> String + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let ready = move || !name.get().trim().is_empty();
    let cleared = Callback::new(move |()| name.set(String::new()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if disabled() || !ready() {
            return;
        }
        let change = AuthChange::AddRole {
            role: name.get_untracked().trim().to_owned(),
        };
        changes.ask(change, Some(cleared));
    };
    view! {
        <form class=CARD on:submit=submit aria-label="Add a role">
            <h3 class="font-semibold">"Add a role"</h3>
            <div class="flex flex-wrap items-end gap-2">
                {field("name", "new-role-name", name, "text", None)}
                <button
                    type="submit"
                    data-testid="new-role-add"
                    class=BUTTON
                    title=why
                    prop:disabled=move || disabled() || !ready()
                >
                    "add role"
                </button>
            </div>
        </form>
    }
}

fn permission_form(
    changes: Changes,
    disabled: impl Fn() -> bool + Send + Sync + Copy + 'static,
    why: impl Fn() -> String + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let role = RwSignal::new(String::new());
    let access = RwSignal::new("readwrite".to_owned());
    let kind = RwSignal::new("prefix".to_owned());
    let key = RwSignal::new(String::new());
    let end = RwSignal::new(String::new());
    let range = move || typed_range(&kind.get(), &key.get(), &end.get());
    let problem = move || {
        let typed = !key.get().is_empty() || kind.get() == "all";
        range().err().filter(|_| typed)
    };
    let ready = move || !role.get().trim().is_empty() && range().is_ok();
    let cleared = Callback::new(move |()| {
        key.set(String::new());
        end.set(String::new());
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if disabled() || !ready() {
            return;
        }
        let Ok(range) = range() else {
            return;
        };
        let access = match access.get_untracked().as_str() {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => Access::Readwrite,
        };
        let change = AuthChange::AddPermission {
            role: role.get_untracked().trim().to_owned(),
            access,
            range,
        };
        changes.ask(change, Some(cleared));
    };
    let select = |testid: &'static str,
                  label: &'static str,
                  value: RwSignal<String>,
                  options: &'static [(&'static str, &'static str)]| {
        view! {
            <label class="flex flex-col gap-0.5 text-sm">
                <span>{label}</span>
                <select
                    data-testid=testid
                    class=INPUT
                    on:change=move |ev| value.set(event_target_value(&ev))
                >
                    {options
                        .iter()
                        .map(|(option, text)| {
                            view! {
                                <option value=*option selected=move || value.get() == *option>
                                    {*text}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <form class=CARD on:submit=submit aria-label="Add a permission">
            <h3 class="font-semibold">"Add a permission"</h3>
            <div class="flex flex-wrap items-end gap-2">
                {field("role", "perm-role", role, "text", Some("roles-names"))}
                {select(
                    "perm-access",
                    "access",
                    access,
                    &[("read", "read"), ("write", "write"), ("readwrite", "readwrite")],
                )}
                {select(
                    "perm-kind",
                    "keys",
                    kind,
                    &[
                        ("prefix", "a prefix"),
                        ("key", "one key"),
                        ("range", "a range [from, to)"),
                        ("all", "the whole keyspace"),
                    ],
                )}
                {move || {
                    (kind.get() != "all")
                        .then(|| {
                            let label = match kind.get().as_str() {
                                "key" => "key",
                                "range" => "from",
                                _ => "prefix",
                            };
                            field(label, "perm-key", key, "text", None)
                        })
                }}
                {move || {
                    (kind.get() == "range")
                        .then(|| field("to (empty: the end)", "perm-end", end, "text", None))
                }}
                <button
                    type="submit"
                    data-testid="perm-add"
                    class=BUTTON
                    title=why
                    prop:disabled=move || disabled() || !ready()
                >
                    "add permission"
                </button>
            </div>
            {move || {
                problem()
                    .map(|text| {
                        view! { <p role="alert" class="text-sm text-red-700 dark:text-red-300">{text}</p> }
                    })
            }}
        </form>
    }
}

/// The change as a question, for the dialog.
pub fn question(change: &AuthChange) -> String {
    match change {
        AuthChange::AddUser { user, .. } => format!("Add the user {user}?"),
        AuthChange::DeleteUser { user } => format!("Delete the user {user}?"),
        AuthChange::GrantRole { user, role } => format!("Grant the role {role} to {user}?"),
        AuthChange::RevokeRole { user, role } => format!("Revoke the role {role} from {user}?"),
        AuthChange::AddRole { role } => format!("Add the role {role}?"),
        AuthChange::DeleteRole { role } => format!("Delete the role {role}?"),
        AuthChange::AddPermission {
            role,
            access,
            range,
        } => format!(
            "Give the role {role} {} on {}?",
            access.word(),
            range.text()
        ),
        AuthChange::RemovePermission {
            role,
            key,
            range_end,
        } => format!(
            "Remove the permission on {} from the role {role}?",
            KeyRange::of(&key.0, &range_end.0).text()
        ),
    }
}

/// The dialog that asks before a delete, a change touching `root` or a
/// lock-out.
fn confirm_dialog(pending: Pending, changes: Changes) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let Pending {
        change,
        danger,
        typed: expected,
    } = pending;
    let question = question(&change);
    // Stored, so the closures below are `Copy` and shared by the input's
    // Enter and the button.
    let wanted = StoredValue::new(expected.clone());
    let change = StoredValue::new(change);
    let matches =
        move || wanted.with_value(|w| w.as_deref().is_none_or(|want| typed.get() == want));
    let close = Callback::new(move |()| changes.pending.set(None));
    let go = move || {
        if !matches() || changes.busy.get_untracked() {
            return;
        }
        changes.send(change.get_value(), wanted.get_value(), None);
    };
    view! {
        <Dialog title="Confirm the change" testid="users-confirm" on_close=close>
            <p data-testid="users-confirm-text" class="text-lg">{question}</p>
            {danger
                .map(|danger| {
                    view! {
                        <p data-testid="lockout-warning" role="alert" class="rounded-lg border-2 border-red-600 bg-red-50 px-3 py-2 font-semibold text-red-900 dark:bg-red-950 dark:text-red-100">
                            "Warning: " {danger}
                        </p>
                    }
                })}
            {expected
                .map(|want| {
                    view! {
                        <label class="flex flex-col gap-1">
                            <span>"Type " <code class="font-mono font-semibold">{want.clone()}</code> " to confirm"</span>
                            <input
                                type="text"
                                data-testid="confirm-input"
                                class=INPUT
                                autocomplete="off"
                                spellcheck="false"
                                autofocus=true
                                prop:value=move || typed.get()
                                on:input=move |ev| typed.set(event_target_value(&ev))
                                on:keydown=move |ev| {
                                    if ev.key() == "Enter" {
                                        ev.prevent_default();
                                        go();
                                    }
                                }
                            />
                        </label>
                    }
                })}
            <div class="flex flex-wrap gap-2">
                <button
                    type="button"
                    data-testid="confirm-go"
                    class=DANGER
                    prop:disabled=move || !matches() || changes.busy.get()
                    on:click=move |_| go()
                >
                    {move || if changes.busy.get() { "working…" } else { "Do it" }}
                </button>
                <button
                    type="button"
                    data-testid="confirm-cancel"
                    class=BUTTON
                    on:click=move |_| close.run(())
                >
                    "Cancel"
                </button>
            </div>
        </Dialog>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit_test;

    fn view_of(you: &str, users: &[(&str, &[&str])]) -> AuthView {
        AuthView {
            you: you.to_owned(),
            users: users
                .iter()
                .map(|(name, roles)| UserEntry {
                    name: (*name).to_owned(),
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                })
                .collect(),
            roles: Vec::new(),
            complete: true,
            refused: None,
        }
    }

    #[unit_test]
    fn deletes_and_root_need_the_name_typed() {
        let view = view_of("root", &[("root", &["root"]), ("carol", &["team"])]);
        let grant = AuthChange::GrantRole {
            user: "carol".into(),
            role: "team".into(),
        };
        assert_eq!(confirmation(&grant, &view), None);
        let delete = AuthChange::DeleteUser {
            user: "carol".into(),
        };
        let asked = confirmation(&delete, &view).expect("a delete asks");
        assert_eq!(asked.typed.as_deref(), Some("carol"));
        assert_eq!(asked.danger, None);
        let revoke_own_root = AuthChange::RevokeRole {
            user: "root".into(),
            role: ROOT.into(),
        };
        let asked = confirmation(&revoke_own_root, &view).expect("a lock-out asks");
        assert!(asked.danger.is_some());
        assert_eq!(asked.typed.as_deref(), Some("root"));
        let grant_root = AuthChange::GrantRole {
            user: "carol".into(),
            role: ROOT.into(),
        };
        assert_eq!(
            confirmation(&grant_root, &view)
                .and_then(|p| p.typed)
                .as_deref(),
            Some("root")
        );
    }

    #[unit_test]
    fn typed_ranges() {
        assert_eq!(
            typed_range("prefix", "/team/", ""),
            Ok(KeyRange::Prefix {
                prefix: "/team/".into()
            })
        );
        assert!(typed_range("prefix", "", "").is_err());
        assert_eq!(typed_range("all", "", ""), Ok(KeyRange::All));
        assert!(typed_range("range", "b", "a").is_err());
        assert_eq!(
            typed_range("key", "\\x00k", ""),
            Ok(KeyRange::Key {
                key: etcdeck_shared::Bytes::new(vec![0, b'k'])
            })
        );
    }
}
