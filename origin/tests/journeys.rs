//! The abandoned-cart journey end to end, on the real `slotwise serve` with a test
//! clock (`--test-clock`, set through `POST /v1/admin/clock`): add-to-cart on the web,
//! no purchase → after the wait exactly one email in the outbox, rendered for email
//! with the cart's items; the subject's next web decision shows them with the
//! `journey` reason (`POST /v1/decide` and the snippet's claim); a purchase in the
//! store channel before the wait cancels the email; a second trigger inside the
//! budget window sends nothing; withdrawn email consent or erasure removes what is
//! pending; acks are idempotent and an acked message never comes back; a restart
//! loses nothing; a channel set to `never` in the preference centre gets nothing.
//! Runs on SQLite and on PostgreSQL.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use common::*;
use serde_json::{Value, json};
use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};
use slotwise::profile::{self, Expect, KeyRing};
use slotwise::signals::{self, Channel, Kind, Signal};
use slotwise_origin::server::client::{Client, Response};

const ALL: u8 = BIT_NECESSARY | BIT_PERSONALIZATION | BIT_MEASUREMENT;
/// 2026-11-24 12:00 UTC: inside the retention window, outside the quiet hours.
const T0: u64 = 1_795_521_600;
const HOUR: u64 = 3600;
/// Items of the test shop.
const TRAIL: u32 = 0;
const JACKET: u32 = 2;

struct Origin {
    child: std::process::Child,
    addr: SocketAddr,
    data: PathBuf,
    args: Vec<String>,
    store: TestStore,
    /// Removed after the server is stopped (fields drop after `Drop::drop`).
    _dir: TempDir,
}

impl Origin {
    fn start(backend: Backend) -> Origin {
        let dir = temp_dir("journeys");
        let bundle = journey_bundle(&dir);
        let store = TestStore::new(backend, "journeys", &dir);
        let args: Vec<String> = [
            "--store",
            &store.location,
            "--admin-token",
            TOKEN,
            "--bundle",
            bundle.to_str().unwrap(),
            "--sync",
            "normal",
            "--test-clock",
            "--journey-interval-ms",
            "600000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let addr = free_addr();
        let data = dir.join("data");
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = start_on(addr, &data, &refs);
        Origin {
            child,
            addr,
            data,
            args,
            store,
            _dir: dir,
        }
    }

    /// SIGKILL, then the same server on the same store again.
    fn restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let refs: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.child = start_on(self.addr, &self.data, &refs);
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        admin_request(self.addr, method, path, &text)
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        admin_ok(self.addr, method, path, &text)
    }

    /// Sets the clock; the answer says what the scheduler pass did.
    fn at(&self, now: u64) -> Value {
        self.ok("POST", "/v1/admin/clock", Some(json!({ "now": now })))["pass"].clone()
    }

    fn send(&self, signals: &[Signal]) {
        let mut c = Client::new(self.addr).unwrap();
        let r = post_signals(&mut c, &signals::encode(signals).unwrap());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }

    fn pull(&self, lease: u64) -> Vec<Value> {
        self.ok("GET", &format!("/v1/outbox?limit=100&lease={lease}"), None)["messages"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// A web visitor (`anon:<subject>`) known by email, consenting to email.
    fn customer(&self, subject: u64, email: &str) -> String {
        let email_id = format!("email:{}", email.repeat(64 / email.len()));
        self.ok(
            "POST",
            "/v1/identify",
            Some(json!({ "ids": [format!("anon:{subject:016x}"), email_id] })),
        );
        let c = self.ok(
            "PUT",
            &format!("/v1/subjects/{email_id}/contact"),
            Some(json!({ "channels": { "email": true }, "timeZone": "Europe/Berlin" })),
        );
        assert_eq!(c["channels"]["email"], true);
        email_id
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(kind: Kind, subject: u64, item: u32, time: u64, channel: Channel) -> Signal {
    let mut s = Signal::new(
        kind,
        slotwise_origin::store::journeys::new_id() as u64,
        time,
    )
    .consent(ALL)
    .channel(channel)
    .subject(subject);
    s.item = item;
    if kind == Kind::Purchase {
        s = s.value(18_900);
    }
    s
}

fn cart(subject: u64, item: u32, time: u64) -> Vec<Signal> {
    vec![
        signal(Kind::View, subject, item, time - 60, Channel::Web),
        signal(Kind::AddToCart, subject, item, time, Channel::Web),
    ]
}

fn for_subject(messages: &[Value], email_id: &str) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m["to"] == email_id)
        .cloned()
        .collect()
}

fn abandoned_cart(backend: Backend) {
    let mut o = Origin::start(backend);
    o.at(T0);
    let a: u64 = 0xa1;
    let email_a = o.customer(a, "a");
    o.send(&cart(a, JACKET, T0));
    assert_eq!(
        o.store
            .count("SELECT COUNT(*) FROM journey_instances WHERE status = 0"),
        1
    );

    // Before the wait: nothing; after it: exactly one email with the cart's item.
    assert_eq!(o.at(T0 + HOUR / 2)["queued"], 0);
    assert!(o.pull(60).is_empty());
    assert_eq!(o.at(T0 + HOUR + 1)["queued"], 1);
    assert_eq!(o.at(T0 + HOUR + 2)["queued"], 0, "a step is done once");
    let messages = o.pull(30);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(
        (m["channel"].as_str(), m["to"].as_str()),
        (Some("email"), Some(email_a.as_str()))
    );
    assert_eq!(m["journey"], "abandoned-cart");
    assert_eq!(m["items"], json!(["sku-jacket-1"]));
    let d = &m["decisions"][0];
    assert_eq!(
        (d["slot"].as_str(), d["reason"].as_str()),
        (Some("recs"), Some("journey"))
    );
    assert_eq!(d["items"][0], "sku-jacket-1");
    assert_eq!(d["explain"], "Picked up where you left off.");
    let html = d["rendered"].as_str().unwrap();
    assert!(
        html.contains("<table") && html.contains("Storm shell jacket"),
        "{html}"
    );
    assert!(
        html.contains("https://"),
        "email links are absolute: {html}"
    );

    // Leased: a second puller gets nothing until the lease ends, then it comes back.
    assert!(o.pull(30).is_empty());
    o.at(T0 + HOUR + 40);
    let again = o.pull(30);
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0]["id"].clone(), again[0]["attempts"].clone()),
        (m["id"].clone(), json!(2))
    );

    // The next web decision shows the item first, with the journey reason...
    let web = o.ok(
        "POST",
        "/v1/decide",
        Some(json!({ "subject": format!("anon:{a:016x}"), "channel": "web", "slots": ["recs"], "record": false })),
    );
    let d = &web["decisions"][0];
    assert_eq!(
        (d["reason"].as_str(), d["items"][0].as_str()),
        (Some("journey"), Some("sku-jacket-1"))
    );
    // ...and so does the snippet the browser and the edge decide with.
    let snippet = o.ok("GET", &format!("/v1/snippet?id=anon:{a:016x}"), None);
    let keys = o.ok("GET", "/v1/keys", None);
    let mut ring = KeyRing::new();
    let k = &keys["keys"][0];
    ring.insert_base64url(k["kid"].as_str().unwrap(), k["public"].as_str().unwrap())
        .unwrap();
    let parts = profile::parse_unverified(snippet["token"].as_str().unwrap()).unwrap();
    let verified = profile::verify_native(
        parts,
        &ring,
        Expect {
            now: now(),
            audience: "shop.example",
        },
    )
    .unwrap();
    assert_eq!(verified.claims().journey, vec![JACKET]);

    // Acks are idempotent; an acked message never comes back.
    let id = m["id"].as_str().unwrap().to_string();
    assert_eq!(
        o.ok("POST", "/v1/outbox/ack", Some(json!({ "ids": [id] })))["acked"],
        1
    );
    assert_eq!(
        o.ok("POST", "/v1/outbox/ack", Some(json!({ "ids": [id] })))["already"],
        1
    );
    o.at(T0 + 2 * HOUR);
    assert!(o.pull(30).is_empty());

    // A second trigger inside the budget window: a new journey, but no message.
    o.at(T0 + 3 * HOUR);
    o.send(&cart(a, TRAIL, T0 + 3 * HOUR));
    let pass = o.at(T0 + 4 * HOUR + 1);
    assert_eq!(
        (pass["queued"].clone(), pass["skipped"].clone()),
        (json!(0), json!(1))
    );
    assert!(o.pull(30).is_empty());

    // A purchase in the store channel, by the same customer's store id, before the
    // wait: no email.
    let (b, store_b) = (0xb1u64, 0xb2u64);
    o.customer(b, "b");
    o.ok(
        "POST",
        "/v1/identify",
        Some(json!({ "ids": [format!("anon:{b:016x}"), format!("anon:{store_b:016x}")] })),
    );
    let t = T0 + 5 * HOUR;
    o.at(t);
    o.send(&cart(b, JACKET, t));
    o.at(t + HOUR / 2);
    o.send(&[signal(
        Kind::Purchase,
        store_b,
        JACKET,
        t + HOUR / 2,
        Channel::Store,
    )]);
    assert_eq!(o.at(t + 2 * HOUR)["queued"], 0);
    assert!(o.pull(30).is_empty());
    assert_eq!(
        o.store
            .count("SELECT COUNT(*) FROM journey_instances WHERE status = 2"),
        1,
        "the store purchase ended the journey"
    );

    // Withdrawn email consent removes a pending message, and the ack of it is refused.
    let c = 0xc1u64;
    let email_c = o.customer(c, "c");
    let t = T0 + 8 * HOUR;
    o.at(t);
    o.send(&cart(c, JACKET, t));
    // Due at 21:00 UTC, 22:00 in the customer's Berlin: quiet hours until 07:00 there.
    let pass = o.at(t + HOUR + 1);
    assert_eq!(
        (pass["queued"].clone(), pass["postponed"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(o.at(T0 + 18 * HOUR - 1)["queued"], 0);
    let t = T0 + 18 * HOUR;
    assert_eq!(o.at(t)["queued"], 1);
    let removed = o.ok(
        "PUT",
        &format!("/v1/subjects/{email_c}/contact"),
        Some(json!({ "channels": { "email": false } })),
    );
    assert_eq!(removed["removed"], 1);
    assert!(for_subject(&o.pull(30), &email_c).is_empty());
    // Withdrawn before the wait: nothing is produced.
    let d = 0xd1u64;
    let email_d = o.customer(d, "d");
    o.send(&cart(d, JACKET, t));
    o.ok(
        "PUT",
        &format!("/v1/subjects/{email_d}/contact"),
        Some(json!({ "channels": { "email": false } })),
    );
    o.at(t + 3 * HOUR);
    assert!(for_subject(&o.pull(30), &email_d).is_empty());

    // Erasure removes the pending message and every journey row of the cluster.
    let e = 0xe1u64;
    let email_e = o.customer(e, "e");
    let t = T0 + 24 * HOUR;
    o.at(t);
    o.send(&cart(e, JACKET, t));
    assert_eq!(o.at(t + HOUR + 1)["queued"], 1);
    o.ok("DELETE", &format!("/v1/subjects/{email_e}"), None);
    assert!(for_subject(&o.pull(30), &email_e).is_empty());
    let anon_e = format!("anon:{e:016x}");
    assert_eq!(
        o.store.count(&format!(
            "SELECT COUNT(*) FROM journey_instances WHERE subject = '{anon_e}'"
        )),
        0
    );
    assert_eq!(
        o.store.count(&format!(
            "SELECT COUNT(*) FROM contacts WHERE id = '{email_e}'"
        )),
        0
    );

    // The preference centre: a customer who set email to `never` gets no journey
    // email, whatever the contact record says.
    let g = 0x91u64;
    let email_g = o.customer(g, "9");
    let prefs = format!("/v1/preferences?id=anon:{g:016x}");
    o.ok(
        "PUT",
        &prefs,
        Some(json!({ "contact": { "email": "never" } })),
    );
    let t = T0 + 25 * HOUR;
    o.at(t);
    o.send(&cart(g, JACKET, t));
    let pass = o.at(t + HOUR + 1);
    assert_eq!(
        (pass["queued"].clone(), pass["skipped"].clone()),
        (json!(0), json!(1)),
        "{pass}"
    );
    assert!(for_subject(&o.pull(30), &email_g).is_empty());

    // A restart loses nothing: a message queued before a SIGKILL is there after it,
    // once; the acked one stays acked.
    let f = 0xf1u64;
    let email_f = o.customer(f, "f");
    let t = T0 + 26 * HOUR;
    o.at(t);
    o.send(&cart(f, JACKET, t));
    assert_eq!(o.at(t + HOUR + 1)["queued"], 1);
    o.restart();
    o.at(t + HOUR + 2);
    let after = o.pull(30);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["to"], email_f);
    let id_f = after[0]["id"].as_str().unwrap().to_string();
    let r = o.call("POST", "/v1/outbox/ack", Some(json!({ "ids": [id_f, id] })));
    assert_eq!(
        (
            r.status,
            r.json()["acked"].clone(),
            r.json()["already"].clone()
        ),
        (200, json!(1), json!(1))
    );
    assert_eq!(
        o.store
            .count("SELECT COUNT(*) FROM outbox WHERE acked_at IS NULL"),
        0
    );
    assert_eq!(
        o.store.count("SELECT COUNT(*) FROM outbox"),
        2,
        "one email for a, one for f"
    );
}

fn bad_journeys_fail_the_build_with_their_path(_backend: Backend) {
    let dir = temp_dir("journeys-bad");
    let src = journey_authoring(&dir);
    let bundle = slotwise_origin::authoring::build_dir(
        &src,
        &slotwise_origin::authoring::BuildOptions::default(),
    )
    .unwrap();
    for (bad, path) in [
        (
            JOURNEYS.replace("\"recs\"", "\"nope\""),
            "journeys.json: journeys[0].steps[0].slots[0]",
        ),
        (
            JOURNEYS.replace("\"email\"", "\"web\""),
            "journeys.json: journeys[0].steps[0].channel",
        ),
        (
            JOURNEYS.replace("add_to_cart", "add-to-cart"),
            "journeys.json: journeys[0].trigger.event",
        ),
        (
            JOURNEYS.replace("\"UTC\"", "\"Mars/Olympus\""),
            "journeys.json: timeZone",
        ),
        (
            JOURNEYS.replace("\"22:00\"", "\"25:00\""),
            "journeys.json: quietHours",
        ),
        (
            JOURNEYS.replace("172800", "60"),
            "journeys.json: journeys[0].activeSecs",
        ),
        (
            JOURNEYS.replace("\"waitSecs\"", "\"wait\""),
            "journeys.json: journeys[0].steps[0]",
        ),
    ] {
        std::fs::write(src.join("journeys.json"), bad).unwrap();
        let e = slotwise_origin::authoring::build_journeys(&src, &bundle).unwrap_err();
        assert!(e.to_string().starts_with(path), "{e} (want {path})");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The claims of a fresh snippet for `id`, its signature checked.
fn snippet_claims(o: &Origin, id: &str) -> profile::Claims {
    let snippet = o.ok("GET", &format!("/v1/snippet?id={id}"), None);
    let keys = o.ok("GET", "/v1/keys", None);
    let mut ring = KeyRing::new();
    let k = &keys["keys"][0];
    ring.insert_base64url(k["kid"].as_str().unwrap(), k["public"].as_str().unwrap())
        .unwrap();
    let parts = profile::parse_unverified(snippet["token"].as_str().unwrap()).unwrap();
    let expect = Expect {
        now: now(),
        audience: "shop.example",
    };
    profile::verify_native(parts, &ring, expect)
        .unwrap()
        .claims()
        .clone()
}

/// The server caches each cluster's view (profile log, preferences, journey instances)
/// for snippets: every write that changes the mutes or the journey pin must drop it
/// at once. Each snippet below is asked for right after the previous one (well inside
/// the entry's 2 s), so a stale entry would be served and fail the assertion.
fn cached_snippets_follow_mutes_and_journey_pins(backend: Backend) {
    const BAGS: u16 = 2;
    let o = Origin::start(backend);
    o.at(T0);
    let a: u64 = 0xca;
    let anon = format!("anon:{a:016x}");
    o.customer(a, "ca");
    o.send(&cart(a, JACKET, T0));
    assert_eq!(o.at(T0 + HOUR + 1)["queued"], 1);
    for _ in 0..2 {
        let c = snippet_claims(&o, &anon);
        assert_eq!((c.journey, c.muted), (vec![JACKET], vec![]));
    }

    // The visitor mutes bags, then unmutes them: each next snippet says so.
    let prefs = format!("/v1/preferences?id={anon}");
    let mut c = Client::new(o.addr).unwrap();
    let put = |c: &mut Client, body: &str| {
        let r = c
            .request(
                "PUT",
                &prefs,
                &[("content-type", "application/json")],
                body.as_bytes(),
            )
            .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    put(&mut c, r#"{"mute":["bags"]}"#);
    assert_eq!(snippet_claims(&o, &anon).muted, vec![BAGS], "stale mute");
    assert_eq!(snippet_claims(&o, &anon).muted, vec![BAGS]);
    put(&mut c, r#"{"mute":[]}"#);
    assert!(snippet_claims(&o, &anon).muted.is_empty(), "stale unmute");

    // The purchase ends the journey (an exit written as the signal is ingested): the
    // pin goes with the next snippet, and stays gone.
    let bought = signal(Kind::Purchase, a, JACKET, T0 + HOUR + 2, Channel::Web);
    o.send(&[bought]);
    for _ in 0..2 {
        let c = snippet_claims(&o, &anon);
        assert!(c.journey.is_empty(), "stale journey pin: {:?}", c.journey);
        assert_eq!(c.purchases, vec![JACKET]);
    }
}

on_both_backends!(
    abandoned_cart,
    bad_journeys_fail_the_build_with_their_path,
    cached_snippets_follow_mutes_and_journey_pins,
);
