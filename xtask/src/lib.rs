//! Project automation for etcdeck, as a library so tests and benchmarks can share it.
//!
//! - [`harness`]: real etcd clusters (1 or 3 members, optional auth) for integration tests,
//!   fault tests, benchmarks and the demo.
//! - [`gateway`]: fast bulk writes through etcd's JSON gateway (seeding).
//! - [`setup`]: installing the exact tools the project needs, and the release builds.
//! - [`process`]: running commands (tool `PATH`, echo, live streaming with capture).
//! - [`demo`]: `cargo xtask run`.
//! - [`suite`]: `cargo xtask test`.
//! - [`bench`]: `cargo xtask bench`.
//! - [`tidy`]: the test that keeps ARCHITECTURE.md's code map and invariants true.
//!
//! The `cargo xtask` binary (`src/main.rs`) only parses arguments and calls these.

pub mod bench;
pub mod demo;
pub mod gateway;
pub mod harness;
pub mod process;
pub mod setup;
pub mod suite;
pub mod tidy;
pub mod workload;
