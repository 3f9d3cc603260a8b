//! Conversions from etcd-client types to wire types: the one place where
//! both meet.

use etcd_client::LeaseTimeToLiveResponse;
use etcdeck_shared::users::{Access, KeyRange, PermissionEntry};
use etcdeck_shared::{Bytes, KeyValue, Lease, LeaseId, Revision};

pub(super) fn key_value(
    kv: &etcd_client::KeyValue,
    lease: Option<Lease>,
    revision: i64,
) -> KeyValue {
    KeyValue {
        key: Bytes::from(kv.key()),
        value: Bytes::from(kv.value()),
        create_revision: Revision(kv.create_revision()),
        mod_revision: Revision(kv.mod_revision()),
        version: kv.version(),
        lease,
        revision: Revision(revision),
        masked: None,
    }
}

pub(super) fn lease(id: i64, ttl: &LeaseTimeToLiveResponse) -> Lease {
    Lease {
        id: LeaseId(id),
        granted_ttl: ttl.granted_ttl(),
        // etcd answers -1 for a lease that has expired.
        remaining_ttl: (ttl.ttl() >= 0).then_some(ttl.ttl()),
    }
}

pub(super) fn unknown_lease(id: i64) -> Lease {
    Lease {
        id: LeaseId(id),
        granted_ttl: 0,
        remaining_ttl: None,
    }
}

/// One permission of a role as etcd keeps it, with its range as people
/// read it.
pub(super) fn permission(perm: &etcd_client::Permission) -> PermissionEntry {
    let access = match etcd_client::PermissionType::try_from(perm.get_type()) {
        Ok(etcd_client::PermissionType::Read) => Access::Read,
        Ok(etcd_client::PermissionType::Write) => Access::Write,
        // etcd knows no other kind; an unknown number is shown as the most
        // it could allow.
        _ => Access::Readwrite,
    };
    PermissionEntry {
        access,
        key: Bytes::from(perm.key()),
        range_end: Bytes::from(perm.range_end()),
        range: KeyRange::of(perm.key(), perm.range_end()),
    }
}
