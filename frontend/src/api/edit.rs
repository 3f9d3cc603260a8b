//! The write side of the API and reads into the past: guarded puts and
//! deletes of one key, prefix previews, prefix deletes, copies and renames,
//! a key's history, a level or key as it was at an earlier revision, and
//! the reveal of a masked value.
//! Writes go through [`post_json`], which adds the session's CSRF token; a
//! 409 on one key comes back as [`ApiFailure::Conflict`].

use etcdeck_shared::edit::{
    CopyRequest, DeletePrefixRequest, DeleteRequest, History, PrefixPreview, PutRequest, Written,
    path,
};
use etcdeck_shared::mask::{REVEAL_PATH, RevealRequest};
use etcdeck_shared::{Bytes, KeyValue, Level, Revision};

use super::{ApiFailure, get_json, key_url, level_url, post_json};

/// `POST /api/v1/put`: writes one key if its `mod_revision` is still the
/// one the user saw.
pub async fn put(request: &PutRequest) -> Result<Written, ApiFailure> {
    post_json(path::PUT, request).await
}

/// `POST /api/v1/delete`: deletes one key as the user saw it.
pub async fn delete(request: &DeleteRequest) -> Result<Written, ApiFailure> {
    post_json(path::DELETE, request).await
}

/// `GET /api/v1/prefix`: how many keys a prefix holds, and the first ones.
pub async fn prefix_preview(prefix: &Bytes) -> Result<PrefixPreview, ApiFailure> {
    get_json(prefix_url(prefix)).await
}

/// `POST /api/v1/delete-prefix`: deletes every key under a prefix, as
/// previewed.
pub async fn delete_prefix(request: &DeletePrefixRequest) -> Result<Written, ApiFailure> {
    post_json(path::DELETE_PREFIX, request).await
}

/// `POST /api/v1/reveal`: the value of a masked key, as of `revision`
/// (only etcd's root gets it; the backend audits every reveal).
pub async fn reveal(key: &Bytes, revision: Option<Revision>) -> Result<KeyValue, ApiFailure> {
    let request = RevealRequest {
        key: key.clone(),
        revision,
    };
    post_json(REVEAL_PATH, &request).await
}

/// `POST /api/v1/copy`: copies or renames a key or a prefix.
pub async fn copy(request: &CopyRequest) -> Result<Written, ApiFailure> {
    post_json(path::COPY, request).await
}

/// `GET /api/v1/history`: the key's versions still in etcd's history.
pub async fn history(key: &Bytes) -> Result<History, ApiFailure> {
    get_json(history_url(key)).await
}

/// `GET /api/v1/level?revision=R`: one page of a level as it was at `R`.
pub async fn level_at(
    prefix: &Bytes,
    after: Option<&Bytes>,
    limit: usize,
    revision: Revision,
) -> Result<Level, ApiFailure> {
    get_json(at(level_url(prefix, after, limit), revision)).await
}

/// `GET /api/v1/key?revision=R`: a key as it was at `R`.
pub async fn key_at(key: &Bytes, revision: Revision) -> Result<KeyValue, ApiFailure> {
    get_json(at(key_url(key), revision)).await
}

fn prefix_url(prefix: &Bytes) -> String {
    format!("{}?prefix={}", path::PREFIX, prefix.to_url())
}

fn history_url(key: &Bytes) -> String {
    format!("{}?key={}", path::HISTORY, key.to_url())
}

fn at(url: String, revision: Revision) -> String {
    format!("{url}&revision={revision}")
}

#[cfg(test)]
mod tests {
    use crate::unit_test;

    use super::*;

    #[unit_test]
    fn urls_carry_keys_and_revisions() {
        assert_eq!(
            prefix_url(&Bytes::new(vec![b'/', 0xff, b'/'])),
            "/api/v1/prefix?prefix=/%FF/"
        );
        assert_eq!(history_url(&Bytes::from("/k")), "/api/v1/history?key=/k");
        assert_eq!(
            at(key_url(&Bytes::from("/k")), Revision(12)),
            "/api/v1/key?key=/k&revision=12"
        );
        assert_eq!(
            at(level_url(&Bytes::from("/a/"), None, 10), Revision(3)),
            "/api/v1/level?prefix=/a/&limit=10&revision=3"
        );
    }
}
