//! The hand-written session codec against postcard's: the same bytes for random
//! sessions, and the same verdict on random and mutated bytes.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;

/// The body as serde derived it before the codec was written by hand (field order is
/// the format).
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct PostcardWire {
    seed: [u8; 8],
    vocabulary: u32,
    saved_min: u32,
    started_age_min: u32,
    cart_cents: u32,
    counts: Vec<CategoryCount>,
    events: Vec<PostcardEvent>,
    affinities: Vec<CategoryAffinity>,
    impressions: Vec<(CapScope, Vec<u32>)>,
    assignments: Vec<Assignment>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct PostcardEvent {
    kind: EventKind,
    item: Option<u32>,
    category: Option<u32>,
    value: Option<u32>,
    age_min: u32,
}

/// The session as the encoder sees it (ages relative to the last update).
fn to_wire(s: &Session) -> Wire {
    let age = |t: u32| s.updated_min.saturating_sub(t);
    Wire {
        seed: s.seed.to_le_bytes(),
        vocabulary: s.vocabulary,
        saved_min: s.updated_min,
        started_age_min: age(s.started_min),
        cart_cents: s.cart_cents,
        counts: s.counts.clone(),
        events: s
            .events
            .iter()
            .map(|e| WireEvent {
                kind: e.kind,
                item: e.item,
                category: e.category,
                value: e.value,
                age_min: age(e.at_min),
            })
            .collect(),
        affinities: s.affinities.clone(),
        impressions: s
            .impressions
            .iter()
            .map(|l| (l.scope, l.at_min.iter().map(|&t| age(t)).collect()))
            .collect(),
        assignments: s.assignments.clone(),
    }
}

fn to_postcard(w: &Wire) -> PostcardWire {
    PostcardWire {
        seed: w.seed,
        vocabulary: w.vocabulary,
        saved_min: w.saved_min,
        started_age_min: w.started_age_min,
        cart_cents: w.cart_cents,
        counts: w.counts.clone(),
        events: w
            .events
            .iter()
            .map(|e| PostcardEvent {
                kind: e.kind,
                item: e.item,
                category: e.category,
                value: e.value,
                age_min: e.age_min,
            })
            .collect(),
        affinities: w.affinities.clone(),
        impressions: w.impressions.clone(),
        assignments: w.assignments.clone(),
    }
}

/// What postcard makes of `bytes`, with the hand reader's length bounds applied.
fn postcard_read(bytes: &[u8]) -> Option<PostcardWire> {
    let w: PostcardWire = match postcard::take_from_bytes(bytes) {
        Ok((w, [])) => w,
        _ => return None,
    };
    let in_bounds = w.counts.len() <= MAX_COUNTS
        && w.events.len() <= MAX_EVENTS
        && w.affinities.len() <= MAX_AFFINITIES
        && w.impressions.len() <= MAX_IMPRESSION_SCOPES
        && w.impressions
            .iter()
            .all(|(_, a)| a.len() <= MAX_IMPRESSIONS_PER_SCOPE)
        && w.assignments.len() <= MAX_ASSIGNMENTS;
    in_bounds.then_some(w)
}

fn kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        (0u32..7).prop_map(EventKind::from_code),
        any::<u16>().prop_map(EventKind::Custom),
    ]
}

fn scope() -> impl Strategy<Value = CapScope> {
    prop_oneof![
        any::<u32>().prop_map(CapScope::Item),
        any::<u32>().prop_map(CapScope::Slot),
        any::<u32>().prop_map(CapScope::Campaign),
    ]
}

fn wire() -> impl Strategy<Value = Wire> {
    let event = (
        kind(),
        any::<Option<u32>>(),
        any::<Option<u32>>(),
        any::<Option<u32>>(),
        any::<u32>(),
    )
        .prop_map(|(kind, item, category, value, age_min)| WireEvent {
            kind,
            item,
            category,
            value,
            age_min,
        });
    let count = (any::<u32>(), any::<u16>(), any::<u16>()).prop_map(|(category, views, carts)| {
        CategoryCount {
            category,
            views,
            carts,
        }
    });
    let affinity = (any::<u32>(), any::<u16>())
        .prop_map(|(category, score)| CategoryAffinity { category, score });
    let assignment = (any::<u32>(), any::<u8>()).prop_map(|(experiment, variant)| Assignment {
        experiment,
        variant,
    });
    (
        any::<[u8; 8]>(),
        any::<[u32; 4]>(),
        prop::collection::vec(count, 0..=MAX_COUNTS),
        prop::collection::vec(event, 0..=MAX_EVENTS),
        prop::collection::vec(affinity, 0..=MAX_AFFINITIES),
        prop::collection::vec(
            (
                scope(),
                prop::collection::vec(any::<u32>(), 0..=MAX_IMPRESSIONS_PER_SCOPE),
            ),
            0..=MAX_IMPRESSION_SCOPES,
        ),
        prop::collection::vec(assignment, 0..=MAX_ASSIGNMENTS),
    )
        .prop_map(
            |(
                seed,
                [vocabulary, saved_min, started_age_min, cart_cents],
                counts,
                events,
                affinities,
                impressions,
                assignments,
            )| Wire {
                seed,
                vocabulary,
                saved_min,
                started_age_min,
                cart_cents,
                counts,
                events,
                affinities,
                impressions,
                assignments,
            },
        )
}

fn postcard_bytes(w: &Wire) -> Vec<u8> {
    postcard::to_allocvec(&to_postcard(w)).unwrap()
}

/// What a visitor may do to a session, for random histories.
#[derive(Clone, Debug)]
enum Op {
    Track(EventKind, Option<u32>, Option<u32>, Option<u32>),
    Impression(Vec<CapScope>),
    Assign(u32, u8),
    Vocabulary(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (kind(), prop::option::of(0u32..50), prop::option::of(0u32..30), any::<Option<u32>>())
            .prop_map(|(k, i, c, v)| Op::Track(k, i, c, v)),
        2 => prop::collection::vec(scope(), 1..4).prop_map(Op::Impression),
        1 => (0u32..20, any::<u8>()).prop_map(|(e, v)| Op::Assign(e, v)),
        1 => any::<u32>().prop_map(Op::Vocabulary),
    ]
}

fn session_after(seed: u64, ops: &[(Op, u16)]) -> Session {
    let mut now = 1_800_000_000;
    let mut s = Session::new(seed, now);
    for (op, dt) in ops {
        now += u64::from(*dt) * 7;
        match op {
            Op::Track(kind, item, category, value) => {
                let mut e = Event::new(*kind);
                e.item = *item;
                e.category = *category;
                e.value = *value;
                s.track(&e, now);
            }
            Op::Impression(scopes) => s.record_impression(scopes, now),
            Op::Assign(e, v) => {
                s.assign(*e, *v);
            }
            Op::Vocabulary(v) => s.set_vocabulary(*v),
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_hand_encoder_writes_postcards_bytes(
        seed in any::<u64>(),
        ops in prop::collection::vec((op(), any::<u16>()), 0..80),
    ) {
        let s = session_after(seed, &ops);
        let bytes = encode_raw(&s);
        prop_assert_eq!(&bytes[..PREFIX_LEN], b"SWS1\x01");
        prop_assert_eq!(&bytes[PREFIX_LEN..], &postcard_bytes(&to_wire(&s))[..]);
        prop_assert_eq!(decode(&bytes), Ok(s));
    }

    #[test]
    fn the_hand_decoder_reads_postcards_bytes(w in wire()) {
        prop_assert_eq!(read_wire(&postcard_bytes(&w)), Ok(w));
    }

    #[test]
    fn mutated_bytes_get_postcards_verdict(
        w in wire(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = postcard_bytes(&w);
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let hand = read_wire(&bytes).ok();
        prop_assert_eq!(hand.as_ref().map(to_postcard), postcard_read(&bytes));
    }

    #[test]
    fn random_bytes_get_postcards_verdict(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(read_wire(&bytes).ok().as_ref().map(to_postcard), postcard_read(&bytes));
    }
}

#[test]
fn overlong_varints_are_refused_like_postcard() {
    // seed, vocabulary as a 5-byte varint whose last byte overflows a u32, then three
    // zero u32s and five empty sequences.
    let mut bytes = vec![0; 8];
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x10]);
    bytes.extend_from_slice(&[0; 8]);
    assert!(postcard_read(&bytes).is_none());
    assert!(read_wire(&bytes).is_err());
    bytes[12] = 0x0f;
    assert!(postcard_read(&bytes).is_some());
    assert!(read_wire(&bytes).is_ok());
}
