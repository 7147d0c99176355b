//! Cross-channel frequency counters for the bundle's caps, counted from stored signals.
//!
//! For each cap of the bundle, the impressions in its scope within its period ending
//! at `now`, from every channel: an item scope counts impression signals of that
//! item; a slot scope counts distinct decisions shown in that slot (a list slot's
//! items are one exposure of the slot, as on the device) — only rows that carry their
//! decision id count there (a profile read without it undercounts, never over).
//! Signals carry no campaign, so campaign caps count only on the device. Caps the
//! snippet carries come first in its counters (`crate::server::profile`). The engine uses these as a snippet's
//! counters issued at `now` ([`slotwise::caps::Cap::count`]).

use std::collections::BTreeSet;

use slotwise::caps::{Cap, CapScope, Counter};
use slotwise::signals::{Kind, Signal};

/// One counter per cap in `caps` that has impressions in `signals` (any order).
pub fn for_caps(caps: &[Cap], signals: &[Signal], now: u64) -> Vec<Counter> {
    let mut out = Vec::new();
    for cap in caps {
        let since = now.saturating_sub(u64::from(cap.period_secs));
        let in_window = signals
            .iter()
            .filter(|s| s.kind == Kind::Impression && s.time > since && s.time <= now);
        let count = match cap.scope {
            CapScope::Item(item) => in_window.filter(|s| s.item == item).count(),
            CapScope::Slot(slot) => in_window
                .filter(|s| u32::from(s.slot) == slot)
                .filter_map(|s| s.decision_id)
                .collect::<BTreeSet<u64>>()
                .len(),
            CapScope::Campaign(_) => 0,
        };
        if count > 0 {
            out.push(Counter {
                scope: cap.scope,
                period_secs: cap.period_secs,
                count: count.min(usize::from(u16::MAX)) as u16,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotwise::bundle::Bundle;
    use slotwise::signals::Channel;

    fn row(s: Signal) -> Signal {
        s
    }

    #[test]
    fn counts_each_cap_in_its_window_across_channels() {
        let mut b = Bundle::example();
        b.caps = vec![
            Cap {
                scope: CapScope::Item(0),
                limit: 2,
                period_secs: 3600,
            },
            Cap {
                scope: CapScope::Slot(0),
                limit: 5,
                period_secs: 86_400,
            },
        ];
        let now = 1_800_000_000;
        let imp = |id, t, decision, ch| {
            row(Signal::new(Kind::Impression, id, t)
                .decision(decision, 0, 0, 0)
                .channel(ch))
        };
        let rows = vec![
            imp(1, now - 10, 100, Channel::Email),
            imp(2, now - 20, 101, Channel::Web),
            imp(3, now - 7200, 102, Channel::App),
            row(Signal::new(Kind::View, 4, now - 5).item(0)),
        ];
        let c = for_caps(&b.caps, &rows, now);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].scope, c[0].count), (CapScope::Item(0), 2));
        assert_eq!((c[1].scope, c[1].count), (CapScope::Slot(0), 3));
    }

    #[test]
    fn the_snippet_carries_the_caps_counters_before_busier_items() {
        use crate::server::profile::{BundleIndex, Issue, MAX_COUNTERS, claims};
        let mut b = Bundle::example();
        for i in 2..10 {
            let mut item = b.items[0].clone();
            item.id = format!("sku-{i}");
            b.items.push(item);
        }
        b.caps = vec![Cap {
            scope: CapScope::Item(0),
            limit: 2,
            period_secs: 3600,
        }];
        let now = 1_800_000_000;
        let mut rows = vec![row(Signal::new(Kind::Impression, 1, now - 60)
            .decision(1, 0, 0, 0)
            .consent(7)
            .channel(Channel::Email))];
        for item in 1..9u32 {
            for k in 0..3u64 {
                rows.push(row(Signal::new(
                    Kind::Impression,
                    u64::from(item) * 10 + k,
                    now - 30,
                )
                .decision(2, 0, item, 0)
                .consent(7)));
            }
        }
        let issue = Issue {
            key_id: "k",
            audience: "shop",
            subject: "anon:1",
            now,
            ttl: 600,
        };
        let c = claims(&issue, &BundleIndex::of(Some(&b)), &rows);
        assert_eq!(c.counters.len(), MAX_COUNTERS);
        assert_eq!(
            c.counters[0],
            Counter {
                scope: CapScope::Item(0),
                period_secs: 3600,
                count: 1
            }
        );
    }
}
