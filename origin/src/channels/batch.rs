//! `slotwise decide --channel email --subjects <csv> --out <jsonl>`: a batch send.
//!
//! Reads subject identity ids (first column of a CSV; with a header row whose first
//! field is `subject`, the other columns become context attributes by name), decides
//! and renders every slot for each subject's identity cluster at the origin — the same
//! engine and profile as `POST /v1/decide` — and writes one JSON line per subject, in
//! input order: `{"subject", "cluster", "decisions": [...]}` or `{"subject", "error":
//! {"code", "message"}}` for an id that is not valid, or `{"subject", "cluster",
//! "skipped": "contact.consent" | "contact.frequency"}` for a subject the preference
//! centre says not to contact now ([`crate::preferences::contact`]: the channel's
//! consent withdrawn, or a message on it within their chosen frequency; nothing is
//! decided or recorded for them, and the summary counts them by reason). Muted
//! categories are never decided. The exposures (an impression per item shown, with
//! the channel) are stored, so the cross-channel caps count them;
//! `--dry-run` records nothing. A progress bar shows on a terminal.
//!
//! Work is split in chunks of [`CHUNK`] subjects over threads (the cores); each chunk
//! reads its subjects' clusters and materialized profile logs together
//! ([`Store::cluster_profiles`]: a few rows per subject, through SQLite's reader pool,
//! WAL beside a running server), so a cluster's newest
//! [`MAX_ROWS`](super::cluster::MAX_ROWS) signals of the last
//! [`HORIZON_SECS`] cost no walk over its signals. The output is written in order as
//! chunks finish; each line goes straight into its chunk's buffer, copied from the
//! channel's renderings escaped once per batch ([`super::line`]). The preference-centre records are read once per batch
//! ([`Store::all_preferences`]) and applied by cluster.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use slotwise::bundle::Bundle;
use slotwise::decide::Engine;
use slotwise::render::Prepared;
use slotwise::rules::Value;
use slotwise::signals::{self, Channel, Signal};

use super::cluster::{ClusterVisitor, HORIZON_SECS};
use super::decide::{ChannelRequest, decide, decide_slots, record_exposures};
use super::line::{JsonPieces, write_line};
use crate::preferences::Preferences;
use crate::preferences::contact::{Skip, may_contact};
use crate::server::profile::BundleIndex;
use crate::store::{ClusterProfile, Store, StoreError};

/// Subjects per unit of work.
const CHUNK: usize = 256;

/// Options of `slotwise decide`.
#[derive(Clone, Debug, clap::Args)]
pub struct DecideArgs {
    /// The channel: email, push, sms, app, store or web.
    #[arg(long, default_value = "email")]
    pub channel: String,
    /// CSV of subject identity ids (first column; optional header `subject,...`).
    #[arg(long)]
    pub subjects: PathBuf,
    /// Where to write the JSON lines.
    #[arg(long)]
    pub out: PathBuf,
    /// The origin's data directory (the store `slotwise serve` uses).
    #[arg(long, env = "SLOTWISE_DATA_DIR", default_value = "slotwise-data")]
    pub data_dir: PathBuf,
    /// The store (`sqlite:<dir>` or `postgres://...`); default SQLite in --data-dir.
    #[arg(long, env = "SLOTWISE_STORE")]
    pub store: Option<crate::store::Location>,
    /// A compiled bundle (default: the store's current bundle).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Slots, comma-separated, in message order (default: every slot of the bundle).
    #[arg(long, value_delimiter = ',')]
    pub slots: Vec<String>,
    /// Base URL relative links resolve against (default: `https://<bundle site>/`).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Decide as of this Unix time (default: now).
    #[arg(long)]
    pub now: Option<u64>,
    /// Record nothing (a preview): exposures are not stored.
    #[arg(long)]
    pub dry_run: bool,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What a batch did, and how long each part took.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Subjects read.
    pub subjects: usize,
    /// Subjects refused (invalid ids).
    pub refused: usize,
    /// Subjects not contacted, per [`Skip`] (in [`Skip::ALL`] order): the channel's
    /// consent withdrawn, or a message within their chosen frequency. Nothing is
    /// decided or recorded for them.
    pub skipped: [usize; 2],
    /// Slot decisions made.
    pub decisions: usize,
    /// Exposures stored.
    pub exposures: u64,
    /// Wall time of the whole batch.
    pub wall: Duration,
    /// Thread time reading clusters and profile logs from the store, and building
    /// the visitors.
    pub load: Duration,
    /// Thread time deciding, rendering and serializing.
    pub decide: Duration,
    /// Bytes written.
    pub bytes: u64,
}

/// One subject line of the input.
#[derive(Clone, Debug)]
pub struct Subject {
    /// Identity id.
    pub id: String,
    /// Context attributes from the other CSV columns.
    pub context: Value,
}

/// Reads the subjects CSV (see the module docs). Fields may be double-quoted.
pub fn read_subjects(path: &Path) -> Result<Vec<Subject>, String> {
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut header: Option<Vec<String>> = None;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv(&line);
        if n == 0
            && fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("subject"))
        {
            header = Some(fields);
            continue;
        }
        let context = match &header {
            Some(names) => Value::Object(
                names
                    .iter()
                    .zip(&fields)
                    .skip(1)
                    .map(|(k, v)| (k.clone(), Value::str(v)))
                    .collect(),
            ),
            None => Value::Null,
        };
        out.push(Subject {
            id: fields.into_iter().next().unwrap_or_default(),
            context,
        });
    }
    Ok(out)
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur).trim().to_string()),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur.trim().to_string());
    fields
}

/// The anonymous signal subject of a cluster: its first `anon:<16 hex>` id.
pub fn anon_subject(ids: &[String]) -> Option<u64> {
    ids.iter().find_map(|id| {
        let hex = id.strip_prefix("anon:")?;
        (hex.len() == 16).then(|| u64::from_str_radix(hex, 16).ok())?
    })
}

/// A stable pseudonymous subject for a cluster without an anonymous id (an email-only
/// subscriber): linked into the cluster once, so its exposures count there.
pub fn derived_subject(store: &dyn Store, id: &str) -> Result<u64, StoreError> {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1;
    store.link(&[id.to_string(), crate::store::anon_id(h)])?;
    Ok(h)
}

/// Loads the cluster of `id` and its visitor (with its preference-centre record); the
/// signal subject to record under.
pub fn load_cluster(
    store: &dyn Store,
    engine: &Engine,
    id: &str,
    now: u64,
    record: bool,
) -> Result<(String, ClusterVisitor, Option<u64>), StoreError> {
    let (cluster, ids) = store.cluster(id)?;
    let signals = store.profile_log(&ids)?;
    let profile = ClusterProfile {
        cluster,
        ids,
        signals,
    };
    let index = BundleIndex::of(Some(engine.bundle()));
    let prefs = store.preferences(id)?.unwrap_or_default();
    visitor_of(store, engine, &index, id, profile, prefs, now, record)
}

/// The visitor of `id`, whose cluster's profile is `profile` (its newest
/// [`MAX_ROWS`](super::cluster::MAX_ROWS) signals: those of the last [`HORIZON_SECS`]
/// are used) and preference-centre record `prefs`. The signal
/// subject to record under is the cluster's anonymous id, or one derived and linked
/// when recording for a cluster without one.
#[allow(clippy::too_many_arguments)] // the store, engine and index shared by a chunk, then one subject's inputs
pub fn visitor_of(
    store: &dyn Store,
    engine: &Engine,
    index: &BundleIndex,
    id: &str,
    profile: ClusterProfile,
    prefs: Preferences,
    now: u64,
    record: bool,
) -> Result<(String, ClusterVisitor, Option<u64>), StoreError> {
    let ClusterProfile {
        cluster,
        ids,
        mut signals,
    } = profile;
    let since = now.saturating_sub(HORIZON_SECS);
    signals.retain(|s| s.time >= since && s.time <= now);
    let visitor = ClusterVisitor::from_signals(engine, index, &cluster, &signals, now)
        .with_preferences(engine, prefs);
    let subject = match anon_subject(&ids) {
        Some(s) => Some(s),
        None if record && visitor.consent.measurement => Some(derived_subject(store, id)?),
        None => None,
    };
    Ok((cluster, visitor, subject))
}

/// The random seed of one message.
pub fn message_seed() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// What every chunk of a batch reads.
struct Shared<'a> {
    slots: Vec<&'a str>,
    claims_index: BundleIndex,
    /// Every preference-centre record, by cluster.
    preferences: HashMap<String, Preferences>,
    pieces: JsonPieces,
    /// One draw from the OS per batch; each message's seed is derived from it.
    batch_seed: u64,
}

struct Chunk {
    index: usize,
    text: Vec<u8>,
    exposures: Vec<Signal>,
    subjects: usize,
    refused: usize,
    skipped: [usize; 2],
    decisions: usize,
    load: Duration,
    decide: Duration,
}

/// Everything a batch run needs besides its arguments.
pub struct Batch<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The engine.
    pub engine: &'a Engine,
    /// The channel.
    pub channel: Channel,
    /// Slots, in message order.
    pub slots: Vec<String>,
    /// The channel's renderings (with the base URL).
    pub prepared: Prepared,
    /// Decision time.
    pub now: u64,
    /// Whether exposures are stored.
    pub record: bool,
    /// Worker threads.
    pub threads: usize,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Write each line by building its [`ChannelDecision`](super::decide::ChannelDecision)s
    /// and serializing them with `serde_json` — the previous way, the same bytes
    /// (kept as the benchmark's anchor) — instead of from the pieces escaped once per
    /// batch ([`super::line`]).
    pub serde_lines: bool,
}

impl Batch<'_> {
    /// Decides for every subject and writes the lines to `out`.
    pub fn run(&self, subjects: &[Subject], out: &mut dyn Write) -> Result<Report, String> {
        let start = Instant::now();
        let bar = if self.progress {
            let bar = indicatif::ProgressBar::new(subjects.len() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} subjects, {per_sec}, eta {eta} {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let mut report = Report::default();
        let shared = Shared {
            slots: self.slots.iter().map(String::as_str).collect(),
            claims_index: BundleIndex::of(Some(self.engine.bundle())),
            preferences: self
                .store
                .all_preferences()
                .map_err(|e| format!("store: {e}"))?
                .into_iter()
                .collect(),
            pieces: JsonPieces::new(self.engine, &self.prepared),
            batch_seed: message_seed(),
        };
        let next = AtomicUsize::new(0);
        let chunks = subjects.len().div_ceil(CHUNK);
        let (tx, rx) = mpsc::channel::<Result<Chunk, String>>();
        let (ack_tx, ack_rx) = mpsc::channel();
        let mut pending_acks = 0usize;
        std::thread::scope(|scope| -> Result<(), String> {
            for _ in 0..self.threads.max(1) {
                let tx = tx.clone();
                let (next, shared) = (&next, &shared);
                scope.spawn(move || {
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= chunks {
                            break;
                        }
                        let part =
                            &subjects[index * CHUNK..((index + 1) * CHUNK).min(subjects.len())];
                        let work = self.chunk(index, part, shared);
                        if tx.send(work).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut ready: BTreeMap<usize, Chunk> = BTreeMap::new();
            let mut written = 0;
            let mut exposures: Vec<Signal> = Vec::new();
            for chunk in rx {
                let chunk = chunk?;
                ready.insert(chunk.index, chunk);
                while let Some(c) = ready.remove(&written) {
                    out.write_all(&c.text)
                        .map_err(|e| format!("cannot write: {e}"))?;
                    report.bytes += c.text.len() as u64;
                    report.subjects += c.subjects;
                    report.refused += c.refused;
                    for (total, n) in report.skipped.iter_mut().zip(c.skipped) {
                        *total += n;
                    }
                    bar.set_message(skipped_summary(&report.skipped));
                    report.decisions += c.decisions;
                    report.load += c.load;
                    report.decide += c.decide;
                    bar.inc(c.subjects as u64);
                    exposures.extend(c.exposures);
                    while exposures.len() >= signals::MAX_SIGNALS
                        || (written + 1 == chunks && !exposures.is_empty())
                    {
                        let n = exposures.len().min(signals::MAX_SIGNALS);
                        let batch: Vec<Signal> = exposures.drain(..n).collect();
                        let ack = ack_tx.clone();
                        pending_acks += 1;
                        self.store.ingest_then(
                            batch,
                            self.now,
                            Box::new(move |r| {
                                let _ = ack.send(r);
                            }),
                        );
                    }
                    written += 1;
                }
            }
            Ok(())
        })?;
        out.flush().map_err(|e| format!("cannot write: {e}"))?;
        for _ in 0..pending_acks {
            let r = ack_rx
                .recv()
                .map_err(|_| "the store dropped a batch of exposures".to_string())?
                .map_err(|e| format!("cannot store exposures: {e}"))?;
            report.exposures += r.stored;
        }
        bar.finish_and_clear();
        report.wall = start.elapsed();
        Ok(report)
    }

    fn chunk(&self, index: usize, part: &[Subject], shared: &Shared<'_>) -> Result<Chunk, String> {
        let mut shown = Vec::new();
        let mut c = Chunk {
            index,
            text: Vec::with_capacity(part.len() * 4096),
            exposures: Vec::new(),
            subjects: part.len(),
            refused: 0,
            skipped: [0; 2],
            decisions: 0,
            load: Duration::ZERO,
            decide: Duration::ZERO,
        };
        // The chunk's clusters and profiles in one read.
        let t = Instant::now();
        let valid: Vec<String> = part
            .iter()
            .filter(|s| crate::server::valid_id(&s.id))
            .map(|s| s.id.clone())
            .collect();
        let mut profiles = self
            .store
            .cluster_profiles(&valid)
            .map_err(|e| format!("store: {e}"))?
            .into_iter();
        c.load += t.elapsed();
        for (k, subject) in part.iter().enumerate() {
            if !crate::server::valid_id(&subject.id) {
                c.refused += 1;
                let line = serde_json::json!({ "subject": subject.id, "error": {
                    "code": "id.invalid", "message": "not a valid identity id" } });
                c.text.extend_from_slice(line.to_string().as_bytes());
                c.text.push(b'\n');
                continue;
            }
            let t = Instant::now();
            let profile = profiles.next().ok_or("store: a profile was not read")?;
            let prefs = shared
                .preferences
                .get(&profile.cluster)
                .cloned()
                .unwrap_or_default();
            let (cluster, visitor, anon) = visitor_of(
                self.store,
                self.engine,
                &shared.claims_index,
                &subject.id,
                profile,
                prefs,
                self.now,
                self.record,
            )
            .map_err(|e| format!("store: {e}"))?;
            let t2 = Instant::now();
            c.load += t2 - t;
            let sends = visitor
                .sends
                .iter()
                .filter(|(ch, _)| *ch == self.channel)
                .map(|&(_, t)| t);
            if let Err(skip) = may_contact(&visitor.preferences, self.channel, self.now, sends) {
                c.skipped[skip as usize] += 1;
                let line = serde_json::json!({ "subject": subject.id, "cluster": cluster,
                    "skipped": skip.code() });
                c.text.extend_from_slice(line.to_string().as_bytes());
                c.text.push(b'\n');
                continue;
            }
            let req = ChannelRequest {
                channel: self.channel,
                slots: &shared.slots,
                context: &subject.context,
                seed: slotwise::hex::splitmix64(shared.batch_seed ^ (index * CHUNK + k) as u64),
                now: self.now,
                prepared: &self.prepared,
                subject: anon,
            };
            if self.serde_lines {
                let (decisions, exposures) = decide(self.engine, &visitor, &req);
                c.decisions += decisions.len();
                if self.record {
                    c.exposures.extend(exposures);
                }
                let line = Line {
                    subject: &subject.id,
                    cluster: &cluster,
                    decisions: &decisions,
                };
                serde_json::to_writer(&mut c.text, &line).map_err(|e| e.to_string())?;
            } else {
                let decisions = decide_slots(self.engine, &visitor, &req);
                c.decisions += decisions.len();
                if self.record {
                    for d in &decisions {
                        self.prepared.shown(self.engine, d, &mut shown);
                        record_exposures(d, !shown.is_empty(), &visitor, &req, &mut c.exposures);
                    }
                }
                write_line(
                    self.engine,
                    &shared.pieces,
                    &subject.id,
                    &cluster,
                    &decisions,
                    &mut shown,
                    &mut c.text,
                );
            }
            c.text.push(b'\n');
            c.decide += t2.elapsed();
        }
        Ok(c)
    }
}

/// `skipped 3 (contact.consent 1, contact.frequency 2)`.
pub fn skipped_summary(skipped: &[usize; 2]) -> String {
    let parts: Vec<String> = Skip::ALL
        .iter()
        .map(|s| format!("{} {}", s.code(), skipped[*s as usize]))
        .collect();
    format!(
        "skipped {} ({})",
        skipped.iter().sum::<usize>(),
        parts.join(", ")
    )
}

/// A line as [`Batch::serde_lines`] writes it.
#[derive(serde::Serialize)]
struct Line<'a> {
    subject: &'a str,
    cluster: &'a str,
    decisions: &'a [super::decide::ChannelDecision],
}

/// The bundle named by `--bundle`, or the store's current one.
pub fn load_bundle(store: &dyn Store, path: Option<&Path>) -> Result<Bundle, String> {
    let bytes = match path {
        Some(p) => std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
        None => {
            store
                .current_bundle()
                .map_err(|e| e.to_string())?
                .ok_or("no bundle: publish one or pass --bundle")?
                .bytes
        }
    };
    slotwise::bundle::decode(&bytes).map_err(|e| e.to_string())
}

/// `slotwise decide`: runs the batch and prints a summary line.
pub fn run(args: &DecideArgs) -> Result<Report, String> {
    let channel = super::channel_named(&args.channel)
        .ok_or_else(|| format!("unknown channel {:?}", args.channel))?;
    let location = args
        .store
        .clone()
        .unwrap_or_else(|| crate::store::Location::Sqlite(args.data_dir.clone()));
    let store = crate::store::open(&location, crate::store::SqliteOptions::default())
        .map_err(|e| e.to_string())?;
    let store = store.as_ref();
    let engine = Engine::new(load_bundle(store, args.bundle.as_deref())?);
    let subjects = read_subjects(&args.subjects)?;
    let slots = if args.slots.is_empty() {
        engine.slot_names().into_iter().map(String::from).collect()
    } else {
        args.slots.clone()
    };
    let base = args
        .base_url
        .clone()
        .unwrap_or_else(|| slotwise::render::site_base(&engine.bundle().header.site));
    let now = args.now.unwrap_or_else(super::now_unix);
    let file = std::fs::File::create(&args.out)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let batch = Batch {
        store,
        engine: &engine,
        channel,
        slots,
        prepared: Prepared::new(&engine, channel, &base),
        now,
        record: !args.dry_run,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        progress: !args.quiet,
        serde_lines: false,
    };
    let report = batch.run(&subjects, &mut out)?;
    println!(
        "{} subjects ({} refused), {} decisions for {} in {:.2} s = {:.0} decisions/s; {} exposures stored; wrote {} ({:.1} MB); {}",
        report.subjects,
        report.refused,
        report.decisions,
        channel.name(),
        report.wall.as_secs_f64(),
        report.decisions as f64 / report.wall.as_secs_f64().max(1e-9),
        report.exposures,
        args.out.display(),
        report.bytes as f64 / 1e6,
        skipped_summary(&report.skipped),
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use slotwise::signals::Signal;

    #[test]
    fn csv_fields_and_header_context() {
        assert_eq!(split_csv(r#"a, "b,c" ,"d""e""#), vec!["a", "b,c", "d\"e"]);
        let dir = std::env::temp_dir().join(format!("sw-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.csv");
        std::fs::write(
            &p,
            "subject,device\nlogin:a,mobile\n\nanon:0000000000000001,desktop\n",
        )
        .unwrap();
        let s = read_subjects(&p).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].id, "login:a");
        assert_eq!(s[0].context.path(&["device"]), Value::str("mobile"));
        std::fs::write(&p, "login:a\n").unwrap();
        assert_eq!(read_subjects(&p).unwrap()[0].context, Value::Null);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn anon_subjects() {
        let ids = ["login:a".to_string(), "anon:00000000000000ff".to_string()];
        assert_eq!(anon_subject(&ids), Some(255));
        assert_eq!(anon_subject(&ids[..1]), None);
        assert_eq!(anon_subject(&["anon:zz".to_string()]), None);
    }

    #[test]
    fn chunk_reads_match_the_signal_rows() {
        use slotwise::signals::Kind;
        let dir = std::env::temp_dir().join(format!("sw-chunk-read-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open(&dir, false).unwrap();
        let engine = Engine::new(Bundle::example());
        let now = 1_800_000_000;
        let mut signals = Vec::new();
        for subject in 1..=5u64 {
            for k in 0..4u64 {
                let kind = [
                    Kind::View,
                    Kind::AddToCart,
                    Kind::Impression,
                    Kind::Purchase,
                ][(k as usize + subject as usize) % 4];
                let mut s = Signal::new(kind, subject * 100 + k, now - 3600 * k - subject)
                    .item(0)
                    .consent(7)
                    .channel(Channel::ALL[k as usize % 6])
                    .subject(subject);
                if kind == Kind::Impression {
                    s = s.decision(subject * 1000 + k, 0, 0, 0);
                }
                signals.push(s);
            }
        }
        // An old signal outside the horizon, and a subject without consent.
        signals.push(
            Signal::new(Kind::View, 9, now - HORIZON_SECS - 10)
                .item(0)
                .consent(7)
                .subject(1),
        );
        signals.push(Signal::new(Kind::View, 10, now - 5).item(0).consent(5));
        store.ingest(&signals, now).unwrap();
        store
            .link(&[
                "anon:0000000000000002".into(),
                "anon:0000000000000003".into(),
                "login:c".into(),
            ])
            .unwrap();
        let mut muted = Preferences::default();
        muted.mute.push("shoes".into());
        store.set_preferences("login:c", &muted, now).unwrap();
        let index = BundleIndex::of(Some(engine.bundle()));
        let ids: Vec<String> = [
            "anon:0000000000000001",
            "anon:0000000000000002",
            "anon:0000000000000003",
            "anon:0000000000000005",
            "login:c",
            "anon:0000000000000009",
        ]
        .map(String::from)
        .to_vec();
        let profiles = store.cluster_profiles(&ids).unwrap();
        for (id, profile) in ids.iter().zip(profiles) {
            // The visitor from the chunk's read, against one from the full signal rows.
            let (c1, v1, a1) = visitor_of(
                &store,
                &engine,
                &index,
                id,
                profile,
                Preferences::default(),
                now,
                false,
            )
            .unwrap();
            let (cluster, members) = store.cluster(id).unwrap();
            let mut rows: Vec<Signal> = store
                .subject_signals(&members, crate::channels::cluster::MAX_ROWS)
                .unwrap()
                .into_iter()
                .map(|r| r.signal)
                .filter(|s| s.time + HORIZON_SECS >= now && s.time <= now)
                .collect();
            rows.reverse();
            let v2 = ClusterVisitor::from_signals(&engine, &index, &cluster, &rows, now);
            assert_eq!(c1, cluster, "{id}");
            assert_eq!(a1, anon_subject(&members), "{id}");
            assert_eq!(v1.session, v2.session, "{id}");
            assert_eq!(v1.profile, v2.profile, "{id}");
            let (c3, v3, _) = load_cluster(&store, &engine, id, now, false).unwrap();
            // `load_cluster` reads the cluster's preference-centre record itself.
            let prefs = if c3 == store.cluster("login:c").unwrap().0 {
                muted.clone()
            } else {
                Preferences::default()
            };
            assert_eq!(v3.preferences, prefs, "{id}");
            assert_eq!((c3, v3.session, v3.profile), (c1, v1.session, v1.profile));
        }
        let p = store
            .cluster_profiles(&["login:c".to_string()])
            .unwrap()
            .remove(0);
        assert_eq!(
            p.signals.len(),
            8,
            "the cluster of 2 and 3, through login:c"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
