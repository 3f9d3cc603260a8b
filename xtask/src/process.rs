//! Running external commands the way every xtask command wants: with the project's tool
//! `PATH`, echoed before they run, and either checked or streamed live while captured.

#![allow(clippy::print_stdout)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.to_path_buf())
}

/// The cargo binary that started us (cargo sets `CARGO` for `cargo run`), else `cargo`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `PATH` with the project's tools first: `node_modules/.bin` (tailwindcss, wasm-opt) and
/// cargo's install directory (trunk, wasm-bindgen), which a fresh shell may not have yet.
pub fn tool_path() -> OsString {
    let mut dirs = vec![project_root().join("node_modules").join(".bin")];
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(cargo_home).join("bin"));
    } else if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo").join("bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| std::env::var_os("PATH").unwrap_or_default())
}

/// A command for `program` run in the project root with [`tool_path`] as `PATH`.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(project_root()).env("PATH", tool_path());
    cmd
}

/// A printable form of `cmd` (program and arguments, without the environment).
pub fn describe(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` with inherited stdio, echoing it first; fails when it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<()> {
    let text = describe(cmd);
    println!("$ {text}");
    let status = cmd.status().with_context(|| format!("starting `{text}`"))?;
    if !status.success() {
        bail!("`{text}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout when it succeeds, `None` when it cannot be started or
/// fails (used to ask tools for their version).
pub fn output_if_ok(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What a streamed command printed, and how it ended.
#[derive(Debug)]
pub struct Streamed {
    /// The exit status.
    pub status: ExitStatus,
    /// Every line of stdout and stderr, in the order they arrived.
    pub lines: Vec<String>,
}

/// Runs `cmd`, echoing it first and printing its stdout and stderr live (each to ours) while
/// collecting every line for later parsing.
pub fn stream(cmd: &mut Command) -> Result<Streamed> {
    let text = describe(cmd);
    println!("$ {text}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting `{text}`"))?;
    let (tx, rx) = mpsc::channel::<String>();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(forward_lines(out, tx.clone(), false));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(forward_lines(err, tx.clone(), true));
    }
    drop(tx);
    let lines: Vec<String> = rx.iter().collect();
    for reader in readers {
        let _ = reader.join();
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for `{text}`"))?;
    Ok(Streamed { status, lines })
}

/// Copies `source` line by line to our stdout (or stderr) and sends each line to `tx`.
fn forward_lines(
    source: impl Read + Send + 'static,
    tx: mpsc::Sender<String>,
    to_stderr: bool,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if to_stderr {
                let _ = std::io::stderr().write_all(&buf);
            } else {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf);
                let _ = out.flush();
            }
            let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
            if tx.send(line).is_err() {
                break;
            }
        }
    })
}
