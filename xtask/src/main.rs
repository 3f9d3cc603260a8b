//! `cargo xtask`: the project's commands (the alias lives in `.cargo/config.toml`).
//!
//! - `cargo xtask run [ARGS...]`: set up, build, and run etcdeck against a seeded demo etcd, or
//!   against the cluster named by `--endpoints` in ARGS (see [`xtask::demo`]).
//! - `cargo xtask test`: every check, with a summary (see [`xtask::suite`]).
//! - `cargo xtask bench [ARGS...]`: the figures of `BENCHMARKS.md` (see [`xtask::bench`]).
//! - `cargo xtask served-sizes`: what the built release binary sends of its wasm per
//!   `Accept-Encoding` (the last figures of `bench`, alone).
//! - `cargo xtask bench-frontend [--before-rev REV | --before-dist DIR] [--runs N]`: the
//!   frontend's size (raw, gzip, brotli, largest crates) and time to the first tree row,
//!   against an earlier build in the same run (see [`xtask::bench::frontend`]).

#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "etcdeck's project commands")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build etcdeck and run it: against a local demo etcd, or a real cluster when ARGS name
    /// `--endpoints`. ARGS go to etcdeck (e.g. `--listen 0.0.0.0:8080 --read-only`).
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Install what is missing, then run every check (fmt, clippy, tests, builds, e2e).
    Test,
    /// Measure what BENCHMARKS.md records. ARGS go to the bench (e.g. `--sizes 100000`).
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print what the built release binary sends of its wasm with `Accept-Encoding` br, gzip
    /// and none (run `cargo xtask bench` or build it first).
    ServedSizes,
    /// Measure the frontend: wasm raw / gzip / brotli, its largest crates (with twiggy) and
    /// the time to the first tree row (median of RUNS, empty cache), beside an earlier build.
    BenchFrontend {
        /// A git revision to build and measure in the same run (say `main`).
        #[arg(long, conflicts_with = "before_dist")]
        before_rev: Option<String>,
        /// An earlier build's `dist/` to measure in the same run.
        #[arg(long)]
        before_dist: Option<std::path::PathBuf>,
        /// With `--before-dist`: the wasm cargo wrote for that build (with its function
        /// names), for the table of the largest crates.
        #[arg(long, requires = "before_dist")]
        before_wasm: Option<std::path::PathBuf>,
        /// Navigations per frontend for the time to the first tree row.
        #[arg(long, default_value_t = 5)]
        runs: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run { args } => xtask::demo::run(args).map(|()| true),
        Cmd::Test => xtask::suite::run(),
        Cmd::Bench { args } => xtask::bench::run(args).map(|()| true),
        Cmd::ServedSizes => xtask::bench::served_sizes().map(|()| true),
        Cmd::BenchFrontend {
            before_rev,
            before_dist,
            before_wasm,
            runs,
        } => {
            let before = match (before_rev, before_dist) {
                (Some(rev), _) => xtask::bench::Before::Rev(rev),
                (None, Some(dist)) => xtask::bench::Before::Dist(dist, before_wasm),
                (None, None) => xtask::bench::Before::Nothing,
            };
            xtask::bench::frontend(before, runs).map(|()| true)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(argv: &[&str]) -> Vec<String> {
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Cmd::Run { args }) => args,
            other => panic!("{argv:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn run_passes_its_arguments_through() {
        assert!(run_args(&["xtask", "run"]).is_empty());
        let expected = ["--endpoints", "https://e:2379", "--user", "u"];
        assert_eq!(
            run_args(&[
                "xtask",
                "run",
                "--",
                "--endpoints",
                "https://e:2379",
                "--user",
                "u"
            ]),
            expected
        );
        assert_eq!(
            run_args(&[
                "xtask",
                "run",
                "--endpoints",
                "https://e:2379",
                "--user",
                "u"
            ]),
            expected
        );
    }
}
