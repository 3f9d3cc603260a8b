//! Moving data in and out of etcd: the export file's lines, the import's
//! dry run and result, and the comparison of two prefixes.
//!
//! An export is a JSON-lines file: one [`ExportHeader`] line, then one
//! [`ExportLine`] per key in key order. Keys and values are base64 (the
//! JSON form of [`Bytes`]), so the file carries any bytes exactly.
//!
//! An import sends such a file as the body of `POST` [`path::IMPORT`] with
//! its options in the query string ([`ImportOptions::query`]). The same
//! request answers the dry run ([`ImportPlan`]) and, with `apply`, writes
//! in guarded transactions and answers what was written
//! ([`ImportResult`]).

use serde::{Deserialize, Serialize};

use crate::{Bytes, Revision};

/// Paths of moving data, next to [`crate::path`].
pub mod path {
    /// `GET ?prefix=P&revision=R` → an export file (JSON lines).
    pub const EXPORT: &str = "/api/v1/export";
    /// `POST` an export file with [`super::ImportOptions`] in the query →
    /// [`super::ImportPlan`] (dry run) or [`super::ImportResult`] (apply).
    pub const IMPORT: &str = "/api/v1/import";
    /// `GET ?left=L&right=R[&left_revision=&right_revision=&after=&limit=]`
    /// → [`super::Comparison`].
    pub const COMPARE: &str = "/api/v1/compare";
    /// `POST` [`super::CopyAcross`] → [`super::ImportResult`].
    pub const COMPARE_COPY: &str = "/api/v1/compare/copy";
}

/// The format named in every export's header.
pub const EXPORT_FORMAT: &str = "etcdeck-export/1";
/// The content type of an export file.
pub const EXPORT_CONTENT_TYPE: &str = "application/x-ndjson";
/// Most items a dry run lists one by one (the counts cover everything).
pub const MAX_PLAN_ITEMS: usize = 1000;
/// Most bytes of each value a dry run or comparison item carries for its
/// diff; longer values are cut and say so.
pub const MAX_DIFF_VALUE: usize = 16 * 1024;
/// Most keys one "copy left to right" takes.
pub const MAX_COPY_ACROSS: usize = 10_000;

/// The first line of an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHeader {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// The etcd cluster's id (hex, as etcdctl prints it).
    pub cluster: String,
    pub prefix: Bytes,
    /// Every line is the key as it was at this revision.
    pub revision: Revision,
    /// The etcd version of the leader when the export started.
    pub etcd_version: String,
    /// How many key lines follow: an importer that finds fewer knows the
    /// file is cut short.
    pub count: u64,
}

/// One key of an export, as it was at the header's revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportLine {
    pub key: Bytes,
    pub value: Bytes,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    /// 0 without a lease.
    pub lease: i64,
    /// The lease's remaining seconds when it was exported (`None` without
    /// a lease, or when it had expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ttl: Option<i64>,
    /// The key looks secret: its value was left out (the pattern that
    /// matched). An import leaves such a key alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
}

/// A line that ends an export early: etcd failed while it was streamed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportError {
    pub error: String,
}

/// What an import does with leases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseMode {
    /// Keys are written without a lease.
    #[default]
    Drop,
    /// Each lease of the file is granted anew (with the TTL it had left) and
    /// its keys attached to the new lease.
    Recreate,
}

impl LeaseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseMode::Drop => "drop",
            LeaseMode::Recreate => "recreate",
        }
    }
}

/// How to import a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Where the file's keys go: each key's part after the file's prefix is
    /// put under `to` (`None`: the file's own prefix).
    pub to: Option<Bytes>,
    /// Write (else: the dry run only).
    pub apply: bool,
    /// Make the prefix equal to the file: keys under `to` that the file
    /// does not hold are deleted.
    pub mirror: bool,
    pub leases: LeaseMode,
    /// The revision of the dry run the user confirmed: a key whose
    /// `mod_revision` moved past it is a conflict and is not written.
    /// Required to apply.
    pub seen: Option<Revision>,
}

impl ImportOptions {
    /// The query string of `POST` [`path::IMPORT`] (without `?`).
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(to) = &self.to {
            parts.push(format!("to={}", to.to_url()));
        }
        if self.apply {
            parts.push("apply=true".to_owned());
        }
        if self.mirror {
            parts.push("mirror=true".to_owned());
        }
        parts.push(format!("leases={}", self.leases.as_str()));
        if let Some(seen) = self.seen {
            parts.push(format!("seen={}", seen.0));
        }
        parts.join("&")
    }
}

/// What an import does, or would do, with one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportAction {
    Create,
    Change,
    /// Under the prefix, not in the file, and the import makes the prefix
    /// equal to the file.
    Delete,
    /// Changed in the target after the revision the user saw: left alone.
    Conflict,
}

/// One key of a dry run. Values are cut at [`MAX_DIFF_VALUE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportItem {
    /// The key in the target.
    pub key: Bytes,
    pub action: ImportAction,
    /// The value in the target now (`None`: absent).
    pub current: Option<Bytes>,
    /// The value the file holds (`None`: the key is deleted, or kept).
    pub incoming: Option<Bytes>,
    /// A value was cut for the diff.
    #[serde(default)]
    pub cut: bool,
    /// The key looks secret: both values are left out (the pattern).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
}

/// How many keys fall in each case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub create: u64,
    pub change: u64,
    /// Already as the file has them.
    pub unchanged: u64,
    pub delete: u64,
    pub conflict: u64,
    /// Masked in the file (no value): left alone.
    pub masked: u64,
}

/// The dry run of an import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPlan {
    pub header: ExportHeader,
    /// Where the keys go.
    pub to: Bytes,
    /// The target was read at this revision: pass it back as `seen` to
    /// apply exactly this plan.
    pub revision: Revision,
    pub counts: ImportCounts,
    /// The first [`MAX_PLAN_ITEMS`] keys that are created, changed,
    /// deleted or in conflict, in key order.
    pub items: Vec<ImportItem>,
    /// More items than listed.
    pub truncated: bool,
}

/// What an applied import did. The file is worked through in key order,
/// one bounded transaction at a time: every key up to `done_through` was
/// written or left alone as `counts` says; nothing from `not_written_from`
/// on was written, except perhaps the keys of `uncertain`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResult {
    pub to: Bytes,
    /// The revision of the last transaction written (`None`: none).
    pub revision: Option<Revision>,
    /// The transactions written.
    pub transactions: u64,
    /// What was done (`create`, `change`, `delete`: written).
    pub counts: ImportCounts,
    /// Keys left alone because they changed after `seen` (the first
    /// [`MAX_PLAN_ITEMS`]).
    pub conflicts: Vec<Bytes>,
    /// Leases granted for the import.
    pub leases_granted: u64,
    /// Every key was handled.
    pub complete: bool,
    /// Why the import stopped, when it did not finish.
    pub failure: Option<String>,
    /// The last target key whose fate is known.
    pub done_through: Option<Bytes>,
    /// The first target key that was not written.
    pub not_written_from: Option<Bytes>,
    /// The keys of a transaction whose answer was lost: written or not,
    /// running the same import again settles them.
    pub uncertain: Vec<Bytes>,
}

/// How one key differs between two prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    OnlyLeft,
    OnlyRight,
    Different,
}

/// One key that differs. Values are cut at [`MAX_DIFF_VALUE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareItem {
    /// The key's part after each prefix.
    pub suffix: Bytes,
    pub difference: Difference,
    pub left: Option<Bytes>,
    pub right: Option<Bytes>,
    #[serde(default)]
    pub cut: bool,
    /// A key looks secret: both values are left out (the pattern).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
}

/// One page of a comparison, in key order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub left: Bytes,
    pub right: Bytes,
    /// Both sides are read at these revisions on every page: pass them
    /// back with `after` for the next.
    pub left_revision: Revision,
    pub right_revision: Revision,
    /// A second cluster, once etcdeck speaks to more than one (`None`: the
    /// left one).
    pub right_cluster: Option<String>,
    pub items: Vec<CompareItem>,
    /// Keys equal on both sides in the range this page covered.
    pub equal: u64,
    /// The suffix to continue after (`None`: the comparison is complete).
    pub next: Option<Bytes>,
}

/// `POST` [`path::COMPARE_COPY`]: write the left side's value of each
/// suffix to the right, through the guarded import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyAcross {
    pub left: Bytes,
    pub right: Bytes,
    pub left_revision: Revision,
    /// The revision the right side was compared at: a key that changed
    /// after it is a conflict and is not written.
    pub right_revision: Revision,
    pub suffixes: Vec<Bytes>,
    #[serde(default)]
    pub leases: LeaseMode,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_any_bytes() {
        let line = ExportLine {
            key: Bytes::new(vec![0, 0xff, b'\n']),
            value: Bytes::new(vec![b'"', 0x80]),
            create_revision: 2,
            mod_revision: 3,
            version: 2,
            lease: 0,
            lease_ttl: None,
            masked: None,
        };
        let text = serde_json::to_string(&line).expect("serialise");
        assert!(!text.contains('\n'));
        let back: ExportLine = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, line);
    }

    #[test]
    fn options_make_a_query() {
        let options = ImportOptions {
            to: Some(Bytes::from("/b/")),
            apply: true,
            mirror: false,
            leases: LeaseMode::Recreate,
            seen: Some(Revision(7)),
        };
        assert_eq!(options.query(), "to=/b/&apply=true&leases=recreate&seen=7");
    }
}
