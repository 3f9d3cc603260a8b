//! Bodies of the users and roles page: etcd's users with their roles, its
//! roles with their permissions ([`AuthView`]), the changes etcd's root may
//! make to them ([`AuthChange`] in a [`ChangeRequest`]), and which of those
//! would lock the person making them out ([`lock_out`]), decided here once
//! for the backend, which refuses them unless confirmed, and the page, which
//! warns before sending them.
//!
//! A new user's password travels only in [`AuthChange::AddUser`], inside a
//! [`Secret`] whose `Debug` form hides it, so no log line or error that
//! prints a request can show it; no answer ever carries one.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Bytes;

/// Paths of the users and roles page, next to [`crate::path`].
pub mod path {
    /// `GET` → [`AuthView`](super::AuthView).
    pub const USERS: &str = "/api/v1/users";
    /// `POST` [`ChangeRequest`](super::ChangeRequest) →
    /// [`Changed`](super::Changed): one change to etcd's users or roles.
    pub const CHANGE: &str = "/api/v1/users/change";
}

/// The one sentence that refuses anyone else a change, said with the reason
/// that applies to them.
pub const ROOT_ONLY: &str = "only etcd's root manages users and roles";

/// The name of etcd's all-powerful role (and of its first user).
pub const ROOT: &str = "root";

/// `GET /api/v1/users`: what this session's etcd user may read of etcd's
/// users and roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthView {
    /// This session's etcd user.
    pub you: String,
    /// Every user in name order (root), or only this session's own user.
    pub users: Vec<UserEntry>,
    /// Every role in name order (root), or only this user's own roles.
    pub roles: Vec<RoleEntry>,
    /// The lists are etcd's whole lists (etcd lets only root read them).
    pub complete: bool,
    /// Why this session may not change users and roles (`None`: it may).
    pub refused: Option<String>,
}

/// One etcd user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    pub name: String,
    /// Its roles in name order.
    pub roles: Vec<String>,
}

/// One etcd role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleEntry {
    pub name: String,
    /// In the order etcd keeps them.
    pub permissions: Vec<PermissionEntry>,
}

/// What a permission allows on its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
    Readwrite,
}

impl Access {
    pub fn word(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Readwrite => "readwrite",
        }
    }
}

/// One permission of a role: the raw range etcd keeps (`key`, `range_end`,
/// sent back as they are to remove it) and how people read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionEntry {
    pub access: Access,
    pub key: Bytes,
    /// Empty for a single key; `\0` for "every key from `key` on".
    pub range_end: Bytes,
    pub range: KeyRange,
}

/// Which keys a permission covers, in the form people think of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyRange {
    /// Exactly one key.
    Key { key: Bytes },
    /// Every key that starts with `prefix` (never empty: that is [`KeyRange::All`]).
    Prefix { prefix: Bytes },
    /// `[from, to)`; `to` is `None` for "to the end of the keyspace".
    Range { from: Bytes, to: Option<Bytes> },
    /// The whole keyspace.
    All,
}

impl KeyRange {
    /// The range etcd keeps as `key` and `range_end`, as people read it.
    pub fn of(key: &[u8], range_end: &[u8]) -> KeyRange {
        let from_start = key.is_empty() || key == [0];
        match range_end {
            [] => KeyRange::Key {
                key: Bytes::new(key),
            },
            [0] if from_start => KeyRange::All,
            [0] => match prefix_end(key) {
                // A prefix of only 0xff bytes ends at the end of the keyspace.
                None => KeyRange::Prefix {
                    prefix: Bytes::new(key),
                },
                Some(_) => KeyRange::Range {
                    from: Bytes::new(key),
                    to: None,
                },
            },
            end if !key.is_empty() && prefix_end(key).as_deref() == Some(end) => KeyRange::Prefix {
                prefix: Bytes::new(key),
            },
            end => KeyRange::Range {
                from: Bytes::new(key),
                to: Some(Bytes::new(end)),
            },
        }
    }

    /// The `key` and `range_end` etcd keeps for this range.
    pub fn to_etcd(&self) -> (Vec<u8>, Vec<u8>) {
        match self {
            KeyRange::Key { key } => (key.0.clone(), Vec::new()),
            KeyRange::Prefix { prefix } if prefix.is_empty() => (vec![0], vec![0]),
            KeyRange::Prefix { prefix } => (
                prefix.0.clone(),
                prefix_end(&prefix.0).unwrap_or_else(|| vec![0]),
            ),
            KeyRange::Range { from, to } => (
                from.0.clone(),
                to.as_ref().map_or_else(|| vec![0], |to| to.0.clone()),
            ),
            KeyRange::All => (vec![0], vec![0]),
        }
    }

    /// The range in words: `/team/ (prefix)`, `[a, b)`, `the whole keyspace`.
    pub fn text(&self) -> String {
        match self {
            KeyRange::Key { key } => format!("{} (key)", key.display()),
            KeyRange::Prefix { prefix } => format!("{} (prefix)", prefix.display()),
            KeyRange::Range { from, to: Some(to) } => {
                format!("[{}, {})", from.display(), to.display())
            }
            KeyRange::Range { from, to: None } => {
                format!("[{}, end of the keyspace)", from.display())
            }
            KeyRange::All => "the whole keyspace".to_owned(),
        }
    }

    /// Why the range cannot be granted, in a sentence (`None`: it can).
    pub fn problem(&self) -> Option<String> {
        match self {
            KeyRange::Key { key } if key.is_empty() => {
                Some("the key must not be empty (choose the whole keyspace instead)".into())
            }
            KeyRange::Range { from, to: Some(to) } if to.0 <= from.0 => Some(format!(
                "the range end {} must come after its start {}",
                to.display(),
                from.display()
            )),
            _ => None,
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`;
/// `None` when there is none (an empty prefix, or one of only 0xff bytes).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A password on its way to etcd: its `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

/// One change to etcd's users and roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AuthChange {
    AddUser {
        user: String,
        password: Secret,
    },
    DeleteUser {
        user: String,
    },
    GrantRole {
        user: String,
        role: String,
    },
    RevokeRole {
        user: String,
        role: String,
    },
    AddRole {
        role: String,
    },
    DeleteRole {
        role: String,
    },
    AddPermission {
        role: String,
        access: Access,
        range: KeyRange,
    },
    /// Removes the permission whose range etcd keeps as `key`, `range_end`.
    RemovePermission {
        role: String,
        key: Bytes,
        range_end: Bytes,
    },
}

impl AuthChange {
    /// Its audit action.
    pub fn action(&self) -> &'static str {
        match self {
            AuthChange::AddUser { .. } => "user_add",
            AuthChange::DeleteUser { .. } => "user_delete",
            AuthChange::GrantRole { .. } => "role_grant",
            AuthChange::RevokeRole { .. } => "role_revoke",
            AuthChange::AddRole { .. } => "role_add",
            AuthChange::DeleteRole { .. } => "role_delete",
            AuthChange::AddPermission { .. } => "permission_add",
            AuthChange::RemovePermission { .. } => "permission_remove",
        }
    }

    /// What it is done to (a user or a role), the audit entry's key.
    pub fn subject(&self) -> &str {
        match self {
            AuthChange::AddUser { user, .. }
            | AuthChange::DeleteUser { user }
            | AuthChange::GrantRole { user, .. }
            | AuthChange::RevokeRole { user, .. } => user,
            AuthChange::AddRole { role }
            | AuthChange::DeleteRole { role }
            | AuthChange::AddPermission { role, .. }
            | AuthChange::RemovePermission { role, .. } => role,
        }
    }

    /// What else it names (a role, a permission), the audit entry's `to`;
    /// never a password.
    pub fn object(&self) -> Option<String> {
        match self {
            AuthChange::GrantRole { role, .. } | AuthChange::RevokeRole { role, .. } => {
                Some(role.clone())
            }
            AuthChange::AddPermission { access, range, .. } => {
                Some(format!("{} {}", access.word(), range.text()))
            }
            AuthChange::RemovePermission { key, range_end, .. } => {
                Some(KeyRange::of(&key.0, &range_end.0).text())
            }
            _ => None,
        }
    }

    /// Whether it touches etcd's `root` user or role (the page asks for
    /// the name typed before sending such a change).
    pub fn touches_root(&self) -> bool {
        match self {
            AuthChange::GrantRole { user, role } | AuthChange::RevokeRole { user, role } => {
                user == ROOT || role == ROOT
            }
            other => other.subject() == ROOT,
        }
    }

    /// The change in words, for the answer and the page.
    pub fn text(&self) -> String {
        match self {
            AuthChange::AddUser { user, .. } => format!("added the user {user}"),
            AuthChange::DeleteUser { user } => format!("deleted the user {user}"),
            AuthChange::GrantRole { user, role } => format!("granted the role {role} to {user}"),
            AuthChange::RevokeRole { user, role } => {
                format!("revoked the role {role} from {user}")
            }
            AuthChange::AddRole { role } => format!("added the role {role}"),
            AuthChange::DeleteRole { role } => format!("deleted the role {role}"),
            AuthChange::AddPermission {
                role,
                access,
                range,
            } => format!("gave the role {role} {} on {}", access.word(), range.text()),
            AuthChange::RemovePermission {
                role,
                key,
                range_end,
            } => format!(
                "removed the permission on {} from the role {role}",
                KeyRange::of(&key.0, &range_end.0).text()
            ),
        }
    }
}

/// `POST /api/v1/users/change`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    pub change: AuthChange,
    /// For a change that would lock this user out ([`lock_out`]): the text
    /// of [`LockOut::confirm`], typed by the person.
    #[serde(default)]
    pub confirm: Option<String>,
}

/// The answer to a change that was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// What was done, in words ("granted the role team to alice").
    pub done: String,
    /// The change ended this session's own access (it deleted its own
    /// user or took its own root role): the page should log in again.
    pub locked_out: bool,
}

/// A change that would lock the person making it out of managing etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockOut {
    /// The danger in a sentence.
    pub danger: String,
    /// What must be typed to go ahead anyway.
    pub confirm: String,
}

/// Whether `change`, made by `you` while etcd's users are `users`, would
/// lock `you` (or everyone) out of managing etcd's auth: deleting yourself,
/// revoking `root` from yourself, taking the role from the last user who
/// has it, or deleting the role `root`.
pub fn lock_out(change: &AuthChange, you: &str, users: &[UserEntry]) -> Option<LockOut> {
    let root_holders: Vec<&str> = users
        .iter()
        .filter(|u| u.roles.iter().any(|r| r == ROOT))
        .map(|u| u.name.as_str())
        .collect();
    let last_root = |user: &str| root_holders == [user];
    let danger = match change {
        AuthChange::DeleteUser { user } if user == you => Some(format!(
            "this deletes your own user {you}: your sessions end and you cannot log in as {you} again"
        )),
        AuthChange::DeleteUser { user } if last_root(user) => Some(format!(
            "{user} is the last user with the role root: without it no one can manage users and roles"
        )),
        AuthChange::RevokeRole { user, role } if role == ROOT && user == you => Some(format!(
            "this takes the role root from yourself ({you}): you can no longer manage users and roles{}",
            if last_root(user) {
                ", and no one else has it"
            } else {
                ""
            }
        )),
        AuthChange::RevokeRole { user, role } if role == ROOT && last_root(user) => Some(format!(
            "{user} is the last user with the role root: without it no one can manage users and roles"
        )),
        AuthChange::DeleteRole { role } if role == ROOT => Some(
            "this deletes the role root: every user loses it, you included, and no one can manage users and roles"
                .to_owned(),
        ),
        _ => None,
    }?;
    Some(LockOut {
        danger,
        confirm: change.subject().to_owned(),
    })
}

/// Why a user or role name cannot be used, in a sentence (`None`: it can).
pub fn name_problem(what: &str, name: &str) -> Option<String> {
    if name.trim().is_empty() {
        Some(format!("the {what} name must not be empty"))
    } else if name != name.trim() {
        Some(format!("the {what} name must not start or end with spaces"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, roles: &[&str]) -> UserEntry {
        UserEntry {
            name: name.into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn ranges_read_as_people_think_of_them() {
        let prefix = KeyRange::of(b"/team/", b"/team0");
        assert_eq!(
            prefix,
            KeyRange::Prefix {
                prefix: "/team/".into()
            }
        );
        assert_eq!(prefix.text(), "/team/ (prefix)");
        assert_eq!(prefix.to_etcd(), (b"/team/".to_vec(), b"/team0".to_vec()));
        assert_eq!(KeyRange::of(b"", b"\0"), KeyRange::All);
        assert_eq!(KeyRange::of(b"\0", b"\0"), KeyRange::All);
        assert_eq!(KeyRange::All.text(), "the whole keyspace");
        assert_eq!(KeyRange::of(b"/a", b""), KeyRange::Key { key: "/a".into() });
        let range = KeyRange::of(b"a", b"c");
        assert_eq!(range.text(), "[a, c)");
        // `[a, b)` is exactly the keys that start with `a`.
        assert_eq!(
            KeyRange::of(b"a", b"b"),
            KeyRange::Prefix { prefix: "a".into() }
        );
        assert_eq!(
            KeyRange::of(b"a", b"\0"),
            KeyRange::Range {
                from: "a".into(),
                to: None
            }
        );
        assert_eq!(
            KeyRange::of(b"\xff", b"\0"),
            KeyRange::Prefix {
                prefix: Bytes::new(vec![0xff])
            }
        );
        // Every form goes to etcd and back unchanged.
        for range in [
            KeyRange::Prefix {
                prefix: "/team/".into(),
            },
            KeyRange::Key { key: "/k".into() },
            KeyRange::Range {
                from: "a".into(),
                to: Some("c".into()),
            },
            KeyRange::All,
        ] {
            let (key, end) = range.to_etcd();
            assert_eq!(KeyRange::of(&key, &end), range);
        }
        assert!(
            KeyRange::Range {
                from: "b".into(),
                to: Some("a".into())
            }
            .problem()
            .is_some()
        );
    }

    #[test]
    fn lock_outs_are_named() {
        let users = [
            user("root", &["root"]),
            user("ops", &["root"]),
            user("alice", &["team"]),
        ];
        let me = "ops";
        let delete_me = AuthChange::DeleteUser { user: "ops".into() };
        let found = lock_out(&delete_me, me, &users).expect("deleting yourself");
        assert!(
            found.danger.contains("your own user ops"),
            "{}",
            found.danger
        );
        assert_eq!(found.confirm, "ops");
        let revoke_mine = AuthChange::RevokeRole {
            user: "ops".into(),
            role: ROOT.into(),
        };
        assert!(lock_out(&revoke_mine, me, &users).is_some());
        // Another root remains: taking root from someone else is no lock-out.
        let revoke_other = AuthChange::RevokeRole {
            user: "root".into(),
            role: ROOT.into(),
        };
        assert_eq!(lock_out(&revoke_other, me, &users), None);
        let alone = [user("root", &["root"]), user("ops", &[])];
        assert!(lock_out(&revoke_other, me, &alone).is_some());
        assert!(
            lock_out(
                &AuthChange::DeleteUser {
                    user: "root".into()
                },
                me,
                &alone
            )
            .is_some()
        );
        assert!(lock_out(&AuthChange::DeleteRole { role: ROOT.into() }, me, &users).is_some());
        assert_eq!(
            lock_out(
                &AuthChange::DeleteUser {
                    user: "alice".into()
                },
                me,
                &users
            ),
            None
        );
        assert!(revoke_other.touches_root());
        assert!(
            !AuthChange::AddRole {
                role: "team".into()
            }
            .touches_root()
        );
    }

    #[test]
    fn passwords_never_print() {
        let change = AuthChange::AddUser {
            user: "alice".into(),
            password: Secret("hunter2-secret".into()),
        };
        let request = ChangeRequest {
            change,
            confirm: None,
        };
        assert!(!format!("{request:?}").contains("hunter2"));
        assert!(!request.change.text().contains("hunter2"));
        assert_eq!(request.change.object(), None);
        let json = serde_json::to_string(&request).expect("json");
        assert_eq!(
            json,
            r#"{"change":{"action":"add_user","user":"alice","password":"hunter2-secret"},"confirm":null}"#
        );
    }
}
