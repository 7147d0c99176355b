//! The hand-written bundle reader (`src/bundle/read.rs`) against postcard's serde
//! decoder, which it replaced in `bundle::decode`: the same bundle or the same error
//! code for the committed fixtures, for a bundle carrying every condition of
//! GrowthBook's conformance corpus, for mutated and truncated bytes of both, and for
//! random bytes; the page context's `Value` reader likewise.

use std::path::PathBuf;

use proptest::prelude::*;
use slotwise::bundle::{self, Bundle, PREFIX_LEN};
use slotwise::rules::compile::{Dialect, GroupNames, compile};
use slotwise::rules::{Action, Cond, Json, Rule, Test, Value};
use slotwise::wire::Reader;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `bundle::decode` as it was: postcard's `from_bytes`, then the same checks. Bundles
/// are compared re-encoded (a mutated float may be a NaN, which equals nothing).
fn reference(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    match bundle::decode(bytes) {
        // The prefix and size checks come before the body in both decoders.
        Err(e)
            if !matches!(
                e.code(),
                "bundle.truncated" | "bundle.corrupt" | "bundle.invalid"
            ) =>
        {
            return Err(e.code());
        }
        _ => {}
    }
    let b: Bundle = match postcard::from_bytes(&bytes[PREFIX_LEN..]) {
        Ok(b) => b,
        Err(postcard::Error::DeserializeUnexpectedEnd) => return Err("bundle.truncated"),
        Err(_) => return Err("bundle.corrupt"),
    };
    bundle::validate(&b).map_err(|e| e.code())?;
    Ok(bundle::encode(&b))
}

fn hand(bytes: &[u8]) -> Result<Vec<u8>, &'static str> {
    bundle::decode(bytes)
        .map(|b| bundle::encode(&b))
        .map_err(|e| e.code())
}

fn fixtures() -> Vec<Vec<u8>> {
    let mut out = vec![bundle::encode(&Bundle::example()), corpus_bundle()];
    for f in [
        "tests/fixtures/shop.swb",
        "tests/fixtures/edge/shop-holdout.swb",
    ] {
        out.push(std::fs::read(root().join(f)).expect("fixture bundle"));
    }
    out
}

/// GrowthBook's `evalCondition` cases (conditions and documents), when the corpus is
/// there (see tests/growthbook_conformance.rs).
fn corpus() -> Vec<(Value, Value, bool)> {
    let path = root().join("../shared/conformance/growthbook-cases.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("no GrowthBook corpus at {}", path.display());
        return Vec::new();
    };
    let Json(Value::Object(sections)) = serde_json::from_str(&text).expect("cases parse") else {
        panic!("cases.json is not an object")
    };
    let Some((_, Value::Array(cases))) = sections.iter().find(|(k, _)| k == "evalCondition") else {
        panic!("no evalCondition section")
    };
    cases
        .iter()
        .filter_map(|c| match c {
            Value::Array(c) => Some((c[1].clone(), c[2].clone(), c.len() > 4)),
            _ => None,
        })
        .collect()
}

/// The example bundle with every corpus condition that needs no saved group as a rule.
fn corpus_bundle() -> Vec<u8> {
    let mut b = Bundle::example();
    for (i, (cond, _, groups)) in corpus().into_iter().enumerate() {
        if groups {
            continue;
        }
        let Ok(when) = compile(&cond, &GroupNames::default(), Dialect::GrowthBook) else {
            continue;
        };
        b.slots[0].rules.push(Rule {
            id: format!("r{i}"),
            when: Some(when),
            action: [Action::Include, Action::Boost(1.5), Action::Bury(0.25)][i % 3],
            items: vec![0],
            requires_personalization: i % 2 == 0,
            text: (i % 4 == 0).then(|| format!("because {i}")),
        });
    }
    bundle::encode(&b)
}

#[test]
fn fixtures_decode_to_the_same_bundle() {
    for bytes in fixtures() {
        let got = bundle::decode(&bytes).unwrap();
        assert_eq!(Ok(bundle::encode(&got)), reference(&bytes));
        assert_eq!(bundle::encode(&got), bytes);
    }
}

#[test]
fn the_corpus_bundle_carries_the_conditions() {
    let corpus = corpus();
    if corpus.is_empty() {
        return;
    }
    let b = bundle::decode(&corpus_bundle()).unwrap();
    assert!(b.slots[0].rules.len() > 200, "{}", b.slots[0].rules.len());
}

#[test]
fn every_corpus_document_reads_as_postcard_reads_it() {
    for (_, doc, _) in corpus() {
        let bytes = postcard::to_allocvec(&doc).unwrap();
        let got = bundle::read::value(&mut Reader::new(&bytes));
        assert_eq!(got.as_ref().ok(), Some(&doc));
        assert_eq!(got.ok(), postcard::from_bytes::<Value>(&bytes).ok());
    }
}

#[test]
fn nesting_is_limited_where_the_serde_guard_limited_it() {
    for depth in [250, 254, 255, 256, 300] {
        let mut cond = Cond::Field {
            path: vec!["a".into()],
            test: Test::IsNull,
        };
        for _ in 0..depth {
            cond = Cond::Not(Box::new(cond));
        }
        let mut b = Bundle::example();
        b.slots[0].rules.push(Rule {
            id: "deep".into(),
            when: Some(cond),
            action: Action::Include,
            items: vec![],
            requires_personalization: false,
            text: None,
        });
        let bytes = bundle::encode(&b);
        assert_eq!(hand(&bytes), reference(&bytes), "depth {depth}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn mutated_bundles_get_the_same_verdict(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let all = fixtures();
        let mut bytes = all[which.index(all.len())].clone();
        for (at, b) in edits {
            let i = PREFIX_LEN + at.index(bytes.len() - PREFIX_LEN);
            bytes[i] = b;
        }
        if truncate {
            bytes.truncate(PREFIX_LEN + cut.index(bytes.len() - PREFIX_LEN + 1));
        }
        prop_assert_eq!(hand(&bytes), reference(&bytes));
    }

    #[test]
    fn random_bodies_get_the_same_verdict(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = b"SWB1\x01".to_vec();
        bytes.extend_from_slice(&body);
        prop_assert_eq!(hand(&bytes), reference(&bytes));
    }

    #[test]
    fn random_contexts_read_as_postcard_reads_them(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let got = bundle::read::value(&mut Reader::new(&bytes)).ok();
        let want = postcard::from_bytes::<Value>(&bytes).ok();
        let again = |v: Option<Value>| v.map(|v| postcard::to_allocvec(&v).unwrap());
        prop_assert_eq!(again(got), again(want));
    }
}
