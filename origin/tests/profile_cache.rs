//! The server's snippet profile cache ([`slotwise_origin::server::profile_cache`]) on
//! its own: what it holds stays within its configured size, whatever ids are asked for.

use slotwise_origin::server::profile_cache::ProfileCache;
use slotwise_origin::store::{ClusterView, anon_id};

/// A view of a visitor the store knows nothing of: no signals, no preferences.
fn unknown(id: &str, journeys: bool) -> ClusterView {
    ClusterView {
        cluster: id.to_string(),
        ids: vec![id.to_string()],
        signals: Vec::new(),
        preferences: None,
        journeys: journeys.then(Vec::new),
    }
}

/// `GET /v1/snippet` is public: anyone can ask for any number of new anon ids (a new
/// `sw_vid` cookie each time). Each is a cache entry with no signals; the cache's
/// bound counts signals, so such entries must count too, or they pile up without end.
#[test]
fn entries_without_signals_stay_within_the_capacity() {
    const CAPACITY: usize = 1_000;
    let cache = ProfileCache::new(CAPACITY);
    for i in 0..20_000u64 {
        let id = anon_id(i);
        cache
            .get_or_load(&id, i % 2 == 0, |id, j| Ok(unknown(id, j)))
            .unwrap();
    }
    let (entries, signals) = cache.held();
    assert_eq!(signals, 0);
    assert!(
        entries <= CAPACITY,
        "{entries} entries held by a cache of {CAPACITY}"
    );
}
