//! Real TC strings made with the IAB's own encoder (`tests/vectors/make-tcf.mjs`,
//! `@iabtechlabtcf/core`), decoded with ours and compared field by field with what the
//! IAB's decoder read back; then our purpose mapping is checked against each case's
//! expected outcome (vendor id 755 configured).

use serde_json::Value;
use slotwise::consent::{self, Policy, tcf};

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/tcf.json"
    ))
    .expect("tests/vectors/tcf.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

fn bits(n: u8, f: impl Fn(u8) -> bool) -> Vec<u64> {
    (1..=n).filter(|&i| f(i)).map(u64::from).collect()
}

fn members(set: &tcf::VendorSet) -> Vec<u64> {
    set.ranges()
        .iter()
        .flat_map(|&(a, b)| u64::from(a)..=u64::from(b))
        .collect()
}

#[test]
fn iab_encoded_strings_decode_like_the_iab_decoder() {
    let v = vectors();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let tc = tcf::decode(case["tc_string"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let iab = &case["iab"];
        assert_eq!(
            u64::from(tc.version),
            iab["version"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(tc.created_ds, iab["created_ds"].as_u64().unwrap(), "{name}");
        assert_eq!(
            u64::from(tc.cmp_id),
            iab["cmp_id"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            u64::from(tc.cmp_version),
            iab["cmp_version"].as_u64().unwrap()
        );
        assert_eq!(
            u64::from(tc.vendor_list_version),
            iab["vendor_list_version"].as_u64().unwrap()
        );
        assert_eq!(
            u64::from(tc.policy_version),
            iab["policy_version"].as_u64().unwrap()
        );
        assert_eq!(
            tc.consent_language,
            iab["consent_language"].as_str().unwrap().as_bytes()
        );
        assert_eq!(
            tc.publisher_cc,
            iab["publisher_cc"].as_str().unwrap().as_bytes()
        );
        assert_eq!(
            tc.is_service_specific,
            iab["is_service_specific"].as_bool().unwrap()
        );
        assert_eq!(
            tc.purpose_one_treatment,
            iab["purpose_one_treatment"].as_bool().unwrap()
        );
        assert_eq!(
            bits(12, |i| tc.special_feature_opt_in(i)),
            ids(&iab["special_features"]),
            "{name}"
        );
        assert_eq!(
            bits(24, |i| tc.purpose_consent(i)),
            ids(&iab["purpose_consents"]),
            "{name}"
        );
        assert_eq!(
            bits(24, |i| tc.purpose_legitimate_interest(i)),
            ids(&iab["purpose_legitimate_interests"]),
            "{name}"
        );
        assert_eq!(
            members(&tc.vendor_consents),
            ids(&iab["vendor_consents"]),
            "{name}"
        );
        assert_eq!(
            members(&tc.vendor_legitimate_interests),
            ids(&iab["vendor_legitimate_interests"]),
            "{name}"
        );
        let restrictions: Vec<(u64, u64, Vec<u64>)> = tc
            .publisher_restrictions
            .iter()
            .map(|r| (u64::from(r.purpose), r.kind as u64, members(&r.vendors)))
            .collect();
        let expected: Vec<(u64, u64, Vec<u64>)> = iab["publisher_restrictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let n = |k: &str| r[k].as_u64().unwrap();
                (n("purpose"), n("type"), ids(&r["vendors"]))
            })
            .collect();
        assert_eq!(restrictions, expected, "{name}");
    }
}

#[test]
fn mapping_matches_expectations_with_vendor_id() {
    let v = vectors();
    let policy = Policy {
        vendor_id: Some(v["vendor_id"].as_u64().unwrap() as u16),
        ..Policy::default()
    };
    for case in v["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let tc = tcf::decode(case["tc_string"].as_str().unwrap()).unwrap();
        let choice = consent::from_tcf(&tc, &policy);
        let expect = &case["expect"];
        for (got, purpose) in [
            (choice.personalization, "personalization"),
            (choice.measurement, "measurement"),
            (choice.advertising, "advertising"),
        ] {
            assert_eq!(got, expect[purpose].as_bool(), "{name}: {purpose}");
        }
    }
}

#[test]
fn li_bits_for_p3_to_p6_never_grant_personalization() {
    let v = vectors();
    let policy = Policy {
        vendor_id: Some(755),
        ..Policy::default()
    };
    let mut seen = 0;
    for case in v["cases"].as_array().unwrap() {
        let tc = tcf::decode(case["tc_string"].as_str().unwrap()).unwrap();
        let li_3_to_6 = (3..=6).all(|p| tc.purpose_legitimate_interest(p));
        let consent_5_6 = tc.purpose_consent(5) && tc.purpose_consent(6);
        if li_3_to_6 && !consent_5_6 {
            seen += 1;
            let choice = consent::from_tcf(&tc, &policy);
            assert_eq!(choice.personalization, Some(false), "{}", case["name"]);
            assert_eq!(choice.advertising, Some(false), "{}", case["name"]);
        }
    }
    // Both v2.2 (policy 4) and v2.0 (policy 2) strings with those bits are in the corpus.
    assert!(seen >= 3, "{seen}");
}

#[test]
fn both_vendor_encodings_are_covered() {
    let v = vectors();
    let encodings: Vec<&str> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["vendor_encoding"].as_str().unwrap())
        .collect();
    assert!(encodings.contains(&"range") && encodings.contains(&"bitfield"));
}
