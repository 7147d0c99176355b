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

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u32 = 86_400;
    const T0: u64 = 1_800_000_000;

    fn cap(limit: u16, period_secs: u32) -> Cap {
        Cap {
            scope: CapScope::Campaign(3),
            limit,
            period_secs,
        }
    }

    #[test]
    fn session_only_counts_within_the_period() {
        let mut s = Session::new(1, T0);
        s.record_impression(&[CapScope::Campaign(3)], T0);
        s.record_impression(&[CapScope::Campaign(3)], T0 + u64::from(DAY));
        let c = cap(2, DAY);
        // Minute resolution: within the first window's last minute both still count.
        assert_eq!(c.count(&s, &[], 0, T0 + u64::from(DAY) + 10), 2);
        assert_eq!(c.count(&s, &[], 0, T0 + u64::from(DAY) + 60), 1);
        assert!(c.allows(&s, &[], 0, T0 + u64::from(DAY) + 60));
        assert_eq!(cap(2, 2 * DAY).count(&s, &[], 0, T0 + u64::from(DAY)), 2);
    }

    #[test]
    fn origin_counters_need_a_covering_period_and_a_fresh_snippet() {
        let s = Session::new(1, T0);
        let counters = [
            Counter {
                scope: CapScope::Campaign(3),
                period_secs: DAY / 2,
                count: 9,
            },
            Counter {
                scope: CapScope::Campaign(3),
                period_secs: 7 * DAY,
                count: 4,
            },
            Counter {
                scope: CapScope::Campaign(3),
                period_secs: DAY,
                count: 2,
            },
        ];
        // The shortest counter that covers the cap's day is used, not the half-day one.
        assert_eq!(cap(5, DAY).count(&s, &counters, T0, T0 + 60), 2);
        assert_eq!(cap(5, 3 * DAY).count(&s, &counters, T0, T0 + 60), 4);
        // A snippet issued before the cap's window says nothing about it.
        let later = T0 + 2 * u64::from(DAY);
        assert_eq!(cap(5, DAY).count(&s, &counters, T0, later), 0);
    }

    #[test]
    fn impressions_before_the_snippet_are_not_counted_twice() {
        let mut s = Session::new(1, T0);
        s.record_impression(&[CapScope::Campaign(3)], T0);
        let counters = [Counter {
            scope: CapScope::Campaign(3),
            period_secs: DAY,
            count: 1,
        }];
        // Snippet issued after the device's impression: the origin already counted it.
        assert_eq!(cap(5, DAY).count(&s, &counters, T0 + 120, T0 + 180), 1);
    }
}
