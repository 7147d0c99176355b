//! Frequency caps: "at most *n* impressions of this item / slot / campaign per period".
//!
//! Caps are declared in the bundle; impressions are counted from two places that together
//! cover every channel without counting anything twice:
//! - the profile snippet's cross-channel [`Counter`]s, counted by the origin up to the
//!   snippet's issued-at time (web impressions already synced, email, app, push...);
//! - the session's own impressions on this device *after* the snippet was issued
//!   (they had not reached the origin yet).
//!
//! ```
//! use slotwise::caps::{Cap, CapScope, Counter};
//! use slotwise::session::Session;
//!
//! let cap = Cap { scope: CapScope::Item(7), limit: 2, period_secs: 86_400 };
//! let mut session = Session::new(1, 1_000);
//! session.record_impression(&[CapScope::Item(7)], 10_000);
//! let from_origin = [Counter { scope: CapScope::Item(7), period_secs: 86_400, count: 1 }];
//! // The snippet was issued at 5 000: the device's impression at 10 000 is new.
//! assert_eq!(cap.count(&session, &from_origin, 5_000, 20_000), 2);
//! assert!(!cap.allows(&session, &from_origin, 5_000, 20_000));
//! ```

use serde::{Deserialize, Serialize};

use crate::session::Session;

/// What a cap or a counter is about. Indices refer to the bundle's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CapScope {
    /// One catalogue item (index into the bundle's items).
    Item(u32),
    /// One slot (index into the bundle's slots).
    Slot(u32),
    /// One campaign (index into the bundle's campaigns).
    Campaign(u32),
}

/// A cross-channel impression count computed by the origin. Order: scope, period, count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// What was shown.
    pub scope: CapScope,
    /// The window the count covers, ending at the snippet's issued-at (the cap's period).
    pub period_secs: u32,
    /// Impressions in that window, across every channel.
    pub count: u16,
}

/// A declared cap: at most `limit` impressions of `scope` in any `period_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    /// What is capped.
    pub scope: CapScope,
    /// Most impressions allowed in a period.
    pub limit: u16,
    /// Length of the period in seconds.
    pub period_secs: u32,
}

impl Cap {
    /// Impressions that count against this cap at `now`: the best matching origin
    /// counter (same scope, the shortest period covering this cap's) plus the session's
    /// impressions after `counters_at` (the snippet's issued-at) within the period.
    /// Without a snippet pass no counters and `counters_at = 0`.
    pub fn count(
        &self,
        session: &Session,
        counters: &[Counter],
        counters_at: u64,
        now: u64,
    ) -> u32 {
        let window_start = now.saturating_sub(u64::from(self.period_secs));
        let from_origin = counters
            .iter()
            .filter(|c| c.scope == self.scope && c.period_secs >= self.period_secs)
            .min_by_key(|c| c.period_secs)
            .map_or(0, |c| u32::from(c.count));
        // The origin's window ends at `counters_at`; if that is older than the cap's
        // period, its count no longer applies.
        let from_origin = if counters_at >= window_start {
            from_origin
        } else {
            0
        };
        let since = window_start.max(counters_at.saturating_add(1));
        from_origin + session.impressions_since(self.scope, since)
    }

    /// Whether one more impression is allowed.
    pub fn allows(
        &self,
        session: &Session,
        counters: &[Counter],
        counters_at: u64,
        now: u64,
    ) -> bool {
        self.count(session, counters, counters_at, now) < u32::from(self.limit)
    }
}
