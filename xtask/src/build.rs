//! `cargo xtask build`: the wasm module and the npm package in `pkg/`.
//!
//! cargo (profile `wasm`) → wasm-bindgen `--target web` → wasm-opt `-Oz` (binaryen
//! from npm) → `pkg/` assembled from `pkg-config/` → size report, checked against
//! `pkg-config/budget.json`.

use std::path::{Path, PathBuf};

use crate::size;
use crate::util::{cmd, exec, root, step};

/// The features rustc 1.95 enables for wasm32 by default; wasm-opt must accept them.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// The browser entry: what a page loads to run `Slotwise.load` + `decide`.
pub const BROWSER_ENTRY: &[&str] = &[
    "slotwise_wasm_bg.wasm",
    "slotwise_wasm.js",
    "slotwise.js",
    "browser.js",
];

pub fn pkg_dir() -> PathBuf {
    root().join("pkg")
}

pub fn run() -> Result<PathBuf, String> {
    step("build: wasm32 module (profile wasm)");
    exec(cmd(
        "cargo",
        &[
            "build",
            "--lib",
            "--package",
            "slotwise",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm",
        ],
    ))?;
    let target = root().join("target");
    let bindgen_dir = target.join("wasm-bindgen");
    let module = target.join("wasm32-unknown-unknown/wasm/slotwise.wasm");

    step("build: wasm-bindgen --target web");
    exec(cmd(
        "wasm-bindgen",
        &[
            "--target",
            "web",
            "--out-name",
            "slotwise_wasm",
            "--out-dir",
            path_str(&bindgen_dir)?,
            path_str(&module)?,
        ],
    ))?;

    step("build: wasm-opt -Oz");
    let pkg = pkg_dir();
    let _ = std::fs::remove_dir_all(&pkg);
    std::fs::create_dir_all(&pkg).map_err(|e| format!("cannot create pkg/: {e}"))?;
    let mut args = vec!["-Oz"];
    args.extend_from_slice(WASM_FEATURES);
    let input = bindgen_dir.join("slotwise_wasm_bg.wasm");
    let output = pkg.join("slotwise_wasm_bg.wasm");
    args.extend([path_str(&input)?, "-o", path_str(&output)?]);
    exec(cmd(
        path_str(&root().join("node_modules/.bin/wasm-opt"))?,
        &args,
    ))?;

    step("build: assemble pkg/");
    copy(&bindgen_dir.join("slotwise_wasm.js"), &pkg)?;
    let config = root().join("pkg-config");
    for name in ["package.json", "README.md"] {
        copy(&config.join(name), &pkg)?;
    }
    for entry in read_dir(&config.join("src"))? {
        copy(&entry, &pkg)?;
    }

    step("build: size report");
    let gzip = size::report(&pkg, "browser entry (what a page loads):", BROWSER_ENTRY)?;
    let budget = browser_budget()?;
    println!("  budget (pkg-config/budget.json): {gzip} / {budget} bytes gzip -9");
    if gzip > budget {
        return Err(format!(
            "the browser entry is {gzip} bytes gzip, over the {budget}-byte budget"
        ));
    }
    println!("\npackage ready in {}", pkg.display());
    Ok(pkg)
}

fn browser_budget() -> Result<usize, String> {
    let text = std::fs::read_to_string(root().join("pkg-config/budget.json"))
        .map_err(|e| format!("cannot read pkg-config/budget.json: {e}"))?;
    // A one-field read; the file is ours and tiny.
    let at = text
        .find("\"browserGzipBytes\"")
        .ok_or("budget.json has no browserGzipBytes")?;
    let digits: String = text[at + 18..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .map_err(|_| "budget.json: browserGzipBytes is not a number".to_string())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    Ok(out)
}

fn copy(file: &Path, dir: &Path) -> Result<(), String> {
    let name = file.file_name().ok_or("no file name")?;
    std::fs::copy(file, dir.join(name))
        .map(|_| ())
        .map_err(|e| format!("cannot copy {}: {e}", file.display()))
}

pub fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("path is not UTF-8: {}", p.display()))
}
