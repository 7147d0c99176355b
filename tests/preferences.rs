//! The preference centre in the engine: a muted category is never shown, whether the
//! mute comes from the device (`Visitor::muted`) or the snippet (`Claims::muted`),
//! with or without personalization consent; the slot falls back to the next
//! candidate, then to its default.
#![cfg(not(target_arch = "wasm32"))]

use slotwise::bundle::{self, Bundle, Content, Item, Slot, Strategy};
use slotwise::consent::Consent;
use slotwise::decide::{Engine, Reason, Request, Visitor};
use slotwise::experiment::{Effect, ExperimentDef, Variation};
use slotwise::profile::{Claims, VerifiedSnippet};
use slotwise::rules::{Action, Rule};
use slotwise::score::Model;

/// Six items: shoes 0–2, bags 3–4, hats 5. Slot `a` (priority, one item) lists them
/// in order, `b` (priority, three) too, `m` is a model slot of four.
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
    let mut three = Slot::new("b", 0);
    three.candidates = (0..6).collect();
    three.count = 3;
    let mut m = Slot::new("m", 0);
    m.strategy = Strategy::Model;
    m.count = 4;
    b.slots = vec![a, three, m];
    // Shoes are the most popular: the model's first picks without a session.
    b.model = Model::from_lists(&[9.0, 8.0, 7.0, 3.0, 2.0, 1.0], &vec![Vec::new(); 6]);
    b
}

fn engine(b: Bundle) -> Engine {
    Engine::new(bundle::decode(&bundle::encode(&b)).unwrap())
}

fn decide<'a>(e: &'a Engine, slots: &'a [&'a str], visitor: Visitor<'a>) -> Vec<Vec<u32>> {
    let d = e.decide(&Request {
        visitor,
        ..Request::new(slots, 42)
    });
    d.into_iter().map(|d| d.items).collect()
}

fn category(e: &Engine, name: &str) -> u16 {
    e.category_index(name).unwrap() as u16
}

fn shown_categories(e: &Engine, items: &[Vec<u32>]) -> Vec<u32> {
    items
        .iter()
        .flatten()
        .map(|&i| e.item_category(i).unwrap())
        .collect()
}

#[test]
fn a_muted_category_falls_back_to_the_next_candidate_in_every_slot() {
    let e = engine(shop());
    let before = decide(&e, &["a", "b", "m"], Visitor::ANONYMOUS);
    assert_eq!(before[0], [0], "the first shoe");
    let shoes = category(&e, "shoes");
    assert!(shown_categories(&e, &before).contains(&u32::from(shoes)));

    let muted = [shoes];
    let visitor = Visitor {
        muted: &muted,
        ..Visitor::ANONYMOUS
    };
    let after = decide(&e, &["a", "b", "m"], visitor);
    assert_eq!(after[0], [3], "the next candidate: the first bag");
    assert_eq!(after[1], [4, 5], "the rest of the page, no shoe");
    assert_eq!(after[2], [] as [u32; 0], "nothing left for the model slot");
    assert!(!shown_categories(&e, &after).contains(&u32::from(shoes)));
    // The model slot alone (nothing placed before it) ranks the bags and the hat.
    assert_eq!(decide(&e, &["m"], visitor)[0], [3, 4, 5]);
}

#[test]
fn the_slot_default_when_every_candidate_is_muted() {
    let e = engine(shop());
    let muted = [
        category(&e, "shoes"),
        category(&e, "bags"),
        category(&e, "hats"),
    ];
    let d = e.decide(&Request {
        visitor: Visitor {
            muted: &muted,
            ..Visitor::ANONYMOUS
        },
        ..Request::new(&["a", "m"], 1)
    });
    for d in &d {
        assert!(d.items.is_empty());
        assert_eq!(d.reason, Reason::Default);
        assert_eq!(d.content.unwrap().id, "hero-default");
    }
}

#[test]
fn a_pin_rule_cannot_show_a_muted_item() {
    let mut b = shop();
    b.slots[0].rules = vec![Rule {
        id: "pin-shoe".into(),
        when: None,
        action: Action::Pin,
        items: vec![1],
        requires_personalization: false,
        text: None,
    }];
    let e = engine(b);
    assert_eq!(decide(&e, &["a"], Visitor::ANONYMOUS)[0], [1]);
    let muted = [category(&e, "shoes")];
    let visitor = Visitor {
        muted: &muted,
        ..Visitor::ANONYMOUS
    };
    assert_eq!(decide(&e, &["a"], visitor)[0], [3]);
}

#[test]
fn an_experiment_arm_cannot_pin_a_muted_item() {
    let mut b = shop();
    b.experiments = vec![ExperimentDef {
        key: "pin-hat".into(),
        seed: "pin-hat".into(),
        hash_version: 2,
        coverage: 1.0,
        weights: Vec::new(),
        namespace: None,
        // Both arms pin the hat (an experiment has at least two).
        variations: ["hat", "hat-too"]
            .map(|name| Variation {
                name: name.into(),
                effect: Effect::Pin(5),
            })
            .to_vec(),
    }];
    b.slots[0].experiment = Some(0);
    let e = engine(b);
    let someone = Visitor {
        id: "visitor-1",
        ..Visitor::ANONYMOUS
    };
    let d = e.decide(&Request {
        visitor: someone,
        ..Request::new(&["a"], 3)
    });
    assert_eq!(
        (d[0].items.as_slice(), d[0].reason),
        (&[5][..], Reason::Experiment)
    );
    let muted = [category(&e, "hats")];
    let d = e.decide(&Request {
        visitor: Visitor {
            muted: &muted,
            ..someone
        },
        ..Request::new(&["a"], 3)
    });
    assert_eq!(d[0].items, [0], "decided as usual: the first shoe");
    assert!(d[0].variant.is_some(), "still in the arm, for the analysis");
}

#[test]
fn the_snippets_mutes_apply_with_or_without_consent_and_only_for_its_vocabulary() {
    let e = engine(shop());
    let hats_and_shoes = vec![category(&e, "hats"), category(&e, "shoes")];
    let snippet = |vocabulary: u32| {
        VerifiedSnippet::from_origin(Claims {
            vocabulary,
            muted: hats_and_shoes.clone(),
            ..Claims::default()
        })
    };
    let ours = snippet(e.vocabulary());
    for consent in [Consent::NECESSARY_ONLY, Consent::from_bits(1 | 2 | 4)] {
        let visitor = Visitor {
            profile: Some(&ours),
            consent,
            ..Visitor::ANONYMOUS
        };
        let d = decide(&e, &["a", "b", "m"], visitor);
        assert_eq!(d[0], [3], "{consent:?}");
        assert_eq!(d[1], [4], "{consent:?}");
        assert!(d[2].is_empty(), "{consent:?}");
    }
    // A snippet of another vocabulary: its indices mean nothing here.
    let other = snippet(e.vocabulary() ^ 1);
    let visitor = Visitor {
        profile: Some(&other),
        ..Visitor::ANONYMOUS
    };
    assert_eq!(decide(&e, &["a"], visitor)[0], [0]);
}
