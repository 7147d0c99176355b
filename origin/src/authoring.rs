//! Authoring JSON → [`slotwise::bundle::Bundle`].
//!
//! An authoring set is a directory of JSON files:
//!
//! | file           | holds                                                           |
//! |----------------|-----------------------------------------------------------------|
//! | `bundle.json`  | `{ "site": "shop.example" }`                                    |
//! | `content.json` | `[{ "id", "title"?, "body"?, "image"?, "link"?, "cta"?, "price"? }]` |
//! | `items.json`   | `[{ "id", "category", "content"? }]` (`content` defaults to `id`) |
//! | `slots.json`   | `[{ "name", "default", "candidates"?: [item ids] }]`             |
//!
//! Unknown fields, duplicate ids, a slot without a default and dangling references are
//! errors that name the file and the JSON path (`slots.json: [2].default: ...`), so a
//! mistake fails the build and never reaches a visitor.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use slotwise::bundle::{self, Bundle, Content, Header, Item, Slot};

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
        out_slots.push(Slot {
            name: slot.name.clone(),
            default_content,
            candidates,
        });
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
    };
    // The id names the content: the same authoring set gives the same id.
    bundle.header.id = slotwise::hex::u64_hex(fnv1a64(&bundle::encode(&bundle)));
    bundle::validate(&bundle)
        .and_then(|()| bundle::validate_unique(&bundle))
        .map_err(|e| err("(bundle)", "", e.to_string()))?;
    Ok(bundle)
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
