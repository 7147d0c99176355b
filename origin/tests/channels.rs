//! Decisions for channels without Wasm, on the real server on loopback:
//! `POST /v1/decide` and `slotwise decide` (batch), and one frequency cap across
//! email, web and app. Each test runs on SQLite and on PostgreSQL.

mod common;

use std::path::Path;

use common::*;
use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION, Consent};
use slotwise::decide::{Engine, Request, Visitor};
use slotwise::profile::{self, Expect};
use slotwise::rules::Json;
use slotwise::session::Session;
use slotwise::signals::{self, Channel, Kind, Signal};
use slotwise_origin::server::bench::{Spawned, spawn_server};
use slotwise_origin::server::client::{Client, Response};

const ALL: u8 = BIT_NECESSARY | BIT_PERSONALIZATION | BIT_MEASUREMENT;
const ANON: &str = "anon:0000000000000a11";
const SUBJECT: u64 = 0xa11;
/// The shop's `recs` slot: bag, then the trail runner (boosted on mobile).
const BAG: u32 = 3;
const RECS: u16 = 1;

/// The test shop with the bag capped at 3 exposures a day (the fixture says 2).
fn start(backend: Backend) -> (Server, Vec<u8>) {
    let dir = temp_dir("channels");
    let store = TestStore::new(backend, "channels", &dir);
    let mut b = slotwise_origin::authoring::build_dir(
        &root().join("tests/fixtures/shop"),
        &slotwise_origin::authoring::BuildOptions {
            created_at: 1_800_000_000,
        },
    )
    .unwrap();
    assert_eq!(b.items[BAG as usize].id, "sku-bag-1");
    b.caps[0].limit = 3;
    let bytes = slotwise::bundle::encode(&b);
    let path = dir.join("capped.swb");
    std::fs::write(&path, &bytes).unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_slotwise"));
    let (child, addr) = spawn_server(
        exe,
        &dir.join("data"),
        &[
            "--store",
            &store.location,
            "--admin-token",
            TOKEN,
            "--bundle",
            path.to_str().unwrap(),
            "--sync",
            "normal",
        ],
    )
    .unwrap();
    (
        Server {
            spawned: Spawned {
                child,
                addr,
                dir: dir.into_path(),
            },
            store,
        },
        bytes,
    )
}

fn decide(c: &mut Client, body: serde_json::Value, token: bool) -> Response {
    let auth = format!("Bearer {TOKEN}");
    let mut headers = vec![("content-type", "application/json")];
    if token {
        headers.push(("authorization", &auth));
    }
    c.request("POST", "/v1/decide", &headers, body.to_string().as_bytes())
        .unwrap()
}

fn recs(r: &Response) -> serde_json::Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["slot"] == "recs")
        .cloned()
        .unwrap()
}

fn first_item(d: &serde_json::Value) -> &str {
    d["items"][0].as_str().unwrap_or("")
}

/// A consented subject with one view, linked to `login:alice`.
fn known_subject(server: &Server, c: &mut Client) {
    let view = Signal::new(Kind::View, 1, now() - 60)
        .item(0)
        .consent(ALL)
        .subject(SUBJECT);
    assert_eq!(
        post_signals(c, &signals::encode(&[view]).unwrap()).status,
        200
    );
    let auth = format!("Bearer {TOKEN}");
    let r = c
        .request(
            "POST",
            "/v1/identify",
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            format!(r#"{{"ids":["{ANON}","login:alice"]}}"#).as_bytes(),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(server.count("SELECT COUNT(*) FROM signals"), 1);
}

fn one_cap_across_email_web_and_app_then_every_channel_falls_back(backend: Backend) {
    let (server, bundle) = start(backend);
    let mut c = server.client();
    known_subject(&server, &mut c);
    let mobile = serde_json::json!({ "device": "mobile" });

    // 1. Email, for the login (a trusted backend): the bag leads the recommendations.
    let body = serde_json::json!({ "subject": "login:alice", "channel": "email",
        "slots": ["hero", "recs", "offer"], "context": mobile });
    assert_eq!(decide(&mut c, body.clone(), false).status, 401);
    let r = decide(&mut c, body, true);
    let d = recs(&r);
    assert_eq!(first_item(&d), "sku-bag-1");
    assert_eq!(d["reason"], "featured");
    assert!(d["explain"].as_str().unwrap().len() > 5);
    assert_eq!(d["rules"][0], "bags-on-mobile");
    let html = d["rendered"].as_str().unwrap();
    assert!(html.starts_with("<table role=\"presentation\""), "{html}");
    assert!(
        html.contains(r#"href="https://shop.example/p/sku-bag-1""#),
        "{html}"
    );
    let v = r.json();
    assert_eq!(v["cluster"], ANON, "the cluster of login:alice");
    assert_eq!(v["recorded"], 2, "one impression per recommended item");
    let bag_email = "SELECT COUNT(*) FROM signals WHERE kind = 1 AND item = 3 AND channel = 2";
    assert_eq!(server.count(bag_email), 1);
    assert_eq!(
        server.count(
            "SELECT COUNT(*) FROM signals WHERE kind = 1 AND subject = 'anon:0000000000000a11'"
        ),
        2,
        "exposures carry the cluster's subject"
    );

    // 2. Web: the browser reports its own impression of the bag.
    let web = Signal::new(Kind::Impression, 2, now())
        .decision(0xbeef, RECS, BAG, 0)
        .consent(ALL)
        .channel(Channel::Web)
        .subject(SUBJECT);
    assert_eq!(
        post_signals(&mut c, &signals::encode(&[web]).unwrap()).status,
        200
    );

    // 3. App, for the visitor's own anonymous id (public): still under the cap (2 < 3).
    let body = serde_json::json!({ "subject": ANON, "channel": "app", "slots": ["recs"],
        "context": mobile });
    let d = recs(&decide(&mut c, body, false));
    assert_eq!(first_item(&d), "sku-bag-1");
    assert_eq!(
        d["rendered"][0]["id"], "sku-bag-1",
        "app cards: {}",
        d["rendered"]
    );
    assert_eq!(d["rendered"][0]["link"], "https://shop.example/p/sku-bag-1");
    assert_eq!(
        server.count("SELECT COUNT(*) FROM signals WHERE kind = 1 AND item = 3"),
        3,
        "email + web + app = the cap"
    );

    // 4. The next decision in any channel falls back to the next candidate.
    for channel in ["email", "web", "app", "push", "sms", "store"] {
        let body = serde_json::json!({ "subject": "login:alice", "channel": channel,
            "slots": ["recs"], "context": mobile, "record": false });
        let r = decide(&mut c, body, true);
        let d = recs(&r);
        assert_eq!(first_item(&d), "sku-trail-1", "{channel}: {d}");
        assert!(
            !d["items"].to_string().contains("sku-bag-1"),
            "{channel}: {d}"
        );
        assert_eq!(r.json()["recorded"], 0);
        let shown = d["rendered"].to_string();
        assert!(shown.contains("Ridge trail runner"), "{channel}: {shown}");
    }
    match decide(
        &mut c,
        serde_json::json!({ "subject": "login:alice", "channel": "push",
        "slots": ["recs"], "context": mobile, "record": false }),
        true,
    )
    .json()["decisions"][0]["rendered"]
        .clone()
    {
        serde_json::Value::Object(p) => {
            assert_eq!(p["body"], "Ridge trail runner");
            assert_eq!(p["link"], "https://shop.example/p/sku-trail-1");
        }
        other => panic!("push: {other}"),
    }

    // 5. On the device: the snippet carries the cross-channel counter, and the wasm
    //    engine's core (here natively) falls back too.
    let items = device_recs(&mut c, &bundle);
    assert!(!items.contains(&BAG), "{items:?}");
    assert_eq!(items[0], 0, "the trail runner");
}

fn anonymous_contexts_and_bad_requests(backend: Backend) {
    let (server, _) = start(backend);
    let mut c = server.client();
    // No subject: a decision for the context alone, nothing recorded.
    let r = decide(
        &mut c,
        serde_json::json!({ "channel": "sms", "slots": ["recs", "nope"],
            "context": { "device": "mobile" } }),
        false,
    );
    let v = r.json();
    assert_eq!(first_item(&recs(&r)), "sku-bag-1");
    let sms = v["decisions"][0]["rendered"].as_str().unwrap();
    assert!(sms.starts_with("Day pack 20 L"), "{sms}");
    assert!(sms.chars().count() <= 160);
    assert_eq!(v["decisions"][1]["reason"], "unknown_slot");
    assert_eq!(v["decisions"][1]["rendered"], serde_json::Value::Null);
    assert_eq!(v["recorded"], 0);
    assert_eq!(server.count("SELECT COUNT(*) FROM signals"), 0);

    for (body, status, code) in [
        (
            serde_json::json!({ "channel": "fax", "slots": ["recs"] }),
            400,
            "channel.invalid",
        ),
        (
            serde_json::json!({ "channel": "email", "slots": [] }),
            400,
            "slots.count",
        ),
        (
            serde_json::json!({ "channel": "email", "slots": ["recs"], "context": [1] }),
            400,
            "context.invalid",
        ),
        (
            serde_json::json!({ "channel": "email", "slots": ["recs"], "subject": "nobody" }),
            400,
            "id.invalid",
        ),
        (
            serde_json::json!({ "channel": "email", "slots": ["recs"], "baseUrl": "javascript:x" }),
            400,
            "base_url.invalid",
        ),
        (
            serde_json::json!({ "channel": "email", "slots": ["recs"], "extra": 1 }),
            400,
            "json.invalid",
        ),
        (
            serde_json::json!({ "channel": "email", "slots": ["recs"], "subject": "email:abc" }),
            400,
            "id.invalid",
        ),
    ] {
        let r = decide(&mut c, body.clone(), false);
        assert_eq!(r.status, status, "{body}");
        assert_eq!(r.json()["error"]["code"], code, "{body}");
    }
    let r = c
        .request(
            "POST",
            "/v1/decide",
            &[("content-type", "text/plain")],
            b"{}",
        )
        .unwrap();
    assert_eq!(r.status, 415);
    // A base URL of the caller's choosing makes the links absolute against it.
    let r = decide(
        &mut c,
        serde_json::json!({ "channel": "email", "slots": ["recs"],
            "baseUrl": "http://127.0.0.1:8080/shop/" }),
        false,
    );
    let html = recs(&r)["rendered"].as_str().unwrap().to_string();
    assert!(
        html.contains(r#"href="http://127.0.0.1:8080/p/sku-"#),
        "{html}"
    );
}

fn batch_send_writes_a_line_per_subject_and_counts_its_exposures(backend: Backend) {
    let (server, _) = start(backend);
    let mut c = server.client();
    known_subject(&server, &mut c);
    let dir = &server.spawned.dir;
    let csv = dir.join("subjects.csv");
    std::fs::write(
        &csv,
        "subject,device\nlogin:alice,mobile\nnobody,mobile\nanon:00000000000000b0,desktop\n",
    )
    .unwrap();
    let out = dir.join("out.jsonl");
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_slotwise"))
            .args(["decide", "--channel", "email", "--quiet", "--subjects"])
            .arg(&csv)
            .arg("--out")
            .arg(&out)
            .arg("--store")
            .arg(&server.store.location)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let summary = run(&["--dry-run"]);
    assert!(
        summary.contains("3 subjects (1 refused), 6 decisions for email"),
        "{summary}"
    );
    assert_eq!(
        server.count("SELECT COUNT(*) FROM signals WHERE kind = 1"),
        0
    );

    let summary = run(&[]);
    assert!(summary.contains("2 exposures stored"), "{summary}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["subject"], "login:alice");
    assert_eq!(lines[0]["cluster"], ANON);
    let alice_recs = &lines[0]["decisions"][1];
    assert_eq!(alice_recs["slot"], "recs");
    assert_eq!(
        alice_recs["items"][0], "sku-bag-1",
        "context from the CSV: mobile"
    );
    assert!(
        alice_recs["rendered"]
            .as_str()
            .unwrap()
            .contains("https://shop.example/")
    );
    assert_eq!(lines[1]["error"]["code"], "id.invalid");
    assert_eq!(lines[2]["subject"], "anon:00000000000000b0");
    assert_eq!(
        lines[2]["decisions"][1]["items"][0], "sku-trail-1",
        "desktop: no boost"
    );
    // Alice's two recommendations were stored as email impressions; the unknown
    // subject has no consent on record, so nothing of theirs is stored.
    assert_eq!(
        server.count("SELECT COUNT(*) FROM signals WHERE kind = 1 AND channel = 2 AND subject = 'anon:0000000000000a11'"),
        2
    );
    assert_eq!(
        server.count("SELECT COUNT(*) FROM signals WHERE kind = 1"),
        2
    );
    // A second send the same day: the bag has 1 of 3, still shown; after two more
    // sends it is capped and the batch falls back too.
    run(&[]);
    run(&[]);
    run(&[]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["decisions"][1]["items"][0], "sku-trail-1");
}

/// Whether the device, deciding `recs` on mobile with a fresh snippet of [`ANON`],
/// shows the bag.
fn device_shows_the_bag(c: &mut Client, bundle: &[u8]) -> bool {
    device_recs(c, bundle).contains(&BAG)
}

/// The items the device shows in `recs` on mobile with a fresh snippet of [`ANON`]
/// (the wasm engine's core, here natively).
fn device_recs(c: &mut Client, bundle: &[u8]) -> Vec<u32> {
    let ring = key_ring(c);
    let r = c
        .request("GET", &format!("/v1/snippet?id={ANON}"), &[], &[])
        .unwrap();
    let token = r.json()["token"].as_str().unwrap().to_string();
    let expect = Expect {
        now: now(),
        audience: "shop.example",
    };
    let snippet =
        profile::verify_native(profile::parse_unverified(&token).unwrap(), &ring, expect).unwrap();
    let engine = Engine::new(slotwise::bundle::decode(bundle).unwrap());
    let session = Session::new(7, now());
    let Json(context) = serde_json::from_str(r#"{"device": "mobile"}"#).unwrap();
    let request = Request {
        slots: &["recs"],
        seed: 9,
        context: &context,
        visitor: Visitor {
            id: "device",
            session: Some(&session),
            profile: Some(&snippet),
            consent: Consent::from_bits(ALL),
            now: now(),
            muted: &[],
        },
    };
    engine.decide(&request).swap_remove(0).items
}

/// The exposures `POST /v1/decide` records count in the very next snippet: the
/// server's cached view of the cluster (kept 2 s) must not outlive them. Here the
/// snippet is cached before three recorded decisions reach the bag's cap, and asked
/// for again right after them.
fn a_snippet_after_recorded_decisions_counts_their_exposures(backend: Backend) {
    let (server, bundle) = start(backend);
    let mut c = server.client();
    known_subject(&server, &mut c);
    assert!(device_shows_the_bag(&mut c, &bundle), "under the cap");
    for channel in ["email", "app", "web"] {
        let body = serde_json::json!({ "subject": "login:alice", "channel": channel,
            "slots": ["recs"], "context": { "device": "mobile" } });
        assert_eq!(first_item(&recs(&decide(&mut c, body, true))), "sku-bag-1");
    }
    assert_eq!(
        server.count("SELECT COUNT(*) FROM signals WHERE kind = 1 AND item = 3"),
        3,
        "the cap is reached"
    );
    assert!(
        !device_shows_the_bag(&mut c, &bundle),
        "the snippet left out the exposures just recorded"
    );
}

crate::on_both_backends!(
    a_snippet_after_recorded_decisions_counts_their_exposures,
    one_cap_across_email_web_and_app_then_every_channel_falls_back,
    anonymous_contexts_and_bad_requests,
    batch_send_writes_a_line_per_subject_and_counts_its_exposures,
);
