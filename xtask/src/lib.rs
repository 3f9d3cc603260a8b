//! Project automation for etcdeck, as a library so tests and benchmarks can share it.
//!
//! - [`harness`]: real etcd clusters (1 or 3 members, optional auth) for integration tests,
//!   fault tests, benchmarks and the demo.
//!
//! The `cargo xtask` binary (`src/main.rs`) wires the commands on top of this library.

pub mod harness;
