//! `slotwise store copy --from sqlite:<dir> --to postgres://...`: moves a site's data
//! to another store (either direction) — signals with their event ids, the bare ids of
//! erased signals (so replays stay refused), identity links, preference-centre
//! records, every bundle version (with its journeys), the retention floor, journey
//! instances, outbox messages and contact records. The source is read from one snapshot
//! while it may keep serving; the target must be empty (a new database), and its row counts are checked
//! against what was read before the copy reports success.

use super::{Location, Page, Result, SqliteOptions, StoreError, open};

/// What a copy moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copied {
    /// Signal rows.
    pub signals: u64,
    /// Bare ids of erased signals.
    pub erased_ids: u64,
    /// Identity links.
    pub identities: u64,
    /// Bundle versions.
    pub bundles: u64,
    /// The retention floor carried over.
    pub retention_floor: u64,
    /// Preference-centre records.
    pub preferences: u64,
    /// Journey instances.
    pub journey_instances: u64,
    /// Outbox messages.
    pub outbox: u64,
}

/// Copies everything in `from` into the empty store `to` (see the module docs).
pub fn copy(from: &Location, to: &Location) -> Result<Copied> {
    if from == to {
        return Err(StoreError("--from and --to are the same store".into()));
    }
    let source = open(from, SqliteOptions::default())
        .map_err(|e| StoreError(format!("cannot open {from}: {e}")))?;
    let target = open(to, SqliteOptions::default())
        .map_err(|e| StoreError(format!("cannot open {to}: {e}")))?;
    let before = target.counts()?;
    if before.signals + before.identities + before.bundles > 0 {
        return Err(StoreError(format!(
            "the target {to} is not empty ({} signals, {} identities, {} bundles): \
             copy into a new database",
            before.signals, before.identities, before.bundles
        )));
    }
    let mut copied = Copied::default();
    source.dump(&mut |page| {
        match &page {
            Page::Floor(f) => copied.retention_floor = *f,
            Page::Bundles(b) => copied.bundles += b.len() as u64,
            Page::Identities(i) => copied.identities += i.len() as u64,
            Page::Signals(s) => copied.signals += s.len() as u64,
            Page::ErasedIds(e) => copied.erased_ids += e.len() as u64,
            Page::Preferences(p) => copied.preferences += p.len() as u64,
            Page::BundleJourneys(_) | Page::Contacts(_) => {}
            Page::JourneyInstances(i) => copied.journey_instances += i.len() as u64,
            Page::Outbox(m) => copied.outbox += m.len() as u64,
        }
        target.load(page)
    })?;
    let after = target.counts()?;
    if (after.signals, after.identities, after.bundles)
        != (copied.signals, copied.identities, copied.bundles)
    {
        return Err(StoreError(format!(
            "the target holds {after:?} after copying {copied:?}"
        )));
    }
    Ok(copied)
}
