//! Shared helpers: a real `slotwise serve` on loopback with a temporary data directory,
//! over either backend. Every server test runs twice, once per [`Backend`]
//! ([`on_both_backends!`]): SQLite in the data directory, and PostgreSQL in a fresh
//! database of the server named by `SLOTWISE_TEST_POSTGRES` (`cargo xtask test` starts
//! one). Without that variable the PostgreSQL runs say so and skip.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use slotwise_origin::server::bench::{Spawned, spawn_server};
use slotwise_origin::server::client::{Client, Response};

pub const TOKEN: &str = "test-admin-token";
pub const SWG1: &str = "application/vnd.slotwise.signals";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory under the system's temporary directory, removed with everything
/// in it when dropped, unless the test is failing (its data is left to look at).
pub fn temp_dir(name: &str) -> TempDir {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("slotwise-it-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// See [`temp_dir`].
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl TempDir {
    /// The path, no longer removed on drop (its new owner removes it: [`Spawned`]).
    pub fn into_path(mut self) -> PathBuf {
        std::mem::take(&mut self.0)
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The server's snippet key ring, from `GET /v1/keys` (its first key).
pub fn key_ring(c: &mut Client) -> slotwise::profile::KeyRing {
    let keys = c.request("GET", "/v1/keys", &[], &[]).unwrap().json();
    let mut ring = slotwise::profile::KeyRing::new();
    ring.insert_base64url(
        keys["keys"][0]["kid"].as_str().unwrap(),
        keys["keys"][0]["public"].as_str().unwrap(),
    )
    .unwrap();
    ring
}

/// The test shop authoring set (tests/fixtures/shop) compiled to a bundle file in `dir`.
pub fn demo_bundle(dir: &Path) -> PathBuf {
    let b = slotwise_origin::authoring::build_dir(
        &root().join("tests/fixtures/shop"),
        &slotwise_origin::authoring::BuildOptions {
            created_at: 1_800_000_000,
        },
    )
    .unwrap();
    let path = dir.join("demo.swb");
    std::fs::write(&path, slotwise::bundle::encode(&b)).unwrap();
    path
}

/// The two stores the suite runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test function (`fn(Backend)`) once per backend, as
/// `sqlite::<name>` and `postgres::<name>`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name($crate::common::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if $crate::common::postgres_admin_url().is_none() {
                    eprintln!(
                        "skipped {} on PostgreSQL: SLOTWISE_TEST_POSTGRES is not set \
                         (`cargo xtask test` starts a PostgreSQL and sets it)",
                        stringify!($name)
                    );
                    return;
                }
                super::$name($crate::common::Backend::Postgres)
            })*
        }
    };
}

/// The test PostgreSQL's URL (to its `postgres` database), when there is one.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("SLOTWISE_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A store for one test: where the server finds it, and a way to query it.
#[derive(Clone, Debug)]
pub struct TestStore {
    /// The `--store` argument.
    pub location: String,
    pub backend: Backend,
    /// The directory of a SQLite store made by [`TestStore::temp`], removed with the
    /// last clone.
    dir: Option<std::sync::Arc<TempDir>>,
}

impl TestStore {
    /// A new empty store: SQLite in `dir/data`, or a new PostgreSQL database.
    pub fn new(backend: Backend, name: &str, dir: &Path) -> TestStore {
        let location = match backend {
            Backend::Sqlite => format!("sqlite:{}", dir.join("data").display()),
            Backend::Postgres => {
                let admin = postgres_admin_url().expect("SLOTWISE_TEST_POSTGRES");
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                let db = format!("t_{name}_{}_{nanos}", std::process::id()).replace('-', "_");
                let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
                // A test-made identifier of [a-z0-9_]: quoting is enough.
                c.batch_execute(&format!("CREATE DATABASE \"{db}\""))
                    .unwrap();
                let (base, _) = admin.rsplit_once('/').unwrap();
                format!("{base}/{db}")
            }
        };
        TestStore {
            location,
            backend,
            dir: None,
        }
    }

    /// [`TestStore::new`] in a temporary directory of its own, removed with the store.
    pub fn temp(backend: Backend, name: &str) -> TestStore {
        let dir = temp_dir(name);
        let mut store = TestStore::new(backend, name, &dir);
        store.dir = Some(std::sync::Arc::new(dir));
        store
    }

    /// Opens the store in this process (SQLite without full fsync, for speed).
    pub fn open(&self) -> std::sync::Arc<dyn slotwise_origin::store::Store> {
        let location: slotwise_origin::store::Location = self.location.parse().unwrap();
        slotwise_origin::store::open(
            &location,
            slotwise_origin::store::SqliteOptions {
                full_sync: false,
                ..slotwise_origin::store::SqliteOptions::default()
            },
        )
        .unwrap()
    }

    /// The first column of every row of `sql`, as integers.
    pub fn ints(&self, sql: &str) -> Vec<i64> {
        match self.backend {
            Backend::Sqlite => {
                let dir = self.location.strip_prefix("sqlite:").unwrap();
                let db = rusqlite::Connection::open(Path::new(dir).join("slotwise.db")).unwrap();
                let mut stmt = db.prepare(sql).unwrap();
                stmt.query_map([], |r| r.get::<_, i64>(0))
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect()
            }
            Backend::Postgres => {
                let mut c = postgres::Client::connect(&self.location, postgres::NoTls).unwrap();
                c.query(sql, &[])
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<_, i64>(0))
                    .collect()
            }
        }
    }

    /// Runs `sql` (test-made statements only).
    pub fn execute(&self, sql: &str) {
        match self.backend {
            Backend::Sqlite => {
                let dir = self.location.strip_prefix("sqlite:").unwrap();
                let db = rusqlite::Connection::open(Path::new(dir).join("slotwise.db")).unwrap();
                db.execute_batch(sql).unwrap();
            }
            Backend::Postgres => {
                let mut c = postgres::Client::connect(&self.location, postgres::NoTls).unwrap();
                c.batch_execute(sql).unwrap();
            }
        }
    }

    /// The single integer `sql` selects (e.g. a `COUNT(*)`).
    pub fn count(&self, sql: &str) -> i64 {
        self.ints(sql)[0]
    }
}

pub struct Server {
    pub spawned: Spawned,
    pub store: TestStore,
}

impl Server {
    pub fn start(name: &str, backend: Backend) -> Server {
        let dir = temp_dir(name);
        let bundle = demo_bundle(&dir);
        let data = dir.join("data");
        let store = TestStore::new(backend, name, &dir);
        let exe = Path::new(env!("CARGO_BIN_EXE_slotwise"));
        let bundle = bundle.to_string_lossy().into_owned();
        let (child, addr) = spawn_server(
            exe,
            &data,
            &[
                "--store",
                &store.location,
                "--admin-token",
                TOKEN,
                "--bundle",
                &bundle,
                "--sync",
                "normal",
            ],
        )
        .unwrap();
        Server {
            spawned: Spawned {
                child,
                addr,
                dir: dir.into_path(),
            },
            store,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.spawned.addr
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr()).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.store.count(sql)
    }
}

pub fn post_signals(c: &mut Client, body: &[u8]) -> Response {
    c.request("POST", "/v1/signals", &[("content-type", SWG1)], body)
        .unwrap()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Whether a PostgreSQL-only test can run; says why not when it cannot.
pub fn postgres_available(test: &str) -> bool {
    let ok = postgres_admin_url().is_some();
    if !ok {
        eprintln!(
            "skipped {test}: it needs PostgreSQL and SLOTWISE_TEST_POSTGRES is not set \
             (`cargo xtask test` starts a PostgreSQL and sets it)"
        );
    }
    ok
}

/// `slotwise serve` on a fixed loopback address (so it can be restarted there after a
/// kill), data in `data`, with `extra` flags. Port reuse right after a kill can race:
/// the start is retried a few times.
pub fn start_on(addr: SocketAddr, data: &Path, extra: &[&str]) -> std::process::Child {
    let exe = Path::new(env!("CARGO_BIN_EXE_slotwise"));
    let port = addr.to_string();
    for _ in 0..50 {
        let mut child = std::process::Command::new(exe)
            .args(["serve", "--addr", &port, "--data-dir"])
            .arg(data)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn slotwise serve");
        let mut line = String::new();
        let out = child.stdout.take().unwrap();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
        if line.starts_with("listening on") {
            return child;
        }
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("slotwise serve did not start on {addr}");
}

/// A free loopback address.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The test shop's abandoned-cart journey (`journeys.json`): an email one hour after
/// an add-to-cart on the web unless the items are bought, quiet 22:00–07:00, one
/// journey message per subject per week.
pub const JOURNEYS: &str = r#"{
  "timeZone": "UTC",
  "quietHours": { "from": "22:00", "to": "07:00" },
  "budget": { "messages": 1, "periodSecs": 604800 },
  "journeys": [{
    "id": "abandoned-cart",
    "trigger": { "event": "add_to_cart", "channels": ["web"] },
    "exit": { "event": "purchase", "items": "trigger" },
    "activeSecs": 172800,
    "steps": [{ "waitSecs": 3600, "channel": "email", "slots": ["recs"] }]
  }]
}"#;

/// The test shop with [`JOURNEYS`], built by `slotwise bundle build` into `dir`
/// (`shop.swb` and `shop.journeys.json`).
pub fn journey_bundle(dir: &Path) -> PathBuf {
    let src = journey_authoring(dir);
    let out = dir.join("shop.swb");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_slotwise"))
        .args(["bundle", "build"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(["--created-at", "1800000000"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(dir.join("shop.journeys.json").exists());
    out
}

/// The test shop's authoring files with [`JOURNEYS`], in `dir/authoring`.
pub fn journey_authoring(dir: &Path) -> PathBuf {
    let src = dir.join("authoring");
    std::fs::create_dir_all(&src).unwrap();
    for f in [
        "bundle.json",
        "content.json",
        "items.json",
        "slots.json",
        "experiments.json",
    ] {
        std::fs::copy(root().join("tests/fixtures/shop").join(f), src.join(f)).unwrap();
    }
    std::fs::write(src.join("journeys.json"), JOURNEYS).unwrap();
    src
}

/// An admin request to `addr` (the bearer token; a JSON body when `body` is not
/// empty).
pub fn admin_request(addr: SocketAddr, method: &str, path: &str, body: &str) -> Response {
    let auth = format!("Bearer {TOKEN}");
    let mut headers = vec![("authorization", auth.as_str())];
    if !body.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    Client::new(addr)
        .unwrap()
        .request(method, path, &headers, body.as_bytes())
        .unwrap()
}

/// [`admin_request`], which must succeed; its JSON answer.
pub fn admin_ok(addr: SocketAddr, method: &str, path: &str, body: &str) -> serde_json::Value {
    let r = admin_request(addr, method, path, body);
    assert!(
        r.status < 300,
        "{method} {path}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}
