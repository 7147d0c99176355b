//! The bundle: everything a runtime needs to decide, in one binary file.
//!
//! Wire layout (`SWB1`): `b"SWB1"` magic, one version byte ([`VERSION`]), then the
//! postcard encoding of [`Bundle`]. Field order below *is* the postcard order: do not
//! reorder fields without bumping [`VERSION`]. Strings are UTF-8; references between
//! sections are `u32` indices, checked by [`decode`] so the engine never bounds-fails.
//!
//! [`decode`] reads the body by hand ([`read`], over [`crate::wire`]): serde's derived
//! postcard decoders were the largest part of the browser module. The serde derives
//! stay for [`encode`], the CLI and the tests that compare the two decoders.
//!
//! The authoring form is a directory of JSON compiled by `slotwise bundle build`
//! (crate `slotwise-origin`); the runtime never parses JSON.

use serde::{Deserialize, Serialize};

use crate::caps::{Cap, CapScope};
use crate::error::{Error, ErrorKind};
use crate::experiment::{Effect, ExperimentDef, Holdout};
use crate::rules::{Rule, SavedGroups};
use crate::wire::{Fail, Reader};

pub mod read;

/// The four magic bytes every bundle starts with.
pub const MAGIC: [u8; 4] = *b"SWB1";
/// The format version this build reads and writes.
pub const VERSION: u8 = 1;
/// Largest bundle accepted by [`decode`], in bytes.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// Length of magic + version.
pub const PREFIX_LEN: usize = 5;

/// A decoded, validated bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// Who made it and when (postcard field 1).
    pub header: Header,
    /// Page slots, in authoring order (field 2).
    pub slots: Vec<Slot>,
    /// Catalogue items that slots may show (field 3).
    pub items: Vec<Item>,
    /// Channel-agnostic content library (field 4).
    pub content: Vec<Content>,
    /// The scoring model (field 5): priors, neighbour lists and embeddings over
    /// `items` (see [`crate::score::Model`] for its own field order). Empty = no model.
    pub model: crate::score::Model,
    /// Saved groups that conditions refer to by index (field 6).
    pub saved_groups: SavedGroups,
    /// Experiments that slots refer to by index (field 7).
    pub experiments: Vec<ExperimentDef>,
    /// The global holdout, if the site measures lift (field 8).
    pub holdout: Option<Holdout>,
    /// Frequency caps (field 9).
    pub caps: Vec<Cap>,
    /// Page-wide selection settings (field 10, last).
    pub page: PageSettings,
}

/// Page-wide selection: diversity across the slots of one page. Order: category_cap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageSettings {
    /// At most this many items of one category per page (0: no limit).
    pub category_cap: u8,
}

impl Default for PageSettings {
    fn default() -> Self {
        PageSettings { category_cap: 2 }
    }
}

/// How a slot ranks its eligible candidates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// Authoring order: the first eligible candidate wins (merchandising rules).
    #[default]
    Priority,
    /// The model's score for the visitor's session, plus rule boosts.
    Model,
}

/// Identity of a bundle. Order: id, created_at, site, key_id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Unique id of this build (content hash or release name).
    pub id: String,
    /// Unix seconds when it was compiled.
    pub created_at: u64,
    /// The site (audience) it is for.
    pub site: String,
    /// Id of the key that signs it ("" while unsigned).
    pub key_id: String,
}

/// A named place on a page. Order: name, default_content, candidates, rules, strategy,
/// count, experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// Name used in markup (`data-slotwise-slot`) and in `decide`.
    pub name: String,
    /// Index into [`Bundle::content`]: what the slot shows when nothing better applies.
    pub default_content: u32,
    /// Indices into [`Bundle::items`] that may fill this slot, in priority order.
    pub candidates: Vec<u32>,
    /// Rules, in the order they apply (see [`crate::rules::action`]).
    pub rules: Vec<Rule>,
    /// How eligible candidates are ranked.
    pub strategy: Strategy,
    /// How many items the slot shows (1 for a banner, more for a list).
    pub count: u8,
    /// Index into [`Bundle::experiments`] of the experiment this slot runs.
    pub experiment: Option<u32>,
}

impl Slot {
    /// A slot that shows `default_content` and nothing else until candidates and rules
    /// are added.
    pub fn new(name: &str, default_content: u32) -> Slot {
        Slot {
            name: name.into(),
            default_content,
            candidates: Vec::new(),
            rules: Vec::new(),
            strategy: Strategy::Priority,
            count: 1,
            experiment: None,
        }
    }
}

/// A catalogue item. Order: id, category, content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The site's item id (SKU, offer id...).
    pub id: String,
    /// Category name, used for affinities and diversity.
    pub category: String,
    /// Index into [`Bundle::content`].
    pub content: u32,
}

/// Channel-agnostic content. Order: id, title, body, image, link, cta, price.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// Content id, unique in the bundle.
    pub id: String,
    /// Headline.
    pub title: Option<String>,
    /// Body text (plain text; renderers escape it).
    pub body: Option<String>,
    /// Image URL.
    pub image: Option<String>,
    /// Link target URL.
    pub link: Option<String>,
    /// Call to action label.
    pub cta: Option<String>,
    /// Price, in the site's currency.
    pub price: Option<f64>,
}

impl Bundle {
    /// A tiny valid bundle (one `hero` slot, one item) for examples and tests.
    pub fn example() -> Bundle {
        Bundle {
            header: Header {
                id: "example".into(),
                created_at: 0,
                site: "example.com".into(),
                key_id: String::new(),
            },
            slots: vec![Slot {
                name: "hero".into(),
                default_content: 0,
                candidates: vec![0],
                rules: Vec::new(),
                strategy: Strategy::Priority,
                count: 1,
                experiment: None,
            }],
            items: vec![Item {
                id: "sku-1".into(),
                category: "shoes".into(),
                content: 1,
            }],
            content: vec![
                Content {
                    id: "hero-default".into(),
                    title: Some("Welcome".into()),
                    ..Content::default()
                },
                Content {
                    id: "sku-1".into(),
                    title: Some("Trail runner".into()),
                    ..Content::default()
                },
            ],
            model: crate::score::Model::from_lists(&[1.0], &[Vec::new()]),
            saved_groups: SavedGroups::default(),
            experiments: Vec::new(),
            holdout: None,
            caps: Vec::new(),
            page: PageSettings::default(),
        }
    }

    /// The slot called `name`, if the bundle has one.
    ///
    /// (Slots are few; a linear scan beats hashing at this size.)
    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == name)
    }
}

/// The fingerprint of the bundle's vocabulary — its items and their categories, in
/// order — that session state and profile snippets carry: indices from another
/// vocabulary are reset or ignored, never misread. (FNV-1a 32 over id, 0, category, 0
/// of every item.)
pub fn vocabulary(bundle: &Bundle) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |s: &str| {
        for b in s.bytes().chain([0]) {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    };
    for item in &bundle.items {
        eat(&item.id);
        eat(&item.category);
    }
    h
}

/// Encodes a bundle into `SWB1` bytes.
pub fn encode(bundle: &Bundle) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    // Serializing plain owned data into a Vec cannot fail.
    let body = postcard::to_allocvec(bundle).unwrap_or_default();
    out.extend_from_slice(&body);
    out
}

/// Decodes and validates `SWB1` bytes. Never panics on any input.
pub fn decode(bytes: &[u8]) -> Result<Bundle, Error> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "bundle exceeds the size limit",
        ));
    }
    if bytes.len() < PREFIX_LEN {
        if !MAGIC.starts_with(bytes) {
            return Err(Error::new(ErrorKind::BadMagic, "not a Slotwise bundle"));
        }
        return Err(Error::new(
            ErrorKind::Truncated,
            "bundle ends inside its header",
        ));
    }
    if bytes[..4] != MAGIC {
        return Err(Error::new(ErrorKind::BadMagic, "not a Slotwise bundle"));
    }
    if bytes[4] != VERSION {
        return Err(Error::new(
            ErrorKind::UnsupportedVersion,
            "bundle format version not supported by this runtime",
        ));
    }
    let bundle = match read::bundle(&mut Reader::new(&bytes[PREFIX_LEN..])) {
        Ok(b) => b,
        Err(Fail::End) => {
            return Err(Error::new(ErrorKind::Truncated, "bundle body is truncated"));
        }
        Err(Fail::Bad) => {
            return Err(Error::new(
                ErrorKind::Corrupt,
                "bundle body does not decode",
            ));
        }
    };
    validate(&bundle)?;
    Ok(bundle)
}

/// Checks every cross-reference the engine relies on, so deciding can never index out
/// of bounds. Runs on every [`decode`]; cheap and small enough for the wasm build.
pub fn validate(bundle: &Bundle) -> Result<(), Error> {
    let invalid = |detail| Err(Error::new(ErrorKind::Invalid, detail));
    let n_content = bundle.content.len();
    let n_items = bundle.items.len();
    for slot in &bundle.slots {
        if slot.name.is_empty() {
            return invalid("empty slot name");
        }
        if slot.default_content as usize >= n_content {
            return invalid("slot default refers to missing content");
        }
        if slot.candidates.iter().any(|&c| c as usize >= n_items) {
            return invalid("slot candidate refers to missing item");
        }
        if slot
            .rules
            .iter()
            .any(|r| r.items.iter().any(|&i| i as usize >= n_items))
        {
            return invalid("slot rule refers to missing item");
        }
        if slot
            .experiment
            .is_some_and(|e| e as usize >= bundle.experiments.len())
        {
            return invalid("slot refers to missing experiment");
        }
    }
    for e in &bundle.experiments {
        let pins_ok = e.variations.iter().all(|v| match v.effect {
            Effect::Pin(i) => (i as usize) < n_items,
            _ => true,
        });
        if !pins_ok {
            return invalid("experiment variation pins a missing item");
        }
    }
    let scope_ok = |scope: CapScope| match scope {
        CapScope::Item(i) => (i as usize) < n_items,
        CapScope::Slot(i) => (i as usize) < bundle.slots.len(),
        CapScope::Campaign(_) => true,
    };
    if !bundle.caps.iter().all(|c| scope_ok(c.scope)) {
        return invalid("cap refers to a missing item or slot");
    }
    if bundle.items.iter().any(|i| i.content as usize >= n_content) {
        return invalid("item refers to missing content");
    }
    crate::score::validate(&bundle.model, n_items)?;
    Ok(())
}

/// Checks that names and ids are unique. The builder runs it (with [`validate`]);
/// runtimes skip it to stay small: with duplicates the first entry wins, which is
/// safe, and a signed bundle comes from the builder anyway.
pub fn validate_unique(bundle: &Bundle) -> Result<(), Error> {
    let invalid = |detail| Err(Error::new(ErrorKind::Invalid, detail));
    if !all_unique(bundle.slots.iter().map(|s| s.name.as_str())) {
        return invalid("duplicate slot name");
    }
    if !all_unique(bundle.items.iter().map(|i| i.id.as_str())) {
        return invalid("duplicate item id");
    }
    if !all_unique(bundle.content.iter().map(|c| c.id.as_str())) {
        return invalid("duplicate content id");
    }
    Ok(())
}

fn all_unique<'a>(names: impl Iterator<Item = &'a str>) -> bool {
    let mut seen: Vec<&str> = names.collect();
    let before = seen.len();
    seen.sort_unstable();
    seen.dedup();
    seen.len() == before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let b = Bundle::example();
        assert_eq!(decode(&encode(&b)).unwrap(), b);
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let bytes = encode(&Bundle::example());
        for len in 0..bytes.len() {
            let err = decode(&bytes[..len]).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::Truncated | ErrorKind::Corrupt),
                "len {len}: {err}"
            );
        }
    }

    #[test]
    fn wrong_magic_and_version() {
        let mut bytes = encode(&Bundle::example());
        bytes[4] = 9;
        assert_eq!(
            decode(&bytes).unwrap_err().code(),
            "bundle.unsupported_version"
        );
        bytes[0] = b'X';
        assert_eq!(decode(&bytes).unwrap_err().code(), "bundle.bad_magic");
        assert_eq!(decode(b"GIF8").unwrap_err().code(), "bundle.bad_magic");
    }

    #[test]
    fn oversized_is_rejected_before_parsing() {
        let bytes = vec![0u8; MAX_BYTES + 1];
        assert_eq!(decode(&bytes).unwrap_err().code(), "bundle.too_large");
    }

    #[test]
    fn dangling_references_are_invalid() {
        let mut b = Bundle::example();
        b.slots[0].default_content = 99;
        assert_eq!(decode(&encode(&b)).unwrap_err().code(), "bundle.invalid");
        let mut b = Bundle::example();
        b.slots[0].candidates.push(5);
        assert_eq!(decode(&encode(&b)).unwrap_err().kind(), ErrorKind::Invalid);
        let mut b = Bundle::example();
        b.items.push(b.items[0].clone());
        assert_eq!(
            validate_unique(&b).unwrap_err().detail(),
            "duplicate item id"
        );
        // At runtime duplicates are tolerated (first wins), never a panic.
        let mut b = Bundle::example();
        b.content.push(b.content[0].clone());
        assert_eq!(
            validate_unique(&b).unwrap_err().detail(),
            "duplicate content id"
        );
        assert!(decode(&encode(&b)).is_ok());
        let mut b = Bundle::example();
        b.model.popular.push(1);
        assert_eq!(
            decode(&encode(&b)).unwrap_err().detail(),
            "model popular list refers to missing item"
        );
    }
}
