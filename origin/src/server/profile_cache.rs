//! The per-cluster cache snippets are issued from.
//!
//! A snippet needs the requested id's identity cluster and the newest signals of the
//! cluster's ids (read from their materialized profile logs,
//! [`crate::store::profile_log`]: a few rows per id). They change
//! only when a signal of one of those ids is stored, when ids are linked or erased, and
//! by retention, so this cache keeps them per requested id (the claims themselves are
//! computed per request, because they depend on the time):
//! - ingest calls [`ProfileCache::invalidate_subjects`] after the batch is durable and
//!   before it answers, dropping every entry whose cluster holds one of the batch's
//!   subjects;
//! - identify, erase and retention call [`ProfileCache::clear`];
//! - an entry lives at most [`MAX_AGE`]: that bounds how long a replica keeps serving a
//!   profile after *another* replica sharing the database changed it (a replica's own
//!   writes are seen at once);
//! - a load that raced an invalidation is served but not kept. Every invalidation
//!   bumps a generation counter (one per shard of ids, and one for whole-cache
//!   clears); a load takes the counters before it reads and stores its entry only if
//!   none of its ids' counters moved meanwhile.
//!
//! The cache holds at most a configured number of signals in all; past it, expired
//! entries go first, then everything.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slotwise::signals::Signal;

use crate::store::{self, StoreError};

/// Longest an entry is served.
pub const MAX_AGE: Duration = Duration::from_secs(2);

/// Shards of the per-id generation counters.
const SHARDS: usize = 4096;

/// A cluster as snippets read it.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The cluster id.
    pub cluster: String,
    /// Its identity ids.
    pub ids: Vec<String>,
    /// Their newest signals (see [`crate::store::Store::profile_log`]).
    pub signals: Vec<Signal>,
}

struct Entry {
    profile: Arc<Profile>,
    loaded: Instant,
}

struct Inner {
    /// Requested id → its cluster's profile.
    entries: HashMap<String, Entry>,
    /// Identity id → the requested ids whose entries hold it.
    holders: HashMap<String, Vec<String>>,
    generations: Vec<u64>,
    clears: u64,
    signals: usize,
}

/// The cache (see the module docs). `capacity` 0 turns it off.
pub struct ProfileCache {
    inner: Mutex<Inner>,
    hasher: RandomState,
    capacity: usize,
}

/// Whether a lookup was served from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// From the cache.
    Hit,
    /// Read from the store.
    Miss,
}

impl ProfileCache {
    /// A cache holding at most `capacity` signals in all (0: no cache).
    pub fn new(capacity: usize) -> ProfileCache {
        ProfileCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                holders: HashMap::new(),
                generations: vec![0; SHARDS],
                clears: 0,
                signals: 0,
            }),
            hasher: RandomState::new(),
            capacity,
        }
    }

    fn shard(&self, id: &str) -> usize {
        (self.hasher.hash_one(id) % SHARDS as u64) as usize
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The data is a cache: a panic elsewhere never leaves it wrong, only stale-free.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The profile of `id`'s cluster: from the cache, or by `cluster` (the id's cluster
    /// id and ids) then `signals` (their newest signals), kept when no invalidation
    /// raced the reads.
    pub fn get_or_load(
        &self,
        id: &str,
        cluster: impl FnOnce(&str) -> store::Result<(String, Vec<String>)>,
        signals: impl FnOnce(&[String]) -> store::Result<Vec<Signal>>,
    ) -> Result<(Arc<Profile>, Lookup), StoreError> {
        let clears = {
            let inner = self.lock();
            if let Some(e) = inner.entries.get(id)
                && e.loaded.elapsed() < MAX_AGE
            {
                return Ok((e.profile.clone(), Lookup::Hit));
            }
            inner.clears
        };
        let (cluster, ids) = cluster(id)?;
        let shards: Vec<(usize, u64)> = {
            let inner = self.lock();
            ids.iter()
                .map(|i| self.shard(i))
                .map(|s| (s, inner.generations[s]))
                .collect()
        };
        let signals = signals(&ids)?;
        let profile = Arc::new(Profile {
            cluster,
            ids,
            signals,
        });
        if self.capacity > 0 {
            let mut inner = self.lock();
            let unchanged =
                inner.clears == clears && shards.iter().all(|&(s, g)| inner.generations[s] == g);
            if unchanged {
                inner.insert(id, profile.clone(), self.capacity);
            }
        }
        Ok((profile, Lookup::Miss))
    }

    /// Drops the entries of every cluster holding one of these subjects (pseudonymous
    /// subject numbers, as signals carry them).
    pub fn invalidate_subjects(&self, subjects: &[u64]) {
        if subjects.is_empty() {
            return;
        }
        let ids: Vec<String> = subjects.iter().map(|&s| store::anon_id(s)).collect();
        let shards: Vec<usize> = ids.iter().map(|i| self.shard(i)).collect();
        let mut inner = self.lock();
        for (id, shard) in ids.iter().zip(shards) {
            inner.generations[shard] += 1;
            if let Some(holders) = inner.holders.remove(id) {
                for h in holders {
                    inner.remove(&h);
                }
            }
        }
    }

    /// Drops everything (identity links changed, a cluster was erased, retention ran).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.clears += 1;
        inner.entries.clear();
        inner.holders.clear();
        inner.signals = 0;
    }

    /// Entries and signals held.
    pub fn held(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.signals)
    }
}

impl Inner {
    fn insert(&mut self, id: &str, profile: Arc<Profile>, capacity: usize) {
        self.remove(id);
        let n = profile.signals.len();
        if self.signals + n > capacity {
            let stale: Vec<String> = self
                .entries
                .iter()
                .filter(|(_, e)| e.loaded.elapsed() >= MAX_AGE)
                .map(|(k, _)| k.clone())
                .collect();
            for k in stale {
                self.remove(&k);
            }
            if self.signals + n > capacity {
                self.entries.clear();
                self.holders.clear();
                self.signals = 0;
            }
            if n > capacity {
                return;
            }
        }
        for member in &profile.ids {
            self.holders
                .entry(member.clone())
                .or_default()
                .push(id.to_string());
        }
        self.signals += n;
        self.entries.insert(
            id.to_string(),
            Entry {
                profile,
                loaded: Instant::now(),
            },
        );
    }

    fn remove(&mut self, id: &str) {
        let Some(e) = self.entries.remove(id) else {
            return;
        };
        self.signals -= e.profile.signals.len();
        for member in &e.profile.ids {
            if let Some(h) = self.holders.get_mut(member) {
                h.retain(|k| k != id);
                if h.is_empty() {
                    self.holders.remove(member);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotwise::signals::Kind;

    fn load(cache: &ProfileCache, id: &str, ids: &[&str], n: u64) -> (Arc<Profile>, Lookup) {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        cache
            .get_or_load(
                id,
                |_| Ok(("c".into(), ids)),
                |_| Ok((0..n).map(|i| Signal::new(Kind::View, i, i)).collect()),
            )
            .unwrap()
    }

    #[test]
    fn ingest_drops_the_clusters_of_its_subjects_only() {
        let cache = ProfileCache::new(1000);
        let a = store::anon_id(1);
        let b = store::anon_id(2);
        assert_eq!(load(&cache, &a, &[&a, "login:x"], 3).1, Lookup::Miss);
        assert_eq!(load(&cache, "login:x", &[&a, "login:x"], 3).1, Lookup::Miss);
        assert_eq!(load(&cache, &b, &[&b], 3).1, Lookup::Miss);
        assert_eq!(load(&cache, &a, &[&a, "login:x"], 3).1, Lookup::Hit);
        assert_eq!(cache.held(), (3, 9));
        // A signal of subject 1 drops both entries that hold anon id 1.
        cache.invalidate_subjects(&[1]);
        assert_eq!(cache.held(), (1, 3));
        assert_eq!(load(&cache, &b, &[&b], 3).1, Lookup::Hit);
        assert_eq!(load(&cache, "login:x", &[&a, "login:x"], 4).1, Lookup::Miss);
        cache.clear();
        assert_eq!(cache.held(), (0, 0));
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_kept() {
        let cache = ProfileCache::new(1000);
        let a = store::anon_id(1);
        let (_, l) = cache
            .get_or_load(
                &a,
                |_| Ok(("c".into(), vec![a.clone()])),
                |_| {
                    // A batch of subject 1 committed while the signals were read.
                    cache.invalidate_subjects(&[1]);
                    Ok(vec![])
                },
            )
            .unwrap();
        assert_eq!(l, Lookup::Miss);
        assert_eq!(cache.held(), (0, 0));
        // So did a clear (an identify) between the two reads.
        cache
            .get_or_load(
                &a,
                |_| {
                    cache.clear();
                    Ok(("c".into(), vec![a.clone()]))
                },
                |_| Ok(vec![]),
            )
            .unwrap();
        assert_eq!(cache.held(), (0, 0));
        assert_eq!(load(&cache, &a, &[&a], 1).1, Lookup::Miss);
        assert_eq!(load(&cache, &a, &[&a], 1).1, Lookup::Hit);
    }

    #[test]
    fn capacity_bounds_the_signals_held() {
        let cache = ProfileCache::new(10);
        load(&cache, "anon:1", &["anon:1"], 6);
        load(&cache, "anon:2", &["anon:2"], 6);
        assert!(cache.held().1 <= 10);
        load(&cache, "anon:3", &["anon:3"], 11);
        assert!(cache.held().1 <= 10);
        let off = ProfileCache::new(0);
        load(&off, "anon:1", &["anon:1"], 1);
        assert_eq!(load(&off, "anon:1", &["anon:1"], 1).1, Lookup::Miss);
    }
}
