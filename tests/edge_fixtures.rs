//! The edge worker's test fixtures (`tests/fixtures/edge/`, made by its `make.sh`)
//! are still what they claim to be: the snippets verify (or fail) as the packaging
//! tests expect, against the shop fixture's vocabulary, and the holdout bundle holds
//! every visitor out.
#![cfg(feature = "native-crypto")]

use serde_json::Value;
use slotwise::profile::{self, Expect, KeyRing};

fn fixture(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    std::fs::read(format!("{dir}{name}")).unwrap()
}

#[test]
fn the_snippets_verify_as_the_edge_tests_expect() {
    let file: Value = serde_json::from_slice(&fixture("edge/snippets.json")).unwrap();
    let mut ring = KeyRing::new();
    for (kid, key) in file["keys"].as_object().unwrap() {
        ring.insert_base64url(kid, key.as_str().unwrap()).unwrap();
    }
    let shop = slotwise::bundle::decode(&fixture("shop.swb")).unwrap();
    let now = 1_800_000_000; // any time until 2100
    let verify = |name: &str| {
        let parts = profile::parse_unverified(file[name].as_str().unwrap())?;
        let expect = Expect {
            now,
            audience: "shop.example",
        };
        profile::verify_native(parts, &ring, expect)
    };
    let valid = verify("valid").unwrap();
    assert_eq!(valid.claims().purchases, [0]);
    assert_eq!(
        valid.claims().vocabulary,
        slotwise::bundle::vocabulary(&shop)
    );
    assert_eq!(
        String::from_utf8(fixture("edge/vocabulary.txt"))
            .unwrap()
            .trim(),
        slotwise::bundle::vocabulary(&shop).to_string()
    );
    assert_eq!(shop.items[0].id, "sku-trail-1");
    assert_eq!(verify("expired").unwrap_err().code(), "snippet.expired");
    assert_eq!(
        verify("otherAudience").unwrap_err().code(),
        "snippet.wrong_audience"
    );
}

#[test]
fn the_holdout_bundle_holds_everyone_out() {
    let held = slotwise::bundle::decode(&fixture("edge/shop-holdout.swb")).unwrap();
    let holdout = held.holdout.as_ref().unwrap();
    for id in ["a", "0123456789abcdef", "visitor-42"] {
        assert!(holdout.holds_out(id));
    }
}
