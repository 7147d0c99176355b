//! `cargo xtask bench`: Slotwise (wasm in Node) side by side with the peers, in one run.
//!
//! 1. `cargo xtask build` → `pkg/`;
//! 2. the peer harness (`../shared/bench/peers`, read-only) is copied into
//!    `target/bench/peers/` with `bench/peers/*.mjs` next to it; `npm ci` there and the
//!    built package installed as `node_modules/slotwise`;
//! 3. the workload is written (`node workload.mjs`), converted into a Slotwise authoring
//!    directory (`node to-slotwise.mjs`) and compiled with `slotwise bundle build`;
//! 4. `node bench-<peer>.mjs all` for every peer, then Slotwise (the harness's warm
//!    processes check decisions against the reference before timing; Slotwise's check
//!    also compares the experiment arm with GrowthBook's and fails on any mismatch);
//! 5. one table: median and p99 µs per full-page decision (4 slots + the experiment)
//!    per peer and mode, and the ratio peer / Slotwise at the median.
//!
//! Env: `ITER` (20000) and `WARMUP` (2000) timed / warm-up requests per process (the
//! shared harness's own defaults, as its `run.sh` uses them),
//! `ROUNDS` (1) runs of every peer, interleaved (the table shows the median of the
//! rounds' medians and each round's median),
//! `COLD_RUNS` (3) cold-start processes per variant, `PEERS` (default
//! `growthbook uniform ninetailed`), `PEERS_DIR` (the harness to copy). The raw JSON
//! lines are kept in `target/bench/results.jsonl`. Timings are never asserted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::build::{self, path_str};
use crate::util::{cmd, exec, root, step};

const DEFAULT_PEERS: &str = "growthbook uniform ninetailed";

/// Node script: the results file → one tab-separated row per peer, variant and mode.
const ROWS_JS: &str = r#"
const fs = require('fs');
for (const line of fs.readFileSync(process.argv[1], 'utf8').split('\n')) {
  if (!line.startsWith('{')) continue;
  const r = JSON.parse(line);
  for (const variant of ['pkg', 'bundle']) {
    for (const mode of Object.keys((r.warm || {})[variant] || {})) {
      const w = r.warm[variant][mode];
      console.log([r.peer, r.version, variant, mode, r.primary_mode, w.median_us, w.p99_us, w.agree, w.iterations].join('\t'));
    }
  }
}
"#;

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!(
            "bench takes no arguments (got {a:?}); use ITER, WARMUP, COLD_RUNS, PEERS"
        ));
    }
    let pkg = build::run()?;

    let bench = root().join("target/bench");
    let peers_dir = bench.join("peers");
    let data = bench.join("data");
    let source = std::env::var_os("PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/bench/peers"));

    step("bench: copy the peer harness");
    std::fs::create_dir_all(&peers_dir).map_err(|e| e.to_string())?;
    copy_files(&source, &peers_dir)?;
    copy_files(&root().join("bench/peers"), &peers_dir)?;

    step("bench: npm ci (peer packages, pinned by the harness's lock file)");
    let mut c = node_cmd("npm", &peers_dir);
    c.args([
        "ci",
        "--include=dev",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]);
    exec(c)?;
    let installed = peers_dir.join("node_modules/slotwise");
    let _ = std::fs::remove_dir_all(&installed);
    std::fs::create_dir_all(&installed).map_err(|e| e.to_string())?;
    copy_files(&pkg, &installed)?;

    step("bench: workload, and the Slotwise bundle compiled from it");
    let mut c = node_cmd("node", &peers_dir);
    c.args(["workload.mjs", path_str(&data)?]);
    exec(c)?;
    for (dir, flag, out) in [
        ("authoring", None, "slotwise-bundle"),
        (
            "authoring-noexp",
            Some("--no-experiment"),
            "slotwise-bundle-noexp",
        ),
    ] {
        let dir = bench.join(dir);
        let mut c = node_cmd("node", &peers_dir);
        c.args(["to-slotwise.mjs", path_str(&dir)?]);
        c.args(flag);
        exec(c)?;
        let swb = bench.join(format!("{out}.swb"));
        exec(cmd(
            "cargo",
            &[
                "run",
                "--release",
                "--quiet",
                "-p",
                "slotwise-origin",
                "--",
                "bundle",
                "build",
                path_str(&dir)?,
                "-o",
                path_str(&swb)?,
            ],
        ))?;
        let bytes = std::fs::read(&swb).map_err(|e| format!("{}: {e}", swb.display()))?;
        std::fs::write(data.join(format!("{out}.b64")), base64(&bytes))
            .map_err(|e| e.to_string())?;
    }
    let bundle = crate::size::measure(&bench.join("slotwise-bundle.swb"))?;

    let iter = env_or("ITER", "20000");
    let peers = env_or("PEERS", DEFAULT_PEERS);
    let results = bench.join("results.jsonl");
    let load_before = load_average();
    let rounds: usize = env_or("ROUNDS", "1")
        .parse()
        .map_err(|_| "ROUNDS must be a number")?;
    let mut lines = String::new();
    let order: Vec<&str> = peers.split_whitespace().chain(["slotwise"]).collect();
    for round in 1..=rounds.max(1) {
        for &peer in &order {
            step(&format!(
                "bench: {peer} (ITER={iter}, round {round} of {rounds})"
            ));
            let mut c = node_cmd("node", &peers_dir);
            c.arg(format!("bench-{peer}.mjs"))
                .arg("all")
                .env("ITER", &iter)
                .env("WARMUP", env_or("WARMUP", "2000"))
                .env("COLD_RUNS", env_or("COLD_RUNS", "3"))
                .env("DATA_DIR", &data)
                .env("BUNDLE_DIR", bench.join("bundles"))
                .stderr(Stdio::inherit());
            let out = c
                .output()
                .map_err(|e| format!("cannot start node for {peer}: {e}"))?;
            if !out.status.success() {
                return Err(format!("bench-{peer}.mjs failed ({})", out.status));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .rfind(|l| l.starts_with('{'))
                .ok_or(format!("bench-{peer}.mjs printed no JSON line"))?;
            lines.push_str(line);
            lines.push('\n');
        }
    }
    std::fs::write(&results, &lines).map_err(|e| e.to_string())?;
    let load = format!("{load_before} before, {} after", load_average());

    let mut c = node_cmd("node", &peers_dir);
    c.args(["-e", ROWS_JS, path_str(&results)?]);
    let out = c.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err("could not read the results".into());
    }
    let rows = aggregate(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(Row::parse)
            .collect(),
    );
    print_table(&rows, &bundle, &load, &results);
    Ok(())
}

/// One warm measurement: a peer's mode in one variant.
struct Row {
    peer: String,
    version: String,
    variant: String,
    mode: String,
    primary: bool,
    median: f64,
    p99: f64,
    agree: String,
    iterations: String,
    /// The medians of every round (one per round; the row's `median` is their median).
    medians: Vec<f64>,
}

impl Row {
    fn parse(line: &str) -> Option<Row> {
        let f: Vec<&str> = line.split('\t').collect();
        let [
            peer,
            version,
            variant,
            mode,
            primary,
            median,
            p99,
            agree,
            iterations,
        ] = f[..]
        else {
            return None;
        };
        Some(Row {
            peer: peer.into(),
            version: version.into(),
            variant: variant.into(),
            mode: mode.into(),
            primary: mode == primary,
            median: median.parse().ok()?,
            p99: p99.parse().ok()?,
            agree: agree.into(),
            iterations: iterations.into(),
            medians: Vec::new(),
        })
    }
}

/// One row per peer, variant and mode over the rounds: the median of the rounds'
/// medians and of their p99s, the lowest agreement, and every round's median.
fn aggregate(raw: Vec<Row>) -> Vec<Row> {
    let mut out: Vec<(Row, Vec<f64>)> = Vec::new();
    for r in raw {
        let same = |o: &&mut (Row, Vec<f64>)| {
            o.0.peer == r.peer && o.0.variant == r.variant && o.0.mode == r.mode
        };
        match out.iter_mut().find(|o| same(o)) {
            Some((row, p99s)) => {
                row.medians.push(r.median);
                p99s.push(r.p99);
                let agree = |a: &str| a.parse::<f64>().unwrap_or(0.0);
                if agree(&r.agree) < agree(&row.agree) {
                    row.agree = r.agree;
                }
            }
            None => {
                let p99 = r.p99;
                let mut row = r;
                row.medians.push(row.median);
                out.push((row, vec![p99]));
            }
        }
    }
    out.into_iter()
        .map(|(mut row, p99s)| {
            row.median = median(&row.medians);
            row.p99 = median(&p99s);
            row
        })
        .collect()
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Which Slotwise mode a peer's mode is compared with: the same name when Slotwise
/// has it (`full`, `decide_only`), else Slotwise's per-request `full`.
fn slotwise_mode(mode: &str) -> &str {
    if mode == "decide_only" {
        "decide_only"
    } else {
        "full"
    }
}

fn print_table(rows: &[Row], bundle: &crate::size::Sizes, load: &str, results: &Path) {
    step("bench: results (µs per full-page decision: 4 slots + the hero experiment)");
    let iterations = rows.first().map_or("?", |r| r.iterations.as_str());
    let rounds = rows.iter().map(|r| r.medians.len()).max().unwrap_or(1);
    println!(
        "Node {}, {} timed requests per process, {} round(s) (median and p99: median over the rounds); ratio = peer median / Slotwise median (same variant, compared mode)",
        node_version(),
        iterations,
        rounds
    );
    println!(
        "{} cpus, 1-minute load average {load} (other work on the machine moves these figures)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<28} {:<8} {:<13} {:>10} {:>10} {:>7}  {:<16} {:>8}  {}",
        "peer",
        "variant",
        "mode",
        "median µs",
        "p99 µs",
        "agree",
        "vs slotwise",
        "ratio",
        if rounds > 1 {
            "medians of the rounds"
        } else {
            ""
        }
    );
    for variant in ["pkg", "bundle"] {
        for r in rows.iter().filter(|r| r.variant == variant) {
            let name = format!("{}@{}", r.peer, r.version);
            let mode = if r.primary {
                format!("{}*", r.mode)
            } else {
                r.mode.clone()
            };
            let (against, ratio) = if r.peer == "slotwise" {
                (String::new(), String::new())
            } else {
                let m = slotwise_mode(&r.mode);
                match rows
                    .iter()
                    .find(|s| s.peer == "slotwise" && s.variant == r.variant && s.mode == m)
                {
                    Some(s) if s.median > 0.0 => {
                        (m.to_string(), format!("{:.1}×", r.median / s.median))
                    }
                    _ => (String::new(), "n/a".into()),
                }
            };
            let each = if rounds > 1 {
                let v: Vec<String> = r.medians.iter().map(|m| format!("{m:.0}")).collect();
                v.join(" ")
            } else {
                String::new()
            };
            println!(
                "{:<28} {:<8} {:<13} {:>10.1} {:>10.1} {:>7}  {:<16} {:>8}  {}",
                name, r.variant, mode, r.median, r.p99, r.agree, against, ratio, each
            );
        }
    }
    println!(
        "* the peer's primary mode. agree: share of slot decisions equal to the workload's reference."
    );
    println!(
        "Ninetailed evaluates no targeting locally (its audiences come precomputed, as from its API)."
    );
    println!(
        "Slotwise's decisions for all 1,000 visitors equalled the reference with GrowthBook's arm in each of its warm processes (checked before timing; a mismatch fails the run)."
    );
    println!(
        "Slotwise bundle: {} bytes, {} gzip -9, {} brotli. Raw results: {}",
        bundle.raw,
        bundle.gzip,
        bundle.brotli,
        results.display()
    );
}

fn node_version() -> String {
    crate::util::output("node", &["-v"]).map_or("?".into(), |s| s.trim().to_string())
}

/// The 1-minute load average (Linux), or "?".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// A command in `dir` with NODE_ENV=production (what bundlers inline for production).
fn node_cmd(program: &str, dir: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(dir).env("NODE_ENV", "production");
    c
}

/// Copies the regular files of `from` into `to` (not directories: no node_modules).
fn copy_files(from: &Path, to: &Path) -> Result<(), String> {
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot list {}: {e}", from.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_file() {
            let name = path.file_name().ok_or("no file name")?;
            std::fs::copy(&path, to.join(name))
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Standard base64 with padding (the harness reads data files as text).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Row, aggregate, base64};

    #[test]
    fn rounds_aggregate_to_the_median_of_medians() {
        let rows = [
            "growthbook\t1.8.0\tpkg\tfull\tfull\t300\t900\t1\t5000",
            "slotwise\t0.1.0\tpkg\tfull\tfull\t100\t200\t1\t5000",
            "growthbook\t1.8.0\tpkg\tfull\tfull\t200\t700\t0.99\t5000",
            "growthbook\t1.8.0\tpkg\tfull\tfull\t250\t800\t1\t5000",
        ];
        let out = aggregate(rows.iter().filter_map(|l| Row::parse(l)).collect());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].peer, "growthbook");
        assert_eq!(out[0].median, 250.0);
        assert_eq!(out[0].p99, 800.0);
        assert_eq!(out[0].agree, "0.99");
        assert_eq!(out[0].medians, [300.0, 200.0, 250.0]);
        assert!(out[0].primary);
        assert_eq!(out[1].median, 100.0);
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }
}
