//! The shared Ed25519 vectors (`tests/vectors/ed25519.json`: RFC 8032 §7.1 tests 1–3,
//! malformed and non-canonical signatures) through the native implementation, and the
//! snippet sign → parse → verify flow with real signatures, and `tests/vectors/snippets.json`:
//! whole tokens with the expected outcome, regenerated with `SLOTWISE_BLESS=1` and
//! otherwise checked to be current. The wasm side replays both files through WebCrypto
//! (`tests/vectors/check-ed25519-webcrypto.mjs` already does so in Node).
#![cfg(feature = "native-crypto")]

use serde_json::Value;
use slotwise::base64url;
use slotwise::profile::{self, Claims, Expect, KeyRing};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/ed25519.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

#[test]
fn shared_ed25519_vectors() {
    let cases = cases();
    assert!(cases.len() >= 10);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let pk: [u8; 32] = hex(case["public_key"].as_str().unwrap())
            .try_into()
            .unwrap();
        let msg = hex(case["message"].as_str().unwrap());
        let sig = hex(case["signature"].as_str().unwrap());
        let valid = case["valid"].as_bool().unwrap();
        assert_eq!(profile::verify_raw(&pk, &msg, &sig), valid, "{name}");
        assert_eq!(
            profile::is_canonical_s(&sig),
            case["canonical_s"].as_bool().unwrap(),
            "{name}"
        );
        if let Some(sk) = case["secret_key"].as_str() {
            let sk: [u8; 32] = hex(sk).try_into().unwrap();
            assert_eq!(profile::public_key(&sk), pk, "{name}");
        }
    }
}

const NOW: u64 = 1_800_000_000;
const SITE: &str = "shop.example.com";

fn rfc_key(n: usize) -> ([u8; 32], [u8; 32]) {
    let case = &cases()[n];
    let sk: [u8; 32] = hex(case["secret_key"].as_str().unwrap())
        .try_into()
        .unwrap();
    (sk, profile::public_key(&sk))
}

#[test]
fn sign_then_verify_with_key_rotation() {
    let (old_sk, old_pk) = rfc_key(0);
    let (new_sk, new_pk) = rfc_key(1);
    let mut ring = KeyRing::new();
    ring.insert("old", old_pk);
    ring.insert("new", new_pk);
    let expect = Expect {
        now: NOW,
        audience: SITE,
    };
    for (kid, sk) in [("old", old_sk), ("new", new_sk)] {
        let claims = Claims {
            key_id: kid.into(),
            ..Claims::typical(NOW)
        };
        let token = profile::sign(&claims, &sk);
        let parts = profile::parse_unverified(&token).unwrap();
        assert_eq!(parts.key_id(), kid);
        let verified = profile::verify_native(parts, &ring, expect).unwrap();
        assert_eq!(verified.claims(), &claims);
    }
    // Signed with the old key but claiming the new key id: bad signature.
    let lying = Claims {
        key_id: "new".into(),
        ..Claims::typical(NOW)
    };
    let token = profile::sign(&lying, &old_sk);
    let parts = profile::parse_unverified(&token).unwrap();
    assert_eq!(
        profile::verify_native(parts, &ring, expect)
            .unwrap_err()
            .code(),
        "snippet.bad_signature"
    );
    // Key retired from the ring: unknown key.
    let mut rotated = KeyRing::new();
    rotated.insert("new", new_pk);
    let token = profile::sign(
        &Claims {
            key_id: "old".into(),
            ..Claims::typical(NOW)
        },
        &old_sk,
    );
    let parts = profile::parse_unverified(&token).unwrap();
    assert_eq!(
        profile::verify_native(parts, &rotated, expect)
            .unwrap_err()
            .code(),
        "snippet.unknown_key"
    );
}

#[test]
fn any_bit_flip_is_rejected() {
    let (sk, pk) = rfc_key(2);
    let mut ring = KeyRing::new();
    ring.insert("k2026-11", pk);
    let token = profile::sign(&Claims::typical(NOW), &sk);
    let bytes = base64url::decode(&token).unwrap();
    let expect = Expect {
        now: NOW,
        audience: SITE,
    };
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            let result = profile::parse_unverified(&base64url::encode(&b))
                .and_then(|parts| profile::verify_native(parts, &ring, expect));
            assert!(result.is_err(), "byte {i} bit {bit:#x} accepted");
        }
    }
}

#[test]
fn malleated_signature_is_rejected_before_crypto() {
    let (sk, pk) = rfc_key(0);
    let mut ring = KeyRing::new();
    ring.insert("k2026-11", pk);
    let token = profile::sign(&Claims::typical(NOW), &sk);
    let mut bytes = base64url::decode(&token).unwrap();
    // S + L: the same signature in a second encoding.
    let n = bytes.len();
    let l: [u8; 32] = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        .try_into()
        .unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(bytes[n - 32 + i]) + u16::from(l[i]) + carry;
        bytes[n - 32 + i] = sum as u8;
        carry = sum >> 8;
    }
    let err = profile::parse_unverified(&base64url::encode(&bytes)).unwrap_err();
    assert_eq!(err.code(), "snippet.bad_signature");
}

#[test]
fn host_verdict_path_agrees_with_native() {
    // What the wasm binding does with WebCrypto, simulated with the native verifier.
    let (sk, pk) = rfc_key(1);
    let mut ring = KeyRing::new();
    ring.insert("k2026-11", pk);
    let token = profile::sign(&Claims::typical(NOW), &sk);
    let parts = profile::parse_unverified(&token).unwrap();
    let key = parts.public_key(&ring).unwrap();
    let ok = profile::verify_raw(key, parts.message(), parts.signature());
    assert!(ok);
    let expect = Expect {
        now: NOW,
        audience: SITE,
    };
    let host = parts
        .clone()
        .accept_host_verification(ok, &ring, expect)
        .unwrap();
    let native = profile::verify_native(parts, &ring, expect).unwrap();
    assert_eq!(host, native);
}

/// Builds the snippet corpus: deterministic, since Ed25519 signatures are.
fn snippet_corpus() -> Value {
    use serde_json::json;
    let (sk1, pk1) = rfc_key(0);
    let (sk2, pk2) = rfc_key(1);
    let (sk3, _) = rfc_key(2);
    let claims = |kid: &str| Claims {
        key_id: kid.into(),
        ..Claims::typical(NOW)
    };
    let typical = profile::sign(&claims("rfc1"), &sk1);
    let expires = claims("rfc1").expires_at;
    let mut cases = Vec::new();
    let mut case = |name: &str,
                    token: &str,
                    now: u64,
                    audience: &str,
                    kid: Option<&str>,
                    sig: Option<bool>,
                    expect: &str| {
        cases.push(json!({
            "name": name, "token": token, "now": now, "audience": audience,
            "kid": kid, "signature_valid": sig, "expect": expect,
        }));
    };
    case(
        "typical, key rfc1",
        &typical,
        NOW,
        SITE,
        Some("rfc1"),
        Some(true),
        "ok",
    );
    case(
        "typical, key rfc2 (rotation)",
        &profile::sign(&claims("rfc2"), &sk2),
        NOW,
        SITE,
        Some("rfc2"),
        Some(true),
        "ok",
    );
    let minimal = Claims {
        key_id: "rfc1".into(),
        issued_at: NOW,
        expires_at: NOW + 600,
        audience: SITE.into(),
        ..Claims::default()
    };
    case(
        "minimal claims",
        &profile::sign(&minimal, &sk1),
        NOW,
        SITE,
        Some("rfc1"),
        Some(true),
        "ok",
    );
    case(
        "expired, at the edge of the skew",
        &typical,
        expires + 60,
        SITE,
        Some("rfc1"),
        Some(true),
        "ok",
    );
    case(
        "expired",
        &typical,
        expires + 61,
        SITE,
        Some("rfc1"),
        Some(true),
        "snippet.expired",
    );
    let future = Claims {
        not_before: NOW + 600,
        ..claims("rfc1")
    };
    case(
        "not yet valid",
        &profile::sign(&future, &sk1),
        NOW,
        SITE,
        Some("rfc1"),
        Some(true),
        "snippet.not_yet_valid",
    );
    case(
        "other audience",
        &typical,
        NOW,
        "other.example",
        Some("rfc1"),
        Some(true),
        "snippet.wrong_audience",
    );
    case(
        "key id not in the ring",
        &profile::sign(&claims("retired"), &sk3),
        NOW,
        SITE,
        Some("retired"),
        None,
        "snippet.unknown_key",
    );
    case(
        "signed by rfc2, claims rfc1",
        &profile::sign(&claims("rfc1"), &sk2),
        NOW,
        SITE,
        Some("rfc1"),
        Some(false),
        "snippet.bad_signature",
    );
    let bytes = base64url::decode(&typical).unwrap();
    let mut tampered = bytes.clone();
    let at = tampered.windows(4).position(|w| w == b"shop").unwrap();
    tampered[at] ^= 1; // "rhop.example.com": still valid UTF-8, signature now wrong
    case(
        "tampered audience",
        &base64url::encode(&tampered),
        NOW,
        SITE,
        Some("rfc1"),
        Some(false),
        "snippet.bad_signature",
    );
    let mut malleated = bytes.clone();
    let n = malleated.len();
    let l = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(malleated[n - 32 + i]) + u16::from(l[i]) + carry;
        malleated[n - 32 + i] = sum as u8;
        carry = sum >> 8;
    }
    case(
        "S + L (non-canonical, refused before crypto)",
        &base64url::encode(&malleated),
        NOW,
        SITE,
        Some("rfc1"),
        Some(false),
        "snippet.bad_signature",
    );
    case(
        "truncated",
        &typical[..typical.len() - 3],
        NOW,
        SITE,
        None,
        None,
        "snippet.malformed",
    );
    case(
        "padded",
        &format!("{typical}=="),
        NOW,
        SITE,
        None,
        None,
        "snippet.malformed",
    );
    let mut v2 = bytes.clone();
    v2[4] = 2;
    case(
        "unknown format version",
        &base64url::encode(&v2),
        NOW,
        SITE,
        None,
        None,
        "snippet.malformed",
    );
    case("empty", "", NOW, SITE, None, None, "snippet.malformed");
    json!({
        "about": "SWP1 tokens with their expected outcome, shared by the native and wasm runtimes. Key ring: keys; signature_valid is what an Ed25519 verify of (message = token bytes without the last 64, signature = last 64) with the key `kid` returns, null where no crypto call happens. Regenerate: SLOTWISE_BLESS=1 cargo test --test snippet_vectors.",
        "keys": [
            {"kid": "rfc1", "public": base64url::encode(&pk1)},
            {"kid": "rfc2", "public": base64url::encode(&pk2)},
        ],
        "cases": cases,
    })
}

const SNIPPETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/snippets.json");

#[test]
fn snippet_corpus_is_current() {
    let text = serde_json::to_string_pretty(&snippet_corpus()).unwrap() + "\n";
    if std::env::var_os("SLOTWISE_BLESS").is_some() {
        std::fs::write(SNIPPETS, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(SNIPPETS).unwrap_or_default();
    assert!(
        on_disk == text,
        "tests/vectors/snippets.json is stale: rerun with SLOTWISE_BLESS=1"
    );
}

#[test]
fn snippet_corpus_replays() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(SNIPPETS).unwrap()).unwrap();
    let mut ring = KeyRing::new();
    for key in v["keys"].as_array().unwrap() {
        ring.insert_base64url(
            key["kid"].as_str().unwrap(),
            key["public"].as_str().unwrap(),
        )
        .unwrap();
    }
    for case in v["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let expect = Expect {
            now: case["now"].as_u64().unwrap(),
            audience: case["audience"].as_str().unwrap(),
        };
        let token = case["token"].as_str().unwrap();
        let outcome = profile::parse_unverified(token)
            .and_then(|parts| profile::verify_native(parts, &ring, expect));
        let got = outcome.map_or_else(|e| e.code(), |_| "ok");
        assert_eq!(got, case["expect"].as_str().unwrap(), "{name}");
        // What a host crypto call on the raw parts says.
        if let Some(valid) = case["signature_valid"].as_bool() {
            let bytes = base64url::decode(token).unwrap();
            let (message, signature) = bytes.split_at(bytes.len() - 64);
            let key = ring.get(case["kid"].as_str().unwrap()).unwrap();
            assert_eq!(
                profile::verify_raw(key, message, signature),
                valid,
                "{name}"
            );
        }
    }
}
