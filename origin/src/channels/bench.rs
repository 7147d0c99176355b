//! `slotwise bench-decide`: how fast the origin decides for channels without Wasm.
//!
//! Sets up a temporary store with the demo shop's trained bundle (`www/authoring` +
//! `www/training`) and a synthetic history for `--subjects` subjects (views, clicks,
//! carts, purchases, impressions across channels, all consented), then measures a
//! 4-slot email (`hero`, `promo`, `recs` with 4 items, `offer`):
//!
//! 1. **in process, no store**: the engine alone (decide), then decide + render the
//!    email + serialize the JSON line — the ceiling of a batch, median of 5 passes;
//! 2. **`slotwise decide` batch**: the real batch over the store, end to end (cluster
//!    and profile log reads, decide, render, JSON lines to a file, exposures stored);
//! 3. **`POST /v1/decide` under load** from this process against `slotwise serve` in
//!    a second process: p50 / p99, with and without recording the exposures, beside
//!    `GET /v1/snippet` for the same subjects (the origin's existing per-visitor read,
//!    the anchor).

use std::path::{Path, PathBuf};
use std::time::Instant;

use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};
use slotwise::decide::{Engine, Request};
use slotwise::rules::Value;
use slotwise::signals::{Channel, Kind, Signal};

use super::batch::{Batch, Subject};
use super::cluster::ClusterVisitor;
use super::decide::{ChannelRequest, decide, decide_slots};
use super::line::{JsonPieces, write_line};
use crate::server::bench::{BenchArgs, Rng, Spawned, percentile, run_phase, seed, spawn_server};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

/// The slots of the benchmark's email.
pub const EMAIL_SLOTS: [&str; 4] = ["hero", "promo", "recs", "offer"];

/// Options of the benchmark.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchDecideArgs {
    /// Subjects with a synthetic history.
    #[arg(long, default_value_t = 20_000)]
    pub subjects: u64,
    /// Seconds per HTTP phase at most.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Requests per HTTP phase at most.
    #[arg(long, default_value_t = 50_000)]
    pub max_requests: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// `--sync` of the store (full or normal).
    #[arg(long, default_value = "full")]
    pub sync: String,
    /// The demo shop's authoring directory.
    #[arg(long)]
    pub authoring: Option<PathBuf>,
    /// Training sessions for the demo bundle's model.
    #[arg(long)]
    pub training: Option<PathBuf>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The demo shop's bundle, trained as `cargo xtask demo` trains it.
pub fn demo_bundle(authoring: &Path, training: &Path) -> Result<slotwise::bundle::Bundle, String> {
    let mut b = crate::authoring::build_dir(
        authoring,
        &crate::authoring::BuildOptions {
            created_at: 1_800_000_000,
        },
    )
    .map_err(|e| e.to_string())?;
    let events = crate::train::read_events(training)?;
    crate::train::train_bundle(
        &mut b,
        &events,
        &crate::train::TrainOptions::default(),
        false,
    );
    Ok(b)
}

const ALL: u8 = BIT_NECESSARY | BIT_PERSONALIZATION | BIT_MEASUREMENT;

/// About ten signals of recent behaviour per subject, across channels.
fn history(rng: &mut Rng, subject: u64, items: u32, now: u64) -> Vec<Signal> {
    let channels = [Channel::Web, Channel::App, Channel::Email, Channel::Store];
    let n = 6 + rng.next() % 8;
    (0..n)
        .map(|_| {
            let r = rng.next();
            let item = (r % u64::from(items)) as u32;
            let t = now - (r >> 20) % (7 * 86_400);
            let ch = channels[((r >> 8) % 4) as usize];
            let s = match (r >> 12) % 10 {
                0..=4 => Signal::new(Kind::View, rng.next(), t).item(item),
                5 => Signal::new(Kind::Click, rng.next(), t).decision(rng.next(), 0, item, 0),
                6 => Signal::new(Kind::AddToCart, rng.next(), t)
                    .item(item)
                    .value(5_000),
                7 => Signal::new(Kind::Purchase, rng.next(), t)
                    .item(item)
                    .value(9_900),
                _ => Signal::new(Kind::Impression, rng.next(), t).decision(
                    rng.next(),
                    (r % 4) as u16,
                    item,
                    0,
                ),
            };
            s.consent(ALL).channel(ch).subject(subject)
        })
        .collect()
}

/// One subject's work in a stage: `(subject index, pass)` → decisions made.
type Work<'a> = &'a (dyn Fn(usize, u64) -> usize + Sync);

/// Decisions per second of `work` over subjects `0..n` split across `threads`,
/// the median of 5 passes.
fn rate(n: usize, threads: usize, work: Work<'_>) -> f64 {
    let passes: Vec<f64> = (0..5u64)
        .map(|pass| {
            let t = Instant::now();
            let per = n.div_ceil(threads.max(1));
            let decisions: usize = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads.max(1))
                    .map(|k| {
                        s.spawn(move || {
                            (k * per..((k + 1) * per).min(n))
                                .map(|i| work(i, pass))
                                .sum::<usize>()
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).sum()
            });
            decisions as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    median(passes)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Runs the benchmark and prints its report.
pub fn run(args: &BenchDecideArgs) -> Result<(), String> {
    let authoring = args
        .authoring
        .clone()
        .unwrap_or_else(|| workspace().join("www/authoring"));
    let training = args
        .training
        .clone()
        .unwrap_or_else(|| workspace().join("www/training/sessions.tsv"));
    let bundle = demo_bundle(&authoring, &training)?;
    let bytes = slotwise::bundle::encode(&bundle);
    let engine = Engine::new(bundle);
    let dir = std::env::temp_dir().join(format!("slotwise-bench-decide-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let now = super::now_unix();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "machine: {cores} cores (shared with other work while this runs: figures are a floor); 4-slot email {EMAIL_SLOTS:?}, {} subjects",
        args.subjects
    );

    // The store: bundle + synthetic history.
    let subjects: Vec<Subject> = (1..=args.subjects)
        .map(|i| Subject {
            id: crate::store::anon_id(i),
            context: Value::Null,
        })
        .collect();
    {
        let store = SqliteStore::open(&data, false).map_err(|e| e.to_string())?;
        store
            .publish_bundle(&bytes, "\"bench\"", now)
            .map_err(|e| e.to_string())?;
        let mut rng = Rng(seed());
        let items = engine.bundle().items.len() as u32;
        let mut batch = Vec::new();
        let t = Instant::now();
        let mut stored = 0;
        for s in 1..=args.subjects {
            batch.extend(history(&mut rng, s, items, now));
            if batch.len() >= 900 || s == args.subjects {
                stored += store.ingest(&batch, now).map_err(|e| e.to_string())?.stored;
                batch.clear();
            }
        }
        println!(
            "setup: {stored} signals of history stored in {:.1} s",
            t.elapsed().as_secs_f64()
        );

        // 1. In process, no store: each stage added in turn, on 1 and on every core.
        let index = crate::server::profile::BundleIndex::of(Some(engine.bundle()));
        let loaded: Vec<(String, Vec<slotwise::signals::Signal>)> = subjects
            .iter()
            .map(|s| {
                let (cluster, ids) = store.cluster(&s.id)?;
                Ok((cluster, store.profile_log(&ids)?))
            })
            .collect::<Result<_, crate::store::StoreError>>()
            .map_err(|e| e.to_string())?;
        let visitors: Vec<ClusterVisitor> = loaded
            .iter()
            .map(|(c, rows)| ClusterVisitor::from_signals(&engine, &index, c, rows, now))
            .collect();
        let base = slotwise::render::site_base(&engine.bundle().header.site);
        let prepared = slotwise::render::Prepared::new(&engine, Channel::Email, &base);
        let request = |i: usize, pass: u64| ChannelRequest {
            channel: Channel::Email,
            slots: &EMAIL_SLOTS,
            context: &Value::Null,
            seed: pass << 32 | i as u64,
            now,
            prepared: &prepared,
            subject: Some(i as u64 + 1),
        };
        let engine_only = |i: usize, pass: u64| {
            let req = Request {
                slots: &EMAIL_SLOTS,
                seed: pass << 32 | i as u64,
                context: &Value::Null,
                visitor: visitors[i].visitor(now),
            };
            engine.decide(&req).len()
        };
        let rendered =
            |i: usize, pass: u64| decide(&engine, &visitors[i], &request(i, pass)).0.len();
        let json = |i: usize, pass: u64| {
            let (d, _) = decide(&engine, &visitors[i], &request(i, pass));
            let mut line = Vec::with_capacity(16 * 1024);
            let _ = serde_json::to_writer(&mut line, &d);
            d.len() + line.len() % 2
        };
        // What the batch does: the line written from the pieces escaped once.
        let pieces = JsonPieces::new(&engine, &prepared);
        let line_of = |v: &ClusterVisitor, i: usize, pass: u64| {
            let req = request(i, pass);
            let d = decide_slots(&engine, v, &req);
            let mut line = Vec::with_capacity(16 * 1024);
            let mut shown = Vec::new();
            write_line(
                &engine,
                &pieces,
                &subjects[i].id,
                "c",
                &d,
                &mut shown,
                &mut line,
            );
            d.len() + line.len() % 2
        };
        let pieces_line = |i: usize, pass: u64| line_of(&visitors[i], i, pass);
        let profiled = |i: usize, pass: u64| {
            let v = ClusterVisitor::from_signals(&engine, &index, &loaded[i].0, &loaded[i].1, now);
            line_of(&v, i, pass)
        };
        // The same, with each subject's profile read from the store: from its
        // materialized profile log (what the batch and /v1/decide read), and — the
        // anchor, what they read before migration 4 — from its signal rows.
        let from_log = |i: usize, pass: u64| {
            let Ok(mut p) = store.cluster_profiles(std::slice::from_ref(&subjects[i].id)) else {
                return 0;
            };
            let p = p.remove(0);
            let v = ClusterVisitor::from_signals(&engine, &index, &p.cluster, &p.signals, now);
            line_of(&v, i, pass)
        };
        let from_rows = |i: usize, pass: u64| {
            let Ok((cluster, ids)) = store.cluster(&subjects[i].id) else {
                return 0;
            };
            let Ok(rows) = store.subject_signals(&ids, super::cluster::MAX_ROWS) else {
                return 0;
            };
            let rows: Vec<Signal> = rows.into_iter().map(|r| r.signal).collect();
            let v = ClusterVisitor::from_signals(&engine, &index, &cluster, &rows, now);
            line_of(&v, i, pass)
        };
        println!(
            "in process: decisions/s by stage (median of 5 passes over the subjects; the last two read the store)"
        );
        println!(
            "  {:<48} {:>12} {:>12}",
            "stage",
            "1 thread",
            format!("{cores} threads")
        );
        let n = visitors.len();
        let stages: [(&str, Work<'_>); 7] = [
            ("engine decide (profile loaded)", &engine_only),
            ("+ email render", &rendered),
            ("+ JSON line: serde of the decisions (before)", &json),
            (
                "decide + JSON line from escaped pieces (batch)",
                &pieces_line,
            ),
            ("+ profile from the rows (claims, session)", &profiled),
            ("+ read: cluster and profile log", &from_log),
            ("  anchor, read before: cluster and signal rows", &from_rows),
        ];
        let mut rates = Vec::new();
        for (name, work) in stages {
            let one = rate(n, 1, work);
            let all = rate(n, cores, work);
            println!("  {name:<48} {one:>12.0} {all:>12.0}");
            rates.push(all);
        }
        println!(
            "  JSON line from escaped pieces / serde of the decisions: {:.2}x decisions/s on {cores} threads",
            rates[3] / rates[2].max(1e-9)
        );
        println!(
            "  profile log / signal rows read: {:.2}x decisions/s on {cores} threads",
            rates[5] / rates[6].max(1e-9)
        );

        // 2. The batch, end to end.
        let csv = dir.join("subjects.csv");
        let text: String = subjects.iter().map(|s| s.id.clone() + "\n").collect();
        std::fs::write(&csv, text).map_err(|e| e.to_string())?;
        let subjects = super::batch::read_subjects(&csv)?;
        let run_batch = |record: bool, serde_lines: bool| -> Result<super::batch::Report, String> {
            let out = dir.join("out.jsonl");
            let mut file = std::io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(&out).map_err(|e| e.to_string())?,
            );
            let batch = Batch {
                store: &store,
                engine: &engine,
                channel: Channel::Email,
                slots: EMAIL_SLOTS.iter().map(|s| s.to_string()).collect(),
                prepared: prepared.clone(),
                now,
                record,
                threads: cores,
                progress: false,
                serde_lines,
            };
            let rep = batch.run(&subjects, &mut file);
            let _ = std::fs::remove_file(&out);
            rep
        };
        let print = |name: &str, runs: &[super::batch::Report]| -> f64 {
            let rates: Vec<f64> = runs
                .iter()
                .map(|r| r.decisions as f64 / r.wall.as_secs_f64().max(1e-9))
                .collect();
            let rate = median(rates.clone());
            // The run whose rate is the median.
            let rep = runs
                .iter()
                .zip(&rates)
                .find(|(_, r)| **r == rate)
                .map_or(&runs[0], |(rep, _)| rep);
            println!(
                "  {name:<52} {rate:>10.0} {:>10.0} {:>10.0} {:>7.2} s {:>7.2} s {:>10} {:>8.1}",
                rates.iter().copied().fold(f64::INFINITY, f64::min),
                rates.iter().copied().fold(0.0, f64::max),
                rep.load.as_secs_f64(),
                rep.decide.as_secs_f64(),
                rep.exposures,
                rep.bytes as f64 / 1e6
            );
            rate
        };
        // The two line writers alternate, 5 runs each; then a recorded run.
        let (mut pieces_runs, mut serde_runs) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            pieces_runs.push(run_batch(false, false)?);
            serde_runs.push(run_batch(false, true)?);
        }
        let recorded = [run_batch(true, false)?];
        println!(
            "slotwise decide --channel email, {} subjects x 4 slots, {cores} threads, SQLite --sync normal; decisions/s (median, min, max of the runs), thread time of the median run (profile reads + visitors, decide + render + JSON), exposures stored, MB written",
            subjects.len()
        );
        let now_rate = print(
            "--dry-run, lines from escaped pieces (5 runs)",
            &pieces_runs,
        );
        let before = print(
            "--dry-run, lines by serde of the decisions (before)",
            &serde_runs,
        );
        print(
            "exposures recorded, lines from escaped pieces (1 run)",
            &recorded,
        );
        println!(
            "  --dry-run, escaped pieces / serde: {:.2}x decisions/s; target 200000: {:.2}x",
            now_rate / before.max(1e-9),
            now_rate / 200_000.0
        );
    }

    // 3. /v1/decide under load from this process.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let (child, addr) = spawn_server(&exe, &data, &["--sync", &args.sync])?;
    let spawned = Spawned { child, addr, dir };
    println!(
        "server: slotwise serve on {addr} (pid {}, --sync {}), client: this process (pid {}), {} connections",
        spawned.child.id(),
        args.sync,
        std::process::id(),
        args.connections
    );
    let load = BenchArgs {
        addr: Some(addr),
        seconds: args.seconds,
        max_requests: args.max_requests,
        connections: vec![args.connections],
        batch: 1,
        visitors: args.subjects,
        device_batches: false,
        sync: args.sync.clone(),
        store_only: false,
        compare_stores: false,
        postgres: None,
    };
    let n = args.subjects.max(1);
    let mut rows = Vec::new();
    for (name, record) in [
        ("POST /v1/decide email, 4 slots, record: false", Some(false)),
        (
            "POST /v1/decide email, 4 slots, exposures recorded",
            Some(true),
        ),
        ("GET /v1/snippet (anchor)", None),
    ] {
        let phase = run_phase(&[addr], &load, args.connections, |c, rng| {
            let id = crate::store::anon_id(1 + rng.next() % n);
            let r = match record {
                Some(record) => {
                    let body = serde_json::json!({ "subject": id, "channel": "email",
                        "slots": EMAIL_SLOTS, "record": record });
                    c.request(
                        "POST",
                        "/v1/decide",
                        &[("content-type", "application/json")],
                        body.to_string().as_bytes(),
                    )
                }
                None => c.request("GET", &format!("/v1/snippet?id={id}"), &[], &[]),
            }
            .map_err(|e| e.to_string())?;
            if r.status == 200 {
                Ok(1)
            } else {
                Err(format!("status {}", r.status))
            }
        });
        let (p50, p99) = (
            percentile(&phase.latencies_ms, 0.5),
            percentile(&phase.latencies_ms, 0.99),
        );
        println!(
            "{name}: {} ok, {} errors in {:.2} s = {:.0} req/s; p50 {p50:.2} ms, p99 {p99:.2} ms",
            phase.ok,
            phase.errors,
            phase.secs,
            phase.ok as f64 / phase.secs
        );
        rows.push((p50, p99));
    }
    if let [a, b, s] = rows[..] {
        println!(
            "ratios to the snippet anchor: decide p50 {:.2}x / p99 {:.2}x; recorded decide p50 {:.2}x / p99 {:.2}x",
            a.0 / s.0.max(1e-9),
            a.1 / s.1.max(1e-9),
            b.0 / s.0.max(1e-9),
            b.1 / s.1.max(1e-9)
        );
    }
    drop(spawned);
    Ok(())
}
