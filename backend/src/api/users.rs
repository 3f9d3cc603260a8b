//! `GET /api/v1/users` and `POST /api/v1/users/change`: etcd's users and
//! roles, and the changes etcd's root makes to them.
//!
//! Both act as the session's own etcd user, so etcd decides what it may
//! read (root: everything; anyone else: their own user and roles). A change
//! is checked like a write (the page's `Origin`, the session's CSRF token)
//! and refused with 403 and a sentence, without asking etcd, when this
//! session may not write (`--read-only`, a wall screen, etcd without auth)
//! or its etcd user is not root: [`ROOT_ONLY`]. A change that would lock
//! the person out ([`lock_out`]) is refused with 409 naming the danger
//! unless the request carries the typed confirmation. Every attempt past
//! the session check is audited (the change's own action, the user or role
//! as the key, the role or permission as the target), and answered only
//! once its audit line is written. A new user's password goes to etcd and
//! nowhere else: not to the audit log, the backend log or any answer.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use etcdeck_shared::Bytes;
use etcdeck_shared::users::{
    AuthChange, AuthView, ChangeRequest, Changed, ROOT, ROOT_ONLY, UserEntry, lock_out,
    name_problem, path,
};

use super::edit::{Attempt, body};
use super::extract::{Reader, Writer, check_csrf, session_from};
use super::{AppState, Failure, same_site};
use crate::auth::BrowserSession;
use crate::etcd::EtcdSession;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(path::USERS, get(view))
        .route(path::CHANGE, post(change))
}

/// `GET /api/v1/users`.
async fn view(reader: Reader) -> Result<Json<AuthView>, Failure> {
    let Some(session) = &reader.session else {
        return Err(Failure::Forbidden(no_auth()));
    };
    let Some(you) = session.user.clone() else {
        return Err(Failure::Forbidden(no_auth()));
    };
    let etcd = &reader.etcd;
    let (users, roles) = if session.is_root {
        (
            users_of(etcd).await?,
            roles_of(etcd, etcd.role_names().await?).await?,
        )
    } else {
        // etcd lets a user read its own user and its own roles, no more.
        let own = etcd.user_entry(&you).await?;
        let roles = roles_of(etcd, own.roles.clone()).await?;
        (vec![own], roles)
    };
    Ok(Json(AuthView {
        you,
        users,
        roles,
        complete: session.is_root,
        refused: refusal(session).err(),
    }))
}

/// Every user with its roles.
async fn users_of(etcd: &EtcdSession) -> Result<Vec<UserEntry>, Failure> {
    let mut users = Vec::new();
    for name in etcd.user_names().await? {
        users.push(etcd.user_entry(&name).await?);
    }
    Ok(users)
}

async fn roles_of(
    etcd: &EtcdSession,
    names: Vec<String>,
) -> Result<Vec<etcdeck_shared::users::RoleEntry>, Failure> {
    let mut roles = Vec::new();
    for name in names {
        roles.push(etcd.role_entry(&name).await?);
    }
    Ok(roles)
}

fn no_auth() -> String {
    format!("{ROOT_ONLY}; etcd has auth disabled, so it has no users or roles to manage")
}

/// Why this session may not change users and roles, without asking etcd.
fn refusal(session: &BrowserSession) -> Result<(), String> {
    let Some(user) = session.user.as_deref() else {
        return Err(no_auth());
    };
    if !session.is_root {
        return Err(format!("{ROOT_ONLY}; {user} is not root"));
    }
    session.can_write().map_err(|reason| {
        format!("{ROOT_ONLY}, and this session changes nothing in etcd: {reason}")
    })
}

/// `POST /api/v1/users/change`.
async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<ChangeRequest>, JsonRejection>,
) -> Result<Json<Changed>, Failure> {
    same_site(&headers, &state.config)?;
    let session = session_from(&headers, &state.sessions)?;
    check_csrf(&headers, &session)?;
    let request = body(request)?;
    let writer = Writer {
        etcd: session.etcd.clone(),
        user: session.user.clone(),
        is_root: session.is_root,
    };
    let change = &request.change;
    let subject = Bytes::from(change.subject());
    let mut attempt = Attempt::new(&state, &writer, change.action(), &subject);
    if let Some(object) = change.object() {
        attempt = attempt.to(&Bytes::from(object.as_str()));
    }
    let outcome = apply(&state, &session, &writer, &request).await;
    attempt.finish(outcome, |_| None)
}

async fn apply(
    state: &AppState,
    session: &BrowserSession,
    writer: &Writer,
    request: &ChangeRequest,
) -> Result<Changed, Failure> {
    refusal(session).map_err(Failure::Forbidden)?;
    let change = &request.change;
    check_names(change)?;
    // No change goes unrecorded: while the audit file fails, none starts.
    state
        .audit
        .check_writable()
        .map_err(|err| Failure::Unavailable(err.to_string()))?;
    let you = writer.user.clone().unwrap_or_default();
    let may_lock_out = match change {
        AuthChange::DeleteUser { .. } => true,
        AuthChange::RevokeRole { role, .. } | AuthChange::DeleteRole { role } => role == ROOT,
        _ => false,
    };
    let mut locked_out = false;
    if may_lock_out {
        let users = users_of(&writer.etcd).await?;
        if let Some(danger) = lock_out(change, &you, &users) {
            if request.confirm.as_deref() != Some(danger.confirm.as_str()) {
                return Err(Failure::Conflict(format!(
                    "{}; type {} to confirm, or leave it",
                    danger.danger, danger.confirm
                )));
            }
            locked_out = match change {
                AuthChange::DeleteRole { .. } => true,
                other => other.subject() == you,
            };
        }
    }
    writer.etcd.change_auth(change).await?;
    Ok(Changed {
        done: change.text(),
        locked_out,
    })
}

/// Refuses names and ranges etcd would refuse less clearly, or accept by
/// mistake (an empty password, a range that ends before it starts).
fn check_names(change: &AuthChange) -> Result<(), Failure> {
    let problem = match change {
        AuthChange::AddUser { user, password } => name_problem("user", user).or_else(|| {
            password
                .0
                .is_empty()
                .then(|| "the password must not be empty".to_owned())
        }),
        AuthChange::DeleteUser { user } => name_problem("user", user),
        AuthChange::GrantRole { user, role } | AuthChange::RevokeRole { user, role } => {
            name_problem("user", user).or_else(|| name_problem("role", role))
        }
        AuthChange::AddRole { role }
        | AuthChange::DeleteRole { role }
        | AuthChange::RemovePermission { role, .. } => name_problem("role", role),
        AuthChange::AddPermission { role, range, .. } => {
            name_problem("role", role).or_else(|| range.problem())
        }
    };
    problem.map_or(Ok(()), |sentence| Err(Failure::BadRequest(sentence)))
}
