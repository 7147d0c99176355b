//! `cargo xtask`: build orchestration for Slotwise, in Rust (rust-analyzer's pattern).
//!
//! | command | does |
//! |---|---|
//! | `setup` | installs what is missing: wasm32 target, wasm-bindgen-cli (pinned), chromium, PostgreSQL, npm deps, cargo-fuzz |
//! | `build` | wasm → wasm-bindgen → wasm-opt → the npm package in `pkg/`, with the size report |
//! | `test`  | setup, then every check and test suite (what CI runs) |
//! | `demo`  | builds and serves `www/` on localhost |
//! | `bench` | Slotwise (wasm in Node) and the peers on the same workload, one table of medians and ratios |
//! | `eval`  | the offline evaluation of the model on ../shared/data/sessions (release build) |
//! | `bench-stores` | origin ingest and snippets on SQLite vs 1 and 2 PostgreSQL replicas (release build, a throwaway PostgreSQL) |
//! | `with-postgres CMD...` | runs CMD with `SLOTWISE_TEST_POSTGRES` pointing at a throwaway PostgreSQL (e.g. `cargo xtask with-postgres cargo test -p slotwise-origin`) |
//! | `bench-snippet` | snippet verify + decode time in Node and workerd (bench/snippet) |
//! | `bench-edge` | the edge handler's added time per request in workerd vs HTMLRewriter (bench/edge) |

mod bench;
mod bench_edge;
mod build;
mod demo;
mod postgres;
mod setup;
mod shorten;
mod size;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <setup | build | test | demo [--port N] | bench | bench-edge | bench-snippet | eval [--data DIR] | bench-stores | with-postgres CMD...>";

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

/// Signs a typical snippet with a fresh key and times verify + decode in Node and
/// workerd (bench/snippet/bench.mjs).
fn bench_snippet() -> Result<(), String> {
    let pkg = build::run()?;
    let dir = util::root().join("target/bench-snippet");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let cli = |args: &[&str]| -> Result<String, String> {
        let mut all = vec![
            "run",
            "--release",
            "--quiet",
            "--package",
            "slotwise-origin",
            "--",
        ];
        all.extend_from_slice(args);
        let out = util::cmd("cargo", &all)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let dir_s = build::path_str(&dir)?;
    let generated = cli(&["keys", "generate", "--out-dir", dir_s, "--kid", "bench"])?;
    let public = generated
        .lines()
        .find_map(|l| l.strip_prefix("public "))
        .ok_or("keys generate printed no public key")?
        .trim()
        .to_string();
    let secret = dir.join("bench.secret.json");
    let token = cli(&[
        "snippet",
        "typical",
        "--key",
        build::path_str(&secret)?,
        "--audience",
        "shop.example",
    ])?;
    std::fs::write(dir.join("token.txt"), token.trim()).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("keys.json"),
        format!("{{\"bench\": \"{public}\"}}"),
    )
    .map_err(|e| e.to_string())?;
    util::exec(util::cmd(
        "node",
        &[
            "bench/snippet/bench.mjs",
            build::path_str(&pkg)?,
            "tests/fixtures/shop.swb",
            build::path_str(&dir.join("token.txt"))?,
            build::path_str(&dir.join("keys.json"))?,
            build::path_str(&dir.join("worker"))?,
        ],
    ))
}

/// `slotwise bench-origin --compare-stores` in a release build beside a throwaway
/// PostgreSQL: SQLite vs one and two PostgreSQL replicas, one table.
fn bench_stores(args: &[String]) -> Result<(), String> {
    util::exec(util::cmd(
        "cargo",
        &[
            "build",
            "--release",
            "--quiet",
            "--package",
            "slotwise-origin",
        ],
    ))?;
    let mut c = util::cmd(
        util::root()
            .join("target/release/slotwise")
            .to_str()
            .ok_or("non-UTF-8 path")?,
        &["bench-origin", "--compare-stores"],
    );
    c.args(args);
    let pg = postgres::for_tests(&mut c);
    if pg.is_none() && std::env::var(postgres::URL_VAR).is_err() {
        return Err("bench-stores needs PostgreSQL (see the message above)".into());
    }
    let r = util::exec(c);
    drop(pg);
    r
}

/// Runs a command beside a throwaway PostgreSQL (see postgres.rs).
fn with_postgres(args: &[String]) -> Result<(), String> {
    let (program, rest) = args
        .split_first()
        .ok_or("usage: cargo xtask with-postgres <command> [args...]")?;
    let mut c = std::process::Command::new(program);
    c.args(rest);
    let pg = postgres::for_tests(&mut c);
    let r = util::exec(c);
    drop(pg);
    r
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
        Some("bench-snippet") => bench_snippet(),
        Some("bench-edge") => bench_edge::run(&args[1..]),
        Some("with-postgres") => with_postgres(&args[1..]),
        Some("bench-stores") => bench_stores(&args[1..]),
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
