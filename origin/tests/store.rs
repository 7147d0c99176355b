//! The store contract, on both backends through [`slotwise_origin::store::open`]:
//! idempotent ingest, identity merges, erasure that keeps the bare ids, retention that
//! forgets ids only below its floor. And what replicas rely on: two store handles over
//! one database (two replicas) ingesting, linking and expiring at the same time.

mod common;

use common::*;
use slotwise::signals::{Kind, MAX_SIGNALS, Signal};
use slotwise_origin::store::sqlite::EXPIRE_CHUNK;
use slotwise_origin::store::{Erased, Ingested, PAGE_ROWS, Store, anon_id, journeys};
use std::sync::Arc;

fn fresh(backend: Backend, name: &str) -> (TestStore, Arc<dyn Store>) {
    let t = TestStore::temp(backend, name);
    let s = t.open();
    (t, s)
}

fn ingest_is_idempotent_and_links_merge(backend: Backend) {
    let (_kept, store) = fresh(backend, "contract"); // its directory lives as long
    let s: Vec<Signal> = (0..10)
        .map(|i| Signal::new(Kind::View, i, 100 + i).consent(6).subject(7))
        .collect();
    assert_eq!(store.ingest(&s, 1).unwrap().stored, 10);
    assert_eq!(store.ingest(&s, 1).unwrap().duplicates, 10);
    // Within one batch, a repeated id is stored once.
    let twice = [s[0], s[0]];
    assert_eq!(store.ingest(&twice, 1).unwrap().duplicates, 2);
    let a = anon_id(7);
    store.link(&["login:bob".into(), a.clone()]).unwrap();
    store.link(&["email:x".into(), "login:bob".into()]).unwrap();
    let (_, ids) = store.cluster("email:x").unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(store.subject_signals(&ids, 100).unwrap().len(), 10);
    let erased = store.erase("login:bob").unwrap();
    assert_eq!(
        erased,
        Erased {
            ids: 3,
            signals: 10
        }
    );
    assert_eq!(store.counts().unwrap().signals, 0);
    // A replay after erasure does not bring the signals back.
    assert_eq!(store.ingest(&s, 1).unwrap().stored, 0);
    assert_eq!(store.counts().unwrap().signals, 0);
    // Retention deletes by signal time.
    let s: Vec<Signal> = (0..10)
        .map(|i| Signal::new(Kind::View, 100 + i, 100 + i).consent(6))
        .collect();
    store.ingest(&s, 1).unwrap();
    assert_eq!(store.expire(105).unwrap(), 5);
    assert_eq!(store.counts().unwrap().signals, 5);
}

fn retention_forgets_ids_only_below_the_floor(backend: Backend) {
    let (t, store) = fresh(backend, "retention");
    // More than two retention chunks of old signals, times 1000..; subject 1 owns
    // the even event ids, subject 2 the odd ones.
    let n = 2 * EXPIRE_CHUNK as u64 + 5;
    let old: Vec<Signal> = (0..n)
        .map(|i| {
            Signal::new(Kind::View, i, 1000 + i % 100)
                .consent(6)
                .subject(1 + i % 2)
        })
        .collect();
    for chunk in old.chunks(MAX_SIGNALS) {
        assert_eq!(store.ingest(chunk, 1).unwrap().stored, chunk.len() as u64);
    }
    let young: Vec<Signal> = (0..10)
        .map(|i| Signal::new(Kind::View, n + i, 5000).consent(6).subject(2))
        .collect();
    store.ingest(&young, 1).unwrap();
    // Erasing subject 2 keeps its bare ids, old and young.
    let erased = store.erase(&anon_id(2)).unwrap();
    assert_eq!(erased.signals, n / 2 + 10);
    assert_eq!(store.ingest(&old, 1).unwrap().stored, 0);

    // Retention at 2000: every old signal and every old id goes, the young stay.
    assert_eq!(store.expire(2000).unwrap(), n - n / 2);
    assert_eq!(store.counts().unwrap().signals, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM event_ids"), 10);
    assert_eq!(t.count("SELECT COUNT(*) FROM erased_ids"), 10);

    // A retry of a forgotten id is acknowledged as expired, never stored again;
    // a retry of a young erased signal is still a duplicate.
    let again = store.ingest(&old[..100], 1).unwrap();
    assert_eq!(
        again,
        Ingested {
            stored: 0,
            duplicates: 0,
            expired: 100
        }
    );
    assert_eq!(store.ingest(&young, 1).unwrap().duplicates, 10);
    // The floor never goes down: an earlier cutoff changes nothing.
    assert_eq!(store.expire(10).unwrap(), 0);
    assert_eq!(store.ingest(&old[..1], 1).unwrap().expired, 1);
    // A signal at or above the floor is stored as usual.
    let fresh = [Signal::new(Kind::View, 7 * n, 2000).consent(6)];
    assert_eq!(store.ingest(&fresh, 1).unwrap().stored, 1);
    // Once the young ones pass the floor too, their erased ids are forgotten.
    store.expire(6000).unwrap();
    assert_eq!(t.count("SELECT COUNT(*) FROM event_ids"), 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM erased_ids"), 0);
    assert_eq!(store.ingest(&young, 1).unwrap().expired, 10);
}

/// Two handles on one database (on PostgreSQL: two replicas' pools) race: the same
/// batches from both sides store each id once; links made from both sides end in
/// one cluster; retention running meanwhile never lets a signal below the floor in.
fn two_handles_on_one_database_stay_exact(backend: Backend) {
    let (t, a) = fresh(backend, "replicas");
    let b = t.open();
    let batches: Vec<Vec<Signal>> = (0..40u64)
        .map(|k| {
            (0..50u64)
                .map(|i| {
                    // Overlapping ids: batch k shares half its ids with batch k + 1.
                    let id = k * 25 + i;
                    Signal::new(Kind::View, id, 10_000 + id)
                        .consent(6)
                        .subject(id % 7)
                })
                .collect()
        })
        .collect();
    let unique = 39 * 25 + 50;
    let (stored, expired) = std::thread::scope(|s| {
        let handles: Vec<_> = [&a, &b, &a, &b]
            .into_iter()
            .enumerate()
            .map(|(w, store)| {
                let batches = &batches;
                s.spawn(move || {
                    let mut total = Ingested::default();
                    for k in 0..batches.len() {
                        // Each worker walks the batches from its own starting point.
                        let batch = &batches[(k + w * 10) % batches.len()];
                        let r = store.ingest(batch, 1).unwrap();
                        assert_eq!(r.stored + r.duplicates + r.expired, 50);
                        total.stored += r.stored;
                        total.expired += r.expired;
                    }
                    total
                })
            })
            .collect();
        let linker = s.spawn(|| {
            for i in 0..20 {
                let (x, y) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
                x.link(&[anon_id(i % 7), format!("login:u{i}")]).unwrap();
                y.link(&[format!("login:u{i}"), anon_id((i + 1) % 7)])
                    .unwrap();
            }
        });
        // Retention below every signal's time: it must not delete anything. On SQLite
        // through the first handle, which has the profile-log tail (the other
        // refuses deletions while it is open).
        let expiring = if backend == Backend::Sqlite { &a } else { &b };
        expiring.expire(10_000).unwrap();
        linker.join().unwrap();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |(s, e), t| (s + t.stored, e + t.expired))
    });
    assert_eq!(expired, 0);
    assert_eq!(stored, unique, "each id stored exactly once across handles");
    assert_eq!(t.count("SELECT COUNT(*) FROM signals"), unique as i64);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM (SELECT event_id FROM signals GROUP BY event_id HAVING COUNT(*) > 1) AS d"),
        0
    );
    // Every anon id 0..7 and login went into one cluster, seen the same from both.
    let (ca, ids) = a.cluster("login:u0").unwrap();
    let (cb, _) = b.cluster(&anon_id(6)).unwrap();
    assert_eq!(ca, cb);
    assert_eq!(ids.len(), 7 + 20);
}

fn slotwise(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_slotwise"))
        .args(args)
        .output()
        .unwrap()
}

/// `slotwise migrate` prints, then applies; `slotwise store copy` moves a SQLite
/// site into an empty store of `backend` with everything that keeps it exact.
fn migrate_then_copy_from_sqlite(backend: Backend) {
    let target = TestStore::temp(backend, "copy-to");
    let out = slotwise(&["migrate", "--print", "--store", &target.location]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("pending: migration 1"), "{text}");
    let out = slotwise(&["migrate", "--store", &target.location]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied now: migration 1"));
    let out = slotwise(&["migrate", "--print", "--store", &target.location]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("applied: 1") && text.contains("pending: none"),
        "{text}"
    );

    let (source_loc, source) = fresh(Backend::Sqlite, "copy-from");
    let signals: Vec<Signal> = (0..(PAGE_ROWS as u64 + 50))
        .map(|i| {
            Signal::new(Kind::View, 1 + i * 7, 5_000 + i % 300)
                .consent(6)
                .subject(i % 5)
        })
        .collect();
    for chunk in signals.chunks(MAX_SIGNALS) {
        source.ingest(chunk, 42).unwrap();
    }
    source.link(&[anon_id(1), "login:ann".into()]).unwrap();
    source.link(&[anon_id(2), "login:ann".into()]).unwrap();
    let erased = source.erase(&anon_id(3)).unwrap();
    assert!(erased.signals > 0);
    source.publish_bundle(b"one", "\"e1\"", 10).unwrap();
    source.publish_bundle(b"two", "\"e2\"", 20).unwrap();
    let expired = source.expire(5_010).unwrap();
    assert!(expired > 0);
    // Journeys: a bundle published with them, an instance that queued a message,
    // a contact record.
    let v = source
        .publish_bundle_journeys(b"three", "\"e3\"", 30, Some("{\"journeys\":[]}"))
        .unwrap();
    let instance = journeys::Instance {
        id: 77,
        journey: "cart".into(),
        subject: anon_id(4),
        started_at: 6_000,
        last_trigger_at: 6_000,
        items: vec!["sku-1".into()],
        step: 0,
        next_at: 6_100,
        status: journeys::Status::Active,
        active_until: 9_000,
    };
    source
        .journey_write(vec![journeys::InstanceWrite::Insert(instance.clone())])
        .unwrap();
    assert_eq!(
        source.journey_claim(6_100, 6_160, 10).unwrap(),
        vec![instance.clone()]
    );
    let message = journeys::OutboxMessage {
        id: 88,
        instance: 77,
        step: 0,
        journey: "cart".into(),
        subject: anon_id(4),
        recipient: "login:ann".into(),
        channel: slotwise::signals::Channel::Sms,
        created_at: 6_100,
        body: "{}".into(),
        attempts: 0,
        lease_until: 0,
        acked_at: None,
    };
    let done = journeys::StepDone {
        instance: 77,
        step: 0,
        next_at: 0,
        items: instance.items.clone(),
        action: journeys::StepAction::Send {
            message: message.clone(),
            budget: Some((1, 0)),
            ids: vec![anon_id(4)],
        },
    };
    assert_eq!(
        source.journey_step(done.clone(), 6_100).unwrap(),
        journeys::StepOutcome::Queued
    );
    assert_eq!(
        source.journey_step(done, 6_100).unwrap(),
        journeys::StepOutcome::Stale,
        "a step is applied once"
    );
    let contact = journeys::Contact {
        id: "login:ann".into(),
        channels: 1 << (slotwise::signals::Channel::Sms as u8),
        time_zone: Some("Europe/Paris".into()),
        updated_at: 6_000,
    };
    source.contact_set(contact.clone()).unwrap();
    let want = source.counts().unwrap();
    drop(source);

    let out = slotwise(&[
        "store",
        "copy",
        "--from",
        &source_loc.location,
        "--to",
        &target.location,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    let copied = target.open();
    assert_eq!(copied.counts().unwrap(), want);
    let (_, ids) = copied.cluster("login:ann").unwrap();
    assert_eq!(ids, vec![anon_id(1), anon_id(2), "login:ann".to_string()]);
    let current = copied.current_bundle().unwrap().unwrap();
    assert_eq!(
        (current.version, current.etag.as_str(), &current.bytes[..]),
        (v, "\"e3\"", &b"three"[..])
    );
    // The journey tables came along.
    assert_eq!(
        copied.bundle_journeys(v).unwrap().as_deref(),
        Some("{\"journeys\":[]}")
    );
    let instances = copied.journey_instances(&[anon_id(4)]).unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!(
        (instances[0].status, instances[0].step),
        (journeys::Status::Done, 1)
    );
    let pulled = copied.outbox_pull(7_000, 7_060, 10).unwrap();
    assert_eq!(pulled.len(), 1);
    assert_eq!(
        (
            pulled[0].id,
            pulled[0].recipient.as_str(),
            pulled[0].attempts
        ),
        (message.id, "login:ann", 1)
    );
    assert_eq!(
        copied.contacts(&["login:ann".into()]).unwrap(),
        vec![contact]
    );
    assert_eq!(
        copied.outbox_ack(&[88, 88, 99], 7_001).unwrap(),
        vec![
            journeys::Acked::Now,
            journeys::Acked::Already,
            journeys::Acked::Unknown
        ]
    );
    // The same answers from the copy: stored, erased (still claimed), below the floor.
    let again = copied.ingest(&signals, 1).unwrap();
    assert_eq!(again.stored, 0, "{again:?}");
    let old = signals.iter().filter(|s| s.time < 5_010).count() as u64;
    assert_eq!(again.expired, old);
    let mut got = copied.subject_signals(&[anon_id(4)], 100_000).unwrap();
    got.sort_by_key(|r| r.signal.event_id);
    let mut want: Vec<Signal> = signals
        .iter()
        .filter(|s| s.subject == Some(4) && s.time >= 5_010)
        .copied()
        .collect();
    want.sort_by_key(|s| s.event_id);
    assert_eq!(got.iter().map(|r| r.signal).collect::<Vec<_>>(), want);
    // The target is no longer empty: a second copy refuses.
    let out = slotwise(&[
        "store",
        "copy",
        "--from",
        &source_loc.location,
        "--to",
        &target.location,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

crate::on_both_backends!(
    migrate_then_copy_from_sqlite,
    ingest_is_idempotent_and_links_merge,
    retention_forgets_ids_only_below_the_floor,
    two_handles_on_one_database_stay_exact,
);
