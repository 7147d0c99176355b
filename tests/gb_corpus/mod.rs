//! The GrowthBook test-vector corpus in binary form (`SWT1`), shared by the native
//! tests and, later, the wasm tests (which cannot read JSON or the shared directory:
//! they `include_bytes!` the committed file and decode it with these types).
//!
//! Layout: `b"SWT1"`, version byte 1, then postcard of [`Corpus`]; field order below is
//! the postcard order. Conditions are stored compiled (GrowthBook dialect), exactly as a
//! bundle would carry them.

#![allow(dead_code)] // each test binary uses a different part

use serde::{Deserialize, Serialize};
use slotwise::rules::{Cond, SavedGroups, Value};

pub const MAGIC: [u8; 4] = *b"SWT1";
pub const VERSION: u8 = 1;
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
    out
}
