//! `GET /v1/report/lift`: personalized vs holdout, and conversions attributed to
//! decisions across channels. Pure: rows in, a serialisable [`Report`] out.
//!
//! The unit of analysis is the visitor: the identity cluster of the signal's subject,
//! else the subject, else the decision (an anonymous page view). A visitor is in the
//! holdout arm when any of their impressions says so. Per arm: visitors with an
//! impression, impressions, clicks, CTR (clicks / impressions), conversion rate
//! (visitors with a purchase or conversion / visitors) and revenue per visitor, each
//! with a 95 % interval (Wilson for proportions, normal for the mean). Lift is the
//! personalized arm minus the holdout arm with a 95 % normal interval.
//!
//! Attribution: each purchase or conversion goes to the visitor's latest click (else
//! impression) on a decision within `window` seconds before it, on any channel.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use slotwise::signals::Kind;

use crate::store::Row;

const Z: f64 = 1.959_963_984_540_054;

/// A value with its 95 % interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// Point estimate.
    pub value: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// One arm of the comparison.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Arm {
    /// Visitors with at least one impression.
    pub visitors: u64,
    /// Impressions.
    pub impressions: u64,
    /// Clicks.
    pub clicks: u64,
    /// Visitors who converted (purchase or conversion).
    pub converters: u64,
    /// Revenue in cents.
    pub revenue_cents: u64,
    /// Clicks per impression.
    pub ctr: Estimate,
    /// Converters per visitor.
    pub conversion_rate: Estimate,
    /// Revenue in cents per visitor.
    pub revenue_per_visitor: Estimate,
}

/// Conversions attributed to decisions, by the decision's channel and the conversion's.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Path {
    /// Channel of the click or impression.
    pub decision_channel: &'static str,
    /// Channel of the conversion.
    pub conversion_channel: &'static str,
    /// Conversions.
    pub conversions: u64,
    /// Their revenue in cents.
    pub revenue_cents: u64,
}

/// Attribution summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Attribution {
    /// Lookback window in seconds.
    pub window_secs: u64,
    /// Purchases and conversions in the period.
    pub conversions: u64,
    /// Of which attributed to a decision.
    pub attributed: u64,
    /// Revenue of the attributed ones, in cents.
    pub attributed_revenue_cents: u64,
    /// By channel pair.
    pub paths: Vec<Path>,
}

/// The report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Period start (Unix seconds, inclusive).
    pub since: u64,
    /// Period end (exclusive).
    pub until: u64,
    /// Visitors who got personalized decisions.
    pub personalized: Arm,
    /// Visitors in the global holdout (slot defaults).
    pub holdout: Arm,
    /// Personalized minus holdout, conversion rate.
    pub conversion_lift: Estimate,
    /// Personalized minus holdout, revenue per visitor (cents).
    pub revenue_lift: Estimate,
    /// Conversions attributed to decisions.
    pub attribution: Attribution,
}

#[derive(Default)]
struct Visitor {
    holdout: bool,
    impressions: u64,
    clicks: u64,
    converted: bool,
    revenue: u64,
}

fn unit(r: &Row) -> Option<String> {
    r.cluster
        .clone()
        .or_else(|| r.subject.clone())
        .or_else(|| r.signal.decision_id.map(|d| format!("d:{d:016x}")))
}

/// Wilson score interval for `k` successes in `n`.
pub fn wilson(k: u64, n: u64) -> Estimate {
    if n == 0 {
        return Estimate::default();
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let d = 1.0 + Z * Z / n;
    let centre = (p + Z * Z / (2.0 * n)) / d;
    let half = Z * ((p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt()) / d;
    Estimate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

fn mean(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var / n)
}

fn interval(value: f64, var: f64) -> Estimate {
    let half = Z * var.sqrt();
    Estimate {
        value,
        low: value - half,
        high: value + half,
    }
}

/// Builds the report from the period's rows (any order).
pub fn report(rows: &[Row], since: u64, until: u64, window: u64) -> Report {
    let mut visitors: HashMap<String, Visitor> = HashMap::new();
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.signal.time, r.signal.event_id));
    // Latest click / impression per visitor: (time, is_click, channel).
    let mut touch: HashMap<String, (u64, bool, &'static str)> = HashMap::new();
    let mut attribution = Attribution {
        window_secs: window,
        ..Attribution::default()
    };
    let mut paths: BTreeMap<(&'static str, &'static str), (u64, u64)> = BTreeMap::new();
    for r in sorted {
        let Some(u) = unit(r) else { continue };
        let s = &r.signal;
        let v = visitors.entry(u.clone()).or_default();
        match s.kind {
            Kind::Impression => {
                v.impressions += 1;
                v.holdout |= s.holdout;
            }
            Kind::Click => v.clicks += 1,
            Kind::Purchase | Kind::Conversion => {
                v.converted = true;
                v.revenue += s.value.unwrap_or(0);
            }
            _ => {}
        }
        if s.decision_id.is_some() && matches!(s.kind, Kind::Click | Kind::Impression) {
            let is_click = s.kind == Kind::Click;
            let keep = touch
                .get(&u)
                .is_some_and(|&(t, c, _)| c && !is_click && s.time.saturating_sub(t) <= window);
            if !keep {
                touch.insert(u.clone(), (s.time, is_click, s.channel.name()));
            }
        }
        if matches!(s.kind, Kind::Purchase | Kind::Conversion) {
            attribution.conversions += 1;
            if let Some(&(t, _, ch)) = touch.get(&u)
                && s.time.saturating_sub(t) <= window
            {
                attribution.attributed += 1;
                let value = s.value.unwrap_or(0);
                attribution.attributed_revenue_cents += value;
                let e = paths.entry((ch, s.channel.name())).or_default();
                e.0 += 1;
                e.1 += value;
            }
        }
    }
    attribution.paths = paths
        .into_iter()
        .map(|((d, c), (n, rev))| Path {
            decision_channel: d,
            conversion_channel: c,
            conversions: n,
            revenue_cents: rev,
        })
        .collect();

    let arm = |holdout: bool| {
        let vs: Vec<&Visitor> = visitors
            .values()
            .filter(|v| v.impressions > 0 && v.holdout == holdout)
            .collect();
        let mut a = Arm {
            visitors: vs.len() as u64,
            ..Arm::default()
        };
        for v in &vs {
            a.impressions += v.impressions;
            a.clicks += v.clicks;
            a.converters += u64::from(v.converted);
            a.revenue_cents += v.revenue;
        }
        a.ctr = wilson(a.clicks.min(a.impressions), a.impressions);
        a.conversion_rate = wilson(a.converters, a.visitors);
        let rev: Vec<f64> = vs.iter().map(|v| v.revenue as f64).collect();
        let (m, var) = mean(&rev);
        a.revenue_per_visitor = interval(m, var);
        (a, var, rev.len())
    };
    let (p, p_var, _) = arm(false);
    let (h, h_var, _) = arm(true);
    let rate_var = |a: &Arm| {
        if a.visitors == 0 {
            return 0.0;
        }
        let q = a.conversion_rate.value;
        q * (1.0 - q) / a.visitors as f64
    };
    Report {
        since,
        until,
        conversion_lift: interval(
            p.conversion_rate.value - h.conversion_rate.value,
            rate_var(&p) + rate_var(&h),
        ),
        revenue_lift: interval(
            p.revenue_per_visitor.value - h.revenue_per_visitor.value,
            p_var + h_var,
        ),
        personalized: p,
        holdout: h,
        attribution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotwise::signals::{Channel, Signal};

    #[test]
    fn arms_and_attribution() {
        let r = |s: Signal, who: &str| Row {
            signal: s,
            subject: Some(who.into()),
            cluster: None,
        };
        let rows = vec![
            r(
                Signal::new(Kind::Impression, 1, 10)
                    .decision(1, 0, 0, 0)
                    .channel(Channel::Email),
                "a",
            ),
            r(
                Signal::new(Kind::Click, 2, 11)
                    .decision(1, 0, 0, 0)
                    .channel(Channel::Email),
                "a",
            ),
            r(Signal::new(Kind::Purchase, 3, 20).value(500), "a"),
            r(
                Signal::new(Kind::Impression, 4, 10)
                    .decision(2, 0, 0, 0)
                    .holdout(true),
                "b",
            ),
        ];
        let rep = report(&rows, 0, 100, 3600);
        assert_eq!(rep.personalized.visitors, 1);
        assert_eq!(rep.personalized.converters, 1);
        assert_eq!(rep.holdout.visitors, 1);
        assert_eq!(rep.holdout.converters, 0);
        assert_eq!(rep.attribution.attributed, 1);
        assert_eq!(rep.attribution.paths[0].decision_channel, "email");
        assert_eq!(rep.attribution.paths[0].conversion_channel, "web");
        let w = wilson(5, 10);
        assert!(w.low < 0.5 && w.high > 0.5);
    }
}
