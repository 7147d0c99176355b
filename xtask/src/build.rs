//! `cargo xtask build`: the wasm module and the npm package in `pkg/`.
//!
//! cargo (profile `wasm`; the browser module on nightly with std rebuilt for
//! immediate-abort panics) → wasm-bindgen `--target web` → wasm-opt `-Oz` (binaryen
//! from npm) → short import and export names (browser) → `pkg/` assembled from `pkg-config/` → size report, checked against
//! `pkg-config/budget.json`.

use std::path::{Path, PathBuf};

use crate::util::{cmd, exec, root, step};
use crate::{shorten, size};

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
    /// Whether its glue is turned into a factory (see [`factory_glue`]).
    factory: bool,
    /// The cargo profile and the wasm-opt level: size for the browser, speed for
    /// the edge (the rewriter reads every byte of every page).
    profile: &'static str,
    wasm_opt: &'static [&'static str],
    /// Extra target features: the edge module uses wasm SIMD (workerd, Node and
    /// Deno run it), so the rewriter's byte search (memchr) goes 16 bytes at a time.
    simd: bool,
    /// Built with nightly's `-Cpanic=immediate-abort` and std rebuilt from source
    /// (`-Zbuild-std`, rust-src installed by `cargo xtask setup`): a panic traps at
    /// once, as `panic = "abort"` already did, but std's panic message formatting
    /// (`core::fmt`, locations, payloads) leaves the module: 4.3 KB gzip.
    immediate_abort: bool,
    /// Short names for its imports and exports (see [`shorten`]).
    short_names: bool,
}

/// The browser module stays small; the edge module adds the page rewriter.
const MODULES: &[Module] = &[
    Module {
        name: "slotwise_wasm",
        features: "",
        factory: false,
        profile: "wasm",
        // -Oz, then flatten + re-loop and -Oz twice more: 1.2 KB gzip less than
        // -Oz alone (measured on the opt-level z module; --converge saves 0.7 KB).
        // The producers and target-features sections are for tools, not browsers.
        wasm_opt: &[
            "-Oz",
            "--flatten",
            "--rereloop",
            "-Oz",
            "-Oz",
            "--strip-producers",
            "--strip-target-features",
        ],
        simd: false,
        immediate_abort: true,
        short_names: true,
    },
    Module {
        name: "slotwise_edge",
        features: "edge",
        factory: true,
        profile: "wasm-edge",
        wasm_opt: &["-O3"],
        simd: true,
        immediate_abort: false,
        short_names: false,
    },
];

/// Files of the edge entry (workerd and Node).
pub const EDGE_ENTRY: &[&str] = &[
    "slotwise_edge_bg.wasm",
    "slotwise_edge.js",
    "slotwise.js",
    "edge.js",
    "edge-bundle.js",
    "edge-snippets.js",
    "edge-origin.js",
    "bots.js",
    "handoff.js",
    "edge-cache.js",
    "workerd.js",
];

pub fn run() -> Result<PathBuf, String> {
    crate::setup::npm_dependencies()?;
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
        "build: {} (cargo, profile {}, features [{}])",
        m.name, m.profile, m.features
    ));
    let mut args = vec![];
    if m.immediate_abort {
        args.push("+nightly");
    }
    args.extend([
        "build",
        "--lib",
        "--package",
        "slotwise",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        m.profile,
    ]);
    if m.immediate_abort {
        args.push("-Zbuild-std=std,panic_abort");
    }
    if !m.features.is_empty() {
        args.extend(["--features", m.features]);
    }
    let mut cargo = cmd("cargo", &args);
    if m.simd {
        // Its own profile directory, so the two modules' flags never invalidate
        // each other's build.
        cargo.env("RUSTFLAGS", "-C target-feature=+simd128");
    }
    if m.immediate_abort {
        cargo.env("RUSTFLAGS", "-Zunstable-options -Cpanic=immediate-abort");
    }
    exec(cargo)?;
    let module = target
        .join("wasm32-unknown-unknown")
        .join(m.profile)
        .join("slotwise.wasm");

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

    step(&format!(
        "build: {} wasm-opt {}",
        m.name,
        m.wasm_opt.join(" ")
    ));
    let mut args = m.wasm_opt.to_vec();
    args.extend_from_slice(WASM_FEATURES);
    if m.simd {
        args.push("--enable-simd");
    }
    let input = bindgen_dir.join(format!("{}_bg.wasm", m.name));
    let output = pkg.join(format!("{}_bg.wasm", m.name));
    args.extend([path_str(&input)?, "-o", path_str(&output)?]);
    exec(cmd(
        path_str(&root().join("node_modules/.bin/wasm-opt"))?,
        &args,
    ))?;
    let glue = bindgen_dir.join(format!("{}.js", m.name));
    let mut js = std::fs::read_to_string(&glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    if m.short_names {
        let wasm = std::fs::read(&output).map_err(|e| format!("{}: {e}", output.display()))?;
        let (wasm, short_glue) = shorten::names(&wasm, &js)?;
        std::fs::write(&output, wasm).map_err(|e| e.to_string())?;
        js = short_glue;
    }
    if !m.factory {
        return std::fs::write(pkg.join(format!("{}.js", m.name)), js).map_err(|e| e.to_string());
    }
    std::fs::write(pkg.join(format!("{}.js", m.name)), factory_glue(&js)?)
        .map_err(|e| e.to_string())
}

/// Wraps wasm-bindgen's `--target web` glue in `export function createBindings()`,
/// which returns the module's exports over a state of its own.
///
/// The glue keeps its instance in a module-level `let wasm` and `initSync` returns
/// early once it is set, so a module instance can never be replaced. An edge worker
/// must replace it after a trap (the instance's memory may be inconsistent): with
/// the factory each call gets fresh glue state — its own `wasm`, memory views and
/// `FinalizationRegistry`s — so objects of a trapped instance are only ever freed
/// into that instance, never into its replacement.
fn factory_glue(js: &str) -> Result<String, String> {
    let mut imports = String::new();
    let mut body = String::new();
    let mut names: Vec<String> = Vec::new();
    for line in js.lines() {
        let name_of = |rest: &str, stop: &[char]| -> String {
            rest.split(|c: char| stop.contains(&c))
                .next()
                .unwrap_or_default()
                .to_string()
        };
        if line.starts_with("import ") {
            imports.push_str(line);
            imports.push('\n');
            continue;
        }
        if let Some(rest) = line.strip_prefix("export class ") {
            names.push(name_of(rest, &[' ', '{']));
            body.push_str(&line["export ".len()..]);
        } else if let Some(rest) = line.strip_prefix("export function ") {
            names.push(name_of(rest, &['(', ' ']));
            body.push_str(&line["export ".len()..]);
        } else if let Some(rest) = line.strip_prefix("export async function ") {
            names.push(name_of(rest, &['(', ' ']));
            body.push_str(&line["export ".len()..]);
        } else if let Some(rest) = line.strip_prefix("export const ") {
            names.push(name_of(rest, &[' ', '=']));
            body.push_str(&line["export ".len()..]);
        } else if line.trim() == "export { initSync };" {
            names.push("initSync".into());
            continue;
        } else if line.trim() == "export default __wbg_init;" {
            names.push("default: __wbg_init".into());
            continue;
        } else if line.starts_with("export") {
            return Err(format!(
                "the wasm-bindgen glue has an export this build cannot wrap: {line}"
            ));
        } else {
            body.push_str(line);
        }
        body.push('\n');
    }
    if !names.iter().any(|n| n == "initSync") {
        return Err("the wasm-bindgen glue exports no initSync".into());
    }
    Ok(format!(
        "// wasm-bindgen glue wrapped by `cargo xtask build` (xtask/src/build.rs): each\n\
         // createBindings() call has its own instance state, so an instance that trapped\n\
         // can be replaced by a fresh one.\n\
         {imports}export function createBindings() {{\n{body}\nreturn {{ {} }};\n}}\n",
        names.join(", ")
    ))
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

#[cfg(test)]
mod tests {
    use super::factory_glue;

    #[test]
    fn the_glue_becomes_a_factory_of_independent_states() {
        let glue = "let wasm;\nexport class Engine {\n}\nexport function verify(a) {}\n\
                    function initSync(m) { if (wasm !== undefined) return wasm; }\n\
                    export { initSync };\nexport default __wbg_init;\n";
        let out = factory_glue(glue).unwrap();
        assert!(out.contains("export function createBindings() {\nlet wasm;\nclass Engine {"));
        assert!(out.contains("return { Engine, verify, initSync, default: __wbg_init };\n}\n"));
        assert_eq!(out.matches("export ").count(), 1, "{out}");
    }

    #[test]
    fn an_unknown_export_form_fails_the_build() {
        assert!(factory_glue("export let x = 1;\nexport { initSync };\n").is_err());
        assert!(factory_glue("export class A {}\n").is_err());
    }
}
