//! The materialized profile logs against the signals they are built from, on both
//! backends: after random ingests (with replays, ties in time and subjects past the
//! log's length), identity links, erasures and retention sweeps, every cluster's
//! profile read from its logs equals the one recomputed from its stored signals — the
//! same signals, and so the same snippet claims — and stays so across a reopen and a
//! rebuild of the logs.

mod common;

use common::*;
use slotwise::bundle::Bundle;
use slotwise::signals::{Channel, Kind, Signal};
use slotwise_origin::server::profile::{BundleIndex, Issue, claims};
use slotwise_origin::store::profile_log::{COMPACT_AFTER, MAX_SIGNALS};
use slotwise_origin::store::{Store, anon_id};

/// The test's own deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const T0: u64 = 1_800_000_000;
const DAY: u64 = 86_400;
const SUBJECTS: u64 = 6;

/// One random signal: times cluster on a few seconds (ties), kinds and channels mix.
fn signal(rng: &mut Rng, subject: Option<u64>) -> Signal {
    let kind = Kind::ALL[rng.below(Kind::ALL.len() as u64) as usize];
    let time = match rng.below(3) {
        0 => T0 - rng.below(40) * DAY,
        1 => T0 - rng.below(5),
        _ => T0 - rng.below(3 * DAY),
    };
    let mut s = Signal::new(kind, rng.next(), time)
        .item(rng.below(5) as u32)
        .consent([7, 7, 7, 6][rng.below(4) as usize])
        .channel(Channel::ALL[rng.below(Channel::ALL.len() as u64) as usize]);
    if matches!(kind, Kind::Impression | Kind::Click) {
        s = s.decision(rng.next(), rng.below(3) as u16, s.item, 0);
    }
    if matches!(kind, Kind::Purchase | Kind::AddToCart) {
        s = s.value(rng.below(20_000));
    }
    s.subject = subject;
    s
}

fn ids() -> Vec<String> {
    let mut ids: Vec<String> = (1..=SUBJECTS).map(anon_id).collect();
    ids.extend(["login:a", "login:b", "email:c"].map(String::from));
    ids
}

/// The profile of `id`'s cluster recomputed from the stored signals: the newest
/// `MAX_SIGNALS` by (time, event id), with only the fields a profile reads.
fn recomputed(store: &dyn Store, id: &str) -> Vec<Signal> {
    let (_, members) = store.cluster(id).unwrap();
    let mut all: Vec<Signal> = store
        .subject_signals(&members, usize::MAX >> 1)
        .unwrap()
        .into_iter()
        .map(|r| Signal {
            variant: 0,
            holdout: false,
            subject: None,
            ..r.signal
        })
        .collect();
    all.sort_by_key(|s| std::cmp::Reverse((s.time, s.event_id)));
    all.truncate(MAX_SIGNALS);
    all
}

fn check(store: &dyn Store, index: &BundleIndex, step: &str) {
    let ids = ids();
    let bulk = store.cluster_profiles(&ids).unwrap();
    for (id, from_bulk) in ids.iter().zip(bulk) {
        let (cluster, members) = store.cluster(id).unwrap();
        let want = recomputed(store, id);
        let got = store.profile_log(&members).unwrap();
        assert_eq!(got, want, "{step}: {id}");
        assert_eq!(
            (&from_bulk.cluster, &from_bulk.ids, &from_bulk.signals),
            (&cluster, &members, &want),
            "{step}: {id} read in a chunk"
        );
        for now in [T0, T0 + 2 * DAY] {
            let issue = Issue {
                key_id: "k",
                audience: "shop",
                subject: id,
                now,
                ttl: 600,
            };
            assert_eq!(
                claims(&issue, index, &got),
                claims(&issue, index, &want),
                "{step}: {id} claims"
            );
        }
    }
}

fn materialized_profiles_equal_the_recomputed_ones(backend: Backend) {
    let t = TestStore::temp(backend, "profile-logs");
    let mut store = t.open();
    let mut bundle = Bundle::example();
    bundle.caps = vec![
        slotwise::caps::Cap {
            scope: slotwise::caps::CapScope::Item(1),
            limit: 3,
            period_secs: 3600,
        },
        slotwise::caps::Cap {
            scope: slotwise::caps::CapScope::Slot(1),
            limit: 3,
            period_secs: 2 * DAY as u32,
        },
    ];
    let index = BundleIndex::of(Some(&bundle));
    let mut rng = Rng(0x5107_3153_d00d_f00d);
    let mut sent: Vec<Vec<Signal>> = Vec::new();
    let mut floor = T0 - 60 * DAY;
    for step in 0..80 {
        let op = rng.below(21);
        let what = match op {
            0..=10 => {
                // A batch over a few subjects (some signals without one).
                let n = 1 + rng.below(120) as usize;
                let batch: Vec<Signal> = (0..n)
                    .map(|_| {
                        let subject = rng.below(SUBJECTS + 1);
                        signal(&mut rng, (subject > 0).then_some(subject))
                    })
                    .collect();
                store.ingest(&batch, T0).unwrap();
                sent.push(batch);
                "ingest"
            }
            11 => {
                // One subject far past the log's length, in many commits.
                let subject = 1 + rng.below(SUBJECTS);
                for _ in 0..(MAX_SIGNALS / 100 + 2) {
                    let batch: Vec<Signal> =
                        (0..120).map(|_| signal(&mut rng, Some(subject))).collect();
                    store.ingest(&batch, T0).unwrap();
                }
                "a long history"
            }
            12..=13 if !sent.is_empty() => {
                let k = rng.below(sent.len() as u64) as usize;
                let replay = sent[k].clone();
                store.ingest(&replay, T0).unwrap();
                "replay"
            }
            14..=16 => {
                let ids = ids();
                let a = ids[rng.below(ids.len() as u64) as usize].clone();
                let b = ids[rng.below(ids.len() as u64) as usize].clone();
                store.link(&[a, b]).unwrap();
                "link"
            }
            17 => {
                let ids = ids();
                store
                    .erase(&ids[rng.below(ids.len() as u64) as usize])
                    .unwrap();
                "erase"
            }
            18 => {
                floor += rng.below(15) * DAY;
                store.expire(floor).unwrap();
                "expire"
            }
            19 => {
                // Many small commits of one subject: its small rows are merged beside
                // its large row before they are folded into it.
                let subject = 1 + rng.below(SUBJECTS);
                for _ in 0..(3 * COMPACT_AFTER) {
                    let n = 1 + rng.below(3) as usize;
                    let batch: Vec<Signal> =
                        (0..n).map(|_| signal(&mut rng, Some(subject))).collect();
                    store.ingest(&batch, T0).unwrap();
                }
                "small commits"
            }
            _ => {
                drop(store);
                store = t.open();
                "reopen"
            }
        };
        check(store.as_ref(), &index, &format!("step {step} ({what})"));
    }
    // SQLite merges a subject's rows as it appends to them: none has more than
    // COMPACT_AFTER (PostgreSQL merges after the answer, best effort).
    let most = t
        .ints("SELECT COUNT(*) FROM profile_logs GROUP BY subject")
        .into_iter()
        .max()
        .unwrap_or(0);
    if backend == Backend::Sqlite {
        assert!(most <= COMPACT_AFTER as i64, "{most} rows for one subject");
    }
    // SQLite answers an ingest before its signals are merged into the logs: a crash
    // may leave signals out of them, which the next open merges. As if every signal
    // had been left out:
    if backend == Backend::Sqlite {
        drop(store);
        t.execute(
            "UPDATE meta SET value = 0 WHERE key = 'profile_log_signal';
             DELETE FROM profile_logs;",
        );
        store = t.open();
        check(store.as_ref(), &index, "merged at open");
        // And right after ingests, before their merge: the reads add the tail.
        let batch: Vec<Signal> = (0..300)
            .map(|i| signal(&mut rng, Some(1 + i % SUBJECTS)))
            .collect();
        store.ingest(&batch, T0).unwrap();
        check(store.as_ref(), &index, "unmerged tail");
    }
    // Logs of an older format are rebuilt from the signals at open.
    drop(store);
    t.execute("UPDATE meta SET value = 0 WHERE key = 'profile_log_format'");
    t.execute("DELETE FROM profile_logs");
    let store = t.open();
    check(store.as_ref(), &index, "rebuilt");
    assert!(t.count("SELECT COUNT(*) FROM profile_logs") > 0);
}

crate::on_both_backends!(materialized_profiles_equal_the_recomputed_ones);

// ---- The SQLite profile-log tail (signals answered before their log rows) ----

/// A trigger that makes every profile-log append of `subject` fail, as a busy, full
/// or failing disk makes the writer's merge of the tail fail (it is retried later).
fn fail_log_appends(t: &TestStore, subject: u64) {
    t.execute(&format!(
        "CREATE TRIGGER fail_log_appends BEFORE INSERT ON profile_logs
         WHEN NEW.subject = '{}' BEGIN SELECT RAISE(ABORT, 'injected'); END;",
        anon_id(subject)
    ));
}

/// An erasure that comes while the tail's merge fails must not leave the erased
/// signals in the tail: they would be served after the erasure's answer, and written
/// into the profile logs by the next merge that succeeds (and a crash then would not
/// find them above the mark the erasure set). The erasure is refused instead (a 503,
/// retried), and succeeds once the merge does.
#[test]
fn sqlite_erasure_while_the_tail_merge_fails_leaves_nothing_behind() {
    let t = TestStore::temp(Backend::Sqlite, "tail-erase");
    let store = t.open();
    let id = anon_id(1);
    fail_log_appends(&t, 1);
    let s = Signal::new(Kind::View, 42, T0).consent(7).subject(1);
    assert_eq!(store.ingest(&[s], T0).unwrap().stored, 1);
    // The writer tries to merge the tail (after at most 100 ms) and fails.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let first = store.erase(&id);
    if first.is_ok() {
        assert!(
            store
                .profile_log(std::slice::from_ref(&id))
                .unwrap()
                .is_empty(),
            "the erased signal is served after the erasure's answer"
        );
    }
    t.execute("DROP TRIGGER fail_log_appends");
    // The next merge succeeds.
    std::thread::sleep(std::time::Duration::from_millis(300));
    if first.is_ok() {
        assert_eq!(
            t.count(&format!(
                "SELECT COUNT(*) FROM profile_logs WHERE subject = '{id}'"
            )),
            0,
            "the erased signal was written back into the profile logs"
        );
    }
    let erased = store.erase(&id).unwrap();
    assert_eq!(erased.signals, u64::from(first.is_err()));
    assert!(
        store
            .profile_log(std::slice::from_ref(&id))
            .unwrap()
            .is_empty()
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM signals"), 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM profile_logs"), 0);
    drop(store);
    let store = t.open();
    assert!(
        store
            .profile_log(std::slice::from_ref(&id))
            .unwrap()
            .is_empty()
    );
}

/// Two handles on one SQLite database (the store contract's "two replicas"; in use,
/// `slotwise decide`, the batch send, which runs beside a running server on its data
/// directory and stores exposures; here a server process and this test). Only the
/// server, which opened the file first, has a tail; this handle appends its logs in
/// each ingest commit and must not mark the server's waiting signals as logged: when
/// the server is killed, the next open still merges them (review of 3f2c544, where a
/// merge through one handle marked every stored signal as logged).
///
/// The trigger holds the server's merge of its signal back, so that the kill lands
/// before it without a race (unheld, the window is the tail's 100 ms).
#[test]
fn sqlite_a_handle_merging_its_tail_does_not_mark_anothers_as_merged() {
    use slotwise::signals;
    use slotwise_origin::server::client::Client;
    let dir = temp_dir("two-tails");
    let data = dir.join("data");
    let t = TestStore::new(Backend::Sqlite, "two-tails", &dir);
    drop(t.open()); // the schema, for the trigger (closing releases the tail lock)
    fail_log_appends(&t, 2);
    let addr = free_addr();
    let mut server = start_on(addr, &data, &[]);
    let a = t.open();
    let now = now();
    // Through the server: acknowledged, waiting in its tail.
    let x = Signal::new(Kind::Click, 7, now).consent(7).subject(2);
    let r = post_signals(
        &mut Client::new(addr).unwrap(),
        &signals::encode(&[x]).unwrap(),
    );
    assert_eq!(r.status, 200);
    // Through this handle: one signal, then a write that merges this handle's tail.
    let y = Signal::new(Kind::View, 8, now).consent(7).subject(1);
    a.ingest(&[y], now).unwrap();
    a.link(&["login:u".to_string(), anon_id(1)]).unwrap();
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    t.execute("DROP TRIGGER fail_log_appends");
    drop(a);
    let store = t.open();
    let stored = store.subject_signals(&[anon_id(2)], 10).unwrap();
    assert_eq!(stored.len(), 1, "the acknowledged signal is stored");
    let profile = store.profile_log(&[anon_id(2)]).unwrap();
    assert_eq!(
        profile.iter().map(|s| s.event_id).collect::<Vec<_>>(),
        vec![7],
        "the acknowledged, stored signal is missing from its profile"
    );
}

/// The same root, without a crash: an erasure must not leave a signal in a tail,
/// served and merged back into the profile logs. The first handle has the tail; the
/// second appends in its ingest commits, so an erasure through the first leaves
/// nothing anywhere, and an erasure through the second is refused while the first is
/// open (it cannot see the first one's tail), then works once it is closed.
#[test]
fn sqlite_an_erasure_through_one_handle_leaves_nothing_in_anothers_tail() {
    let t = TestStore::temp(Backend::Sqlite, "tail-erase-two");
    let a = t.open();
    let b = t.open();
    let id = anon_id(3);
    let s = Signal::new(Kind::View, 43, T0).consent(7).subject(3);
    assert_eq!(b.ingest(&[s], T0).unwrap().stored, 1);
    assert_eq!(a.erase(&id).unwrap().signals, 1);
    let served = |store: &dyn Store| store.profile_log(std::slice::from_ref(&id)).unwrap();
    let through_b = served(b.as_ref());
    // b's merge comes meanwhile.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let logged = t.count(&format!(
        "SELECT COUNT(*) FROM profile_logs WHERE subject = '{id}'"
    ));
    let through_a = served(a.as_ref());
    assert_eq!(
        (through_b.len(), logged, through_a.len()),
        (0, 0, 0),
        "after the erasure: served through the other handle, log rows, served through the erasing one"
    );
    // The other way round: a's tail holds the signal, b cannot erase it.
    let s = Signal::new(Kind::View, 44, T0).consent(7).subject(3);
    assert_eq!(a.ingest(&[s], T0).unwrap().stored, 1);
    let refused = b.erase(&id).unwrap_err().to_string();
    assert!(refused.contains("slotwise serve"), "{refused}");
    assert_eq!(b.expire(T0 + 1).unwrap_err().to_string(), refused);
    assert_eq!(served(a.as_ref()).len(), 1, "nothing was erased");
    drop(a);
    assert_eq!(b.erase(&id).unwrap().signals, 1);
    assert!(served(b.as_ref()).is_empty());
    assert_eq!(
        t.count(&format!(
            "SELECT COUNT(*) FROM profile_logs WHERE subject = '{id}'"
        )),
        0
    );
}

/// A real crash between the answer and the merge: the server is killed with SIGKILL
/// right after acknowledging batches (inside the tail's 100 ms), and the next open
/// merges what the kill left out, so every acknowledged signal is in its subject's
/// profile.
#[test]
fn sqlite_signals_acknowledged_right_before_a_sigkill_are_in_the_profiles() {
    use slotwise::signals;
    use slotwise_origin::server::client::Client;
    let dir = temp_dir("tail-kill");
    let data = dir.join("data");
    let t = TestStore::new(Backend::Sqlite, "tail-kill", &dir);
    let addr = free_addr();
    let mut server = start_on(addr, &data, &[]);
    let now = now();
    let mut c = Client::new(addr).unwrap();
    for b in 0..5u64 {
        let batch: Vec<Signal> = (0..40u64)
            .map(|i| {
                Signal::new(Kind::View, 1000 * b + i + 1, now - i)
                    .consent(7)
                    .subject(1 + i % SUBJECTS)
            })
            .collect();
        assert_eq!(
            post_signals(&mut c, &signals::encode(&batch).unwrap()).status,
            200
        );
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let store = t.open();
    for subject in 1..=SUBJECTS {
        let id = anon_id(subject);
        let mut stored: Vec<u64> = store
            .subject_signals(std::slice::from_ref(&id), 1000)
            .unwrap()
            .iter()
            .map(|r| r.signal.event_id)
            .collect();
        let mut profile: Vec<u64> = store
            .profile_log(std::slice::from_ref(&id))
            .unwrap()
            .iter()
            .map(|s| s.event_id)
            .collect();
        stored.sort_unstable();
        profile.sort_unstable();
        assert!(!stored.is_empty());
        assert_eq!(profile, stored, "{id}");
    }
}
