//! `slotwise migrate` and `slotwise store copy`: the operator's view of the store's
//! schema versions and of moving a site from SQLite to PostgreSQL (or back).

use crate::store::{self, Location};

/// Lists the applied migrations and the pending ones with their SQL; with `apply`,
/// applies the pending ones. Returns the text to print.
pub fn migrate(location: &Location, apply: bool) -> Result<String, String> {
    let (applied, pending) =
        store::migrate(location, apply).map_err(|e| format!("{location}: {e}"))?;
    let mut out = format!("store {location}\n");
    let shown: Vec<String> = applied.iter().map(|v| v.to_string()).collect();
    out += &format!(
        "applied: {}\n",
        if shown.is_empty() {
            "none".to_string()
        } else {
            shown.join(", ")
        }
    );
    if pending.is_empty() {
        out += "pending: none (the schema is current)\n";
    }
    for m in &pending {
        let verb = if apply { "applied now" } else { "pending" };
        out += &format!(
            "-- {verb}: migration {} ({})\n{}\n",
            m.version,
            m.name,
            m.sql.trim()
        );
    }
    Ok(out)
}

/// Copies `from` into the empty `to`; returns the summary to print.
pub fn copy(from: &Location, to: &Location) -> Result<String, String> {
    let started = std::time::Instant::now();
    let c = store::copy::copy(from, to).map_err(|e| e.to_string())?;
    Ok(format!(
        "copied {from} to {to} in {:.1} s: {} signals, {} erased event ids, {} identity links, \
         {} bundle versions, {} preference records, retention floor {}, {} journey instances, \
         {} outbox messages",
        started.elapsed().as_secs_f64(),
        c.signals,
        c.erased_ids,
        c.identities,
        c.bundles,
        c.preferences,
        c.retention_floor,
        c.journey_instances,
        c.outbox
    ))
}
