//! Wire types spoken between the etcdeck backend and its browser frontend.
//!
//! Every type here is serialised onto the wire and is therefore a compatibility
//! promise: change one and you change the HTTP API documented in
//! `ARCHITECTURE.md`. This crate stays WASM-clean: serde, base64 and
//! percent-encoding only; no tokio, axum, etcd-client or leptos.
//!
//! # Layout
//! - [`bytes`]: [`Bytes`], etcd keys and values (arbitrary bytes, not UTF-8),
//!   with their JSON form (base64) and their URL form (percent-encoding).
//! - [`api`]: request and response bodies of the HTTP API.
//! - [`ws`]: the live protocol spoken over the WebSocket.
//! - [`edit`]: sessions, guarded edits, history, lease actions and the
//!   audit log.
//! - [`cluster`]: the cluster view (members, health, alarms, histories).
//! - [`coord`]: bodies of the coordination views (leases, locks, elections,
//!   queues, services).
//! - [`sessions`]: the sessions view (list a person's sessions, end one).
//! - [`users`]: etcd's users and roles, the changes root makes to them, and
//!   which of those would lock the person out.
//! - [`operations`]: cluster operations (compact, defragment, disarm, move
//!   the leader, snapshot) and which of them a session may use.
//! - [`mask`]: values hidden because their key looks secret, and the
//!   reveal that shows one.
//! - [`model`]: the keyspace model's state (off, building, ready, rebuilding).
//! - [`search`]: search over keys and values (the request, hits with
//!   their snippets, the answer and its cursor).
//! - [`transfer`]: export files, the import's dry run and result, and the
//!   comparison of two prefixes.
//! - [`kubernetes`]: Kubernetes objects in etcd (the decoded view of a
//!   value, the read-only rule under `/registry/`, kinds from key paths).
//! - [`etcdctl`]: "copy as etcdctl commands" for a few keys, byte for byte.
//! - [`limits`]: the limits both sides check (lease TTLs, value size, level
//!   pages), each with the sentence that refuses a value past it.

pub mod api;
pub mod bytes;
pub mod cluster;
pub mod coord;
pub mod edit;
pub mod etcdctl;
pub mod kubernetes;
pub mod limits;
pub mod mask;
pub mod model;
pub mod operations;
pub mod search;
pub mod sessions;
pub mod sizes;
pub mod transfer;
pub mod users;
pub mod ws;

pub use api::*;
pub use bytes::Bytes;
