//! Build script: the version `otel-canary --version` prints.
//!
//! From a git work tree of this crate it is the crate version plus `git describe --tags
//! --always --dirty` (`0.1.0 (v0.1.0-4-g3a3fbe9-dirty)`), so a binary says which commit it
//! came from. `OTEL_CANARY_VERSION` set at build time (the Dockerfile's build argument, whose
//! context has no .git) takes the place of the describe. Without either (a tarball, `cargo
//! install` from a registry, no git installed) it is the crate version alone. The build never
//! fails for want of git.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=OTEL_CANARY_VERSION");
    let crate_version = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let detail = env::var("OTEL_CANARY_VERSION")
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .or_else(git_describe);
    let version = match detail {
        Some(d) if d != crate_version => format!("{crate_version} ({d})"),
        _ => crate_version,
    };
    println!("cargo:rustc-env=OTEL_CANARY_VERSION={version}");
}

/// `git describe` of the crate's own work tree, or None: not a work tree, a work tree of some
/// enclosing repository (a tarball unpacked inside another checkout), or no git.
fn git_describe() -> Option<String> {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR")?);
    let top = git(&manifest_dir, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), &manifest_dir) {
        return None;
    }
    // Re-run when HEAD moves (commit, checkout) or the index changes (add, commit): the files
    // git keeps for them, wherever this work tree keeps its git directory.
    for file in ["HEAD", "index", "packed-refs"] {
        if let Some(p) = git(&manifest_dir, &["rev-parse", "--git-path", file]) {
            println!("cargo:rerun-if-changed={}", manifest_dir.join(p).display());
        }
    }
    if let Some(branch) = git(&manifest_dir, &["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&manifest_dir, &["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={}", manifest_dir.join(p).display());
    }
    git(
        &manifest_dir,
        &["describe", "--tags", "--always", "--dirty", "--abbrev=7"],
    )
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
