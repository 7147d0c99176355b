//! `/metrics`: counters in the Prometheus text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests and seconds per (route, status).
type PerRoute = BTreeMap<(&'static str, u16), (u64, f64)>;

/// Process-wide counters. Cheap to update from any handler.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<PerRoute>,
    /// Signals newly stored.
    pub signals_stored: AtomicU64,
    /// Signals dropped as duplicates of stored event ids.
    pub signals_duplicate: AtomicU64,
    /// Batches refused (bad bytes, consent, size, type).
    pub batches_rejected: AtomicU64,
    /// Snippets issued.
    pub snippets_issued: AtomicU64,
    /// Signals deleted by retention.
    pub signals_expired: AtomicU64,
    /// Signals acknowledged but not stored: older than the retention floor.
    pub signals_too_old: AtomicU64,
    /// Snippets issued from a cached profile.
    pub profile_cache_hits: AtomicU64,
    /// Snippets whose profile was read from the store.
    pub profile_cache_misses: AtomicU64,
}

impl Metrics {
    /// Counts one answered request on `route` with `status`, taking `secs`.
    pub fn observe(&self, route: &'static str, status: u16, secs: f64) {
        if let Ok(mut m) = self.requests.lock() {
            let e = m.entry((route, status)).or_default();
            e.0 += 1;
            e.1 += secs;
        }
    }

    /// The exposition text; `gauges` are appended as `slotwise_<name>`.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP slotwise_http_requests_total Requests answered, by route and status.\n",
        );
        out.push_str("# TYPE slotwise_http_requests_total counter\n");
        let snapshot = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        for ((route, status), (n, _)) in &snapshot {
            let _ = writeln!(
                out,
                "slotwise_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP slotwise_http_request_seconds_total Time spent answering, by route and status.\n");
        out.push_str("# TYPE slotwise_http_request_seconds_total counter\n");
        for ((route, status), (_, s)) in &snapshot {
            let _ = writeln!(
                out,
                "slotwise_http_request_seconds_total{{route=\"{route}\",status=\"{status}\"}} {s}"
            );
        }
        let counters = [
            (
                "signals_stored_total",
                "Signals newly stored.",
                &self.signals_stored,
            ),
            (
                "signals_duplicate_total",
                "Signals whose event id was already stored.",
                &self.signals_duplicate,
            ),
            (
                "batches_rejected_total",
                "Signal batches refused.",
                &self.batches_rejected,
            ),
            (
                "snippets_issued_total",
                "Profile snippets issued.",
                &self.snippets_issued,
            ),
            (
                "signals_expired_total",
                "Signals deleted by retention.",
                &self.signals_expired,
            ),
            (
                "signals_too_old_total",
                "Signals acknowledged but not stored: older than the retention floor.",
                &self.signals_too_old,
            ),
            (
                "profile_cache_hits_total",
                "Snippets issued from a cached profile.",
                &self.profile_cache_hits,
            ),
            (
                "profile_cache_misses_total",
                "Snippets whose profile was read from the store.",
                &self.profile_cache_misses,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP slotwise_{name} {help}");
            let _ = writeln!(out, "# TYPE slotwise_{name} counter");
            let _ = writeln!(out, "slotwise_{name} {}", v.load(Ordering::Relaxed));
        }
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP slotwise_{name} {help}");
            let _ = writeln!(out, "# TYPE slotwise_{name} gauge");
            let _ = writeln!(out, "slotwise_{name} {v}");
        }
        out
    }
}
