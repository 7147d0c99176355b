//! Experiment hashing and bucketing, bit-for-bit compatible with GrowthBook's SDKs
//! (`packages/sdk-js/src/util.ts`), so an assignment made here equals the one
//! GrowthBook makes for the same seed, id, weights and coverage.
//!
//! - [`fnv1a32`]: FNV-1a 32 over UTF-16 code units (JavaScript's `charCodeAt`).
//! - [`hash`]: version 1 (`fnv(value + seed) % 1000 / 1000`, the original, biased) and
//!   version 2 (`fnv(str(fnv(seed + value))) % 10000 / 10000`, unbiased).
//! - [`get_bucket_ranges`], [`choose_variation`], [`in_namespace`], [`get_equal_weights`].
//!
//! Pure functions: seeds and ids are arguments.

use crate::rules::js::push_u64;

/// FNV-1a, 32-bit, over the UTF-16 code units of `s`.
///
/// ```
/// assert_eq!(slotwise::experiment::fnv1a32(""), 0x811c_9dc5);
/// assert_eq!(slotwise::experiment::fnv1a32("a"), 0xe40c_292c);
/// ```
pub fn fnv1a32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for unit in s.encode_utf16() {
        h ^= u32::from(unit);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// GrowthBook's `hash(seed, value, version)`: a number in `[0, 1)`, or `None` for an
/// unknown hash version.
///
/// ```
/// use slotwise::experiment::hash;
/// assert_eq!(hash("", "a", 1), Some(0.22));
/// assert_eq!(hash("seed", "a", 2), Some(0.0505));
/// assert_eq!(hash("abc", "def", 99), None);
/// ```
pub fn hash(seed: &str, value: &str, version: u32) -> Option<f64> {
    let mut buf = String::with_capacity(seed.len() + value.len());
    match version {
        2 => {
            buf.push_str(seed);
            buf.push_str(value);
            let first = fnv1a32(&buf);
            buf.clear();
            push_u64(&mut buf, u64::from(first));
            Some(f64::from(fnv1a32(&buf) % 10_000) / 10_000.0)
        }
        1 => {
            buf.push_str(value);
            buf.push_str(seed);
            Some(f64::from(fnv1a32(&buf) % 1_000) / 1_000.0)
        }
        _ => None,
    }
}

/// `n` equal weights summing to 1 (empty for `n == 0`).
///
/// ```
/// assert_eq!(slotwise::experiment::get_equal_weights(4), vec![0.25; 4]);
/// ```
pub fn get_equal_weights(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}

/// Whether `n` is in the half-open range `[start, end)`.
pub fn in_range(n: f64, range: (f64, f64)) -> bool {
    n >= range.0 && n < range.1
}

/// Bucket ranges for `num_variations` variations: each variation owns
/// `[start, start + coverage × weight)` where `start` is the sum of earlier weights.
/// Coverage defaults to 1 and is clamped to `[0, 1]`; weights that are missing, of the
/// wrong length, or not summing to 1 ± 0.01 become equal weights (as in GrowthBook).
///
/// ```
/// use slotwise::experiment::get_bucket_ranges;
/// assert_eq!(get_bucket_ranges(2, Some(0.5), None), vec![(0.0, 0.25), (0.5, 0.75)]);
/// assert_eq!(get_bucket_ranges(2, None, Some(&[0.4, 0.6])), vec![(0.0, 0.4), (0.4, 1.0)]);
/// ```
pub fn get_bucket_ranges(
    num_variations: usize,
    coverage: Option<f64>,
    weights: Option<&[f64]>,
) -> Vec<(f64, f64)> {
    // `clamp` keeps NaN as NaN, like GrowthBook's two comparisons.
    let coverage = coverage.unwrap_or(1.0).clamp(0.0, 1.0);
    let equal = get_equal_weights(num_variations);
    let mut weights: &[f64] = match weights {
        Some(w) if w.len() == num_variations => w,
        _ => &equal,
    };
    // GrowthBook sums left to right in f64; so do we.
    let total: f64 = weights.iter().fold(0.0, |sum, w| sum + w);
    // Not `!(0.99..=1.01).contains(..)`: GrowthBook keeps NaN-summing weights as they are.
    #[allow(clippy::manual_range_contains)]
    if total < 0.99 || total > 1.01 {
        weights = &equal;
    }
    let mut cumulative = 0.0;
    weights
        .iter()
        .map(|w| {
            let start = cumulative;
            cumulative += w;
            (start, start + coverage * w)
        })
        .collect()
}

/// The index of the range containing `n`, or `None` (GrowthBook's `-1`).
///
/// ```
/// use slotwise::experiment::choose_variation;
/// assert_eq!(choose_variation(0.6, &[(0.0, 0.5), (0.5, 1.0)]), Some(1));
/// assert_eq!(choose_variation(0.4, &[(0.0, 0.25), (0.5, 0.75)]), None);
/// ```
pub fn choose_variation(n: f64, ranges: &[(f64, f64)]) -> Option<usize> {
    ranges.iter().position(|r| in_range(n, *r))
}

/// A namespace slice: experiments in the same namespace with disjoint `[start, end)`
/// ranges never share a user.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Namespace<'a> {
    /// Namespace id.
    pub id: &'a str,
    /// Start of this experiment's slice, in `[0, 1]`.
    pub start: f64,
    /// End of the slice (exclusive).
    pub end: f64,
}

/// Whether the user `hash_value` falls in the namespace slice (hash version 1 with seed
/// `"__" + id`, as GrowthBook does).
///
/// ```
/// use slotwise::experiment::{in_namespace, Namespace};
/// assert!(in_namespace("1", Namespace { id: "namespace1", start: 0.4, end: 1.0 }));
/// ```
pub fn in_namespace(hash_value: &str, ns: Namespace<'_>) -> bool {
    let mut seed = String::with_capacity(ns.id.len() + 2);
    seed.push_str("__");
    seed.push_str(ns.id);
    match hash(&seed, hash_value, 1) {
        Some(n) => n >= ns.start && n < ns.end,
        None => false,
    }
}

/// What [`assign`] needs to know about an experiment (GrowthBook's `Experiment`, the
/// assignment part only: forcing, QA mode, URL targeting and sticky buckets belong to
/// the engine).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Experiment<'a> {
    /// Experiment key; the hash seed when `seed` is empty.
    pub key: &'a str,
    /// Hash seed (`None` or empty: the key).
    pub seed: Option<&'a str>,
    /// Hash version, 1 or 2 (0 means 1, as in GrowthBook).
    pub hash_version: u32,
    /// Number of variations (fewer than 2: nobody is in the experiment).
    pub num_variations: usize,
    /// Share of traffic included, `[0, 1]` (`None`: everyone).
    pub coverage: Option<f64>,
    /// Variation weights (`None`: equal).
    pub weights: Option<&'a [f64]>,
    /// Explicit bucket ranges, overriding coverage and weights.
    pub ranges: Option<&'a [(f64, f64)]>,
    /// Namespace slice the user must fall in.
    pub namespace: Option<Namespace<'a>>,
}

/// A user's bucket in an experiment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// The variation index.
    pub variation: usize,
    /// The hash in `[0, 1)` that chose it.
    pub hash: f64,
}

/// GrowthBook's assignment (steps 7–10 of `runExperiment`): empty id → out; outside the
/// namespace → out; unknown hash version → out; otherwise the variation whose bucket
/// range holds `hash(seed, id, version)`, or out when coverage excludes it.
///
/// ```
/// use slotwise::experiment::{assign, Experiment};
/// let exp = Experiment {
///     key: "my-test", seed: None, hash_version: 1, num_variations: 2,
///     coverage: None, weights: None, ranges: None, namespace: None,
/// };
/// assert_eq!(assign(&exp, "1").map(|b| b.variation), Some(1));
/// assert_eq!(assign(&exp, ""), None);
/// ```
pub fn assign(exp: &Experiment<'_>, hash_value: &str) -> Option<Bucket> {
    if exp.num_variations < 2 || hash_value.is_empty() {
        return None;
    }
    if let Some(ns) = exp.namespace
        && !in_namespace(hash_value, ns)
    {
        return None;
    }
    let seed = match exp.seed {
        Some(s) if !s.is_empty() => s,
        _ => exp.key,
    };
    let version = if exp.hash_version == 0 {
        1
    } else {
        exp.hash_version
    };
    let n = hash(seed, hash_value, version)?;
    let computed;
    let ranges = match exp.ranges {
        Some(r) => r,
        None => {
            computed = get_bucket_ranges(exp.num_variations, exp.coverage, exp.weights);
            &computed
        }
    };
    let variation = choose_variation(n, ranges)?;
    Some(Bucket { variation, hash: n })
}

/// An experiment as the bundle stores it (owned). Order: key, seed, hash_version,
/// coverage, weights, namespace, variations.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExperimentDef {
    /// Experiment key (reported with every exposure).
    pub key: String,
    /// Hash seed (empty: the key).
    pub seed: String,
    /// GrowthBook hash version (1 or 2).
    pub hash_version: u8,
    /// Share of traffic included, `[0, 1]`.
    pub coverage: f64,
    /// Variation weights (empty: equal).
    pub weights: Vec<f64>,
    /// Namespace `(id, start, end)`, if the experiment runs in one.
    pub namespace: Option<(String, f64, f64)>,
    /// The arms.
    pub variations: Vec<Variation>,
}

/// One arm of an experiment: a name and what it does to the slot.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Variation {
    /// Arm name (`control`, `personalized`, `alt-a`...).
    pub name: String,
    /// What the slot shows in this arm.
    pub effect: Effect,
}

/// What an arm does to its slot.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Effect {
    /// The slot's normal strategy (rules and model).
    Personalized,
    /// The slot's default content (a control arm).
    Default,
    /// This item (index into the bundle's items), whatever the rules say.
    Pin(u32),
}

impl ExperimentDef {
    /// The bucket of visitor `id`, or `None` when the visitor is not in the experiment.
    pub fn assign(&self, id: &str) -> Option<Bucket> {
        assign(
            &Experiment {
                key: &self.key,
                seed: Some(&self.seed),
                hash_version: u32::from(self.hash_version),
                num_variations: self.variations.len(),
                coverage: Some(self.coverage),
                weights: (!self.weights.is_empty()).then_some(self.weights.as_slice()),
                ranges: None,
                namespace: self.namespace.as_ref().map(|(id, start, end)| Namespace {
                    id,
                    start: *start,
                    end: *end,
                }),
            },
            id,
        )
    }
}

/// The global holdout: a share of visitors who get every slot's default, so lift can
/// be measured against them. Order: share, seed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Holdout {
    /// Share of visitors held out, `[0, 1]`.
    pub share: f64,
    /// Hash seed (stable across bundles so visitors stay in or out).
    pub seed: String,
}

impl Holdout {
    /// Whether visitor `id` is held out (hash version 2, as experiments).
    ///
    /// ```
    /// use slotwise::experiment::Holdout;
    /// let none = Holdout { share: 0.0, seed: "h".into() };
    /// let all = Holdout { share: 1.0, seed: "h".into() };
    /// assert!(!none.holds_out("v1") && all.holds_out("v1"));
    /// ```
    pub fn holds_out(&self, id: &str) -> bool {
        !id.is_empty() && hash(&self.seed, id, 2).is_some_and(|n| n < self.share)
    }
}
