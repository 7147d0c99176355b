//! `tests/vectors/signals.json`: SWG1 batches shared by the Rust codec and the JS
//! encoder in `pkg-config/src/signals.js` (replayed by `tests/packaging/signals.test.mjs`).
//! Each valid case gives the signals in the JS shape (ids as 16 hex digits, kinds and
//! channels by name) and the exact bytes; each invalid case gives bytes and the error
//! code. Regenerate with `SLOTWISE_BLESS=1 cargo test --test signal_vectors`; otherwise
//! the test fails when the file is stale, and replays every case through the decoder.

use serde_json::{Value, json};
use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};
use slotwise::signals::{self, Channel, Kind, Signal};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/signals.json");
const T: u64 = 1_800_000_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The JS shape of a signal (what `SignalQueue.push` and `encodeBatch` take).
fn js(s: &Signal) -> Value {
    let mut v = json!({
        "kind": s.kind.name(),
        "eventId": format!("{:016x}", s.event_id),
        "slot": s.slot,
        "item": s.item,
        "variant": s.variant,
        "time": s.time,
        "consent": s.consent,
        "channel": s.channel.name(),
        "holdout": s.holdout,
    });
    if let Some(d) = s.decision_id {
        v["decisionId"] = json!(format!("{d:016x}"));
    }
    if let Some(x) = s.value {
        v["value"] = json!(x);
    }
    if let Some(x) = s.subject {
        v["subject"] = json!(format!("{x:016x}"));
    }
    v
}

fn corpus() -> Value {
    const M: u8 = BIT_NECESSARY | BIT_MEASUREMENT;
    const P: u8 = M | BIT_PERSONALIZATION;
    let valid: Vec<(&str, Vec<Signal>)> = vec![
        ("empty batch", vec![]),
        (
            "one impression",
            vec![
                Signal::new(Kind::Impression, 0x0123_4567_89ab_cdef, T)
                    .decision(0xfeed_f00d_dead_beef, 0, 42, 1)
                    .consent(M),
            ],
        ),
        (
            "every kind and channel",
            Kind::ALL
                .iter()
                .enumerate()
                .map(|(i, &k)| {
                    let s = Signal::new(k, 1000 + i as u64, T + 7 * i as u64)
                        .item(i as u32 * 100)
                        .consent(M)
                        .channel(Channel::ALL[i % Channel::ALL.len()]);
                    if k.has_value() {
                        s.value(1999 * i as u64)
                    } else {
                        s
                    }
                })
                .collect(),
        ),
        (
            "subject, holdout, extremes",
            vec![
                Signal::new(Kind::Purchase, u64::MAX, T + 3600)
                    .decision(u64::MAX, u16::MAX, u32::MAX, 255)
                    .consent(0x0f)
                    .channel(Channel::Store)
                    .holdout(true)
                    .value((1u64 << 53) - 1)
                    .subject(0x8000_0000_0000_0001),
                Signal::new(Kind::Click, 0, T)
                    .decision(1, 2, 3, 4)
                    .consent(P)
                    .subject(0xabc),
            ],
        ),
        (
            "one visitor's batch names the subject once",
            (0..4)
                .map(|i| {
                    Signal::new(Kind::Impression, 0x77 + i, T + i)
                        .decision(0x1000 + i, i as u16, 40 + i as u32, 0)
                        .consent(P)
                        .subject(0x0bad_cafe_0000_0001)
                })
                .collect(),
        ),
        (
            "unordered times use the minimum as base",
            vec![
                Signal::new(Kind::View, 5, T + 100).item(1).consent(M),
                Signal::new(Kind::View, 6, T).item(2).consent(M),
                Signal::new(Kind::View, 7, T + 1_000_000).item(3).consent(M),
            ],
        ),
    ];
    let valid: Vec<Value> = valid
        .into_iter()
        .map(|(name, batch)| {
            let bytes = signals::encode(&batch).unwrap();
            json!({ "name": name, "signals": batch.iter().map(js).collect::<Vec<_>>(), "hex": hex(&bytes) })
        })
        .collect();
    let good = signals::encode(&[Signal::new(Kind::Click, 1, T).consent(M)]).unwrap();
    let mut invalid = vec![
        ("empty", Vec::new(), "signals.truncated"),
        (
            "bad magic",
            b"SWB1\x01\x00\x00".to_vec(),
            "signals.bad_magic",
        ),
        (
            "version 2",
            b"SWG1\x02\x00\x00".to_vec(),
            "signals.unsupported_version",
        ),
        (
            "count over the limit",
            b"SWG1\x01\xe9\x07\x00".to_vec(),
            "signals.too_large",
        ),
        (
            "truncated",
            good[..good.len() - 1].to_vec(),
            "signals.truncated",
        ),
    ];
    let mut t = good.clone();
    t.push(0);
    invalid.push(("trailing byte", t, "signals.corrupt"));
    let mut k = good.clone();
    k[signals::PREFIX_LEN + 1 + 5 + 1] = 0x07;
    invalid.push(("unknown kind", k, "signals.corrupt"));
    let mut c = good.clone();
    c[signals::PREFIX_LEN + 1 + 5 + 1] = 0x62;
    invalid.push(("unknown channel", c, "signals.corrupt"));
    let with = signals::encode(&[Signal::new(Kind::Click, 1, T).consent(P).subject(9)]).unwrap();
    // count, base (5 bytes), table length, one subject, head: then the flags byte.
    let flags = signals::PREFIX_LEN + 1 + 5 + 1 + 8 + 1;
    let mut s = with.clone();
    s[flags] &= !BIT_PERSONALIZATION;
    invalid.push(("subject without personalization", s, "signals.invalid"));
    let mut d = with.clone();
    *d.last_mut().unwrap() = 1;
    invalid.push(("subject index past the table", d, "signals.corrupt"));
    let mut tbl = good.clone();
    tbl[signals::PREFIX_LEN + 1 + 5] = 2;
    invalid.push((
        "subject table larger than the batch",
        tbl,
        "signals.corrupt",
    ));
    let mut v = good.clone();
    v[signals::PREFIX_LEN + 1 + 5 + 1 + 1] |= signals::FLAG_VALUE;
    v.push(1);
    invalid.push(("value on a click", v, "signals.invalid"));
    json!({
        "about": "SWG1 signal batches shared by src/signals.rs and pkg-config/src/signals.js. valid: signals in the JS shape and the exact bytes; invalid: bytes and the decoder's error code. Regenerate: SLOTWISE_BLESS=1 cargo test --test signal_vectors.",
        "valid": valid,
        "invalid": invalid.into_iter().map(|(n, b, code)| json!({"name": n, "hex": hex(&b), "error": code})).collect::<Vec<_>>(),
    })
}

#[test]
fn signal_corpus_is_current() {
    let text = serde_json::to_string_pretty(&corpus()).unwrap() + "\n";
    if std::env::var_os("SLOTWISE_BLESS").is_some() {
        std::fs::write(FILE, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(FILE).unwrap_or_default();
    assert!(
        on_disk == text,
        "tests/vectors/signals.json is stale: rerun with SLOTWISE_BLESS=1"
    );
}

#[test]
fn signal_corpus_replays_through_the_decoder() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(FILE).unwrap()).unwrap();
    for case in v["valid"].as_array().unwrap() {
        let bytes = unhex(case["hex"].as_str().unwrap());
        let batch = signals::decode(&bytes).unwrap();
        let expected: Vec<Value> = case["signals"].as_array().unwrap().clone();
        assert_eq!(
            batch.iter().map(js).collect::<Vec<_>>(),
            expected,
            "{}",
            case["name"]
        );
        assert_eq!(signals::encode(&batch).unwrap(), bytes, "{}", case["name"]);
    }
    for case in v["invalid"].as_array().unwrap() {
        let bytes = unhex(case["hex"].as_str().unwrap());
        let e = signals::decode(&bytes).unwrap_err();
        assert_eq!(
            e.code(),
            case["error"].as_str().unwrap(),
            "{}",
            case["name"]
        );
    }
}
