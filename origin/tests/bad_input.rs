//! Bad input: malformed batches, oversized bodies, unknown versions, wrong content
//! types, missing consent. Each gets a 4xx with a JSON error body, nothing is stored,
//! and the server goes on answering.

// The cases are tables of tuples.
#![allow(clippy::type_complexity)]

mod common;

use common::*;
use slotwise::signals::{self, Kind, Signal};

fn bad_input_gets_4xx_json_and_stores_nothing(backend: Backend) {
    let server = Server::start("bad", backend);
    let mut c = server.client();
    let now = now();
    let good = signals::encode(&[Signal::new(Kind::Click, 1, now)
        .decision(1, 0, 0, 0)
        .consent(5)])
    .unwrap();
    let mut unknown_version = good.clone();
    unknown_version[4] = 2;
    let mut trailing = good.clone();
    trailing.push(0);
    let no_consent = signals::encode(&[Signal::new(Kind::Click, 2, now).consent(1)]).unwrap();
    let mut bad_kind = good.clone();
    bad_kind[5 + 1 + 5 + 1] = 0x0f;
    let huge = vec![0u8; 200 * 1024];
    let cases: Vec<(&str, &str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "garbage",
            "POST",
            SWG1,
            b"hello, world".to_vec(),
            400,
            "signals.bad_magic",
        ),
        ("empty", "POST", SWG1, Vec::new(), 400, "signals.truncated"),
        (
            "truncated",
            "POST",
            SWG1,
            good[..good.len() - 3].to_vec(),
            400,
            "signals.truncated",
        ),
        ("trailing", "POST", SWG1, trailing, 400, "signals.corrupt"),
        (
            "unknown kind",
            "POST",
            SWG1,
            bad_kind,
            400,
            "signals.corrupt",
        ),
        (
            "unknown version",
            "POST",
            SWG1,
            unknown_version,
            400,
            "signals.unsupported_version",
        ),
        ("oversized", "POST", SWG1, huge, 413, "body.too_large"),
        (
            "wrong content type",
            "POST",
            "text/plain",
            good.clone(),
            415,
            "content_type",
        ),
        (
            "json instead",
            "POST",
            "application/json",
            b"{}".to_vec(),
            415,
            "content_type",
        ),
        (
            "no consent",
            "POST",
            SWG1,
            no_consent,
            422,
            "signals.consent",
        ),
        (
            "empty batch",
            "POST",
            SWG1,
            b"SWG1\x01\x00\x00\x00".to_vec(),
            400,
            "signals.empty",
        ),
    ];
    for (name, method, ct, body, status, code) in cases {
        let r = c
            .request(method, "/v1/signals", &[("content-type", ct)], &body)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            r.status,
            status,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.header("content-type"), Some("application/json"), "{name}");
        assert_eq!(r.json()["error"]["code"], code, "{name}");
    }
    // Other endpoints refuse bad input the same way.
    let auth = format!("Bearer {TOKEN}");
    let json = [
        ("content-type", "application/json"),
        ("authorization", &auth),
    ];
    let admin = [("authorization", auth.as_str())];
    let others: Vec<(&str, &str, &[(&str, &str)], &[u8], u16)> = vec![
        ("POST", "/v1/identify", &json, b"{not json", 400),
        ("POST", "/v1/identify", &json, br#"{"ids":["anon:a"]}"#, 400),
        (
            "POST",
            "/v1/identify",
            &json,
            br#"{"ids":["anon:a","evil:<script>"]}"#,
            400,
        ),
        (
            "POST",
            "/v1/identify",
            &admin,
            br#"{"ids":["anon:a","login:b"]}"#,
            415,
        ),
        (
            "POST",
            "/v1/identify",
            &[],
            br#"{"ids":["anon:a","login:b"]}"#,
            401,
        ),
        ("GET", "/v1/snippet", &[], b"", 400),
        ("GET", "/v1/snippet?id=nope", &[], b"", 400),
        ("GET", "/v1/subjects/bad%20id", &admin, b"", 400),
        ("DELETE", "/v1/subjects/login:someone", &[], b"", 401),
        ("GET", "/v1/snippet?id=login:someone", &[], b"", 401),
        ("GET", "/v1/report/lift?since=yesterday", &[], b"", 400),
        ("POST", "/v1/admin/retrain", &[], b"", 401),
        ("GET", "/v1/nothing-here", &[], b"", 404),
        ("PUT", "/v1/signals", &[], b"", 405),
        // The journey outbox and contact records: admin only, typed refusals.
        ("GET", "/v1/outbox", &[], b"", 401),
        (
            "GET",
            "/v1/outbox",
            &[("authorization", "Bearer wrong")],
            b"",
            401,
        ),
        ("GET", "/v1/outbox?limit=0", &admin, b"", 400),
        ("GET", "/v1/outbox?limit=many", &admin, b"", 400),
        ("GET", "/v1/outbox?lease=-5", &admin, b"", 400),
        (
            "GET",
            "/v1/outbox?lease=99999999999999999999",
            &admin,
            b"",
            400,
        ),
        ("POST", "/v1/outbox", &json, b"{}", 405),
        (
            "POST",
            "/v1/outbox/ack",
            &[],
            br#"{"ids":["0000000000000001"]}"#,
            401,
        ),
        ("POST", "/v1/outbox/ack", &json, b"{not json", 400),
        (
            "POST",
            "/v1/outbox/ack",
            &json,
            br#"{"ids":"0000000000000001"}"#,
            400,
        ),
        ("POST", "/v1/outbox/ack", &json, br#"{"ids":[],"x":1}"#, 400),
        ("POST", "/v1/outbox/ack", &json, br#"{"ids":[]}"#, 400),
        ("POST", "/v1/outbox/ack", &json, br#"{"ids":["zz"]}"#, 400),
        (
            "POST",
            "/v1/outbox/ack",
            &json,
            br#"{"ids":["ffffffffffffffff"]}"#,
            400,
        ),
        (
            "POST",
            "/v1/outbox/ack",
            &json,
            br#"{"ids":["0000000000000001"]}"#,
            404,
        ),
        (
            "POST",
            "/v1/outbox/ack",
            &admin,
            br#"{"ids":["0000000000000001"]}"#,
            415,
        ),
        (
            "PUT",
            "/v1/subjects/email:x/contact",
            &json,
            br#"{"channels":{"email":true}}"#,
            400,
        ),
        (
            "PUT",
            "/v1/subjects/login:a/contact",
            &json,
            br#"{"channels":{"fax":true}}"#,
            400,
        ),
        (
            "PUT",
            "/v1/subjects/login:a/contact",
            &json,
            br#"{"channels":{"web":true}}"#,
            400,
        ),
        (
            "PUT",
            "/v1/subjects/login:a/contact",
            &json,
            br#"{"timeZone":"Mars/Base"}"#,
            400,
        ),
        (
            "PUT",
            "/v1/subjects/login:a/contact",
            &json,
            br#"{"channels":{"sms":"yes"}}"#,
            400,
        ),
        ("PUT", "/v1/subjects/login:a/contact", &[], br#"{}"#, 401),
        ("GET", "/v1/subjects/login:a/contact", &[], b"", 401),
        // Without --test-clock the clock cannot be set.
        ("POST", "/v1/admin/clock", &json, br#"{"now":1}"#, 404),
    ];
    for (method, path, headers, body, status) in others {
        let r = c.request(method, path, headers, body).unwrap();
        assert_eq!(
            r.status,
            status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(r.json()["error"]["code"].is_string(), "{method} {path}");
    }
    assert_eq!(server.count("SELECT COUNT(*) FROM signals"), 0);
    assert_eq!(server.count("SELECT COUNT(*) FROM identities"), 0);
    assert_eq!(server.count("SELECT COUNT(*) FROM contacts"), 0);
    // An unknown message id is named in the refusal.
    let r = c
        .request(
            "POST",
            "/v1/outbox/ack",
            &json,
            br#"{"ids":["00000000000000aa"]}"#,
        )
        .unwrap();
    assert_eq!(r.json()["error"]["code"], "outbox.unknown");
    assert_eq!(r.json()["unknown"][0], "00000000000000aa");
    // An empty outbox is an empty list.
    let r = c.request("GET", "/v1/outbox", &admin, b"").unwrap();
    assert_eq!(
        (r.status, r.json()["messages"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    // Unaffected: a good batch is stored.
    let r = post_signals(&mut c, &good);
    assert_eq!(r.status, 200);
    assert_eq!(server.count("SELECT COUNT(*) FROM signals"), 1);
}

crate::on_both_backends!(bad_input_gets_4xx_json_and_stores_nothing,);
