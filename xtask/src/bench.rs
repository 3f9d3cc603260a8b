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
//!
//! `cargo xtask bench-frontend` ([`frontend`]) measures the browser app alone:
//! the wasm's raw, gzip and brotli sizes, its largest crates (from `twiggy`),
//! and the time to the first tree row with an empty cache
//! (`e2e/bench/first-row.mjs`), beside an earlier build in the same run.

#![allow(clippy::print_stdout)] // Printing the figures is the point.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
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
    for example in [
        "bench",
        "watch_bench",
        "coord_bench",
        "move_bench",
        "sizes_bench",
        "locks_load_bench",
    ] {
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

/// What `cargo xtask bench-frontend` compares the current frontend with.
#[derive(Debug, Clone)]
pub enum Before {
    /// Only the current frontend is measured.
    Nothing,
    /// A frontend already built: its `dist/` directory and, for the crate table, the
    /// wasm cargo wrote for it (`target/wasm32-unknown-unknown/PROFILE/etcdeck-frontend.wasm`
    /// of that build, copied away).
    Dist(PathBuf, Option<PathBuf>),
    /// A git revision (say `main`), exported with `git archive` and built with trunk
    /// in a temporary directory, reusing this checkout's `target/`.
    Rev(String),
}

/// One built frontend to measure: its `dist/`, and the wasm cargo wrote before
/// wasm-bindgen and wasm-opt (which still has the function names).
#[derive(Debug)]
struct Built {
    label: &'static str,
    dist: PathBuf,
    named_wasm: Option<PathBuf>,
}

/// `cargo xtask bench-frontend`: the frontend's size and time to the first tree row, for
/// the current checkout and, in the same run, for `before`. Builds the release frontend
/// and binary, then prints the wasm's raw, gzip -9 and brotli (quality 11) sizes, its
/// ten largest crates (with `twiggy`, when installed: `cargo install twiggy`), and the
/// median time to the first tree row over `runs` navigations with an empty cache
/// (`e2e/bench/first-row.mjs`: Playwright, Chromium, loopback).
pub fn frontend(before: Before, runs: u32) -> Result<()> {
    setup::ensure_all()?;
    let scratch = tempfile::tempdir().context("creating a directory for the builds")?;
    let mut built = Vec::new();
    match before {
        Before::Nothing => {}
        Before::Dist(dist, named_wasm) => built.push(Built {
            label: "before",
            dist,
            named_wasm,
        }),
        Before::Rev(rev) => built.push(build_rev(&rev, scratch.path())?),
    }
    setup::build_release()?;
    let named = keep_copy(
        &cargo_wasm(&project_root())?,
        &scratch.path().join("after-named.wasm"),
    )?;
    built.push(Built {
        label: "after",
        dist: project_root().join("dist"),
        named_wasm: Some(named),
    });
    print_machine();

    println!("frontend files (raw, gzip -9, brotli quality 11):");
    for b in &built {
        for (file, raw, gzip, brotli) in dist_sizes(&b.dist)? {
            println!(
                "  {:<7} {file:<12} {:>8} raw {:>8} gzip {:>8} brotli  ({raw} / {gzip} / {brotli} bytes)",
                b.label,
                kib(raw),
                kib(gzip),
                kib(brotli),
            );
        }
    }

    if process::output_if_ok(command("twiggy").arg("--version")).is_some() {
        for b in &built {
            let Some(named) = &b.named_wasm else {
                println!(
                    "largest crates, {}: no named wasm (give --before-wasm, or --before-rev)",
                    b.label
                );
                continue;
            };
            let crates = crate_sizes(named, scratch.path())?;
            let total: u64 = crates.iter().map(|(_, n)| n).sum();
            println!(
                "largest crates, {} (code and data after wasm-opt -Oz; {} in all):",
                b.label,
                kib(total)
            );
            for (name, bytes) in crates.iter().take(10) {
                println!(
                    "  {name:<28} {:>9} {:>5.1} %",
                    kib(*bytes),
                    *bytes as f64 * 100.0 / total.max(1) as f64
                );
            }
        }
    } else {
        println!("largest crates: twiggy is not installed (cargo install twiggy)");
    }

    let mut timing = command("node");
    timing
        .arg(
            project_root()
                .join("e2e")
                .join("bench")
                .join("first-row.mjs"),
        )
        .args(["--runs", &runs.to_string()])
        .args(
            built
                .iter()
                .map(|b| format!("{}={}", b.label, b.dist.display())),
        )
        .env(
            "ETCDECK_BIN",
            project_root()
                .join("target")
                .join("release")
                .join("etcdeck"),
        );
    process::run(&mut timing)
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Exports `rev` into `scratch/before` and builds its frontend there with trunk, with
/// this checkout's `target/` (so only the workspace's own crates are compiled again).
fn build_rev(rev: &str, scratch: &Path) -> Result<Built> {
    let dir = scratch.join("before");
    fs::create_dir_all(&dir)?;
    process::run(
        command("sh")
            .arg("-c")
            .arg("git archive \"$1\" | tar -x -C \"$2\"")
            .arg("sh")
            .arg(rev)
            .arg(&dir),
    )
    .with_context(|| format!("exporting {rev} with git archive"))?;
    // The stylesheet imports Tailwind from node_modules, which git does not hold.
    std::os::unix::fs::symlink(
        project_root().join("node_modules"),
        dir.join("node_modules"),
    )
    .context("linking node_modules into the exported tree")?;
    let mut trunk = setup::frontend_build_command();
    trunk
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", project_root().join("target"));
    process::run(&mut trunk).with_context(|| format!("building the frontend of {rev}"))?;
    // Copied away before the current checkout's build can overwrite it.
    let named = keep_copy(&cargo_wasm(&dir)?, &scratch.join("before-named.wasm"))?;
    Ok(Built {
        label: "before",
        dist: dir.join("dist"),
        named_wasm: Some(named),
    })
}

/// The wasm cargo writes for the release frontend of the tree at `root`, in this
/// checkout's `target/`: under the profile its `frontend/index.html` names in
/// `data-cargo-profile-release`, or `release`.
fn cargo_wasm(root: &Path) -> Result<PathBuf> {
    let index = root.join("frontend").join("index.html");
    let page =
        fs::read_to_string(&index).with_context(|| format!("reading {}", index.display()))?;
    let profile = release_profile(&page).unwrap_or("release");
    let wasm = project_root()
        .join("target")
        .join("wasm32-unknown-unknown")
        .join(profile)
        .join("etcdeck-frontend.wasm");
    if !wasm.is_file() {
        bail!("{} is not built", wasm.display());
    }
    Ok(wasm)
}

/// The value of `data-cargo-profile-release="..."` in trunk's `index.html`.
fn release_profile(page: &str) -> Option<&str> {
    let attr = "data-cargo-profile-release=\"";
    let start = page.find(attr)? + attr.len();
    page[start..].split('"').next()
}

fn keep_copy(from: &Path, to: &Path) -> Result<PathBuf> {
    fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
    Ok(to.to_path_buf())
}

/// Per file kind of `dist` (the wasm, the JavaScript glue): its name's kind and its raw,
/// gzip -9 and brotli sizes.
fn dist_sizes(dist: &Path) -> Result<Vec<(&'static str, u64, u64, u64)>> {
    let mut rows = Vec::new();
    for entry in fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let kind = if name.ends_with("_bg.wasm") {
            "wasm"
        } else if name.starts_with("etcdeck-frontend") && name.ends_with(".js") {
            "js glue"
        } else {
            continue;
        };
        let raw = fs::metadata(&path)?.len();
        rows.push((kind, raw, gzip_size(&path)?, brotli_size(&path)?));
    }
    rows.sort();
    Ok(rows)
}

fn gzip_size(path: &Path) -> Result<u64> {
    let out = process::output_if_ok(
        command("sh")
            .arg("-c")
            .arg("gzip -9 -c \"$1\" | wc -c")
            .arg("sh")
            .arg(path),
    )
    .context("gzip -9")?;
    out.trim().parse().context("the output of wc -c")
}

/// Brotli at quality 11 (what the release binary embeds) through Node's zlib.
fn brotli_size(path: &Path) -> Result<u64> {
    let script = "const z = require('node:zlib'); \
                  const b = require('node:fs').readFileSync(process.argv[1]); \
                  process.stdout.write(String(z.brotliCompressSync(b, { params: { \
                  [z.constants.BROTLI_PARAM_QUALITY]: 11, \
                  [z.constants.BROTLI_PARAM_SIZE_HINT]: b.length } }).length));";
    let out = process::output_if_ok(command("node").arg("-e").arg(script).arg(path))
        .context("brotli through node")?;
    out.trim().parse().context("the brotli size")
}

/// Bytes of code and data per crate of a wasm that still has its function names, largest
/// first: wasm-bindgen and `wasm-opt -Oz` as the release build runs them (but keeping the
/// names), then `twiggy`.
fn crate_sizes(named: &Path, scratch: &Path) -> Result<Vec<(String, u64)>> {
    let out_dir = scratch.join(format!(
        "bindgen-{}",
        named.file_stem().unwrap_or_default().to_string_lossy()
    ));
    process::run(
        command("wasm-bindgen")
            .args(["--target", "web", "--keep-debug", "--out-dir"])
            .arg(&out_dir)
            .arg(named),
    )?;
    let wasm = out_dir.join(format!(
        "{}_bg.wasm",
        named.file_stem().unwrap_or_default().to_string_lossy()
    ));
    // The same optimisation as the release build (`data-wasm-opt="z"`), keeping the names.
    let optimised = out_dir.join("optimised.wasm");
    process::run(
        command("wasm-opt")
            .args(["-Oz", "--debuginfo"])
            .arg(&wasm)
            .arg("-o")
            .arg(&optimised),
    )?;
    let csv = process::output_if_ok(
        command("twiggy")
            .args(["top", "-n", "10000000", "--format", "csv"])
            .arg(&optimised),
    )
    .context("twiggy top")?;
    Ok(sizes_by_crate(&csv))
}

/// Sums twiggy's `top` CSV per crate. An item's crate is the first path segment of its
/// name, or for `<T as path::Trait>::f` (a generic type) the trait's; data segments are
/// one row, and custom sections (names, wasm-bindgen's own) are left out.
fn sizes_by_crate(csv: &str) -> Vec<(String, u64)> {
    let mut sums: std::collections::BTreeMap<String, u64> = Default::default();
    for line in csv.lines().skip(1) {
        let Some((name, rest)) = split_csv_field(line) else {
            continue;
        };
        let Some(size) = rest
            .split(',')
            .next()
            .and_then(|s| s.trim().parse::<u64>().ok())
        else {
            continue;
        };
        if let Some(owner) = crate_of(&name) {
            *sums.entry(owner).or_default() += size;
        }
    }
    let mut sums: Vec<_> = sums.into_iter().collect();
    sums.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sums
}

/// The first CSV field of `line` (quoted with `""` escapes, or plain) and what follows its comma.
fn split_csv_field(line: &str) -> Option<(String, &str)> {
    let Some(quoted) = line.strip_prefix('"') else {
        let (field, rest) = line.split_once(',')?;
        return Some((field.to_owned(), rest));
    };
    let mut field = String::new();
    let mut chars = quoted.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            if chars.peek().is_some_and(|&(_, next)| next == '"') {
                chars.next();
                field.push('"');
            } else {
                return Some((field, quoted[i + 1..].strip_prefix(',')?));
            }
        } else {
            field.push(c);
        }
    }
    None
}

fn crate_of(item: &str) -> Option<String> {
    if item.starts_with("data segment") {
        return Some("(data: strings, tables)".to_owned());
    }
    if item.starts_with("custom section") || item.contains("subsection") {
        return None;
    }
    let ident = |s: &str| -> Option<String> {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        (end > 0).then(|| s[..end].to_owned())
    };
    if let Some(inner) = item.strip_prefix('<') {
        // `<T as serde::Serialize>::f`: a generic `Self` belongs to nobody; the trait says more.
        if let Some((self_ty, after)) = inner.split_once(" as ") {
            let self_ty = self_ty.trim_start_matches(['&', '*', '(']);
            let self_ty = self_ty.strip_prefix("mut ").unwrap_or(self_ty);
            let generic =
                self_ty.len() <= 2 && self_ty.starts_with(|c: char| c.is_ascii_uppercase());
            if generic {
                return ident(after.trim_start_matches(['&', '*', '(']));
            }
        }
    }
    let name = item.trim_start_matches(['<', '&', '*', '(', ' ']);
    let name = name
        .strip_prefix("mut ")
        .or_else(|| name.strip_prefix("dyn "))
        .unwrap_or(name);
    if !name.contains("::") {
        // Imports, exports, tables and functions without a path.
        return Some("(wasm: imports, tables, unnamed)".to_owned());
    }
    ident(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_release_profile_trunk_builds_with() {
        let page = r#"<link data-trunk rel="rust" data-cargo-profile-release="wasm-release" />"#;
        assert_eq!(release_profile(page), Some("wasm-release"));
        assert_eq!(release_profile("<link data-trunk rel=\"rust\" />"), None);
    }

    #[test]
    fn sums_twiggy_rows_per_crate() {
        let csv = "Name,ShallowSize,ShallowSizePercent,RetainedSize,RetainedSizePercent\n\
            \"\"\"function names\"\" subsection\",900,40,,\n\
            \"data segment \"\".rodata\"\"\",50,2,,\n\
            tachys::view::Render::build::h1,30,1,,\n\
            \"<either_of::EitherOf3<A,B,C> as leptos_router::ChooseView>::choose::h2\",20,1,,\n\
            \"<T as serde::Serialize>::serialize::h3\",15,1,,\n\
            \"<&mut serde_json::de::Deserializer<R> as serde_core::de::Deserializer>::f\",7,1,,\n\
            tachys::html::h4,5,1,,\n\
            elem[0],4,1,,\n";
        assert_eq!(
            sizes_by_crate(csv),
            vec![
                ("(data: strings, tables)".to_owned(), 50),
                ("tachys".to_owned(), 35),
                ("either_of".to_owned(), 20),
                ("serde".to_owned(), 15),
                ("serde_json".to_owned(), 7),
                ("(wasm: imports, tables, unnamed)".to_owned(), 4),
            ]
        );
    }
}
