//! Durability: a client sends N batches, retrying each until it is acknowledged, while
//! the server is killed with SIGKILL and restarted several times on the same port and
//! data directory. Afterwards every acknowledged event is stored exactly once.

mod common;

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Child;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use slotwise::signals::{self, Kind, Signal};
use slotwise_origin::server::client::Client;

const BATCHES: u64 = 200;
const PER_BATCH: u64 = 50;
const KILLS: u64 = 3;

fn start(dir: &Path, store: &TestStore, addr: SocketAddr) -> Child {
    let exe = Path::new(env!("CARGO_BIN_EXE_slotwise"));
    let port = addr.to_string();
    // Port reuse right after a kill can race: retry the start a few times.
    for _ in 0..50 {
        let mut child = match std::process::Command::new(exe)
            .args(["serve", "--addr", &port, "--sync", "full", "--data-dir"])
            .arg(dir)
            .args(["--store", &store.location])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("spawn: {e}"),
        };
        let mut line = String::new();
        let out = child.stdout.take().unwrap();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line);
        if line.starts_with("listening on") {
            return child;
        }
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not restart");
}

fn acknowledged_events_survive_sigkill_exactly_once(backend: Backend) {
    let dir = temp_dir("durability");
    let data = dir.join("data");
    let store = TestStore::new(backend, "durability", &dir);
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let server = Mutex::new(start(&data, &store, addr));
    let acked_batches = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let now = now();
    let started = Instant::now();

    let (acknowledged, (retries, replayed)) = std::thread::scope(|s| {
        let client = s.spawn(|| {
            let mut c = Client::new(addr).unwrap();
            let mut acked: Vec<u64> = Vec::new();
            let mut retries = 0u64;
            let mut replayed = 0u64;
            for b in 0..BATCHES {
                let batch: Vec<Signal> = (0..PER_BATCH)
                    .map(|i| {
                        Signal::new(Kind::Impression, (b << 32) | i | 1 << 63, now)
                            .decision(b, 0, i as u32, 0)
                            .consent(5)
                    })
                    .collect();
                let body = signals::encode(&batch).unwrap();
                let mut backoff = Duration::from_millis(5);
                loop {
                    match c.request("POST", "/v1/signals", &[("content-type", SWG1)], &body) {
                        Ok(r) if r.status == 200 => {
                            replayed += r.json()["duplicates"].as_u64().unwrap_or(0);
                            break;
                        }
                        _ => {
                            retries += 1;
                            assert!(started.elapsed() < Duration::from_secs(60), "stuck");
                            std::thread::sleep(backoff);
                            backoff = (backoff * 2).min(Duration::from_millis(200));
                        }
                    }
                }
                acked.extend(batch.iter().map(|s| s.event_id));
                acked_batches.fetch_add(1, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
            (acked, (retries, replayed))
        });
        // The killer: SIGKILL at evenly spaced points of the run, restart at once.
        for k in 1..=KILLS {
            let at = BATCHES * k / (KILLS + 1);
            while acked_batches.load(Ordering::SeqCst) < at && !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut child = server.lock().unwrap();
            child.kill().unwrap(); // SIGKILL on Unix
            let _ = child.wait();
            *child = start(&data, &store, addr);
        }
        client.join().unwrap()
    });
    let mut child = server.into_inner().unwrap();

    let stored: HashSet<u64> = store
        .ints("SELECT event_id FROM signals")
        .into_iter()
        .map(|id| id as u64)
        .collect();
    let rows = store.count("SELECT COUNT(*) FROM signals");
    let duplicates = store.count(
        "SELECT CAST(COALESCE(SUM(n - 1), 0) AS BIGINT) FROM (SELECT COUNT(*) AS n FROM signals GROUP BY event_id) AS per_id",
    );
    let acked_set: HashSet<u64> = acknowledged.iter().copied().collect();
    let acked_stored = acked_set.iter().filter(|id| stored.contains(id)).count();
    println!(
        "durability ({backend:?}): {} batches, {KILLS} SIGKILLs, {retries} retries ({replayed} events committed before a kill and replayed): {} acknowledged / {} stored / {} duplicates ({} rows)",
        BATCHES,
        acknowledged.len(),
        acked_stored,
        duplicates,
        rows
    );
    assert_eq!(acknowledged.len() as u64, BATCHES * PER_BATCH);
    assert_eq!(acked_stored, acknowledged.len());
    assert_eq!(duplicates, 0);
    assert_eq!(rows as usize, acked_set.len());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}

crate::on_both_backends!(acknowledged_events_survive_sigkill_exactly_once);
