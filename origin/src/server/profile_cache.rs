//! The per-cluster cache snippets are issued from.
//!
//! A snippet reads, of the requested id's identity cluster, one
//! [`ClusterView`] ([`crate::store::Store::cluster_view`]): the cluster's ids, their
//! newest signals (from their materialized profile logs,
//! [`crate::store::profile_log`]: a few rows per id), the cluster's preference-centre
//! record (its mutes) and its journey instances (its journey pins). They change only
//! when one of those is written, so this cache keeps the view per requested id (the
//! claims themselves are computed per request, because they depend on the time and
//! the bundle), and every write that changes a view drops it:
//! - ingest calls [`ProfileCache::invalidate_subjects`] after the batch is durable and
//!   before it answers, and again after the journeys it starts or ends are written;
//!   so does `POST /v1/decide` after it stores its exposures;
//! - a preference-centre write and a journey step call [`ProfileCache::invalidate_ids`]
//!   with the ids they changed;
//! - identify, erase and retention call [`ProfileCache::clear`];
//! - an entry lives at most [`MAX_AGE`]: that bounds how long a replica keeps serving a
//!   view after *another* replica sharing the database changed it (a replica's own
//!   writes are seen at once);
//! - a load that raced an invalidation is served but not kept. Invalidations are
//!   numbered (an epoch); each shard of ids remembers the epoch that last invalidated
//!   one of its ids, and a load takes the epoch before it reads and keeps its entry
//!   only if no shard of its ids (and no clear) moved past it meanwhile.
//!
//! The cache holds at most a configured number of signals in all, and as many entries;
//! past either, expired entries go first, then everything.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::{self, ClusterView, StoreError};

/// Longest an entry is served.
pub const MAX_AGE: Duration = Duration::from_secs(2);

/// Shards of the per-id invalidation epochs.
const SHARDS: usize = 4096;

struct Entry {
    view: Arc<ClusterView>,
    loaded: Instant,
}

struct Inner {
    /// Requested id → its cluster's view.
    entries: HashMap<String, Entry>,
    /// Identity id → the requested ids whose entries hold it.
    holders: HashMap<String, Vec<String>>,
    /// Invalidations so far.
    epoch: u64,
    /// Per shard of ids: the epoch of the newest invalidation of one of its ids.
    invalidated: Vec<u64>,
    /// The epoch of the newest clear.
    cleared: u64,
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
                epoch: 0,
                invalidated: vec![0; SHARDS],
                cleared: 0,
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

    /// The view of `id`'s cluster: from the cache (one that holds journey instances
    /// when `journeys`), or by `load` (given `id` and `journeys`), kept when no
    /// invalidation raced the read.
    pub fn get_or_load(
        &self,
        id: &str,
        journeys: bool,
        load: impl FnOnce(&str, bool) -> store::Result<ClusterView>,
    ) -> Result<(Arc<ClusterView>, Lookup), StoreError> {
        let epoch = {
            let inner = self.lock();
            if let Some(e) = inner.entries.get(id)
                && e.loaded.elapsed() < MAX_AGE
                && (!journeys || e.view.journeys.is_some())
            {
                return Ok((e.view.clone(), Lookup::Hit));
            }
            inner.epoch
        };
        let view = Arc::new(load(id, journeys)?);
        if self.capacity > 0 {
            let shards: Vec<usize> = view.ids.iter().map(|i| self.shard(i)).collect();
            let mut inner = self.lock();
            let unchanged =
                inner.cleared <= epoch && shards.iter().all(|&s| inner.invalidated[s] <= epoch);
            if unchanged {
                inner.insert(id, view.clone(), self.capacity);
            }
        }
        Ok((view, Lookup::Miss))
    }

    /// Drops the entries of every cluster holding one of these subjects (pseudonymous
    /// subject numbers, as signals carry them: [`subjects_of`]).
    pub fn invalidate_subjects(&self, subjects: &[u64]) {
        let ids: Vec<String> = subjects.iter().map(|&s| store::anon_id(s)).collect();
        self.invalidate_ids(&ids);
    }

    /// Drops the entries of every cluster holding one of these identity ids.
    pub fn invalidate_ids(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let shards: Vec<usize> = ids.iter().map(|i| self.shard(i)).collect();
        let mut inner = self.lock();
        inner.epoch += 1;
        let epoch = inner.epoch;
        for (id, shard) in ids.iter().zip(shards) {
            inner.invalidated[shard] = epoch;
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
        inner.epoch += 1;
        inner.cleared = inner.epoch;
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
    fn insert(&mut self, id: &str, view: Arc<ClusterView>, capacity: usize) {
        self.remove(id);
        let n = view.signals.len();
        // Entries count too: a view without signals (any new visitor id, which anyone
        // can ask a snippet for) would otherwise be held without bound.
        let full = |inner: &Inner| inner.signals + n > capacity || inner.entries.len() >= capacity;
        if full(self) {
            let stale: Vec<String> = self
                .entries
                .iter()
                .filter(|(_, e)| e.loaded.elapsed() >= MAX_AGE)
                .map(|(k, _)| k.clone())
                .collect();
            for k in stale {
                self.remove(&k);
            }
            if full(self) {
                self.entries.clear();
                self.holders.clear();
                self.signals = 0;
            }
            if n > capacity {
                return;
            }
        }
        for member in &view.ids {
            self.holders
                .entry(member.clone())
                .or_default()
                .push(id.to_string());
        }
        self.signals += n;
        self.entries.insert(
            id.to_string(),
            Entry {
                view,
                loaded: Instant::now(),
            },
        );
    }

    fn remove(&mut self, id: &str) {
        let Some(e) = self.entries.remove(id) else {
            return;
        };
        self.signals -= e.view.signals.len();
        for member in &e.view.ids {
            if let Some(h) = self.holders.get_mut(member) {
                h.retain(|k| k != id);
                if h.is_empty() {
                    self.holders.remove(member);
                }
            }
        }
    }
}

/// The distinct subjects of `signals` (those that have one), for
/// [`ProfileCache::invalidate_subjects`] once they are stored.
pub fn subjects_of(signals: &[slotwise::signals::Signal]) -> Vec<u64> {
    let mut subjects: Vec<u64> = signals.iter().filter_map(|s| s.subject).collect();
    subjects.sort_unstable();
    subjects.dedup();
    subjects
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotwise::signals::{Kind, Signal};

    fn view(ids: &[&str], n: u64, journeys: bool) -> ClusterView {
        ClusterView {
            cluster: "c".into(),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            signals: (0..n).map(|i| Signal::new(Kind::View, i, i)).collect(),
            preferences: None,
            journeys: journeys.then(Vec::new),
        }
    }

    fn load(cache: &ProfileCache, id: &str, ids: &[&str], n: u64) -> (Arc<ClusterView>, Lookup) {
        cache
            .get_or_load(id, false, |_, j| Ok(view(ids, n, j)))
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
        // A preference or journey write names the ids it changed.
        cache.invalidate_ids(&["login:x".to_string()]);
        assert_eq!(cache.held(), (1, 3));
        cache.clear();
        assert_eq!(cache.held(), (0, 0));
    }

    #[test]
    fn a_view_without_journey_instances_does_not_serve_one_that_needs_them() {
        let cache = ProfileCache::new(1000);
        assert_eq!(load(&cache, "anon:1", &["anon:1"], 1).1, Lookup::Miss);
        let (v, l) = cache
            .get_or_load("anon:1", true, |_, j| Ok(view(&["anon:1"], 1, j)))
            .unwrap();
        assert_eq!((l, v.journeys.is_some()), (Lookup::Miss, true));
        // Kept with its instances: serves both kinds of lookup now.
        assert_eq!(load(&cache, "anon:1", &["anon:1"], 1).1, Lookup::Hit);
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_kept() {
        let cache = ProfileCache::new(1000);
        let a = store::anon_id(1);
        let (_, l) = cache
            .get_or_load(&a, false, |_, j| {
                // A batch of subject 1 committed while the view was read.
                cache.invalidate_subjects(&[1]);
                Ok(view(&[&a], 0, j))
            })
            .unwrap();
        assert_eq!(l, Lookup::Miss);
        assert_eq!(cache.held(), (0, 0));
        // An invalidation of another shard's id does not stop it.
        let other = (2..)
            .map(store::anon_id)
            .find(|i| cache.shard(i) != cache.shard(&a))
            .unwrap();
        cache
            .get_or_load(&a, false, |_, j| {
                cache.invalidate_ids(std::slice::from_ref(&other));
                Ok(view(&[&a], 0, j))
            })
            .unwrap();
        assert_eq!(cache.held(), (1, 0));
        // A clear (an identify) during the read does.
        cache.clear();
        cache
            .get_or_load(&a, false, |_, j| {
                cache.clear();
                Ok(view(&[&a], 0, j))
            })
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
