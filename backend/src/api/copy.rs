//! `POST /api/v1/copy`: copying or renaming a key or a whole prefix in one
//! guarded transaction. The checks that need no etcd (a target inside its
//! source, a target that is also a source, more keys or bytes than one
//! transaction carries) are pure functions, tested here.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use etcdeck_shared::Bytes;
use etcdeck_shared::edit::{CopyRequest, MAX_COPY_KEYS, MAX_VALUE_BYTES, Written};

use super::edit::{Attempt, body};
use super::error::write_failure;
use super::extract::Writer;
use super::kubernetes::{refuse_kubernetes_prefix, refuse_kubernetes_write};
use super::{AppState, Failure, mask};
use crate::config::Masks;
use crate::etcd::{CopyOutcome, CopyPlan, SourceKv};

/// `POST /api/v1/copy`: copy or rename.
pub(super) async fn copy(
    State(state): State<AppState>,
    writer: Writer,
    request: Result<Json<CopyRequest>, JsonRejection>,
) -> Result<Json<Written>, Failure> {
    let request = body(request)?;
    let action = if request.rename { "rename" } else { "copy" };
    let attempt = Attempt::new(&state, &writer, action, &request.from)
        .to(&request.to)
        .saw(request.revision);
    let outcome = do_copy(&writer, request, &state.config.masks).await;
    attempt.finish(outcome, |w| Some(w.revision))
}

async fn do_copy(writer: &Writer, request: CopyRequest, masks: &Masks) -> Result<Written, Failure> {
    check_copy(&request)?;
    // The copy's targets, and a rename's sources, which it deletes.
    let refuse = |key: Bytes| async move {
        if request.prefix {
            refuse_kubernetes_prefix(writer, &key).await
        } else {
            refuse_kubernetes_write(&key, false)
        }
    };
    refuse(request.to.clone()).await?;
    if request.rename {
        refuse(request.from.clone()).await?;
    }
    let CopyRequest {
        from,
        to,
        prefix,
        rename,
        revision,
    } = request;
    let user = writer.user.as_deref();
    let what = if prefix {
        format!("under {}", to.display())
    } else {
        to.display()
    };
    let sources = writer
        .etcd
        .copy_sources(&from, prefix, MAX_COPY_KEYS + 1)
        .await
        // Reading the sources: a refusal is about reading them.
        .map_err(Failure::Etcd)?;
    if sources.count == 0 {
        return Err(Failure::NotFound(if prefix {
            format!("there is no key under {} to copy", from.display())
        } else {
            format!("the key {} does not exist", from.display())
        }));
    }
    check_copy_size(sources.count, &sources.kvs)?;
    if let Some(changed) = sources.kvs.iter().find(|kv| kv.mod_revision > revision.0) {
        return Err(Failure::Conflict(format!(
            "{} changed at revision {}, after the revision {} you saw; nothing was written; look again",
            Bytes::from(changed.key.as_slice()).display(),
            changed.mod_revision,
            revision.0
        )));
    }
    if prefix {
        // Keys deleted since the user looked would be missing from the copy.
        if let Ok((then, _)) = writer.etcd.count_prefix_at(&from, Some(revision)).await
            && then != sources.count
        {
            return Err(Failure::Conflict(format!(
                "{} held {then} keys at revision {} and holds {} now; nothing was written; look again",
                from.display(),
                revision.0,
                sources.count
            )));
        }
    }
    let keys: Vec<&[u8]> = sources.kvs.iter().map(|kv| kv.key.as_slice()).collect();
    let targets = copy_targets(&from.0, &to.0, prefix, &keys).map_err(Failure::BadRequest)?;
    // Masking goes by the key's name: a masked value copied under a name
    // that is not masked would be shown to everyone who may read it.
    if !writer.is_root
        && let Some((source, target)) = mask::unmasked_target(masks, &keys, &targets)
    {
        return Err(Failure::Forbidden(format!(
            "{} looks secret and its value is hidden; copying it to {}, which does not, would show it; \
             only etcd's root may (nothing was written)",
            Bytes::from(source).display(),
            Bytes::from(target).display()
        )));
    }
    let plan = CopyPlan {
        sources: sources.kvs,
        targets,
        rename,
        guard_prefix: prefix.then(|| (from.0.clone(), revision.0)),
    };
    match writer.etcd.copy_guarded(&plan).await {
        Ok(CopyOutcome::Done { revision }) => Ok(Written {
            revision,
            keys: plan.targets.len() as u64,
            kv: None,
        }),
        Ok(CopyOutcome::Refused { existing, .. }) if !existing.is_empty() => {
            Err(Failure::Conflict(format!(
                "nothing was written: {} already exist{}",
                name_some(&existing),
                if existing.len() == 1 { "s" } else { "" }
            )))
        }
        Ok(CopyOutcome::Refused { .. }) => Err(Failure::Conflict(format!(
            "{} changed while copying; nothing was written; look again",
            from.display()
        ))),
        Err(err) => Err(write_failure(err, user, &what)),
    }
}

/// Refuses copies that cannot make sense before reading anything.
fn check_copy(request: &CopyRequest) -> Result<(), Failure> {
    if request.from.is_empty() || request.to.is_empty() {
        return Err(Failure::BadRequest(
            "the source and the target must not be empty".into(),
        ));
    }
    if request.prefix && request.to.0.starts_with(&request.from.0) {
        return Err(Failure::BadRequest(format!(
            "the target {} lies inside the source prefix {}: the copy would copy itself",
            request.to.display(),
            request.from.display()
        )));
    }
    if !request.prefix && request.to == request.from {
        return Err(Failure::BadRequest(
            "the target is the source itself".into(),
        ));
    }
    Ok(())
}

/// Refuses a copy etcd would refuse as one transaction.
fn check_copy_size(count: u64, kvs: &[SourceKv]) -> Result<(), Failure> {
    if count > MAX_COPY_KEYS as u64 {
        return Err(Failure::TooLarge(format!(
            "the source holds {count} keys; one copy moves at most {MAX_COPY_KEYS}, since etcd allows \
             128 operations per transaction (--max-txn-ops 128); nothing was written"
        )));
    }
    let bytes: usize = kvs.iter().map(|kv| kv.key.len() + kv.value.len()).sum();
    if bytes > MAX_VALUE_BYTES {
        return Err(Failure::TooLarge(format!(
            "the {count} keys to copy hold {bytes} bytes; one transaction carries at most \
             {MAX_VALUE_BYTES} (etcd refuses requests over its --max-request-bytes, 1.5 MiB by default); \
             nothing was written"
        )));
    }
    Ok(())
}

/// The target of each source key: `to` for a key, `to` + the key's suffix
/// after `from` for a prefix. Refused when a target is also a source.
fn copy_targets(
    from: &[u8],
    to: &[u8],
    prefix: bool,
    keys: &[&[u8]],
) -> Result<Vec<Vec<u8>>, String> {
    let targets: Vec<Vec<u8>> = keys
        .iter()
        .map(|key| {
            if prefix {
                let mut target = to.to_vec();
                target.extend_from_slice(key.strip_prefix(from).unwrap_or(key));
                target
            } else {
                to.to_vec()
            }
        })
        .collect();
    if let Some(both) = targets.iter().find(|t| keys.contains(&t.as_slice())) {
        return Err(format!(
            "the target {} is also one of the keys being copied; choose a target outside the source",
            Bytes::from(both.as_slice()).display()
        ));
    }
    Ok(targets)
}

/// Up to three keys by name, and how many more.
fn name_some(keys: &[Vec<u8>]) -> String {
    let mut names: Vec<String> = keys
        .iter()
        .take(3)
        .map(|k| Bytes::from(k.as_slice()).display())
        .collect();
    if keys.len() > 3 {
        names.push(format!("and {} more", keys.len() - 3));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use etcdeck_shared::{ErrorCode, Revision};

    use super::super::error::code_of;
    use super::*;

    fn request(from: &str, to: &str, prefix: bool) -> CopyRequest {
        CopyRequest {
            from: Bytes::from(from),
            to: Bytes::from(to),
            prefix,
            rename: false,
            revision: Revision(1),
        }
    }

    #[test]
    fn prefix_targets_keep_each_suffix() {
        let keys: Vec<&[u8]> = vec![b"/a/x", b"/a/y/z", b"/a/"];
        let targets = copy_targets(b"/a/", b"/b/", true, &keys).unwrap();
        assert_eq!(
            targets,
            vec![b"/b/x".to_vec(), b"/b/y/z".to_vec(), b"/b/".to_vec()]
        );
    }
    #[test]
    fn key_target_is_the_target() {
        let keys: Vec<&[u8]> = vec![b"/a"];
        assert_eq!(
            copy_targets(b"/a", b"/b", false, &keys).unwrap(),
            vec![b"/b".to_vec()]
        );
    }
    #[test]
    fn targets_that_are_sources_are_refused() {
        // "/a/b/" into "/a/": "/a/b/b/y" would land on "/a/b/y", a source.
        let keys: Vec<&[u8]> = vec![b"/a/b/b/y", b"/a/b/y"];
        let err = copy_targets(b"/a/b/", b"/a/", true, &keys).unwrap_err();
        assert!(err.contains("/a/b/y"), "{err}");
    }
    #[test]
    fn copies_into_themselves_are_refused() {
        assert!(check_copy(&request("/a/", "/a/b/", true)).is_err());
        assert!(check_copy(&request("/a/", "/a/", true)).is_err());
        assert!(check_copy(&request("/a", "/a", false)).is_err());
        assert!(check_copy(&request("", "/b", false)).is_err());
        assert!(check_copy(&request("/a", "", false)).is_err());
        // A key copied to a name that starts with it is fine.
        assert!(check_copy(&request("/a", "/a-copy", false)).is_ok());
        assert!(check_copy(&request("/a/", "/ab/", true)).is_ok());
    }
    #[test]
    fn copy_limits_name_etcds_limits() {
        let (status, code) = code_of(check_copy_size(65, &[]).unwrap_err());
        assert_eq!((status, code), (413, ErrorCode::TooLarge));
        let Err(Failure::TooLarge(sentence)) = check_copy_size(65, &[]) else {
            panic!()
        };
        assert!(sentence.contains("65") && sentence.contains("--max-txn-ops 128"));
        let big = SourceKv {
            key: b"k".to_vec(),
            value: vec![0; MAX_VALUE_BYTES],
            mod_revision: 1,
            lease: 0,
        };
        let Err(Failure::TooLarge(sentence)) = check_copy_size(1, &[big]) else {
            panic!()
        };
        assert!(sentence.contains("--max-request-bytes"), "{sentence}");
        assert!(check_copy_size(64, &[]).is_ok());
    }
}
