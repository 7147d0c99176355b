//! GrowthBook's cross-SDK conformance suite, run natively through our code.
//!
//! Reads `../shared/conformance/growthbook-cases.json` (relative to the workspace root's
//! parent; see its README.md) and runs every case of the `evalCondition`, `hash`,
//! `getBucketRange`, `chooseVariation`, `inNamespace` and `getEqualWeights` sections.
//! Conditions go through the real pipeline: JSON → [`compile`] (GrowthBook dialect) →
//! postcard bytes → decoded [`Cond`] → [`Cond::eval`]. Each condition is also compiled
//! in the strict (authoring) dialect: it must either agree, or be rejected with a path.
//!
//! Numbers are compared as GrowthBook's own test does (`Math.floor(n * 1e8) / 1e8` for
//! bucket ranges and equal weights; exact elsewhere).

use std::path::PathBuf;

use slotwise::experiment::{
    Experiment, Namespace, assign, choose_variation, get_bucket_ranges, get_equal_weights, hash,
    in_namespace,
};
use slotwise::rules::compile::{Dialect, GroupNames, compile, compile_saved_groups};
use slotwise::rules::js;
use slotwise::rules::{Cond, Json, SavedGroups, Value};

/// Cases that depend on a feature we deliberately do not support: (section, name, why).
/// Expected to stay empty.
const UNSUPPORTED: &[(&str, &str, &str)] = &[];

fn cases() -> Option<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared/conformance/growthbook-cases.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            println!("skipping GrowthBook conformance: {} ({e})", path.display());
            return None;
        }
    };
    let Json(v) = serde_json::from_str(&text).expect("cases.json parses");
    Some(v)
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

fn text(v: &Value) -> &str {
    match v {
        Value::String(s) => s,
        other => panic!("expected a string, got {other:?}"),
    }
}

fn boolean(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        other => panic!("expected a boolean, got {other:?}"),
    }
}

fn round(n: f64) -> f64 {
    (n * 1e8).floor() / 1e8
}

fn skipped(section: &str, name: &str) -> bool {
    UNSUPPORTED
        .iter()
        .any(|(s, n, _)| *s == section && *n == name)
}

struct Tally {
    section: &'static str,
    passed: usize,
    skipped: usize,
    failures: Vec<String>,
}

impl Tally {
    fn new(section: &'static str) -> Self {
        Tally {
            section,
            passed: 0,
            skipped: 0,
            failures: Vec::new(),
        }
    }
    fn check(&mut self, name: &str, ok: bool, detail: impl FnOnce() -> String) {
        if skipped(self.section, name) {
            self.skipped += 1;
        } else if ok {
            self.passed += 1;
        } else {
            self.failures
                .push(format!("{}[{name}]: {}", self.section, detail()));
        }
    }
    fn report(self, failures: &mut Vec<String>) {
        println!(
            "{:<16} {} passed, {} failed, {} skipped (unsupported)",
            self.section,
            self.passed,
            self.failures.len(),
            self.skipped
        );
        failures.extend(self.failures);
    }
}

/// compile (GrowthBook dialect) → postcard → decode → eval.
fn run_condition(cond: &Value, doc: &Value, groups_json: Option<&Value>) -> Result<bool, String> {
    let (names, groups) = match groups_json {
        Some(g) => compile_saved_groups(g).map_err(|e| e.to_string())?,
        None => (GroupNames::default(), SavedGroups::default()),
    };
    let compiled = compile(cond, &names, Dialect::GrowthBook).map_err(|e| e.to_string())?;
    let bytes = postcard::to_allocvec(&(&compiled, &groups)).map_err(|e| e.to_string())?;
    let (decoded, groups): (Cond, SavedGroups) =
        postcard::from_bytes(&bytes).map_err(|e| e.to_string())?;
    if decoded != compiled {
        return Err("postcard round trip changed the condition".into());
    }
    Ok(decoded.eval(doc, &groups))
}

#[test]
fn growthbook_conformance() {
    let Some(all) = cases() else { return };
    let mut failures = Vec::new();

    // evalCondition: [name, condition, attributes, expected, savedGroups?]
    let mut t = Tally::new("evalCondition");
    let mut strict = Tally::new("strict dialect");
    let mut strict_rejected = Vec::new();
    for case in section(&all, "evalCondition") {
        let c = arr(case);
        let name = text(&c[0]);
        let expected = boolean(&c[3]);
        let groups = c.get(4);
        let got = run_condition(&c[1], &c[2], groups);
        t.check(name, got == Ok(expected), || {
            format!("expected {expected}, got {got:?}")
        });

        // The authoring dialect must agree or refuse with a path.
        let (names, sg) = match groups {
            Some(g) => compile_saved_groups(g).expect("saved groups compile"),
            None => (GroupNames::default(), SavedGroups::default()),
        };
        match compile(&c[1], &names, Dialect::Strict) {
            Ok(cond) => strict.check(name, cond.eval(&c[2], &sg) == expected, || {
                "strict dialect disagrees".into()
            }),
            Err(e) => strict_rejected.push(format!("{name}: {e}")),
        }
    }
    t.report(&mut failures);
    strict.report(&mut failures);
    println!(
        "strict dialect   {} rejected at build time by the strict (authoring) dialect:",
        strict_rejected.len()
    );
    for r in &strict_rejected {
        println!("    {r}");
    }

    // hash: [seed, value, version, expected|null]
    let mut t = Tally::new("hash");
    for case in section(&all, "hash") {
        let c = arr(case);
        let (seed, value, version) = (text(&c[0]), text(&c[1]), num(&c[2]));
        let expected = match &c[3] {
            Value::Null => None,
            v => Some(num(v)),
        };
        let got = hash(seed, value, version as u32);
        let name = format!("{seed:?}, {value:?}, {version}");
        t.check(&name, got == expected, || {
            format!("expected {expected:?}, got {got:?}")
        });
    }
    t.report(&mut failures);

    // getBucketRange: [name, [numVariations, coverage, weights|null], expected ranges]
    let mut t = Tally::new("getBucketRange");
    for case in section(&all, "getBucketRange") {
        let c = arr(case);
        let args = arr(&c[1]);
        let weights: Option<Vec<f64>> = match &args[2] {
            Value::Null => None,
            w => Some(arr(w).iter().map(num).collect()),
        };
        let got: Vec<(f64, f64)> = get_bucket_ranges(
            num(&args[0]) as usize,
            Some(num(&args[1])),
            weights.as_deref(),
        )
        .into_iter()
        .map(|(a, b)| (round(a), round(b)))
        .collect();
        let expected: Vec<(f64, f64)> = arr(&c[2])
            .iter()
            .map(|r| (round(num(&arr(r)[0])), round(num(&arr(r)[1]))))
            .collect();
        t.check(text(&c[0]), got == expected, || {
            format!("expected {expected:?}, got {got:?}")
        });
    }
    t.report(&mut failures);

    // chooseVariation: [name, n, ranges, expected index | -1]
    let mut t = Tally::new("chooseVariation");
    for case in section(&all, "chooseVariation") {
        let c = arr(case);
        let ranges: Vec<(f64, f64)> = arr(&c[2])
            .iter()
            .map(|r| (num(&arr(r)[0]), num(&arr(r)[1])))
            .collect();
        let got = choose_variation(num(&c[1]), &ranges).map_or(-1, |i| i as i64);
        let expected = num(&c[3]) as i64;
        t.check(text(&c[0]), got == expected, || {
            format!("expected {expected}, got {got}")
        });
    }
    t.report(&mut failures);

    // inNamespace: [name, id, [namespace, start, end], expected]
    let mut t = Tally::new("inNamespace");
    for case in section(&all, "inNamespace") {
        let c = arr(case);
        let ns = arr(&c[2]);
        let got = in_namespace(
            text(&c[1]),
            Namespace {
                id: text(&ns[0]),
                start: num(&ns[1]),
                end: num(&ns[2]),
            },
        );
        let expected = boolean(&c[3]);
        t.check(text(&c[0]), got == expected, || {
            format!("expected {expected}, got {got}")
        });
    }
    t.report(&mut failures);

    // getEqualWeights: [n, expected] (n may be negative: no weights)
    let mut t = Tally::new("getEqualWeights");
    for case in section(&all, "getEqualWeights") {
        let c = arr(case);
        let n = num(&c[0]);
        let got: Vec<f64> = get_equal_weights(n.max(0.0) as usize)
            .into_iter()
            .map(round)
            .collect();
        let expected: Vec<f64> = arr(&c[1]).iter().map(|v| round(num(v))).collect();
        t.check(&n.to_string(), got == expected, || {
            format!("expected {expected:?}, got {got:?}")
        });
    }
    t.report(&mut failures);

    run_section(&all, &mut failures);

    for (s, n, why) in UNSUPPORTED {
        println!("unsupported: {s}[{n}]: {why}");
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// Keys of `run` cases that belong to the engine (forcing, QA mode, URL targeting,
/// filters, prerequisites, feature definitions), not to assignment: such cases are
/// counted as out of scope here, not as unsupported.
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

/// The `run` section, restricted to cases that only exercise assignment (+ `condition`):
/// [name, context, experiment, value, inExperiment, hashUsed].
fn run_section(all: &Value, failures: &mut Vec<String>) {
    let mut t = Tally::new("run (assignment)");
    let mut out_of_scope = 0;
    for case in section(all, "run") {
        let c = arr(case);
        let name = text(&c[0]);
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
            out_of_scope += 1;
            continue;
        }
        let attributes = ctx.member("attributes").unwrap_or(Value::Null);
        let variations = exp.member("variations").unwrap_or(Value::Null);
        let variations = arr(&variations);
        let hash_attribute = exp
            .member("hashAttribute")
            .map_or("id".to_string(), |v| text(&v).to_string());
        let id = attributes.path(&[hash_attribute.as_str()]);
        let hash_value = if js::truthy(&id) {
            js::to_string(&id)
        } else {
            String::new()
        };
        let key = exp
            .member("key")
            .map(|v| text(&v).to_string())
            .unwrap_or_default();
        let seed = exp.member("seed").map(|v| text(&v).to_string());
        let weights: Option<Vec<f64>> = exp
            .member("weights")
            .map(|w| arr(&w).iter().map(num).collect());
        let ranges: Option<Vec<(f64, f64)>> = exp.member("ranges").map(|r| {
            arr(&r)
                .iter()
                .map(|p| (num(&arr(p)[0]), num(&arr(p)[1])))
                .collect()
        });
        let ns = exp.member("namespace");
        let ns_parts = ns.as_ref().map(|n| arr(n).to_vec());
        let namespace = ns_parts.as_ref().map(|p| Namespace {
            id: text(&p[0]),
            start: num(&p[1]),
            end: num(&p[2]),
        });
        let passes_condition = match exp.member("condition") {
            Some(cond) => {
                let (names, groups) = match ctx.member("savedGroups") {
                    Some(g) => compile_saved_groups(&g).expect("groups"),
                    None => (GroupNames::default(), SavedGroups::default()),
                };
                compile(&cond, &names, Dialect::GrowthBook)
                    .expect("condition compiles")
                    .eval(&attributes, &groups)
            }
            None => true,
        };
        let experiment = Experiment {
            key: &key,
            seed: seed.as_deref(),
            hash_version: exp.member("hashVersion").map_or(1, |v| num(&v) as u32),
            num_variations: variations.len(),
            coverage: exp.member("coverage").map(|v| num(&v)),
            weights: weights.as_deref(),
            ranges: ranges.as_deref(),
            namespace,
        };
        let bucket = if passes_condition {
            assign(&experiment, &hash_value)
        } else {
            None
        };
        let value = match bucket {
            Some(b) => variations.get(b.variation).cloned(),
            None => variations.first().cloned(),
        };
        let (expected_value, in_exp, hash_used) = (&c[3], boolean(&c[4]), boolean(&c[5]));
        let ok = value.as_ref() == Some(expected_value)
            && bucket.is_some() == in_exp
            && bucket.is_some() == hash_used;
        t.check(name, ok, || {
            format!("expected {expected_value:?}/{in_exp}, got {bucket:?} {value:?}")
        });
    }
    t.report(failures);
    println!(
        "run              {out_of_scope} cases out of scope (engine-level keys: {ENGINE_KEYS:?})"
    );
}
