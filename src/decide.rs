//! The engine: a page request in, one decision per requested slot out.
//!
//! Today a decision is the slot's default content; the rules, model and visitor
//! issues grow the pipeline (filter → score → boost/pin → caps → diversity →
//! exploration). What never changes: every requested slot gets a decision, every
//! decision carries an id and a reason, and nothing in here can fail.

use crate::bundle::{Bundle, Content};
use crate::hex::splitmix64;

/// Why a slot got what it got: a stable machine code plus a human sentence.
///
/// The discriminant is stable too: bindings pass it as a small number.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Reason {
    /// Nothing more specific applied: the slot's default content.
    Default = 0,
    /// The bundle has no slot by that name; the page keeps its own markup.
    UnknownSlot = 1,
}

impl Reason {
    /// Every reason, indexed by its discriminant.
    pub const ALL: [Reason; 2] = [Reason::Default, Reason::UnknownSlot];

    /// The reason with discriminant `n`, if any.
    pub fn from_index(n: u32) -> Option<Reason> {
        Reason::ALL.get(n as usize).copied()
    }

    /// Stable machine code (`default`, `unknown_slot`).
    pub fn code(self) -> &'static str {
        match self {
            Reason::Default => "default",
            Reason::UnknownSlot => "unknown_slot",
        }
    }

    /// A short sentence a site may show under "why am I seeing this".
    pub fn text(self) -> &'static str {
        match self {
            Reason::Default => "This is what everyone sees here.",
            Reason::UnknownSlot => "This slot is not personalized.",
        }
    }
}

/// What the page asks for.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Slot names, in page order.
    pub slots: &'a [&'a str],
    /// Random per page view (from the host's crypto): decision ids derive from it.
    pub seed: u64,
}

/// The outcome for one slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision<'a> {
    /// The slot name as requested.
    pub slot: &'a str,
    /// Unique per page view and slot; signals refer to it.
    pub id: u64,
    /// Index into the bundle's content library; `None` keeps the page's own markup.
    pub content_index: Option<u32>,
    /// What to show (the content at `content_index`).
    pub content: Option<&'a Content>,
    /// Why.
    pub reason: Reason,
}

/// A decoded bundle, ready to decide. Cheap to share; deciding never mutates it.
#[derive(Clone, Debug)]
pub struct Engine {
    bundle: Bundle,
}

impl Engine {
    /// Wraps a bundle that [`crate::bundle::decode`] validated.
    pub fn new(bundle: Bundle) -> Engine {
        Engine { bundle }
    }

    /// The bundle this engine decides with.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The names of every slot the bundle declares, in authoring order.
    pub fn slot_names(&self) -> Vec<&str> {
        self.bundle.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// One decision per requested slot, in request order.
    pub fn decide<'a>(&'a self, request: &Request<'a>) -> Vec<Decision<'a>> {
        request
            .slots
            .iter()
            .enumerate()
            .map(|(i, &name)| {
                let id = splitmix64(request.seed ^ splitmix64(i as u64));
                match self.bundle.slot(name) {
                    Some(slot) => Decision {
                        slot: name,
                        id,
                        content_index: Some(slot.default_content),
                        content: self.bundle.content.get(slot.default_content as usize),
                        reason: Reason::Default,
                    },
                    None => Decision {
                        slot: name,
                        id,
                        content_index: None,
                        content: None,
                        reason: Reason::UnknownSlot,
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_unknown_slots() {
        let engine = Engine::new(Bundle::example());
        let d = engine.decide(&Request {
            slots: &["hero", "nope"],
            seed: 1,
        });
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].content.unwrap().id, "hero-default");
        assert_eq!(d[0].reason, Reason::Default);
        assert_eq!(d[1].content, None);
        assert_eq!(d[1].reason.code(), "unknown_slot");
        assert_ne!(d[0].id, d[1].id);
    }

    #[test]
    fn ids_depend_on_seed() {
        let engine = Engine::new(Bundle::example());
        let a = engine.decide(&Request {
            slots: &["hero"],
            seed: 1,
        });
        let b = engine.decide(&Request {
            slots: &["hero"],
            seed: 2,
        });
        assert_ne!(a[0].id, b[0].id);
    }
}
