//! The users and roles page's requests: etcd's users and roles as this
//! session's user may read them, and one change to them.

use etcdeck_shared::users::{AuthView, ChangeRequest, Changed, path};

use super::{ApiFailure, get_json, post_json};

/// `GET /api/v1/users`.
pub async fn view() -> Result<AuthView, ApiFailure> {
    get_json(path::USERS.to_owned()).await
}

/// `POST /api/v1/users/change` (CSRF token sent, like every write).
pub async fn change(request: &ChangeRequest) -> Result<Changed, ApiFailure> {
    post_json(path::CHANGE, request).await
}
