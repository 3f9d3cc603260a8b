//! etcd's auth management (users, roles, permissions), asked as the
//! session's own etcd user: etcd decides who may, and it lets only root
//! list or change them (anyone may read their own user and their own
//! roles). The answers are wire types of `etcdeck_shared::users`.
//!
//! Changes are never sent twice: a repeated add would answer "already
//! exists" for a change that was in fact made, so each is tried on another
//! member only when the request never reached the first.

use etcd_client::{Permission, PermissionType, RoleRevokePermissionOptions};
use etcdeck_shared::users::{Access, AuthChange, PermissionEntry, RoleEntry, UserEntry};

use super::{EtcdError, EtcdSession, Retry, convert};

impl EtcdSession {
    /// Every user's name, in name order (root only).
    pub async fn user_names(&self) -> Result<Vec<String>, EtcdError> {
        let answer = self
            .call(Retry::Always, |mut client| async move {
                client.user_list().await
            })
            .await?;
        let mut names = answer.users().to_vec();
        names.sort();
        Ok(names)
    }

    /// One user with its roles in name order (root, or the user itself).
    pub async fn user_entry(&self, name: &str) -> Result<UserEntry, EtcdError> {
        let name = &name.to_owned();
        let answer = self
            .call(Retry::Always, |mut client| async move {
                client.user_get(name.clone()).await
            })
            .await?;
        let mut roles = answer.roles().to_vec();
        roles.sort();
        Ok(UserEntry {
            name: name.clone(),
            roles,
        })
    }

    /// Every role's name, in name order (root only).
    pub async fn role_names(&self) -> Result<Vec<String>, EtcdError> {
        let answer = self
            .call(Retry::Always, |mut client| async move {
                client.role_list().await
            })
            .await?;
        let mut names = answer.roles().to_vec();
        names.sort();
        Ok(names)
    }

    /// One role with its permissions (root, or a user who has the role).
    pub async fn role_entry(&self, name: &str) -> Result<RoleEntry, EtcdError> {
        let name = &name.to_owned();
        let answer = self
            .call(Retry::Always, |mut client| async move {
                client.role_get(name.clone()).await
            })
            .await?;
        Ok(RoleEntry {
            name: name.clone(),
            permissions: answer
                .permissions()
                .iter()
                .map(convert::permission)
                .collect(),
        })
    }

    /// The permissions of `user`'s roles, read as `user`'s own session
    /// (etcd lets a user read their own user and the roles they hold);
    /// `None` when the user has the root role, which may read everything.
    pub async fn own_permissions(
        &self,
        user: &str,
    ) -> Result<Option<Vec<PermissionEntry>>, EtcdError> {
        let entry = self.user_entry(user).await?;
        if entry.roles.iter().any(|role| role == "root") {
            return Ok(None);
        }
        let mut permissions = Vec::new();
        for role in &entry.roles {
            permissions.extend(self.role_entry(role).await?.permissions);
        }
        Ok(Some(permissions))
    }

    /// Makes one change to etcd's users and roles.
    pub async fn change_auth(&self, change: &AuthChange) -> Result<(), EtcdError> {
        match change {
            AuthChange::AddUser { user, password } => {
                let (user, password) = (&user.clone(), &password.0.clone());
                self.call(Retry::IfNotSent, |mut client| async move {
                    client.user_add(user.clone(), password.clone(), None).await
                })
                .await
                .map(|_| ())
            }
            AuthChange::DeleteUser { user } => self
                .call(Retry::IfNotSent, |mut client| async move {
                    client.user_delete(user.clone()).await
                })
                .await
                .map(|_| ()),
            AuthChange::GrantRole { user, role } => self
                .call(Retry::IfNotSent, |mut client| async move {
                    client.user_grant_role(user.clone(), role.clone()).await
                })
                .await
                .map(|_| ()),
            AuthChange::RevokeRole { user, role } => self
                .call(Retry::IfNotSent, |mut client| async move {
                    client.user_revoke_role(user.clone(), role.clone()).await
                })
                .await
                .map(|_| ()),
            AuthChange::AddRole { role } => self
                .call(Retry::IfNotSent, |mut client| async move {
                    client.role_add(role.clone()).await
                })
                .await
                .map(|_| ()),
            AuthChange::DeleteRole { role } => self
                .call(Retry::IfNotSent, |mut client| async move {
                    client.role_delete(role.clone()).await
                })
                .await
                .map(|_| ()),
            AuthChange::AddPermission {
                role,
                access,
                range,
            } => {
                let kind = match access {
                    Access::Read => PermissionType::Read,
                    Access::Write => PermissionType::Write,
                    Access::Readwrite => PermissionType::Readwrite,
                };
                let (key, end) = range.to_etcd();
                let permission = &Permission::new(kind, key).with_range_end(end);
                self.call(Retry::IfNotSent, |mut client| async move {
                    client
                        .role_grant_permission(role.clone(), permission.clone())
                        .await
                })
                .await
                .map(|_| ())
            }
            AuthChange::RemovePermission {
                role,
                key,
                range_end,
            } => self
                .call(Retry::IfNotSent, |mut client| async move {
                    let options =
                        RoleRevokePermissionOptions::new().with_range_end(range_end.0.clone());
                    client
                        .role_revoke_permission(role.clone(), key.0.clone(), Some(options))
                        .await
                })
                .await
                .map(|_| ()),
        }
    }
}
