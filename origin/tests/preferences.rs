//! The preference centre on the real server, on SQLite and on PostgreSQL:
//! `GET|PUT /v1/preferences` with the visitor's id or a signed link, the mutes in the
//! next snippet and in every server-side decision (`POST /v1/decide`, the batch),
//! contact frequency and channel consent in the batch, identity merges, erasure, and
//! `store copy`.

mod common;

use common::*;
use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};
use slotwise::profile::{self, Expect};
use slotwise::signals::{self, Kind, Signal};
use slotwise_origin::preferences::{Frequency, Preferences};
use slotwise_origin::server::client::{Client, Response};
use slotwise_origin::store::{self, Location, SqliteOptions, anon_id};

const ALL: u8 = BIT_NECESSARY | BIT_PERSONALIZATION | BIT_MEASUREMENT;
const ANON: &str = "anon:0000000000000a11";
const SUBJECT: u64 = 0xa11;
/// The test shop's categories, in the bundle's order.
const CATEGORIES: [&str; 3] = ["running-shoes", "jackets", "bags"];
const BAGS: u16 = 2;

fn prefs(c: &mut Client, method: &str, query: &str, body: &str) -> Response {
    c.request(
        method,
        &format!("/v1/preferences{query}"),
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
    .unwrap()
}

fn code(r: &Response) -> String {
    r.json()["error"]["code"].as_str().unwrap_or("").to_string()
}

fn admin(c: &mut Client, method: &str, path: &str, body: &str) -> Response {
    let auth = format!("Bearer {TOKEN}");
    c.request(
        method,
        path,
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        body.as_bytes(),
    )
    .unwrap()
}

/// A consented subject with views of the bag, linked to `login:alice`.
fn known_subject(c: &mut Client) {
    let views: Vec<Signal> = (0..3)
        .map(|i| {
            Signal::new(Kind::View, 1 + i, now() - 60 - i)
                .item(3)
                .consent(ALL)
                .subject(SUBJECT)
        })
        .collect();
    assert_eq!(
        post_signals(c, &signals::encode(&views).unwrap()).status,
        200
    );
    let r = admin(
        c,
        "POST",
        "/v1/identify",
        &format!(r#"{{"ids":["{ANON}","login:alice"]}}"#),
    );
    assert_eq!(r.status, 200);
}

fn link_token(c: &mut Client, subject: &str, ttl: u64) -> String {
    let r = admin(
        c,
        "POST",
        "/v1/admin/preferences-link",
        &format!(r#"{{"subject":"{subject}","ttl":{ttl}}}"#),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["token"].as_str().unwrap().to_string()
}

fn round_trip_auth_and_bad_input(backend: Backend) {
    let server = Server::start("prefs-api", backend);
    let mut c = server.client();
    known_subject(&mut c);
    let me = format!("?id={ANON}");

    // Nothing chosen yet; the page gets what it needs to offer choices.
    let r = prefs(&mut c, "GET", &me, "");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["preferences"]["mute"], serde_json::json!([]));
    assert_eq!(v["categories"], serde_json::json!(CATEGORIES));
    assert_eq!(v["cluster"], ANON);
    assert_eq!(v["consent"]["personalization"], true);
    assert_eq!(v["consent"]["advertising"], false);
    assert_eq!(
        v["links"]["export"],
        format!("/v1/subjects/{ANON}?id={ANON}")
    );

    // PUT, then GET: the same record (for the cluster: the login sees it too).
    let body = r#"{"mute":["bags"],"more":["jackets"],"contact":{"email":"weekly","sms":"never"}}"#;
    let r = prefs(&mut c, "PUT", &me, body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let put = r.json();
    assert!(put["snippet"]["token"].as_str().unwrap().len() > 50);
    let want = serde_json::json!({"mute": ["bags"], "more": ["jackets"],
        "contact": {"email": "weekly", "sms": "never"}});
    assert_eq!(put["preferences"], want);
    assert_eq!(prefs(&mut c, "GET", &me, "").json()["preferences"], want);
    // A partial change keeps the other fields; a channel's frequency changes alone.
    let r = prefs(&mut c, "PUT", &me, r#"{"contact":{"email":"daily"}}"#);
    assert_eq!(r.json()["preferences"]["mute"], serde_json::json!(["bags"]));
    assert_eq!(r.json()["preferences"]["contact"]["sms"], "never");
    assert_eq!(r.json()["preferences"]["contact"]["email"], "daily");
    assert_eq!(server.count("SELECT COUNT(*) FROM preferences"), 1);

    // Bad input: typed, and nothing changes.
    for (body, status, want) in [
        (r#"{"mute":["boats"]}"#, 422, "preferences.category"),
        (r#"{"more":["bags"]}"#, 400, "preferences.conflict"),
        (r#"{"contact":{"fax":"daily"}}"#, 400, "preferences.channel"),
        (r#"{"contact":{"email":"hourly"}}"#, 400, "json.invalid"),
        (r#"{"mutes":[]}"#, 400, "json.invalid"),
        (r#"[1,2"#, 400, "json.invalid"),
    ] {
        let r = prefs(&mut c, "PUT", &me, body);
        assert_eq!((r.status, code(&r)), (status, want.to_string()), "{body}");
    }
    let r = c
        .request(
            "PUT",
            &format!("/v1/preferences{me}"),
            &[("content-type", "text/plain")],
            b"{}",
        )
        .unwrap();
    assert_eq!((r.status, code(&r).as_str()), (415, "content_type"));
    assert_eq!(
        prefs(&mut c, "GET", &me, "").json()["preferences"]["mute"],
        serde_json::json!(["bags"])
    );

    // Credentials: none, a bad id, another kind of id without the admin token.
    for (query, status, want) in [
        ("", 401, "auth.missing"),
        ("?id=anon:nope!", 400, "id.invalid"),
        ("?id=login:alice", 401, "auth"),
    ] {
        let r = prefs(&mut c, "GET", query, "");
        assert_eq!((r.status, code(&r)), (status, want.to_string()), "{query}");
    }
    // The first-party cookie works as the id does.
    let r = c
        .request(
            "GET",
            "/v1/preferences",
            &[("cookie", "a=b; sw_vid=0000000000000a11")],
            &[],
        )
        .unwrap();
    assert_eq!(r.json()["cluster"], ANON);

    // A signed link for the login (an email recipient): same cluster, same record.
    let r = c
        .request(
            "POST",
            "/v1/admin/preferences-link",
            &[("content-type", "application/json")],
            br#"{"subject":"login:alice"}"#,
        )
        .unwrap();
    assert_eq!(r.status, 401, "issuing a link needs the admin token");
    let bad = admin(
        &mut c,
        "POST",
        "/v1/admin/preferences-link",
        r#"{"subject":"alice"}"#,
    );
    assert_eq!(code(&bad), "id.invalid");
    let token = link_token(&mut c, "login:alice", 3600);
    let r = prefs(&mut c, "GET", &format!("?token={token}"), "");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["subject"], "login:alice");
    assert_eq!(r.json()["preferences"]["mute"], serde_json::json!(["bags"]));
    let r = prefs(
        &mut c,
        "PUT",
        &format!("?token={token}"),
        r#"{"contact":{"push":"never"}}"#,
    );
    assert_eq!(r.status, 200);
    assert!(r.json()["snippet"].is_null(), "no snippet for a link");
    assert_eq!(
        prefs(&mut c, "GET", &me, "").json()["preferences"]["contact"]["push"],
        "never"
    );
    // Tampered: one character of the signature, of the subject; not base64.
    let mut chars: Vec<char> = token.chars().collect();
    for at in [chars.len() - 5, 20] {
        let mut t = chars.clone();
        t[at] = if t[at] == 'A' { 'B' } else { 'A' };
        let r = prefs(
            &mut c,
            "GET",
            &format!("?token={}", t.iter().collect::<String>()),
            "",
        );
        assert_eq!(
            (r.status, code(&r).as_str()),
            (401, "link.invalid"),
            "at {at}"
        );
    }
    chars.truncate(30);
    let r = prefs(
        &mut c,
        "GET",
        &format!("?token={}", chars.iter().collect::<String>()),
        "",
    );
    assert_eq!((r.status, code(&r).as_str()), (401, "link.invalid"));
    // The command signs with the same key (the server's data directory).
    let data = server.spawned.dir.join("data");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_slotwise"))
        .args([
            "preferences-link",
            "--subject",
            "login:alice",
            "--ttl",
            "1",
            "--page",
            "https://shop.example/preferences",
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let url = String::from_utf8(o.stdout).unwrap();
    let short = url.trim().split_once("?token=").unwrap().1.to_string();
    assert_eq!(
        prefs(&mut c, "GET", &format!("?token={short}"), "").status,
        200
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let r = prefs(&mut c, "GET", &format!("?token={short}"), "");
    assert_eq!((r.status, code(&r).as_str()), (403, "link.expired"));

    // The export and erase links act for the subject's own cluster only.
    let r = c
        .request(
            "GET",
            &format!("/v1/subjects/login:alice?token={token}"),
            &[],
            &[],
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["cluster"], ANON);
    let r = c
        .request(
            "GET",
            &format!("/v1/subjects/anon:00000000000000b0?token={token}"),
            &[],
            &[],
        )
        .unwrap();
    assert_eq!((r.status, code(&r).as_str()), (403, "auth.subject"));
    let r = c
        .request("GET", "/v1/subjects/login:alice", &[], &[])
        .unwrap();
    assert_eq!(r.status, 401);
}

/// The claims of the next snippet of `id`.
fn snippet_claims(c: &mut Client, id: &str) -> profile::Claims {
    let r = c
        .request("GET", &format!("/v1/snippet?id={id}"), &[], &[])
        .unwrap();
    let token = r.json()["token"].as_str().unwrap().to_string();
    verify(c, &token)
}

/// The claims of a snippet token, verified with the server's key.
fn verify(c: &mut Client, token: &str) -> profile::Claims {
    let ring = key_ring(c);
    profile::verify_native(
        profile::parse_unverified(token).unwrap(),
        &ring,
        Expect {
            now: now(),
            audience: "shop.example",
        },
    )
    .unwrap()
    .claims()
    .clone()
}

fn recs_items(c: &mut Client, channel: &str, subject: &str) -> Vec<String> {
    let body = serde_json::json!({ "subject": subject, "channel": channel,
        "slots": ["hero", "recs"], "context": {"device": "mobile"}, "record": false });
    let r = admin(c, "POST", "/v1/decide", &body.to_string());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["items"].as_array().unwrap().clone())
        .map(|i| i.as_str().unwrap().to_string())
        .collect()
}

fn mutes_reach_the_snippet_and_every_server_side_decision(backend: Backend) {
    let server = Server::start("prefs-decide", backend);
    let mut c = server.client();
    known_subject(&mut c);
    let before = snippet_claims(&mut c, ANON);
    assert!(before.muted.is_empty());
    assert!(
        before.affinities.iter().any(|a| a.category == BAGS),
        "{before:?}"
    );
    for channel in ["email", "app", "web"] {
        let items = recs_items(&mut c, channel, "login:alice");
        assert!(
            items.contains(&"sku-bag-1".to_string()),
            "{channel}: boosted on mobile: {items:?}"
        );
    }

    let r = prefs(
        &mut c,
        "PUT",
        &format!("?id={ANON}"),
        r#"{"mute":["bags"],"more":["jackets"]}"#,
    );
    assert_eq!(r.status, 200);
    // The snippet in the answer and the next one both carry the mute.
    let in_answer = r.json()["snippet"]["token"].as_str().unwrap().to_string();
    for claims in [verify(&mut c, &in_answer), snippet_claims(&mut c, ANON)] {
        assert_eq!(claims.muted, [BAGS]);
        assert!(!claims.affinities.iter().any(|a| a.category == BAGS));
        assert!(
            claims
                .affinities
                .iter()
                .any(|a| a.category == 1 && a.weight == 255),
            "{claims:?}"
        );
    }
    // Never decided at the origin, in any channel, for any id of the cluster.
    for channel in ["email", "app", "web", "push", "sms", "store"] {
        for subject in ["login:alice", ANON] {
            let items = recs_items(&mut c, channel, subject);
            assert!(
                !items.contains(&"sku-bag-1".to_string()),
                "{channel} {subject}: {items:?}"
            );
            assert!(
                !items.is_empty(),
                "{channel}: falls back to the next candidates"
            );
        }
    }
    // Unmuting brings it back.
    prefs(&mut c, "PUT", &format!("?id={ANON}"), r#"{"mute":[]}"#);
    assert!(recs_items(&mut c, "email", "login:alice").contains(&"sku-bag-1".to_string()));
    assert!(snippet_claims(&mut c, ANON).muted.is_empty());
}

fn run_batch(server: &Server, csv: &str, extra: &[&str]) -> (String, Vec<serde_json::Value>) {
    let dir = &server.spawned.dir;
    let path = dir.join("subjects.csv");
    std::fs::write(&path, csv).unwrap();
    let out = dir.join("out.jsonl");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_slotwise"))
        .args(["decide", "--quiet", "--subjects"])
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .arg("--store")
        .arg(&server.store.location)
        .args(extra)
        .args(if extra.contains(&"--channel") {
            &[][..]
        } else {
            &["--channel", "email"][..]
        })
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (String::from_utf8(o.stdout).unwrap(), lines)
}

fn batch_applies_mutes_channel_consent_and_contact_frequency(backend: Backend) {
    let server = Server::start("prefs-batch", backend);
    let mut c = server.client();
    known_subject(&mut c);
    // Bob withdrew email; Carol chose nothing.
    let bob = "anon:00000000000000b0";
    let carol = "anon:00000000000000c0";
    for (id, body) in [
        (ANON, r#"{"mute":["bags"],"contact":{"email":"weekly"}}"#),
        (bob, r#"{"contact":{"email":"never","sms":"daily"}}"#),
    ] {
        assert_eq!(prefs(&mut c, "PUT", &format!("?id={id}"), body).status, 200);
    }
    let csv = format!("subject,device\nlogin:alice,mobile\n{bob},mobile\n{carol},mobile\n");
    let (summary, lines) = run_batch(&server, &csv, &[]);
    assert!(
        summary.contains("3 subjects (0 refused), 6 decisions for email"),
        "{summary}"
    );
    assert!(
        summary.contains("skipped 1 (contact.consent 1, contact.frequency 0)"),
        "{summary}"
    );
    let items = lines[0]["decisions"].to_string();
    assert!(
        lines[0]["decisions"][1]["items"].as_array().unwrap().len() == 2,
        "{items}"
    );
    assert!(!items.contains("sku-bag-1"), "muted in the batch: {items}");
    assert_eq!(lines[1]["skipped"], "contact.consent");
    assert!(lines[1]["decisions"].is_null());
    assert!(
        lines[2]["decisions"].to_string().contains("sku-bag-1"),
        "Carol muted nothing"
    );
    // Alice's email was recorded (2 items); Bob got nothing recorded.
    let alice_email = "SELECT COUNT(*) FROM signals WHERE kind = 1 AND channel = 2 AND subject = 'anon:0000000000000a11'";
    assert_eq!(server.count(alice_email), 2);
    assert_eq!(
        server.count("SELECT COUNT(*) FROM signals WHERE subject = 'anon:00000000000000b0'"),
        0
    );

    // The same day: Alice chose weekly, so she is skipped too; in 8 days she is not.
    let (summary, lines) = run_batch(&server, &csv, &[]);
    assert!(
        summary.contains("skipped 2 (contact.consent 1, contact.frequency 1)"),
        "{summary}"
    );
    assert_eq!(lines[0]["skipped"], "contact.frequency");
    assert_eq!(
        server.count(alice_email),
        2,
        "a skipped subject is not exposed"
    );
    let later = (now() + 8 * 86_400).to_string();
    let (summary, lines) = run_batch(&server, &csv, &["--now", &later, "--dry-run"]);
    assert!(
        summary.contains("skipped 1 (contact.consent 1, contact.frequency 0)"),
        "{summary}"
    );
    assert!(lines[0]["skipped"].is_null());
    // The same check in SMS: Bob's daily SMS is allowed.
    let ch = &["--channel", "sms", "--dry-run"];
    let (summary, _) = run_batch(&server, &csv, ch);
    assert!(summary.contains("skipped 0"), "{summary}");
}

fn merges_erasure_and_copy(backend: Backend) {
    let server = Server::start("prefs-merge", backend);
    let mut c = server.client();
    let a = "anon:00000000000000a0";
    for (id, body) in [
        (
            a,
            r#"{"mute":["bags"],"more":["jackets"],"contact":{"email":"daily"}}"#,
        ),
        (
            "login:bob",
            r#"{"mute":["jackets"],"contact":{"email":"weekly","sms":"never"}}"#,
        ),
    ] {
        let q = if id.starts_with("anon:") {
            format!("?id={id}")
        } else {
            format!("?token={}", link_token(&mut c, id, 600))
        };
        assert_eq!(prefs(&mut c, "PUT", &q, body).status, 200);
    }
    assert_eq!(server.count("SELECT COUNT(*) FROM preferences"), 2);
    let r = admin(
        &mut c,
        "POST",
        "/v1/identify",
        &format!(r#"{{"ids":["{a}","login:bob"]}}"#),
    );
    assert_eq!(r.status, 200);
    assert_eq!(server.count("SELECT COUNT(*) FROM preferences"), 1);
    let v = prefs(&mut c, "GET", &format!("?id={a}"), "").json();
    assert_eq!(
        v["preferences"],
        serde_json::json!({"mute": ["bags", "jackets"], "more": [],
            "contact": {"email": "weekly", "sms": "never"}}),
        "a mute in either wins; the stricter frequency"
    );

    // `store copy` carries the record (into a new store of the same backend).
    let target = TestStore::temp(backend, "prefs-copy");
    let from: Location = server.store.location.parse().unwrap();
    let to: Location = target.location.parse().unwrap();
    let copied = store::copy::copy(&from, &to).unwrap();
    assert_eq!(copied.preferences, 1);
    let copy = store::open(&to, SqliteOptions::default()).unwrap();
    let p = copy.preferences("login:bob").unwrap().unwrap();
    assert_eq!(p.mute, ["bags", "jackets"]);
    assert_eq!(p.contact["sms"], Frequency::Never);
    drop(copy);

    // The visitor's own erase link removes the record with the cluster.
    let link = v["links"]["erase"].as_str().unwrap().to_string();
    let r = c.request("DELETE", &link, &[], &[]).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(server.count("SELECT COUNT(*) FROM preferences"), 0);
    let v = prefs(&mut c, "GET", &format!("?id={a}"), "").json();
    assert_eq!(
        v["preferences"],
        serde_json::to_value(Preferences::default()).unwrap()
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM identities"), 0);
}

fn store_contract_for_preferences(backend: Backend) {
    let t = TestStore::temp(backend, "prefs-store");
    let s = store::open(&t.location.parse().unwrap(), SqliteOptions::default()).unwrap();
    assert_eq!(s.preferences(&anon_id(1)).unwrap(), None);
    let mut p = Preferences::default();
    p.mute.push("bags".into());
    s.set_preferences(&anon_id(1), &p, 10).unwrap();
    // Linked under a smaller cluster id: the record moves with the cluster.
    s.link(&[anon_id(1), anon_id(0)]).unwrap();
    assert_eq!(s.preferences(&anon_id(0)).unwrap(), Some(p.clone()));
    assert_eq!(s.preferences(&anon_id(1)).unwrap(), Some(p.clone()));
    assert_eq!(s.all_preferences().unwrap(), vec![(anon_id(0), p.clone())]);
    assert_eq!(s.erase(&anon_id(1)).unwrap().ids, 2);
    assert_eq!(s.preferences(&anon_id(0)).unwrap(), None);
    assert!(s.all_preferences().unwrap().is_empty());
}

crate::on_both_backends!(
    round_trip_auth_and_bad_input,
    mutes_reach_the_snippet_and_every_server_side_decision,
    batch_applies_mutes_channel_consent_and_contact_frequency,
    merges_erasure_and_copy,
    store_contract_for_preferences,
);
