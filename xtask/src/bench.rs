//! `cargo xtask bench`: the figures kept in `BENCHMARKS.md`.
//!
//! Sets up and builds like `run`, prints the machine, then runs the backend's
//! `bench` example (a level through etcdeck against reading every key under
//! the prefix, same run, same etcd; see `backend/examples/bench.rs`), its
//! `watch_bench` example (live delivery through the release binary against a
//! direct etcd watch: latency, fan-out, memory, upstream watches, write rate;
//! see `backend/examples/watch_bench.rs`), its `coord_bench` example (the
//! queues and leases views over 100,000 queue items and 10,000 leases; see
//! `backend/examples/coord_bench.rs`), the size of the release wasm, raw
//! and gzip, and what the release binary sends of it ([`served_sizes`]).
//! Arguments go to every example, which ignore the others' flags.

#![allow(clippy::print_stdout)] // Printing the figures is the point.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

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
    print_wasm_size()?;
    served_sizes()
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

/// `cargo xtask served-sizes`: what the release binary sends of its embedded wasm with
/// `Accept-Encoding: br`, `gzip` and none, measured over HTTP. The binary runs alone in an
/// empty temporary directory, with no `--dist` and against an etcd that is not there (the
/// frontend is served all the same), as a copy on a server would.
pub fn served_sizes() -> Result<()> {
    let bin = project_root()
        .join("target")
        .join("release")
        .join("etcdeck");
    if !bin.is_file() {
        bail!(
            "{} is not built (cargo xtask bench builds it)",
            bin.display()
        );
    }
    let cwd = tempfile::tempdir().context("creating an empty directory to run etcdeck in")?;
    let addr = format!("127.0.0.1:{}", crate::harness::free_port()?);
    let nowhere = format!("http://127.0.0.1:{}", crate::harness::free_port()?);
    let mut server = command(&bin)
        .args(["--endpoints", &nowhere, "--listen", &addr])
        .current_dir(cwd.path())
        .env_remove("ETCDECK_DIST")
        .env_remove("ETCDCTL_ENDPOINTS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let measured = measure(&mut server, &addr);
    let _ = server.kill();
    let _ = server.wait();
    let (wasm, rows) = measured?;
    println!("served wasm {wasm} (GET with each Accept-Encoding, body bytes as sent):");
    for (accept, encoding, bytes) in rows {
        println!(
            "  Accept-Encoding: {accept:<8} -> {encoding:<8} {:>6.0} KiB ({bytes} bytes)",
            bytes as f64 / 1024.0
        );
    }
    Ok(())
}

/// Per `Accept-Encoding` asked with: the encoding of the answer and its body's size.
type Sizes = Vec<(&'static str, String, usize)>;

/// The wasm's name (from `index.html`) and what it is sent as per `Accept-Encoding`.
fn measure(server: &mut Child, addr: &str) -> Result<(String, Sizes)> {
    let started = Instant::now();
    let index = loop {
        if let Some(status) = server.try_wait()? {
            bail!("etcdeck exited ({status})");
        }
        if let Ok(answer) = http_get(addr, "/", None)
            && answer.status == 200
        {
            break answer;
        }
        if started.elapsed() > Duration::from_secs(20) {
            bail!("etcdeck did not serve / within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let page = String::from_utf8_lossy(&index.body);
    let end = page
        .find("_bg.wasm")
        .context("the served index.html names no _bg.wasm")?
        + "_bg.wasm".len();
    let start = page[..end]
        .rfind('/')
        .context("no path before the wasm's name")?;
    let wasm = page[start..end].to_owned();
    let mut rows = Vec::new();
    for accept in ["br", "gzip", "identity"] {
        let answer = http_get(addr, &wasm, Some(accept))?;
        if answer.status != 200 {
            bail!(
                "GET {wasm} with Accept-Encoding {accept}: HTTP {}",
                answer.status
            );
        }
        let encoding = answer.content_encoding.unwrap_or_else(|| "identity".into());
        rows.push((accept, encoding, answer.body.len()));
    }
    Ok((wasm, rows))
}

/// One HTTP/1.1 answer: status, `Content-Encoding`, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_encoding: Option<String>,
    body: Vec<u8>,
}

/// `GET path` over a fresh connection (closed by the server after the answer, so its end is
/// the end of the body).
fn http_get(addr: &str, path: &str, accept_encoding: Option<&str>) -> Result<Answer> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let accept = accept_encoding.map_or(String::new(), |a| format!("Accept-Encoding: {a}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("an answer without a header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("an answer without a status")?;
    let mut content_encoding = None;
    let mut content_length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            if name.eq_ignore_ascii_case("content-encoding") {
                content_encoding = Some(value);
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse::<usize>().ok();
            }
        }
    }
    if let Some(length) = content_length
        && length != body.len()
    {
        bail!(
            "GET {path}: Content-Length {length} but {} body bytes",
            body.len()
        );
    }
    Ok(Answer {
        status,
        content_encoding,
        body,
    })
}
