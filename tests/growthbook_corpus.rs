//! The committed binary corpus (`tests/corpus/growthbook.swt`): GrowthBook's vectors with
//! conditions pre-compiled, for targets that cannot read JSON (`tests/wasm_rules.rs`
//! `include_bytes!` it and reuses `tests/gb_corpus`).
//!
//! - `committed_corpus_passes` decodes the committed file and runs every case: needs
//!   nothing else, which is what a wasm test does.
//! - `committed_corpus_is_fresh` rebuilds it from `../shared/conformance/growthbook-cases.json`
//!   (skipped when absent) and requires identical bytes; `SLOTWISE_BLESS=1` rewrites it.

mod gb_corpus;

use std::path::PathBuf;

use gb_corpus::*;
use slotwise::rules::compile::{Dialect, GroupNames, compile, compile_saved_groups};
use slotwise::rules::{Json, SavedGroups, Value};

fn package_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn committed_corpus_passes() {
    let bytes = std::fs::read(package_file(PATH)).expect("committed corpus");
    let corpus = decode(&bytes);
    let mut failures = Vec::new();
    for (section, passed, failed) in run(&corpus) {
        println!("{section:<16} {passed} passed, {} failed", failed.len());
        assert!(passed > 0, "{section}: no cases");
        failures.extend(failed.into_iter().map(|f| format!("{section}: {f}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn committed_corpus_is_fresh() {
    let src = package_file("../shared/conformance/growthbook-cases.json");
    let Ok(text) = std::fs::read_to_string(&src) else {
        println!("skipping corpus freshness: {} absent", src.display());
        return;
    };
    let Json(all) = serde_json::from_str(&text).expect("cases parse");
    let built = encode(&build(&all));
    let path = package_file(PATH);
    if std::env::var_os("SLOTWISE_BLESS").is_some() {
        std::fs::write(&path, &built).expect("write corpus");
        println!("wrote {} ({} bytes)", path.display(), built.len());
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == built,
        "{} is stale: rerun with SLOTWISE_BLESS=1 and commit it",
        path.display()
    );
}

fn section<'a>(all: &'a Value, name: &str) -> &'a [Value] {
    let Value::Object(pairs) = all else {
        panic!("cases.json is not an object")
    };
    match pairs.iter().find(|(k, _)| k == name) {
        Some((_, Value::Array(items))) => items,
        _ => panic!("section {name} missing"),
    }
}

fn arr(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => *n,
        other => panic!("expected a number, got {other:?}"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn boolean(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

fn pair(v: &Value) -> (f64, f64) {
    (num(&arr(v)[0]), num(&arr(v)[1]))
}

fn build(all: &Value) -> Corpus {
    let conditions = section(all, "evalCondition")
        .iter()
        .map(|case| {
            let c = arr(case);
            let (names, groups) = match c.get(4) {
                Some(g) => compile_saved_groups(g).expect("groups"),
                None => (GroupNames::default(), SavedGroups::default()),
            };
            ConditionCase {
                name: text(&c[0]),
                cond: compile(&c[1], &names, Dialect::GrowthBook).expect("compiles"),
                groups,
                doc: c[2].clone(),
                expected: boolean(&c[3]),
            }
        })
        .collect();
    let hashes = section(all, "hash")
        .iter()
        .map(|case| {
            let c = arr(case);
            HashCase {
                seed: text(&c[0]),
                value: text(&c[1]),
                version: num(&c[2]) as u32,
                expected: match &c[3] {
                    Value::Null => None,
                    v => Some(num(v)),
                },
            }
        })
        .collect();
    let bucket_ranges = section(all, "getBucketRange")
        .iter()
        .map(|case| {
            let c = arr(case);
            let args = arr(&c[1]);
            BucketRangeCase {
                name: text(&c[0]),
                num_variations: num(&args[0]) as u32,
                coverage: num(&args[1]),
                weights: match &args[2] {
                    Value::Null => None,
                    w => Some(arr(w).iter().map(num).collect()),
                },
                expected: arr(&c[2])
                    .iter()
                    .map(|r| {
                        let (a, b) = pair(r);
                        (round(a), round(b))
                    })
                    .collect(),
            }
        })
        .collect();
    let choose_variation = section(all, "chooseVariation")
        .iter()
        .map(|case| {
            let c = arr(case);
            let idx = num(&c[3]);
            ChooseVariationCase {
                name: text(&c[0]),
                n: num(&c[1]),
                ranges: arr(&c[2]).iter().map(pair).collect(),
                expected: (idx >= 0.0).then_some(idx as u32),
            }
        })
        .collect();
    let namespaces = section(all, "inNamespace")
        .iter()
        .map(|case| {
            let c = arr(case);
            let ns = arr(&c[2]);
            NamespaceCase {
                name: text(&c[0]),
                id: text(&c[1]),
                namespace: text(&ns[0]),
                start: num(&ns[1]),
                end: num(&ns[2]),
                expected: boolean(&c[3]),
            }
        })
        .collect();
    let equal_weights = section(all, "getEqualWeights")
        .iter()
        .map(|case| {
            let c = arr(case);
            EqualWeightsCase {
                n: num(&c[0]) as i32,
                expected: arr(&c[1]).iter().map(|v| round(num(v))).collect(),
            }
        })
        .collect();
    let runs = section(all, "run").iter().filter_map(run_case).collect();
    Corpus {
        runs,
        conditions,
        hashes,
        bucket_ranges,
        choose_variation,
        namespaces,
        equal_weights,
    }
}

/// Keys of `run` cases that belong to the engine, not to assignment (as in
/// `tests/growthbook_conformance.rs`): such cases are not stored.
const ENGINE_KEYS: &[&str] = &[
    "force",
    "active",
    "filters",
    "parentConditions",
    "url",
    "qaMode",
    "forcedVariations",
    "features",
    "enabled",
];

/// [name, context, experiment, value, inExperiment, hashUsed] → a stored case, or
/// `None` when the case uses engine-level keys.
fn run_case(case: &Value) -> Option<RunCase> {
    let c = arr(case);
    let (ctx, exp) = (&c[1], &c[2]);
    let keys = |v: &Value| match v {
        Value::Object(p) => p.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    if keys(ctx)
        .iter()
        .chain(keys(exp).iter())
        .any(|k| ENGINE_KEYS.contains(&k.as_str()))
    {
        return None;
    }
    let (names, groups) = match ctx.member("savedGroups") {
        Some(g) => compile_saved_groups(&g).expect("groups"),
        None => (GroupNames::default(), SavedGroups::default()),
    };
    let pairs = |v: Value| arr(&v).iter().map(pair).collect::<Vec<_>>();
    Some(RunCase {
        name: text(&c[0]),
        key: exp.member("key").map(|v| text(&v)).unwrap_or_default(),
        seed: exp.member("seed").map(|v| text(&v)),
        hash_version: exp.member("hashVersion").map_or(1, |v| num(&v) as u32),
        variations: exp
            .member("variations")
            .map(|v| arr(&v).to_vec())
            .unwrap_or_default(),
        coverage: exp.member("coverage").map(|v| num(&v)),
        weights: exp
            .member("weights")
            .map(|w| arr(&w).iter().map(num).collect()),
        ranges: exp.member("ranges").map(pairs),
        namespace: exp.member("namespace").map(|n| {
            let p = arr(&n);
            (text(&p[0]), num(&p[1]), num(&p[2]))
        }),
        condition: exp
            .member("condition")
            .map(|cond| compile(&cond, &names, Dialect::GrowthBook).expect("condition compiles")),
        groups,
        attributes: ctx.member("attributes").unwrap_or(Value::Null),
        hash_attribute: exp
            .member("hashAttribute")
            .map_or("id".to_string(), |v| text(&v)),
        expected_value: c[3].clone(),
        in_experiment: boolean(&c[4]),
        hash_used: boolean(&c[5]),
    })
}
