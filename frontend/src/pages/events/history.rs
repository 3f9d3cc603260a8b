//! Where the events page's history starts: etcd's current revision, read
//! with one key read inside the watched range, and the oldest revision etcd
//! still keeps, found by reads at a revision.

use etcdeck_shared::{Bytes, ErrorCode, Revision};

use crate::api;

/// A key inside the watched range, read to learn about etcd's revisions:
/// the prefix itself, or `\0` (the first key there is) for every key. An
/// etcd user who may watch the range may read it.
pub(super) fn probe_key(prefix: Bytes) -> Bytes {
    if prefix.is_empty() {
        Bytes::new(vec![0])
    } else {
        prefix
    }
}

/// etcd's current revision, from one read of the probe key (a missing key
/// says the revision it is missing at). `None` when the read fails.
pub(super) async fn current_revision(probe: &Bytes) -> Option<Revision> {
    match api::key(probe).await {
        Ok(kv) => Some(kv.revision),
        Err(failure) => failure.revision(),
    }
}

/// The first revision from `from` that etcd has not compacted: `from`
/// itself after one read, else found by bisecting up to `current` with
/// reads of the probe key at a revision (about ten for the whole window).
/// Starting there spares the subscription a gap for history that is
/// simply gone; if etcd compacts further meanwhile, the feed starts again
/// from the compaction point it is told.
pub(super) async fn first_kept(probe: &Bytes, from: Revision, current: Revision) -> Revision {
    if kept_at(probe, from).await {
        return from;
    }
    let (mut gone, mut kept) = (from.0, current.0);
    while kept - gone > 1 {
        let mid = gone + (kept - gone) / 2;
        if kept_at(probe, Revision(mid)).await {
            kept = mid;
        } else {
            gone = mid;
        }
    }
    Revision(kept)
}

/// Whether etcd still answers for `revision`; any answer but "compacted"
/// counts as yes (a failed read is left to the subscription).
async fn kept_at(probe: &Bytes, revision: Revision) -> bool {
    match api::edit::key_at(probe, revision).await {
        Ok(_) => true,
        Err(failure) => failure.code() != Some(ErrorCode::Compacted),
    }
}
