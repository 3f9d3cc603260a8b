//! `POST /api/v1/may-write`: asks the backend whether the session may write
//! some keys or prefixes, which it asks etcd without writing anything. The
//! answers are advice for the screen; etcd still decides at write time.

use etcdeck_shared::edit::{MayWrite, MayWriteRequest, WriteTarget, path};

use super::{ApiFailure, post_json};

/// One request for every target a screen shows (at most
/// [`etcdeck_shared::edit::MAX_MAY_WRITE_TARGETS`]); the answers come back
/// in the order asked. It changes nothing, so it needs no CSRF token, but
/// it goes through [`post_json`] like every `POST` so that a 401 ends the
/// session as anywhere else.
pub async fn may_write(targets: Vec<WriteTarget>) -> Result<MayWrite, ApiFailure> {
    let answer: MayWrite = post_json(path::MAY_WRITE, &MayWriteRequest { targets }).await?;
    Ok(answer)
}
