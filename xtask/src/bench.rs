//! `cargo xtask bench`: the figures kept in `BENCHMARKS.md`.
//!
//! Sets up and builds like `run`, prints the machine, then runs the backend's
//! `bench` example (a level through etcdeck against reading every key under
//! the prefix, same run, same etcd; see `backend/examples/bench.rs`), its
//! `watch_bench` example (live delivery through the release binary against a
//! direct etcd watch: latency, fan-out, memory, upstream watches, write rate;
//! see `backend/examples/watch_bench.rs`), its `coord_bench` example (the
//! queues and leases views over 100,000 queue items and 10,000 leases; see
//! `backend/examples/coord_bench.rs`) and the size of the release wasm, raw
//! and gzip. Arguments go to every example, which ignore the others' flags.

#![allow(clippy::print_stdout)] // Printing the figures is the point.

use std::fs;

use anyhow::{Context, Result};

use crate::process::{self, cargo, command, project_root};
use crate::setup;

/// Runs the benchmarks; `args` go to the bench example (e.g. `--sizes 100000`).
pub fn run(args: Vec<String>) -> Result<()> {
    setup::ensure_all()?;
    setup::build_release()?;
    print_machine();
    for example in ["bench", "watch_bench", "coord_bench"] {
        let mut bench = command(cargo());
        bench
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "etcdeck-backend",
                "--example",
                example,
                "--",
            ])
            .args(&args);
        process::run(&mut bench)?;
    }
    print_wasm_size()
}

fn print_machine() {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let etcd = process::output_if_ok(command("etcd").arg("--version"))
        .and_then(|v| v.lines().next().map(str::to_owned))
        .unwrap_or_default();
    println!("machine: {cpu}, {cores} cores; {etcd}");
}

fn print_wasm_size() -> Result<()> {
    let dist = project_root().join("dist");
    for entry in fs::read_dir(&dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let raw = fs::metadata(&path)?.len();
            let gzip = process::output_if_ok(
                command("sh")
                    .arg("-c")
                    .arg(format!("gzip -9 -c '{}' | wc -c", path.display())),
            )
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
            println!(
                "release wasm {}: {:.0} KiB raw, {:.0} KiB gzip -9",
                path.file_name().unwrap_or_default().to_string_lossy(),
                raw as f64 / 1024.0,
                gzip as f64 / 1024.0
            );
        }
    }
    Ok(())
}
