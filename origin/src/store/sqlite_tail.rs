//! The profile-log tail of the SQLite store: signals whose ingest commit is durable
//! and answered, but which the writer has not merged into their subjects' profile logs
//! ([`super::profile_log`]) yet.
//!
//! Appending a log row per subject in every ingest commit costs the writer a few
//! microseconds per event when each signal of a batch has another visitor (one row,
//! and every [`super::profile_log::COMPACT_AFTER`] rows a merge, per event). So an
//! ingest commit stores the signals only; the writer keeps their profile fields here,
//! by subject id, and merges them into the logs in one transaction once
//! [`MERGE_AT`] signals are waiting or the oldest has waited [`MERGE_AFTER`], and
//! before any other write (erasure, retention, links, copies), so those always see
//! complete logs (such a write fails, without running, when that merge fails). A subject then gets one row per merge for all of its signals since
//! the last one, not one per commit.
//!
//! Reads stay exact and read their writes: a profile read takes the tail's
//! [`LogTail::generation`], reads the logs in one snapshot, then adds the tail's
//! signals of its ids ([`LogTail::signals_of`]). The signals a merge is writing stay
//! in the tail until its commit, so a read whose snapshot predates that commit still
//! finds them here; a read that overlapped a whole merge (the generation moved) is
//! retried. A signal seen both in a log and here counts once
//! ([`super::profile_log::finish`] drops repeated event ids).
//!
//! One handle per database file has a tail: the one that holds the file's tail lock
//! (`slotwise.db-tail.lock`, normally `slotwise serve`). Any other handle on the same
//! file (the batch send beside a running server, a second server) appends the logs in
//! each ingest commit instead, and refuses erasure and retention while the tail's
//! handle is alive: the mark below covers every stored signal, so a second tail would
//! mark the first one's waiting signals as logged, and a deletion through another
//! handle would leave the deleted signals in that tail.
//!
//! Durability: the signals are durable before the answer; only their log rows wait.
//! The `meta` key [`LOGGED_KEY`] holds the highest signal row id whose signal is in
//! the logs; opening the store merges the signals above it (after a crash), and every
//! write that deletes signals sets it again, so a reused row id is never skipped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use slotwise::signals::Signal;

/// Signals waiting that make the writer merge at once.
pub const MERGE_AT: usize = 20_000;

/// Longest a signal waits for its merge when fewer than [`MERGE_AT`] are waiting.
pub const MERGE_AFTER: Duration = Duration::from_millis(100);

/// The `meta` key of the highest signal row id merged into the profile logs.
pub const LOGGED_KEY: &str = "profile_log_signal";

type BySubject = HashMap<String, Vec<Signal>>;

#[derive(Default)]
struct Inner {
    /// Committed, not merged.
    current: BySubject,
    /// Being merged (still served until the merge commits).
    merging: Arc<BySubject>,
    /// Signals in `current`.
    waiting: usize,
    /// When the oldest of `current` was added.
    since: Option<Instant>,
    /// Merges finished.
    generation: u64,
}

/// See the module docs.
#[derive(Default)]
pub struct LogTail(Mutex<Inner>);

impl LogTail {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a commit's new signals, by subject id (before the commit is answered).
    pub fn push(&self, by_subject: impl IntoIterator<Item = (String, Vec<Signal>)>) {
        let mut inner = self.lock();
        for (subject, signals) in by_subject {
            inner.waiting += signals.len();
            inner.current.entry(subject).or_default().extend(signals);
        }
        if inner.waiting > 0 && inner.since.is_none() {
            inner.since = Some(Instant::now());
        }
    }

    /// How long the writer may wait for the next job before it merges: `None` when
    /// nothing waits, zero when a merge is due.
    pub fn due_in(&self) -> Option<Duration> {
        let inner = self.lock();
        let since = inner.since?;
        if inner.waiting >= MERGE_AT {
            return Some(Duration::ZERO);
        }
        Some(MERGE_AFTER.saturating_sub(since.elapsed()))
    }

    /// Starts a merge: the waiting signals, which stay readable until
    /// [`LogTail::end_merge`] (`None` when nothing waits).
    pub fn begin_merge(&self) -> Option<Arc<BySubject>> {
        let mut inner = self.lock();
        if inner.current.is_empty() {
            return None;
        }
        let batch = Arc::new(std::mem::take(&mut inner.current));
        inner.merging = batch.clone();
        inner.waiting = 0;
        inner.since = None;
        Some(batch)
    }

    /// Ends a merge: committed (`ok`), its signals leave the tail; failed, they wait
    /// again for the next one.
    pub fn end_merge(&self, ok: bool) {
        let mut inner = self.lock();
        let batch = std::mem::take(&mut inner.merging);
        if ok {
            inner.generation += 1;
            return;
        }
        let batch = Arc::try_unwrap(batch).unwrap_or_else(|shared| (*shared).clone());
        for (subject, mut signals) in batch {
            inner.waiting += signals.len();
            let slot = inner.current.entry(subject).or_default();
            signals.append(slot);
            *slot = signals;
        }
        if inner.waiting > 0 {
            inner.since.get_or_insert_with(Instant::now);
        }
    }

    /// The number of merges finished so far.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Appends the tail's signals of `ids` to `out`, unless a merge finished since
    /// `generation` (then `false`: read the logs again).
    pub fn signals_of(&self, ids: &[String], generation: u64, out: &mut Vec<Signal>) -> bool {
        let inner = self.lock();
        if inner.generation != generation {
            return false;
        }
        for id in ids {
            for map in [&inner.current, inner.merging.as_ref()] {
                if let Some(s) = map.get(id) {
                    out.extend_from_slice(s);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotwise::signals::Kind;

    fn s(id: u64) -> Signal {
        Signal::new(Kind::View, id, 1000 + id)
    }

    #[test]
    fn signals_stay_readable_until_their_merge_commits() {
        let tail = LogTail::default();
        assert_eq!(tail.due_in(), None);
        tail.push([("anon:a".to_string(), vec![s(1), s(2)])]);
        assert!(tail.due_in().unwrap() <= MERGE_AFTER);
        let g = tail.generation();
        let batch = tail.begin_merge().unwrap();
        assert_eq!(batch["anon:a"].len(), 2);
        tail.push([("anon:a".to_string(), vec![s(3)])]);
        let mut out = Vec::new();
        assert!(tail.signals_of(&["anon:a".into(), "anon:b".into()], g, &mut out));
        assert_eq!(out.len(), 3, "merging and waiting both served");
        drop(batch);
        tail.end_merge(true);
        assert!(!tail.signals_of(&["anon:a".into()], g, &mut Vec::new()));
        let mut out = Vec::new();
        assert!(tail.signals_of(&["anon:a".into()], tail.generation(), &mut out));
        assert_eq!(out, vec![s(3)]);
    }

    #[test]
    fn a_failed_merge_puts_its_signals_back() {
        let tail = LogTail::default();
        tail.push([("anon:a".to_string(), vec![s(1)])]);
        let g = tail.generation();
        let _batch = tail.begin_merge().unwrap();
        tail.push([("anon:a".to_string(), vec![s(2)])]);
        tail.end_merge(false);
        assert_eq!(tail.generation(), g);
        let mut out = Vec::new();
        assert!(tail.signals_of(&["anon:a".into()], g, &mut out));
        assert_eq!(out, vec![s(1), s(2)]);
        assert!(tail.due_in().is_some());
        assert_eq!(tail.begin_merge().unwrap()["anon:a"].len(), 2);
    }
}
