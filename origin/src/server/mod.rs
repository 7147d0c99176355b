//! `slotwise serve`: the thin origin API over one [`Store`].
//!
//! Endpoints (see `origin/openapi.yaml`): `POST /v1/signals`, `GET /v1/snippet`,
//! `GET /v1/bundle`, `POST /v1/identify`, `GET|DELETE /v1/subjects/{id}`,
//! `GET|PUT /v1/preferences` and admin `POST /v1/admin/preferences-link`
//! ([`preferences`]),
//! `GET /v1/report/lift`, `GET /v1/keys`, admin `POST /v1/admin/bundle` and
//! `POST /v1/admin/retrain` (bearer token), the journey outbox `GET /v1/outbox` and
//! `POST /v1/outbox/ack`, `GET|PUT /v1/subjects/{id}/contact`, `POST /v1/admin/clock`
//! (with `--test-clock`; see [`journeys`]), `GET /metrics`, `GET /openapi.yaml`,
//! `GET /healthz`, and the static `www/` directory when one is given.
//!
//! Trusted-backend calls need the admin bearer token: identity links, subject export
//! and erasure, admin publishing, and snippets looked up by a non-anonymous id (the
//! public snippet path takes only the visitor's own `anon:` id or `sw_vid` cookie).
//! A subject may export or erase their own identity cluster with the preference
//! centre's credentials (their visitor id, or a signed link).
//!
//! Every error is a 4xx/5xx with a JSON body `{"error": {"code", "message"}}`; bad
//! input never panics and never reaches the store. The server keeps no state another
//! replica would need: the bundle is re-read from the store when its version changes,
//! and snippet profiles are cached for at most [`profile_cache::MAX_AGE`], dropped at
//! once by this replica's own ingests, links and erasures.

// Handlers return `Result<_, Response>` so `?` turns any refusal into its answer; a
// `Response` is large, but it is built only on the way out.
#![allow(clippy::result_large_err)]

pub mod bench;
pub mod bench_stores;
pub mod client;
pub mod decide;
pub mod files;
pub mod journeys;
pub mod lift;
pub mod metrics;
pub mod preferences;
pub mod profile;
pub mod profile_cache;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use slotwise::bundle::Bundle;
use slotwise::signals;

use crate::keys::{self, SigningKey};
use crate::store::{Row, Store};

/// Media type of a binary `SWG1` batch (`application/octet-stream` is accepted too).
pub const SIGNALS_MEDIA_TYPE: &str = "application/vnd.slotwise.signals";

/// How long a replica trusts its cached bundle version before asking the store.
const BUNDLE_RECHECK: Duration = Duration::from_secs(1);

/// Server configuration: flags, or `SLOTWISE_*` environment variables.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// Address to listen on (port 0 picks one; the chosen address is printed).
    #[arg(long, env = "SLOTWISE_ADDR", default_value = "127.0.0.1:8787")]
    pub addr: SocketAddr,
    /// Data directory: the signing key, the admin token and (unless --store says
    /// otherwise) the SQLite database live here.
    #[arg(long, env = "SLOTWISE_DATA_DIR", default_value = "slotwise-data")]
    pub data_dir: PathBuf,
    /// The store: `sqlite:<dir>` or `postgres://user:password@host:port/db`
    /// (default: SQLite in the data directory).
    #[arg(long, env = "SLOTWISE_STORE", hide_env_values = true)]
    pub store: Option<crate::store::Location>,
    /// The site snippets are issued for (default: the bundle's site).
    #[arg(long, env = "SLOTWISE_SITE")]
    pub site: Option<String>,
    /// Admin bearer token (default: read or create `<data-dir>/admin.token`).
    #[arg(long, env = "SLOTWISE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Delete signals older than this many days (by the signal's own time). Also the
    /// window in which a retried event id is recognised: a retry of an older signal is
    /// acknowledged as expired and never stored.
    #[arg(long, env = "SLOTWISE_RETENTION_DAYS", default_value_t = 395)]
    pub retention_days: u64,
    /// Snippet lifetime in seconds.
    #[arg(long, env = "SLOTWISE_SNIPPET_TTL", default_value_t = 3600)]
    pub snippet_ttl: u64,
    /// Largest request body in bytes (signal batches, bundles are allowed 8 MiB).
    #[arg(long, env = "SLOTWISE_MAX_BODY", default_value_t = signals::MAX_BYTES)]
    pub max_body: usize,
    /// SQLite `synchronous`: `full` (fsync every commit: survives power loss) or
    /// `normal` (survives process kills only).
    #[arg(long, env = "SLOTWISE_SYNC", default_value = "full")]
    pub sync: String,
    /// SQLite WAL auto-checkpoint threshold in pages (larger: faster ingest, larger WAL).
    #[arg(long, env = "SLOTWISE_WAL_CHECKPOINT_PAGES", default_value_t = crate::store::sqlite::DEFAULT_CHECKPOINT_PAGES)]
    pub wal_checkpoint_pages: u32,
    /// A compiled bundle to publish at start when the store has none.
    #[arg(long, env = "SLOTWISE_BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// Most signals (and entries) the snippet profile cache holds in all (0 turns it off).
    #[arg(
        long,
        env = "SLOTWISE_PROFILE_CACHE_SIGNALS",
        default_value_t = 1_000_000
    )]
    pub profile_cache_signals: usize,
    /// Static files to serve under `/` (e.g. `www/`).
    #[arg(long, env = "SLOTWISE_WWW")]
    pub www: Option<PathBuf>,
    /// Journeys and the outbox run on a clock that stands still until set through
    /// `POST /v1/admin/clock` (for tests; never in production).
    #[arg(long, env = "SLOTWISE_TEST_CLOCK")]
    pub test_clock: bool,
    /// How often the journey scheduler looks for due messages, in milliseconds.
    #[arg(long, env = "SLOTWISE_JOURNEY_INTERVAL_MS", default_value_t = 5000)]
    pub journey_interval_ms: u64,
}

impl Config {
    /// Where the store lives: `--store`, else SQLite in the data directory.
    pub fn location(&self) -> crate::store::Location {
        self.store
            .clone()
            .unwrap_or_else(|| crate::store::Location::Sqlite(self.data_dir.clone()))
    }
}

/// Shared state of the handlers.
pub struct App {
    store: Arc<dyn Store>,
    config: Config,
    key: SigningKey,
    admin_token: String,
    bundle: RwLock<Option<Current>>,
    profiles: profile_cache::ProfileCache,
    /// Counters for `/metrics`.
    pub metrics: metrics::Metrics,
    /// The time journeys and the outbox run on.
    clock: Arc<dyn crate::journeys::clock::Clock>,
    journey_cache: journeys::JourneyCache,
}

#[derive(Clone)]
struct Current {
    checked: Instant,
    version: u64,
    etag: String,
    bytes: Arc<Vec<u8>>,
    decoded: Arc<Bundle>,
    index: Arc<profile::BundleIndex>,
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An error answer: status + `{"error": {"code", "message"}}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut r = (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    eprintln!("store error: {e}");
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store.unavailable",
        "storage is unavailable; retry later",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The signing key of the data directory `dir` (its newest `keys/*.secret.json`),
/// generated when there is none.
pub fn load_or_create_key(dir: &Path) -> Result<SigningKey, String> {
    let keys_dir = dir.join("keys");
    if let Ok(entries) = std::fs::read_dir(&keys_dir) {
        let mut secrets: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".secret.json"))
            .collect();
        secrets.sort();
        if let Some(p) = secrets.last() {
            return keys::read_secret(p);
        }
    }
    let (secret, _, _) = keys::generate(&keys_dir, None)?;
    keys::read_secret(&secret)
}

fn load_or_create_token(dir: &Path) -> Result<String, String> {
    let path = dir.join("admin.token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        return Ok(t.trim().to_string());
    }
    let token = slotwise::base64url::encode(&keys::random_secret()?);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    use std::io::Write;
    opts.open(&path)
        .and_then(|mut f| f.write_all(token.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(token)
}

fn etag_of(bytes: &[u8]) -> String {
    // FNV-1a 64 over the bytes: a strong validator for one exact byte string.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"swb-{h:016x}-{}\"", bytes.len())
}

impl App {
    /// Opens the store in the data directory and prepares keys and the admin token.
    pub fn open(config: Config) -> Result<App, String> {
        let full = match config.sync.as_str() {
            "full" => true,
            "normal" => false,
            other => return Err(format!("--sync must be full or normal, not {other:?}")),
        };
        let location = config.location();
        let store = crate::store::open(
            &location,
            crate::store::SqliteOptions {
                full_sync: full,
                checkpoint_pages: config.wal_checkpoint_pages,
            },
        )
        .map_err(|e| format!("cannot open the store {location}: {e}"))?;
        let key = load_or_create_key(&config.data_dir)?;
        let admin_token = match &config.admin_token {
            Some(t) if !t.is_empty() => t.clone(),
            _ => load_or_create_token(&config.data_dir)?,
        };
        let clock: Arc<dyn crate::journeys::clock::Clock> = if config.test_clock {
            Arc::new(crate::journeys::clock::TestClock::new())
        } else {
            Arc::new(crate::journeys::clock::SystemClock)
        };
        let app = App {
            store,
            clock,
            journey_cache: journeys::JourneyCache::default(),
            profiles: profile_cache::ProfileCache::new(config.profile_cache_signals),
            config,
            key,
            admin_token,
            bundle: RwLock::new(None),
            metrics: metrics::Metrics::default(),
        };
        if let Some(path) = &app.config.bundle
            && app
                .store
                .current_bundle()
                .map_err(|e| e.to_string())?
                .is_none()
        {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let decoded = slotwise::bundle::decode(&bytes).map_err(|e| e.to_string())?;
            // Its journeys, compiled next to it by `slotwise bundle build`.
            let journeys = crate::authoring::read_compiled_journeys(path, &decoded)?;
            app.store
                .publish_bundle_journeys(&bytes, &etag_of(&bytes), now_unix(), journeys.as_deref())
                .map_err(|e| e.to_string())?;
        }
        Ok(app)
    }

    /// The current bundle, re-read when another replica (or we) published a new one.
    /// The store is asked at most once per [`BUNDLE_RECHECK`]; a publish through this
    /// replica is seen at once.
    fn current(&self) -> Result<Option<Current>, Response> {
        if let Ok(guard) = self.bundle.read()
            && let Some(c) = guard.as_ref()
            && c.checked.elapsed() < BUNDLE_RECHECK
        {
            return Ok(Some(c.clone()));
        }
        let version = match self.store.bundle_version() {
            Ok(v) => v,
            Err(e) => {
                // The database is out of reach: keep serving the last good bundle.
                if let Ok(guard) = self.bundle.read()
                    && let Some(c) = guard.as_ref()
                {
                    eprintln!("store error (serving the last good bundle): {e}");
                    return Ok(Some(c.clone()));
                }
                return Err(unavailable(e));
            }
        };
        let Some(version) = version else {
            return Ok(None);
        };
        if let Ok(guard) = self.bundle.read()
            && let Some(c) = guard.as_ref()
            && c.version == version
        {
            let c = Current {
                checked: Instant::now(),
                ..c.clone()
            };
            drop(guard);
            if let Ok(mut guard) = self.bundle.write() {
                *guard = Some(c.clone());
            }
            return Ok(Some(c));
        }
        let Some(stored) = self.store.current_bundle().map_err(unavailable)? else {
            return Ok(None);
        };
        let decoded = slotwise::bundle::decode(&stored.bytes).map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.code(),
                "stored bundle does not decode",
            )
        })?;
        let c = Current {
            checked: Instant::now(),
            version: stored.version,
            etag: stored.etag,
            bytes: Arc::new(stored.bytes),
            index: Arc::new(profile::BundleIndex::of(Some(&decoded))),
            decoded: Arc::new(decoded),
        };
        if let Ok(mut guard) = self.bundle.write() {
            *guard = Some(c.clone());
        }
        Ok(Some(c))
    }
}

/// The router over `app` (tests may serve it on their own listener).
pub fn router(app: Arc<App>) -> Router {
    let mut r = Router::new()
        .route("/v1/signals", post(post_signals))
        .route("/v1/snippet", get(get_snippet))
        .route("/v1/bundle", get(get_bundle))
        .route("/v1/identify", post(post_identify))
        .route("/v1/decide", post(decide::post_decide))
        .route(
            "/v1/preferences",
            get(preferences::get).put(preferences::put),
        )
        .route("/v1/admin/preferences-link", post(preferences::post_link))
        .route("/v1/subjects/{id}", get(get_subject).delete(delete_subject))
        .route(
            "/v1/subjects/{id}/contact",
            get(journeys::get_contact).put(journeys::put_contact),
        )
        .route("/v1/outbox", get(journeys::get_outbox))
        .route("/v1/outbox/ack", post(journeys::post_ack))
        .route("/v1/admin/clock", post(journeys::post_clock))
        .route("/v1/report/lift", get(get_lift))
        .route("/v1/keys", get(get_keys))
        .route("/v1/admin/bundle", post(post_admin_bundle))
        .route("/v1/admin/retrain", post(post_admin_retrain))
        .route("/metrics", get(get_metrics))
        .route("/openapi.yaml", get(get_openapi))
        .route("/healthz", get(|| async { "ok" }));
    if app.config.www.is_some() {
        r = r
            .route("/", get(files::get))
            .route("/{*path}", get(files::get));
    }
    r.fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .with_state(app)
}

/// Binds, prints `listening on <addr>` and serves until the process ends. Spawns
/// the retention sweep (hourly, and once at start).
pub async fn serve(config: Config) -> Result<(), String> {
    let addr = config.addr;
    let app = Arc::new(tokio::task::block_in_place(|| App::open(config))?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {local}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let sweeper = app.clone();
    tokio::spawn(async move {
        loop {
            let app = sweeper.clone();
            let cutoff = now_unix().saturating_sub(app.config.retention_days * 86_400);
            let _ = tokio::task::spawn_blocking(move || {
                if let Ok(n) = app.store.expire(cutoff) {
                    app.metrics.signals_expired.fetch_add(n, Ordering::Relaxed);
                }
                app.profiles.clear();
            })
            .await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
    let scheduler = app.clone();
    tokio::spawn(async move {
        let every = Duration::from_millis(scheduler.config.journey_interval_ms.max(50));
        loop {
            tokio::time::sleep(every).await;
            let app = scheduler.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = journeys::run_due(&app) {
                    eprintln!("journey scheduler: {e}");
                }
            })
            .await;
        }
    });
    axum::serve(listener, router(app))
        .await
        .map_err(|e| e.to_string())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "task failed"))
}

/// Reads a body of at most `limit` bytes, or answers 413.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body.too_large",
            "the request body is larger than the server accepts",
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| too_large())
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn query(raw: &Option<String>, name: &str) -> Option<String> {
    raw.as_deref()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Identity ids: `<kind>:<value>`, kind one of anon, login, email (SHA-256 hex), app,
/// store; value 1–128 of `[A-Za-z0-9._-]`.
/// `Ok` for a valid identity id ([`valid_id`]); a 400 `id.invalid` answer otherwise.
pub fn checked_id(id: &str) -> Result<(), Response> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(error(
            StatusCode::BAD_REQUEST,
            "id.invalid",
            "not a valid identity id",
        ))
    }
}

pub fn valid_id(id: &str) -> bool {
    let Some((kind, value)) = id.split_once(':') else {
        return false;
    };
    let charset = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    match kind {
        "email" => value.len() == 64 && value.bytes().all(|c| c.is_ascii_hexdigit()),
        "anon" | "login" | "app" | "store" => charset,
        _ => false,
    }
}

fn timed(app: &App, route: &'static str, start: Instant, r: Response) -> Response {
    app.metrics
        .observe(route, r.status().as_u16(), start.elapsed().as_secs_f64());
    r
}

async fn post_signals(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let r = ingest(&app, headers, body).await.unwrap_or_else(|e| e);
    if !r.status().is_success() {
        app.metrics.batches_rejected.fetch_add(1, Ordering::Relaxed);
    }
    timed(&app, "signals", start, r)
}

/// How far ahead of the server's clock a device may stamp a signal (its clock runs
/// a little fast): beyond it, the time is not believed.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// Signals stamped more than [`MAX_CLOCK_SKEW_SECS`] after `received` (a device
/// clock set wrong) take the time they were received: a signal from the future would
/// outlive retention, count as the newest in every profile and skew recency. The
/// device's own time is kept otherwise (a queued batch arrives after its events).
fn stamp_future_at(batch: &mut [signals::Signal], received: u64) {
    for s in batch {
        if s.time > received.saturating_add(MAX_CLOCK_SKEW_SECS) {
            s.time = received;
        }
    }
}

async fn ingest(app: &Arc<App>, headers: HeaderMap, body: Body) -> Result<Response, Response> {
    let mt = media_type(&headers);
    if mt != SIGNALS_MEDIA_TYPE && mt != "application/octet-stream" {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "send an SWG1 batch as application/vnd.slotwise.signals",
        ));
    }
    let bytes = read_body(&headers, body, app.config.max_body.min(signals::MAX_BYTES)).await?;
    let mut batch = signals::decode(&bytes).map_err(|e| {
        let status = if e.kind() == slotwise::ErrorKind::SignalsTooLarge {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        error(status, e.code(), e.detail())
    })?;
    if batch.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "signals.empty",
            "the batch has no signals",
        ));
    }
    let refused = batch.iter().filter(|s| !s.may_store()).count();
    if refused > 0 {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "signals.consent",
            "signals without measurement consent may not be stored; nothing was stored",
        ));
    }
    let received = now_unix();
    stamp_future_at(&mut batch, received);
    let n = batch.len();
    let journey_subjects = journeys::subjects_to_evaluate(app, &batch);
    let subjects = profile_cache::subjects_of(&batch);
    // The writer answers through the channel once the batch is committed: no thread
    // waits for it meanwhile.
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.store.ingest_then(
        batch,
        received,
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let done = rx
        .await
        .map_err(|_| unavailable("the store dropped the batch"))?
        .map_err(unavailable)?;
    // Durable now: no cached profile of these subjects may be served any more.
    app.profiles.invalidate_subjects(&subjects);
    // Journeys these signals start or end, evaluated as they arrive (the scheduler
    // re-checks exits before every message, so a failure here delays, never sends).
    if !journey_subjects.is_empty() {
        let (app2, evaluate) = (app.clone(), journey_subjects.clone());
        let evaluated = blocking(move || journeys::evaluate_subjects(&app2, &evaluate)).await;
        if let Ok(Err(e)) = evaluated {
            eprintln!("journey evaluation: {e}");
        }
        // Their journey instances changed: views read meanwhile hold the old ones.
        app.profiles.invalidate_subjects(&journey_subjects);
    }
    let m = &app.metrics;
    m.signals_stored.fetch_add(done.stored, Ordering::Relaxed);
    m.signals_duplicate
        .fetch_add(done.duplicates, Ordering::Relaxed);
    m.signals_too_old.fetch_add(done.expired, Ordering::Relaxed);
    Ok((
        StatusCode::OK,
        axum::Json(IngestAnswer {
            received: n,
            stored: done.stored,
            duplicates: done.duplicates,
            expired: done.expired,
        }),
    )
        .into_response())
}

/// The answer to an accepted batch: every signal is durable, a duplicate of a stored
/// one, or older than the retention floor (acknowledged, not kept).
#[derive(serde::Serialize)]
struct IngestAnswer {
    received: usize,
    stored: u64,
    duplicates: u64,
    expired: u64,
}

async fn get_snippet(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let start = Instant::now();
    let r = snippet(&app, q, headers).await.unwrap_or_else(|e| e);
    timed(&app, "snippet", start, r)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

async fn snippet(
    app: &Arc<App>,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let id = query(&q, "id")
        .or_else(|| cookie(&headers, "sw_vid").map(|v| format!("anon:{v}")))
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "id.missing",
                "pass ?id=<identity id> or the sw_vid cookie",
            )
        })?;
    checked_id(&id)?;
    // The public path serves first-party visitors (their anon id, from the cookie);
    // looking a profile up by login, email, app or store id is for trusted backends.
    if !id.starts_with("anon:") {
        authorized(app, &headers)?;
    }
    let (token, expires_at, cluster) = signed_snippet(app, &id)?;
    let answer = SnippetAnswer {
        token,
        expires_at,
        cluster: &cluster,
    };
    app.metrics.snippets_issued.fetch_add(1, Ordering::Relaxed);
    let mut r = axum::Json(answer).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(r)
}

/// A signed snippet for the identity id `id` (checked by the caller): the cluster's
/// profile, with its preference-centre choices applied ([`crate::preferences`]) and
/// its journey's items first. Returns the token, its expiry and the cluster id.
fn signed_snippet(app: &App, id: &str) -> Result<(String, u64, String), Response> {
    // Inline on the async worker: a cache hit takes microseconds, and a miss reads
    // the cluster view (ids, their materialized profile logs, preferences, journey
    // instances: a few rows) in one read transaction on a pooled connection, less
    // than a hop to the blocking pool.
    let current = app.current()?;
    let journeys = current
        .as_ref()
        .is_some_and(|c| app.journeys_of(c).is_some());
    let store = &app.store;
    let (view, lookup) = app
        .profiles
        .get_or_load(id, journeys, |id, j| store.cluster_view(id, j))
        .map_err(unavailable)?;
    let counter = match lookup {
        profile_cache::Lookup::Hit => &app.metrics.profile_cache_hits,
        profile_cache::Lookup::Miss => &app.metrics.profile_cache_misses,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let site = match (&app.config.site, &current) {
        (Some(site), _) => site.as_str(),
        (None, Some(c)) => c.decoded.header.site.as_str(),
        (None, None) => "localhost",
    };
    let issue = profile::Issue {
        key_id: &app.key.kid,
        audience: site,
        subject: id,
        now: now_unix(),
        ttl: app.config.snippet_ttl,
    };
    let no_bundle = profile::BundleIndex::default();
    let index = current.as_ref().map_or(&no_bundle, |c| c.index.as_ref());
    let mut claims = profile::claims(&issue, index, &view.signals);
    if let Some(c) = &current {
        if let Some(prefs) = &view.preferences {
            crate::preferences::apply_to_claims(prefs, &c.decoded, &mut claims);
        }
        if claims.subject.is_some()
            && journeys
            && let Some(instances) = &view.journeys
        {
            claims.journey = journeys::claim_from(app, instances, &c.decoded);
        }
    }
    Ok((
        app.key.sign(&claims),
        claims.expires_at,
        view.cluster.clone(),
    ))
}

#[derive(serde::Serialize)]
struct SnippetAnswer<'a> {
    token: String,
    expires_at: u64,
    cluster: &'a str,
}

async fn get_bundle(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let start = Instant::now();
    let app2 = app.clone();
    let r = match blocking(move || app2.current()).await {
        Err(e) | Ok(Err(e)) => e,
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            "bundle.none",
            "no bundle published yet",
        ),
        Ok(Ok(Some(c))) => {
            let matches = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == c.etag || t.trim() == "*"));
            let mut r = if matches {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                let mut r = Body::from(c.bytes.as_ref().clone()).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/vnd.slotwise.bundle"),
                );
                r
            };
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&c.etag) {
                h.insert(header::ETAG, v);
            }
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60, must-revalidate"),
            );
            r
        }
    };
    timed(&app, "bundle", start, r)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentifyBody {
    ids: Vec<String>,
}

fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<T, Response> {
    if media_type(headers) != "application/json" {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "send application/json",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "json.invalid", &e.to_string()))
}

async fn post_identify(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let r = async {
        authorized(&app, &headers)?;
        let bytes = read_body(&headers, body, 16 * 1024).await?;
        let b: IdentifyBody = json_body(&headers, &bytes)?;
        if b.ids.len() < 2 || b.ids.len() > 16 {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "ids.count",
                "link 2 to 16 ids at once",
            ));
        }
        if let Some(bad) = b.ids.iter().find(|i| !valid_id(i)) {
            let msg = format!("not a valid identity id: {bad:?}");
            return Err(error(StatusCode::BAD_REQUEST, "id.invalid", &msg));
        }
        let store = app.store.clone();
        let cluster = blocking(move || store.link(&b.ids))
            .await?
            .map_err(unavailable)?;
        // Clusters merged: cached profiles may now miss ids.
        app.profiles.clear();
        Ok(axum::Json(json!({ "cluster": cluster })).into_response())
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "identify", start, r)
}

fn row_json(r: &Row) -> serde_json::Value {
    let s = &r.signal;
    json!({
        "event_id": format!("{:016x}", s.event_id),
        "kind": s.kind.name(),
        "decision_id": s.decision_id.map(|d| format!("{d:016x}")),
        "slot": s.slot, "item": s.item, "variant": s.variant,
        "time": s.time, "consent": s.consent, "channel": s.channel.name(),
        "holdout": s.holdout, "value_cents": s.value, "subject": r.subject,
    })
}

/// A request about one subject: checks the credential and the id, then answers with
/// `f(app, id)`; timed as `route`. The admin token may act for anyone; the subject
/// themselves too, with the preference centre's credentials
/// ([`preferences::who`]: a link token or their own visitor id) for an id of their
/// own identity cluster (the export and erase links of `GET /v1/preferences`).
async fn subject_request<F>(
    app: Arc<App>,
    id: String,
    q: Option<String>,
    headers: HeaderMap,
    route: &'static str,
    f: impl FnOnce(Arc<App>, String) -> F,
) -> Response
where
    F: std::future::Future<Output = Result<Response, Response>>,
{
    let start = Instant::now();
    let r = async {
        checked_id(&id)?;
        if authorized(&app, &headers).is_err() {
            let who = preferences::who(&app, &headers, &q)?;
            let (app2, asked) = (app.clone(), id.clone());
            let own = blocking(move || preferences::may_act_for(&app2, &who, &asked))
                .await?
                .map_err(unavailable)?;
            if !own {
                return Err(error(
                    StatusCode::FORBIDDEN,
                    "auth.subject",
                    "these credentials do not act for that subject",
                ));
            }
        }
        f(app.clone(), id).await
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, route, start, r)
}

async fn get_subject(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    subject_request(
        app,
        id,
        q,
        headers,
        "subject_export",
        |app, id| async move {
            let store = app.store.clone();
            let (cluster, ids, rows) = blocking(move || {
                let (cluster, ids) = store.cluster(&id)?;
                let rows = store.subject_signals(&ids, 1_000_000)?;
                Ok::<_, crate::store::StoreError>((cluster, ids, rows))
            })
            .await?
            .map_err(unavailable)?;
            let signals: Vec<_> = rows.iter().map(row_json).collect();
            let mut r = axum::Json(json!({ "cluster": cluster, "ids": ids, "signals": signals }))
                .into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            Ok(r)
        },
    )
    .await
}

async fn delete_subject(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    subject_request(app, id, q, headers, "subject_erase", |app, id| async move {
        let store = app.store.clone();
        let erased = blocking(move || store.erase(&id))
            .await?
            .map_err(unavailable)?;
        // Nothing of the cluster may be served from memory either.
        app.profiles.clear();
        Ok(axum::Json(json!({ "erased": erased })).into_response())
    })
    .await
}

async fn get_lift(State(app): State<Arc<App>>, RawQuery(q): RawQuery) -> Response {
    let start = Instant::now();
    let r = async {
        let num = |name: &str, default: u64| -> Result<u64, Response> {
            match query(&q, name) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "query.invalid",
                        "since, until and window are Unix seconds",
                    )
                }),
            }
        };
        let until = num("until", now_unix() + 1)?;
        let since = num("since", until.saturating_sub(30 * 86_400))?;
        let window = num("window", 7 * 86_400)?;
        let store = app.store.clone();
        let rows = blocking(move || store.signals_between(since.saturating_sub(window), until))
            .await?
            .map_err(unavailable)?;
        let rep = lift::report(&rows, since, until, window);
        Ok(axum::Json(rep).into_response())
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "lift", start, r)
}

async fn get_keys(State(app): State<Arc<App>>) -> Response {
    let public = slotwise::base64url::encode(&app.key.public());
    axum::Json(json!({ "keys": [{ "kid": app.key.kid, "alg": "Ed25519", "public": public }] }))
        .into_response()
}

fn authorized(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let want = app.admin_token.as_bytes();
    let ok = given.len() == want.len()
        && given
            .bytes()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if ok {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "auth",
            "admin endpoints need the bearer token",
        ))
    }
}

/// The authoring set as one JSON document: the files of an authoring directory
/// (`experiments` and `groups` are optional, as their files are).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthoringSet {
    bundle: serde_json::Value,
    content: serde_json::Value,
    items: serde_json::Value,
    slots: serde_json::Value,
    experiments: Option<serde_json::Value>,
    groups: Option<serde_json::Value>,
    journeys: Option<serde_json::Value>,
}

/// A compiled bundle and its journeys (definition JSON).
type Compiled = (Vec<u8>, Option<String>);

fn compile_authoring(dir: &Path, set: AuthoringSet, now: u64) -> Result<Compiled, Response> {
    let staging = dir.join(format!("authoring-{}-{now}", std::process::id()));
    let result = (|| -> Result<Compiled, String> {
        std::fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
        for (name, v) in [
            ("bundle.json", &set.bundle),
            ("content.json", &set.content),
            ("items.json", &set.items),
            ("slots.json", &set.slots),
        ] {
            std::fs::write(staging.join(name), v.to_string()).map_err(|e| e.to_string())?;
        }
        for (name, v) in [
            ("experiments.json", &set.experiments),
            ("groups.json", &set.groups),
            ("journeys.json", &set.journeys),
        ] {
            if let Some(v) = v {
                std::fs::write(staging.join(name), v.to_string()).map_err(|e| e.to_string())?;
            }
        }
        let bundle = crate::authoring::build_dir(
            &staging,
            &crate::authoring::BuildOptions { created_at: now },
        )
        .map_err(|e| e.to_string())?;
        let journeys =
            crate::authoring::build_journeys(&staging, &bundle).map_err(|e| e.to_string())?;
        Ok((slotwise::bundle::encode(&bundle), journeys))
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result.map_err(|e| error(StatusCode::BAD_REQUEST, "authoring.invalid", &e))
}

async fn post_admin_bundle(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let r = async {
        authorized(&app, &headers)?;
        let bytes = read_body(&headers, body, slotwise::bundle::MAX_BYTES).await?;
        let now = now_unix();
        let compiled = match media_type(&headers).as_str() {
            "application/json" => {
                let set: AuthoringSet = json_body(&headers, &bytes)?;
                let dir = app.config.data_dir.clone();
                blocking(move || compile_authoring(&dir, set, now)).await??
            }
            "application/vnd.slotwise.bundle" | "application/octet-stream" => {
                slotwise::bundle::decode(&bytes)
                    .map_err(|e| error(StatusCode::BAD_REQUEST, e.code(), e.detail()))?;
                // A bare bundle has no journeys: publish an authoring set for them.
                (bytes, None)
            }
            _ => {
                return Err(error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "content_type",
                    "send an authoring set as application/json or a bundle as application/vnd.slotwise.bundle",
                ));
            }
        };
        publish(&app, compiled, now).await
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "admin_bundle", start, r)
}

async fn publish(app: &Arc<App>, compiled: Compiled, now: u64) -> Result<Response, Response> {
    let (bytes, journeys) = compiled;
    let etag = etag_of(&bytes);
    let store = app.store.clone();
    let tag = etag.clone();
    let version =
        blocking(move || store.publish_bundle_journeys(&bytes, &tag, now, journeys.as_deref()))
            .await?
            .map_err(unavailable)?;
    if let Ok(mut guard) = app.bundle.write() {
        *guard = None;
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "version": version, "etag": etag })),
    )
        .into_response())
}

async fn post_admin_retrain(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let start = Instant::now();
    let r = async {
        authorized(&app, &headers)?;
        let app2 = app.clone();
        let (bytes, report) = blocking(move || -> Result<_, Response> {
            let current = app2.current()?.ok_or_else(|| {
                error(
                    StatusCode::CONFLICT,
                    "bundle.none",
                    "publish a bundle first",
                )
            })?;
            let rows = app2
                .store
                .signals_between(0, u64::MAX)
                .map_err(unavailable)?;
            let mut bundle = current.decoded.as_ref().clone();
            let events: Vec<crate::train::Event> = rows
                .iter()
                .filter(|r| {
                    matches!(
                        r.signal.kind,
                        signals::Kind::View
                            | signals::Kind::Click
                            | signals::Kind::AddToCart
                            | signals::Kind::Purchase
                    )
                })
                .filter_map(|r| {
                    let session = r
                        .cluster
                        .clone()
                        .or_else(|| r.subject.clone())
                        .or_else(|| r.signal.decision_id.map(|d| format!("d:{d:016x}")))?;
                    let item = bundle.items.get(r.signal.item as usize)?.id.clone();
                    Some(crate::train::Event {
                        session,
                        item,
                        time: r.signal.time as f64,
                    })
                })
                .collect();
            let report = crate::train::train_bundle(
                &mut bundle,
                &events,
                &crate::train::TrainOptions::default(),
                false,
            );
            // The retrained bundle keeps the current one's journeys (same items).
            let journeys = app2
                .store
                .bundle_journeys(current.version)
                .map_err(unavailable)?;
            Ok(((slotwise::bundle::encode(&bundle), journeys), report))
        })
        .await??;
        let mut r = publish(&app, bytes, now_unix()).await?;
        if let Ok(v) = HeaderValue::from_str(&format!("{}", report.sessions)) {
            r.headers_mut().insert("x-slotwise-sessions", v);
        }
        Ok(r)
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "admin_retrain", start, r)
}

async fn get_metrics(State(app): State<Arc<App>>) -> Response {
    let app2 = app.clone();
    let counts = blocking(move || app2.store.counts())
        .await
        .ok()
        .and_then(|r| r.ok());
    let c = counts.unwrap_or_default();
    let text = app.metrics.render(&[
        ("signals_rows", "Signal rows in the store.", c.signals),
        ("identity_rows", "Identity ids in the store.", c.identities),
        ("bundle_versions", "Published bundle versions.", c.bundles),
    ]);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn get_openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        include_str!("../../openapi.yaml"),
    )
        .into_response()
}
