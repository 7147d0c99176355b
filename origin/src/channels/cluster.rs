//! An identity cluster as the engine's visitor, from its stored signals.
//!
//! With `personalization` consent (the cluster's newest signal, as recorded at the
//! origin) the visitor has:
//! - the **profile** the snippet would carry ([`crate::server::profile::claims`]:
//!   affinities, purchases, segments), with the frequency counters replaced by exact
//!   counts for the bundle's caps ([`super::counters`]) issued at `now`;
//! - a **session** replayed from the cluster's recent behaviour (views, carts,
//!   clicks, purchases, oldest first), so model slots recommend from what the subject did in
//!   any channel.
//!
//! Whatever the consent, the cluster's preference-centre mutes apply
//! ([`ClusterVisitor::with_preferences`]) and its past sends per channel are known
//! (for the contact-frequency check).
//!
//! Without it the visitor is anonymous to the engine (defaults, shop order, popular
//! items): stored history is never used without consent. Experiments and the holdout
//! hash the cluster id, so a subject sees the same arm in every server-side channel.

use slotwise::consent::Consent;
use slotwise::decide::{Engine, Visitor};
use slotwise::profile::VerifiedSnippet;
use slotwise::session::{Event, EventKind, Session};
use slotwise::signals::{Channel, Kind, Signal};

use crate::preferences::Preferences;

use crate::server::profile::{BundleIndex, Issue, claims};

/// Signals read per cluster (newest first): its profile log.
pub const MAX_ROWS: usize = crate::store::profile_log::MAX_SIGNALS;
/// Signals older than this are not read (seconds; 90 days: the longest window a
/// profile looks at, purchasers; affinities halve every week).
pub const HORIZON_SECS: u64 = 90 * 86_400;

/// A cluster ready to decide for.
#[derive(Clone, Debug)]
pub struct ClusterVisitor {
    /// What experiments and the holdout hash: the cluster id ("" when anonymous).
    pub id: String,
    /// Recent behaviour (empty without personalization consent).
    pub session: Session,
    /// The profile claims (none without personalization consent).
    pub profile: Option<VerifiedSnippet>,
    /// The consent recorded at the origin.
    pub consent: Consent,
    /// Category indices the cluster muted in the preference centre (applied with or
    /// without consent: a mute only takes content away).
    pub muted: Vec<u16>,
    /// The cluster's preference-centre record (contact frequency, consent per channel).
    pub preferences: Preferences,
    /// Past messages: (channel, time) of every impression among the signals read
    /// ([`crate::preferences::contact`] checks the contact frequency against them).
    pub sends: Vec<(Channel, u64)>,
}

impl ClusterVisitor {
    /// A visitor the origin knows nothing about (an anonymous context).
    pub fn anonymous(now: u64) -> ClusterVisitor {
        ClusterVisitor {
            id: String::new(),
            session: Session::new(0, now),
            profile: None,
            consent: Consent::NECESSARY_ONLY,
            muted: Vec::new(),
            preferences: Preferences::default(),
            sends: Vec::new(),
        }
    }

    /// Applies the cluster's preference-centre record: its mutes as `engine`'s
    /// category indices.
    pub fn with_preferences(mut self, engine: &Engine, prefs: Preferences) -> ClusterVisitor {
        self.muted = prefs.muted_indices(engine.bundle());
        self.preferences = prefs;
        self
    }

    /// The cluster `cluster` whose signals are `signals` (any order); `index` is the
    /// engine bundle's [`BundleIndex`].
    pub fn from_signals(
        engine: &Engine,
        index: &BundleIndex,
        cluster: &str,
        signals: &[Signal],
        now: u64,
    ) -> ClusterVisitor {
        let bundle = engine.bundle();
        let issue = Issue {
            key_id: "origin",
            audience: &bundle.header.site,
            subject: cluster,
            now,
            ttl: 0,
        };
        let mut c = claims(&issue, index, signals);
        let consent = Consent::from_bits(c.consent);
        let mut visitor = ClusterVisitor::anonymous(now);
        visitor.id = cluster.to_string();
        visitor.consent = consent;
        visitor.sends = signals
            .iter()
            .filter(|s| s.kind == Kind::Impression)
            .map(|s| (s.channel, s.time))
            .collect();
        if !consent.personalization {
            return visitor;
        }
        c.counters = super::counters::for_caps(&bundle.caps, signals, now);
        c.issued_at = now;
        visitor.profile = Some(VerifiedSnippet::from_origin(c));

        let mut ordered: Vec<&Signal> = signals.iter().filter(|s| s.time <= now).collect();
        ordered.sort_by_key(|s| (s.time, s.event_id));
        let start = ordered.first().map_or(now, |s| s.time);
        let mut session = Session::new(seed_of(cluster), start);
        session.set_vocabulary(engine.vocabulary());
        for s in ordered {
            let kind = match s.kind {
                Kind::View => EventKind::View,
                Kind::Click => EventKind::Click,
                Kind::AddToCart => EventKind::AddToCart,
                Kind::Purchase => EventKind::Purchase,
                _ => continue,
            };
            let Some(category) = engine.item_category(s.item) else {
                continue;
            };
            let mut e = Event::new(kind).item(s.item).category(category);
            if let Some(v) = s.value {
                e = e.value(v.min(u64::from(u32::MAX)) as u32);
            }
            session.track(&e, s.time);
        }
        visitor.session = session;
        visitor
    }

    /// The engine's view of this visitor at `now`.
    pub fn visitor(&self, now: u64) -> Visitor<'_> {
        Visitor {
            id: &self.id,
            session: Some(&self.session),
            profile: self.profile.as_ref(),
            consent: self.consent,
            now,
            muted: &self.muted,
        }
    }
}

/// A stable 64-bit seed from the cluster id (FNV-1a).
fn seed_of(cluster: &str) -> u64 {
    cluster.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
