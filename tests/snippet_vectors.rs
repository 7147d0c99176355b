//! The shared Ed25519 vectors (`tests/vectors/ed25519.json`: RFC 8032 §7.1 tests 1–3,
//! malformed and non-canonical signatures) through the native implementation, and the
//! snippet sign → parse → verify flow with real signatures. The wasm side replays the
//! same file through WebCrypto (`tests/vectors/check-ed25519-webcrypto.mjs`).
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
