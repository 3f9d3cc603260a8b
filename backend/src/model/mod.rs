//! The live model of the keyspace: one backend-side copy of every key's
//! metadata (and values within a memory budget), built with etcdeck's own
//! user at one revision and kept current through the watch hub. Search,
//! sizes, warm tree levels and the coordination views read it instead of
//! asking etcd per request. What it holds is etcdeck's own user's view:
//! everything shown to a person from it is confirmed as that person (see
//! "The keyspace model" in ARCHITECTURE.md).
//!
//! `store.rs` is the data; the builder, the state and the readers live
//! beside it.

pub mod store;

pub use store::{Entry, Store, Totals};
