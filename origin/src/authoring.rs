//! Authoring JSON → [`slotwise::bundle::Bundle`].
//!
//! An authoring set is a directory of JSON files:
//!
//! | file           | holds                                                           |
//! |----------------|-----------------------------------------------------------------|
//! | `bundle.json`  | `{ "site", "holdout"?: {share, seed}, "page"?: {categoryCap}, "caps"?: [...] }` |
//! | `content.json` | `[{ "id", "title"?, "body"?, "image"?, "link"?, "cta"?, "price"? }]` |
//! | `items.json`   | `[{ "id", "category", "content"? }]` (`content` defaults to `id`) |
//! | `slots.json`   | `[{ "name", "default", "candidates"?, "rules"?, "strategy"?, "count"?, "experiment"? }]` |
//! | `experiments.json` (optional) | `[{ "key", "seed"?, "hashVersion"?, "coverage"?, "weights"?, "namespace"?, "variations" }]` |
//! | `groups.json` (optional) | GrowthBook saved groups: `{ "name": [values] }` |
//! | `journeys.json` (optional) | journeys the origin runs: see [`crate::journeys::definition`] |
//!
//! A rule is `{ "id", "when"?: condition, "action": "include" | "exclude" | "pin" |
//! "boost" | "bury", "amount"?, "items"?: [item ids], "requires"?: "personalization",
//! "text"? }`; conditions use GrowthBook's syntax and are compiled here (an invalid one
//! fails the build with its JSON path). A variation is `{ "name", "pin"?: item id,
//! "default"?: true }`. A cap is `{ "item" | "slot" | "campaign", "limit", "periodSecs" }`.
//!
//! Unknown fields, duplicate ids, a slot without a default and dangling references are
//! errors that name the file and the JSON path (`slots.json: [2].default: ...`), so a
//! mistake fails the build and never reaches a visitor.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use slotwise::bundle::{self, Bundle, Content, Header, Item, PageSettings, Slot, Strategy};
use slotwise::caps::{Cap, CapScope};
use slotwise::experiment::{Effect, ExperimentDef, Holdout, Variation};
use slotwise::rules::compile::{Dialect, GroupNames, compile, compile_saved_groups};
use slotwise::rules::{Action, Rule, SavedGroups};

/// A build failure, pointing at the file and JSON path at fault.
#[derive(Debug)]
pub struct AuthoringError {
    /// The file (relative to the authoring directory) at fault.
    pub file: String,
    /// JSON path inside the file (`[2].default`), empty for whole-file errors.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for AuthoringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == "." {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

impl std::error::Error for AuthoringError {}

fn err(file: &str, path: impl Into<String>, message: impl Into<String>) -> AuthoringError {
    AuthoringError {
        file: file.to_string(),
        path: path.into(),
        message: message.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteJson {
    site: String,
    holdout: Option<HoldoutJson>,
    page: Option<PageJson>,
    #[serde(default)]
    caps: Vec<CapJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldoutJson {
    share: f64,
    seed: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PageJson {
    category_cap: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CapJson {
    item: Option<String>,
    slot: Option<String>,
    campaign: Option<u32>,
    limit: u16,
    period_secs: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleJson {
    id: String,
    when: Option<slotwise::rules::Json>,
    action: ActionJson,
    amount: Option<f32>,
    #[serde(default)]
    items: Vec<String>,
    requires: Option<RequiresJson>,
    text: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum ActionJson {
    Include,
    Exclude,
    Pin,
    Boost,
    Bury,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RequiresJson {
    Personalization,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum StrategyJson {
    #[default]
    Priority,
    Model,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExperimentJson {
    key: String,
    seed: Option<String>,
    hash_version: Option<u8>,
    coverage: Option<f64>,
    #[serde(default)]
    weights: Vec<f64>,
    namespace: Option<(String, f64, f64)>,
    variations: Vec<VariationJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariationJson {
    name: String,
    pin: Option<String>,
    #[serde(default)]
    default: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentJson {
    id: String,
    title: Option<String>,
    body: Option<String>,
    image: Option<String>,
    link: Option<String>,
    cta: Option<String>,
    price: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemJson {
    id: String,
    category: String,
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotJson {
    name: String,
    default: String,
    #[serde(default)]
    candidates: Vec<String>,
    #[serde(default)]
    rules: Vec<RuleJson>,
    #[serde(default)]
    strategy: StrategyJson,
    count: Option<u8>,
    experiment: Option<String>,
}

/// Options that are not part of the authoring files.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Unix seconds stamped into the header (reproducible builds pass a fixed value).
    pub created_at: u64,
}

/// Reads an authoring directory and compiles it into a validated bundle.
pub fn build_dir(dir: &Path, options: &BuildOptions) -> Result<Bundle, AuthoringError> {
    let site: SiteJson = read_json(dir, "bundle.json")?;
    let content: Vec<ContentJson> = read_json(dir, "content.json")?;
    let items: Vec<ItemJson> = read_json(dir, "items.json")?;
    let slots: Vec<SlotJson> = read_json(dir, "slots.json")?;
    let experiments: Vec<ExperimentJson> = read_optional_json(dir, "experiments.json")?;
    let groups: Option<slotwise::rules::Json> = read_optional_json(dir, "groups.json")?;
    let (group_names, saved_groups) = match &groups {
        Some(slotwise::rules::Json(g)) => {
            compile_saved_groups(g).map_err(|e| err("groups.json", "", e.to_string()))?
        }
        None => (GroupNames::default(), SavedGroups::default()),
    };

    let content_index = index_ids(
        "content.json",
        "content id",
        content.iter().map(|c| c.id.as_str()),
    )?;
    let item_index = index_ids("items.json", "item id", items.iter().map(|i| i.id.as_str()))?;
    index_ids(
        "slots.json",
        "slot name",
        slots.iter().map(|s| s.name.as_str()),
    )?;

    let lookup = |index: &HashMap<&str, u32>, file: &str, path: String, what: &str, id: &str| {
        index
            .get(id)
            .copied()
            .ok_or_else(|| err(file, path, format!("no {what} with id {id:?}")))
    };

    let mut out_items = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if item.category.is_empty() {
            return Err(err(
                "items.json",
                format!("[{i}].category"),
                "must not be empty",
            ));
        }
        let content_id = item.content.as_deref().unwrap_or(&item.id);
        let content = lookup(
            &content_index,
            "items.json",
            format!("[{i}].content"),
            "content",
            content_id,
        )?;
        out_items.push(Item {
            id: item.id.clone(),
            category: item.category.clone(),
            content,
        });
    }

    let experiment_index = index_ids(
        "experiments.json",
        "experiment key",
        experiments.iter().map(|e| e.key.as_str()),
    )?;
    let mut out_experiments = Vec::with_capacity(experiments.len());
    for (i, e) in experiments.iter().enumerate() {
        if e.variations.len() < 2 {
            return Err(err(
                "experiments.json",
                format!("[{i}].variations"),
                "an experiment needs at least two variations",
            ));
        }
        if !e.weights.is_empty() && e.weights.len() != e.variations.len() {
            return Err(err(
                "experiments.json",
                format!("[{i}].weights"),
                "one weight per variation",
            ));
        }
        let hash_version = e.hash_version.unwrap_or(2);
        if !(1..=2).contains(&hash_version) {
            return Err(err(
                "experiments.json",
                format!("[{i}].hashVersion"),
                "hash version must be 1 or 2",
            ));
        }
        let mut variations = Vec::with_capacity(e.variations.len());
        for (j, v) in e.variations.iter().enumerate() {
            let effect = match (&v.pin, v.default) {
                (Some(_), true) => {
                    return Err(err(
                        "experiments.json",
                        format!("[{i}].variations[{j}]"),
                        "a variation either pins an item or shows the default, not both",
                    ));
                }
                (Some(id), false) => Effect::Pin(lookup(
                    &item_index,
                    "experiments.json",
                    format!("[{i}].variations[{j}].pin"),
                    "item",
                    id,
                )?),
                (None, true) => Effect::Default,
                (None, false) => Effect::Personalized,
            };
            variations.push(Variation {
                name: v.name.clone(),
                effect,
            });
        }
        out_experiments.push(ExperimentDef {
            key: e.key.clone(),
            seed: e.seed.clone().unwrap_or_default(),
            hash_version,
            coverage: e.coverage.unwrap_or(1.0).clamp(0.0, 1.0),
            weights: e.weights.clone(),
            namespace: e.namespace.clone(),
            variations,
        });
    }

    let mut out_slots = Vec::with_capacity(slots.len());
    for (i, slot) in slots.iter().enumerate() {
        if slot.name.is_empty() {
            return Err(err(
                "slots.json",
                format!("[{i}].name"),
                "must not be empty",
            ));
        }
        if slot.default.is_empty() {
            return Err(err(
                "slots.json",
                format!("[{i}].default"),
                "every slot needs default content",
            ));
        }
        let default_content = lookup(
            &content_index,
            "slots.json",
            format!("[{i}].default"),
            "content",
            &slot.default,
        )?;
        let mut candidates = Vec::with_capacity(slot.candidates.len());
        for (j, id) in slot.candidates.iter().enumerate() {
            candidates.push(lookup(
                &item_index,
                "slots.json",
                format!("[{i}].candidates[{j}]"),
                "item",
                id,
            )?);
        }
        let mut rules = Vec::with_capacity(slot.rules.len());
        for (k, rule) in slot.rules.iter().enumerate() {
            let at = format!("[{i}].rules[{k}]");
            let when = match &rule.when {
                Some(slotwise::rules::Json(json)) => {
                    Some(compile(json, &group_names, Dialect::Strict).map_err(|e| {
                        err(
                            "slots.json",
                            "",
                            e.within(&format!("{at}.when")).to_string(),
                        )
                    })?)
                }
                None => None,
            };
            let needs_amount = matches!(rule.action, ActionJson::Boost | ActionJson::Bury);
            let action = match (rule.action, rule.amount) {
                (ActionJson::Include, None) => Action::Include,
                (ActionJson::Exclude, None) => Action::Exclude,
                (ActionJson::Pin, None) => Action::Pin,
                (ActionJson::Boost, Some(a)) if a.is_finite() && a >= 0.0 => Action::Boost(a),
                (ActionJson::Bury, Some(a)) if a.is_finite() && a >= 0.0 => Action::Bury(a),
                _ if needs_amount => {
                    return Err(err(
                        "slots.json",
                        format!("{at}.amount"),
                        "boost and bury need a finite, non-negative amount",
                    ));
                }
                _ => {
                    return Err(err(
                        "slots.json",
                        format!("{at}.amount"),
                        "only boost and bury take an amount",
                    ));
                }
            };
            let mut items = Vec::with_capacity(rule.items.len());
            for (j, id) in rule.items.iter().enumerate() {
                items.push(lookup(
                    &item_index,
                    "slots.json",
                    format!("{at}.items[{j}]"),
                    "item",
                    id,
                )?);
            }
            if rule.action == ActionJson::Pin && items.is_empty() {
                return Err(err(
                    "slots.json",
                    format!("{at}.items"),
                    "a pin rule names the item(s) it pins",
                ));
            }
            rules.push(Rule {
                id: rule.id.clone(),
                when,
                action,
                items,
                requires_personalization: matches!(
                    rule.requires,
                    Some(RequiresJson::Personalization)
                ),
                text: rule.text.clone(),
            });
        }
        let experiment = match &slot.experiment {
            Some(key) => Some(lookup(
                &experiment_index,
                "slots.json",
                format!("[{i}].experiment"),
                "experiment",
                key,
            )?),
            None => None,
        };
        if slot.count == Some(0) {
            return Err(err(
                "slots.json",
                format!("[{i}].count"),
                "must be at least 1",
            ));
        }
        out_slots.push(Slot {
            name: slot.name.clone(),
            default_content,
            candidates,
            rules,
            strategy: match slot.strategy {
                StrategyJson::Priority => Strategy::Priority,
                StrategyJson::Model => Strategy::Model,
            },
            count: slot.count.unwrap_or(1),
            experiment,
        });
    }

    let slot_index = index_ids(
        "slots.json",
        "slot name",
        slots.iter().map(|s| s.name.as_str()),
    )?;
    let mut caps = Vec::with_capacity(site.caps.len());
    for (i, c) in site.caps.iter().enumerate() {
        let at = format!("caps[{i}]");
        let scope = match (&c.item, &c.slot, c.campaign) {
            (Some(id), None, None) => CapScope::Item(lookup(
                &item_index,
                "bundle.json",
                format!("{at}.item"),
                "item",
                id,
            )?),
            (None, Some(name), None) => CapScope::Slot(lookup(
                &slot_index,
                "bundle.json",
                format!("{at}.slot"),
                "slot",
                name,
            )?),
            (None, None, Some(n)) => CapScope::Campaign(n),
            _ => {
                return Err(err(
                    "bundle.json",
                    at,
                    "a cap names exactly one of item, slot or campaign",
                ));
            }
        };
        if c.period_secs == 0 {
            return Err(err(
                "bundle.json",
                format!("{at}.periodSecs"),
                "must be positive",
            ));
        }
        caps.push(Cap {
            scope,
            limit: c.limit,
            period_secs: c.period_secs,
        });
    }
    if let Some(h) = &site.holdout
        && !(0.0..=1.0).contains(&h.share)
    {
        return Err(err(
            "bundle.json",
            "holdout.share",
            "must be between 0 and 1",
        ));
    }

    let mut bundle = Bundle {
        header: Header {
            id: String::new(),
            created_at: options.created_at,
            site: site.site,
            key_id: String::new(),
        },
        slots: out_slots,
        items: out_items,
        content: content
            .into_iter()
            .map(|c| Content {
                id: c.id,
                title: c.title,
                body: c.body,
                image: c.image,
                link: c.link,
                cta: c.cta,
                price: c.price,
            })
            .collect(),
        // No model until `slotwise train` writes one.
        model: Default::default(),
        saved_groups,
        experiments: out_experiments,
        holdout: site.holdout.map(|h| Holdout {
            share: h.share,
            seed: h.seed,
        }),
        caps,
        page: site
            .page
            .map_or_else(PageSettings::default, |p| PageSettings {
                category_cap: p.category_cap,
            }),
    };
    // The id names the content: the same authoring set gives the same id.
    bundle.header.id = slotwise::hex::u64_hex(fnv1a64(&bundle::encode(&bundle)));
    bundle::validate(&bundle)
        .and_then(|()| bundle::validate_unique(&bundle))
        .map_err(|e| err("(bundle)", "", e.to_string()))?;
    Ok(bundle)
}

/// Like [`read_json`], but a missing file reads as the type's default.
fn read_optional_json<T: DeserializeOwned + Default>(
    dir: &Path,
    file: &str,
) -> Result<T, AuthoringError> {
    if dir.join(file).exists() {
        read_json(dir, file)
    } else {
        Ok(T::default())
    }
}

fn read_json<T: DeserializeOwned>(dir: &Path, file: &str) -> Result<T, AuthoringError> {
    let path: PathBuf = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| err(file, "", format!("cannot read {}: {e}", path.display())))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        err(file, path, inner.to_string())
    })
}

fn index_ids<'a>(
    file: &str,
    what: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<&'a str, u32>, AuthoringError> {
    let mut index = HashMap::new();
    for (i, id) in ids.enumerate() {
        if id.is_empty() {
            return Err(err(file, format!("[{i}]"), format!("empty {what}")));
        }
        if index.insert(id, i as u32).is_some() {
            return Err(err(
                file,
                format!("[{i}]"),
                format!("duplicate {what} {id:?}"),
            ));
        }
    }
    Ok(index)
}

/// FNV-1a, 64-bit: a stable content hash for bundle ids.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Reads the optional `journeys.json` of an authoring directory and validates it
/// against its compiled `bundle`; returns the definition JSON the origin publishes
/// with the bundle (never part of the browser bundle).
pub fn build_journeys(dir: &Path, bundle: &Bundle) -> Result<Option<String>, AuthoringError> {
    const FILE: &str = "journeys.json";
    if !dir.join(FILE).exists() {
        return Ok(None);
    }
    let journeys: crate::journeys::definition::Journeys = read_json(dir, FILE)?;
    journeys
        .validate(bundle)
        .map_err(|(path, message)| err(FILE, path, message))?;
    serde_json::to_string_pretty(&journeys)
        .map(Some)
        .map_err(|e| err(FILE, "", e.to_string()))
}

/// Where `slotwise bundle build` writes the journeys of the bundle at `bundle`:
/// `shop.swb` → `shop.journeys.json`.
pub fn journeys_path(bundle: &Path) -> PathBuf {
    bundle.with_extension("journeys.json")
}

/// The compiled journeys next to the bundle file at `bundle_path` (validated against
/// `bundle`), when there are any.
pub fn read_compiled_journeys(
    bundle_path: &Path,
    bundle: &Bundle,
) -> Result<Option<String>, String> {
    let path = journeys_path(bundle_path);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let journeys: crate::journeys::definition::Journeys =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    journeys
        .validate(bundle)
        .map_err(|(at, message)| format!("{}: {at}: {message}", path.display()))?;
    Ok(Some(text))
}
