//! `slotwise bench-origin`: a load benchmark of the origin from a second process.
//!
//! Spawns `slotwise serve` on 127.0.0.1 with a temporary data directory (or targets a
//! running server given by `--addr`, loopback only), then runs bounded phases over
//! keep-alive connections, each at every `--connections` level and stopping at
//! `--seconds` or `--max-requests`, whichever comes first:
//! - ingest: SWG1 batches of `--batch` impressions, each for a random one of
//!   `--visitors` subjects (a pessimistic mix: a device's own batch has one subject,
//!   as with `--device-batches`);
//! - snippets for random visitors, with the profile cache as served (its hits and
//!   misses printed), then — on a spawned server — the same data after a restart with
//!   the cache off, so every profile is read from SQLite: the anchor, side by side.
//!
//! Prints events/s, snippets/s, p50/p99 latency, the load average (the machine may be
//! shared), and the wire size per signal beside a Segment-style JSON `track` call for
//! the same event.
//!
//! `--compare-stores --postgres URL` runs instead the store comparison of
//! [`super::bench_stores`] (SQLite beside one and two PostgreSQL replicas) at the
//! largest `--connections` level.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};
use slotwise::signals::{self, Kind, Signal};

use super::SIGNALS_MEDIA_TYPE;
use super::client::Client;

/// Options of the benchmark.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// A running server on a loopback address (default: spawn one).
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Seconds per phase at most.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Requests per phase at most.
    #[arg(long, default_value_t = 100_000)]
    pub max_requests: u64,
    /// Concurrent keep-alive connections; a list runs every phase at each level.
    #[arg(long, value_delimiter = ',', default_values_t = [8, 64])]
    pub connections: Vec<usize>,
    /// Signals per ingest batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Distinct visitors (subjects) the signals and snippets are spread over.
    #[arg(long, default_value_t = 1000)]
    pub visitors: u64,
    /// Each ingest batch carries one visitor's signals, as a device sends them
    /// (default: every signal of a batch for a random visitor, the pessimistic mix).
    #[arg(long)]
    pub device_batches: bool,
    /// `--sync` of the spawned server (full or normal).
    #[arg(long, default_value = "full")]
    pub sync: String,
    /// Also measure the SQLite store alone, in this process (no HTTP): the ceiling.
    #[arg(long)]
    pub store_only: bool,
    /// Instead: the same load on single-node SQLite, one and two PostgreSQL replicas
    /// (see `bench_stores`); needs --postgres.
    #[arg(long)]
    pub compare_stores: bool,
    /// A PostgreSQL URL whose user may create databases (for --compare-stores).
    #[arg(long, env = "SLOTWISE_TEST_POSTGRES", hide_env_values = true)]
    pub postgres: Option<String>,
}

/// xorshift64*: the benchmark's own ids, seeded from the OS.
pub struct Rng(pub u64);

impl Rng {
    /// The next pseudo-random number.
    #[allow(clippy::should_implement_trait)] // an infinite generator, not an iterator
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A random odd seed from the OS.
pub fn seed() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b) | 1
}

/// A spawned server, killed and its data removed on drop.
pub struct Spawned {
    /// The child process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory.
    pub dir: PathBuf,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `exe serve --addr 127.0.0.1:0 --data-dir dir extra...` and waits for its
/// `listening on` line.
pub fn spawn_server(
    exe: &std::path::Path,
    dir: &std::path::Path,
    extra: &[&str],
) -> Result<(Child, SocketAddr), String> {
    let mut child = Command::new(exe)
        .arg("serve")
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok());
    match addr {
        Some(a) => Ok((child, a)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("the server did not start: {line:?}"))
        }
    }
}

/// The `p` quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One load phase's outcome.
pub struct Phase {
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Successful requests.
    pub ok: u64,
    /// Units of work they carried.
    pub units: u64,
    /// Failed requests.
    pub errors: u64,
    /// Wall seconds.
    pub secs: f64,
    /// Latency of each successful request, sorted.
    pub latencies_ms: Vec<f64>,
}

/// `work` on `connections` keep-alive connections, spread over `addrs` round-robin.
pub fn run_phase(
    addrs: &[SocketAddr],
    args: &BenchArgs,
    connections: usize,
    work: impl Fn(&mut Client, &mut Rng) -> Result<u64, String> + Sync,
) -> Phase {
    let deadline = Duration::from_secs_f64(args.seconds);
    let issued = AtomicU64::new(0);
    let start = Instant::now();
    let results: Vec<(u64, u64, u64, Vec<f64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..connections)
            .map(|i| {
                let (issued, work) = (&issued, &work);
                let addr = addrs[i % addrs.len()];
                s.spawn(move || {
                    let mut rng = Rng(seed());
                    let (mut ok, mut units, mut errors, mut lat) = (0, 0, 0, Vec::new());
                    let Ok(mut client) = Client::new(addr) else {
                        return (0, 0, 1, lat);
                    };
                    while start.elapsed() < deadline
                        && issued.fetch_add(1, Ordering::Relaxed) < args.max_requests
                    {
                        let t = Instant::now();
                        match work(&mut client, &mut rng) {
                            Ok(n) => {
                                ok += 1;
                                units += n;
                                lat.push(t.elapsed().as_secs_f64() * 1e3);
                            }
                            Err(_) => errors += 1,
                        }
                    }
                    (ok, units, errors, lat)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let mut p = Phase {
        connections,
        ok: 0,
        units: 0,
        errors: 0,
        secs,
        latencies_ms: Vec::new(),
    };
    for (ok, units, errors, lat) in results {
        p.ok += ok;
        p.units += units;
        p.errors += errors;
        p.latencies_ms.extend(lat);
    }
    p.latencies_ms.sort_by(f64::total_cmp);
    p
}

const CONSENT: u8 = BIT_NECESSARY | BIT_PERSONALIZATION | BIT_MEASUREMENT;

pub(super) fn impression(rng: &mut Rng, now: u64, visitors: u64) -> Signal {
    let r = rng.next();
    Signal::new(Kind::Impression, rng.next(), now - (r % 30))
        .decision(
            rng.next(),
            (r >> 8) as u16 % 4,
            (r >> 16) as u32 % 120,
            (r >> 24) as u8 % 2,
        )
        .consent(CONSENT)
        .subject(1 + (r >> 32) % visitors)
}

/// The Segment-style JSON `track` call for the same impression (the usual wire form).
pub fn segment_track(s: &Signal) -> String {
    serde_json::json!({
        "type": "track",
        "event": "Decision Impression",
        "messageId": "ajs-next-1732481710123-4f1c2b9e-7d3a-4e8f-9a6b-2c5d8e1f0a3b",
        "anonymousId": format!("{:016x}", s.subject.unwrap_or(0)),
        "timestamp": "2026-11-24T20:55:10.123Z",
        "properties": {
            "decision_id": format!("{:016x}", s.decision_id.unwrap_or(0)),
            "slot": s.slot,
            "item": s.item,
            "variant": s.variant,
            "channel": s.channel.name(),
        },
        "context": { "consent": { "categoryPreferences": {
            "personalization": true, "measurement": true, "advertising": false } } },
    })
    .to_string()
}

/// The store alone: `connections` threads ingesting batches for `seconds`.
fn store_ceiling(args: &BenchArgs, now: u64) -> Result<(), String> {
    use crate::store::Store;
    let dir = std::env::temp_dir().join(format!("slotwise-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = crate::store::sqlite::SqliteStore::open(&dir, args.sync == "full")
        .map_err(|e| e.to_string())?;
    let batch = args.batch.clamp(1, signals::MAX_SIGNALS);
    let stored = AtomicU64::new(0);
    let threads = args.connections.first().copied().unwrap_or(8);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut rng = Rng(seed());
                while start.elapsed().as_secs_f64() < args.seconds {
                    let b: Vec<Signal> = (0..batch)
                        .map(|_| impression(&mut rng, now, args.visitors.max(1)))
                        .collect();
                    if let Ok(r) = store.ingest(&b, now) {
                        stored.fetch_add(r.stored, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let n = stored.load(Ordering::Relaxed);
    println!(
        "store only (SQLite, --sync {}, {} threads, batches of {batch}, no HTTP): {n} events in {secs:.2} s = {:.0} events/s",
        args.sync,
        threads,
        n as f64 / secs
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// CPU time of a spawned server's threads, from Linux's `/proc/<pid>/task/*/schedstat`
/// (nanoseconds on a CPU, and runnable but waiting for one): all threads, and the
/// SQLite writer alone. Zero elsewhere.
#[derive(Clone, Copy, Default)]
struct ServerCpu {
    all_ns: u64,
    writer_ns: u64,
    writer_wait_ns: u64,
}

impl ServerCpu {
    fn read(pid: Option<u32>) -> ServerCpu {
        let mut cpu = ServerCpu::default();
        let Some(pid) = pid else { return cpu };
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return cpu;
        };
        for task in tasks.flatten() {
            let path = task.path();
            let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
            let mut f = stat
                .split_whitespace()
                .map(|v| v.parse::<u64>().unwrap_or(0));
            let (run, wait) = (f.next().unwrap_or(0), f.next().unwrap_or(0));
            cpu.all_ns += run;
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comm.trim() == "slotwise-sqlite" {
                cpu.writer_ns += run;
                cpu.writer_wait_ns += wait;
            }
        }
        cpu
    }

    /// What the server spent between `self` and `later`, per `units` of work in
    /// `secs` seconds, as a report line (empty when nothing was measured).
    fn report(&self, later: ServerCpu, units: u64, secs: f64, unit: &str) -> String {
        let all = later.all_ns.saturating_sub(self.all_ns);
        if all == 0 || units == 0 {
            return String::new();
        }
        let per = |ns: u64| ns as f64 / 1e3 / units as f64;
        let mut line = format!(
            "  server CPU {:.1} us/{unit} ({:.2} cores)",
            per(all),
            all as f64 / 1e9 / secs
        );
        let writer = later.writer_ns.saturating_sub(self.writer_ns);
        let wait = later.writer_wait_ns.saturating_sub(self.writer_wait_ns);
        if writer > 0 {
            line += &format!(
                "; SQLite writer {:.1} us/{unit}, on a CPU {:.0}% of the phase and runnable but waiting for one {:.0}%",
                per(writer),
                writer as f64 / 1e9 / secs * 100.0,
                wait as f64 / 1e9 / secs * 100.0
            );
        }
        line
    }
}

/// The machine's load average, as `/proc/loadavg` has it (empty elsewhere).
pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The snippet phase: one `GET /v1/snippet` per request, for a random visitor.
pub(super) fn snippet_phase(
    addrs: &[SocketAddr],
    args: &BenchArgs,
    connections: usize,
    visitors: u64,
) -> Phase {
    run_phase(addrs, args, connections, |c, rng| {
        let path = format!("/v1/snippet?id=anon:{:016x}", 1 + rng.next() % visitors);
        let r = c
            .request("GET", &path, &[], &[])
            .map_err(|e| e.to_string())?;
        if r.status == 200 {
            Ok(1)
        } else {
            Err(format!("status {}", r.status))
        }
    })
}

fn print_snippets(label: &str, snip: &Phase) {
    let l = &snip.latencies_ms;
    println!(
        "{label}: {} issued over {} connections in {:.2} s = {:.0} snippets/s; latency p50 {:.2} ms, p99 {:.2} ms; {} errors",
        snip.ok,
        snip.connections,
        snip.secs,
        snip.ok as f64 / snip.secs,
        percentile(l, 0.5),
        percentile(l, 0.99),
        snip.errors
    );
}

/// A counter of the server's `/metrics` (0 when absent).
fn metric(addr: SocketAddr, name: &str) -> u64 {
    let Ok(r) = Client::new(addr).and_then(|mut c| c.request("GET", "/metrics", &[], &[])) else {
        return 0;
    };
    String::from_utf8_lossy(&r.body)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Runs the benchmark and prints its report.
pub fn run(args: &BenchArgs) -> Result<(), String> {
    if args.compare_stores {
        let admin = args
            .postgres
            .as_deref()
            .ok_or("--compare-stores needs --postgres URL (or `cargo xtask bench-stores`)")?;
        return super::bench_stores::run(args, admin);
    }
    let mut spawned = None;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let addr = match args.addr {
        Some(a) if a.ip().is_loopback() => a,
        Some(_) => return Err("--addr must be a loopback address".into()),
        None => {
            let dir = std::env::temp_dir().join(format!("slotwise-bench-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let (child, addr) = spawn_server(&exe, &dir, &["--sync", &args.sync])?;
            println!(
                "server: slotwise serve on {addr} (pid {}, --sync {}), client: this process (pid {})",
                child.id(),
                args.sync,
                std::process::id()
            );
            spawned.insert(Spawned { child, addr, dir }).addr
        }
    };
    println!("load average at start: {}", load_average());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let batch = args.batch.clamp(1, signals::MAX_SIGNALS);
    let visitors = args.visitors.max(1);
    if args.store_only {
        store_ceiling(args, now)?;
    }

    let pid = || spawned.as_ref().map(|s: &Spawned| s.child.id());
    for &connections in &args.connections {
        let before = ServerCpu::read(pid());
        let ingest = run_phase(&[addr], args, connections, |c, rng| {
            let mut batch: Vec<Signal> =
                (0..batch).map(|_| impression(rng, now, visitors)).collect();
            if args.device_batches {
                let one = batch[0].subject;
                batch.iter_mut().for_each(|s| s.subject = one);
            }
            let body = signals::encode(&batch).map_err(|e| e.to_string())?;
            let r = c
                .request(
                    "POST",
                    "/v1/signals",
                    &[("content-type", SIGNALS_MEDIA_TYPE)],
                    &body,
                )
                .map_err(|e| e.to_string())?;
            if r.status == 200 {
                Ok(batch.len() as u64)
            } else {
                Err(format!("status {}", r.status))
            }
        });
        let l = &ingest.latencies_ms;
        println!(
            "ingest ({}): {} events acknowledged in {} batches of {batch} over {connections} connections in {:.2} s = {:.0} events/s ({:.0} batches/s); batch latency p50 {:.2} ms, p99 {:.2} ms; {} errors",
            if args.device_batches {
                "one visitor per batch"
            } else {
                "a random visitor per signal"
            },
            ingest.units,
            ingest.ok,
            ingest.secs,
            ingest.units as f64 / ingest.secs,
            ingest.ok as f64 / ingest.secs,
            percentile(l, 0.5),
            percentile(l, 0.99),
            ingest.errors
        );
        let cpu = before.report(ServerCpu::read(pid()), ingest.units, ingest.secs, "event");
        if !cpu.is_empty() {
            println!("{cpu}");
        }
    }

    let hits = || metric(addr, "slotwise_profile_cache_hits_total");
    let misses = || metric(addr, "slotwise_profile_cache_misses_total");
    let mut cached = Vec::new();
    for &connections in &args.connections {
        let (h, m) = (hits(), misses());
        let before = ServerCpu::read(pid());
        let phase = snippet_phase(&[addr], args, connections, visitors);
        print_snippets("snippet", &phase);
        let cpu = before.report(ServerCpu::read(pid()), phase.ok, phase.secs, "snippet");
        if !cpu.is_empty() {
            println!("{cpu}");
        }
        println!(
            "  profile cache: {} hits, {} misses (an entry lives {} s; ingest, identify, erase and retention drop entries)",
            hits() - h,
            misses() - m,
            super::profile_cache::MAX_AGE.as_secs()
        );
        cached.push(phase);
    }
    // The same data on a server without the cache: every profile read from SQLite.
    if let Some(s) = spawned.as_mut() {
        let _ = s.child.kill();
        let _ = s.child.wait();
        let (child, addr) = spawn_server(
            &exe,
            &s.dir,
            &["--sync", &args.sync, "--profile-cache-signals", "0"],
        )?;
        (s.child, s.addr) = (child, addr);
        for cached in &cached {
            let before = ServerCpu::read(Some(s.child.id()));
            let cold = snippet_phase(&[addr], args, cached.connections, visitors);
            print_snippets("snippet, profile cache off (restarted)", &cold);
            let cpu = before.report(
                ServerCpu::read(Some(s.child.id())),
                cold.ok,
                cold.secs,
                "snippet",
            );
            if !cpu.is_empty() {
                println!("{cpu}");
            }
            println!(
                "  cache on / off: {:.2}x snippets/s",
                (cached.ok as f64 / cached.secs) / (cold.ok as f64 / cold.secs).max(1e-9)
            );
        }
    }
    println!("load average at end: {}", load_average());

    let mut rng = Rng(seed());
    let sample: Vec<Signal> = (0..100)
        .map(|_| impression(&mut rng, now, visitors))
        .collect();
    let anon: Vec<Signal> = sample
        .iter()
        .map(|s| {
            let mut a = *s;
            a.subject = None;
            a
        })
        .collect();
    let one = signals::encode(&anon[..1])
        .map_err(|e| e.to_string())?
        .len();
    let hundred = signals::encode(&anon).map_err(|e| e.to_string())?.len();
    // A device's batch: one visitor, so its subject is in the table once.
    let one_visitor: Vec<Signal> = sample
        .iter()
        .map(|s| {
            let mut a = *s;
            a.subject = Some(0x5eed);
            a
        })
        .collect();
    let with_subject = signals::encode(&one_visitor)
        .map_err(|e| e.to_string())?
        .len();
    let json = segment_track(&sample[0]).len();
    println!(
        "wire: SWG1 impression {:.1} bytes/signal in a batch of 100 ({} bytes; {:.1} with one visitor's subject), {} bytes as a batch of one; Segment-style JSON track call {} bytes ({:.0}x)",
        (hundred - signals::PREFIX_LEN) as f64 / 100.0,
        hundred,
        (with_subject - signals::PREFIX_LEN) as f64 / 100.0,
        one,
        json,
        json as f64 / ((hundred - signals::PREFIX_LEN) as f64 / 100.0)
    );
    Ok(())
}
