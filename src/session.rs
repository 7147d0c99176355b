//! In-session behaviour (`SWS1`): what the device remembers between pages.
//!
//! A [`Session`] holds a bounded ring of recent events, recency-decayed category
//! affinities, impression times per item / slot / campaign (for frequency caps, see
//! [`crate::caps`]), sticky experiment assignments and a random visitor seed that the
//! host draws from its own crypto and passes in (the core has no randomness).
//! Time is always an argument: Unix seconds, kept at minute resolution.
//!
//! It may be persisted (localStorage in the browser, a cookie at the edge) **only with
//! `personalization` consent**; without it the engine keeps it in memory for the page.
//! That rule is the caller's: this module only encodes and decodes.
//!
//! Wire layout: `b"SWS1"`, one version byte ([`VERSION`]), then postcard of the private
//! `Wire` struct, in this order: seed (8 bytes LE), vocabulary, saved-at (Unix minutes),
//! events (kind, item, category, value, age in minutes), affinities (category,
//! score in 1/64 units, decayed to saved-at), impressions (scope, ages in minutes),
//! assignments (experiment, variant). Ages are relative to saved-at, so a busy session
//! stays small. [`encode`] drops the oldest events and impressions until the bytes fit
//! [`BUDGET_BYTES`] (≤ 1 KB as base64url); [`decode`] accepts at most [`MAX_BYTES`] and
//! checks every bound, never panics.
//!
//! ```
//! use slotwise::session::{self, Event, EventKind, Session};
//! let mut s = Session::new(0x1234_5678_9abc_def0, 1_800_000_000);
//! s.track(&Event::new(EventKind::View).item(42).category(3), 1_800_000_060);
//! s.track(&Event::new(EventKind::AddToCart).item(42).category(3), 1_800_000_120);
//! let bytes = session::encode(&s);
//! let back = session::decode(&bytes).unwrap();
//! assert_eq!(back, s);
//! assert!(back.affinity(3, 1_800_000_120) > 3.9);
//! assert_eq!(session::decode(b"SWS1").unwrap_err().code(), "session.corrupt");
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::base64url;
use crate::caps::CapScope;
use crate::error::{Error, ErrorKind};
use crate::profile::Assignment;
use crate::wire::{Fail, Read, Reader, Writer};

/// The four magic bytes session state starts with.
pub const MAGIC: [u8; 4] = *b"SWS1";
/// The format version this build reads and writes.
pub const VERSION: u8 = 1;
/// Length of magic + version.
pub const PREFIX_LEN: usize = 5;
/// Largest state [`encode`] produces: 768 bytes = 1024 base64url characters.
pub const BUDGET_BYTES: usize = 768;
/// Largest state [`decode`] accepts.
pub const MAX_BYTES: usize = 1024;
/// Events kept in the ring.
pub const MAX_EVENTS: usize = 32;
/// Categories with an affinity kept (the weakest is dropped).
pub const MAX_AFFINITIES: usize = 24;
/// Categories with exact counts kept (views, add-to-carts).
pub const MAX_COUNTS: usize = 24;
/// Item / slot / campaign scopes with impressions kept.
pub const MAX_IMPRESSION_SCOPES: usize = 24;
/// Impression times kept per scope: caps up to this many per period are exact.
pub const MAX_IMPRESSIONS_PER_SCOPE: usize = 8;
/// Impressions older than this are forgotten (minutes; 30 days).
pub const IMPRESSION_HORIZON_MIN: u32 = 30 * 24 * 60;
/// Sticky assignments kept.
pub const MAX_ASSIGNMENTS: usize = 16;
/// Affinities halve every this many minutes (2 days).
pub const AFFINITY_HALF_LIFE_MIN: f32 = 2.0 * 24.0 * 60.0;
/// Affinity scores are stored in units of 1/`AFFINITY_SCALE`.
pub const AFFINITY_SCALE: f32 = 64.0;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// Viewed an item or a category page.
    View,
    /// Searched (category of the query, when known).
    Search,
    /// Added an item to the cart.
    AddToCart,
    /// Removed an item from the cart.
    Remove,
    /// Bought an item.
    Purchase,
    /// A slot showed an item (counted for caps; not kept in the ring).
    Impression,
    /// Clicked a slot's item.
    Click,
    /// A site-defined event (index into the bundle's custom event names).
    Custom(u16),
}

impl EventKind {
    /// The kind for a small number, as bindings pass it: 0 view, 1 search,
    /// 2 add-to-cart, 3 remove, 4 purchase, 5 impression, 6 click, 7 + n custom n.
    pub fn from_code(code: u32) -> EventKind {
        match code {
            0 => EventKind::View,
            1 => EventKind::Search,
            2 => EventKind::AddToCart,
            3 => EventKind::Remove,
            4 => EventKind::Purchase,
            5 => EventKind::Impression,
            6 => EventKind::Click,
            n => EventKind::Custom(u16::try_from(n - 7).unwrap_or(u16::MAX)),
        }
    }

    /// How much one event adds to its category's affinity.
    pub fn affinity_weight(self) -> f32 {
        match self {
            EventKind::View => 1.0,
            EventKind::Search => 0.5,
            EventKind::AddToCart => 3.0,
            EventKind::Remove => -2.0,
            EventKind::Purchase => 5.0,
            EventKind::Impression => 0.0,
            EventKind::Click => 2.0,
            EventKind::Custom(_) => 1.0,
        }
    }
}

/// An event to [`Session::track`]. Indices refer to the bundle's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The item, if any.
    pub item: Option<u32>,
    /// The item's or page's category, if any.
    pub category: Option<u32>,
    /// The slot (impressions and clicks).
    pub slot: Option<u32>,
    /// The campaign (impressions and clicks).
    pub campaign: Option<u32>,
    /// A site-defined value (quantity, price in cents...).
    pub value: Option<u32>,
}

impl Event {
    /// An event of `kind` about nothing in particular.
    pub fn new(kind: EventKind) -> Event {
        Event {
            kind,
            item: None,
            category: None,
            slot: None,
            campaign: None,
            value: None,
        }
    }
    /// With an item.
    pub fn item(mut self, item: u32) -> Event {
        self.item = Some(item);
        self
    }
    /// With a category.
    pub fn category(mut self, category: u32) -> Event {
        self.category = Some(category);
        self
    }
    /// With a slot.
    pub fn slot(mut self, slot: u32) -> Event {
        self.slot = Some(slot);
        self
    }
    /// With a campaign.
    pub fn campaign(mut self, campaign: u32) -> Event {
        self.campaign = Some(campaign);
        self
    }
    /// With a value.
    pub fn value(mut self, value: u32) -> Event {
        self.value = Some(value);
        self
    }
}

/// An event kept in the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecentEvent {
    /// What happened.
    pub kind: EventKind,
    /// The item, if any.
    pub item: Option<u32>,
    /// The category, if any.
    pub category: Option<u32>,
    /// The value, if any.
    pub value: Option<u32>,
    /// When, in Unix minutes.
    pub at_min: u32,
}

/// A category's decayed affinity, in 1/[`AFFINITY_SCALE`] units as of the session's
/// last update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryAffinity {
    /// Category index.
    pub category: u32,
    /// Fixed-point score.
    pub score: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ImpressionLog {
    scope: CapScope,
    /// Unix minutes, oldest first.
    at_min: ImpressionTimes,
}

/// A scope's impression times: a fixed array (no allocation per scope) in builds
/// favouring speed ([`crate::SPEED`]), a `Vec` in the browser module (smaller code).
#[cfg(any(feature = "edge", not(target_arch = "wasm32")))]
type ImpressionTimes = tinyvec::ArrayVec<[u32; MAX_IMPRESSIONS_PER_SCOPE]>;
#[cfg(not(any(feature = "edge", not(target_arch = "wasm32"))))]
type ImpressionTimes = Vec<u32>;

/// Exact per-category counts for this session (rule conditions read them as
/// `session.views.<category>` and `session.carts.<category>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    /// Index into the bundle's category vocabulary.
    pub category: u32,
    /// Views of the category (item or category page).
    pub views: u16,
    /// Add-to-carts in the category.
    pub carts: u16,
}

/// The visitor's in-session state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    seed: u64,
    vocabulary: u32,
    updated_min: u32,
    started_min: u32,
    cart_cents: u32,
    counts: Vec<CategoryCount>,
    events: VecDeque<RecentEvent>,
    affinities: Vec<CategoryAffinity>,
    impressions: Vec<ImpressionLog>,
    assignments: Vec<Assignment>,
}

fn minutes(unix_secs: u64) -> u32 {
    u32::try_from(unix_secs / 60).unwrap_or(u32::MAX)
}

impl Session {
    /// A fresh session with a visitor seed drawn by the host's crypto.
    pub fn new(seed: u64, now: u64) -> Session {
        Session {
            seed,
            vocabulary: 0,
            updated_min: minutes(now),
            started_min: minutes(now),
            cart_cents: 0,
            counts: Vec::new(),
            // Room for the whole ring at once: one allocation instead of four.
            events: VecDeque::with_capacity(MAX_EVENTS),
            affinities: Vec::new(),
            impressions: Vec::new(),
            assignments: Vec::new(),
        }
    }

    /// This session started over as [`Session::new`] makes it, keeping its memory (a
    /// server reuses a freed visitor for the next request): nothing of the previous
    /// visitor is left.
    pub fn restart(&mut self, seed: u64, now: u64) {
        // Every field named, so a new one cannot be forgotten here.
        let Session {
            seed: kept_seed,
            vocabulary,
            updated_min,
            started_min,
            cart_cents,
            counts,
            events,
            affinities,
            impressions,
            assignments,
        } = self;
        *kept_seed = seed;
        *vocabulary = 0;
        *updated_min = minutes(now);
        *started_min = minutes(now);
        *cart_cents = 0;
        counts.clear();
        events.clear();
        affinities.clear();
        impressions.clear();
        assignments.clear();
    }

    /// The random visitor seed (stable for the visitor while stored).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Fingerprint of the bundle vocabulary the indices refer to.
    pub fn vocabulary(&self) -> u32 {
        self.vocabulary
    }

    /// Starts over on a new bundle vocabulary: indices from the old one mean nothing,
    /// so events, affinities and impressions are dropped; seed and assignments stay.
    pub fn set_vocabulary(&mut self, vocabulary: u32) {
        if vocabulary != self.vocabulary {
            self.vocabulary = vocabulary;
            self.events.clear();
            self.affinities.clear();
            self.impressions.clear();
            self.counts.clear();
            self.cart_cents = 0;
        }
    }

    /// Views of `category` in this session (exact, not limited to the event ring).
    pub fn views(&self, category: u32) -> u32 {
        self.counts
            .iter()
            .find(|c| c.category == category)
            .map_or(0, |c| u32::from(c.views))
    }

    /// The per-category counts, in the order categories were first seen.
    pub fn counts(&self) -> &[CategoryCount] {
        &self.counts
    }

    /// The cart's value in cents: add-to-cart values minus removals, never negative.
    pub fn cart_cents(&self) -> u32 {
        self.cart_cents
    }

    /// Seconds since the session started, at `now`.
    pub fn seconds_on_site(&self, now: u64) -> u64 {
        now.saturating_sub(u64::from(self.started_min) * 60)
    }

    fn count(&mut self, kind: EventKind, category: u32) {
        let at = match self.counts.iter().position(|c| c.category == category) {
            Some(i) => i,
            None => {
                if self.counts.len() == MAX_COUNTS {
                    return;
                }
                self.counts.push(CategoryCount {
                    category,
                    views: 0,
                    carts: 0,
                });
                self.counts.len() - 1
            }
        };
        let c = &mut self.counts[at];
        match kind {
            EventKind::View => c.views = c.views.saturating_add(1),
            EventKind::AddToCart => c.carts = c.carts.saturating_add(1),
            _ => {}
        }
    }

    /// Records an event at `now` (Unix seconds).
    pub fn track(&mut self, event: &Event, now: u64) {
        let now_min = self.advance(now);
        if event.kind == EventKind::Impression {
            let scopes = [
                event.item.map(CapScope::Item),
                event.slot.map(CapScope::Slot),
                event.campaign.map(CapScope::Campaign),
            ];
            for scope in scopes.into_iter().flatten() {
                self.log_impression(scope, now_min);
            }
            return;
        }
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(RecentEvent {
            kind: event.kind,
            item: event.item,
            category: event.category,
            value: event.value,
            at_min: now_min,
        });
        if let Some(category) = event.category {
            self.add_affinity(category, event.kind.affinity_weight());
            if matches!(event.kind, EventKind::View | EventKind::AddToCart) {
                self.count(event.kind, category);
            }
        }
        match event.kind {
            EventKind::AddToCart => {
                self.cart_cents = self.cart_cents.saturating_add(event.value.unwrap_or(0));
            }
            EventKind::Remove => {
                self.cart_cents = self.cart_cents.saturating_sub(event.value.unwrap_or(0));
            }
            EventKind::Purchase => self.cart_cents = 0,
            _ => {}
        }
    }

    /// Records one impression counted against each of `scopes` at `now`.
    pub fn record_impression(&mut self, scopes: &[CapScope], now: u64) {
        let now_min = self.advance(now);
        for &scope in scopes {
            self.log_impression(scope, now_min);
        }
    }

    /// The recent events, oldest first.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &RecentEvent> + ExactSizeIterator {
        self.events.iter()
    }

    /// Whether the ring holds a purchase of `item`.
    pub fn purchased(&self, item: u32) -> bool {
        self.events
            .iter()
            .any(|e| e.kind == EventKind::Purchase && e.item == Some(item))
    }

    /// The category's affinity at `now`, in event units (a view adds 1, decays by half
    /// every [`AFFINITY_HALF_LIFE_MIN`] minutes).
    pub fn affinity(&self, category: u32, now: u64) -> f32 {
        let score = self
            .affinities
            .iter()
            .find(|a| a.category == category)
            .map_or(0, |a| a.score);
        let age = minutes(now).saturating_sub(self.updated_min);
        f32::from(score) / AFFINITY_SCALE * decay(age)
    }

    /// All affinities as stored (decayed to the last update), strongest first.
    pub fn affinities(&self) -> &[CategoryAffinity] {
        &self.affinities
    }

    /// Impressions of `scope` at or after `since` (Unix seconds) kept on this device.
    /// Times are kept per minute, so an impression in `since`'s own minute counts: at a
    /// window's edge caps err on the side of showing less.
    pub fn impressions_since(&self, scope: CapScope, since: u64) -> u32 {
        let since_min = minutes(since);
        self.impressions
            .iter()
            .find(|l| l.scope == scope)
            .map_or(0, |l| {
                l.at_min.iter().filter(|&&t| t >= since_min).count() as u32
            })
    }

    /// The sticky variant of `experiment`, if assigned.
    pub fn assignment(&self, experiment: u32) -> Option<u8> {
        self.assignments
            .iter()
            .find(|a| a.experiment == experiment)
            .map(|a| a.variant)
    }

    /// Makes `variant` sticky for `experiment` (the first assignment wins).
    pub fn assign(&mut self, experiment: u32, variant: u8) -> u8 {
        if let Some(v) = self.assignment(experiment) {
            return v;
        }
        if self.assignments.len() == MAX_ASSIGNMENTS {
            self.assignments.remove(0);
        }
        self.assignments.push(Assignment {
            experiment,
            variant,
        });
        variant
    }

    /// Moves the session clock to `now` (never backwards), decaying affinities and
    /// forgetting impressions past the horizon. Returns now in minutes.
    fn advance(&mut self, now: u64) -> u32 {
        let now_min = minutes(now);
        if now_min > self.updated_min {
            let factor = decay(now_min - self.updated_min);
            for a in &mut self.affinities {
                a.score = (f32::from(a.score) * factor) as u16;
            }
            self.affinities.retain(|a| a.score > 0);
            sort_affinities(&mut self.affinities);
            self.updated_min = now_min;
            let horizon = now_min.saturating_sub(IMPRESSION_HORIZON_MIN);
            for log in &mut self.impressions {
                log.at_min.retain(|&t| t >= horizon);
            }
            self.impressions.retain(|l| !l.at_min.is_empty());
        }
        // Events stamped with an earlier clock than the session's are kept at its time.
        self.updated_min
    }

    fn add_affinity(&mut self, category: u32, weight: f32) {
        let delta = weight * AFFINITY_SCALE;
        let current = self.affinities.iter().position(|a| a.category == category);
        let old = current.map_or(0.0, |i| f32::from(self.affinities[i].score));
        let new = (old + delta).clamp(0.0, f32::from(u16::MAX)) as u16;
        if crate::SPEED {
            // The list is in order but for this entry: it moves to its place (no
            // sort per tracked event); a score of 0 sorts last and is dropped there.
            let a = &mut self.affinities;
            let mut i = match current {
                Some(i) => i,
                None if new > 0 => {
                    a.push(CategoryAffinity { category, score: 0 });
                    a.len() - 1
                }
                None => return,
            };
            if let Some(entry) = a.get_mut(i) {
                entry.score = new;
            }
            while i > 0 && affinity_order(&a[i], &a[i - 1]).is_lt() {
                a.swap(i, i - 1);
                i -= 1;
            }
            while i + 1 < a.len() && affinity_order(&a[i + 1], &a[i]).is_lt() {
                a.swap(i, i + 1);
                i += 1;
            }
            if new == 0 {
                a.pop();
            }
        } else {
            match current {
                Some(i) => self.affinities[i].score = new,
                None if new > 0 => self.affinities.push(CategoryAffinity {
                    category,
                    score: new,
                }),
                None => {}
            }
            self.affinities.retain(|a| a.score > 0);
            sort_affinities(&mut self.affinities);
        }
        self.affinities.truncate(MAX_AFFINITIES);
    }

    fn log_impression(&mut self, scope: CapScope, now_min: u32) {
        match self.impressions.iter_mut().find(|l| l.scope == scope) {
            Some(log) => {
                if log.at_min.len() == MAX_IMPRESSIONS_PER_SCOPE {
                    log.at_min.remove(0);
                }
                log.at_min.push(now_min);
            }
            None => {
                if self.impressions.len() == MAX_IMPRESSION_SCOPES {
                    self.drop_stalest_impressions();
                }
                let at_min: ImpressionTimes = core::iter::once(now_min).collect();
                self.impressions.push(ImpressionLog { scope, at_min });
            }
        }
    }

    /// Drops the scope whose latest impression is oldest.
    fn drop_stalest_impressions(&mut self) {
        let stalest = self
            .impressions
            .iter()
            .enumerate()
            .min_by_key(|(_, l)| l.at_min.last().copied().unwrap_or(0))
            .map(|(i, _)| i);
        if let Some(i) = stalest {
            self.impressions.remove(i);
        }
    }

    /// Drops the single oldest event or impression; false when nothing is left to drop.
    fn shed_oldest(&mut self) -> bool {
        let oldest_event = self.events.front().map(|e| e.at_min);
        let oldest_impression = self
            .impressions
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.at_min.first().map(|&t| (t, i)))
            .min();
        match (oldest_event, oldest_impression) {
            (Some(e), Some((t, _))) if e <= t => {
                self.events.pop_front();
            }
            (_, Some((_, i))) => {
                self.impressions[i].at_min.remove(0);
                self.impressions.retain(|l| !l.at_min.is_empty());
            }
            (Some(_), None) => {
                self.events.pop_front();
            }
            (None, None) => return false,
        }
        true
    }
}

/// Strongest first; ties by category: the canonical order [`decode`] checks.
fn sort_affinities(affinities: &mut [CategoryAffinity]) {
    crate::sort::sort_by(affinities, affinity_order);
}

/// The order of [`sort_affinities`].
fn affinity_order(a: &CategoryAffinity, b: &CategoryAffinity) -> core::cmp::Ordering {
    b.score.cmp(&a.score).then(a.category.cmp(&b.category))
}

fn decay(age_min: u32) -> f32 {
    crate::host::pow(2.0, -f64::from(age_min) / f64::from(AFFINITY_HALF_LIFE_MIN)) as f32
}

/// The body after the prefix, in postcard order (read and written by hand with
/// [`crate::wire`]: serde's derived code for it cost about 3 KB gzip in the browser
/// module; `session/wire_tests.rs` checks these bytes against postcard's).
#[cfg_attr(test, derive(Clone, Debug, PartialEq))]
struct Wire {
    seed: [u8; 8],
    vocabulary: u32,
    saved_min: u32,
    /// Minutes between the session's start and `saved_min`.
    started_age_min: u32,
    cart_cents: u32,
    counts: Vec<CategoryCount>,
    events: Vec<WireEvent>,
    affinities: Vec<CategoryAffinity>,
    impressions: Vec<(CapScope, Vec<u32>)>,
    assignments: Vec<Assignment>,
}

#[cfg_attr(test, derive(Clone, Debug, PartialEq))]
struct WireEvent {
    kind: EventKind,
    item: Option<u32>,
    category: Option<u32>,
    value: Option<u32>,
    age_min: u32,
}

fn encode_raw(s: &Session) -> Vec<u8> {
    let mut out = Vec::with_capacity(BUDGET_BYTES);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    let mut w = Writer { bytes: out };
    write_wire(&mut w, s);
    w.bytes
}

/// Writes the body straight from the session (ages relative to `updated_min`).
fn write_wire(w: &mut Writer, s: &Session) {
    let age = |t: u32| s.updated_min.saturating_sub(t);
    w.bytes.extend_from_slice(&s.seed.to_le_bytes());
    for v in [
        s.vocabulary,
        s.updated_min,
        age(s.started_min),
        s.cart_cents,
    ] {
        w.u32(v);
    }
    w.len(s.counts.len());
    for c in &s.counts {
        w.u32(c.category);
        w.u32(c.views.into());
        w.u32(c.carts.into());
    }
    w.len(s.events.len());
    for e in &s.events {
        write_kind(w, e.kind);
        w.option_u32(e.item);
        w.option_u32(e.category);
        w.option_u32(e.value);
        w.u32(age(e.at_min));
    }
    w.len(s.affinities.len());
    for a in &s.affinities {
        w.u32(a.category);
        w.u32(a.score.into());
    }
    w.len(s.impressions.len());
    for log in &s.impressions {
        let (variant, index) = match log.scope {
            CapScope::Item(i) => (0, i),
            CapScope::Slot(i) => (1, i),
            CapScope::Campaign(i) => (2, i),
        };
        w.u32(variant);
        w.u32(index);
        w.len(log.at_min.len());
        for &t in &log.at_min {
            w.u32(age(t));
        }
    }
    w.len(s.assignments.len());
    for a in &s.assignments {
        w.u32(a.experiment);
        w.u8(a.variant);
    }
}

/// An [`EventKind`] as postcard writes the enum: the variant index, then `Custom`'s
/// `u16`.
fn write_kind(w: &mut Writer, kind: EventKind) {
    let variant = match kind {
        EventKind::View => 0,
        EventKind::Search => 1,
        EventKind::AddToCart => 2,
        EventKind::Remove => 3,
        EventKind::Purchase => 4,
        EventKind::Impression => 5,
        EventKind::Click => 6,
        EventKind::Custom(n) => {
            w.u32(7);
            w.u32(n.into());
            return;
        }
    };
    w.u32(variant);
}

fn read_kind(r: &mut Reader) -> Read<EventKind> {
    Ok(match r.u32()? {
        0 => EventKind::View,
        1 => EventKind::Search,
        2 => EventKind::AddToCart,
        3 => EventKind::Remove,
        4 => EventKind::Purchase,
        5 => EventKind::Impression,
        6 => EventKind::Click,
        7 => EventKind::Custom(r.u16()?),
        _ => return Err(Fail::Bad),
    })
}

/// Reads the whole body; an error if it does not decode, breaks a length bound or has
/// bytes after its end.
fn read_wire(bytes: &[u8]) -> Read<Wire> {
    let r = &mut Reader::new(bytes);
    let seed = r.array()?;
    let vocabulary = r.u32()?;
    let saved_min = r.u32()?;
    let started_age_min = r.u32()?;
    let cart_cents = r.u32()?;
    let counts = r.seq(MAX_COUNTS, |r| {
        Ok(CategoryCount {
            category: r.u32()?,
            views: r.u16()?,
            carts: r.u16()?,
        })
    })?;
    let events = r.seq(MAX_EVENTS, |r| {
        Ok(WireEvent {
            kind: read_kind(r)?,
            item: r.option_u32()?,
            category: r.option_u32()?,
            value: r.option_u32()?,
            age_min: r.u32()?,
        })
    })?;
    let affinities = r.seq(MAX_AFFINITIES, |r| {
        Ok(CategoryAffinity {
            category: r.u32()?,
            score: r.u16()?,
        })
    })?;
    let impressions = r.seq(MAX_IMPRESSION_SCOPES, |r| {
        let scope = match r.u32()? {
            0 => CapScope::Item(r.u32()?),
            1 => CapScope::Slot(r.u32()?),
            2 => CapScope::Campaign(r.u32()?),
            _ => return Err(Fail::Bad),
        };
        Ok((scope, r.seq(MAX_IMPRESSIONS_PER_SCOPE, Reader::u32)?))
    })?;
    let assignments = r.seq(MAX_ASSIGNMENTS, |r| {
        Ok(Assignment {
            experiment: r.u32()?,
            variant: r.u8()?,
        })
    })?;
    if !r.is_empty() {
        return Err(Fail::Bad);
    }
    Ok(Wire {
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
    })
}

/// Encodes a session into `SWS1` bytes of at most [`BUDGET_BYTES`], dropping the oldest
/// events and impressions if it must (affinities, assignments and seed always stay).
pub fn encode(session: &Session) -> Vec<u8> {
    let bytes = encode_raw(session);
    if bytes.len() <= BUDGET_BYTES {
        return bytes;
    }
    let mut trimmed = session.clone();
    loop {
        let bytes = encode_raw(&trimmed);
        if bytes.len() <= BUDGET_BYTES || !trimmed.shed_oldest() {
            return bytes;
        }
    }
}

/// [`encode`] as base64url text (for a cookie or localStorage).
pub fn encode_base64url(session: &Session) -> String {
    base64url::encode(&encode(session))
}

fn corrupt(detail: &'static str) -> Error {
    Error::new(ErrorKind::SessionCorrupt, detail)
}

/// Decodes `SWS1` bytes, checking every bound. Never panics.
pub fn decode(bytes: &[u8]) -> Result<Session, Error> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::new(
            ErrorKind::SessionTooLarge,
            "session state exceeds the size limit",
        ));
    }
    if !bytes.starts_with(&MAGIC) && !MAGIC.starts_with(bytes) {
        return Err(Error::new(
            ErrorKind::SessionBadMagic,
            "not Slotwise session state",
        ));
    }
    let Some(&version) = bytes.get(4) else {
        return Err(corrupt("session state ends inside its header"));
    };
    if version != VERSION {
        return Err(Error::new(
            ErrorKind::SessionUnsupportedVersion,
            "session format version not supported",
        ));
    }
    let wire =
        read_wire(&bytes[PREFIX_LEN..]).map_err(|_| corrupt("session state does not decode"))?;
    from_wire(wire)
}

/// Decodes [`encode_base64url`] text.
pub fn decode_base64url(text: &str) -> Result<Session, Error> {
    if text.len() > base64url::encoded_len(MAX_BYTES) {
        return Err(Error::new(
            ErrorKind::SessionTooLarge,
            "session state exceeds the size limit",
        ));
    }
    let bytes = base64url::decode(text).map_err(|_| corrupt("session state is not base64url"))?;
    decode(&bytes)
}

fn from_wire(w: Wire) -> Result<Session, Error> {
    if w.events.len() > MAX_EVENTS
        || w.affinities.len() > MAX_AFFINITIES
        || w.impressions.len() > MAX_IMPRESSION_SCOPES
        || w.assignments.len() > MAX_ASSIGNMENTS
        || w.counts.len() > MAX_COUNTS
    {
        return Err(corrupt("session state breaks its bounds"));
    }
    let at = |age: u32| {
        w.saved_min
            .checked_sub(age)
            .ok_or(corrupt("time before epoch"))
    };
    let mut events = VecDeque::with_capacity(w.events.len());
    let mut last = 0;
    for e in &w.events {
        let t = at(e.age_min)?;
        if t < last || e.kind == EventKind::Impression {
            return Err(corrupt("session events out of order"));
        }
        last = t;
        events.push_back(RecentEvent {
            kind: e.kind,
            item: e.item,
            category: e.category,
            value: e.value,
            at_min: t,
        });
    }
    let canonical_affinities = w.affinities.windows(2).all(|p| {
        p[0].score > p[1].score || (p[0].score == p[1].score && p[0].category < p[1].category)
    });
    if !canonical_affinities || w.affinities.iter().any(|a| a.score == 0) {
        return Err(corrupt("session affinities not canonical"));
    }
    let mut impressions = Vec::with_capacity(w.impressions.len());
    for (i, (scope, ages)) in w.impressions.iter().enumerate() {
        if ages.is_empty()
            || ages.len() > MAX_IMPRESSIONS_PER_SCOPE
            || w.impressions[..i].iter().any(|(s, _)| s == scope)
            || ages.windows(2).any(|p| p[0] < p[1])
        {
            return Err(corrupt("session impressions break their bounds"));
        }
        let mut at_min = ImpressionTimes::default();
        for &a in ages {
            at_min.push(at(a)?);
        }
        impressions.push(ImpressionLog {
            scope: *scope,
            at_min,
        });
    }
    let unique = w.assignments.iter().enumerate().all(|(i, a)| {
        w.assignments[..i]
            .iter()
            .all(|b| b.experiment != a.experiment)
    });
    if !unique {
        return Err(corrupt("duplicate session assignment"));
    }
    let unique_counts = w
        .counts
        .iter()
        .enumerate()
        .all(|(i, c)| w.counts[..i].iter().all(|d| d.category != c.category));
    if !unique_counts {
        return Err(corrupt("duplicate session category count"));
    }
    Ok(Session {
        seed: u64::from_le_bytes(w.seed),
        vocabulary: w.vocabulary,
        updated_min: w.saved_min,
        started_min: at(w.started_age_min)?,
        cart_cents: w.cart_cents,
        counts: w.counts,
        events,
        affinities: w.affinities,
        impressions,
        assignments: w.assignments,
    })
}

/// A busy session (for size reports and tests): a full ring of 32 varied events over
/// three hours, 16 categories with affinity, 20 scopes with 1–4 impressions each,
/// 6 sticky assignments.
pub fn busy_example(now: u64) -> Session {
    let start = now.saturating_sub(3 * 3600);
    let mut s = Session::new(0x9e37_79b9_7f4a_7c15, start);
    s.set_vocabulary(0x5eed_cafe);
    let kinds = [
        EventKind::View,
        EventKind::View,
        EventKind::Click,
        EventKind::View,
        EventKind::AddToCart,
        EventKind::Search,
        EventKind::View,
        EventKind::Purchase,
        EventKind::Remove,
        EventKind::Custom(3),
    ];
    for i in 0..40u32 {
        let t = start + u64::from(i) * 270;
        let kind = kinds[i as usize % kinds.len()];
        let mut e = Event::new(kind).category(i * 7 % 16);
        if kind != EventKind::Search {
            e = e.item(1000 + i * 137 % 4000);
        }
        if matches!(kind, EventKind::Purchase | EventKind::Custom(_)) {
            e = e.value(2999 + i * 10);
        }
        s.track(&e, t);
        // Each page view shows a couple of slots.
        let imp = Event::new(EventKind::Impression)
            .item(1000 + i * 53 % 4000 % 16)
            .slot(i % 4);
        s.track(&imp, t + 1);
    }
    for exp in 0..6 {
        s.assign(exp * 3, (exp % 3) as u8);
    }
    s
}

#[cfg(test)]
mod wire_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000;

    #[test]
    fn restart_leaves_nothing_of_the_previous_visitor() {
        let mut s = Session::new(1, T0);
        s.set_vocabulary(7);
        for i in 0..40u32 {
            let kind = [EventKind::View, EventKind::AddToCart, EventKind::Purchase][i as usize % 3];
            s.track(
                &Event::new(kind).item(i).category(i % 5).value(900),
                T0 + u64::from(i) * 90,
            );
        }
        s.record_impression(&[CapScope::Item(3), CapScope::Slot(1)], T0 + 4000);
        s.restart(42, T0 + 9000);
        assert_eq!(s, Session::new(42, T0 + 9000));
    }

    #[test]
    fn ring_is_bounded_and_ordered() {
        let mut s = Session::new(1, T0);
        for i in 0..100u32 {
            s.track(&Event::new(EventKind::View).item(i), T0 + u64::from(i) * 60);
        }
        assert_eq!(s.events().len(), MAX_EVENTS);
        assert_eq!(
            s.events().next().unwrap().item,
            Some(100 - MAX_EVENTS as u32)
        );
        assert_eq!(s.events().last().unwrap().item, Some(99));
    }

    #[test]
    fn affinities_stay_in_order_as_scores_move() {
        // Views, add-to-carts and removals over more categories than are kept: after
        // every event the list is strongest first, ties by category, with no zero.
        let mut s = Session::new(1, T0);
        let kinds = [
            EventKind::View,
            EventKind::AddToCart,
            EventKind::Remove,
            EventKind::Search,
        ];
        for n in 0..400u32 {
            let category = (n * 7 + n / 3) % 30;
            s.track(&Event::new(kinds[(n % 4) as usize]).category(category), T0);
            let a = s.affinities();
            assert!(a.len() <= MAX_AFFINITIES);
            assert!(a.iter().all(|x| x.score > 0));
            assert!(
                a.windows(2).all(|p| affinity_order(&p[0], &p[1]).is_lt()),
                "{a:?}"
            );
        }
        assert_eq!(
            decode(&encode(&s)).map(|d| d.affinities),
            Ok(s.affinities.clone())
        );
    }

    #[test]
    fn affinities_decay_by_half_life() {
        let mut s = Session::new(1, T0);
        s.track(&Event::new(EventKind::Purchase).category(2), T0);
        assert!((s.affinity(2, T0) - 5.0).abs() < 0.02);
        let later = T0 + (AFFINITY_HALF_LIFE_MIN as u64) * 60;
        assert!((s.affinity(2, later) - 2.5).abs() < 0.02);
        s.track(&Event::new(EventKind::View).category(2), later);
        assert!((s.affinity(2, later) - 3.5).abs() < 0.03);
        s.track(&Event::new(EventKind::Remove).category(2), later);
        s.track(&Event::new(EventKind::Remove).category(2), later);
        assert_eq!(s.affinity(2, later), 0.0);
        assert!(s.affinities().is_empty());
    }

    #[test]
    fn impressions_count_for_caps_and_are_not_in_the_ring() {
        let mut s = Session::new(1, T0);
        let imp = Event::new(EventKind::Impression)
            .item(7)
            .slot(1)
            .campaign(2);
        s.track(&imp, T0);
        s.track(&imp, T0 + 3600);
        assert_eq!(s.events().len(), 0);
        assert_eq!(s.impressions_since(CapScope::Item(7), T0), 2);
        assert_eq!(s.impressions_since(CapScope::Item(7), T0 + 60), 1);
        assert_eq!(s.impressions_since(CapScope::Slot(1), 0), 2);
        assert_eq!(s.impressions_since(CapScope::Campaign(2), 0), 2);
        assert_eq!(s.impressions_since(CapScope::Campaign(7), 0), 0);
        for _ in 0..20 {
            s.track(&imp, T0 + 7200);
        }
        assert_eq!(
            s.impressions_since(CapScope::Item(7), 0),
            MAX_IMPRESSIONS_PER_SCOPE as u32
        );
        // Forgotten after the horizon.
        let far = T0 + u64::from(IMPRESSION_HORIZON_MIN + 200) * 60;
        s.track(&Event::new(EventKind::View), far);
        assert_eq!(s.impressions_since(CapScope::Item(7), 0), 0);
    }

    #[test]
    fn assignments_are_sticky() {
        let mut s = Session::new(1, T0);
        assert_eq!(s.assign(4, 1), 1);
        assert_eq!(s.assign(4, 2), 1);
        assert_eq!(s.assignment(4), Some(1));
        assert_eq!(s.assignment(5), None);
    }

    #[test]
    fn busy_session_round_trips_within_budget() {
        let s = busy_example(T0);
        let bytes = encode(&s);
        assert!(bytes.len() <= BUDGET_BYTES);
        assert_eq!(decode(&bytes).unwrap(), s);
        let text = encode_base64url(&s);
        assert!(text.len() <= 1024, "{}", text.len());
        assert_eq!(decode_base64url(&text).unwrap(), s);
    }

    #[test]
    fn encode_sheds_oldest_to_fit_the_budget() {
        let mut s = Session::new(u64::MAX, T0);
        // Worst case: huge indices and values everywhere.
        for i in 0..200u32 {
            let t = T0 + u64::from(i) * 6000;
            let e = Event::new(EventKind::Custom(u16::MAX))
                .item(u32::MAX - i)
                .category(u32::MAX - i % 30)
                .value(u32::MAX);
            s.track(&e, t);
            s.record_impression(&[CapScope::Item(u32::MAX - i), CapScope::Slot(i)], t);
        }
        for e in 0..MAX_ASSIGNMENTS as u32 {
            s.assign(u32::MAX - e, 255);
        }
        let bytes = encode(&s);
        assert!(bytes.len() <= BUDGET_BYTES, "{}", bytes.len());
        let back = decode(&bytes).unwrap();
        assert!(back.events().len() < s.events().len());
        assert_eq!(back.events().last(), s.events().last());
        assert_eq!(back.seed(), u64::MAX);
    }

    #[test]
    fn every_truncation_and_bad_header_is_a_typed_error() {
        let bytes = encode(&busy_example(T0));
        for len in 0..bytes.len() {
            let err = decode(&bytes[..len]).unwrap_err();
            assert_eq!(err.code(), "session.corrupt", "len {len}");
        }
        let mut b = bytes.clone();
        b[0] = b'X';
        assert_eq!(decode(&b).unwrap_err().code(), "session.bad_magic");
        b[0] = b'S';
        b[4] = 7;
        assert_eq!(
            decode(&b).unwrap_err().code(),
            "session.unsupported_version"
        );
        let mut long = bytes.clone();
        long.resize(MAX_BYTES + 1, 0);
        assert_eq!(decode(&long).unwrap_err().code(), "session.too_large");
        let mut trailing = bytes;
        trailing.push(0);
        assert_eq!(decode(&trailing).unwrap_err().code(), "session.corrupt");
        assert_eq!(
            decode_base64url("!!").unwrap_err().code(),
            "session.corrupt"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_history_encodes_within_budget_and_decodes(
            steps in proptest::collection::vec(
                (0u8..9, proptest::option::of(0u32..u32::MAX), proptest::option::of(0u32..64),
                 proptest::option::of(0u32..8), 0u64..200_000),
                0..120,
            ),
            seed: u64,
        ) {
            let mut s = Session::new(seed, T0);
            let mut now = T0;
            for (kind, item, category, slot, dt) in steps {
                now += dt;
                let kind = match kind {
                    0 => EventKind::View,
                    1 => EventKind::Search,
                    2 => EventKind::AddToCart,
                    3 => EventKind::Remove,
                    4 => EventKind::Purchase,
                    5 | 6 => EventKind::Impression,
                    7 => EventKind::Click,
                    _ => EventKind::Custom(7),
                };
                let event = Event { kind, item, category, slot, campaign: None, value: None };
                s.track(&event, now);
                s.assign(kind.affinity_weight() as u32, 1);
            }
            let bytes = encode(&s);
            proptest::prop_assert!(bytes.len() <= BUDGET_BYTES);
            let back = decode(&bytes).unwrap();
            if encode_raw(&s).len() <= BUDGET_BYTES {
                proptest::prop_assert_eq!(back, s);
            } else {
                proptest::prop_assert_eq!(back.seed(), s.seed());
                proptest::prop_assert_eq!(back.affinities(), s.affinities());
            }
        }
    }

    #[test]
    fn new_vocabulary_clears_indices_but_keeps_seed_and_assignments() {
        let mut s = busy_example(T0);
        s.set_vocabulary(1);
        assert_eq!(s.events().len(), 0);
        assert!(s.affinities().is_empty());
        assert_eq!(s.seed(), 0x9e37_79b9_7f4a_7c15);
        assert_eq!(s.assignment(3), Some(1));
    }
}
