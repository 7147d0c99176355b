//! The PostgreSQL backend: several stateless `slotwise serve` replicas over one
//! database, selected by `--store postgres://...`.
//!
//! Crate choice: `tokio-postgres` with a `deadpool-postgres` pool, behind the same
//! blocking [`Store`] interface as SQLite. `sqlx` would serve both backends, but the
//! SQLite backend's guarantees and speed come from rusqlite (one writer thread with
//! group commit, prepared statements, `INDEXED BY` reads): porting it would trade them
//! for nothing the interface needs. The store owns a small tokio runtime of its own,
//! so its blocking methods work from any thread (the server calls some of them inline
//! on its async workers: there they wait in `block_in_place`, so the worker's other
//! tasks move on), and [`Store::ingest_then`] waits on no thread at all.
//!
//! Schema: the same tables as SQLite (see [`MIGRATIONS`]), run at open as versioned
//! migrations recorded in `schema_migrations`, under an advisory lock so replicas that
//! start together apply each migration once. Every statement is a constant with `$n`
//! parameters; no SQL is built from input.
//!
//! What keeps N replicas correct with only the database shared:
//! - ingest is one transaction per batch: `INSERT INTO event_ids ... ON CONFLICT DO
//!   NOTHING RETURNING event_id` claims the new ids (a concurrent claim of the same id
//!   on another replica waits for the first transaction and then conflicts), then the
//!   claimed signals are inserted; the answer comes after `COMMIT` (durable with the
//!   default `synchronous_commit = on`). Ids are claimed in sorted order, so two
//!   overlapping batches lock in one order; a deadlock or serialization failure is
//!   retried (the transaction rolled back, nothing was stored);
//! - the retention floor: an ingest takes a *shared* transaction-scoped advisory lock
//!   ([`FLOOR_LOCK`]) and then reads `meta.retention_floor` in a later statement (a
//!   fresh snapshot), [`Store::expire`] raises the floor under the *exclusive* lock. So
//!   an ingest either committed before the floor moved or sees the new floor;
//! - identity links and erasure serialise on one exclusive advisory lock
//!   ([`IDENTITY_LOCK`]): merges into the smallest cluster id, and erasure reads the
//!   cluster it deletes inside the lock;
//! - bundle versions are numbered under [`BUNDLE_LOCK`]; the ETag is stored with the
//!   bytes, so every replica serves the same one;
//! - profile logs ([`super::profile_log`], migration 4) are appended in the ingest
//!   transaction (rows numbered by an identity column, so concurrent appends never
//!   collide). Merges run after the answer, in one transaction per ingest that
//!   locks the rows it merges (`FOR UPDATE SKIP LOCKED`), so ingests never wait on
//!   each other's merges, rows appended meanwhile stay, and two concurrent merges
//!   never double a signal (retention and `store copy` merge with
//!   `DELETE ... RETURNING`, inserting exactly what they deleted). The logs are
//!   built once from the signals at open, under [`MIGRATION_LOCK`], when their
//!   format marker in `meta` is not [`super::profile_log::FORMAT`].

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use slotwise::signals::Signal;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::preferences::Preferences;

use super::journeys::{
    Acked, Contact, Instance, InstanceWrite, OutboxMessage, StepDone, StepOutcome,
};
use super::postgres_journeys as journeys_sql;
use super::profile_log::{self, COMPACT_AFTER};
use super::{
    ClusterProfile, Counts, Erased, IngestDone, Ingested, Migration, PAGE_ROWS, Page, Result, Row,
    Store, StoreError, StoredBundle, anon_id, channel_of, kind_of,
};

/// The schema, in order. Applied versions are recorded in `schema_migrations`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: "
CREATE TABLE event_ids (
    event_id    BIGINT PRIMARY KEY
);
CREATE TABLE signals (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    BIGINT NOT NULL,
    kind        SMALLINT NOT NULL,
    decision_id BIGINT,
    slot        INTEGER NOT NULL,
    item        BIGINT NOT NULL,
    variant     SMALLINT NOT NULL,
    time        BIGINT NOT NULL,
    consent     SMALLINT NOT NULL,
    channel     SMALLINT NOT NULL,
    holdout     BOOLEAN NOT NULL,
    value       BIGINT,
    subject     TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX signals_subject_profile ON signals (subject, time DESC)
    INCLUDE (kind, item, channel, consent, value, event_id)
    WHERE subject IS NOT NULL;
CREATE INDEX signals_time ON signals (time, id);
CREATE TABLE identities (
    id      TEXT PRIMARY KEY,
    cluster TEXT NOT NULL
);
CREATE INDEX identities_cluster ON identities (cluster);
CREATE TABLE erased_ids (
    time     BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (time, event_id)
);
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('retention_floor', 0);
CREATE TABLE bundles (
    version      BIGINT PRIMARY KEY,
    etag         TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    bytes        BYTEA NOT NULL
);
",
    },
    Migration {
        version: 2,
        name: "journeys, outbox, contact records",
        sql: super::postgres_journeys::MIGRATION_2,
    },
    Migration {
        version: 3,
        name: "preference centre: one record per identity cluster",
        sql: "
CREATE TABLE preferences (
    cluster    TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    updated_at BIGINT NOT NULL
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
DROP INDEX signals_subject_profile;
CREATE INDEX signals_subject_time ON signals (subject, time DESC) WHERE subject IS NOT NULL;
CREATE TABLE profile_logs (
    subject TEXT NOT NULL,
    seq     BIGINT GENERATED ALWAYS AS IDENTITY,
    oldest  BIGINT NOT NULL,
    log     BYTEA NOT NULL,
    PRIMARY KEY (subject, seq)
);
",
    },
];

/// Advisory lock keys (transaction scoped). "slot" in ASCII, then a number.
const MIGRATION_LOCK: i64 = 0x736c_6f74_0000_0001;
/// Shared by ingests, exclusive while the retention floor is raised.
pub const FLOOR_LOCK: i64 = 0x736c_6f74_0000_0002;
/// Exclusive for identity links and erasure.
pub const IDENTITY_LOCK: i64 = 0x736c_6f74_0000_0003;
/// Exclusive while a bundle version is numbered.
pub const BUNDLE_LOCK: i64 = 0x736c_6f74_0000_0004;

/// Signals retention deletes per commit.
pub const EXPIRE_CHUNK: i64 = 10_000;

/// Connections per replica.
const POOL_SIZE: usize = 16;
/// How long a call waits for a connection (or to open one) before it fails (a 503).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of a transaction that hit a deadlock or serialization failure.
const ATTEMPTS: usize = 5;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// A PostgreSQL error, with the server's message when there is one.
fn pg(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError(format!("postgres: {} ({})", db.message(), db.code().code())),
        None => StoreError(format!("postgres: {e}")),
    }
}

/// Whether a failed transaction may simply be run again.
fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// PostgreSQL behind [`Store`].
pub struct PgStore {
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks; never do that on an async worker.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db?...`) and applies
    /// the pending migrations. Fails with a clear message when the database is
    /// unreachable.
    pub fn open(url: &str) -> Result<PgStore> {
        let store = PgStore::connect(url)?;
        store.migrate(true)?;
        store.run(|pool| async move {
            let mut c = get(&pool).await?;
            ensure_profile_logs(&mut c).await.map_err(pg)
        })?;
        Ok(store)
    }

    /// Connects without migrating (for `slotwise migrate --print`).
    pub fn connect(url: &str) -> Result<PgStore> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| err(format!("not a PostgreSQL URL ({}): {e}", redact(url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("slotwise");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("slotwise-postgres")
            .enable_all()
            .build()
            .map_err(err)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(err)?;
        let store = PgStore {
            runtime: Some(runtime),
            pool,
        };
        // Fail now, with the reason, when the database cannot be reached.
        let shown = redact(url);
        store.run(|pool| async move {
            let c = pool.get().await.map_err(|e| {
                err(format!(
                    "cannot connect to PostgreSQL at {shown}: {}",
                    pool_error(e)
                ))
            })?;
            c.simple_query("SELECT 1").await.map_err(pg)?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Runs `f` on the store's runtime and waits for it on this thread.
    fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let rt = self.runtime.as_ref().ok_or_else(|| err("store closed"))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let fut = f(self.pool.clone());
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        let wait = || rx.recv();
        // Called inline on a worker of a multi-threaded runtime (the server's snippet
        // path does): let that worker's other tasks move on while this one waits on
        // the network. Elsewhere (blocking pool, plain threads) just wait.
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        };
        answer.map_err(|_| err("the PostgreSQL task stopped"))?
    }

    /// The versions already applied, and the migrations still pending; with `apply`,
    /// applies the pending ones in one transaction (PostgreSQL DDL is transactional).
    pub fn migrate(&self, apply: bool) -> Result<(Vec<i64>, Vec<&'static Migration>)> {
        self.run(move |pool| async move {
            let mut c = pool.get().await.map_err(|e| err(pool_error(e)))?;
            let tx = c.transaction().await.map_err(pg)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(pg)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    BIGINT PRIMARY KEY,
                    name       TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(pg)?;
            let applied: Vec<i64> = tx
                .query(
                    "SELECT version FROM schema_migrations ORDER BY version",
                    &[],
                )
                .await
                .map_err(pg)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let pending: Vec<&'static Migration> = MIGRATIONS
                .iter()
                .filter(|m| !applied.contains(&m.version))
                .collect();
            if apply {
                for m in &pending {
                    tx.batch_execute(m.sql).await.map_err(pg)?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        &[&m.version, &m.name],
                    )
                    .await
                    .map_err(pg)?;
                }
                tx.commit().await.map_err(pg)?;
            }
            Ok((applied, pending))
        })
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg(e).0,
        deadpool_postgres::PoolError::Timeout(_) => "timed out".into(),
        other => other.to_string(),
    }
}

/// What one ingest did, and the subjects whose log rows are due a merge
/// ([`merge_logs`]) with the floor it read.
type IngestOutcome = (Ingested, Vec<String>, u64);

async fn ingest(pool: Pool, signals: Vec<Signal>, received_at: u64) -> Result<IngestOutcome> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ingest_once(&pool, &signals, received_at).await {
            Ok(done) => return Ok(done),
            Err(Some(e)) if attempt < ATTEMPTS && retryable(&e) => continue,
            Err(Some(e)) => return Err(pg(e)),
            Err(None) => return Err(err("cannot get a PostgreSQL connection")),
        }
    }
}

/// One ingest transaction; `Err(None)`: no connection.
async fn ingest_once(
    pool: &Pool,
    signals: &[Signal],
    received_at: u64,
) -> std::result::Result<IngestOutcome, Option<tokio_postgres::Error>> {
    let mut client = pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => Some(e),
        _ => None,
    })?;
    let tx = client.transaction().await?;
    // The shared lock first, then the floor in a statement of its own: its snapshot
    // is taken after any raise of the floor that held the lock has committed.
    tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&FLOOR_LOCK])
        .await?;
    let floor: i64 = tx
        .query_one("SELECT value FROM meta WHERE key = 'retention_floor'", &[])
        .await?
        .get(0);
    let floor = floor.max(0) as u64;
    let keep: Vec<&Signal> = signals.iter().filter(|s| s.time >= floor).collect();
    let expired = (signals.len() - keep.len()) as u64;
    let mut ids: Vec<i64> = keep.iter().map(|s| s.event_id as i64).collect();
    ids.sort_unstable();
    ids.dedup();
    let claim = tx
        .prepare_cached(
            "INSERT INTO event_ids (event_id) SELECT unnest($1::bigint[])
             ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .await?;
    let claimed: HashSet<i64> = tx
        .query(&claim, &[&ids])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The first signal of each newly claimed id is stored; the rest are duplicates.
    let mut taken = HashSet::with_capacity(claimed.len());
    let new: Vec<&Signal> = keep
        .into_iter()
        .filter(|s| {
            let id = s.event_id as i64;
            claimed.contains(&id) && taken.insert(id)
        })
        .collect();
    let mut due = Vec::new();
    if !new.is_empty() {
        let insert = tx.prepare_cached(INSERT_SIGNALS).await?;
        let c = Columns::of(&new, received_at);
        tx.execute(&insert, &c.params()).await?;
        // The profile logs in the same transaction: never behind an acknowledged event.
        due = append_logs(&tx, &new).await?;
    }
    tx.commit().await?;
    let stored = new.len() as u64;
    let done = Ingested {
        stored,
        duplicates: signals.len() as u64 - stored - expired,
        expired,
    };
    Ok((done, due, floor))
}

const INSERT_SIGNALS: &str = "INSERT INTO signals (event_id, kind, decision_id, slot, item, \
    variant, time, consent, channel, holdout, value, subject, received_at) \
    SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::integer[], \
    $5::bigint[], $6::smallint[], $7::bigint[], $8::smallint[], $9::smallint[], \
    $10::boolean[], $11::bigint[], $12::text[], $13::bigint[])";

/// Signals as column arrays for one `unnest` insert.
#[derive(Default)]
struct Columns {
    event_id: Vec<i64>,
    kind: Vec<i16>,
    decision_id: Vec<Option<i64>>,
    slot: Vec<i32>,
    item: Vec<i64>,
    variant: Vec<i16>,
    time: Vec<i64>,
    consent: Vec<i16>,
    channel: Vec<i16>,
    holdout: Vec<bool>,
    value: Vec<Option<i64>>,
    subject: Vec<Option<String>>,
    received_at: Vec<i64>,
}

impl Columns {
    /// The columns as `INSERT_SIGNALS`'s parameters, in its order.
    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 13] {
        [
            &self.event_id,
            &self.kind,
            &self.decision_id,
            &self.slot,
            &self.item,
            &self.variant,
            &self.time,
            &self.consent,
            &self.channel,
            &self.holdout,
            &self.value,
            &self.subject,
            &self.received_at,
        ]
    }

    fn of(signals: &[&Signal], received_at: u64) -> Columns {
        let mut c = Columns::default();
        for s in signals {
            c.push(s, received_at);
        }
        c
    }

    fn push(&mut self, s: &Signal, received_at: u64) {
        self.event_id.push(s.event_id as i64);
        self.kind.push(i16::from(s.kind as u8));
        self.decision_id.push(s.decision_id.map(|d| d as i64));
        self.slot.push(i32::from(s.slot));
        self.item.push(i64::from(s.item));
        self.variant.push(i16::from(s.variant));
        self.time.push(s.time as i64);
        self.consent.push(i16::from(s.consent));
        self.channel.push(i16::from(s.channel as u8));
        self.holdout.push(s.holdout);
        self.value.push(s.value.map(|v| v as i64));
        self.subject.push(s.subject.map(anon_id));
        self.received_at.push(received_at as i64);
    }
}

const ROW_COLUMNS: &str = "s.event_id, s.kind, s.decision_id, s.slot, s.item, s.variant, s.time,
    s.consent, s.channel, s.holdout, s.value, s.subject";

fn bad(what: &str) -> StoreError {
    err(format!("a stored {what} is out of range"))
}

/// A [`ROW_COLUMNS`] row (then the cluster, when selected).
fn signal_of(r: &tokio_postgres::Row) -> Result<Signal> {
    let subject: Option<String> = r.try_get(11).map_err(pg)?;
    Ok(Signal {
        kind: kind_of(i64::from(r.try_get::<_, i16>(1).map_err(pg)?)).ok_or_else(|| bad("kind"))?,
        event_id: r.try_get::<_, i64>(0).map_err(pg)? as u64,
        decision_id: r
            .try_get::<_, Option<i64>>(2)
            .map_err(pg)?
            .map(|d| d as u64),
        slot: u16::try_from(r.try_get::<_, i32>(3).map_err(pg)?).map_err(|_| bad("slot"))?,
        item: u32::try_from(r.try_get::<_, i64>(4).map_err(pg)?).map_err(|_| bad("item"))?,
        variant: u8::try_from(r.try_get::<_, i16>(5).map_err(pg)?).map_err(|_| bad("variant"))?,
        time: r.try_get::<_, i64>(6).map_err(pg)? as u64,
        consent: u8::try_from(r.try_get::<_, i16>(7).map_err(pg)?).map_err(|_| bad("consent"))?,
        channel: channel_of(i64::from(r.try_get::<_, i16>(8).map_err(pg)?))
            .ok_or_else(|| bad("channel"))?,
        holdout: r.try_get(9).map_err(pg)?,
        value: r
            .try_get::<_, Option<i64>>(10)
            .map_err(pg)?
            .map(|v| v as u64),
        subject: subject
            .as_deref()
            .and_then(|s| s.strip_prefix("anon:"))
            .and_then(|h| u64::from_str_radix(h, 16).ok()),
    })
}

fn row_of(r: &tokio_postgres::Row, with_cluster: bool) -> Result<Row> {
    Ok(Row {
        signal: signal_of(r)?,
        subject: r.try_get(11).map_err(pg)?,
        cluster: if with_cluster {
            r.try_get(12).map_err(pg)?
        } else {
            None
        },
    })
}

async fn get(pool: &Pool) -> Result<deadpool_postgres::Object> {
    pool.get().await.map_err(|e| err(pool_error(e)))
}

async fn cluster_of(
    c: &impl deadpool_postgres::GenericClient,
    id: &str,
) -> Result<(String, Vec<String>)> {
    let cluster: Option<String> = c
        .query_opt("SELECT cluster FROM identities WHERE id = $1", &[&id])
        .await
        .map_err(pg)?
        .map(|r| r.get(0));
    let Some(cluster) = cluster else {
        return Ok((id.to_string(), vec![id.to_string()]));
    };
    let ids = c
        .query(
            "SELECT id FROM identities WHERE cluster = $1 ORDER BY id",
            &[&cluster],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok((cluster, ids))
}

impl Store for PgStore {
    fn ingest_then(&self, signals: Vec<Signal>, received_at: u64, done: IngestDone) {
        let Some(rt) = self.runtime.as_ref() else {
            return done(Err(err("store closed")));
        };
        let pool = self.pool.clone();
        rt.spawn(async move {
            match ingest(pool.clone(), signals, received_at).await {
                Ok((ingested, due, floor)) => {
                    done(Ok(ingested));
                    // After the answer, in transactions of their own: a merge only
                    // reorganises rows, and ingests never wait on each other's merges.
                    merge_logs(&pool, &due, floor).await;
                }
                Err(e) => done(Err(e)),
            }
        });
    }

    fn link(&self, ids: &[String]) -> Result<String> {
        // An id given twice would make the upsert below touch its row twice (an error).
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            let tx = c.transaction().await.map_err(pg)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IDENTITY_LOCK])
                .await
                .map_err(pg)?;
            let mut clusters = Vec::new();
            for id in &ids {
                let c: Option<String> = tx
                    .query_opt("SELECT cluster FROM identities WHERE id = $1", &[id])
                    .await
                    .map_err(pg)?
                    .map(|r| r.get(0));
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
                        "UPDATE identities SET cluster = $1 WHERE cluster = $2",
                        &[&target, c],
                    )
                    .await
                    .map_err(pg)?;
                }
            }
            tx.execute(
                "INSERT INTO identities (id, cluster) SELECT unnest($1::text[]), $2
                 ON CONFLICT (id) DO UPDATE SET cluster = excluded.cluster",
                &[&ids, &target],
            )
            .await
            .map_err(pg)?;
            merge_preferences(&tx, &target, &clusters).await?;
            tx.commit().await.map_err(pg)?;
            Ok(target)
        })
    }

    fn cluster(&self, id: &str) -> Result<(String, Vec<String>)> {
        let id = id.to_string();
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            cluster_of(&c, &id).await
        })
    }

    fn subject_signals(&self, ids: &[String], limit: usize) -> Result<Vec<Row>> {
        let ids = ids.to_vec();
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM signals s
                 WHERE s.subject = $1 ORDER BY s.time DESC LIMIT $2"
            );
            let stmt = c.prepare_cached(&sql).await.map_err(pg)?;
            let mut out = Vec::new();
            for id in &ids {
                for r in c.query(&stmt, &[id, &(limit as i64)]).await.map_err(pg)? {
                    out.push(row_of(&r, false)?);
                }
            }
            out.sort_by_key(|r: &Row| std::cmp::Reverse(r.signal.time));
            out.truncate(limit);
            Ok(out)
        })
    }

    fn profile_log(&self, ids: &[String]) -> Result<Vec<Signal>> {
        let ids = ids.to_vec();
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            let logs = read_logs(&c, &ids).await?;
            profile_of(&c, &ids, &logs).await
        })
    }

    fn cluster_profiles(&self, ids: &[String]) -> Result<Vec<ClusterProfile>> {
        let ids = ids.to_vec();
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            // Three reads for the whole chunk: the ids' clusters, the clusters' ids,
            // and their log rows.
            let cluster_of: std::collections::HashMap<String, String> = c
                .query(
                    "SELECT id, cluster FROM identities WHERE id = ANY($1)",
                    &[&ids],
                )
                .await
                .map_err(pg)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let clusters: Vec<&String> = cluster_of.values().collect();
            let mut members: std::collections::HashMap<String, Vec<String>> =
                std::collections::HashMap::new();
            for r in c
                .query(
                    "SELECT id, cluster FROM identities WHERE cluster = ANY($1) ORDER BY id",
                    &[&clusters],
                )
                .await
                .map_err(pg)?
            {
                members.entry(r.get(1)).or_default().push(r.get(0));
            }
            let mut out: Vec<ClusterProfile> = ids
                .iter()
                .map(|id| {
                    let cluster = cluster_of.get(id).cloned().unwrap_or_else(|| id.clone());
                    let ids = members
                        .get(&cluster)
                        .cloned()
                        .unwrap_or_else(|| vec![id.clone()]);
                    ClusterProfile {
                        cluster,
                        ids,
                        signals: Vec::new(),
                    }
                })
                .collect();
            let mut all: Vec<String> = out.iter().flat_map(|p| p.ids.iter().cloned()).collect();
            all.sort_unstable();
            all.dedup();
            let logs = read_logs(&c, &all).await?;
            for p in &mut out {
                p.signals = profile_of(&c, &p.ids, &logs).await?;
            }
            Ok(out)
        })
    }

    fn erase(&self, id: &str) -> Result<Erased> {
        let id = id.to_string();
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            let tx = c.transaction().await.map_err(pg)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IDENTITY_LOCK])
                .await
                .map_err(pg)?;
            let (cluster, ids) = cluster_of(&tx, &id).await?;
            // The bare ids stay claimed (a replay stores nothing); their times let
            // retention forget them later.
            tx.execute(
                "INSERT INTO erased_ids (time, event_id)
                 SELECT time, event_id FROM signals WHERE subject = ANY($1)
                 ON CONFLICT DO NOTHING",
                &[&ids],
            )
            .await
            .map_err(pg)?;
            let signals = tx
                .execute("DELETE FROM signals WHERE subject = ANY($1)", &[&ids])
                .await
                .map_err(pg)?;
            journeys_sql::erase(&tx, &ids).await.map_err(pg)?;
            tx.execute("DELETE FROM profile_logs WHERE subject = ANY($1)", &[&ids])
                .await
                .map_err(pg)?;
            let idents = tx
                .execute("DELETE FROM identities WHERE cluster = $1", &[&cluster])
                .await
                .map_err(pg)?;
            tx.execute("DELETE FROM preferences WHERE cluster = $1", &[&cluster])
                .await
                .map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            Ok(Erased {
                ids: idents,
                signals,
            })
        })
    }

    fn signals_between(&self, since: u64, until: u64) -> Result<Vec<Row>> {
        let (since, until) = (
            since.min(i64::MAX as u64) as i64,
            until.min(i64::MAX as u64) as i64,
        );
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            let sql = format!(
                "SELECT {ROW_COLUMNS}, i.cluster FROM signals s
                 LEFT JOIN identities i ON i.id = s.subject
                 WHERE s.time >= $1 AND s.time < $2 ORDER BY s.time, s.id"
            );
            c.query(&sql, &[&since, &until])
                .await
                .map_err(pg)?
                .iter()
                .map(|r| row_of(r, true))
                .collect()
        })
    }

    fn expire(&self, before: u64) -> Result<u64> {
        let before = before.min(i64::MAX as u64) as i64;
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            // First the floor, under the exclusive lock: ingests in flight commit
            // first, later ones see the new floor.
            let floor: i64 = {
                let tx = c.transaction().await.map_err(pg)?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FLOOR_LOCK])
                    .await
                    .map_err(pg)?;
                let floor = tx
                    .query_one(
                        "UPDATE meta SET value = GREATEST(value, $1)
                         WHERE key = 'retention_floor' RETURNING value",
                        &[&before],
                    )
                    .await
                    .map_err(pg)?
                    .get(0);
                tx.commit().await.map_err(pg)?;
                floor
            };
            // Then chunks: each deletes signals and their ids in one statement.
            let mut deleted = 0u64;
            loop {
                let n: i64 = c
                    .query_one(
                        "WITH gone AS (
                             DELETE FROM signals WHERE id IN (
                                 SELECT id FROM signals WHERE time < $1
                                 ORDER BY time, id LIMIT $2)
                             RETURNING event_id),
                         ids AS (
                             DELETE FROM event_ids e USING gone g
                             WHERE e.event_id = g.event_id)
                         SELECT count(*) FROM gone",
                        &[&floor, &EXPIRE_CHUNK],
                    )
                    .await
                    .map_err(pg)?
                    .get(0);
                deleted += n as u64;
                if n == 0 {
                    break;
                }
            }
            // Reads skip log entries below the floor already; now drop them.
            loop {
                let subjects: Vec<String> = c
                    .query(
                        "SELECT DISTINCT subject FROM profile_logs WHERE oldest < $1 LIMIT $2",
                        &[&floor, &EXPIRE_CHUNK],
                    )
                    .await
                    .map_err(pg)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                if subjects.is_empty() {
                    break;
                }
                let tx = c.transaction().await.map_err(pg)?;
                for subject in &subjects {
                    compact_log(&tx, subject, floor as u64, true)
                        .await
                        .map_err(pg)?;
                }
                tx.commit().await.map_err(pg)?;
            }
            loop {
                let n: i64 = c
                    .query_one(
                        "WITH gone AS (
                             DELETE FROM erased_ids WHERE (time, event_id) IN (
                                 SELECT time, event_id FROM erased_ids WHERE time < $1
                                 ORDER BY time LIMIT $2)
                             RETURNING event_id),
                         ids AS (
                             DELETE FROM event_ids e USING gone g
                             WHERE e.event_id = g.event_id)
                         SELECT count(*) FROM gone",
                        &[&floor, &EXPIRE_CHUNK],
                    )
                    .await
                    .map_err(pg)?
                    .get(0);
                if n == 0 {
                    break;
                }
            }
            // Journeys that ended and messages delivered before the floor go too.
            journeys_sql::expire(&c, floor).await.map_err(pg)?;
            Ok(deleted)
        })
    }

    fn publish_bundle(&self, bytes: &[u8], etag: &str, now: u64) -> Result<u64> {
        self.publish_bundle_journeys(bytes, etag, now, None)
    }

    fn bundle_version(&self) -> Result<Option<u64>> {
        self.run(|pool| async move {
            let c = get(&pool).await?;
            let stmt = c
                .prepare_cached("SELECT MAX(version) FROM bundles")
                .await
                .map_err(pg)?;
            let v: Option<i64> = c.query_one(&stmt, &[]).await.map_err(pg)?.get(0);
            Ok(v.map(|v| v as u64))
        })
    }

    fn current_bundle(&self) -> Result<Option<StoredBundle>> {
        self.run(|pool| async move {
            let c = get(&pool).await?;
            let r = c
                .query_opt(
                    "SELECT version, etag, published_at, bytes FROM bundles
                     ORDER BY version DESC LIMIT 1",
                    &[],
                )
                .await
                .map_err(pg)?;
            Ok(r.map(|r| StoredBundle {
                version: r.get::<_, i64>(0) as u64,
                etag: r.get(1),
                published_at: r.get::<_, i64>(2) as u64,
                bytes: r.get(3),
            }))
        })
    }

    fn counts(&self) -> Result<Counts> {
        self.run(|pool| async move {
            let c = get(&pool).await?;
            let r = c
                .query_one(
                    "SELECT (SELECT COUNT(*) FROM signals), (SELECT COUNT(*) FROM identities),
                            (SELECT COUNT(*) FROM bundles)",
                    &[],
                )
                .await
                .map_err(pg)?;
            Ok(Counts {
                signals: r.get::<_, i64>(0) as u64,
                identities: r.get::<_, i64>(1) as u64,
                bundles: r.get::<_, i64>(2) as u64,
            })
        })
    }

    fn dump(&self, each: &mut dyn FnMut(Page) -> Result<()>) -> Result<()> {
        // The pages are read on the store's runtime in one REPEATABLE READ snapshot
        // and handed to `each` on this thread through a small channel.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Page>>(2);
        let rt = self.runtime.as_ref().ok_or_else(|| err("store closed"))?;
        let pool = self.pool.clone();
        rt.spawn(async move {
            let send = tx.clone();
            if let Err(e) = dump_pages(pool, move |p| send.send(Ok(p)).is_ok()).await {
                let _ = tx.send(Err(e));
            }
        });
        for page in rx {
            each(page?)?;
        }
        Ok(())
    }

    fn load(&self, page: Page) -> Result<()> {
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            let tx = c.transaction().await.map_err(pg)?;
            load_page(&tx, page).await.map_err(pg)?;
            tx.commit().await.map_err(pg)
        })
    }

    // ---- Preference centre (issue 10) ----

    fn preferences(&self, id: &str) -> Result<Option<Preferences>> {
        let id = id.to_string();
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            let stmt = c
                .prepare_cached(
                    "SELECT doc FROM preferences WHERE cluster =
                         COALESCE((SELECT cluster FROM identities WHERE id = $1), $1)",
                )
                .await
                .map_err(pg)?;
            Ok(c.query_opt(&stmt, &[&id])
                .await
                .map_err(pg)?
                .map(|r| Preferences::from_json(r.get(0))))
        })
    }

    fn all_preferences(&self) -> Result<Vec<(String, Preferences)>> {
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            Ok(c.query("SELECT cluster, doc FROM preferences", &[])
                .await
                .map_err(pg)?
                .iter()
                .map(|r| (r.get(0), Preferences::from_json(r.get(1))))
                .collect())
        })
    }

    fn set_preferences(&self, id: &str, prefs: &Preferences, now: u64) -> Result<()> {
        let (id, doc, now) = (
            id.to_string(),
            prefs.to_json(),
            now.min(i64::MAX as u64) as i64,
        );
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            let tx = c.transaction().await.map_err(pg)?;
            // Under the identity lock: a link running meanwhile cannot leave the
            // record behind under a cluster id it just merged away.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IDENTITY_LOCK])
                .await
                .map_err(pg)?;
            tx.execute(
                "INSERT INTO preferences (cluster, doc, updated_at)
                 VALUES (COALESCE((SELECT cluster FROM identities WHERE id = $1), $1), $2, $3)
                 ON CONFLICT (cluster) DO UPDATE SET doc = excluded.doc,
                     updated_at = excluded.updated_at",
                &[&id, &doc, &now],
            )
            .await
            .map_err(pg)?;
            tx.commit().await.map_err(pg)
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
        let now = now.min(i64::MAX as u64) as i64;
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            let tx = c.transaction().await.map_err(pg)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&BUNDLE_LOCK])
                .await
                .map_err(pg)?;
            let version: i64 = tx
                .query_one(
                    "INSERT INTO bundles (version, etag, published_at, bytes)
                     SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $3 FROM bundles
                     RETURNING version",
                    &[&etag, &now, &bytes],
                )
                .await
                .map_err(pg)?
                .get(0);
            if let Some(j) = &journeys {
                journeys_sql::set_bundle_journeys(&tx, version, j)
                    .await
                    .map_err(pg)?;
            }
            tx.commit().await.map_err(pg)?;
            Ok(version as u64)
        })
    }

    fn bundle_journeys(&self, version: u64) -> Result<Option<String>> {
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            journeys_sql::bundle_journeys(&c, version).await.map_err(pg)
        })
    }

    fn journey_instances(&self, ids: &[String]) -> Result<Vec<Instance>> {
        let ids = ids.to_vec();
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            journeys_sql::instances(&c, &ids).await.map_err(pg)
        })
    }

    fn journey_write(&self, writes: Vec<InstanceWrite>) -> Result<()> {
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            let tx = c.transaction().await.map_err(pg)?;
            journeys_sql::write(&tx, &writes).await.map_err(pg)?;
            tx.commit().await.map_err(pg)
        })
    }

    fn journey_claim(&self, now: u64, lease_until: u64, limit: usize) -> Result<Vec<Instance>> {
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            journeys_sql::claim(&c, now, lease_until, limit)
                .await
                .map_err(pg)
        })
    }

    fn journey_step(&self, done: StepDone, now: u64) -> Result<StepOutcome> {
        self.run(move |pool| async move {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut c = get(&pool).await?;
                let tx = c.transaction().await.map_err(pg)?;
                match journeys_sql::step(&tx, &done, now).await {
                    Ok(outcome) => {
                        tx.commit().await.map_err(pg)?;
                        return Ok(outcome);
                    }
                    Err(e) if attempt < ATTEMPTS && retryable(&e) => continue,
                    Err(e) => return Err(pg(e)),
                }
            }
        })
    }

    fn outbox_pull(&self, now: u64, lease_until: u64, limit: usize) -> Result<Vec<OutboxMessage>> {
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            journeys_sql::pull(&c, now, lease_until, limit)
                .await
                .map_err(pg)
        })
    }

    fn outbox_ack(&self, ids: &[i64], now: u64) -> Result<Vec<Acked>> {
        let ids = ids.to_vec();
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            let tx = c.transaction().await.map_err(pg)?;
            let out = journeys_sql::ack(&tx, &ids, now).await.map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            Ok(out)
        })
    }

    fn outbox_sent(&self, ids: &[String], since: u64) -> Result<u64> {
        let ids = ids.to_vec();
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            journeys_sql::sent(&c, &ids, since).await.map_err(pg)
        })
    }

    fn contact_set(&self, contact: Contact) -> Result<u64> {
        self.run(move |pool| async move {
            let mut c = get(&pool).await?;
            let tx = c.transaction().await.map_err(pg)?;
            let removed = journeys_sql::set_contact(&tx, &contact).await.map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            Ok(removed)
        })
    }

    fn contacts(&self, ids: &[String]) -> Result<Vec<Contact>> {
        let ids = ids.to_vec();
        self.run(move |pool| async move {
            let c = get(&pool).await?;
            journeys_sql::contacts(&c, &ids).await.map_err(pg)
        })
    }
}

/// Inside a link's transaction: the preference records of the merged `clusters` become
/// one record of `target` ([`Preferences::merge`]: a mute in either wins).
async fn merge_preferences(
    tx: &deadpool_postgres::Transaction<'_>,
    target: &str,
    clusters: &[String],
) -> Result<()> {
    let rows = tx
        .query(
            "DELETE FROM preferences WHERE cluster = ANY($1) RETURNING doc, updated_at",
            &[&clusters],
        )
        .await
        .map_err(pg)?;
    let mut merged: Option<Preferences> = None;
    let mut updated = 0i64;
    for r in &rows {
        let p = Preferences::from_json(r.get(0));
        merged = Some(merged.map_or_else(|| p.clone(), |m| m.merge(&p)));
        updated = updated.max(r.get(1));
    }
    if let Some(merged) = merged {
        tx.execute(
            "INSERT INTO preferences (cluster, doc, updated_at) VALUES ($1, $2, $3)",
            &[&target, &merged.to_json(), &updated],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Reads every page in one snapshot and hands each to `send` (false: stop).
async fn dump_pages(pool: Pool, send: impl Fn(Page) -> bool) -> Result<()> {
    let mut c = get(&pool).await?;
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg)?;
    let rows = PAGE_ROWS as i64;
    let floor: i64 = tx
        .query_one("SELECT value FROM meta WHERE key = 'retention_floor'", &[])
        .await
        .map_err(pg)?
        .get(0);
    if !send(Page::Floor(floor.max(0) as u64)) {
        return Ok(());
    }
    let bundles = tx
        .query(
            "SELECT version, etag, published_at, bytes FROM bundles ORDER BY version",
            &[],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| StoredBundle {
            version: r.get::<_, i64>(0) as u64,
            etag: r.get(1),
            published_at: r.get::<_, i64>(2) as u64,
            bytes: r.get(3),
        })
        .collect();
    if !send(Page::Bundles(bundles)) {
        return Ok(());
    }
    let mut after = String::new();
    loop {
        let page: Vec<(String, String)> = tx
            .query(
                "SELECT id, cluster FROM identities WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &rows],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        if !send(Page::Identities(page)) {
            return Ok(());
        }
    }
    let mut after = String::new();
    loop {
        let page: Vec<(String, String, u64)> = tx
            .query(
                "SELECT cluster, doc, updated_at FROM preferences WHERE cluster > $1
                 ORDER BY cluster LIMIT $2",
                &[&after, &rows],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2).max(0) as u64))
            .collect();
        let Some((last, _, _)) = page.last() else {
            break;
        };
        after = last.clone();
        if !send(Page::Preferences(page)) {
            return Ok(());
        }
    }
    let mut after = 0i64;
    let sql = format!(
        "SELECT {ROW_COLUMNS}, s.received_at, s.id FROM signals s
         WHERE s.id > $1 ORDER BY s.id LIMIT $2"
    );
    loop {
        let found = tx.query(&sql, &[&after, &rows]).await.map_err(pg)?;
        let Some(last) = found.last() else { break };
        after = last.get(13);
        let page = found
            .iter()
            .map(|r| Ok((signal_of(r)?, r.get::<_, i64>(12) as u64)))
            .collect::<Result<Vec<_>>>()?;
        if !send(Page::Signals(page)) {
            return Ok(());
        }
    }
    let mut after = (-1i64, 0i64);
    loop {
        let page: Vec<(i64, i64)> = tx
            .query(
                "SELECT time, event_id FROM erased_ids WHERE (time, event_id) > ($1, $2)
                 ORDER BY time, event_id LIMIT $3",
                &[&after.0, &after.1, &rows],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let Some(&last) = page.last() else { break };
        after = last;
        let page = page
            .into_iter()
            .map(|(t, id)| (t as u64, id as u64))
            .collect();
        if !send(Page::ErasedIds(page)) {
            return Ok(());
        }
    }
    journeys_sql::dump(&tx, &send).await.map_err(pg)
}

/// One page of another store's dump, inside the caller's transaction.
async fn load_page(
    tx: &deadpool_postgres::Transaction<'_>,
    page: Page,
) -> std::result::Result<(), tokio_postgres::Error> {
    match page {
        Page::Floor(floor) => {
            tx.execute(
                "UPDATE meta SET value = GREATEST(value, $1) WHERE key = 'retention_floor'",
                &[&(floor.min(i64::MAX as u64) as i64)],
            )
            .await?;
        }
        Page::Bundles(bundles) => {
            for b in bundles {
                tx.execute(
                    "INSERT INTO bundles (version, etag, published_at, bytes)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[
                        &(b.version as i64),
                        &b.etag,
                        &(b.published_at as i64),
                        &b.bytes,
                    ],
                )
                .await?;
            }
        }
        Page::Identities(links) => {
            let (ids, clusters): (Vec<String>, Vec<String>) = links.into_iter().unzip();
            tx.execute(
                "INSERT INTO identities (id, cluster)
                 SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&ids, &clusters],
            )
            .await?;
        }
        Page::Preferences(records) => {
            for (cluster, doc, at) in records {
                tx.execute(
                    "INSERT INTO preferences (cluster, doc, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&cluster, &doc, &(at.min(i64::MAX as u64) as i64)],
                )
                .await?;
            }
        }
        Page::Signals(signals) => {
            let ids: Vec<i64> = signals.iter().map(|(s, _)| s.event_id as i64).collect();
            let claimed: HashSet<i64> = tx
                .query(
                    "INSERT INTO event_ids (event_id) SELECT unnest($1::bigint[])
                     ON CONFLICT DO NOTHING RETURNING event_id",
                    &[&ids],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut c = Columns::default();
            let mut taken = HashSet::new();
            for (s, at) in &signals {
                let id = s.event_id as i64;
                if claimed.contains(&id) && taken.insert(id) {
                    c.push(s, *at);
                }
            }
            if !c.event_id.is_empty() {
                tx.execute(INSERT_SIGNALS, &c.params()).await?;
                // Profile logs are rebuilt from the copied signals, not copied.
                let new: Vec<&Signal> = signals
                    .iter()
                    .filter(|(s, _)| taken.contains(&(s.event_id as i64)))
                    .map(|(s, _)| s)
                    .collect();
                let floor: i64 = tx
                    .query_one("SELECT value FROM meta WHERE key = 'retention_floor'", &[])
                    .await?
                    .get(0);
                for subject in append_logs(tx, &new).await? {
                    compact_log(tx, &subject, floor.max(0) as u64, false).await?;
                }
            }
        }
        Page::ErasedIds(erased) => {
            let (times, ids): (Vec<i64>, Vec<i64>) = erased
                .into_iter()
                .map(|(t, id)| (t as i64, id as i64))
                .unzip();
            tx.execute(
                "INSERT INTO event_ids (event_id) SELECT unnest($1::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&ids],
            )
            .await?;
            tx.execute(
                "INSERT INTO erased_ids (time, event_id)
                 SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING",
                &[&times, &ids],
            )
            .await?;
        }
        page @ (Page::BundleJourneys(_)
        | Page::JourneyInstances(_)
        | Page::Outbox(_)
        | Page::Contacts(_)) => journeys_sql::load(tx, &page).await?,
    }
    Ok(())
}

/// The log rows of `ids` and the retention floor, read in one statement.
struct Logs {
    floor: u64,
    rows: std::collections::HashMap<String, Vec<Vec<u8>>>,
}

async fn read_logs(c: &deadpool_postgres::Object, ids: &[String]) -> Result<Logs> {
    let stmt = c
        .prepare_cached(
            "SELECT (SELECT value FROM meta WHERE key = 'retention_floor'), p.subject, p.log
             FROM unnest($1::text[]) AS i(id) JOIN profile_logs p ON p.subject = i.id",
        )
        .await
        .map_err(pg)?;
    let mut logs = Logs {
        floor: 0,
        rows: std::collections::HashMap::new(),
    };
    for r in c.query(&stmt, &[&ids]).await.map_err(pg)? {
        logs.floor = r.get::<_, i64>(0).max(0) as u64;
        logs.rows.entry(r.get(1)).or_default().push(r.get(2));
    }
    // Without rows the floor stays 0: there is nothing it could hide.
    Ok(logs)
}

/// The profile of `ids` from `logs`: a subject whose rows do not decode is read from
/// its signals instead (never served wrong).
async fn profile_of(
    c: &deadpool_postgres::Object,
    ids: &[String],
    logs: &Logs,
) -> Result<Vec<Signal>> {
    let mut out = Vec::new();
    for id in ids {
        let Some(rows) = logs.rows.get(id) else {
            continue;
        };
        let start = out.len();
        if rows
            .iter()
            .any(|row| profile_log::decode_into(row, &mut out).is_err())
        {
            out.truncate(start);
            out.extend(subject_log_from_signals(&***c, id).await.map_err(pg)?);
        }
    }
    Ok(profile_log::finish(out, logs.floor))
}

const INSERT_LOGS: &str = "INSERT INTO profile_logs (subject, oldest, log)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])";

/// Appends one log row per subject of `new` (signals just stored in `tx`); returns
/// the subjects due a merge: [`COMPACT_AFTER`] rows (or two after a large append).
async fn append_logs(
    tx: &deadpool_postgres::Transaction<'_>,
    new: &[&Signal],
) -> std::result::Result<Vec<String>, tokio_postgres::Error> {
    let mut by_subject: std::collections::BTreeMap<u64, Vec<Signal>> =
        std::collections::BTreeMap::new();
    for s in new {
        if let Some(subject) = s.subject {
            by_subject.entry(subject).or_default().push(**s);
        }
    }
    if by_subject.is_empty() {
        return Ok(Vec::new());
    }
    let mut subjects = Vec::with_capacity(by_subject.len());
    let mut oldest = Vec::with_capacity(by_subject.len());
    let mut logs = Vec::with_capacity(by_subject.len());
    // Large appends merge from two rows on ([`profile_log::should_merge`]).
    let mut large = Vec::new();
    for (subject, signals) in &by_subject {
        if profile_log::should_merge(2, signals.len()) {
            large.push(anon_id(*subject));
        }
        subjects.push(anon_id(*subject));
        oldest.push(profile_log::oldest(signals) as i64);
        logs.push(profile_log::encode(signals));
    }
    let insert = tx.prepare_cached(INSERT_LOGS).await?;
    tx.execute(&insert, &[&subjects, &oldest, &logs]).await?;
    let full = tx
        .prepare_cached(
            "SELECT subject FROM profile_logs WHERE subject = ANY($1) GROUP BY subject
             HAVING count(*) >= $2 OR (count(*) >= 2 AND subject = ANY($3)) ORDER BY subject",
        )
        .await?;
    Ok(tx
        .query(&full, &[&subjects, &(COMPACT_AFTER as i64), &large])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Merges the log rows of `subjects` in one transaction, best effort (a failed merge
/// leaves the rows as they are, complete; the next ingest of a subject tries again).
/// Only the rows it locks are merged (`FOR UPDATE SKIP LOCKED`): appends go on beside
/// it, and a concurrent merge of the same subject takes the other rows. It commits
/// without waiting for the flush (`synchronous_commit = off`): a merge lost in a
/// crash leaves the rows it would have merged, as they were.
async fn merge_logs(pool: &Pool, subjects: &[String], floor: u64) {
    if subjects.is_empty() {
        return;
    }
    if let Ok(mut c) = pool.get().await {
        let _ = merge_locked(&mut c, subjects, floor).await;
    }
}

async fn merge_locked(
    c: &mut deadpool_postgres::Object,
    subjects: &[String],
    floor: u64,
) -> std::result::Result<(), tokio_postgres::Error> {
    let tx = c.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await?;
    let rows = tx
        .query(
            "SELECT subject, seq, log FROM profile_logs WHERE subject = ANY($1)
             ORDER BY subject FOR UPDATE SKIP LOCKED",
            &[&subjects],
        )
        .await?;
    let (mut gone_subjects, mut gone_seqs) = (Vec::<&str>::new(), Vec::<i64>::new());
    let (mut subjects, mut oldest, mut logs) = (Vec::<&str>::new(), Vec::new(), Vec::new());
    for group in rows.chunk_by(|a, b| a.get::<_, &str>(0) == b.get::<_, &str>(0)) {
        if group.len() < 2 {
            continue;
        }
        let subject: &str = group[0].get(0);
        let lens: Vec<usize> = group
            .iter()
            .map(|r| profile_log::len(r.get::<_, &[u8]>(2)))
            .collect();
        let base = profile_log::base_row(&lens);
        let mut out = Vec::new();
        let mut seqs = Vec::new();
        // A row that does not decode stays, with its subject's others: reads serve
        // that subject from its signals meanwhile.
        let decoded = group.iter().enumerate().all(|(k, r)| {
            Some(k) == base || {
                seqs.push(r.get::<_, i64>(1));
                profile_log::decode_into(r.get::<_, &[u8]>(2), &mut out).is_ok()
            }
        });
        if !decoded {
            continue;
        }
        gone_subjects.extend(std::iter::repeat_n(subject, seqs.len()));
        gone_seqs.extend(seqs);
        let merged = profile_log::finish(out, floor);
        if !merged.is_empty() {
            subjects.push(subject);
            oldest.push(profile_log::oldest(&merged) as i64);
            logs.push(profile_log::encode(&merged));
        }
    }
    if gone_seqs.is_empty() {
        return Ok(());
    }
    tx.execute(
        "DELETE FROM profile_logs p USING unnest($1::text[], $2::bigint[]) AS g(subject, seq)
         WHERE p.subject = g.subject AND p.seq = g.seq",
        &[&gone_subjects, &gone_seqs],
    )
    .await?;
    if !subjects.is_empty() {
        let insert = tx.prepare_cached(INSERT_LOGS).await?;
        tx.execute(&insert, &[&subjects, &oldest, &logs]).await?;
    }
    tx.commit().await
}

/// Merges the log rows of `subject` this transaction can see: all into one, or —
/// unless `full`, while the small rows are few ([`profile_log::base_row`]) — the
/// small rows into one beside the large row. Rows another transaction appends
/// meanwhile are not touched, and only the rows this `DELETE ... RETURNING` took are
/// merged (a concurrent merge took the others): nothing is lost or doubled.
async fn compact_log(
    tx: &deadpool_postgres::Transaction<'_>,
    subject: &str,
    floor: u64,
    full: bool,
) -> std::result::Result<(), tokio_postgres::Error> {
    let keep: i64 = if full {
        -1
    } else {
        let rows = tx
            .query(
                "SELECT seq, log FROM profile_logs WHERE subject = $1",
                &[&subject],
            )
            .await?;
        let lens: Vec<usize> = rows
            .iter()
            .map(|r| profile_log::len(r.get::<_, &[u8]>(1)))
            .collect();
        profile_log::base_row(&lens).map_or(-1, |b| rows[b].get(0))
    };
    let delete = tx
        .prepare_cached("DELETE FROM profile_logs WHERE subject = $1 AND seq <> $2 RETURNING log")
        .await?;
    let mut out = Vec::new();
    let mut ok = true;
    for r in tx.query(&delete, &[&subject, &keep]).await? {
        let row: &[u8] = r.get(0);
        ok &= profile_log::decode_into(row, &mut out).is_ok();
    }
    if !ok {
        // Rebuilt from the stored signals: the kept row goes too.
        tx.execute(
            "DELETE FROM profile_logs WHERE subject = $1 AND seq = $2",
            &[&subject, &keep],
        )
        .await?;
        out = subject_log_from_signals(&**tx, subject).await?;
    }
    let rows = profile_log::finish(out, floor);
    if !rows.is_empty() {
        let insert = tx.prepare_cached(INSERT_LOGS).await?;
        tx.execute(
            &insert,
            &[
                &[subject].as_slice(),
                &[profile_log::oldest(&rows) as i64].as_slice(),
                &[profile_log::encode(&rows)].as_slice(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// The newest [`profile_log::MAX_SIGNALS`] stored signals of `subject`, from the
/// signals table (rebuilds).
async fn subject_log_from_signals(
    c: &impl tokio_postgres::GenericClient,
    subject: &str,
) -> std::result::Result<Vec<Signal>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM signals s WHERE s.subject = $1
         ORDER BY s.time DESC, s.event_id DESC LIMIT $2"
    );
    let rows = c
        .query(&sql, &[&subject, &(profile_log::MAX_SIGNALS as i64)])
        .await?;
    // A row out of range cannot come from this store's own inserts: skip it.
    Ok(rows.iter().filter_map(|r| signal_of(r).ok()).collect())
}

/// Builds every subject's profile log from its signals when the stored logs are not in
/// [`profile_log::FORMAT`] (first open after migration 4, or a new format), once,
/// under the migration lock.
async fn ensure_profile_logs(
    c: &mut deadpool_postgres::Object,
) -> std::result::Result<(), tokio_postgres::Error> {
    let tx = c.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let built: Option<i64> = tx
        .query_opt(
            "SELECT value FROM meta WHERE key = $1",
            &[&profile_log::FORMAT_KEY],
        )
        .await?
        .map(|r| r.get(0));
    if built == Some(profile_log::FORMAT) {
        return Ok(());
    }
    tx.execute("DELETE FROM profile_logs", &[]).await?;
    let floor: i64 = tx
        .query_one("SELECT value FROM meta WHERE key = 'retention_floor'", &[])
        .await?
        .get(0);
    let subjects: Vec<String> = tx
        .query(
            "SELECT DISTINCT subject FROM signals WHERE subject IS NOT NULL",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for subject in &subjects {
        let signals = profile_log::finish(
            subject_log_from_signals(&*tx, subject).await?,
            floor.max(0) as u64,
        );
        if !signals.is_empty() {
            tx.execute(
                INSERT_LOGS,
                &[
                    &[subject].as_slice(),
                    &[profile_log::oldest(&signals) as i64].as_slice(),
                    &[profile_log::encode(&signals)].as_slice(),
                ],
            )
            .await?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&profile_log::FORMAT_KEY, &profile_log::FORMAT],
    )
    .await?;
    tx.commit().await
}
