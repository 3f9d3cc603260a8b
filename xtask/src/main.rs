//! `cargo xtask`: the project's commands (placeholder until the CLI lands).
fn main() {}
