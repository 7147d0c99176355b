//! The GrowthBook test-vector corpus in binary form (`SWT1`), shared by the native
//! tests and the wasm tests (`tests/wasm_rules.rs`) (which cannot read JSON or the shared directory:
//! they `include_bytes!` the committed file and decode it with these types).
//!
//! Layout: `b"SWT1"`, version byte 1, then postcard of [`Corpus`]; field order below is
//! the postcard order. Conditions are stored compiled (GrowthBook dialect), exactly as a
//! bundle would carry them.

#![allow(dead_code)] // each test binary uses a different part

use serde::{Deserialize, Serialize};
use slotwise::rules::{Cond, SavedGroups, Value};

pub const MAGIC: [u8; 4] = *b"SWT1";
/// 2: adds the `run` (assignment) section.
pub const VERSION: u8 = 2;
/// Where the committed corpus lives, relative to the package root.
pub const PATH: &str = "tests/corpus/growthbook.swt";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Corpus {
    pub conditions: Vec<ConditionCase>,
    pub hashes: Vec<HashCase>,
    pub bucket_ranges: Vec<BucketRangeCase>,
    pub choose_variation: Vec<ChooseVariationCase>,
    pub namespaces: Vec<NamespaceCase>,
    pub equal_weights: Vec<EqualWeightsCase>,
    pub runs: Vec<RunCase>,
}

/// Order: name, cond, groups, doc, expected.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct ConditionCase {
    pub name: String,
    pub cond: Cond,
    pub groups: SavedGroups,
    pub doc: Value,
    pub expected: bool,
}

/// Order: seed, value, version, expected.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct HashCase {
    pub seed: String,
    pub value: String,
    pub version: u32,
    pub expected: Option<f64>,
}

/// Order: name, num_variations, coverage, weights, expected (compare after
/// `floor(x * 1e8) / 1e8`, as GrowthBook's own test does).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketRangeCase {
    pub name: String,
    pub num_variations: u32,
    pub coverage: f64,
    pub weights: Option<Vec<f64>>,
    pub expected: Vec<(f64, f64)>,
}

/// Order: name, n, ranges, expected (`None` is GrowthBook's -1).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct ChooseVariationCase {
    pub name: String,
    pub n: f64,
    pub ranges: Vec<(f64, f64)>,
    pub expected: Option<u32>,
}

/// Order: name, id, namespace, start, end, expected.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct NamespaceCase {
    pub name: String,
    pub id: String,
    pub namespace: String,
    pub start: f64,
    pub end: f64,
    pub expected: bool,
}

/// Order: n (negative: none), expected (rounded as above).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct EqualWeightsCase {
    pub n: i32,
    pub expected: Vec<f64>,
}

/// A `run` case that only exercises assignment (+ `condition`); cases using
/// engine-level keys (forcing, QA mode, URL targeting…) are not stored.
/// Order: name, key, seed, hash_version, variations, coverage, weights, ranges,
/// namespace, condition, groups, attributes, hash_attribute, expected_value,
/// in_experiment, hash_used.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCase {
    pub name: String,
    pub key: String,
    pub seed: Option<String>,
    /// `hashVersion` (absent: 1).
    pub hash_version: u32,
    pub variations: Vec<Value>,
    pub coverage: Option<f64>,
    pub weights: Option<Vec<f64>>,
    pub ranges: Option<Vec<(f64, f64)>>,
    /// (namespace id, start, end).
    pub namespace: Option<(String, f64, f64)>,
    /// Compiled (GrowthBook dialect) against `groups`.
    pub condition: Option<Cond>,
    pub groups: SavedGroups,
    pub attributes: Value,
    /// `hashAttribute` (absent: "id").
    pub hash_attribute: String,
    pub expected_value: Value,
    pub in_experiment: bool,
    pub hash_used: bool,
}

/// GrowthBook's `runExperiment` restricted to assignment: the hash value is
/// `String(attributes[hashAttribute])` when truthy, the condition gates, then
/// [`slotwise::experiment::assign`]; returns (value, in experiment, hash used).
pub fn run_case(c: &RunCase) -> (Option<Value>, bool, bool) {
    use slotwise::experiment::{Experiment, Namespace, assign};
    use slotwise::rules::js;
    let id = c.attributes.path(&[c.hash_attribute.as_str()]);
    let hash_value = if js::truthy(&id) {
        js::to_string(&id)
    } else {
        String::new()
    };
    let passes = c
        .condition
        .as_ref()
        .is_none_or(|cond| cond.eval(&c.attributes, &c.groups));
    let experiment = Experiment {
        key: &c.key,
        seed: c.seed.as_deref(),
        hash_version: c.hash_version,
        num_variations: c.variations.len(),
        coverage: c.coverage,
        weights: c.weights.as_deref(),
        ranges: c.ranges.as_deref(),
        namespace: c.namespace.as_ref().map(|(id, start, end)| Namespace {
            id,
            start: *start,
            end: *end,
        }),
    };
    let bucket = if passes {
        assign(&experiment, &hash_value)
    } else {
        None
    };
    let value = match bucket {
        Some(b) => c.variations.get(b.variation).cloned(),
        None => c.variations.first().cloned(),
    };
    (value, bucket.is_some(), bucket.is_some())
}

/// GrowthBook's test rounding: `Math.floor(n * 1e8) / 1e8`.
pub fn round(n: f64) -> f64 {
    (n * 1e8).floor() / 1e8
}

pub fn encode(corpus: &Corpus) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(VERSION);
    out.extend(postcard::to_allocvec(corpus).expect("corpus encodes"));
    out
}

pub fn decode(bytes: &[u8]) -> Corpus {
    assert_eq!(bytes.get(..4), Some(&MAGIC[..]), "not an SWT1 corpus");
    assert_eq!(bytes.get(4), Some(&VERSION), "corpus version");
    postcard::from_bytes(&bytes[5..]).expect("corpus decodes")
}

/// Runs every case through the core; returns (section, passed, failures).
pub fn run(corpus: &Corpus) -> Vec<(&'static str, usize, Vec<String>)> {
    use slotwise::experiment::*;
    let mut out = Vec::new();
    let mut tally = |section, results: Vec<(String, bool)>| {
        let passed = results.iter().filter(|r| r.1).count();
        let failed = results.into_iter().filter(|r| !r.1).map(|r| r.0).collect();
        out.push((section, passed, failed));
    };
    tally(
        "evalCondition",
        corpus
            .conditions
            .iter()
            .map(|c| (c.name.clone(), c.cond.eval(&c.doc, &c.groups) == c.expected))
            .collect(),
    );
    tally(
        "hash",
        corpus
            .hashes
            .iter()
            .map(|c| {
                let name = format!("{:?} {:?} v{}", c.seed, c.value, c.version);
                (name, hash(&c.seed, &c.value, c.version) == c.expected)
            })
            .collect(),
    );
    tally(
        "getBucketRange",
        corpus
            .bucket_ranges
            .iter()
            .map(|c| {
                let got: Vec<(f64, f64)> = get_bucket_ranges(
                    c.num_variations as usize,
                    Some(c.coverage),
                    c.weights.as_deref(),
                )
                .into_iter()
                .map(|(a, b)| (round(a), round(b)))
                .collect();
                (c.name.clone(), got == c.expected)
            })
            .collect(),
    );
    tally(
        "chooseVariation",
        corpus
            .choose_variation
            .iter()
            .map(|c| {
                let got = choose_variation(c.n, &c.ranges).map(|i| i as u32);
                (c.name.clone(), got == c.expected)
            })
            .collect(),
    );
    tally(
        "inNamespace",
        corpus
            .namespaces
            .iter()
            .map(|c| {
                let ns = Namespace {
                    id: &c.namespace,
                    start: c.start,
                    end: c.end,
                };
                (c.name.clone(), in_namespace(&c.id, ns) == c.expected)
            })
            .collect(),
    );
    tally(
        "getEqualWeights",
        corpus
            .equal_weights
            .iter()
            .map(|c| {
                let got: Vec<f64> = get_equal_weights(c.n.max(0) as usize)
                    .into_iter()
                    .map(round)
                    .collect();
                (c.n.to_string(), got == c.expected)
            })
            .collect(),
    );
    tally(
        "run (assignment)",
        corpus
            .runs
            .iter()
            .map(|c| {
                let (value, in_exp, hash_used) = run_case(c);
                let ok = value.as_ref() == Some(&c.expected_value)
                    && in_exp == c.in_experiment
                    && hash_used == c.hash_used;
                (c.name.clone(), ok)
            })
            .collect(),
    );
    out
}
