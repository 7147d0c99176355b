//! `cargo xtask`: build orchestration for Slotwise, in Rust (rust-analyzer's pattern).
//!
//! | command | does |
//! |---|---|
//! | `setup` | installs what is missing: wasm32 target, wasm-bindgen-cli (pinned), chromium, npm deps, cargo-fuzz |
//! | `build` | wasm → wasm-bindgen → wasm-opt → the npm package in `pkg/`, with the size report |
//! | `test`  | setup, then every check and test suite (what CI runs) |
//! | `demo`  | builds and serves `www/` on localhost |
//! | `bench` | Slotwise (wasm in Node) and the peers on the same workload, one table of medians and ratios |
//! | `eval`  | the offline evaluation of the model on ../shared/data/sessions (release build) |

mod bench;
mod build;
mod demo;
mod setup;
mod size;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str =
    "usage: cargo xtask <setup | build | test | demo [--port N] | bench | eval [--data DIR]>";

/// `slotwise eval` in a release build: train on train_full, report on test, with
/// the baselines, on the same run (see origin/src/eval.rs).
fn eval(args: &[String]) -> Result<(), String> {
    let mut c = util::cmd(
        "cargo",
        &[
            "run",
            "--release",
            "--quiet",
            "--package",
            "slotwise-origin",
            "--",
            "eval",
        ],
    );
    c.args(args);
    util::exec(c)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("build") => build::run().map(|_| ()),
        Some("test") => test::run(),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("eval") => eval(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
