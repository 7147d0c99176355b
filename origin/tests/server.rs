//! Integration tests against the real server on loopback with a temporary data
//! directory: ingest → snippet reflects the events → a fresh bundle changes
//! decisions; erasure leaves no row of the cluster; a replayed batch is stored once.

mod common;

use common::*;
use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};
use slotwise::decide::{Engine, Request};
use slotwise::profile::{self, Expect};
use slotwise::signals::{self, Channel, Kind, Signal};

const ALL: u8 = BIT_NECESSARY | BIT_PERSONALIZATION | BIT_MEASUREMENT;

fn hero_content(bundle: &[u8]) -> String {
    let engine = Engine::new(slotwise::bundle::decode(bundle).unwrap());
    let d = engine.decide(&Request::new(&["hero"], 1));
    d[0].content
        .and_then(|c| c.title.clone())
        .unwrap_or_default()
}

fn ingest_then_snippet_reflects_events_then_fresh_bundle_changes_decisions(backend: Backend) {
    let server = Server::start("loop", backend);
    let mut c = server.client();
    let now = now();
    let subject = 0x5eed_u64;
    // item 2 = sku-jacket-1 (category "jackets", index 1); a purchase on the web after
    // an email impression: a purchaser, cross-channel, with a jacket affinity.
    let batch = [
        Signal::new(Kind::Impression, 11, now - 120)
            .decision(77, 0, 2, 1)
            .consent(ALL)
            .channel(Channel::Email)
            .subject(subject),
        Signal::new(Kind::Click, 12, now - 100)
            .decision(77, 0, 2, 1)
            .consent(ALL)
            .channel(Channel::Email)
            .subject(subject),
        Signal::new(Kind::View, 13, now - 90)
            .item(2)
            .consent(ALL)
            .subject(subject),
        Signal::new(Kind::Purchase, 14, now - 60)
            .item(2)
            .value(12_900)
            .consent(ALL)
            .subject(subject),
    ];
    let r = post_signals(&mut c, &signals::encode(&batch).unwrap());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["stored"], 4);

    // Link the anonymous id to a login: the snippet for the login sees the same profile.
    let auth = format!("Bearer {TOKEN}");
    let link = br#"{"ids":["anon:0000000000005eed","login:alice"]}"#;
    let json = [("content-type", "application/json")];
    let r = c.request("POST", "/v1/identify", &json, link).unwrap();
    assert_eq!(r.status, 401, "linking ids is for trusted backends");
    let r = c
        .request(
            "POST",
            "/v1/identify",
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            link,
        )
        .unwrap();
    assert_eq!(r.status, 200);

    let r = c
        .request("GET", "/v1/snippet?id=login:alice", &[], &[])
        .unwrap();
    assert_eq!(r.status, 401, "only the visitor's own anon id is public");
    let anon = c
        .request("GET", "/v1/snippet?id=anon:0000000000005eed", &[], &[])
        .unwrap();
    assert_eq!(anon.status, 200);
    let (token, claims) = snippet(&mut c, "login:alice");
    assert!(token.len() <= 800, "snippet {} chars", token.len());
    assert_eq!(claims.purchases, vec![2]);
    assert_eq!(claims.consent, ALL);
    assert!(
        claims
            .segments
            .contains(&slotwise_origin::server::profile::SEG_PURCHASER)
    );
    assert!(
        claims
            .segments
            .contains(&slotwise_origin::server::profile::SEG_CROSS_CHANNEL)
    );
    assert_eq!(claims.affinities[0].category, 1);
    assert_eq!(claims.counters.len(), 1);

    // The bundle, its ETag, and a 304 for a matching If-None-Match.
    let b1 = c.request("GET", "/v1/bundle", &[], &[]).unwrap();
    assert_eq!(b1.status, 200);
    let etag = b1.header("etag").unwrap().to_string();
    let r = c
        .request("GET", "/v1/bundle", &[("if-none-match", &etag)], &[])
        .unwrap();
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(hero_content(&b1.body), "Autumn collection");

    // Publish a new authoring set: the hero's default changes.
    let dir = root().join("tests/fixtures/shop");
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap()
    };
    let mut slots = read("slots.json");
    slots[0]["default"] = "offer-default".into();
    let set = serde_json::json!({
        "bundle": read("bundle.json"), "content": read("content.json"),
        "items": read("items.json"), "slots": slots, "experiments": read("experiments.json"),
    })
    .to_string();
    let r = c
        .request("POST", "/v1/admin/bundle", &json, set.as_bytes())
        .unwrap();
    assert_eq!(r.status, 401, "admin needs the token");
    let r = c
        .request(
            "POST",
            "/v1/admin/bundle",
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            set.as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = c
        .request("GET", "/v1/bundle", &[("if-none-match", &etag)], &[])
        .unwrap();
    assert_eq!(r.status, 200, "a new bundle is not a 304");
    assert_ne!(r.header("etag").unwrap(), etag);
    assert_eq!(hero_content(&r.body), "Free returns for 60 days");

    // Retraining from stored sessions publishes yet another version.
    let r = c
        .request(
            "POST",
            "/v1/admin/retrain",
            &[("authorization", &auth)],
            &[],
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["version"], 3);

    // Lift report and metrics answer.
    let lift = c.request("GET", "/v1/report/lift", &[], &[]).unwrap();
    assert_eq!(lift.status, 200);
    let lift = lift.json();
    assert_eq!(lift["personalized"]["visitors"], 1);
    assert_eq!(lift["attribution"]["attributed"], 1);
    assert_eq!(lift["attribution"]["paths"][0]["decision_channel"], "email");
    let m = c.request("GET", "/metrics", &[], &[]).unwrap();
    let text = String::from_utf8(m.body).unwrap();
    assert!(text.contains("slotwise_signals_stored_total 4"), "{text}");
    let api = c.request("GET", "/openapi.yaml", &[], &[]).unwrap();
    assert!(String::from_utf8_lossy(&api.body).contains("/v1/signals"));
}

fn erasure_leaves_no_row_of_the_cluster(backend: Backend) {
    let server = Server::start("erase", backend);
    let mut c = server.client();
    let now = now();
    let mk = |id: u64, subject: u64, ch: Channel| {
        Signal::new(Kind::View, id, now)
            .item(1)
            .consent(ALL)
            .channel(ch)
            .subject(subject)
    };
    let batch: Vec<Signal> = (0..30)
        .map(|i| {
            mk(
                100 + i,
                if i % 3 == 0 { 0xb0b } else { 0xa11ce + i % 2 },
                Channel::ALL[i as usize % 6],
            )
        })
        .collect();
    assert_eq!(
        post_signals(&mut c, &signals::encode(&batch).unwrap()).status,
        200
    );
    let email = format!("email:{}", "ab".repeat(32));
    let link =
        serde_json::json!({ "ids": ["anon:00000000000a11ce", "login:carol", email] }).to_string();
    let auth = format!("Bearer {TOKEN}");
    let json = [
        ("content-type", "application/json"),
        ("authorization", &auth),
    ];
    let admin = [("authorization", auth.as_str())];
    assert_eq!(
        c.request("POST", "/v1/identify", &json, link.as_bytes())
            .unwrap()
            .status,
        200
    );
    let link = r#"{"ids":["anon:00000000000a11cf","app:device-7"]}"#;
    assert_eq!(
        c.request("POST", "/v1/identify", &json, link.as_bytes())
            .unwrap()
            .status,
        200
    );
    let link = r#"{"ids":["app:device-7","login:carol"]}"#;
    assert_eq!(
        c.request("POST", "/v1/identify", &json, link.as_bytes())
            .unwrap()
            .status,
        200
    );

    let export = c
        .request("GET", "/v1/subjects/app:device-7", &admin, &[])
        .unwrap()
        .json();
    assert_eq!(export["ids"].as_array().unwrap().len(), 5);
    assert_eq!(export["signals"].as_array().unwrap().len(), 20);

    let r = c
        .request("DELETE", "/v1/subjects/login:carol", &admin, &[])
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["erased"]["signals"], 20);
    assert_eq!(r.json()["erased"]["ids"], 5);

    for id in [
        "anon:00000000000a11ce",
        "anon:00000000000a11cf",
        "login:carol",
        "app:device-7",
        email.as_str(),
    ] {
        let q = format!("SELECT COUNT(*) FROM signals WHERE subject = '{id}'");
        assert_eq!(server.count(&q), 0, "{id}");
        let q = format!("SELECT COUNT(*) FROM identities WHERE id = '{id}' OR cluster = '{id}'");
        assert_eq!(server.count(&q), 0, "{id}");
    }
    // Bob is untouched.
    assert_eq!(server.count("SELECT COUNT(*) FROM signals"), 10);
    let export = c
        .request("GET", "/v1/subjects/login:carol", &admin, &[])
        .unwrap()
        .json();
    assert_eq!(export["signals"].as_array().unwrap().len(), 0);
}

fn a_replayed_batch_is_stored_once(backend: Backend) {
    let server = Server::start("replay", backend);
    let now = now();
    let batch: Vec<Signal> = (0..200)
        .map(|i| {
            Signal::new(Kind::Impression, 0xdead_0000 + i, now)
                .decision(i, 1, 3, 0)
                .consent(ALL)
        })
        .collect();
    let body = signals::encode(&batch).unwrap();
    let mut c = server.client();
    let first = post_signals(&mut c, &body).json();
    assert_eq!(
        (first["stored"].as_u64(), first["duplicates"].as_u64()),
        (Some(200), Some(0))
    );
    // Replays, some concurrent, from several connections.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let mut c = server.client();
                for _ in 0..3 {
                    let r = post_signals(&mut c, &body).json();
                    assert_eq!(
                        (r["stored"].as_u64(), r["duplicates"].as_u64()),
                        (Some(0), Some(200))
                    );
                }
            });
        }
    });
    assert_eq!(server.count("SELECT COUNT(*) FROM signals"), 200);
}

/// A fresh snippet for `id` (asked with the admin token) and its claims, the signature
/// checked with the server's published key.
fn snippet(c: &mut slotwise_origin::server::client::Client, id: &str) -> (String, profile::Claims) {
    let auth = format!("Bearer {TOKEN}");
    let r = c
        .request(
            "GET",
            &format!("/v1/snippet?id={id}"),
            &[("authorization", &auth)],
            &[],
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let ring = key_ring(c);
    let token = r.json()["token"].as_str().unwrap().to_string();
    let parts = profile::parse_unverified(&token).unwrap();
    let expect = Expect {
        now: now(),
        audience: "shop.example",
    };
    let claims = profile::verify_native(parts, &ring, expect).unwrap();
    (token, claims.claims().clone())
}

fn snippet_claims(c: &mut slotwise_origin::server::client::Client, id: &str) -> profile::Claims {
    snippet(c, id).1
}

fn cached_profiles_follow_ingest_identify_and_erase(backend: Backend) {
    // Every step runs well inside the cache's entry lifetime: a stale entry would show.
    let server = Server::start("cache", backend);
    let mut c = server.client();
    let now = now();
    let anon = "anon:0000000000000b0b";
    assert!(snippet_claims(&mut c, anon).purchases.is_empty());
    assert!(snippet_claims(&mut c, "login:bob").purchases.is_empty());

    let buy = [Signal::new(Kind::Purchase, 0xb0b1, now - 5)
        .item(2)
        .value(500)
        .consent(ALL)
        .subject(0xb0b)];
    assert_eq!(
        post_signals(&mut c, &signals::encode(&buy).unwrap()).status,
        200
    );
    assert_eq!(snippet_claims(&mut c, anon).purchases, vec![2], "ingest");
    assert!(snippet_claims(&mut c, "login:bob").purchases.is_empty());

    let admin = [
        ("content-type", "application/json"),
        ("authorization", &format!("Bearer {TOKEN}")),
    ];
    let link = format!(r#"{{"ids":["{anon}","login:bob"]}}"#);
    let r = c
        .request("POST", "/v1/identify", &admin, link.as_bytes())
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        snippet_claims(&mut c, "login:bob").purchases,
        vec![2],
        "identify"
    );

    let r = c
        .request("DELETE", "/v1/subjects/login:bob", &admin[1..], &[])
        .unwrap();
    assert_eq!(r.status, 200);
    let after = snippet_claims(&mut c, anon);
    assert!(
        after.purchases.is_empty() && after.subject.is_none(),
        "erase"
    );
    let metrics = c.request("GET", "/metrics", &[], &[]).unwrap();
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(text.contains("slotwise_profile_cache_hits_total"));
}

fn a_signal_stamped_in_the_future_is_stored_at_its_arrival(backend: Backend) {
    let server = Server::start("future", backend);
    let mut c = server.client();
    let before = now();
    let batch = [
        // A device clock a day fast, and one a minute fast (within the skew allowed).
        Signal::new(Kind::View, 21, before + 86_400)
            .item(1)
            .consent(ALL),
        Signal::new(Kind::View, 22, before + 60)
            .item(1)
            .consent(ALL),
        Signal::new(Kind::View, 23, before - 600)
            .item(1)
            .consent(ALL),
    ];
    let r = post_signals(&mut c, &signals::encode(&batch).unwrap());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let after = now();
    let time_of =
        |id: u64| server.count(&format!("SELECT time FROM signals WHERE event_id = {id}")) as u64;
    let day_fast = time_of(21);
    assert!(
        (before..=after).contains(&day_fast),
        "stored at {day_fast}, received in {before}..={after}"
    );
    assert_eq!(time_of(22), before + 60);
    assert_eq!(time_of(23), before - 600);
}

crate::on_both_backends!(
    a_signal_stamped_in_the_future_is_stored_at_its_arrival,
    ingest_then_snippet_reflects_events_then_fresh_bundle_changes_decisions,
    erasure_leaves_no_row_of_the_cluster,
    a_replayed_batch_is_stored_once,
    cached_profiles_follow_ingest_identify_and_erase,
);
