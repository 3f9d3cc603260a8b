//! `cargo xtask test`: every check the project has, run in order, each one even when an
//! earlier one failed, with output streamed live and one summary at the end.
//!
//! Counts are tests, summed over the steps: cargo's `test result: ... N passed; M failed` lines
//! and node's `# pass N` / `# fail M`. A step that is not a test run (format, lint, build) adds
//! nothing when it passes and one failure when it fails; so does a test step that fails without
//! reporting a failed test (it did not compile, say). The last line is always
//! `xtask: N passed, M failed`.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::process::{self, cargo, command, project_root};
use crate::setup;

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed(String),
}

/// One row of the summary.
#[derive(Debug)]
struct StepResult {
    name: &'static str,
    outcome: Outcome,
    passed: u64,
    failed: u64,
    duration: Duration,
}

/// Test counts found in a step's output.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
    /// Whether any summary line was seen at all.
    seen: bool,
}

/// Runs the suite; returns whether everything passed.
pub fn run() -> Result<bool> {
    let root = project_root();
    let mut results = Vec::new();

    results.push(step("set-up", false, || setup::ensure_all().map(|()| None)));
    results.push(step("cargo fmt --check", false, || {
        streamed(command(cargo()).args(["fmt", "--all", "--", "--check"]))
    }));
    results.push(step("clippy (host crates)", false, || {
        streamed(command(cargo()).args([
            "clippy",
            "--workspace",
            "--exclude",
            "etcdeck-frontend",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    }));
    results.push(step("clippy (frontend, wasm32)", false, || {
        streamed(command(cargo()).args([
            "clippy",
            "-p",
            "etcdeck-frontend",
            "--target",
            "wasm32-unknown-unknown",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    }));
    results.push(step("cargo test (host crates)", true, || {
        // Every test binary runs even after one fails, so one failure does
        // not hide another.
        streamed(command(cargo()).args([
            "test",
            "--workspace",
            "--exclude",
            "etcdeck-frontend",
            "--no-fail-fast",
        ]))
    }));
    results.push(step("wasm component tests (Chromium)", true, || {
        streamed(
            command(cargo())
                .args([
                    "test",
                    "-p",
                    "etcdeck-frontend",
                    "--target",
                    "wasm32-unknown-unknown",
                ])
                .env("CHROMEDRIVER", "/usr/bin/chromedriver"),
        )
    }));
    // The frontend first: the release backend embeds `dist/` as it is when it is built.
    results.push(step("frontend release build (trunk)", false, || {
        streamed(&mut setup::frontend_build_command())
    }));
    results.push(step("backend release build", false, || {
        streamed(&mut setup::backend_build_command())
    }));
    let builds_ok = results
        .iter()
        .rev()
        .take(2)
        .all(|r| r.outcome == Outcome::Passed);
    results.push(step("browser e2e tests (node --test)", true, || {
        e2e(&root, builds_ok)
    }));

    print_summary(&results);
    Ok(results.iter().all(|r| r.outcome == Outcome::Passed))
}

/// Runs the end-to-end tests against the release builds.
fn e2e(root: &Path, builds_ok: bool) -> Result<Option<process::Streamed>> {
    let files = e2e_test_files(&root.join("e2e"));
    if files.is_empty() {
        anyhow::bail!("no e2e tests found (e2e/*.test.mjs)");
    }
    if !builds_ok {
        anyhow::bail!("not run: the release builds failed");
    }
    let mut cmd = command("node");
    cmd.arg("--test")
        .arg("--test-reporter=tap")
        .args(&files)
        .env(
            "ETCDECK_BIN",
            root.join("target").join("release").join("etcdeck"),
        )
        .env("ETCDECK_DIST", root.join("dist"));
    streamed(&mut cmd)
}

/// `e2e/**/*.test.mjs`, sorted.
fn e2e_test_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "node_modules") {
                    pending.push(path);
                }
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".test.mjs"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn streamed(cmd: &mut Command) -> Result<Option<process::Streamed>> {
    process::stream(cmd).map(Some)
}

/// Runs one step: `body` returns the streamed output of its command (`None` for steps that
/// run several commands themselves) or an error that fails the step.
fn step(
    name: &'static str,
    counts_tests: bool,
    body: impl FnOnce() -> Result<Option<process::Streamed>>,
) -> StepResult {
    println!();
    println!("xtask: ==== {name} ====");
    let started = Instant::now();
    let (mut outcome, counts) = match body() {
        Ok(Some(streamed)) => {
            let counts = if counts_tests {
                parse_counts(&streamed.lines)
            } else {
                Counts::default()
            };
            let outcome = if streamed.status.success() {
                Outcome::Passed
            } else {
                Outcome::Failed(format!("exited with {}", streamed.status))
            };
            (outcome, counts)
        }
        Ok(None) => (Outcome::Passed, Counts::default()),
        Err(err) => (Outcome::Failed(format!("{err:#}")), Counts::default()),
    };
    if counts_tests && outcome == Outcome::Passed && !counts.seen {
        outcome = Outcome::Failed("no test results found in the output".to_owned());
    }
    let mut failed = counts.failed;
    if matches!(outcome, Outcome::Failed(_)) && failed == 0 {
        failed = 1;
    }
    if let Outcome::Failed(why) = &outcome {
        println!("xtask: {name}: FAILED: {why}");
    }
    StepResult {
        name,
        outcome,
        passed: counts.passed,
        failed,
        duration: started.elapsed(),
    }
}

/// Sums cargo's and node's test summary lines.
fn parse_counts(lines: &[String]) -> Counts {
    let mut counts = Counts::default();
    for line in lines {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("test result:") {
            counts.seen = true;
            counts.passed += number_before(rest, "passed");
            counts.failed += number_before(rest, "failed");
        } else if let Some(n) = line.strip_prefix("# pass ") {
            counts.seen = true;
            counts.passed += n.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(n) = line.strip_prefix("# fail ") {
            counts.seen = true;
            counts.failed += n.trim().parse::<u64>().unwrap_or(0);
        }
    }
    counts
}

/// In `"ok. 3 passed; 1 failed; ..."`, the number before `word`.
fn number_before(text: &str, word: &str) -> u64 {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .find(|pair| pair[1] == word)
        .and_then(|pair| pair[0].parse().ok())
        .unwrap_or(0)
}

fn print_summary(results: &[StepResult]) {
    let width = results
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!();
    println!("xtask: summary");
    println!(
        "  {:<width$}  {:<6}  {:>6}  {:>6}  {:>8}",
        "step", "result", "passed", "failed", "time"
    );
    for r in results {
        let result = match r.outcome {
            Outcome::Passed => "ok",
            Outcome::Failed(_) => "FAILED",
        };
        println!(
            "  {:<width$}  {:<6}  {:>6}  {:>6}  {:>7.1}s",
            r.name,
            result,
            r.passed,
            r.failed,
            r.duration.as_secs_f64()
        );
    }
    for r in results {
        if let Outcome::Failed(why) = &r.outcome {
            let first_line = why.lines().next().unwrap_or_default();
            println!("  {}: {first_line}", r.name);
        }
    }
    let passed: u64 = results.iter().map(|r| r.passed).sum();
    let failed: u64 = results.iter().map(|r| r.failed).sum();
    println!("xtask: {passed} passed, {failed} failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn sums_cargo_and_node_summaries() {
        let counts = parse_counts(&lines(
            "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n\
             test result: FAILED. 2 passed; 1 failed; 0 ignored\n\
             # tests 5\n# pass 3\n# fail 2\n",
        ));
        assert_eq!(
            counts,
            Counts {
                passed: 9,
                failed: 3,
                seen: true
            }
        );
    }

    #[test]
    fn output_without_summaries_counts_nothing() {
        assert_eq!(
            parse_counts(&lines("Compiling x\nerror[E0425]")),
            Counts::default()
        );
    }

    #[test]
    fn a_failing_step_counts_at_least_one_failure() {
        let r = step("fails", false, || anyhow::bail!("boom"));
        assert_eq!((r.passed, r.failed), (0, 1));
        let r = step("passes", false, || Ok(None));
        assert_eq!((r.passed, r.failed, r.outcome), (0, 0, Outcome::Passed));
    }
}
