//! The profile of an identity cluster, aggregated across channels, as snippet claims.
//!
//! Pure: the cluster's signals, the bundle's [`BundleIndex`] and the time in;
//! [`Claims`] out. What goes in:
//! - **consent**: the bits of the cluster's newest signal (as recorded at the origin).
//!   Without `personalization` the claims carry consent only: no subject, no profile;
//! - **affinities**: per category (categories numbered in order of first appearance in
//!   the bundle's items), views 1, clicks 2, carts 3, purchases 5, halved every
//!   [`HALF_LIFE_SECS`]; the strongest [`MAX_AFFINITIES`], scaled so the top is 255;
//! - **purchases**: items bought in the last 30 days, newest first, at most 8;
//! - **counters**: for each of the bundle's caps, its impressions in its period across
//!   every channel ([`crate::channels::counters`]), then impressions per item in the
//!   last 24 h, the largest, [`MAX_COUNTERS`] in all (one frequency cap across web,
//!   app, email, store);
//! - **segments**, built in: [`SEG_PURCHASER`], [`SEG_CROSS_CHANNEL`], [`SEG_ENGAGED`],
//!   [`SEG_CART_ABANDONER`].

use std::collections::{BTreeSet, HashMap};

use slotwise::bundle::Bundle;
use slotwise::caps::{Cap, CapScope, Counter};
use slotwise::consent::BIT_PERSONALIZATION;
use slotwise::profile::{Affinity, Claims};
use slotwise::signals::{Kind, Signal};

/// Affinity half-life: a week.
pub const HALF_LIFE_SECS: f64 = 7.0 * 86_400.0;
/// Affinities kept in a snippet.
pub const MAX_AFFINITIES: usize = 8;
/// Frequency counters kept in a snippet.
pub const MAX_COUNTERS: usize = 6;
/// Segment: purchased in the last 90 days.
pub const SEG_PURCHASER: u16 = 0;
/// Segment: active on two or more channels in the last 30 days.
pub const SEG_CROSS_CHANNEL: u16 = 1;
/// Segment: three or more clicks in the last 30 days.
pub const SEG_ENGAGED: u16 = 2;
/// Segment: added to cart in the last 7 days without a purchase since.
pub const SEG_CART_ABANDONER: u16 = 3;

const DAY: u64 = 86_400;

/// The categories of a bundle, numbered in order of first appearance in its items.
pub fn category_index(bundle: &Bundle) -> Vec<u16> {
    let mut names: HashMap<&str, u16> = HashMap::new();
    bundle
        .items
        .iter()
        .map(|it| {
            let next = names.len() as u16;
            *names.entry(it.category.as_str()).or_insert(next)
        })
        .collect()
}

/// What claims read from the bundle, computed once per bundle version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BundleIndex {
    /// The vocabulary fingerprint snippets carry (the engine's: items and their
    /// categories), so index-based claims are only used with the bundle they index.
    pub vocabulary: u32,
    /// [`category_index`] of the bundle.
    pub categories: Vec<u16>,
    /// The bundle's frequency caps, counted first in a snippet's counters.
    pub caps: Vec<Cap>,
}

impl BundleIndex {
    /// The index of `bundle` (empty without one).
    pub fn of(bundle: Option<&Bundle>) -> BundleIndex {
        BundleIndex {
            vocabulary: bundle.map_or(0, slotwise::bundle::vocabulary),
            categories: bundle.map(category_index).unwrap_or_default(),
            caps: bundle.map(|b| b.caps.clone()).unwrap_or_default(),
        }
    }
}

/// What a snippet is issued with, besides the rows.
pub struct Issue<'a> {
    /// The signing key id.
    pub key_id: &'a str,
    /// The site.
    pub audience: &'a str,
    /// The pseudonymous subject asked for.
    pub subject: &'a str,
    /// Unix seconds.
    pub now: u64,
    /// Lifetime in seconds.
    pub ttl: u64,
}

/// The claims for a cluster whose signals are `signals` (any order).
pub fn claims(issue: &Issue<'_>, bundle: &BundleIndex, signals: &[Signal]) -> Claims {
    let now = issue.now;
    let mut c = Claims {
        key_id: issue.key_id.to_string(),
        issued_at: now,
        not_before: now,
        expires_at: now + issue.ttl,
        audience: issue.audience.to_string(),
        vocabulary: bundle.vocabulary,
        ..Claims::default()
    };
    let Some(newest) = signals.iter().max_by_key(|s| (s.time, s.event_id)) else {
        return c;
    };
    c.consent = newest.consent;
    if c.consent & BIT_PERSONALIZATION == 0 {
        return c;
    }
    c.subject = Some(issue.subject.to_string());
    let categories = &bundle.categories;

    // Per category number (a category with only ancient signals still counts, at 0).
    let mut affinity: Vec<Option<f64>> = Vec::new();
    let mut purchases: Vec<(u64, u32)> = Vec::new();
    let mut impressions: Vec<u32> = Vec::new();
    let mut channels = 0u64;
    let (mut clicks, mut last_cart, mut last_purchase) = (0, None::<u64>, None::<u64>);
    for s in signals {
        let age = now.saturating_sub(s.time);
        let weight = match s.kind {
            Kind::View => 1.0,
            Kind::Click => 2.0,
            Kind::AddToCart => 3.0,
            Kind::Purchase => 5.0,
            _ => 0.0,
        };
        if weight > 0.0
            && let Some(&cat) = categories.get(s.item as usize)
        {
            let i = usize::from(cat);
            if affinity.len() <= i {
                affinity.resize(i + 1, None);
            }
            *affinity[i].get_or_insert(0.0) += weight * (-(age as f64) / HALF_LIFE_SECS).exp2();
        }
        if age <= 30 * DAY {
            channels |= 1 << (s.channel as u8);
            if s.kind == Kind::Click {
                clicks += 1;
            }
        }
        match s.kind {
            Kind::Purchase if age <= 90 * DAY => {
                last_purchase = last_purchase.max(Some(s.time));
                if age <= 30 * DAY {
                    purchases.push((s.time, s.item));
                }
            }
            Kind::AddToCart if age <= 7 * DAY => last_cart = last_cart.max(Some(s.time)),
            Kind::Impression if age <= DAY => impressions.push(s.item),
            _ => {}
        }
    }

    let mut aff: Vec<(u16, f64)> = affinity
        .into_iter()
        .enumerate()
        .filter_map(|(cat, w)| Some((cat as u16, w?)))
        .collect();
    aff.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    aff.truncate(MAX_AFFINITIES);
    let top = aff.first().map_or(1.0, |a| a.1.max(f64::MIN_POSITIVE));
    c.affinities = aff
        .into_iter()
        .map(|(category, w)| Affinity {
            category,
            weight: ((w / top) * 255.0).round().clamp(1.0, 255.0) as u8,
        })
        .collect();

    purchases.sort_by(|a, b| b.cmp(a));
    let mut seen = BTreeSet::new();
    c.purchases = purchases
        .into_iter()
        .filter(|&(_, item)| seen.insert(item))
        .map(|(_, item)| item)
        .take(8)
        .collect();

    impressions.sort_unstable();
    let mut counters: Vec<(u32, u32)> = impressions
        .chunk_by(|a, b| a == b)
        .map(|run| (run[0], run.len() as u32))
        .collect();
    counters.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // The bundle's caps first (exact periods, every channel), then the busiest items.
    c.counters = crate::channels::counters::for_caps(&bundle.caps, signals, now);
    let busiest = counters.into_iter().map(|(item, count)| Counter {
        scope: CapScope::Item(item),
        period_secs: DAY as u32,
        count: count.min(u32::from(u16::MAX)) as u16,
    });
    for counter in busiest {
        if !c.counters.iter().any(|k| k.scope == counter.scope) {
            c.counters.push(counter);
        }
    }
    c.counters.truncate(MAX_COUNTERS);

    if last_purchase.is_some() {
        c.segments.push(SEG_PURCHASER);
    }
    if channels.count_ones() >= 2 {
        c.segments.push(SEG_CROSS_CHANNEL);
    }
    if clicks >= 3 {
        c.segments.push(SEG_ENGAGED);
    }
    if let Some(cart) = last_cart
        && last_purchase.is_none_or(|p| p < cart)
    {
        c.segments.push(SEG_CART_ABANDONER);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotwise::signals::Channel;

    #[test]
    fn profile_follows_the_signals_and_the_consent() {
        let b = BundleIndex::of(Some(&Bundle::example()));
        let now = 1_800_000_000;
        let issue = Issue {
            key_id: "k",
            audience: "shop",
            subject: "anon:1",
            now,
            ttl: 600,
        };
        let rows = vec![
            Signal::new(Kind::Purchase, 1, now - 60)
                .item(0)
                .consent(7)
                .value(999),
            Signal::new(Kind::Impression, 2, now - 30)
                .decision(5, 0, 0, 0)
                .consent(7)
                .channel(Channel::Email),
        ];
        let c = claims(&issue, &b, &rows);
        assert_eq!(c.purchases, vec![0]);
        assert_eq!(c.segments, vec![SEG_PURCHASER, SEG_CROSS_CHANNEL]);
        assert_eq!(c.counters.len(), 1);
        assert_eq!(c.affinities[0].weight, 255);
        // The newest signal withdrew personalization: consent only.
        let mut no = rows.clone();
        no.push(Signal::new(Kind::View, 3, now).consent(5));
        let c = claims(&issue, &b, &no);
        assert!(c.subject.is_none() && c.affinities.is_empty() && c.purchases.is_empty());
        assert_eq!(c.consent, 5);
    }
}
