//! The keyspace model's state as the API and the UI show it: off, being
//! built (with progress), ready at a revision, or rebuilding after a gap.

use serde::{Deserialize, Serialize};

/// Where the model's state is read: `GET /api/v1/model`.
pub const MODEL_PATH: &str = "/api/v1/model";

/// What the keyspace model is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelState {
    /// Turned off (`--no-model`): every feature reads etcd, slower.
    Off,
    /// Being built: `keys` read so far of about `estimate`. `reason` says
    /// why when this is a rebuild (a gap in the watch, a compaction).
    Building {
        keys: u64,
        estimate: Option<u64>,
        reason: Option<String>,
    },
    /// Complete at `revision`, `keys` keys; `lag` revisions behind the
    /// newest revision etcd is known to have.
    Ready { revision: i64, keys: u64, lag: u64 },
}
