//! The storage interface of the origin: one trait, [`Store`], that every backend
//! implements: embedded SQLite ([`sqlite::SqliteStore`], the zero-setup default) and
//! PostgreSQL ([`postgres::PgStore`], for several replicas over one database).
//! [`Location`] names one (`sqlite:<dir>` or `postgres://...`), [`open`] opens it and
//! applies its pending [`Migration`]s.
//!
//! The contract is written for several stateless `slotwise serve` replicas over one
//! database:
//! - a signal's 64-bit event id is a unique key, and ingest is insert-or-ignore on it
//!   in the same transaction as the rows, so a replayed or retried batch is stored
//!   once whichever replica receives it (erased signals are not resurrected by a
//!   replay: the bare ids stay);
//! - retention keeps that guarantee while it forgets ids: [`Store::expire`] first
//!   raises a durable *retention floor* to the cutoff, then deletes the signals older
//!   than it together with their ids (and the bare ids of erased signals older than
//!   it). Ingest never stores a signal whose own time is below the floor (it counts it
//!   as expired). A retry carries the signal's original time, so an id is forgotten
//!   only once every retry of it would be refused anyway: the window in which a retry
//!   is recognised as a duplicate is the whole retention period (`--retention-days`,
//!   measured on the signal's time), and after it a retry is acknowledged, not stored.
//!   A backend reads the floor inside the ingest transaction, ordered with the floor's
//!   update (SQLite: one writer; PostgreSQL: a shared advisory lock that raising the
//!   floor takes exclusively);
//! - [`Store::ingest`] returns only once the batch is durable (committed), so a 2xx
//!   after it never loses data on `kill -9`;
//! - identity links are one transaction that merges clusters into the smallest cluster
//!   id, so concurrent links converge to the same cluster whatever the order;
//! - bundles are versioned rows; the current one is the highest version;
//! - nothing is kept in the server process that another replica would need.
//!
//! Methods are blocking: the server calls them on tokio's blocking pool.

pub mod copy;
pub mod journeys;
pub mod postgres;
mod postgres_journeys;
pub mod profile_log;
pub mod sqlite;
mod sqlite_journeys;
pub mod sqlite_tail;

use std::path::PathBuf;
use std::sync::Arc;

use slotwise::signals::{Channel, Kind, Signal};

/// One versioned schema step. A backend records the versions it applied in its
/// `schema_migrations` table and applies the missing ones, in order, at open.
#[derive(Debug)]
pub struct Migration {
    /// 1, 2, ...
    pub version: i64,
    /// What it does, in a few words.
    pub name: &'static str,
    /// The statements (constant text, never built from input).
    pub sql: &'static str,
}

/// Where the store lives: `sqlite:<dir>` or a `postgres://` / `postgresql://` URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// The SQLite database `<dir>/slotwise.db`.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl std::str::FromStr for Location {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Location, String> {
        if let Some(dir) = s.strip_prefix("sqlite:") {
            if dir.is_empty() {
                return Err("sqlite: needs a directory, e.g. sqlite:slotwise-data".into());
            }
            Ok(Location::Sqlite(PathBuf::from(dir)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Location::Postgres(s.to_string()))
        } else {
            Err(format!(
                "a store is sqlite:<dir> or postgres://user@host/db, not {:?}",
                postgres::redact(s)
            ))
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(dir) => write!(f, "sqlite:{}", dir.display()),
            Location::Postgres(url) => f.write_str(&postgres::redact(url)),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// SQLite settings (PostgreSQL's are in its URL and server configuration).
#[derive(Clone, Copy, Debug)]
pub struct SqliteOptions {
    /// `synchronous=FULL` (survives power loss) rather than `NORMAL`.
    pub full_sync: bool,
    /// WAL auto-checkpoint threshold in pages.
    pub checkpoint_pages: u32,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            full_sync: true,
            checkpoint_pages: sqlite::DEFAULT_CHECKPOINT_PAGES,
        }
    }
}

/// Opens the store at `location`, applying its pending migrations.
pub fn open(location: &Location, options: SqliteOptions) -> Result<Arc<dyn Store>> {
    Ok(match location {
        Location::Sqlite(dir) => Arc::new(sqlite::SqliteStore::open_with(
            dir,
            options.full_sync,
            options.checkpoint_pages,
        )?),
        Location::Postgres(url) => Arc::new(postgres::PgStore::open(url)?),
    })
}

/// The migrations `location` has applied and those still pending; with `apply`,
/// applies the pending ones (what `slotwise migrate` prints and does).
pub fn migrate(location: &Location, apply: bool) -> Result<(Vec<i64>, Vec<&'static Migration>)> {
    match location {
        Location::Sqlite(dir) => sqlite::migrate(dir, apply),
        Location::Postgres(url) => postgres::PgStore::connect(url)?.migrate(apply),
    }
}

/// A storage failure (I/O, corruption, a closed writer). Opaque to clients: a 503.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// Result of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What one ingest did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Signals newly stored.
    pub stored: u64,
    /// Signals whose event id was already stored (replays, retries).
    pub duplicates: u64,
    /// Signals older than the retention floor: acknowledged, never stored.
    pub expired: u64,
}

/// A stored signal: the decoded signal plus the identity id its subject maps to.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The signal as received.
    pub signal: Signal,
    /// The subject as an identity id (`anon:<16 hex>`), when the signal had one.
    pub subject: Option<String>,
    /// The identity cluster of the subject at query time (for reports).
    pub cluster: Option<String>,
}

/// A published bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBundle {
    /// Monotonic version (1, 2, ...).
    pub version: u64,
    /// Strong ETag value, quoted.
    pub etag: String,
    /// Unix seconds when published.
    pub published_at: u64,
    /// The SWB1 bytes.
    pub bytes: Vec<u8>,
}

/// What an erasure removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    /// Identity ids unlinked.
    pub ids: u64,
    /// Signal rows deleted.
    pub signals: u64,
}

/// Row counts, for `/metrics` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Signal rows.
    pub signals: u64,
    /// Identity rows.
    pub identities: u64,
    /// Bundle versions.
    pub bundles: u64,
}

/// One page of a store's contents, as `slotwise store copy` moves it between stores.
#[derive(Clone, Debug, PartialEq)]
pub enum Page {
    /// The retention floor (Unix seconds).
    Floor(u64),
    /// Bundle versions.
    Bundles(Vec<StoredBundle>),
    /// Identity links: (id, cluster).
    Identities(Vec<(String, String)>),
    /// Stored signals with the time they were received.
    Signals(Vec<(Signal, u64)>),
    /// The bare ids of erased signals: (signal time, event id).
    ErasedIds(Vec<(u64, u64)>),
    /// Preference-centre records: (cluster, stored JSON, updated at).
    Preferences(Vec<(String, String, u64)>),
    /// The journeys published with bundle versions: (version, definition JSON).
    BundleJourneys(Vec<(u64, String)>),
    /// Journey instances.
    JourneyInstances(Vec<journeys::Instance>),
    /// Outbox messages (pending and acknowledged).
    Outbox(Vec<journeys::OutboxMessage>),
    /// Contact records (channel consent, time zone).
    Contacts(Vec<journeys::Contact>),
}

/// Rows per [`Page`] of signals or ids.
pub const PAGE_ROWS: usize = 10_000;

/// Called once a batch is durable (or failed). May run on any thread.
pub type IngestDone = Box<dyn FnOnce(Result<Ingested>) + Send>;

/// The one storage interface of the origin.
pub trait Store: Send + Sync + 'static {
    /// Stores the signals, each event id once, and calls `done` after the batch is
    /// durable. Backends may group concurrent batches into one commit; the callback
    /// form lets an async server wait without tying up a thread.
    fn ingest_then(&self, signals: Vec<Signal>, received_at: u64, done: IngestDone);

    /// [`Store::ingest_then`], waiting on the calling thread.
    fn ingest(&self, signals: &[Signal], received_at: u64) -> Result<Ingested> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.ingest_then(
            signals.to_vec(),
            received_at,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .map_err(|_| StoreError("the store dropped the batch".into()))?
    }
    /// Links identity ids into one cluster (merging clusters); returns the cluster id.
    fn link(&self, ids: &[String]) -> Result<String>;
    /// Every id in `id`'s cluster (just `id` when it was never linked), and the cluster id.
    fn cluster(&self, id: &str) -> Result<(String, Vec<String>)>;
    /// The signals of these subject ids, newest first, at most `limit`.
    fn subject_signals(&self, ids: &[String], limit: usize) -> Result<Vec<Row>>;
    /// Erases the whole cluster of `id`: its signals and its identity links.
    fn erase(&self, id: &str) -> Result<Erased>;
    /// Signals with `since <= time < until`, with their subject's cluster resolved.
    fn signals_between(&self, since: u64, until: u64) -> Result<Vec<Row>>;
    /// Raises the retention floor to `before` (Unix seconds; it never goes down), then
    /// deletes the signals older than the floor and the event ids of every signal
    /// older than it (stored or erased); returns how many signals. From the moment the
    /// floor is raised, ingest refuses signals older than it (see the module docs).
    fn expire(&self, before: u64) -> Result<u64>;
    /// Publishes a new bundle version; returns it.
    fn publish_bundle(&self, bytes: &[u8], etag: &str, now: u64) -> Result<u64>;
    /// The number of the current bundle version (cheap: no bytes).
    fn bundle_version(&self) -> Result<Option<u64>>;
    /// The current (highest) bundle version.
    fn current_bundle(&self) -> Result<Option<StoredBundle>>;
    /// Row counts.
    fn counts(&self) -> Result<Counts>;
    /// Everything the store holds, as pages of at most [`PAGE_ROWS`] rows, read from
    /// one snapshot.
    fn dump(&self, each: &mut dyn FnMut(Page) -> Result<()>) -> Result<()>;
    /// Adds a page of another store's [`Store::dump`], in one transaction; rows whose
    /// key is already present are kept as they are, so a page loads at most once.
    fn load(&self, page: Page) -> Result<()>;

    // ---- Preference centre (issue 10): one record per identity cluster, merged by
    // `link` (crate::preferences::Preferences::merge), deleted by `erase`, carried by
    // `dump` / `load` ----

    /// The preferences of `id`'s identity cluster (`None`: nothing recorded).
    fn preferences(&self, id: &str) -> Result<Option<crate::preferences::Preferences>>;
    /// Records the preferences of `id`'s identity cluster (replacing its record) at
    /// `now`, resolving the cluster in the same transaction.
    fn set_preferences(
        &self,
        id: &str,
        prefs: &crate::preferences::Preferences,
        now: u64,
    ) -> Result<()>;
    /// Every record, by cluster id (a batch send reads them in one pass).
    fn all_preferences(&self) -> Result<Vec<(String, crate::preferences::Preferences)>>;
    // --- Journeys and the outbox (schema version 2; see [`journeys`]) ---

    /// [`Store::publish_bundle`] with the bundle's journeys (definition JSON), in the
    /// same transaction, so every replica sees a version with its journeys.
    fn publish_bundle_journeys(
        &self,
        bytes: &[u8],
        etag: &str,
        now: u64,
        journeys: Option<&str>,
    ) -> Result<u64>;
    /// The journeys published with bundle `version`.
    fn bundle_journeys(&self, version: u64) -> Result<Option<String>>;
    /// Every journey instance whose subject is one of `ids`.
    fn journey_instances(&self, ids: &[String]) -> Result<Vec<journeys::Instance>>;
    /// Applies an evaluation's changes (each guarded, see [`journeys::InstanceWrite`]).
    fn journey_write(&self, writes: Vec<journeys::InstanceWrite>) -> Result<()>;
    /// Leases up to `limit` active instances due at `now` whose lease is free, until
    /// `lease_until`; no two callers get the same instance while its lease holds.
    fn journey_claim(
        &self,
        now: u64,
        lease_until: u64,
        limit: usize,
    ) -> Result<Vec<journeys::Instance>>;
    /// Applies a claimed step's result in one transaction (see [`journeys`]).
    fn journey_step(&self, done: journeys::StepDone, now: u64) -> Result<journeys::StepOutcome>;
    /// Leases up to `limit` unacknowledged messages whose lease is free at `now`, until
    /// `lease_until`, oldest first.
    fn outbox_pull(
        &self,
        now: u64,
        lease_until: u64,
        limit: usize,
    ) -> Result<Vec<journeys::OutboxMessage>>;
    /// Acknowledges messages by id (idempotent); one answer per id.
    fn outbox_ack(&self, ids: &[i64], now: u64) -> Result<Vec<journeys::Acked>>;
    /// Messages queued for these ids (as subject or recipient) since `since`.
    fn outbox_sent(&self, ids: &[String], since: u64) -> Result<u64>;
    /// Records an id's contact record; removes its pending messages on channels it no
    /// longer consents to, and returns how many.
    fn contact_set(&self, contact: journeys::Contact) -> Result<u64>;
    /// The contact records of these ids.
    fn contacts(&self, ids: &[String]) -> Result<Vec<journeys::Contact>>;
    // Materialized profiles (issues 6 and 10): see [`profile_log`].

    /// The newest [`profile_log::MAX_SIGNALS`] signals of these subject ids, newest
    /// first by `(time, event id)`, with the fields a profile reads
    /// ([`profile_log::for_profile`]), from their materialized profile logs: a few
    /// rows per id, however long its history.
    fn profile_log(&self, ids: &[String]) -> Result<Vec<Signal>>;

    /// For each of `ids` in order: its cluster, the cluster's ids and their
    /// [`Store::profile_log`], read together (a batch send reads a chunk of
    /// subjects at once).
    fn cluster_profiles(&self, ids: &[String]) -> Result<Vec<ClusterProfile>>;

    // ---- Snippet view (issue 6, session 4): everything a snippet reads of a cluster
    // in one call, so the server's profile cache keeps it as one entry ----

    /// `id`'s cluster and ids ([`Store::cluster`]), their [`Store::profile_log`], the
    /// cluster's [`Store::preferences`] and, with `journeys`, the ids'
    /// [`Store::journey_instances`]. A backend reads them from one snapshot where it
    /// can (this default reads them one after another).
    fn cluster_view(&self, id: &str, journeys: bool) -> Result<ClusterView> {
        let (cluster, ids) = self.cluster(id)?;
        let signals = self.profile_log(&ids)?;
        let preferences = self.preferences(id)?;
        let journeys = if journeys {
            Some(self.journey_instances(&ids)?)
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
    }
}

/// What a snippet reads of an identity cluster ([`Store::cluster_view`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterView {
    /// The cluster id.
    pub cluster: String,
    /// Its identity ids.
    pub ids: Vec<String>,
    /// [`Store::profile_log`] of `ids`.
    pub signals: Vec<Signal>,
    /// The cluster's preference-centre record.
    pub preferences: Option<crate::preferences::Preferences>,
    /// The ids' journey instances (`None`: not read, the bundle had no journeys).
    pub journeys: Option<Vec<journeys::Instance>>,
}

/// An identity cluster and its profile's signals ([`Store::cluster_profiles`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterProfile {
    /// The cluster id.
    pub cluster: String,
    /// Its identity ids, sorted.
    pub ids: Vec<String>,
    /// [`Store::profile_log`] of `ids`.
    pub signals: Vec<Signal>,
}

/// The identity id of a signal's pseudonymous subject.
pub fn anon_id(subject: u64) -> String {
    format!("anon:{subject:016x}")
}

/// Kind from its stored number (the wire number).
pub fn kind_of(n: i64) -> Option<Kind> {
    u8::try_from(n).ok().and_then(Kind::from_u8)
}

/// Channel from its stored number (the wire number).
pub fn channel_of(n: i64) -> Option<Channel> {
    u8::try_from(n).ok().and_then(Channel::from_u8)
}
