//! `cargo xtask setup`: installs what is missing, skips what is there. Idempotent.

use crate::util::{cmd, exec, output, root, step};

/// The wasm-bindgen version pinned in Cargo.lock (the CLI must match it exactly).
pub fn pinned_wasm_bindgen() -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

pub fn run() -> Result<(), String> {
    step("setup: rust target wasm32-unknown-unknown");
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        println!("already installed");
    } else {
        exec(cmd("rustup", &["target", "add", "wasm32-unknown-unknown"]))?;
    }

    step("setup: nightly rust-src (the browser module rebuilds std with immediate-abort panics)");
    let nightly = output(
        "rustup",
        &["component", "list", "--installed", "--toolchain", "nightly"],
    )
    .unwrap_or_default();
    if nightly.lines().any(|l| l.trim() == "rust-src") {
        println!("already installed");
    } else if nightly.is_empty() {
        exec(cmd(
            "rustup",
            &[
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
                "--component",
                "rust-src",
            ],
        ))?;
    } else {
        exec(cmd(
            "rustup",
            &["component", "add", "rust-src", "--toolchain", "nightly"],
        ))?;
    }

    step("setup: wasm-bindgen-cli");
    let want = pinned_wasm_bindgen()?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) {
        println!("wasm-bindgen {want} already installed");
    } else {
        println!(
            "have {:?}, want {want}: installing (a few minutes)",
            have.trim()
        );
        exec(cmd(
            "cargo",
            &[
                "install",
                "--locked",
                "wasm-bindgen-cli",
                "--version",
                &want,
            ],
        ))?;
    }

    step("setup: chromium and chromedriver (Debian packages)");
    if std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new("/usr/bin/chromedriver").exists()
    {
        println!("already installed");
    } else {
        let is_root = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
        if !is_root {
            return Err(
                "chromium and chromium-driver are missing; install them with \
                 `sudo apt-get install chromium chromium-driver`"
                    .into(),
            );
        }
        exec(cmd("apt-get", &["update", "-q"]))?;
        let mut install = cmd(
            "apt-get",
            &[
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "chromium",
                "chromium-driver",
            ],
        );
        install.env("DEBIAN_FRONTEND", "noninteractive");
        exec(install)?;
    }

    step("setup: PostgreSQL server (Debian package, for the origin's PostgreSQL tests)");
    if let Some(bin) = crate::postgres::bin_dir() {
        println!("already installed ({})", bin.display());
    } else if output("id", &["-u"]).is_some_and(|u| u.trim() == "0") {
        exec(cmd("apt-get", &["update", "-q"]))?;
        let mut install = cmd(
            "apt-get",
            &[
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                crate::postgres::PACKAGE,
            ],
        );
        install.env("DEBIAN_FRONTEND", "noninteractive");
        exec(install)?;
    } else {
        println!(
            "PostgreSQL is missing and we are not root: install it with \
             `sudo apt-get install postgresql`; until then its tests skip"
        );
    }

    npm_dependencies()?;

    step("setup: cargo-fuzz (for the fuzz smoke run)");
    if output("cargo", &["fuzz", "--version"]).is_some() {
        println!("already installed");
    } else {
        exec(cmd("cargo", &["install", "--locked", "cargo-fuzz"]))?;
    }
    Ok(())
}

/// The checkout's npm dependencies (binaryen's wasm-opt, esbuild, the test tools):
/// `npm ci` unless `node_modules` matches `package-lock.json` already. The build runs
/// it too, so a fresh clone or git worktree builds without a setup first.
pub fn npm_dependencies() -> Result<(), String> {
    step("setup: npm dependencies");
    let lock = std::fs::read(root().join("package-lock.json"))
        .map_err(|e| format!("cannot read package-lock.json: {e}"))?;
    let stamp_path = root().join("node_modules/.slotwise-lock-stamp");
    let stamp = std::fs::read(&stamp_path).unwrap_or_default();
    if stamp == lock {
        println!("node_modules matches package-lock.json");
    } else {
        exec(cmd("npm", &["ci", "--no-audit", "--no-fund"]))?;
        std::fs::write(&stamp_path, &lock).map_err(|e| format!("cannot write stamp: {e}"))?;
    }
    Ok(())
}
