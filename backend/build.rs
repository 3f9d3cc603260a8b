//! Build script: prepares the built frontend that a release binary embeds.
//!
//! A release build copies the repository's `dist/` (the output of `trunk build --release`)
//! into `$OUT_DIR/dist` and has `memory-serve` turn it into `$OUT_DIR/frontend_assets.rs`,
//! a list of assets with their bytes included in the binary (text files brotli-compressed
//! once, here, at the best quality), which `backend/src/api/assets.rs` serves.
//!
//! Cargo runs this script again whenever anything under `dist/` changes
//! (`rerun-if-changed` on the folder, which cargo scans recursively), so a release binary
//! never embeds a frontend older than the one in `dist/`. When `dist/` has no `index.html`
//! the list is empty and the binary serves a page saying how to build the frontend; cargo
//! then runs this script on every release build until `dist/` appears.
//!
//! Debug builds embed nothing and do not depend on `dist/`, so tests and `cargo check`
//! never wait for the frontend nor recompile when it changes; they serve `--dist DIR`.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

/// The file `backend/src/api/assets.rs` includes.
const ASSET_LIST: &str = "frontend_assets.rs";

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let list = out_dir.join(ASSET_LIST);
    let copy = out_dir.join("dist");
    // Start empty, so a file removed from `dist/` is not served from an earlier copy.
    if copy.exists() {
        fs::remove_dir_all(&copy)?;
    }
    // An empty list: the binary has no frontend of its own.
    fs::write(&list, "&[]")?;

    // `PROFILE` is `release` for the release profile and every profile inheriting from it.
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return Ok(());
    }
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?,
    );
    let dist = manifest_dir.join("..").join("dist");
    println!("cargo::rerun-if-changed={}", dist.display());
    if !dist.join("index.html").is_file() {
        println!(
            "cargo::warning=no built frontend in {}: this etcdeck will serve a page saying how to \
             build one (run `trunk build --release` before the release build; `cargo xtask run` \
             does both)",
            dist.display()
        );
        return Ok(());
    }
    // A copy, so that what is embedded is one consistent state of `dist/` even if it is
    // rebuilt while rustc reads the files.
    fs::create_dir_all(&copy)?;
    copy_tree(&dist, &copy)?;
    let code = memory_serve::assets_to_code(
        &copy.to_string_lossy(),
        &copy,
        &out_dir,
        true,
        // What memory-serve reports per file goes to the build script's output (shown with
        // `cargo build -vv`), not to every build's warnings.
        |message| eprintln!("{message}"),
    );
    fs::write(&list, code)?;
    Ok(())
}

/// Copies `from` into `to` recursively; dot files are left out (trunk stages its output in
/// `dist/.stage`).
fn copy_tree(from: &Path, to: &Path) -> Result<(), Box<dyn Error>> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
