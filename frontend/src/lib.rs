//! The etcdeck browser app: a Leptos client-side-rendered dashboard that
//! browses an etcd keyspace through the etcdeck backend's HTTP API.
//!
//! # Layout
//! - [`app`]: the router and page layout; `main.rs` only mounts it.
//! - [`api`]: every request to the backend (the only module that fetches),
//!   its write side and reads at a revision ([`api::edit`]), the session's
//!   requests ([`api::session`]), and the live WebSocket ([`api::live`]).
//! - [`session`]: the browser's etcdeck session (who it acts as, whether
//!   it may write, its CSRF token; ended by any 401), shared as context.
//! - [`connection`]: polling `/api/v1/status`, shared as context.
//! - [`pages`]: whole screens bound to routes (browse, events, the
//!   coordination pages: leases, locks, elections, queues, services; login
//!   and the audit log).
//! - [`components`]: pieces of screens (header, breadcrumbs, tree list, key
//!   view, value viewer, copy button, value editor, conflict screen,
//!   history, key and prefix dialogs, the coordination views, event rows,
//!   the stale notice).
//! - [`live_view`]: the one way a view stays current (read, watch from the
//!   answer's revision, re-read on changes, gaps and a healthy connection),
//!   with the [`live_view::ReadState`] pages hold; [`lease_actions`]: what
//!   the leases page does to leases; [`may_write`]: whether the user may
//!   write what a view shows (asked of etcd without writing). Pages and components both sit above
//!   these; pages import components, never the reverse.
//! - Pure logic, unit-tested in the browser: [`route`] (URL state),
//!   [`crumbs`], [`listing`] (paging state, seeking a deep-linked key),
//!   [`landing`] (where a user who may not read the top level starts),
//!   [`windowing`], [`format`],
//!   [`highlight`], [`live`] (subscriptions and resume points of the live
//!   protocol), [`freshness`] (whether a view is current: loading, ready,
//!   stale since, failed), [`feed`] (the events page's list, pause buffer
//!   and rate), [`diff`], [`edit`] (the editor's modes, validation and
//!   limits), [`coord`] (countdowns, liveness, sparkline, formatting and
//!   which events touch a coordination view).

pub mod api;
pub mod app;
pub mod clipboard;
pub mod components;
pub mod connection;
pub mod coord;
pub mod crumbs;
pub mod diff;
pub mod edit;
pub mod feed;
pub mod format;
pub mod freshness;
pub mod highlight;
pub mod landing;
pub mod lease_actions;
pub mod listing;
pub mod live;
pub mod live_view;
pub mod may_write;
pub mod pages;
pub mod route;
pub mod session;
pub mod windowing;

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) use core::prelude::v1::test as unit_test;
/// The attribute for unit tests of pure logic: they run in the browser on
/// wasm32 (the real target) and as plain tests on the host, so a host-side
/// `cargo test` checks them too.
#[cfg(all(test, target_arch = "wasm32"))]
pub(crate) use wasm_bindgen_test::wasm_bindgen_test as unit_test;
