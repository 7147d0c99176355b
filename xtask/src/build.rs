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
    "dom.js",
    "browser.js",
];

pub fn pkg_dir() -> PathBuf {
    root().join("pkg")
}

/// One wasm module of the package: cargo features and the wasm-bindgen output name.
struct Module {
    name: &'static str,
    features: &'static str,
}

/// The browser module stays small; the edge module adds the page rewriter.
const MODULES: &[Module] = &[
    Module {
        name: "slotwise_wasm",
        features: "",
    },
    Module {
        name: "slotwise_edge",
        features: "edge",
    },
];

/// Files of the edge entry (workerd and Node).
pub const EDGE_ENTRY: &[&str] = &[
    "slotwise_edge_bg.wasm",
    "slotwise_edge.js",
    "slotwise.js",
    "edge.js",
    "workerd.js",
];

pub fn run() -> Result<PathBuf, String> {
    let target = root().join("target");
    let bindgen_dir = target.join("wasm-bindgen");
    let pkg = pkg_dir();
    let _ = std::fs::remove_dir_all(&pkg);
    std::fs::create_dir_all(&pkg).map_err(|e| format!("cannot create pkg/: {e}"))?;
    for m in MODULES {
        build_module(m, &target, &bindgen_dir, &pkg)?;
    }

    step("build: assemble pkg/");
    let config = root().join("pkg-config");
    for name in ["package.json", "README.md"] {
        copy(&config.join(name), &pkg)?;
    }
    for entry in read_dir(&config.join("src"))? {
        copy(&entry, &pkg)?;
    }

    step("build: size report");
    size::report(&pkg, "browser entry, as shipped:", BROWSER_ENTRY)?;
    size::report(
        &pkg,
        "edge entry, as shipped (workerd; Node uses the same module):",
        EDGE_ENTRY,
    )?;
    // What a production page loads: the JS bundled and minified (esbuild, as the
    // peers' figures are measured) plus the wasm module.
    let min_dir = target.join("size");
    std::fs::create_dir_all(&min_dir).map_err(|e| e.to_string())?;
    for (entry, out) in [
        ("browser.js", "browser.min.js"),
        ("workerd.js", "workerd.min.js"),
    ] {
        exec(cmd(
            path_str(&root().join("node_modules/.bin/esbuild"))?,
            &[
                path_str(&pkg.join(entry))?,
                "--bundle",
                "--minify",
                "--format=esm",
                "--external:*.wasm",
                "--log-level=warning",
                &format!("--outfile={}", path_str(&min_dir.join(out))?),
            ],
        ))?;
    }
    copy(&pkg.join("slotwise_wasm_bg.wasm"), &min_dir)?;
    copy(&pkg.join("slotwise_edge_bg.wasm"), &min_dir)?;
    size::report(
        &min_dir,
        "edge entry, minified:",
        &["slotwise_edge_bg.wasm", "workerd.min.js"],
    )?;
    let gzip = size::report(
        &min_dir,
        "browser entry, minified (what a production page loads; the budget):",
        &["slotwise_wasm_bg.wasm", "browser.min.js"],
    )?;
    size::versus_peers(gzip);
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

fn build_module(m: &Module, target: &Path, bindgen_dir: &Path, pkg: &Path) -> Result<(), String> {
    step(&format!(
        "build: {} (cargo, profile wasm, features [{}])",
        m.name, m.features
    ));
    let mut args = vec![
        "build",
        "--lib",
        "--package",
        "slotwise",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "wasm",
    ];
    if !m.features.is_empty() {
        args.extend(["--features", m.features]);
    }
    exec(cmd("cargo", &args))?;
    let module = target.join("wasm32-unknown-unknown/wasm/slotwise.wasm");

    step(&format!("build: {} wasm-bindgen --target web", m.name));
    exec(cmd(
        "wasm-bindgen",
        &[
            "--target",
            "web",
            "--out-name",
            m.name,
            "--out-dir",
            path_str(bindgen_dir)?,
            path_str(&module)?,
        ],
    ))?;

    step(&format!("build: {} wasm-opt -Oz", m.name));
    let mut args = vec!["-Oz"];
    args.extend_from_slice(WASM_FEATURES);
    let input = bindgen_dir.join(format!("{}_bg.wasm", m.name));
    let output = pkg.join(format!("{}_bg.wasm", m.name));
    args.extend([path_str(&input)?, "-o", path_str(&output)?]);
    exec(cmd(
        path_str(&root().join("node_modules/.bin/wasm-opt"))?,
        &args,
    ))?;
    copy(&bindgen_dir.join(format!("{}.js", m.name)), pkg)
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
