//! The SQLite backend: one database file in the data directory, WAL mode.
//!
//! Writes go through one writer thread that owns the write connection and commits
//! concurrent ingests together (group commit): each caller waits for the commit that
//! holds its batch, so an answer means the batch is on disk (with `synchronous=FULL`,
//! the default, even across power loss; `NORMAL` survives process kills only).
//! Reads use a small pool of read-only connections, which WAL lets run beside the writer.
//! Write transactions begin `IMMEDIATE`, so a second process on the same file (e.g.
//! `slotwise store copy` while a server runs) waits for the lock (busy timeout)
//! instead of failing with "database is locked".
//!
//! Schema (portable to PostgreSQL): `event_ids(event_id PRIMARY KEY)` is the
//! idempotency key — a narrow table, because random 64-bit ids scatter inserts over its
//! B-tree and every page touched is rewritten per commit; `signals` rows are appended
//! in arrival order (a rowid key) only for ids that table newly took. Erasure deletes
//! `signals` rows and keeps the bare ids (no personal data), so a replayed batch never
//! brings erased signals back; `erased_ids(time, event_id)` remembers their times so
//! that retention can forget them too. Retention raises `meta.retention_floor` in its
//! own commit, then deletes, in chunks of [`EXPIRE_CHUNK`] rows per commit (ingests
//! run between them), the signals older than the floor and their ids. Every ingest
//! commit reads the floor and refuses signals below it. `identities(id PRIMARY KEY,
//! cluster)`, `bundles(version PRIMARY KEY, etag, published_at, bytes)`.
//! `profile_logs(subject, seq, oldest, log)` (migration 4, [`super::profile_log`]):
//! the writer appends one row per subject for the signals of the commits since its
//! last append (at most [`super::sqlite_tail::MERGE_AFTER`] after their answer, or
//! before any other write; reads add those not appended yet, [`super::sqlite_tail`]),
//! numbered 1, 2, ... per subject, and merges a subject's rows into row 1 once there
//! are [`super::profile_log::COMPACT_AFTER`]; erasure deletes them with the signals,
//! and retention merges the rows holding signals below the floor after its deletions.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::TransactionBehavior::Immediate;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use slotwise::signals::Signal;

use crate::preferences::Preferences;

use super::journeys::{
    Acked, Contact, Instance, InstanceWrite, OutboxMessage, StepDone, StepOutcome,
};
use super::profile_log;
use super::sqlite_journeys as journeys_sql;
use super::sqlite_tail::{self, LogTail};
use super::{
    ClusterProfile, ClusterView, Counts, Erased, IngestDone, Ingested, Migration, PAGE_ROWS, Page,
    Result, Row, Store, StoreError, StoredBundle, anon_id, channel_of, kind_of,
};

/// The schema, in order; applied versions are recorded in `schema_migrations`.
/// Version 1 is written with `IF NOT EXISTS`, so it also adopts a database made
/// before migrations were recorded.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: "
CREATE TABLE IF NOT EXISTS event_ids (
    event_id    INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS signals (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    decision_id INTEGER,
    slot        INTEGER NOT NULL,
    item        INTEGER NOT NULL,
    variant     INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    consent     INTEGER NOT NULL,
    channel     INTEGER NOT NULL,
    holdout     INTEGER NOT NULL,
    value       INTEGER,
    subject     TEXT,
    received_at INTEGER NOT NULL
);
DROP INDEX IF EXISTS signals_subject;
CREATE INDEX IF NOT EXISTS signals_subject_profile
    ON signals(subject, time, kind, item, channel, consent, value, event_id)
    WHERE subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS signals_time ON signals(time);
CREATE TABLE IF NOT EXISTS identities (
    id      TEXT PRIMARY KEY,
    cluster TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identities_cluster ON identities(cluster);
CREATE TABLE IF NOT EXISTS erased_ids (
    time     INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (time, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bundles (
    version      INTEGER PRIMARY KEY,
    etag         TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    bytes        BLOB NOT NULL
);
",
    },
    Migration {
        version: 2,
        name: "journeys, outbox, contact records",
        sql: super::sqlite_journeys::MIGRATION_2,
    },
    Migration {
        version: 3,
        name: "preference centre: one record per identity cluster",
        sql: "
CREATE TABLE IF NOT EXISTS preferences (
    cluster    TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
",
    },
    Migration {
        version: 4,
        name: "materialized profile logs",
        // Filled at open (`ensure_profile_logs`): the rows are built from the signals.
        sql: "
-- Profiles no longer read signals by subject: a narrow index serves erasure, export
-- and rebuilds, and costs ingest less than the covering one.
DROP INDEX IF EXISTS signals_subject_profile;
CREATE INDEX IF NOT EXISTS signals_subject_time ON signals(subject, time)
    WHERE subject IS NOT NULL;
-- A rowid table: appends go to its end, and only the narrow (subject, seq) key is
-- scattered over the subjects (the large rows never sit in the pages appends touch).
CREATE TABLE IF NOT EXISTS profile_logs (
    subject TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    oldest  INTEGER NOT NULL,
    log     BLOB NOT NULL,
    PRIMARY KEY (subject, seq)
);
",
    },
];

/// The applied versions and the pending migrations of `conn`; with `apply`, applies
/// the pending ones in one transaction.
fn migrate_conn(
    conn: &mut Connection,
    apply: bool,
) -> rusqlite::Result<(Vec<i64>, Vec<&'static Migration>)> {
    let tx = conn.transaction_with_behavior(Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at INTEGER NOT NULL DEFAULT (unixepoch())
        )",
    )?;
    let applied = tx
        .prepare("SELECT version FROM schema_migrations ORDER BY version")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    let pending: Vec<&'static Migration> = MIGRATIONS
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .collect();
    if apply {
        for m in &pending {
            tx.execute_batch(m.sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)",
                params![m.version, m.name],
            )?;
        }
        tx.commit()?;
    }
    Ok((applied, pending))
}

/// [`migrate_conn`] on `dir/slotwise.db` (created when missing).
pub fn migrate(dir: &Path, apply: bool) -> Result<(Vec<i64>, Vec<&'static Migration>)> {
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut conn = Connection::open(dir.join("slotwise.db")).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    migrate_conn(&mut conn, apply).map_err(err)
}

/// Default WAL auto-checkpoint threshold: 20 000 pages (80 MiB at 4 KiB pages).
pub const DEFAULT_CHECKPOINT_PAGES: u32 = 20_000;

/// Most ingest batches one commit takes.
const GROUP_MAX: usize = 256;

/// Signals retention deletes per commit, so ingests are never held up for long.
pub const EXPIRE_CHUNK: usize = 10_000;

const FLOOR: &str = "SELECT value FROM meta WHERE key = 'retention_floor'";

enum Job {
    Ingest(Vec<Signal>, u64, IngestDone),
    /// A write; with `true`, the profile-log tail is merged first (the write deletes
    /// signals or log rows, or marks the logs complete), and when that merge fails the
    /// write is given its error instead of the connection: it must not run over a
    /// tail that still holds signals (an erasure would leave the erased ones there, to
    /// be served and merged back, and its mark would skip the others after a crash).
    Write(WriteFn, bool),
}

/// A write job's work: given the writer connection, or the error that stops it.
type WriteFn = Box<dyn FnOnce(Result<&mut Connection>) + Send>;

/// SQLite in WAL mode behind [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<mpsc::Sender<Job>>,
    readers: Mutex<Vec<Connection>>,
    tail: Arc<LogTail>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Held by the one handle per database file that appends profile logs after the
    /// ingest answers (see [`sqlite_tail`]).
    lock: Arc<LogLock>,
}

/// The lock that makes one handle per database file the deferred one: the tail's
/// mark ([`sqlite_tail::LOGGED_KEY`]) covers every stored signal, so two handles with
/// tails would mark each other's waiting signals as logged, and an erasure through
/// one would leave the erased signals in the other's tail. Other handles (the batch
/// send beside a running server, a second server) append in each ingest commit, and
/// refuse deletions while the deferred handle is alive (they would miss its tail).
struct LogLock {
    path: PathBuf,
    /// The lock file, locked, when this handle is the deferred one.
    held: Option<std::fs::File>,
}

impl LogLock {
    fn take(path: PathBuf) -> LogLock {
        let held = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ok()
            .filter(|f| f.try_lock().is_ok());
        LogLock { path, held }
    }

    /// Whether another handle (in any process) is the deferred one now.
    fn other_is_deferred(&self) -> bool {
        if self.held.is_some() {
            return false;
        }
        match std::fs::File::options().write(true).open(&self.path) {
            Ok(f) => f.try_lock().is_err(),
            Err(_) => false,
        }
    }

    /// Refuses a write that deletes signals while another handle has a tail.
    fn deletions_allowed(&self) -> Result<()> {
        if self.other_is_deferred() {
            Err(err(
                "another handle (a running `slotwise serve`) holds this SQLite store's \
                 profile-log tail: erase or expire through it",
            ))
        } else {
            Ok(())
        }
    }
}

impl Drop for SqliteStore {
    /// Stops the writer after the jobs already sent, and waits for it: the tail is
    /// merged into the profile logs and the connection closed when this returns.
    fn drop(&mut self) {
        if let Ok(mut tx) = self.writer.lock() {
            *tx = mpsc::channel().0;
        }
        if let Some(thread) = self.writer_thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating) `dir/slotwise.db`. `full_sync` picks `synchronous=FULL`.
    pub fn open(dir: &Path, full_sync: bool) -> Result<SqliteStore> {
        SqliteStore::open_with(dir, full_sync, DEFAULT_CHECKPOINT_PAGES)
    }

    /// [`SqliteStore::open`] with the WAL auto-checkpoint threshold in pages. Random
    /// 64-bit event ids scatter inserts over the key's B-tree, so a commit dirties many
    /// pages; a larger WAL lets a checkpoint write each page once for many commits.
    pub fn open_with(dir: &Path, full_sync: bool, checkpoint_pages: u32) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let path = dir.join("slotwise.db");
        let mut conn = Connection::open(&path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(
            None,
            "synchronous",
            if full_sync { "FULL" } else { "NORMAL" },
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        // A 64 MiB page cache for the writer: random event-id keys touch many pages.
        conn.pragma_update(None, "cache_size", -65536)
            .map_err(err)?;
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint_pages)
            .map_err(err)?;
        migrate_conn(&mut conn, true).map_err(err)?;
        ensure_profile_logs(&mut conn).map_err(err)?;
        catch_up_logs(&mut conn).map_err(err)?;
        let lock = Arc::new(LogLock::take(dir.join("slotwise.db-tail.lock")));
        let deferred = lock.held.is_some();
        if !deferred {
            eprintln!(
                "{}: the profile-log tail is another handle's (or its lock file cannot be \
                 made); this one appends the logs in each ingest commit",
                path.display()
            );
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let tail = Arc::new(LogTail::default());
        let writer_tail = tail.clone();
        let thread = std::thread::Builder::new()
            .name("slotwise-sqlite-writer".into())
            .spawn(move || writer(conn, rx, &writer_tail, deferred))
            .map_err(err)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(tx),
            readers: Mutex::new(Vec::new()),
            tail,
            writer_thread: Mutex::new(Some(thread)),
            lock,
        })
    }

    fn send(&self, job: Job) -> Result<()> {
        let tx = self
            .writer
            .lock()
            .map_err(|_| err("writer lock poisoned"))?
            .clone();
        tx.send(job).map_err(|_| err("the writer thread stopped"))
    }

    /// Runs `f` on the writer connection (serialised with ingests), after merging the
    /// profile-log tail, and waits; when that merge fails, `f` does not run and the
    /// merge's error is returned (the write is retried by its caller).
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_with(true, f)
    }

    /// [`SqliteStore::write`]; `merge_first` false leaves the tail waiting (for writes
    /// that touch neither signals nor profile logs).
    fn write_with<T: Send + 'static>(
        &self,
        merge_first: bool,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Job::Write(
            Box::new(move |c: Result<&mut Connection>| {
                let _ = tx.send(c.and_then(f));
            }),
            merge_first,
        ))?;
        rx.recv().map_err(|_| err("the writer thread stopped"))?
    }

    /// [`SqliteStore::read`] in one read transaction: every statement of `f` sees the
    /// same snapshot, and the WAL read lock is taken once, not per statement.
    fn read_snapshot<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.read(|c| {
            let tx = c.unchecked_transaction().map_err(err)?;
            let out = f(&tx)?;
            tx.commit().map_err(err)?;
            Ok(out)
        })
    }

    /// [`SqliteStore::read_snapshot`] for reads of profiles: `f` reads the logs and
    /// adds the tail's signals through the [`Tailed`] it is given; rerun when a merge
    /// finished meanwhile (see [`sqlite_tail`]).
    fn read_profiles<T>(&self, f: impl Fn(&Connection, &Tailed<'_>) -> Result<T>) -> Result<T> {
        loop {
            let tailed = Tailed {
                tail: &self.tail,
                generation: self.tail.generation(),
                stale: Cell::new(false),
            };
            let out = self.read_snapshot(|c| f(c, &tailed))?;
            if !tailed.stale.get() {
                return Ok(out);
            }
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.readers.lock().map_err(|_| err("pool poisoned"))?.pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(err)?;
                c.busy_timeout(std::time::Duration::from_secs(10))
                    .map_err(err)?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 16
        {
            pool.push(conn);
        }
        out
    }
}

/// The tail of one profile read: adds the signals not merged yet (see
/// [`SqliteStore::read_profiles`]).
struct Tailed<'a> {
    tail: &'a LogTail,
    generation: u64,
    stale: Cell<bool>,
}

impl Tailed<'_> {
    fn add(&self, ids: &[String], out: &mut Vec<Signal>) {
        if !self.tail.signals_of(ids, self.generation, out) {
            self.stale.set(true);
        }
    }
}

fn writer(mut conn: Connection, rx: mpsc::Receiver<Job>, tail: &LogTail, deferred: bool) {
    loop {
        let first = match tail.due_in() {
            None => rx.recv().ok(),
            Some(wait) => match rx.recv_timeout(wait) {
                Ok(job) => Some(job),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = merge_tail(&mut conn, tail);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => None,
            },
        };
        let Some(first) = first else {
            let _ = merge_tail(&mut conn, tail);
            return;
        };
        let mut ingests = Vec::new();
        let mut next = Some(first);
        // Take whatever else is already waiting: ingests share one commit.
        loop {
            match next.take() {
                Some(Job::Ingest(s, at, reply)) => ingests.push((s, at, reply)),
                Some(Job::Write(f, merge_first)) => {
                    commit_ingests(&mut conn, &mut ingests, tail, deferred);
                    match merge_first.then(|| merge_tail(&mut conn, tail)) {
                        Some(Err(e)) => f(Err(e)),
                        _ => f(Ok(&mut conn)),
                    }
                }
                None => {}
            }
            if ingests.len() >= GROUP_MAX {
                break;
            }
            match rx.try_recv() {
                Ok(job) => next = Some(job),
                Err(_) => break,
            }
        }
        commit_ingests(&mut conn, &mut ingests, tail, deferred);
        if tail.due_in() == Some(Duration::ZERO) {
            let _ = merge_tail(&mut conn, tail);
        }
    }
}

/// Merges the tail's signals into their subjects' profile logs, in one commit; on
/// failure they stay in the tail (retried with the next merge).
fn merge_tail(conn: &mut Connection, tail: &LogTail) -> Result<()> {
    let Some(batch) = tail.begin_merge() else {
        return Ok(());
    };
    let result = (|| -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(Immediate)?;
        let floor = retention_floor(&tx)?;
        append_logs(
            &tx,
            batch.iter().map(|(id, s)| (id.as_str(), s.as_slice())),
            floor,
        )?;
        mark_logged(&tx)?;
        tx.commit()
    })();
    drop(batch);
    if let Err(e) = &result {
        eprintln!("profile log merge (retried with the next): {e}");
    }
    tail.end_merge(result.is_ok());
    result.map_err(|e| err(format!("profile log merge: {e}")))
}

/// Records that every stored signal is in the profile logs (the tail is empty).
fn mark_logged(tx: &Connection) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, (SELECT COALESCE(MAX(id), 0) FROM signals))
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([sqlite_tail::LOGGED_KEY])?;
    Ok(())
}

/// At open: merges the signals a crash left out of the profile logs (those above
/// [`sqlite_tail::LOGGED_KEY`]); a store without the key has complete logs.
fn catch_up_logs(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(Immediate)?;
    let logged: Option<i64> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [sqlite_tail::LOGGED_KEY],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(logged) = logged {
        let mut logs = NewLogs::default();
        let mut stmt = tx.prepare(&format!(
            "SELECT {SUBJECT_COLUMNS} FROM signals s WHERE s.id > ?1 AND s.subject IS NOT NULL"
        ))?;
        for r in stmt.query_map([logged], row)? {
            let r = r?;
            if let Some(subject) = r.subject {
                logs.0.entry(subject).or_default().push(r.signal);
            }
        }
        drop(stmt);
        let floor = retention_floor(&tx)?;
        logs.append(&tx, floor)?;
    }
    mark_logged(&tx)?;
    tx.commit()
}

/// Stores a group of ingests in one commit. The deferred handle keeps their profile
/// fields in the tail; any other appends them to the logs in the same commit, and
/// moves the mark past them only when nothing was waiting below them (the deferred
/// handle's tail: a crash there must still find its signals above the mark).
fn commit_ingests(
    conn: &mut Connection,
    jobs: &mut Vec<(Vec<Signal>, u64, IngestDone)>,
    tail: &LogTail,
    deferred: bool,
) {
    if jobs.is_empty() {
        return;
    }
    let result = (|| -> rusqlite::Result<(Vec<Ingested>, NewLogs)> {
        let tx = conn.transaction_with_behavior(Immediate)?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut logs = NewLogs::default();
        let last_before: i64 = if deferred {
            0
        } else {
            tx.query_row("SELECT COALESCE(MAX(id), 0) FROM signals", [], |r| r.get(0))?
        };
        {
            // One row per statement run: a multi-row statement makes SQLite keep a
            // statement journal (a page copy per page it touches) in case it aborts.
            let mut insert = tx.prepare_cached(INSERT_SIGNAL)?;
            let mut claim =
                tx.prepare_cached("INSERT OR IGNORE INTO event_ids (event_id) VALUES (?1)")?;
            let floor = retention_floor(&tx)?;
            for (signals, at, _) in jobs.iter() {
                let (mut stored, mut expired) = (0u64, 0u64);
                for s in signals {
                    // Below the floor, the id may already be forgotten: never store it.
                    if s.time < floor {
                        expired += 1;
                        continue;
                    }
                    // The narrow key table decides what is new; the wide rows are appended.
                    if claim.execute([s.event_id as i64])? == 1 {
                        insert_signal(&mut insert, s, *at)?;
                        logs.add(s);
                        stored += 1;
                    }
                }
                outcomes.push(Ingested {
                    stored,
                    duplicates: signals.len() as u64 - stored - expired,
                    expired,
                });
            }
        }
        if !deferred {
            std::mem::take(&mut logs).append(&tx, retention_floor(&tx)?)?;
            tx.prepare_cached(
                "UPDATE meta SET value = (SELECT COALESCE(MAX(id), 0) FROM signals)
                 WHERE key = ?1 AND value = ?2",
            )?
            .execute(params![sqlite_tail::LOGGED_KEY, last_before])?;
        }
        tx.commit()?;
        Ok((outcomes, logs))
    })();
    match result {
        Ok((outcomes, logs)) => {
            // Readable in the tail before the answer: a profile read sees them.
            tail.push(logs.0);
            for ((_, _, done), o) in jobs.drain(..).zip(outcomes) {
                done(Ok(o));
            }
        }
        Err(e) => {
            for (_, _, done) in jobs.drain(..) {
                done(Err(err(&e)));
            }
        }
    }
}

const INSERT_SIGNAL: &str = "INSERT INTO signals (event_id, kind, decision_id, slot, item, \
    variant, time, consent, channel, holdout, value, subject, received_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/// Appends one signal row with `INSERT_SIGNAL` (prepared as `insert`), received at `at`.
fn insert_signal(
    insert: &mut rusqlite::CachedStatement<'_>,
    s: &Signal,
    at: u64,
) -> rusqlite::Result<usize> {
    insert.execute(params![
        s.event_id as i64,
        s.kind as u8,
        s.decision_id.map(|d| d as i64),
        s.slot,
        s.item,
        s.variant,
        s.time as i64,
        s.consent,
        s.channel as u8,
        s.holdout,
        s.value.map(|v| v as i64),
        s.subject.map(anon_id),
        at as i64,
    ])
}

const ROW_COLUMNS: &str = "s.event_id, s.kind, s.decision_id, s.slot, s.item, s.variant, s.time,
    s.consent, s.channel, s.holdout, s.value, s.subject, i.cluster";

/// The same columns without the identity join (the caller knows the cluster).
const SUBJECT_COLUMNS: &str =
    "s.event_id, s.kind, s.decision_id, s.slot, s.item, s.variant, s.time,
    s.consent, s.channel, s.holdout, s.value, s.subject, NULL";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let bad = || rusqlite::Error::IntegralValueOutOfRange(1, 0);
    let subject: Option<String> = r.get(11)?;
    let subject_bits = subject
        .as_deref()
        .and_then(|s| s.strip_prefix("anon:"))
        .and_then(|h| u64::from_str_radix(h, 16).ok());
    Ok(Row {
        signal: Signal {
            kind: kind_of(r.get(1)?).ok_or_else(bad)?,
            event_id: r.get::<_, i64>(0)? as u64,
            decision_id: r.get::<_, Option<i64>>(2)?.map(|d| d as u64),
            slot: r.get(3)?,
            item: r.get(4)?,
            variant: r.get(5)?,
            time: r.get::<_, i64>(6)? as u64,
            consent: r.get(7)?,
            channel: channel_of(r.get(8)?).ok_or_else(bad)?,
            holdout: r.get(9)?,
            value: r.get::<_, Option<i64>>(10)?.map(|v| v as u64),
            subject: subject_bits,
        },
        subject,
        cluster: r.get(12)?,
    })
}

/// The newest `limit` rows of the subjects `ids` by `sql` (`?1` the subject, `?2` the
/// limit, newest first), mapped by `map`; `time` orders the union of the subjects.
fn newest_of<T>(
    c: &Connection,
    sql: &str,
    ids: &[String],
    limit: usize,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    time: impl Fn(&T) -> u64,
) -> Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql).map_err(err)?;
    let mut out = Vec::new();
    for id in ids {
        let rows = stmt
            .query_map(params![id, limit as i64], &map)
            .map_err(err)?;
        for r in rows {
            out.push(r.map_err(err)?);
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(time(r)));
    out.truncate(limit);
    Ok(out)
}

/// The retention floor (0 before the first sweep), in Unix seconds.
fn retention_floor(conn: &Connection) -> rusqlite::Result<u64> {
    let floor: Option<i64> = conn
        .prepare_cached(FLOOR)?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(floor.map_or(0, |f| f as u64))
}

/// One retention commit: at most [`EXPIRE_CHUNK`] of the oldest signals below `floor`
/// and their ids, else (when none are left) that many bare ids of erased signals.
/// Returns the signals deleted and whether anything was.
fn expire_chunk(conn: &mut Connection, floor: u64) -> rusqlite::Result<(u64, bool)> {
    let tx = conn.transaction_with_behavior(Immediate)?;
    let (floor, chunk) = (floor as i64, EXPIRE_CHUNK as i64);
    tx.execute(
        "DELETE FROM event_ids WHERE event_id IN
         (SELECT event_id FROM signals WHERE time < ?1 ORDER BY time, id LIMIT ?2)",
        params![floor, chunk],
    )?;
    let signals = tx.execute(
        "DELETE FROM signals WHERE id IN
         (SELECT id FROM signals WHERE time < ?1 ORDER BY time, id LIMIT ?2)",
        params![floor, chunk],
    )? as u64;
    let mut erased = 0;
    if signals == 0 {
        tx.execute(
            "DELETE FROM event_ids WHERE event_id IN
             (SELECT event_id FROM erased_ids WHERE time < ?1 ORDER BY time LIMIT ?2)",
            params![floor, chunk],
        )?;
        erased = tx.execute(
            "DELETE FROM erased_ids WHERE (time, event_id) IN
             (SELECT time, event_id FROM erased_ids WHERE time < ?1 ORDER BY time LIMIT ?2)",
            params![floor, chunk],
        )?;
    }
    mark_logged(&tx)?;
    tx.commit()?;
    Ok((signals, signals > 0 || erased > 0))
}

fn cluster_of(conn: &Connection, id: &str) -> rusqlite::Result<(String, Vec<String>)> {
    let cluster: Option<String> = conn
        .prepare_cached("SELECT cluster FROM identities WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(cluster) = cluster else {
        return Ok((id.to_string(), vec![id.to_string()]));
    };
    let mut stmt =
        conn.prepare_cached("SELECT id FROM identities WHERE cluster = ?1 ORDER BY id")?;
    let ids = stmt
        .query_map([&cluster], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok((cluster, ids))
}

impl Store for SqliteStore {
    fn ingest_then(&self, signals: Vec<Signal>, received_at: u64, done: IngestDone) {
        // A failed send hands the job back: answer its callback with the error.
        let tx = match self.writer.lock() {
            Ok(tx) => tx.clone(),
            Err(_) => return done(Err(err("writer lock poisoned"))),
        };
        if let Err(mpsc::SendError(Job::Ingest(_, _, done))) =
            tx.send(Job::Ingest(signals, received_at, done))
        {
            done(Err(err("the writer thread stopped")));
        }
    }

    fn link(&self, ids: &[String]) -> Result<String> {
        let ids = ids.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(Immediate).map_err(err)?;
            let mut clusters = Vec::new();
            for id in &ids {
                let c: Option<String> = tx
                    .query_row("SELECT cluster FROM identities WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(err)?;
                clusters.push(c.unwrap_or_else(|| id.clone()));
            }
            let target = clusters
                .iter()
                .min()
                .cloned()
                .ok_or_else(|| err("no ids"))?;
            for c in &clusters {
                if *c != target {
                    tx.execute(
                        "UPDATE identities SET cluster = ?1 WHERE cluster = ?2",
                        params![target, c],
                    )
                    .map_err(err)?;
                }
            }
            for id in &ids {
                tx.execute(
                    "INSERT INTO identities (id, cluster) VALUES (?1, ?2)
                     ON CONFLICT(id) DO UPDATE SET cluster = excluded.cluster",
                    params![id, target],
                )
                .map_err(err)?;
            }
            merge_preferences(&tx, &target, &clusters).map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(target)
        })
    }

    fn cluster(&self, id: &str) -> Result<(String, Vec<String>)> {
        self.read(|c| cluster_of(c, id).map_err(err))
    }

    fn subject_signals(&self, ids: &[String], limit: usize) -> Result<Vec<Row>> {
        let sql = format!(
            "SELECT {SUBJECT_COLUMNS} FROM signals s
             WHERE s.subject = ?1 ORDER BY s.time DESC LIMIT ?2"
        );
        self.read(|c| newest_of(c, &sql, ids, limit, row, |r| r.signal.time))
    }

    fn profile_log(&self, ids: &[String]) -> Result<Vec<Signal>> {
        self.read_profiles(|c, tailed| {
            let floor = retention_floor(c).map_err(err)?;
            read_profile(c, ids, floor, tailed)
        })
    }

    fn cluster_profiles(&self, ids: &[String]) -> Result<Vec<ClusterProfile>> {
        self.read_profiles(|c, tailed| {
            let floor = retention_floor(c).map_err(err)?;
            ids.iter()
                .map(|id| {
                    let (cluster, ids) = cluster_of(c, id).map_err(err)?;
                    let signals = read_profile(c, &ids, floor, tailed)?;
                    Ok(ClusterProfile {
                        cluster,
                        ids,
                        signals,
                    })
                })
                .collect()
        })
    }

    fn cluster_view(&self, id: &str, journeys: bool) -> Result<ClusterView> {
        self.read_profiles(|c, tailed| {
            let (cluster, ids) = cluster_of(c, id).map_err(err)?;
            let floor = retention_floor(c).map_err(err)?;
            let signals = read_profile(c, &ids, floor, tailed)?;
            let preferences = c
                .prepare_cached("SELECT doc FROM preferences WHERE cluster = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([&cluster], |r| r.get::<_, String>(0))
                        .optional()
                })
                .map_err(err)?
                .map(|d| Preferences::from_json(&d));
            let journeys = if journeys {
                Some(journeys_sql::instances(c, &ids).map_err(err)?)
            } else {
                None
            };
            Ok(ClusterView {
                cluster,
                ids,
                signals,
                preferences,
                journeys,
            })
        })
    }

    fn erase(&self, id: &str) -> Result<Erased> {
        let id = id.to_string();
        let lock = self.lock.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(Immediate).map_err(err)?;
            // Checked under the write lock: a handle that takes the tail from now on
            // can commit nothing before this erasure does.
            lock.deletions_allowed()?;
            let (cluster, ids) = cluster_of(&tx, &id).map_err(err)?;
            let mut erased = Erased::default();
            for i in &ids {
                // The bare ids stay claimed (a replay stores nothing); their times let
                // retention forget them later.
                tx.execute(
                    "INSERT OR IGNORE INTO erased_ids (time, event_id)
                     SELECT time, event_id FROM signals WHERE subject = ?1",
                    [i],
                )
                .map_err(err)?;
                erased.signals += tx
                    .execute("DELETE FROM signals WHERE subject = ?1", [i])
                    .map_err(err)? as u64;
                tx.execute("DELETE FROM profile_logs WHERE subject = ?1", [i])
                    .map_err(err)?;
            }
            super::sqlite_journeys::erase(&tx, &ids).map_err(err)?;
            erased.ids = tx
                .execute("DELETE FROM identities WHERE cluster = ?1", [&cluster])
                .map_err(err)? as u64;
            tx.execute("DELETE FROM preferences WHERE cluster = ?1", [&cluster])
                .map_err(err)?;
            // Row ids above the remaining ones may be reused: keep the mark exact.
            mark_logged(&tx).map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(erased)
        })
    }

    fn signals_between(&self, since: u64, until: u64) -> Result<Vec<Row>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS} FROM signals s LEFT JOIN identities i ON i.id = s.subject
                     WHERE s.time >= ?1 AND s.time < ?2 ORDER BY s.time"
                ))
                .map_err(err)?;
            let rows = stmt
                .query_map(
                    params![since as i64, until.min(i64::MAX as u64) as i64],
                    row,
                )
                .map_err(err)?;
            rows.collect::<rusqlite::Result<Vec<Row>>>().map_err(err)
        })
    }

    fn expire(&self, before: u64) -> Result<u64> {
        // First the floor, durably: from this commit on, no ingest stores a signal
        // whose id the deletions below may forget.
        let lock = self.lock.clone();
        let floor = self.write(move |conn| {
            let tx = conn.transaction_with_behavior(Immediate).map_err(err)?;
            // From the new floor on no ingest stores a signal the chunks below delete,
            // so a tail taken after this check never holds one.
            lock.deletions_allowed()?;
            let floor = retention_floor(&tx).map_err(err)?.max(before);
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('retention_floor', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [floor as i64],
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(floor)
        })?;
        let mut deleted = 0;
        loop {
            let (n, more) = self.write(move |conn| expire_chunk(conn, floor).map_err(err))?;
            deleted += n;
            if !more {
                break;
            }
        }
        // Journeys that ended and messages delivered before the floor go too.
        self.write_tx(move |tx| journeys_sql::expire(tx, floor))?;
        // Reads skip log entries below the floor already; now drop them.
        while self.write(move |conn| expire_logs(conn, floor).map_err(err))? {}
        Ok(deleted)
    }

    fn publish_bundle(&self, bytes: &[u8], etag: &str, now: u64) -> Result<u64> {
        self.publish_bundle_journeys(bytes, etag, now, None)
    }

    fn bundle_version(&self) -> Result<Option<u64>> {
        self.read(|c| {
            c.prepare_cached("SELECT MAX(version) FROM bundles")
                .map_err(err)?
                .query_row([], |r| r.get::<_, Option<i64>>(0))
                .map(|v| v.map(|v| v as u64))
                .map_err(err)
        })
    }

    fn current_bundle(&self) -> Result<Option<StoredBundle>> {
        self.read(|c| {
            c.query_row(
                "SELECT version, etag, published_at, bytes FROM bundles ORDER BY version DESC LIMIT 1",
                [],
                |r| {
                    Ok(StoredBundle {
                        version: r.get::<_, i64>(0)? as u64,
                        etag: r.get(1)?,
                        published_at: r.get::<_, i64>(2)? as u64,
                        bytes: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(err)
        })
    }

    fn counts(&self) -> Result<Counts> {
        self.read(|c| {
            let n = |sql: &str| -> Result<u64> {
                c.query_row(sql, [], |r| r.get::<_, i64>(0))
                    .map(|n| n as u64)
                    .map_err(err)
            };
            Ok(Counts {
                signals: n("SELECT COUNT(*) FROM signals")?,
                identities: n("SELECT COUNT(*) FROM identities")?,
                bundles: n("SELECT COUNT(*) FROM bundles")?,
            })
        })
    }

    fn dump(&self, each: &mut dyn FnMut(Page) -> Result<()>) -> Result<()> {
        self.read(|c| {
            // One read transaction: every page comes from the same snapshot.
            c.execute_batch("BEGIN").map_err(err)?;
            let out = dump_from(c, each);
            let _ = c.execute_batch("COMMIT");
            out
        })
    }

    fn load(&self, page: Page) -> Result<()> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(Immediate).map_err(err)?;
            load_into(&tx, &page).map_err(err)?;
            tx.commit().map_err(err)
        })
    }

    // ---- Preference centre (issue 10) ----

    fn preferences(&self, id: &str) -> Result<Option<Preferences>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT doc FROM preferences WHERE cluster =
                     COALESCE((SELECT cluster FROM identities WHERE id = ?1), ?1)",
            )
            .and_then(|mut stmt| stmt.query_row([id], |r| r.get::<_, String>(0)).optional())
            .map(|doc| doc.map(|d| Preferences::from_json(&d)))
            .map_err(err)
        })
    }

    fn all_preferences(&self) -> Result<Vec<(String, Preferences)>> {
        self.read(|c| {
            c.prepare_cached("SELECT cluster, doc FROM preferences")
                .and_then(|mut stmt| {
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                        .map(|r| r.map(|(c, d)| (c, Preferences::from_json(&d))))
                        .collect()
                })
                .map_err(err)
        })
    }

    fn set_preferences(&self, id: &str, prefs: &Preferences, now: u64) -> Result<()> {
        let (id, doc) = (id.to_string(), prefs.to_json());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO preferences (cluster, doc, updated_at)
                 VALUES (COALESCE((SELECT cluster FROM identities WHERE id = ?1), ?1), ?2, ?3)
                 ON CONFLICT(cluster) DO UPDATE SET doc = excluded.doc,
                     updated_at = excluded.updated_at",
                params![id, doc, now as i64],
            )
            .map(|_| ())
            .map_err(err)
        })
    }

    // --- Journeys and the outbox (schema version 2) ---

    fn publish_bundle_journeys(
        &self,
        bytes: &[u8],
        etag: &str,
        now: u64,
        journeys: Option<&str>,
    ) -> Result<u64> {
        let bytes = bytes.to_vec();
        let etag = etag.to_string();
        let journeys = journeys.map(str::to_string);
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(Immediate).map_err(err)?;
            let version: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM bundles",
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            tx.execute(
                "INSERT INTO bundles (version, etag, published_at, bytes) VALUES (?1, ?2, ?3, ?4)",
                params![version, etag, now as i64, bytes],
            )
            .map_err(err)?;
            if let Some(j) = &journeys {
                journeys_sql::set_bundle_journeys(&tx, version, j).map_err(err)?;
            }
            tx.commit().map_err(err)?;
            Ok(version as u64)
        })
    }

    fn bundle_journeys(&self, version: u64) -> Result<Option<String>> {
        self.read(|c| journeys_sql::bundle_journeys(c, version).map_err(err))
    }

    fn journey_instances(&self, ids: &[String]) -> Result<Vec<Instance>> {
        self.read(|c| journeys_sql::instances(c, ids).map_err(err))
    }

    fn journey_write(&self, writes: Vec<InstanceWrite>) -> Result<()> {
        self.write_tx(move |tx| journeys_sql::write(tx, &writes))
    }

    fn journey_claim(&self, now: u64, lease_until: u64, limit: usize) -> Result<Vec<Instance>> {
        self.write_tx(move |tx| journeys_sql::claim(tx, now, lease_until, limit))
    }

    fn journey_step(&self, done: StepDone, now: u64) -> Result<StepOutcome> {
        self.write_tx(move |tx| journeys_sql::step(tx, &done, now))
    }

    fn outbox_pull(&self, now: u64, lease_until: u64, limit: usize) -> Result<Vec<OutboxMessage>> {
        self.write_tx(move |tx| journeys_sql::pull(tx, now, lease_until, limit))
    }

    fn outbox_ack(&self, ids: &[i64], now: u64) -> Result<Vec<Acked>> {
        let ids = ids.to_vec();
        self.write_tx(move |tx| journeys_sql::ack(tx, &ids, now))
    }

    fn outbox_sent(&self, ids: &[String], since: u64) -> Result<u64> {
        self.read(|c| journeys_sql::sent(c, ids, since).map_err(err))
    }

    fn contact_set(&self, contact: Contact) -> Result<u64> {
        self.write_tx(move |tx| journeys_sql::set_contact(tx, &contact))
    }

    fn contacts(&self, ids: &[String]) -> Result<Vec<Contact>> {
        self.read(|c| journeys_sql::contacts(c, ids).map_err(err))
    }
}

impl SqliteStore {
    /// Runs `f` in one write transaction on the writer and commits (journeys, the
    /// outbox, contact records: never signals or profile logs, so the profile-log
    /// tail waits).
    fn write_tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        self.write_with(false, move |conn| {
            let tx = conn.transaction_with_behavior(Immediate).map_err(err)?;
            let out = f(&tx).map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(out)
        })
    }
}

/// Inside a link's transaction: the preference records of the merged `clusters` become
/// one record of `target` ([`Preferences::merge`]: a mute in either wins).
fn merge_preferences(tx: &Connection, target: &str, clusters: &[String]) -> rusqlite::Result<()> {
    let mut merged: Option<Preferences> = None;
    let mut updated = 0i64;
    let mut read =
        tx.prepare_cached("SELECT doc, updated_at FROM preferences WHERE cluster = ?1")?;
    let mut seen: Vec<&String> = Vec::new();
    for c in clusters {
        if seen.contains(&c) {
            continue;
        }
        seen.push(c);
        if let Some((doc, at)) = read
            .query_row([c], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .optional()?
        {
            let p = Preferences::from_json(&doc);
            merged = Some(merged.map_or_else(|| p.clone(), |m| m.merge(&p)));
            updated = updated.max(at);
        }
    }
    let Some(merged) = merged else {
        return Ok(());
    };
    for c in seen {
        tx.execute("DELETE FROM preferences WHERE cluster = ?1", [c])?;
    }
    tx.execute(
        "INSERT INTO preferences (cluster, doc, updated_at) VALUES (?1, ?2, ?3)",
        params![target, merged.to_json(), updated],
    )?;
    Ok(())
}

/// [`Store::dump`] inside the caller's read transaction.
fn dump_from(c: &Connection, each: &mut dyn FnMut(Page) -> Result<()>) -> Result<()> {
    each(Page::Floor(retention_floor(c).map_err(err)?))?;
    let bundles = c
        .prepare("SELECT version, etag, published_at, bytes FROM bundles ORDER BY version")
        .map_err(err)?
        .query_map([], |r| {
            Ok(StoredBundle {
                version: r.get::<_, i64>(0)? as u64,
                etag: r.get(1)?,
                published_at: r.get::<_, i64>(2)? as u64,
                bytes: r.get(3)?,
            })
        })
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(err)?;
    each(Page::Bundles(bundles))?;
    let mut after = String::new();
    loop {
        let page = c
            .prepare_cached("SELECT id, cluster FROM identities WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(err)?
            .query_map(params![after, PAGE_ROWS as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(err)?
            .collect::<rusqlite::Result<Vec<(String, String)>>>()
            .map_err(err)?;
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        each(Page::Identities(page))?;
    }
    let mut after = String::new();
    loop {
        let page = c
            .prepare_cached(
                "SELECT cluster, doc, updated_at FROM preferences WHERE cluster > ?1
                 ORDER BY cluster LIMIT ?2",
            )
            .map_err(err)?
            .query_map(params![after, PAGE_ROWS as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })
            .map_err(err)?
            .collect::<rusqlite::Result<Vec<(String, String, u64)>>>()
            .map_err(err)?;
        let Some((last, _, _)) = page.last() else {
            break;
        };
        after = last.clone();
        each(Page::Preferences(page))?;
    }
    let mut after = 0i64;
    loop {
        let sql = format!(
            "SELECT {SUBJECT_COLUMNS}, s.received_at, s.id FROM signals s
             WHERE s.id > ?1 ORDER BY s.id LIMIT ?2"
        );
        let mut last = None;
        let page = c
            .prepare_cached(&sql)
            .map_err(err)?
            .query_map(params![after, PAGE_ROWS as i64], |r| {
                Ok((
                    row(r)?.signal,
                    r.get::<_, i64>(13)? as u64,
                    r.get::<_, i64>(14)?,
                ))
            })
            .map_err(err)?
            .map(|r| {
                r.map(|(s, at, id)| {
                    last = Some(id);
                    (s, at)
                })
            })
            .collect::<rusqlite::Result<Vec<(Signal, u64)>>>()
            .map_err(err)?;
        let Some(last) = last else { break };
        after = last;
        each(Page::Signals(page))?;
    }
    let mut after = (-1i64, 0i64);
    loop {
        let page = c
            .prepare_cached(
                "SELECT time, event_id FROM erased_ids WHERE (time, event_id) > (?1, ?2)
                 ORDER BY time, event_id LIMIT ?3",
            )
            .map_err(err)?
            .query_map(params![after.0, after.1, PAGE_ROWS as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(err)?
            .collect::<rusqlite::Result<Vec<(i64, i64)>>>()
            .map_err(err)?;
        let Some(&last) = page.last() else { break };
        after = last;
        each(Page::ErasedIds(
            page.into_iter()
                .map(|(t, id)| (t as u64, id as u64))
                .collect(),
        ))?;
    }
    super::sqlite_journeys::dump(c, each)
}

/// [`Store::load`] inside the caller's write transaction.
fn load_into(tx: &Connection, page: &Page) -> rusqlite::Result<()> {
    match page {
        Page::Floor(floor) => {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('retention_floor', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
                [*floor as i64],
            )?;
        }
        Page::Bundles(bundles) => {
            for b in bundles {
                tx.execute(
                    "INSERT OR IGNORE INTO bundles (version, etag, published_at, bytes)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![b.version as i64, b.etag, b.published_at as i64, b.bytes],
                )?;
            }
        }
        Page::Identities(links) => {
            let mut stmt = tx
                .prepare_cached("INSERT OR IGNORE INTO identities (id, cluster) VALUES (?1, ?2)")?;
            for (id, cluster) in links {
                stmt.execute(params![id, cluster])?;
            }
        }
        Page::Preferences(records) => {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO preferences (cluster, doc, updated_at) VALUES (?1, ?2, ?3)",
            )?;
            for (cluster, doc, at) in records {
                stmt.execute(params![cluster, doc, *at as i64])?;
            }
        }
        Page::Signals(signals) => {
            let mut claim =
                tx.prepare_cached("INSERT OR IGNORE INTO event_ids (event_id) VALUES (?1)")?;
            let mut insert = tx.prepare_cached(INSERT_SIGNAL)?;
            let mut logs = NewLogs::default();
            for (s, at) in signals {
                if claim.execute([s.event_id as i64])? == 1 {
                    insert_signal(&mut insert, s, *at)?;
                    logs.add(s);
                }
            }
            // Profile logs are rebuilt from the copied signals, not copied.
            logs.append(tx, retention_floor(tx)?)?;
            mark_logged(tx)?;
        }
        Page::ErasedIds(ids) => {
            let mut claim =
                tx.prepare_cached("INSERT OR IGNORE INTO event_ids (event_id) VALUES (?1)")?;
            let mut erased = tx.prepare_cached(
                "INSERT OR IGNORE INTO erased_ids (time, event_id) VALUES (?1, ?2)",
            )?;
            for (time, id) in ids {
                claim.execute([*id as i64])?;
                erased.execute(params![*time as i64, *id as i64])?;
            }
        }
        Page::BundleJourneys(_)
        | Page::JourneyInstances(_)
        | Page::Outbox(_)
        | Page::Contacts(_) => super::sqlite_journeys::load(tx, page)?,
    }
    Ok(())
}

/// New signals by subject id, for their profile logs.
#[derive(Default)]
struct NewLogs(std::collections::HashMap<String, Vec<Signal>>);

impl NewLogs {
    fn add(&mut self, s: &Signal) {
        if let Some(subject) = s.subject {
            self.0
                .entry(anon_id(subject))
                .or_default()
                .push(profile_log::for_profile(s));
        }
    }

    fn append(self, tx: &Connection, floor: u64) -> rusqlite::Result<()> {
        append_logs(
            tx,
            self.0.iter().map(|(id, s)| (id.as_str(), s.as_slice())),
            floor,
        )
    }
}

/// Appends one log row per subject; merges a subject's rows when
/// [`profile_log::should_merge`]. A subject's rows are numbered 1, 2, ... (a merge
/// leaves one row, number 1), so the number of the new row is how many there are: one
/// statement per subject appends and counts.
fn append_logs<'a>(
    tx: &Connection,
    by_subject: impl Iterator<Item = (&'a str, &'a [Signal])>,
    floor: u64,
) -> rusqlite::Result<()> {
    let mut append = tx.prepare_cached(
        "INSERT INTO profile_logs (subject, seq, oldest, log)
         SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3 FROM profile_logs WHERE subject = ?1
         RETURNING seq",
    )?;
    for (id, signals) in by_subject {
        let oldest = profile_log::oldest(signals) as i64;
        let rows: i64 = append
            .query_row(params![id, oldest, profile_log::encode(signals)], |r| {
                r.get(0)
            })?;
        if profile_log::should_merge(rows as usize, signals.len()) {
            compact_log(tx, id, floor, false)?;
        }
    }
    Ok(())
}

const INSERT_LOG: &str =
    "INSERT INTO profile_logs (subject, seq, oldest, log) VALUES (?1, ?2, ?3, ?4)";

/// Merges the log rows of `subject`: into one row, number 1 ([`profile_log::merge`]),
/// or — unless `full`, while the small rows are few ([`profile_log::base_row`]) — the
/// small rows into one, number 2, beside the large row, renumbered 1. Rows that do not
/// decode are replaced by the subject's signals as stored.
fn compact_log(tx: &Connection, subject: &str, floor: u64, full: bool) -> rusqlite::Result<()> {
    let rows: Vec<(i64, Vec<u8>)> = tx
        .prepare_cached("SELECT seq, log FROM profile_logs WHERE subject = ?1")?
        .query_map([subject], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let lens: Vec<usize> = rows.iter().map(|(_, log)| profile_log::len(log)).collect();
    let base = if full {
        None
    } else {
        profile_log::base_row(&lens)
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (k, (_, log)) in rows.iter().enumerate() {
        if Some(k) != base {
            ok &= profile_log::decode_into(log, &mut out).is_ok();
        }
    }
    let (keep, merged) = if ok {
        (base.map(|b| rows[b].0), profile_log::finish(out, floor))
    } else {
        let stored = subject_log_from_signals(tx, subject)?;
        (None, profile_log::finish(stored, floor))
    };
    let mut delete =
        tx.prepare_cached("DELETE FROM profile_logs WHERE subject = ?1 AND seq = ?2")?;
    for (seq, _) in &rows {
        if Some(*seq) != keep {
            delete.execute(params![subject, seq])?;
        }
    }
    if let Some(seq) = keep {
        tx.prepare_cached("UPDATE profile_logs SET seq = 1 WHERE subject = ?1 AND seq = ?2")?
            .execute(params![subject, seq])?;
    }
    if !merged.is_empty() {
        tx.prepare_cached(INSERT_LOG)?.execute(params![
            subject,
            if keep.is_some() { 2 } else { 1 },
            profile_log::oldest(&merged) as i64,
            profile_log::encode(&merged)
        ])?;
    }
    Ok(())
}

/// The newest [`profile_log::MAX_SIGNALS`] stored signals of `subject`, read from the
/// signals table (rebuilds).
fn subject_log_from_signals(c: &Connection, subject: &str) -> rusqlite::Result<Vec<Signal>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {SUBJECT_COLUMNS} FROM signals s WHERE s.subject = ?1
         ORDER BY s.time DESC, s.event_id DESC LIMIT ?2"
    ))?;
    stmt.query_map(params![subject, profile_log::MAX_SIGNALS as i64], |r| {
        Ok(row(r)?.signal)
    })?
    .collect()
}

/// [`Store::profile_log`] on a read connection: the rows of `ids`, merged. A row that
/// does not decode is never served: that subject's signals are read instead.
fn read_profile(
    c: &Connection,
    ids: &[String],
    floor: u64,
    tailed: &Tailed<'_>,
) -> Result<Vec<Signal>> {
    let mut stmt = c
        .prepare_cached("SELECT log FROM profile_logs WHERE subject = ?1")
        .map_err(err)?;
    let mut out = Vec::new();
    for id in ids {
        let mut rows = stmt.query([id]).map_err(err)?;
        let start = out.len();
        let mut ok = true;
        while let Some(r) = rows.next().map_err(err)? {
            let blob = r.get_ref(0).and_then(|v| Ok(v.as_blob()?)).map_err(err)?;
            ok &= profile_log::decode_into(blob, &mut out).is_ok();
        }
        if !ok {
            out.truncate(start);
            out.extend(subject_log_from_signals(c, id).map_err(err)?);
        }
    }
    tailed.add(ids, &mut out);
    Ok(profile_log::finish(out, floor))
}

/// Merges the log rows of up to [`EXPIRE_CHUNK`] subjects holding signals below
/// `floor`, in one commit; whether there were any.
fn expire_logs(conn: &mut Connection, floor: u64) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(Immediate)?;
    let subjects = tx
        .prepare_cached("SELECT DISTINCT subject FROM profile_logs WHERE oldest < ?1 LIMIT ?2")?
        .query_map(params![floor as i64, EXPIRE_CHUNK as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    for subject in &subjects {
        compact_log(&tx, subject, floor, true)?;
    }
    tx.commit()?;
    Ok(!subjects.is_empty())
}

/// Builds every subject's profile log from its signals when the stored logs are not
/// in [`profile_log::FORMAT`] (first open after migration 4, or a new format).
fn ensure_profile_logs(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(Immediate)?;
    let built: Option<i64> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [profile_log::FORMAT_KEY],
            |r| r.get(0),
        )
        .optional()?;
    if built == Some(profile_log::FORMAT) {
        return Ok(());
    }
    tx.execute("DELETE FROM profile_logs", [])?;
    let subjects = tx
        .prepare("SELECT DISTINCT subject FROM signals WHERE subject IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let floor = retention_floor(&tx)?;
    for subject in &subjects {
        let signals = profile_log::finish(subject_log_from_signals(&tx, subject)?, floor);
        if !signals.is_empty() {
            tx.prepare_cached(INSERT_LOG)?.execute(params![
                subject,
                1,
                profile_log::oldest(&signals) as i64,
                profile_log::encode(&signals)
            ])?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![profile_log::FORMAT_KEY, profile_log::FORMAT],
    )?;
    mark_logged(&tx)?;
    tx.commit()
}
