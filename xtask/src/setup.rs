//! Machine set-up and builds shared by `cargo xtask run`, `test` and `bench`.
//!
//! Every tool is installed only when the exact version the project needs is missing, so a warm
//! run costs a few version checks. What gets installed is printed. Versions:
//! - Debian packages: etcd 3.4 (server and client), protoc, Chromium and chromedriver, and
//!   Prometheus for its `promtool` (which checks etcdeck's `/metrics`);
//! - the `wasm32-unknown-unknown` Rust target, plus rustfmt and clippy;
//! - trunk [`TRUNK_VERSION`] (newer trunk needs a newer rustc);
//! - wasm-bindgen-cli equal to the `wasm-bindgen` version in `Cargo.lock`;
//! - the npm packages of `package.json` (Tailwind, binaryen's wasm-opt, playwright-core).

#![allow(clippy::print_stdout)]

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use crate::process::{self, cargo, command, output_if_ok, project_root};

/// The trunk release that builds with our Rust toolchain.
pub const TRUNK_VERSION: &str = "0.21.14";

/// The Debian packages and the binaries that tell whether they are installed.
const APT_PACKAGES: &[(&str, &str)] = &[
    ("etcd-server", "/usr/bin/etcd"),
    ("etcd-client", "/usr/bin/etcdctl"),
    ("protobuf-compiler", "/usr/bin/protoc"),
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
];

/// Debian packages installed without their recommendations: only `promtool` of Prometheus is
/// used, not its server or its web console.
const APT_PACKAGES_ALONE: &[(&str, &str)] = &[("prometheus", "/usr/bin/promtool")];

/// Written into `node_modules/` after a successful `npm install`.
const NPM_STAMP: &str = ".etcdeck-npm-installed";

/// Installs everything the project's commands need (see the module docs).
pub fn ensure_all() -> Result<()> {
    ensure_apt_packages()?;
    ensure_rust_parts()?;
    ensure_trunk()?;
    ensure_wasm_bindgen()?;
    ensure_npm_packages()?;
    Ok(())
}

/// `apt-get install` the Debian packages when any of their binaries is missing.
pub fn ensure_apt_packages() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .chain(APT_PACKAGES_ALONE)
        .filter(|(_, binary)| !Path::new(binary).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!(
        "xtask: installing Debian packages (missing: {})",
        missing.join(", ")
    );
    let packages = APT_PACKAGES.iter().map(|(package, _)| *package);
    let as_root = output_if_ok(command("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if as_root {
            command("apt-get")
        } else {
            let mut sudo = command("sudo");
            sudo.arg("apt-get");
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    process::run(&mut apt(&["update"]))?;
    let mut install = apt(&["install", "-y"]);
    install.args(packages);
    process::run(&mut install)?;
    let mut install = apt(&["install", "-y", "--no-install-recommends"]);
    install.args(APT_PACKAGES_ALONE.iter().map(|(package, _)| *package));
    process::run(&mut install)?;
    stop_prometheus_service(as_root);
    Ok(())
}

/// Installing Prometheus enables its server as a service. In a container (no systemd, and
/// Debian images' `policy-rc.d` refuses service starts) it never starts, which is what the
/// project wants; on a machine run by systemd it would start, so it is stopped and disabled,
/// best effort: `promtool` works either way.
fn stop_prometheus_service(as_root: bool) {
    if !Path::new("/run/systemd/system").exists() {
        return;
    }
    let mut systemctl = if as_root {
        command("systemctl")
    } else {
        let mut sudo = command("sudo");
        sudo.arg("systemctl");
        sudo
    };
    systemctl.args(["disable", "--now", "prometheus"]);
    if output_if_ok(&mut systemctl).is_none() {
        println!("xtask: could not stop the Prometheus service (only its promtool is needed)");
    }
}

/// The wasm32 target (not present on a new machine, and `RUSTUP_AUTO_INSTALL=0` keeps
/// rustup from fetching it on demand), rustfmt and clippy.
pub fn ensure_rust_parts() -> Result<()> {
    let targets =
        output_if_ok(command("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        println!("xtask: installing the wasm32-unknown-unknown Rust target");
        process::run(command("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let components = output_if_ok(command("rustup").args(["component", "list", "--installed"]))
        .unwrap_or_default();
    for component in ["rustfmt", "clippy"] {
        if !components.lines().any(|c| c.starts_with(component)) {
            println!("xtask: installing the Rust component {component}");
            process::run(command("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

/// `cargo install trunk` when `trunk --version` is not [`TRUNK_VERSION`] (about 6 minutes).
pub fn ensure_trunk() -> Result<()> {
    let installed = output_if_ok(command("trunk").arg("--version")).unwrap_or_default();
    if installed.split_whitespace().nth(1) == Some(TRUNK_VERSION) {
        return Ok(());
    }
    println!("xtask: installing trunk {TRUNK_VERSION} (takes a few minutes)");
    process::run(command(cargo()).args([
        "install",
        "trunk",
        "--version",
        TRUNK_VERSION,
        "--locked",
    ]))
}

/// `cargo install wasm-bindgen-cli` at the `wasm-bindgen` version of `Cargo.lock` when the
/// installed one differs. Its `--locked` fails on our registry mirror, so it is not used.
pub fn ensure_wasm_bindgen() -> Result<()> {
    let Some(wanted) = wasm_bindgen_version()? else {
        println!("xtask: Cargo.lock has no wasm-bindgen yet; not installing wasm-bindgen-cli");
        return Ok(());
    };
    let installed = output_if_ok(command("wasm-bindgen").arg("--version")).unwrap_or_default();
    if installed.split_whitespace().nth(1) == Some(wanted.as_str()) {
        return Ok(());
    }
    println!("xtask: installing wasm-bindgen-cli {wanted} (takes a couple of minutes)");
    process::run(command(cargo()).args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={wanted}"),
    ]))
}

/// The `wasm-bindgen` version pinned in `Cargo.lock`, if the lock has it.
pub fn wasm_bindgen_version() -> Result<Option<String>> {
    let lock_path = project_root().join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path)
        .with_context(|| format!("reading {}", lock_path.display()))?;
    Ok(lock_package_version(&lock, "wasm-bindgen"))
}

/// The version of package `name` in the text of a `Cargo.lock`.
fn lock_package_version(lock: &str, name: &str) -> Option<String> {
    let wanted_name = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted_name {
            let version = lines.next()?.trim();
            return version
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_owned);
        }
    }
    None
}

/// `npm install` when `node_modules` is missing or older than `package.json` /
/// `package-lock.json`. (`npm ci` fails on our registry mirror: the lock lacks the non-Linux
/// optional Tailwind packages.)
pub fn ensure_npm_packages() -> Result<()> {
    let root = project_root();
    if !root.join("package.json").exists() {
        println!("xtask: no package.json; skipping npm install");
        return Ok(());
    }
    let stamp = root.join("node_modules").join(NPM_STAMP);
    let stamp_time = modified(&stamp);
    let up_to_date = stamp_time.is_some()
        && ["package.json", "package-lock.json"]
            .iter()
            .all(|f| modified(&root.join(f)) <= stamp_time);
    if up_to_date {
        return Ok(());
    }
    println!("xtask: installing npm packages");
    process::run(command("npm").args(["install", "--no-audit", "--no-fund"]))?;
    fs::write(&stamp, "written by cargo xtask after npm install\n")
        .with_context(|| format!("writing {}", stamp.display()))?;
    Ok(())
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `trunk build --release`: the frontend into `dist/`.
pub fn frontend_build_command() -> std::process::Command {
    let mut cmd = command("trunk");
    cmd.args(["build", "--release"])
        .env("TRUNK_SKIP_VERSION_CHECK", "true");
    cmd
}

/// `cargo build --release -p etcdeck-backend`: `target/release/etcdeck`, with the frontend of
/// `dist/` built in. Run it after [`frontend_build_command`]: the backend's build script
/// embeds whatever `dist/` holds, and cargo rebuilds the backend whenever `dist/` changed.
pub fn backend_build_command() -> std::process::Command {
    let mut cmd = command(cargo());
    cmd.args(["build", "--release", "-p", "etcdeck-backend"]);
    cmd
}

/// Builds the frontend, then the backend for release, which embeds it (in this order, so the
/// binary carries the current frontend).
pub fn build_release() -> Result<()> {
    if !project_root().join("Trunk.toml").exists() {
        bail!("Trunk.toml is missing: the frontend cannot be built");
    }
    process::run(&mut frontend_build_command())?;
    process::run(&mut backend_build_command())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::lock_package_version;

    #[test]
    fn reads_a_package_version_from_cargo_lock() {
        let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\nsource = \"x\"\n\n\
                    [[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"0.2.130\"\n";
        assert_eq!(
            lock_package_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(lock_package_version(lock, "trunk"), None);
    }
}
