//! Several `slotwise serve` replicas over one PostgreSQL, sharing nothing but the
//! database (each has its own data directory; the signing key and the admin token are
//! configuration, given to each alike):
//! - a client spreads batches over three replicas, retrying on the next one, while one
//!   replica after another is killed with SIGKILL and restarted: every acknowledged
//!   event is stored exactly once;
//! - erasure through one replica leaves no row visible through the others;
//! - a bundle published through one is served, with the same ETag, by all.
//!
//! And the database's faults: unreachable at start is a clear error and exit code;
//! lost while running, writes get 503 with `Retry-After` (never a 2xx for an event not
//! stored) while the last good bundle is still served, and service resumes after.
//!
//! And the journey outbox: with every replica's scheduler running and one replica
//! killed and restarted while messages fall due, each due message is queued exactly
//! once, and concurrent pulls through all replicas hand each message out once.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};
use slotwise::signals::{self, Kind, Signal};
use slotwise_origin::server::client::Client;

const ALL: u8 = BIT_NECESSARY | BIT_PERSONALIZATION | BIT_MEASUREMENT;
const REPLICAS: usize = 3;
const CLIENTS: u64 = 2;
const BATCHES: u64 = 150;
const PER_BATCH: u64 = 40;
const KILLS: u64 = 3;

struct Replicas {
    addrs: Vec<SocketAddr>,
    datas: Vec<PathBuf>,
    args: Vec<String>,
    children: Vec<Mutex<Child>>,
    store: TestStore,
    /// Removed after the replicas are stopped (fields drop after `Drop::drop`).
    dir: TempDir,
}

impl Replicas {
    /// Three replicas over one new database, each with its own data directory holding
    /// a copy of one signing key.
    fn start(name: &str) -> Replicas {
        Replicas::start_with(name, None, &[])
    }

    /// [`Replicas::start`] with a bundle of our own and more flags.
    fn start_with(name: &str, bundle: Option<&Path>, extra: &[&str]) -> Replicas {
        let dir = temp_dir(name);
        let store = TestStore::new(Backend::Postgres, name, &dir);
        let keys = dir.join("keys");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_slotwise"))
            .args(["keys", "generate", "--kid", "shared", "--out-dir"])
            .arg(&keys)
            .output()
            .unwrap();
        assert!(out.status.success());
        let bundle = match bundle {
            Some(b) => b.to_string_lossy().into_owned(),
            None => demo_bundle(&dir).to_string_lossy().into_owned(),
        };
        let args: Vec<String> = [
            "--store",
            &store.location,
            "--admin-token",
            TOKEN,
            "--bundle",
            &bundle,
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
        let mut r = Replicas {
            addrs: Vec::new(),
            datas: Vec::new(),
            args,
            children: Vec::new(),
            store,
            dir,
        };
        for i in 0..REPLICAS {
            let data = r.dir.join(format!("replica-{i}"));
            std::fs::create_dir_all(data.join("keys")).unwrap();
            std::fs::copy(
                keys.join("shared.secret.json"),
                data.join("keys/shared.secret.json"),
            )
            .unwrap();
            let addr = free_addr();
            let child = r.spawn(addr, &data);
            r.addrs.push(addr);
            r.datas.push(data);
            r.children.push(Mutex::new(child));
        }
        r
    }

    fn spawn(&self, addr: SocketAddr, data: &Path) -> Child {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        start_on(addr, data, &args)
    }

    fn kill_and_restart(&self, i: usize) {
        let mut child = self.children[i].lock().unwrap();
        child.kill().unwrap(); // SIGKILL on Unix
        let _ = child.wait();
        *child = self.spawn(self.addrs[i], &self.datas[i]);
    }

    fn client(&self, i: usize) -> Client {
        Client::new(self.addrs[i]).unwrap()
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for c in &self.children {
            if let Ok(mut c) = c.lock() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

#[test]
fn replicas_over_one_postgres_store_each_acknowledged_event_once() {
    if !postgres_available("replicas_over_one_postgres_store_each_acknowledged_event_once") {
        return;
    }
    let replicas = Replicas::start("replicas");
    let acked_batches = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let now = now();
    let started = Instant::now();
    let (acknowledged, retries, replayed) = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (replicas, acked_batches, done) = (&replicas, &acked_batches, &done);
                s.spawn(move || {
                    let mut conns: Vec<Client> =
                        (0..REPLICAS).map(|i| replicas.client(i)).collect();
                    let (mut acked, mut retries, mut replayed) = (Vec::new(), 0u64, 0u64);
                    for b in 0..BATCHES {
                        let batch: Vec<Signal> = (0..PER_BATCH)
                            .map(|i| {
                                Signal::new(
                                    Kind::Impression,
                                    (client << 48) | (b << 16) | i | 1 << 62,
                                    now,
                                )
                                .decision(b, 0, i as u32, 0)
                                .consent(ALL)
                                .subject(b % 11)
                            })
                            .collect();
                        let body = signals::encode(&batch).unwrap();
                        // Spread: batch b goes to replica b mod 3; a failure moves on
                        // to the next replica after a short backoff.
                        let mut target = (b + client) as usize % REPLICAS;
                        let mut backoff = Duration::from_millis(5);
                        loop {
                            match conns[target].request(
                                "POST",
                                "/v1/signals",
                                &[("content-type", SWG1)],
                                &body,
                            ) {
                                Ok(r) if r.status == 200 => {
                                    replayed += r.json()["duplicates"].as_u64().unwrap_or(0);
                                    break;
                                }
                                Ok(r) => {
                                    assert_eq!(
                                        r.status,
                                        503,
                                        "{}",
                                        String::from_utf8_lossy(&r.body)
                                    );
                                    retries += 1;
                                }
                                Err(_) => retries += 1,
                            }
                            assert!(started.elapsed() < Duration::from_secs(90), "stuck");
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_millis(100));
                            target = (target + 1) % REPLICAS;
                        }
                        acked.extend(batch.iter().map(|s| s.event_id));
                        acked_batches.fetch_add(1, Ordering::SeqCst);
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                    (acked, retries, replayed)
                })
            })
            .collect();
        // SIGKILL replica 0, 1, 2 in turn at evenly spaced points, restarting each.
        for k in 1..=KILLS {
            let at = CLIENTS * BATCHES * k / (KILLS + 1);
            while acked_batches.load(Ordering::SeqCst) < at && done.load(Ordering::SeqCst) < CLIENTS
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            replicas.kill_and_restart((k as usize - 1) % REPLICAS);
        }
        clients.into_iter().map(|h| h.join().unwrap()).fold(
            (Vec::new(), 0, 0),
            |(mut a, r, p), (acked, retries, replayed)| {
                a.extend(acked);
                (a, r + retries, p + replayed)
            },
        )
    });
    let stored: HashSet<u64> = replicas
        .store
        .ints("SELECT event_id FROM signals")
        .into_iter()
        .map(|id| id as u64)
        .collect();
    let rows = replicas.store.count("SELECT COUNT(*) FROM signals");
    let duplicates = replicas.store.count(
        "SELECT CAST(COALESCE(SUM(n - 1), 0) AS BIGINT) FROM (SELECT COUNT(*) AS n FROM signals GROUP BY event_id) AS per_id",
    );
    let acked: HashSet<u64> = acknowledged.iter().copied().collect();
    let acked_stored = acked.iter().filter(|id| stored.contains(id)).count();
    println!(
        "replicas: {REPLICAS} replicas, {CLIENTS} clients x {BATCHES} batches, {KILLS} SIGKILLs, {retries} retries ({replayed} events committed before a failure and replayed): {} acknowledged / {acked_stored} stored / {duplicates} duplicates ({rows} rows) in {:.1} s",
        acknowledged.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(acknowledged.len() as u64, CLIENTS * BATCHES * PER_BATCH);
    assert_eq!(acked.len(), acknowledged.len());
    assert_eq!(acked_stored, acked.len());
    assert_eq!(duplicates, 0);
    assert_eq!(rows as usize, acked.len());

    // Erasure through replica 2 of a cluster linked through replica 1.
    let auth = format!("Bearer {TOKEN}");
    let json = [
        ("content-type", "application/json"),
        ("authorization", auth.as_str()),
    ];
    let admin = [("authorization", auth.as_str())];
    let link = r#"{"ids":["anon:0000000000000003","anon:0000000000000004","login:zoe"]}"#;
    let r = replicas
        .client(1)
        .request("POST", "/v1/identify", &json, link.as_bytes())
        .unwrap();
    assert_eq!(r.status, 200);
    for i in 0..REPLICAS {
        let export = replicas
            .client(i)
            .request("GET", "/v1/subjects/login:zoe", &admin, &[])
            .unwrap()
            .json();
        assert_eq!(export["ids"].as_array().unwrap().len(), 3, "replica {i}");
        assert!(
            !export["signals"].as_array().unwrap().is_empty(),
            "replica {i}"
        );
    }
    let r = replicas
        .client(2)
        .request("DELETE", "/v1/subjects/anon:0000000000000003", &admin, &[])
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.json()["erased"]["signals"].as_u64().unwrap() > 0);
    for i in 0..REPLICAS {
        for id in [
            "login:zoe",
            "anon:0000000000000003",
            "anon:0000000000000004",
        ] {
            let export = replicas
                .client(i)
                .request("GET", &format!("/v1/subjects/{id}"), &admin, &[])
                .unwrap()
                .json();
            assert_eq!(
                export["signals"].as_array().unwrap().len(),
                0,
                "{id} via replica {i}"
            );
            assert_eq!(
                export["ids"].as_array().unwrap().len(),
                1,
                "{id} via replica {i}"
            );
        }
    }
    assert_eq!(
        replicas.store.count(
            "SELECT COUNT(*) FROM signals WHERE subject IN ('anon:0000000000000003', 'anon:0000000000000004')"
        ),
        0
    );
    assert_eq!(replicas.store.count("SELECT COUNT(*) FROM identities"), 0);

    // A bundle published through replica 1 is served by all with its ETag.
    let b = slotwise_origin::authoring::build_dir(
        &root().join("tests/fixtures/shop"),
        &slotwise_origin::authoring::BuildOptions {
            created_at: 1_900_000_000,
        },
    )
    .unwrap();
    let bytes = slotwise::bundle::encode(&b);
    let r = replicas
        .client(1)
        .request(
            "POST",
            "/v1/admin/bundle",
            &[
                ("content-type", "application/vnd.slotwise.bundle"),
                ("authorization", auth.as_str()),
            ],
            &bytes,
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let etag = r.json()["etag"].as_str().unwrap().to_string();
    for i in 0..REPLICAS {
        // Each replica re-checks the current version at least once a second.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = replicas
                .client(i)
                .request("GET", "/v1/bundle", &[], &[])
                .unwrap();
            if r.header("etag") == Some(etag.as_str()) {
                assert_eq!(r.body, bytes, "replica {i}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica {i} still serves {:?}",
                r.header("etag")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn unreachable_database_at_start_is_a_clear_error() {
    // A closed port: nothing listens on port 1 of loopback.
    let dir = temp_dir("unreachable");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slotwise"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--store",
            "postgres://slotwise:secret@127.0.0.1:1/none",
            "--data-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to PostgreSQL at postgres://slotwise:***@127.0.0.1:1/none"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password is never printed: {stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slotwise"))
        .args(["serve", "--store", "mysql://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a store is sqlite:<dir> or postgres://")
    );
}

#[test]
fn database_lost_while_running_refuses_writes_and_keeps_the_bundle() {
    if !postgres_available("database_lost_while_running_refuses_writes_and_keeps_the_bundle") {
        return;
    }
    let server = Server::start("lost", Backend::Postgres);
    let mut c = server.client();
    let now = now();
    let batch =
        |id: u64| signals::encode(&[Signal::new(Kind::View, id, now).consent(ALL)]).unwrap();
    assert_eq!(post_signals(&mut c, &batch(1)).status, 200);
    let good = c.request("GET", "/v1/bundle", &[], &[]).unwrap();
    assert_eq!(good.status, 200);
    // "Lose" the database: refuse new connections and end the server's sessions.
    let db = server
        .store
        .location
        .rsplit_once('/')
        .unwrap()
        .1
        .to_string();
    let mut admin =
        postgres::Client::connect(&postgres_admin_url().unwrap(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS false"))
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&db],
        )
        .unwrap();
    for id in 2..5 {
        let r = post_signals(&mut c, &batch(id));
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.json()["error"]["code"], "store.unavailable");
    }
    std::thread::sleep(Duration::from_millis(1100));
    let r = c.request("GET", "/v1/bundle", &[], &[]).unwrap();
    assert_eq!(r.status, 200, "the last good bundle is still served");
    assert_eq!(r.header("etag"), good.header("etag"));
    assert_eq!(r.body, good.body);
    // Back: writes are accepted again, and only what was acknowledged is stored.
    admin
        .batch_execute(&format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS true"))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while post_signals(&mut c, &batch(5)).status != 200 {
        assert!(Instant::now() < deadline, "the server did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server
            .store
            .ints("SELECT event_id FROM signals ORDER BY event_id"),
        vec![1, 5]
    );
}

/// Admin JSON through replica `i`.
fn admin_json(r: &Replicas, i: usize, method: &str, path: &str, body: &str) -> serde_json::Value {
    admin_ok(r.addrs[i], method, path, body)
}

/// Sets every replica's test clock at once (each then runs a scheduler pass).
fn set_clocks(r: &Replicas, now: u64) {
    std::thread::scope(|s| {
        for i in 0..REPLICAS {
            s.spawn(move || {
                admin_json(
                    r,
                    i,
                    "POST",
                    "/v1/admin/clock",
                    &format!("{{\"now\":{now}}}"),
                )
            });
        }
    });
}

#[test]
fn replicas_queue_each_due_journey_message_once() {
    if !postgres_available("replicas_queue_each_due_journey_message_once") {
        return;
    }
    const CUSTOMERS: u64 = 60;
    // 2026-11-24 12:00 UTC: outside the journey's quiet hours.
    const T0: u64 = 1_795_521_600;
    let dir = temp_dir("replicas-journeys");
    let bundle = journey_bundle(&dir);
    // Every replica's scheduler looks for due messages every 20 ms.
    let replicas = Replicas::start_with(
        "replicas_journeys",
        Some(&bundle),
        &["--test-clock", "--journey-interval-ms", "20"],
    );
    set_clocks(&replicas, T0);
    for c in 0..CUSTOMERS {
        let i = c as usize % REPLICAS;
        let email = format!("email:{:064x}", c + 1);
        admin_json(
            &replicas,
            i,
            "POST",
            "/v1/identify",
            &format!("{{\"ids\":[\"anon:{:016x}\",\"{email}\"]}}", 0x100 + c),
        );
        admin_json(
            &replicas,
            (i + 1) % REPLICAS,
            "PUT",
            &format!("/v1/subjects/{email}/contact"),
            r#"{"channels":{"email":true}}"#,
        );
        let mut cart = Signal::new(Kind::AddToCart, (7 << 56) | c, T0)
            .consent(ALL)
            .subject(0x100 + c);
        cart.item = (c % 4) as u32;
        let r = post_signals(
            &mut replicas.client((i + 2) % REPLICAS),
            &signals::encode(&[cart]).unwrap(),
        );
        assert_eq!(r.status, 200);
    }
    assert_eq!(
        replicas
            .store
            .count("SELECT COUNT(*) FROM journey_instances WHERE status = 0"),
        CUSTOMERS as i64
    );

    // Everything falls due at once on three schedulers; replica 0 is killed while
    // they work, restarted, and handed the clock again. Its claims' leases run out
    // (60 s of test time) and the others take them over.
    let due = T0 + 3600 + 1;
    let started = Instant::now();
    std::thread::scope(|s| {
        for i in 1..REPLICAS {
            let r = &replicas;
            s.spawn(move || {
                admin_json(
                    r,
                    i,
                    "POST",
                    "/v1/admin/clock",
                    &format!("{{\"now\":{due}}}"),
                )
            });
        }
        let r = &replicas;
        s.spawn(move || {
            let _ = r.client(0).request(
                "POST",
                "/v1/admin/clock",
                &[
                    ("authorization", &format!("Bearer {TOKEN}")),
                    ("content-type", "application/json"),
                ],
                format!("{{\"now\":{due}}}").as_bytes(),
            );
        });
        std::thread::sleep(Duration::from_millis(15));
        replicas.kill_and_restart(0);
    });
    set_clocks(&replicas, due);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut now = due;
    while replicas
        .store
        .count("SELECT COUNT(*) FROM journey_instances WHERE status = 0")
        > 0
    {
        assert!(Instant::now() < deadline, "journeys still pending");
        // Past any lease the killed replica held.
        now += 61;
        set_clocks(&replicas, now);
        std::thread::sleep(Duration::from_millis(50));
    }
    let queued = replicas.store.count("SELECT COUNT(*) FROM outbox");
    let per_instance = replicas
        .store
        .count("SELECT COUNT(DISTINCT instance) FROM outbox");
    let per_recipient = replicas
        .store
        .count("SELECT COUNT(DISTINCT recipient) FROM outbox");
    let done = replicas
        .store
        .count("SELECT COUNT(*) FROM journey_instances WHERE status = 1");

    // Three delivery workers pull through the three replicas at once.
    let pulled = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for i in 0..REPLICAS {
            let (r, pulled) = (&replicas, &pulled);
            s.spawn(move || {
                loop {
                    let got = admin_json(r, i, "GET", "/v1/outbox?limit=7&lease=3600", "");
                    let ids: Vec<String> = got["messages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m["id"].as_str().unwrap().to_string())
                        .collect();
                    if ids.is_empty() {
                        break;
                    }
                    pulled.lock().unwrap().extend(ids);
                }
            });
        }
    });
    let pulled = pulled.into_inner().unwrap();
    let distinct: HashSet<&String> = pulled.iter().collect();
    for (k, chunk) in pulled.chunks(20).enumerate() {
        let ids: Vec<String> = chunk.iter().map(|id| format!("\"{id}\"")).collect();
        let a = admin_json(
            &replicas,
            k % REPLICAS,
            "POST",
            "/v1/outbox/ack",
            &format!("{{\"ids\":[{}]}}", ids.join(",")),
        );
        assert_eq!(a["acked"].as_u64(), Some(chunk.len() as u64));
    }
    println!(
        "replicas, journeys: {REPLICAS} replicas (one SIGKILLed mid-run), {CUSTOMERS} due messages: {queued} queued for {per_instance} instances and {per_recipient} recipients, {done} journeys done, {} pulled ({} distinct) in {:.1} s",
        pulled.len(),
        distinct.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(queued, CUSTOMERS as i64);
    assert_eq!(per_instance, CUSTOMERS as i64);
    assert_eq!(per_recipient, CUSTOMERS as i64);
    assert_eq!(done, CUSTOMERS as i64);
    assert_eq!(
        pulled.len(),
        CUSTOMERS as usize,
        "each message handed out once"
    );
    assert_eq!(distinct.len(), CUSTOMERS as usize);
    assert_eq!(
        replicas
            .store
            .count("SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL"),
        0
    );
}
