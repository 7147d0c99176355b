//! The priority walk against a plain reference: on random bundles of priority slots
//! (shared condition atoms, multi-word candidate lists, exclude rules, consent-gated
//! rules, items in several slots) and random pages, every slot shows the first
//! `count` candidates not yet on the page whose rules pass when each condition is
//! evaluated on its own (`Cond::eval` over the whole document) — what the engine
//! must decide however it plans, orders, memoizes and sieves the work.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use slotwise::bundle::{self, Bundle, Content, Item, Slot};
use slotwise::consent::Consent;
use slotwise::decide::{Engine, PageScratch, Request, Visitor};
use slotwise::rules::compile::{Dialect, GroupNames, compile};
use slotwise::rules::{Action, Cond, Json, Rule, SavedGroups, Value};
use slotwise::session::{Event, EventKind, Session};

const ITEMS: u32 = 90;
const CATEGORIES: [&str; 3] = ["c0", "c1", "c2"];

/// The atoms candidates draw from: few, so that many candidates share them.
const ATOMS: [&str; 10] = [
    r#""device": "mobile""#,
    r#""device": "desktop""#,
    r#""tier": {"$in": ["gold", "silver"]}"#,
    r#""cart": {"$gt": 50}"#,
    r#""cart": {"$lte": 20}"#,
    r#""path": {"$regex": "^/(shop|sale)"}"#,
    r#""app": {"$vgte": "2.4.0"}"#,
    r#""session.views.c0": {"$gte": 2}"#,
    r#""session.views.c1": {"$gte": 1}"#,
    r#""tier": "none""#,
];

fn compiled(atoms: &[usize]) -> Option<Cond> {
    if atoms.is_empty() {
        return None;
    }
    let text = format!(
        "{{{}}}",
        atoms
            .iter()
            .map(|&a| ATOMS[a])
            .collect::<Vec<_>>()
            .join(",")
    );
    let Json(v) = serde_json::from_str(&text).unwrap();
    Some(compile(&v, &GroupNames::default(), Dialect::Strict).unwrap())
}

/// One candidate: its item, its include atoms, and rarely an exclude rule or a
/// consent requirement (candidates the sieve must leave to the rules).
#[derive(Clone, Debug)]
struct Candidate {
    item: u32,
    include: Vec<usize>,
    exclude: Option<Vec<usize>>,
    personal: bool,
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        0..ITEMS,
        prop::collection::vec(0..ATOMS.len(), 0..5),
        prop::option::weighted(0.1, prop::collection::vec(0..ATOMS.len(), 1..3)),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(item, include, exclude, personal)| Candidate {
            item,
            include,
            exclude,
            personal,
        })
}

fn slot() -> impl Strategy<Value = (Vec<Candidate>, u8)> {
    (prop::collection::vec(candidate(), 1..140), 1u8..3).prop_map(|(mut cs, count)| {
        let mut seen = Vec::new();
        cs.retain(|c| {
            let fresh = !seen.contains(&c.item);
            seen.push(c.item);
            fresh
        });
        (cs, count)
    })
}

fn bundle_of(slots: &[(Vec<Candidate>, u8)]) -> Bundle {
    let mut b = Bundle::example();
    b.page.category_cap = 0;
    b.model = slotwise::score::Model::default();
    b.items.clear();
    b.content.truncate(1);
    for i in 0..ITEMS {
        b.content.push(Content {
            id: format!("c{i}"),
            ..Content::default()
        });
        b.items.push(Item {
            id: format!("i{i}"),
            category: CATEGORIES[i as usize % 3].into(),
            content: i + 1,
        });
    }
    b.slots = slots
        .iter()
        .enumerate()
        .map(|(s, (cs, count))| {
            let mut slot = Slot::new(&format!("s{s}"), 0);
            slot.count = *count;
            slot.candidates = cs.iter().map(|c| c.item).collect();
            for (k, c) in cs.iter().enumerate() {
                slot.rules.push(Rule {
                    id: format!("r{k}"),
                    when: compiled(&c.include),
                    action: Action::Include,
                    items: vec![c.item],
                    requires_personalization: c.personal,
                    text: None,
                });
                if let Some(ex) = &c.exclude {
                    slot.rules.push(Rule {
                        id: format!("x{k}"),
                        when: compiled(ex),
                        action: Action::Exclude,
                        items: vec![c.item],
                        requires_personalization: false,
                        text: None,
                    });
                }
            }
            slot
        })
        .collect();
    b
}

/// A page: its context attributes and the categories viewed in the session.
fn page() -> impl Strategy<Value = (Value, Vec<u32>)> {
    (
        prop::sample::select(vec!["mobile", "desktop", "tablet"]),
        prop::sample::select(vec!["gold", "silver", "none", "platinum"]),
        0.0..100.0f64,
        prop::sample::select(vec!["/", "/shop/x", "/sale", "/p/1"]),
        prop::sample::select(vec!["1.9.0", "2.4.0", "2.10.1", "3.0.0"]),
        prop::collection::vec(0..3u32, 0..6),
        // The attributes' order and presence vary, as a page's own context does.
        (prop::bool::ANY, 0..8usize),
    )
        .prop_map(|(device, tier, cart, path, app, views, (reversed, drop))| {
            let mut pairs = vec![
                ("device".into(), Value::str(device)),
                ("tier".into(), Value::str(tier)),
                ("cart".into(), Value::Number(cart.round())),
                ("path".into(), Value::str(path)),
                ("app".into(), Value::str(app)),
            ];
            if drop < pairs.len() {
                pairs.remove(drop);
            }
            if reversed {
                pairs.reverse();
            }
            (Value::object(pairs), views)
        })
}

/// What every slot must show, decided candidate by candidate with `Cond::eval`.
fn reference(slots: &[(Vec<Candidate>, u8)], context: &Value, views: &[u32]) -> Vec<Vec<u32>> {
    let Value::Object(mut doc) = context.clone() else {
        unreachable!()
    };
    let counts = CATEGORIES
        .iter()
        .enumerate()
        .map(|(c, name)| (name, views.iter().filter(|&&v| v == c as u32).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| ((*name).to_string(), Value::Number(n as f64)))
        .collect();
    doc.push((
        "session".into(),
        Value::Object(vec![("views".into(), Value::Object(counts))]),
    ));
    let doc = Value::Object(doc);
    let holds =
        |atoms: &[usize]| compiled(atoms).is_none_or(|c| c.eval(&doc, &SavedGroups::default()));
    let mut placed: Vec<u32> = Vec::new();
    slots
        .iter()
        .map(|(cs, count)| {
            let shown: Vec<u32> = cs
                .iter()
                .filter(|c| !placed.contains(&c.item))
                .filter(|c| !c.personal && holds(&c.include))
                .filter(|c| c.exclude.as_ref().is_none_or(|ex| !holds(ex)))
                .map(|c| c.item)
                .take(usize::from(*count))
                .collect();
            placed.extend(&shown);
            shown
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_walk_shows_the_first_eligible_candidates(
        slots in prop::collection::vec(slot(), 1..4),
        pages in prop::collection::vec(page(), 1..6),
    ) {
        let bytes = bundle::encode(&bundle_of(&slots));
        let engine = Engine::new(bundle::decode(&bytes).unwrap());
        let names: Vec<String> = (0..slots.len()).map(|s| format!("s{s}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        // One page's memory reused by the next (as the wasm engine keeps it) decides
        // exactly as fresh memory does.
        let mut scratch = PageScratch::default();
        for (context, views) in &pages {
            let now = 1_800_000_000;
            let mut session = Session::new(7, now);
            session.set_vocabulary(engine.vocabulary());
            for &c in views {
                session.track(&Event::new(EventKind::View).category(c), now);
            }
            let request = Request {
                slots: &names,
                seed: 1,
                context,
                visitor: Visitor {
                    id: "v",
                    session: Some(&session),
                    profile: None,
                    consent: Consent::NECESSARY_ONLY,
                    now,
                    muted: &[],
                },
            };
            let fresh = engine.decide(&request);
            prop_assert_eq!(&engine.decide_reusing(&request, &mut scratch), &fresh);
            let got: Vec<Vec<u32>> = fresh.into_iter().map(|d| d.items).collect();
            prop_assert_eq!(got, reference(&slots, context, views), "context {:?}, views {:?}", context, views);
        }
    }
}
