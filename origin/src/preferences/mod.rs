//! The preference centre's record: what a visitor chose for their identity cluster.
//!
//! - `mute`: category names never to be shown, in any channel (carried in the snippet
//!   as [`slotwise::profile::Claims::muted`], applied by `POST /v1/decide` and the
//!   batch through [`crate::channels::cluster::ClusterVisitor::muted`]);
//! - `more`: category names to see more of (their affinity in the snippet is raised
//!   to the strongest, [`apply_to_claims`]);
//! - `contact`: how often each channel may contact the subject ([`Frequency`];
//!   `never` withdraws that channel's consent), checked by [`contact::may_contact`].
//!
//! One record per cluster (`Store::preferences` / `Store::set_preferences`); linking
//! clusters merges their records with [`Preferences::merge`] (a mute in either wins,
//! the stricter contact frequency wins); erasure deletes it; `store copy` carries it.
//! The HTTP side is `crate::server::preferences`; signed links for email recipients
//! are [`link`].

pub mod contact;
pub mod link;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use slotwise::bundle::Bundle;
use slotwise::profile::{Affinity, Claims};

/// Most categories in `mute` or `more`.
pub const MAX_CATEGORIES: usize = 64;
/// Longest category name accepted.
pub const MAX_NAME: usize = 64;

/// How often a channel may contact the subject: at most one message per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// No limit from the subject (the site's own caps still hold).
    Any,
    /// At most one message a day.
    Daily,
    /// At most one a week.
    Weekly,
    /// At most one in 30 days.
    Monthly,
    /// No messages on this channel: its consent is withdrawn.
    Never,
}

impl Frequency {
    /// The shortest time between two messages, in seconds (`None`: never; 0: any).
    pub fn min_gap_secs(self) -> Option<u64> {
        match self {
            Frequency::Any => Some(0),
            Frequency::Daily => Some(86_400),
            Frequency::Weekly => Some(7 * 86_400),
            Frequency::Monthly => Some(30 * 86_400),
            Frequency::Never => None,
        }
    }
}

/// One cluster's choices. Category names (not indices) are stored, so a choice
/// survives a new bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Categories never shown.
    #[serde(default)]
    pub mute: Vec<String>,
    /// Categories to see more of.
    #[serde(default)]
    pub more: Vec<String>,
    /// Per channel name (`email`, `sms`, `push`, `app`, `web`, `store`): how often it
    /// may contact the subject. A channel not named: [`Frequency::Any`].
    #[serde(default)]
    pub contact: BTreeMap<String, Frequency>,
}

/// A change from `PUT /v1/preferences`: each field given replaces that field.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// New `mute` list.
    pub mute: Option<Vec<String>>,
    /// New `more` list.
    pub more: Option<Vec<String>>,
    /// Channels whose frequency changes (others stay as they were).
    pub contact: Option<BTreeMap<String, Frequency>>,
}

/// Why a change was refused: a stable code and a sentence (a 4xx).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// `preferences.category`, `preferences.channel`, `preferences.conflict`,
    /// `preferences.too_many`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

fn invalid(code: &'static str, message: String) -> Invalid {
    Invalid { code, message }
}

impl Preferences {
    /// The frequency chosen for `channel` (default [`Frequency::Any`]).
    pub fn frequency(&self, channel: slotwise::signals::Channel) -> Frequency {
        self.contact
            .get(channel.name())
            .copied()
            .unwrap_or(Frequency::Any)
    }

    /// Applies `change`, checking category names against `categories` (the current
    /// bundle's; `None`: no bundle yet, any well-formed name). Leaves `self` as it was
    /// when the change is refused.
    pub fn apply(&mut self, change: Change, categories: Option<&[String]>) -> Result<(), Invalid> {
        let mut next = self.clone();
        if let Some(mute) = change.mute {
            next.mute = mute;
        }
        if let Some(more) = change.more {
            next.more = more;
        }
        if let Some(contact) = change.contact {
            for (channel, f) in contact {
                if crate::channels::channel_named(&channel).is_none() {
                    return Err(invalid(
                        "preferences.channel",
                        format!("unknown channel {channel:?} (web, app, email, push, sms, store)"),
                    ));
                }
                next.contact.insert(channel, f);
            }
        }
        for list in [&mut next.mute, &mut next.more] {
            list.sort();
            list.dedup();
            if list.len() > MAX_CATEGORIES {
                return Err(invalid(
                    "preferences.too_many",
                    format!("at most {MAX_CATEGORIES} categories per list"),
                ));
            }
            for name in list.iter() {
                let known = match categories {
                    Some(all) => all.iter().any(|c| c == name),
                    None => !name.is_empty() && name.len() <= MAX_NAME,
                };
                if !known {
                    return Err(invalid(
                        "preferences.category",
                        format!("no category {name:?} in the current bundle"),
                    ));
                }
            }
        }
        if let Some(both) = next.mute.iter().find(|c| next.more.contains(c)) {
            return Err(invalid(
                "preferences.conflict",
                format!("category {both:?} cannot be both muted and wanted more"),
            ));
        }
        *self = next;
        Ok(())
    }

    /// The record of two clusters linked into one: a mute in either wins (and drops
    /// that category from `more`), `more` is the union, and each channel keeps the
    /// stricter frequency.
    pub fn merge(&self, other: &Preferences) -> Preferences {
        let mut mute: Vec<String> = self.mute.iter().chain(&other.mute).cloned().collect();
        mute.sort();
        mute.dedup();
        let mut more: Vec<String> = self
            .more
            .iter()
            .chain(&other.more)
            .filter(|c| !mute.contains(c))
            .cloned()
            .collect();
        more.sort();
        more.dedup();
        let mut contact = self.contact.clone();
        for (channel, &f) in &other.contact {
            let e = contact.entry(channel.clone()).or_insert(f);
            *e = (*e).max(f);
        }
        Preferences {
            mute,
            more,
            contact,
        }
    }

    /// Whether nothing was chosen.
    pub fn is_empty(&self) -> bool {
        self.mute.is_empty() && self.more.is_empty() && self.contact.is_empty()
    }

    /// The stored form (JSON text).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// Reads the stored form; an unreadable record counts as no choices (logged).
    pub fn from_json(text: &str) -> Preferences {
        serde_json::from_str(text).unwrap_or_else(|e| {
            eprintln!("unreadable stored preferences ({e}); treated as none");
            Preferences::default()
        })
    }

    /// The muted categories as `bundle`'s category indices (names it lacks skipped).
    pub fn muted_indices(&self, bundle: &Bundle) -> Vec<u16> {
        indices(&self.mute, &category_names(bundle))
    }
}

/// A bundle's category names, numbered as the engine and snippets number them (order
/// of first appearance among items).
pub fn category_names(bundle: &Bundle) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for item in &bundle.items {
        if !names.contains(&item.category) {
            names.push(item.category.clone());
        }
    }
    names
}

fn indices(names: &[String], all: &[String]) -> Vec<u16> {
    names
        .iter()
        .filter_map(|n| all.iter().position(|c| c == n))
        .filter_map(|i| u16::try_from(i).ok())
        .collect()
}

/// Puts the cluster's choices into snippet claims for `bundle`: `muted` filled (always:
/// a mute only takes content away), the muted categories' affinities removed, and,
/// with `personalization` consent, the `more` categories' affinities raised to the
/// strongest (255), so the device's scoring favours them.
pub fn apply_to_claims(prefs: &Preferences, bundle: &Bundle, claims: &mut Claims) {
    let all = category_names(bundle);
    claims.muted = indices(&prefs.mute, &all);
    claims
        .affinities
        .retain(|a| !claims.muted.contains(&a.category));
    if claims.consent & slotwise::consent::BIT_PERSONALIZATION == 0 {
        return;
    }
    for category in indices(&prefs.more, &all) {
        match claims
            .affinities
            .iter_mut()
            .find(|a| a.category == category)
        {
            Some(a) => a.weight = u8::MAX,
            None => claims.affinities.push(Affinity {
                category,
                weight: u8::MAX,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn changes_are_checked_and_all_or_nothing() {
        let cats = names(&["shoes", "bags", "hats"]);
        let mut p = Preferences::default();
        let change: Change =
            serde_json::from_str(r#"{"mute": ["bags", "bags"], "contact": {"email": "weekly"}}"#)
                .unwrap();
        p.apply(change, Some(&cats)).unwrap();
        assert_eq!(p.mute, ["bags"]);
        assert_eq!(
            p.frequency(slotwise::signals::Channel::Email),
            Frequency::Weekly
        );
        assert_eq!(p.frequency(slotwise::signals::Channel::Sms), Frequency::Any);
        let before = p.clone();
        for (json, code) in [
            (r#"{"mute": ["boats"]}"#, "preferences.category"),
            (r#"{"more": ["bags"]}"#, "preferences.conflict"),
            (r#"{"contact": {"fax": "daily"}}"#, "preferences.channel"),
        ] {
            let change: Change = serde_json::from_str(json).unwrap();
            assert_eq!(
                p.apply(change, Some(&cats)).unwrap_err().code,
                code,
                "{json}"
            );
            assert_eq!(p, before, "{json}");
        }
        assert!(serde_json::from_str::<Change>(r#"{"contact": {"email": "hourly"}}"#).is_err());
        assert!(serde_json::from_str::<Change>(r#"{"mutes": []}"#).is_err());
    }

    #[test]
    fn merging_keeps_every_mute_and_the_stricter_frequency() {
        let a = Preferences {
            mute: names(&["hats"]),
            more: names(&["bags", "shoes"]),
            contact: [("email".to_string(), Frequency::Weekly)].into(),
        };
        let b = Preferences {
            mute: names(&["bags"]),
            more: names(&["hats"]),
            contact: [
                ("email".to_string(), Frequency::Daily),
                ("sms".to_string(), Frequency::Never),
            ]
            .into(),
        };
        for m in [a.merge(&b), b.merge(&a)] {
            assert_eq!(m.mute, ["bags", "hats"]);
            assert_eq!(m.more, ["shoes"]);
            assert_eq!(m.contact["email"], Frequency::Weekly);
            assert_eq!(m.contact["sms"], Frequency::Never);
        }
    }

    #[test]
    fn claims_carry_mutes_and_stronger_wanted_categories() {
        let bundle = Bundle::example(); // one category: shoes (0)
        let mut claims = Claims {
            consent: 1 | 2,
            affinities: vec![Affinity {
                category: 0,
                weight: 10,
            }],
            ..Claims::default()
        };
        let wants = Preferences {
            more: names(&["shoes"]),
            ..Preferences::default()
        };
        apply_to_claims(&wants, &bundle, &mut claims);
        assert_eq!(claims.affinities[0].weight, 255);
        assert!(claims.muted.is_empty());
        let mutes = Preferences {
            mute: names(&["shoes", "gone"]),
            ..Preferences::default()
        };
        apply_to_claims(&mutes, &bundle, &mut claims);
        assert_eq!(claims.muted, [0]);
        assert!(claims.affinities.is_empty());
    }
}
