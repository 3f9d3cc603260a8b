//! Bodies of the write side of the HTTP API: sessions (log in, log out, who
//! am I), guarded edits of keys and prefixes, a key's history, lease
//! actions, the audit log, and asking whether the user may write a key or
//! prefix ([`MayWriteRequest`]) before offering the controls that would.
//!
//! Every write names the `mod_revision` the user saw and is one etcd
//! transaction guarded on it: when the key changed meanwhile nothing is
//! written and the answer is 409 with a [`Conflict`] that carries the
//! current version, so the user can compare both and choose.
//!
//! Writes are `POST`s with a JSON body and the session's CSRF token in the
//! [`CSRF_HEADER`] header.

use serde::{Deserialize, Serialize};

use crate::{Bytes, KeyValue, LeaseId, Revision};

/// Paths of the write side, next to [`crate::path`].
pub mod path {
    /// `GET`: the browser's session ([`SessionInfo`]), 401 without one.
    pub const SESSION: &str = "/api/v1/session";
    /// `POST` [`LoginRequest`]: starts a session, sets the cookie.
    pub const LOGIN: &str = "/api/v1/login";
    /// `POST`: ends the session and clears the cookie.
    pub const LOGOUT: &str = "/api/v1/logout";
    /// `POST` [`PutRequest`] → [`Written`].
    pub const PUT: &str = "/api/v1/put";
    /// `POST` [`DeleteRequest`] → [`Written`].
    pub const DELETE: &str = "/api/v1/delete";
    /// `GET ?prefix=P` → [`PrefixPreview`].
    pub const PREFIX: &str = "/api/v1/prefix";
    /// `POST` [`DeletePrefixRequest`] → [`Written`].
    pub const DELETE_PREFIX: &str = "/api/v1/delete-prefix";
    /// `POST` [`CopyRequest`] → [`Written`].
    pub const COPY: &str = "/api/v1/copy";
    /// `GET ?key=K` → [`History`].
    pub const HISTORY: &str = "/api/v1/history";
    /// `POST` [`LeaseGrantRequest`] → [`LeaseGranted`].
    pub const LEASE_GRANT: &str = "/api/v1/lease/grant";
    /// `POST` [`LeaseRequest`] → [`Written`] (revision only).
    pub const LEASE_REVOKE: &str = "/api/v1/lease/revoke";
    /// `POST` [`LeaseRequest`] → [`LeaseKept`].
    pub const LEASE_KEEP_ALIVE: &str = "/api/v1/lease/keep-alive";
    /// `GET` → [`AuditLog`].
    pub const AUDIT: &str = "/api/v1/audit";
    /// `POST` [`MayWriteRequest`] → [`MayWrite`]; `GET ?key=K` or
    /// `?prefix=P` → [`MayWrite`] with one answer.
    pub const MAY_WRITE: &str = "/api/v1/may-write";
}

/// The header that carries [`SessionInfo::csrf`] on every write.
pub const CSRF_HEADER: &str = "x-etcdeck-csrf";
/// The name of the HttpOnly session cookie.
pub const SESSION_COOKIE: &str = "etcdeck_session";

/// Defined with the other limits both sides check.
pub use crate::limits::MAX_VALUE_BYTES;
/// Most keys one copy or rename moves: each key costs two compares (source
/// unchanged, target absent) and one or two operations, and etcd allows 128
/// of each per transaction (`--max-txn-ops`).
pub const MAX_COPY_KEYS: usize = 64;
/// Most keys a [`PrefixPreview`] lists by name (the count is always exact).
pub const PREVIEW_KEYS: usize = 100;
/// Most versions a [`History`] returns (the newest ones).
pub const MAX_HISTORY_VERSIONS: usize = 200;
/// Most targets one [`MayWriteRequest`] asks about: a screen of rows, and
/// few enough that all of them fit in one etcd transaction (each costs one
/// compare and one operation; etcd allows 128 of each).
pub const MAX_MAY_WRITE_TARGETS: usize = 100;

/// `POST /api/v1/login`: an etcd user's name and password, or the wall
/// screen's read-only access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoginRequest {
    Password { user: String, password: String },
    Token { token: String },
}

/// How a browser session acts on etcd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// Logged in as an etcd user: etcd's RBAC decides what it may do.
    Login,
    /// A wall screen with the server's read-only access token.
    Token,
    /// etcd has auth disabled: no one logs in.
    Open,
}

/// `GET /api/v1/session`: who the browser acts as and whether it may write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub kind: SessionKind,
    /// The etcd user the session acts as (`None` without etcd auth).
    pub user: Option<String>,
    /// Whether etcdeck lets this session write (etcd may still refuse).
    pub can_write: bool,
    /// Why writes are refused, in a sentence for the screen.
    pub read_only_reason: Option<String>,
    /// The token to send in [`CSRF_HEADER`] with every write.
    pub csrf: String,
    /// The session ends after this many seconds without a request.
    pub idle_timeout_secs: u64,
    /// The session's etcd user has etcd's root role: it may reveal masked
    /// values ([`crate::mask`]).
    #[serde(default)]
    pub is_root: bool,
}

/// What a save does with the key's lease.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LeaseChoice {
    /// Keep whatever lease the key has (none for a new key).
    #[default]
    Keep,
    /// Detach the key from its lease.
    Detach,
    /// Attach the key to this lease.
    Attach { id: LeaseId },
}

/// `POST /api/v1/put`: create or update one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutRequest {
    pub key: Bytes,
    pub value: Bytes,
    /// The `mod_revision` the user saw; `Revision(0)` creates a key that
    /// must not exist yet.
    pub expect_mod_revision: Revision,
    #[serde(default)]
    pub lease: LeaseChoice,
}

/// `POST /api/v1/delete`: delete one key as the user saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub key: Bytes,
    pub expect_mod_revision: Revision,
}

/// A write that was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// The etcd revision of the write (all of it: one transaction).
    pub revision: Revision,
    /// How many keys it changed (put, deleted or copied).
    pub keys: u64,
    /// The key as written, for a put.
    pub kv: Option<KeyValue>,
}

/// 409: the key changed since the user saw it; nothing was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub message: String,
    pub key: Bytes,
    /// The key now; `None` when it no longer exists.
    pub current: Option<KeyValue>,
    /// The revision `current` was read at.
    pub revision: Revision,
}

/// `GET /api/v1/prefix?prefix=P`: what deleting, copying or renaming the
/// prefix would touch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixPreview {
    pub prefix: Bytes,
    /// Every key under the prefix, counted by etcd.
    pub count: u64,
    /// The first [`PREVIEW_KEYS`] of them, in key order.
    pub keys: Vec<Bytes>,
    /// The revision counted at; a delete guarded on it refuses if keys were
    /// added or changed since.
    pub revision: Revision,
}

/// `POST /api/v1/delete-prefix`: one range delete of every key under
/// `prefix`, refused if any key under it changed after `revision`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletePrefixRequest {
    pub prefix: Bytes,
    /// The preview's revision.
    pub revision: Revision,
    /// The preview's count: refused if the prefix now holds a different
    /// number of keys.
    pub count: u64,
    /// What the user typed to confirm: must be the prefix as
    /// [`Bytes::display`] shows it.
    pub confirm: String,
}

/// `POST /api/v1/copy`: copy (or rename) a key, or every key under a
/// prefix, in one transaction. Refused if any target exists or any source
/// changed after `revision`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRequest {
    pub from: Bytes,
    pub to: Bytes,
    /// `from` and `to` are prefixes: every key under `from` moves to the same
    /// suffix under `to`.
    pub prefix: bool,
    /// Delete the sources in the same transaction.
    pub rename: bool,
    /// The revision the user saw the sources at.
    pub revision: Revision,
}

/// `GET /api/v1/history?key=K`: the key's versions still in etcd's history,
/// newest last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub key: Bytes,
    pub versions: Vec<Version>,
    /// History before this revision has been compacted away and is gone;
    /// `None` when nothing the key's history needs has been compacted.
    pub compacted_before: Option<Revision>,
    /// Older versions were left out to keep to [`MAX_HISTORY_VERSIONS`].
    pub truncated: bool,
    /// The revision the history was read up to.
    pub revision: Revision,
}

/// One change of a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub mod_revision: Revision,
    /// `None` for a delete.
    pub value: Option<Bytes>,
    pub create_revision: Revision,
    /// etcd's version counter (0 for a delete).
    pub version: i64,
    pub lease: Option<LeaseId>,
    /// Set when the value was left out because the key matches a mask
    /// pattern (`value` is then `Some` of nothing); see [`crate::mask`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<crate::mask::Masked>,
}

/// `POST /api/v1/lease/grant`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseGrantRequest {
    pub ttl: i64,
}

/// A lease that was granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseGranted {
    pub id: LeaseId,
    pub ttl: i64,
}

/// `POST /api/v1/lease/revoke` and `/api/v1/lease/keep-alive`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRequest {
    pub id: LeaseId,
}

/// A lease renewed once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseKept {
    pub id: LeaseId,
    /// Seconds left after the renewal.
    pub ttl: i64,
}

/// A key, or every key under a prefix, that the user might write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteTarget {
    pub key: Bytes,
    /// `key` is a prefix: may the user write (and delete) every key under it?
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prefix: bool,
}

/// `POST /api/v1/may-write`: may this session write these targets? Asked
/// of etcd without writing anything (at most [`MAX_MAY_WRITE_TARGETS`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MayWriteRequest {
    pub targets: Vec<WriteTarget>,
}

/// The answer to a [`MayWriteRequest`]: one [`WriteAnswer`] per target, in
/// the order asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MayWrite {
    pub answers: Vec<WriteAnswer>,
}

/// Whether a write of one target would be allowed now. etcd still decides
/// at write time: permissions can change in between.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteAnswer {
    pub allowed: bool,
    /// Why not, in a sentence for a tooltip (etcd's refusal, or etcdeck's
    /// read-only reason for the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /api/v1/audit`: the most recent writes and logins through etcdeck,
/// newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
}

/// One write or login attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The etcd user (`None` without etcd auth).
    pub user: Option<String>,
    /// `put`, `delete`, `delete_prefix`, `copy`, `rename`, `lease_grant`,
    /// `lease_revoke` or `lease_keep_alive`; [`ACTION_LOGIN`] (the user
    /// name tried, never the password) or [`ACTION_LOGIN_TOKEN`] (no user);
    /// a cluster operation (`crate::operations`: `compact`, `defragment`,
    /// `disarm`, `move_leader`, `snapshot`).
    pub action: String,
    /// The key, prefix or source it acted on; empty for a login.
    pub key: Bytes,
    /// The target of a copy or rename.
    pub to: Option<Bytes>,
    /// The `mod_revision` (or preview revision) the user saw.
    pub old_revision: Option<Revision>,
    /// The revision of the write, when it was made.
    pub new_revision: Option<Revision>,
    pub result: AuditResult,
    /// A sentence on what went wrong, when it did.
    pub detail: Option<String>,
    /// The client's address, where it matters (logins and session
    /// actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditResult {
    Ok,
    /// Refused by the guard: someone else changed it first.
    Conflict,
    /// Refused by etcd's permissions or etcdeck's read-only mode; for a
    /// login, a wrong password or access token.
    Denied,
    Failed,
    /// A login refused without asking etcd: too many failures for the user
    /// name or from the address.
    Throttled,
}

/// [`AuditEntry::action`] of a login with an etcd user's password.
pub const ACTION_LOGIN: &str = "login";
/// [`AuditEntry::action`] of a wall screen's login with the access token.
pub const ACTION_LOGIN_TOKEN: &str = "login_token";

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn put_request_wire_format() {
        let put = PutRequest {
            key: Bytes::from("k"),
            value: Bytes::from("v"),
            expect_mod_revision: Revision(7),
            lease: LeaseChoice::Attach { id: LeaseId(0xab) },
        };
        let json = serde_json::to_string(&put).unwrap();
        expect![[r#"{"key":"aw==","value":"dg==","expect_mod_revision":7,"lease":{"action":"attach","id":"ab"}}"#]]
        .assert_eq(&json);
        assert_eq!(serde_json::from_str::<PutRequest>(&json).unwrap(), put);
        let keep: PutRequest =
            serde_json::from_str(r#"{"key":"aw==","value":"","expect_mod_revision":0}"#).unwrap();
        assert_eq!(keep.lease, LeaseChoice::Keep);
    }

    #[test]
    fn may_write_wire_format() {
        let request = MayWriteRequest {
            targets: vec![
                WriteTarget {
                    key: Bytes::from("/app/a"),
                    prefix: false,
                },
                WriteTarget {
                    key: Bytes::from("/app/"),
                    prefix: true,
                },
            ],
        };
        let json = serde_json::to_string(&request).unwrap();
        expect![[r#"{"targets":[{"key":"L2FwcC9h"},{"key":"L2FwcC8=","prefix":true}]}"#]]
            .assert_eq(&json);
        assert_eq!(
            serde_json::from_str::<MayWriteRequest>(&json).unwrap(),
            request
        );
        let answer = MayWrite {
            answers: vec![
                WriteAnswer {
                    allowed: true,
                    reason: None,
                },
                WriteAnswer {
                    allowed: false,
                    reason: Some("etcd refused".into()),
                },
            ],
        };
        let json = serde_json::to_string(&answer).unwrap();
        expect![[r#"{"answers":[{"allowed":true},{"allowed":false,"reason":"etcd refused"}]}"#]]
            .assert_eq(&json);
        assert_eq!(serde_json::from_str::<MayWrite>(&json).unwrap(), answer);
    }

    #[test]
    fn login_and_session_wire_format() {
        let login = LoginRequest::Password {
            user: "alice".into(),
            password: "pw".into(),
        };
        expect![[r#"{"kind":"password","user":"alice","password":"pw"}"#]]
            .assert_eq(&serde_json::to_string(&login).unwrap());
        let info = SessionInfo {
            kind: SessionKind::Token,
            user: Some("wall".into()),
            can_write: false,
            read_only_reason: Some("a wall screen's access token only reads".into()),
            csrf: "c".into(),
            idle_timeout_secs: 3600,
            is_root: false,
        };
        let json = serde_json::to_string(&info).unwrap();
        expect![[r#"{"kind":"token","user":"wall","can_write":false,"read_only_reason":"a wall screen's access token only reads","csrf":"c","idle_timeout_secs":3600,"is_root":false}"#]]
        .assert_eq(&json);
        assert_eq!(serde_json::from_str::<SessionInfo>(&json).unwrap(), info);
    }
}
