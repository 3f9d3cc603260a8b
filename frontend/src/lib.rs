//! The etcdeck browser app: a Leptos client-side-rendered dashboard that
//! browses an etcd keyspace through the etcdeck backend's HTTP API.
//!
//! # Layout
//! - [`app`]: the router and page layout; `main.rs` only mounts it.
//! - [`api`]: every request to the backend (the only module that fetches).
//! - [`connection`]: polling `/api/v1/status`, shared as context.
//! - [`pages`]: whole screens bound to routes (the browse page).
//! - [`components`]: pieces of screens (header, breadcrumbs, tree list, key
//!   view, value viewer, copy button).
//! - Pure logic, unit-tested in the browser: [`route`] (URL state),
//!   [`crumbs`], [`listing`] (paging state), [`windowing`], [`format`],
//!   [`highlight`].

pub mod api;
pub mod app;
pub mod clipboard;
pub mod components;
pub mod connection;
pub mod crumbs;
pub mod format;
pub mod highlight;
pub mod listing;
pub mod pages;
pub mod route;
pub mod windowing;

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
