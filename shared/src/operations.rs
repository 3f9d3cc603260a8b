//! Cluster operations for an incident: compact, defragment one member,
//! disarm an alarm, move the leader, and download a snapshot. Their paths,
//! request and answer bodies, the capability answer that tells the page
//! which operations this session may use (and why not), and the sentences
//! both sides show (how much history a compaction drops, the snapshot's
//! file name).
//!
//! etcdeck asks for etcd's root role for every operation, as etcd 3.5
//! does, even where etcd 3.4 lets any authenticated user call the RPC.

use serde::{Deserialize, Serialize};

/// API paths of the operations.
pub mod path {
    /// `GET`: [`super::Operations`], which operations this session may use.
    pub const OPERATIONS: &str = "/api/v1/cluster/operations";
    /// `POST` [`super::CompactRequest`] → [`super::Compacted`].
    pub const COMPACT: &str = "/api/v1/cluster/compact";
    /// `POST` [`super::MemberRequest`] → [`super::Done`].
    pub const DEFRAGMENT: &str = "/api/v1/cluster/defragment";
    /// `POST` [`super::DisarmRequest`] → [`super::Done`].
    pub const DISARM: &str = "/api/v1/cluster/disarm";
    /// `POST` [`super::MemberRequest`] → [`super::Done`].
    pub const MOVE_LEADER: &str = "/api/v1/cluster/move-leader";
    /// `GET ?member=ID&csrf=TOKEN`: the snapshot file, streamed.
    pub const SNAPSHOT: &str = "/api/v1/cluster/snapshot";
}

/// The sentence that refuses an operation to a session whose etcd user is
/// not root.
pub const ROOT_ONLY: &str = "cluster operations need etcd's root role \
    (etcdeck asks for it for every operation, as etcd 3.5 does)";

/// The audit log's actions of the operations ([`crate::edit::AuditEntry`]:
/// the member's hex id as the key, a disarmed alarm as `to`, a
/// compaction's revisions before and after).
pub const ACTION_COMPACT: &str = "compact";
pub const ACTION_DEFRAGMENT: &str = "defragment";
pub const ACTION_DISARM: &str = "disarm";
pub const ACTION_MOVE_LEADER: &str = "move_leader";
pub const ACTION_SNAPSHOT: &str = "snapshot";

/// `GET /api/v1/cluster/operations`: whether this session may use the
/// operations, and what a compaction would start from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operations {
    /// Every operation is allowed to this session (etcd still decides).
    pub allowed: bool,
    /// Why not, when not allowed.
    pub reason: Option<String>,
    /// etcd's current revision, when allowed and etcd answered.
    pub revision: Option<i64>,
    /// etcd's compaction revision (0: never compacted), when allowed and
    /// etcd answered.
    pub compaction_revision: Option<i64>,
    /// The member (hex id) being defragmented now, if any: no other
    /// defragment starts meanwhile.
    pub defragmenting: Option<String>,
}

/// `POST /api/v1/cluster/compact`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactRequest {
    /// Compact the history before this revision.
    pub revision: i64,
    /// The revision typed again by the person, as text.
    pub confirm: String,
}

/// The answer to a compaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compacted {
    /// The revision compacted to.
    pub revision: i64,
    /// The compaction revision before (0: never compacted).
    pub previous_compaction: i64,
    /// etcd's revision when it compacted.
    pub current_revision: i64,
    /// What was lost, in words ([`history_lost`]).
    pub message: String,
}

/// A defragment or a leader move: one member, named by its hex id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRequest {
    pub member: String,
    /// The member's name typed by the person ([`confirm_word`]).
    pub confirm: String,
}

/// `POST /api/v1/cluster/disarm`: one alarm of one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisarmRequest {
    /// The member's hex id.
    pub member: String,
    /// `NOSPACE` or `CORRUPT`.
    pub alarm: String,
    /// The alarm's name typed by the person.
    pub confirm: String,
}

/// What an operation did, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub message: String,
}

/// How much history compacting to `target` drops, with etcd at revision
/// `current` and compacted to `previous` so far.
pub fn history_lost(current: i64, target: i64, previous: i64) -> String {
    let dropped = target.saturating_sub(previous.max(1)).max(0);
    let kept = current.saturating_sub(target).max(0) + 1;
    let before = if previous > 0 {
        format!("compacted to {previous} so far")
    } else {
        "never compacted so far".to_owned()
    };
    let stays = if kept == 1 {
        format!("only revision {current} stays readable")
    } else {
        format!("revisions {target} to {current} ({kept}) stay readable")
    };
    format!(
        "compacting to revision {target} drops the history before it ({dropped} revisions, \
         {before}); etcd is at {current}, so {stays}"
    )
}

/// What a person types to confirm an operation on a member: its name, or
/// its hex id when it has none.
pub fn confirm_word<'a>(name: &'a str, id: &'a str) -> &'a str {
    if name.is_empty() { id } else { name }
}

/// The file name of a snapshot of `member` (its name or id) at `revision`.
pub fn snapshot_filename(member: &str, revision: i64) -> String {
    let safe: String = member
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("etcd-{safe}-{revision}.db")
}

/// The download link of a snapshot of `member` (hex id), carrying the
/// session's CSRF token (a plain link cannot send the header).
pub fn snapshot_url(member: &str, csrf: &str) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "{}?member={}&csrf={}",
        path::SNAPSHOT,
        escape(member),
        escape(csrf)
    )
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn wire_forms() {
        let operations = Operations {
            allowed: false,
            reason: Some(ROOT_ONLY.to_owned()),
            revision: None,
            compaction_revision: None,
            defragmenting: Some("8e9e05c52164694d".to_owned()),
        };
        expect![[r#"{"allowed":false,"reason":"cluster operations need etcd's root role (etcdeck asks for it for every operation, as etcd 3.5 does)","revision":null,"compaction_revision":null,"defragmenting":"8e9e05c52164694d"}"#]]
        .assert_eq(&serde_json::to_string(&operations).unwrap());
        let request = DisarmRequest {
            member: "8e9e05c52164694d".to_owned(),
            alarm: "NOSPACE".to_owned(),
            confirm: "NOSPACE".to_owned(),
        };
        expect![[r#"{"member":"8e9e05c52164694d","alarm":"NOSPACE","confirm":"NOSPACE"}"#]]
            .assert_eq(&serde_json::to_string(&request).unwrap());
    }

    #[test]
    fn history_lost_in_words() {
        expect!["compacting to revision 100 drops the history before it (99 revisions, never compacted so far); etcd is at 120, so revisions 100 to 120 (21) stay readable"]
            .assert_eq(&history_lost(120, 100, 0));
        expect!["compacting to revision 120 drops the history before it (20 revisions, compacted to 100 so far); etcd is at 120, so only revision 120 stays readable"]
            .assert_eq(&history_lost(120, 120, 100));
    }

    #[test]
    fn snapshot_names() {
        assert_eq!(snapshot_filename("m0", 42), "etcd-m0-42.db");
        assert_eq!(snapshot_filename("a b/c", 7), "etcd-a_b_c-7.db");
        assert_eq!(
            snapshot_url("8e9e", "x+y/z"),
            "/api/v1/cluster/snapshot?member=8e9e&csrf=x%2By%2Fz"
        );
        assert_eq!(confirm_word("", "8e9e"), "8e9e");
        assert_eq!(confirm_word("m0", "8e9e"), "m0");
    }
}
