//! `cargo xtask test`: everything CI checks, in the order that fails fastest.
//!
//! setup → fmt → clippy (native, wasm32 edge and browser) → native tests (with a
//! throwaway PostgreSQL for the origin's suite, see `postgres.rs`) → build (size budget) →
//! wasm-bindgen-test in Node and in headless Chromium → fuzz smoke → the packed npm
//! package in Node, a browser page and workerd (node's test runner closes the run) →
//! the demo shop end to end in Chromium, a Vite build of the package (tests/e2e).

use std::path::Path;

use crate::build::{self, path_str};
use crate::setup;
use crate::util::{cmd, exec, output, root, step};

/// Seconds each fuzz target runs in the smoke run.
const FUZZ_SECONDS: &str = "10";

pub fn run() -> Result<(), String> {
    setup::run()?;

    step("cargo fmt --check");
    exec(cmd("cargo", &["fmt", "--all", "--check"]))?;

    step("clippy (native)");
    exec(cmd(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    step("clippy (wasm32)");
    exec(cmd(
        "cargo",
        &[
            "clippy",
            "--package",
            "slotwise",
            "--lib",
            "--test",
            "wasm",
            "--test",
            "wasm_rules",
            "--features",
            "edge",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ],
    ))?;
    // The browser module is built without `edge`: its code paths are linted too.
    step("clippy (wasm32, the browser module)");
    exec(cmd(
        "cargo",
        &[
            "clippy",
            "--package",
            "slotwise",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ],
    ))?;

    step("native tests (the origin's suite on SQLite and on a test PostgreSQL)");
    let mut tests = cmd("cargo", &["test", "--workspace"]);
    let _postgres = crate::postgres::for_tests(&mut tests);
    exec(tests)?;

    let pkg = build::run()?;

    for (where_, browser) in [("Node", false), ("headless Chromium", true)] {
        step(&format!("wasm-bindgen-test in {where_}"));
        let mut c = cmd(
            "cargo",
            &[
                "test",
                "--package",
                "slotwise",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "wasm",
                "--test",
                "wasm_rules",
            ],
        );
        c.env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        );
        c.env("WASM_BINDGEN_TEST_TIMEOUT", "120");
        if browser {
            c.env("WASM_BINDGEN_USE_BROWSER", "1")
                .env("CHROMEDRIVER", "/usr/bin/chromedriver")
                .env("CI", "1");
        }
        exec(c)?;
    }

    fuzz_smoke()?;
    packaging(&pkg)?;
    e2e(&pkg)?;
    Ok(())
}

/// The demo shop through the origin in Chromium, the Vite fixture, the types check
/// (tests/e2e); the home page screenshot lands in target/e2e/home.png.
fn e2e(pkg: &Path) -> Result<(), String> {
    let demo = crate::demo::prepare(pkg)?;
    step("end-to-end: the demo shop in Chromium, a Vite build (tests/e2e)");
    let mut node = cmd(
        "node",
        &[
            "--test",
            "--test-reporter=spec",
            "tests/e2e/shop.test.mjs",
            "tests/e2e/handoff.test.mjs",
            "tests/e2e/vite.test.mjs",
            "tests/e2e/types.test.mjs",
        ],
    );
    node.env("SLOTWISE_BIN", &demo.slotwise)
        .env("DEMO_SITE", &demo.site)
        .env("DEMO_BUNDLE", &demo.bundle)
        .env("E2E_OUT", root().join("target/e2e"))
        .env("PACKAGING_DIR", root().join("target/packaging"));
    let start = std::time::Instant::now();
    exec(node)?;
    println!("end-to-end tests: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// A few seconds of every fuzz target, seeded with the committed fixtures.
fn fuzz_smoke() -> Result<(), String> {
    step("fuzz smoke (cargo fuzz, nightly)");
    let fuzz = root().join("fuzz");
    let list = output("cargo", &["+nightly", "fuzz", "list"])
        .ok_or("`cargo +nightly fuzz list` failed: is the nightly toolchain installed?")?;
    let targets: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let seeds = root().join("tests/fixtures");
    for target in &targets {
        let corpus = fuzz.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|e| format!("cannot create corpus: {e}"))?;
        match *target {
            "bundle" => {
                let _ = std::fs::copy(seeds.join("shop.swb"), corpus.join("shop.swb"));
            }
            "html" => {
                for page in ["traps.html", "unclosed.html"] {
                    let _ = std::fs::copy(root().join("tests/html").join(page), corpus.join(page));
                }
            }
            _ => {}
        }
        let max_time = format!("-max_total_time={FUZZ_SECONDS}");
        exec(cmd(
            "cargo",
            &["+nightly", "fuzz", "run", target, "--", &max_time],
        ))?;
    }
    println!(
        "fuzzed {} target(s) for {FUZZ_SECONDS} s each",
        targets.len()
    );
    Ok(())
}

/// `npm pack`, install the tarball into a fixture project, run the consumers' tests.
fn packaging(pkg: &Path) -> Result<(), String> {
    step("packaging tests: npm pack → Node ESM, browser page, workerd");
    let dir = root().join("target/packaging");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("fixtures")).map_err(|e| e.to_string())?;
    let mut pack = cmd(
        "npm",
        &["pack", "--silent", "--pack-destination", path_str(&dir)?],
    );
    pack.current_dir(pkg);
    let out = pack.output().map_err(|e| format!("npm pack: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm pack failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tarball = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    println!("packed {tarball}");
    std::fs::write(
        dir.join("package.json"),
        r#"{ "name": "slotwise-packaging-fixture", "private": true, "type": "module" }"#,
    )
    .map_err(|e| e.to_string())?;
    let mut install = cmd(
        "npm",
        &[
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            &format!("./{tarball}"),
        ],
    );
    install.current_dir(&dir);
    exec(install)?;

    let sources = root().join("tests/packaging");
    let mut tests = Vec::new();
    for entry in std::fs::read_dir(&sources).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.ends_with(".mjs") {
            std::fs::copy(&path, dir.join(&name)).map_err(|e| e.to_string())?;
            if name.ends_with(".test.mjs") {
                tests.push(name);
            }
        }
    }
    tests.sort();
    // The repo's ready module worker, as a site would deploy it.
    std::fs::copy(root().join("worker/worker.js"), dir.join("worker.js"))
        .map_err(|e| e.to_string())?;
    std::fs::copy(
        root().join("tests/fixtures/shop.swb"),
        dir.join("fixtures/shop.swb"),
    )
    .map_err(|e| e.to_string())?;
    // The edge worker's fixtures: a holdout bundle, signed snippets.
    std::fs::create_dir_all(dir.join("fixtures/edge")).map_err(|e| e.to_string())?;
    for name in ["shop-holdout.swb", "snippets.json"] {
        std::fs::copy(
            root().join("tests/fixtures/edge").join(name),
            dir.join("fixtures/edge").join(name),
        )
        .map_err(|e| e.to_string())?;
    }
    // The shared vectors every runtime replays (snippets, TCF, Ed25519).
    std::fs::create_dir_all(dir.join("vectors")).map_err(|e| e.to_string())?;
    for name in ["snippets.json", "tcf.json", "ed25519.json", "make-tcf.mjs"] {
        std::fs::copy(
            root().join("tests/vectors").join(name),
            dir.join("vectors").join(name),
        )
        .map_err(|e| e.to_string())?;
    }
    let mut args = vec!["--test", "--test-reporter=spec"];
    args.extend(tests.iter().map(String::as_str));
    let mut node = cmd("node", &args);
    node.current_dir(&dir);
    exec(node)
}
