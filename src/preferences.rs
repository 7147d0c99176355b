//! The visitor's own choices, as the engine applies them: a **muted category is never
//! shown**, in any channel.
//!
//! Mutes reach the engine two ways, and either is enough:
//! - the profile snippet's [`crate::profile::Claims::muted`] (category indices, as the
//!   origin's preference centre recorded them for the identity cluster), used whenever
//!   the snippet verified and indexes this bundle's vocabulary — with or without
//!   `personalization` consent, since a mute only ever takes content away;
//! - [`crate::decide::Visitor::muted`]: categories muted on this device or by the
//!   server-side caller, applied at once, before the next snippet carries them.
//!
//! The engine asks [`is_muted`] for every candidate in its eligibility filter, so a
//! muted item is skipped like an excluded one: the slot falls back to the next
//! candidate, or to its default when none is left. An experiment arm that pins a
//! muted item is decided as the personalized arm instead.
//!
//! ```
//! use slotwise::bundle::Bundle;
//! use slotwise::decide::{Engine, Request, Visitor};
//! let engine = Engine::new(Bundle::example());
//! let shoes = engine.category_index("shoes").unwrap() as u16;
//! let visitor = Visitor { muted: &[shoes], ..Visitor::ANONYMOUS };
//! let d = engine.decide(&Request { visitor, ..Request::new(&["hero"], 7) });
//! // The only candidate is a shoe: the slot shows its default.
//! assert_eq!(d[0].reason.code(), "default");
//! assert!(d[0].items.is_empty());
//! ```

use crate::decide::{Engine, Visitor};
use crate::profile::VerifiedSnippet;

/// Whether `item`'s category is muted for `visitor` (on the device, or in a verified
/// snippet of this bundle's vocabulary).
pub fn is_muted(engine: &Engine, item: u32, visitor: &Visitor<'_>) -> bool {
    let snippet = visitor
        .profile
        .map(VerifiedSnippet::claims)
        .filter(|c| !c.muted.is_empty() && c.vocabulary == engine.vocabulary())
        .map_or(&[][..], |c| &c.muted[..]);
    if visitor.muted.is_empty() && snippet.is_empty() {
        return false;
    }
    let Some(category) = engine.item_category(item) else {
        return false;
    };
    let muted = |list: &[u16]| list.iter().any(|&c| u32::from(c) == category);
    muted(visitor.muted) || muted(snippet)
}
