//! Rule actions: what a matching rule does to a slot's candidates.
//!
//! A slot's rules run in authoring order, each guarded by an optional condition
//! (`when`). Conflicts resolve the same way every time:
//!
//! 1. **Eligibility** — an item targeted by one or more `include` rules is eligible only
//!    when at least one of them matches; items no `include` rule targets are eligible.
//! 2. **Exclusion** — a matching `exclude` removes its items; exclusion beats
//!    everything, pins included.
//! 3. **Pin** — the first matching `pin` whose item is still eligible wins the slot
//!    outright (later pins are ignored).
//! 4. **Boost / bury** — every matching boost adds its amount to its items' scores and
//!    every bury subtracts; they add up.
//!
//! A rule marked `requires: "personalization"` is skipped (as if it did not match)
//! when the visitor has not consented to personalization.

use serde::{Deserialize, Serialize};

use super::Cond;

/// What a rule does when it matches. Postcard order of variants is the wire order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// Its items are eligible only when some include rule for them matches.
    Include,
    /// Its items are removed.
    Exclude,
    /// Its (first eligible) item wins the slot.
    Pin,
    /// Adds to its items' scores.
    Boost(f32),
    /// Subtracts from its items' scores.
    Bury(f32),
}

/// One rule of a slot. Order: id, when, action, items, requires_personalization, text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The author's id for it (reasons name it).
    pub id: String,
    /// When it applies (`None`: always).
    pub when: Option<Cond>,
    /// What it does.
    pub action: Action,
    /// Indices into the bundle's items it targets (empty: every candidate of the slot).
    pub items: Vec<u32>,
    /// Skipped without `personalization` consent.
    pub requires_personalization: bool,
    /// A sentence for "why am I seeing this" when this rule decided (optional).
    pub text: Option<String>,
}

impl Rule {
    /// Whether the rule targets `item`.
    pub fn targets(&self, item: u32) -> bool {
        self.items.is_empty() || self.items.contains(&item)
    }
}
