//! Kubernetes values over HTTP: `GET /api/v1/decoded` (a key's value as the
//! backend decodes it: a Kubernetes object as YAML and JSON, or gzip
//! decompressed), and [`refuse_kubernetes_write`], the one check every
//! write path makes before it asks etcd to change keys under `/registry/`.

use axum::Json;
use axum::extract::{RawQuery, State};
use etcdeck_shared::Bytes;
use etcdeck_shared::kubernetes::{
    Content, Decoded, REFUSAL, REGISTRY_PREFIX, covers_registry, write_refusal,
};

use super::extract::{Reader, Writer};
use super::{AppState, Failure};

/// `GET /api/v1/decoded?key=K&revision=R`: the key read as the session's
/// own etcd user (so etcd's permissions apply as for `GET /api/v1/key`),
/// then decoded. A masked key is answered masked, undecoded.
pub(super) async fn decoded(
    State(state): State<AppState>,
    reader: Reader,
    RawQuery(raw): RawQuery,
) -> Result<Json<Decoded>, Failure> {
    // Read and masked as `GET /api/v1/key` does; a masked value is not decoded.
    let kv = super::read_key(&state, &reader, raw.as_deref()).await?;
    if let Some(masked) = kv.masked {
        return Ok(Json(Decoded {
            key: kv.key,
            revision: kv.revision,
            mod_revision: kv.mod_revision,
            gzip: None,
            content: Content::Masked(masked),
        }));
    }
    let (gzip, content) = crate::kubernetes::decode(&kv.value.0);
    Ok(Json(Decoded {
        key: kv.key,
        revision: kv.revision,
        mod_revision: kv.mod_revision,
        gzip,
        content,
    }))
}

/// Refuses a write that would change keys of the Kubernetes API server:
/// the key itself, or with `prefix` every key under it. Every write path
/// (put, delete, prefix delete, copy and rename, lease revoke) calls this
/// before asking etcd, with the sentence the browser shows beforehand.
pub(super) fn refuse_kubernetes_write(key: &Bytes, prefix: bool) -> Result<(), Failure> {
    match write_refusal(&key.0, prefix) {
        Some(why) => Err(Failure::ReadOnly(why)),
        None => Ok(()),
    }
}

/// A lease revoke deletes the keys attached to the lease (Kubernetes puts
/// its events on leases): refused when any of them lies under `/registry/`.
/// Keys the user may not list are left to etcd, which judges the revoke.
pub(super) async fn refuse_kubernetes_lease(writer: &Writer, id: i64) -> Result<(), Failure> {
    let info = writer.etcd.lease_info(id, true).await?;
    match info.keys.iter().find(|k| k.starts_with(REGISTRY_PREFIX)) {
        Some(key) => refuse_kubernetes_write(&Bytes(key.clone()), false),
        None => Ok(()),
    }
}

/// A write on every key under `prefix` that covers the whole registry
/// (`/`, `/registry`) is refused when etcd holds keys under `/registry/`
/// (one `count_only` read, as the session's user).
pub(super) async fn refuse_kubernetes_prefix(
    writer: &Writer,
    prefix: &Bytes,
) -> Result<(), Failure> {
    refuse_kubernetes_write(prefix, true)?;
    if !covers_registry(&prefix.0) {
        return Ok(());
    }
    let (count, _) = writer
        .etcd
        .count_prefix(&Bytes(REGISTRY_PREFIX.to_vec()))
        .await?;
    if count > 0 {
        return Err(Failure::ReadOnly(REFUSAL.to_owned()));
    }
    Ok(())
}
