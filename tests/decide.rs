//! The decision pipeline end to end in the core: rules (include, exclude, pin,
//! boost), consent-gated rules, experiments, the holdout, suppression, page diversity
//! and the model, each with its reason.
#![cfg(not(target_arch = "wasm32"))]

use slotwise::bundle::{self, Bundle, Content, Item, Slot, Strategy};
use slotwise::consent::Consent;
use slotwise::decide::{Engine, Reason, Request, Visitor};
use slotwise::experiment::{Effect, ExperimentDef, Holdout, Variation};
use slotwise::rules::compile::{Dialect, GroupNames, compile};
use slotwise::rules::{Action, Json, Rule, Value};
use slotwise::score::Model;
use slotwise::session::{Event, EventKind, Session};

fn cond(json: &str) -> Option<slotwise::rules::Cond> {
    let Json(v) = serde_json::from_str(json).unwrap();
    Some(compile(&v, &GroupNames::default(), Dialect::Strict).unwrap())
}

fn rule(id: &str, when: Option<&str>, action: Action, items: &[u32]) -> Rule {
    Rule {
        id: id.into(),
        when: when.and_then(cond),
        action,
        items: items.to_vec(),
        requires_personalization: false,
        text: None,
    }
}

fn ctx(json: &str) -> Value {
    let Json(v) = serde_json::from_str(json).unwrap();
    v
}

/// Six items in three categories; slot `a` lists them all, slot `b` too.
fn shop() -> Bundle {
    let mut b = Bundle::example();
    b.items.clear();
    b.content.truncate(1);
    for (i, cat) in ["shoes", "shoes", "shoes", "bags", "bags", "hats"]
        .iter()
        .enumerate()
    {
        b.content.push(Content {
            id: format!("c{i}"),
            title: Some(format!("Item {i}")),
            ..Content::default()
        });
        b.items.push(Item {
            id: format!("i{i}"),
            category: (*cat).into(),
            content: i as u32 + 1,
        });
    }
    let mut a = Slot::new("a", 0);
    a.candidates = (0..6).collect();
    let mut bslot = Slot::new("b", 0);
    bslot.candidates = (0..6).collect();
    bslot.count = 3;
    b.slots = vec![a, bslot];
    b.model = Model::default();
    b
}

fn decide_with<'a>(
    engine: &'a Engine,
    slots: &'a [&'a str],
    context: &'a Value,
    visitor: Visitor<'a>,
) -> Vec<slotwise::decide::Decision<'a>> {
    engine.decide(&Request {
        slots,
        seed: 42,
        context,
        visitor,
    })
}

fn engine(b: Bundle) -> Engine {
    // Through the bytes, as every runtime gets it.
    Engine::new(bundle::decode(&bundle::encode(&b)).unwrap())
}

#[test]
fn include_rules_gate_eligibility_in_priority_order() {
    let mut b = shop();
    b.slots[0].rules = vec![rule(
        "mobile-only",
        Some(r#"{"device": "mobile"}"#),
        Action::Include,
        &[0, 1],
    )];
    let e = engine(b);
    let desktop = ctx(r#"{"device": "desktop"}"#);
    let d = decide_with(&e, &["a"], &desktop, Visitor::ANONYMOUS);
    assert_eq!(d[0].items, [2]); // 0 and 1 need mobile
    assert_eq!(d[0].reason, Reason::Featured);
    let mobile = ctx(r#"{"device": "mobile"}"#);
    let d = decide_with(&e, &["a"], &mobile, Visitor::ANONYMOUS);
    assert_eq!(d[0].items, [0]);
    assert_eq!(d[0].matched, [0]);
}

#[test]
fn exclude_beats_pin_and_pin_beats_order() {
    let mut b = shop();
    b.slots[0].rules = vec![
        rule("pin-5", None, Action::Pin, &[5]),
        rule(
            "no-hats",
            Some(r#"{"hatsOff": true}"#),
            Action::Exclude,
            &[5],
        ),
    ];
    let e = engine(b);
    let d = decide_with(&e, &["a"], &Value::Null, Visitor::ANONYMOUS);
    assert_eq!(
        (d[0].items.as_slice(), d[0].reason),
        (&[5][..], Reason::Pinned)
    );
    assert_eq!(d[0].because, Some(0));
    let off = ctx(r#"{"hatsOff": true}"#);
    let d = decide_with(&e, &["a"], &off, Visitor::ANONYMOUS);
    assert_eq!(d[0].items, [0]);
    assert_eq!(d[0].reason, Reason::Featured);
}

#[test]
fn boosts_reorder_and_page_diversity_holds() {
    let mut b = shop();
    b.slots[1].rules = vec![rule("hats-up", None, Action::Boost(100.0), &[5])];
    let e = engine(b);
    let d = decide_with(&e, &["a", "b"], &Value::Null, Visitor::ANONYMOUS);
    // a takes item 0 (shoes); b: hat boosted first, then shoe 1 (the page's second
    // shoe), shoe 2 would be a third shoe (category cap 2), so bags come next.
    assert_eq!(d[0].items, [0]);
    assert_eq!(d[1].items, [5, 1, 3]);
}

#[test]
fn consent_gated_rules_are_skipped_without_consent() {
    let mut b = shop();
    let mut r = rule("vip", None, Action::Pin, &[4]);
    r.requires_personalization = true;
    b.slots[0].rules = vec![r];
    let e = engine(b);
    let d = decide_with(&e, &["a"], &Value::Null, Visitor::ANONYMOUS);
    assert_eq!(d[0].items, [0]);
    let consented = Visitor {
        consent: Consent::from_bits(0b111),
        ..Visitor::ANONYMOUS
    };
    let d = decide_with(&e, &["a"], &Value::Null, consented);
    assert_eq!(d[0].items, [4]);
}

#[test]
fn session_facts_feed_conditions_and_purchases_are_suppressed() {
    let mut b = shop();
    b.slots[0].rules = vec![rule(
        "bag-lovers",
        Some(r#"{"session.views.bags": {"$gte": 2}, "session.cartValue": {"$gt": 10}}"#),
        Action::Pin,
        &[3, 4],
    )];
    let e = engine(b);
    let mut s = Session::new(7, 1_000);
    let bags = e.category_index("bags").unwrap();
    s.track(&Event::new(EventKind::View).category(bags), 1_000);
    s.track(&Event::new(EventKind::View).category(bags), 1_010);
    s.track(
        &Event::new(EventKind::AddToCart).item(0).value(1_999),
        1_020,
    );
    s.track(&Event::new(EventKind::Purchase).item(3), 1_030);
    s.track(
        &Event::new(EventKind::AddToCart).item(1).value(2_500),
        1_040,
    );
    let visitor = Visitor {
        session: Some(&s),
        now: 1_050,
        ..Visitor::ANONYMOUS
    };
    let d = decide_with(&e, &["a"], &Value::Null, visitor);
    // Item 3 was bought: the pin moves on to item 4.
    assert_eq!(d[0].items, [4]);
    assert_eq!(d[0].reason, Reason::Pinned);
}

#[test]
fn experiments_assign_like_growthbook_and_holdout_gets_defaults() {
    let mut b = shop();
    b.experiments = vec![ExperimentDef {
        key: "hero-test".into(),
        seed: "hero-test".into(),
        hash_version: 2,
        coverage: 1.0,
        weights: vec![0.34, 0.33, 0.33],
        namespace: None,
        variations: vec![
            Variation {
                name: "personalized".into(),
                effect: Effect::Personalized,
            },
            Variation {
                name: "control".into(),
                effect: Effect::Default,
            },
            Variation {
                name: "alt".into(),
                effect: Effect::Pin(5),
            },
        ],
    }];
    b.slots[0].experiment = Some(0);
    let e = engine(b.clone());
    let mut seen = [0usize; 3];
    for n in 0..300 {
        let id = format!("visitor-{n}");
        let expected = b.experiments[0].assign(&id).unwrap().variation;
        let visitor = Visitor {
            id: &id,
            ..Visitor::ANONYMOUS
        };
        let d = decide_with(&e, &["a"], &Value::Null, visitor);
        assert_eq!(d[0].variant, Some((0, expected as u32)));
        let want = match expected {
            0 => (Reason::Featured, vec![0]),
            1 => (Reason::Control, vec![]),
            _ => (Reason::Experiment, vec![5]),
        };
        assert_eq!((d[0].reason, d[0].items.clone()), want);
        seen[expected] += 1;
    }
    assert!(seen.iter().all(|&n| n > 60), "{seen:?}");

    b.holdout = Some(Holdout {
        share: 0.5,
        seed: "lift".into(),
    });
    let e = engine(b.clone());
    let mut held = 0;
    for n in 0..200 {
        let id = format!("visitor-{n}");
        let visitor = Visitor {
            id: &id,
            ..Visitor::ANONYMOUS
        };
        let d = decide_with(&e, &["a", "b"], &Value::Null, visitor);
        if b.holdout.as_ref().unwrap().holds_out(&id) {
            held += 1;
            assert!(d.iter().all(|d| d.reason == Reason::Holdout && d.content.unwrap().id == "hero-default"));
        } else {
            assert!(d.iter().all(|d| d.reason != Reason::Holdout));
        }
    }
    assert!((70..130).contains(&held), "{held}");
}

#[test]
fn model_slots_recommend_from_the_session_and_explain_it() {
    let mut b = shop();
    b.slots[0].strategy = Strategy::Model;
    b.slots[0].candidates.clear(); // any item
    // Item 0 is followed by item 4; popularity favours item 2.
    let mut lists = vec![Vec::new(); 6];
    lists[0] = vec![(4u32, 1.0f32, 1.0f32)];
    b.model = Model::from_lists(&[0.1, 0.1, 0.9, 0.1, 0.1, 0.1], &lists);
    let e = engine(b);
    let d = decide_with(&e, &["a"], &Value::Null, Visitor::ANONYMOUS);
    assert_eq!(d[0].reason, Reason::Popular);
    let mut s = Session::new(1, 0);
    s.track(&Event::new(EventKind::View).item(0), 0);
    let visitor = Visitor {
        session: Some(&s),
        ..Visitor::ANONYMOUS
    };
    let d = decide_with(&e, &["a"], &Value::Null, visitor);
    assert_eq!(d[0].reason, Reason::Recommended);
    assert_eq!(
        e.explain(d[0].slot_index, d[0].reason, d[0].because),
        "Because you viewed Item 0."
    );
}

#[test]
fn unknown_slots_and_ids() {
    let e = engine(shop());
    let d = decide_with(&e, &["a", "nope"], &Value::Null, Visitor::ANONYMOUS);
    assert_eq!(d[1].reason, Reason::UnknownSlot);
    assert_eq!(d[1].content, None);
    assert_ne!(d[0].id, d[1].id);
    assert_eq!(d[0].id_hex().len(), 16);
}

/// Conditions read the visitor facts the engine supplies (`session`, `consent`), which
/// shadow context keys of those names, and the context's own attributes, however
/// many rules share a test.
#[test]
fn conditions_read_session_consent_and_context_and_facts_shadow_the_context() {
    let mut b = shop();
    b.slots[0].rules = vec![
        rule(
            "shoe-fans",
            Some(r#"{"session.views.shoes": {"$gte": 2}, "device": "mobile"}"#),
            Action::Include,
            &[0],
        ),
        rule(
            "consented",
            Some(r#"{"consent.personalization": true, "device": "mobile"}"#),
            Action::Include,
            &[1],
        ),
        rule(
            "session-object",
            Some(r#"{"session": {"$exists": true}}"#),
            Action::Include,
            &[2],
        ),
    ];
    let e = engine(b);
    assert_eq!(e.context_keys(), ["device"]);
    let mut session = Session::new(7, 1_700_000_000);
    session.set_vocabulary(e.vocabulary());
    let shoes = e.category_index("shoes").unwrap();
    for _ in 0..2 {
        session.track(&Event::new(EventKind::View).category(shoes), 1_700_000_000);
    }
    let visitor = |consent: Consent, session: Option<&'static Session>| Visitor {
        id: "v",
        session,
        profile: None,
        consent,
        now: 1_700_000_000,
        muted: &[],
    };
    let session: &'static Session = Box::leak(Box::new(session));
    // A context `session` that claims more views is ignored: the engine's wins.
    let mobile = ctx(r#"{"device": "mobile", "session": {"views": {"shoes": 99}}}"#);
    let all = Consent::from_bits(1 | 2);
    let d = decide_with(&e, &["a"], &mobile, visitor(all, Some(session)));
    assert_eq!(d[0].items, [0]);
    // Without the session's views, the consent rule decides.
    let d = decide_with(&e, &["a"], &mobile, visitor(all, None));
    assert_eq!(d[0].items, [1]);
    // On desktop only the session rule can match, and only with a session: the
    // context's `session` key does not count.
    let desktop = ctx(r#"{"device": "desktop", "session": {"views": {"shoes": 99}}}"#);
    let none = Consent::NECESSARY_ONLY;
    let d = decide_with(&e, &["a"], &desktop, visitor(none, Some(session)));
    assert_eq!(d[0].items, [2]);
    let d = decide_with(&e, &["a"], &desktop, visitor(none, None));
    assert_eq!(d[0].items, [3]);
}

/// The origin's journey claim (snippet field 16) puts its items first, in claim
/// order, where the slot admits them and they are eligible, with the `journey`
/// reason; without personalization consent it is ignored.
#[cfg(feature = "native-crypto")]
#[test]
fn journey_items_come_first_with_their_reason() {
    use slotwise::profile::{Claims, VerifiedSnippet};
    let mut b = shop();
    b.slots[1].rules = vec![rule("no-4", None, Action::Exclude, &[4])];
    let e = engine(b);
    let claims = Claims {
        vocabulary: slotwise::bundle::vocabulary(e.bundle()),
        journey: vec![4, 5, 3],
        ..Claims::default()
    };
    let profile = VerifiedSnippet::from_origin(claims);
    let visitor = Visitor {
        id: "v",
        session: None,
        profile: Some(&profile),
        consent: Consent::from_bits(0b0111),
        now: 1_800_000_000,
        muted: &[],
    };
    let d = decide_with(&e, &["b", "a"], &Value::Null, visitor);
    // Slot b (3 items) excludes item 4: 5 and 3 first, then the shop's order.
    assert_eq!(d[0].items, [5, 3, 0]);
    assert_eq!(d[0].reason, Reason::Journey);
    assert_eq!(
        e.explain(d[0].slot_index, d[0].reason, d[0].because),
        "Picked up where you left off."
    );
    // Slot a: item 4 is allowed there and not yet on the page.
    assert_eq!(
        (d[1].items.as_slice(), d[1].reason),
        (&[4][..], Reason::Journey)
    );
    assert_eq!(Reason::from_index(11), Some(Reason::Journey));
    assert_eq!(Reason::Journey.code(), "journey");
    // No personalization consent: the claim is not used.
    let d = decide_with(
        &e,
        &["b"],
        &Value::Null,
        Visitor {
            consent: Consent::from_bits(0b0101),
            ..visitor
        },
    );
    assert_eq!(d[0].reason, Reason::Featured);
}
