//! The engine: a page request in, one decision per requested slot out.
//!
//! For each slot, in page order (DESIGN.md "Deciding"):
//!
//! 1. **holdout** — a visitor in the bundle's global holdout gets every slot's default;
//! 2. **experiment** — the slot's experiment assigns a variation (GrowthBook hashing on
//!    the visitor id; sticky through the session when one is stored): a control arm
//!    shows the default, a pin arm its item, the personalized arm goes on;
//! 3. **rules** — eligibility (`include`), `exclude`, suppression of items the visitor
//!    already bought, frequency caps, then the first matching `pin`
//!    (see [`crate::rules::action`] for the order);
//! 4. **ranking** — authoring order (strategy `Priority`) or the model's score for the
//!    session (strategy `Model`), plus `boost` / `bury`;
//! 5. **page diversity** — no item twice on a page, at most `category_cap` per category;
//! 6. **exploration** — seeded Thompson sampling over the model's priors;
//! 7. the winner(s), or the slot default.
//!
//! Every requested slot gets a decision with an id, the variant, the rules that
//! matched, and a reason (a stable code plus a sentence from [`Engine::explain`]).
//! Nothing in here can fail or panic on a validated bundle.

use crate::bundle::{Bundle, Content, Strategy};
use crate::caps::CapScope;
use crate::consent::Consent;
use crate::experiment::Effect;
use crate::hex::{splitmix64, u64_hex};
use crate::profile::VerifiedSnippet;
use crate::rules::plan::{Memo, Plan, Plans};
use crate::rules::sieve::Sieve;
use crate::rules::value::same;
use crate::rules::{Action, Rule, Value};
use crate::score::{self, Scored, Scorer, Scratch};
use crate::session::{EventKind, Session};

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
    /// The visitor is in the global holdout (lift measurement).
    Holdout = 2,
    /// The visitor is in an experiment's control arm.
    Control = 3,
    /// An experiment arm shows this item.
    Experiment = 4,
    /// A `pin` rule chose the item.
    Pinned = 5,
    /// The first eligible item in the shop's order (rules decided eligibility).
    Featured = 6,
    /// The model recommended it from the visitor's session.
    Recommended = 7,
    /// The model's popularity prior (no session to go on).
    Popular = 8,
    /// A rule with its own sentence made the item eligible.
    Rule = 9,
    /// The slot reached its frequency cap: the default shows.
    Capped = 10,
    /// The visitor's active journey (snippet claim `journey`): what they left behind.
    Journey = 11,
}

impl Reason {
    /// Every reason, indexed by its discriminant.
    pub const ALL: [Reason; 12] = [
        Reason::Default,
        Reason::UnknownSlot,
        Reason::Holdout,
        Reason::Control,
        Reason::Experiment,
        Reason::Pinned,
        Reason::Featured,
        Reason::Recommended,
        Reason::Popular,
        Reason::Rule,
        Reason::Capped,
        Reason::Journey,
    ];

    /// The reason with discriminant `n`, if any.
    pub fn from_index(n: u32) -> Option<Reason> {
        Reason::ALL.get(n as usize).copied()
    }

    /// Stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Default => "default",
            Reason::UnknownSlot => "unknown_slot",
            Reason::Holdout => "holdout",
            Reason::Control => "control",
            Reason::Experiment => "experiment",
            Reason::Pinned => "pinned",
            Reason::Featured => "featured",
            Reason::Recommended => "recommended",
            Reason::Popular => "popular",
            Reason::Rule => "rule",
            Reason::Capped => "capped",
            Reason::Journey => "journey",
        }
    }

    /// The generic sentence for the reason (see [`Engine::explain`] for the specific one).
    pub fn text(self) -> &'static str {
        match self {
            Reason::Default => "This is what everyone sees here.",
            Reason::UnknownSlot => "This slot is not personalized.",
            Reason::Holdout => {
                "You are in a small group that sees the standard page, so the shop can measure what personalization adds."
            }
            Reason::Control => {
                "You are part of an experiment; your group sees the standard content."
            }
            Reason::Experiment => "You are part of an experiment testing this content.",
            Reason::Pinned | Reason::Featured => "Featured by the shop.",
            Reason::Recommended => "Recommended from what you looked at.",
            Reason::Popular => "Popular right now.",
            Reason::Rule => "Chosen for pages like this one.",
            Reason::Capped => "You have seen this often enough; this is the standard content.",
            Reason::Journey => "Picked up where you left off.",
        }
    }
}

/// Who is asking: everything the engine may know about the visitor.
#[derive(Clone, Copy, Debug)]
pub struct Visitor<'a> {
    /// The id experiments and the holdout hash: the stored visitor seed, or a
    /// per-page-view id without consent (the same id is stored if consent comes later,
    /// so the assignment does not jump).
    pub id: &'a str,
    /// In-session behaviour (in memory without consent, stored with it).
    pub session: Option<&'a Session>,
    /// The verified profile snippet (only used with `personalization` consent).
    pub profile: Option<&'a VerifiedSnippet>,
    /// What the visitor allows.
    pub consent: Consent,
    /// Unix seconds.
    pub now: u64,
    /// Category indices the visitor muted ([`crate::preferences`]): never shown, on
    /// top of the snippet's `muted` claim.
    pub muted: &'a [u16],
}

impl Visitor<'static> {
    /// A visitor the engine knows nothing about.
    pub const ANONYMOUS: Visitor<'static> = Visitor {
        id: "",
        session: None,
        profile: None,
        consent: Consent::NECESSARY_ONLY,
        now: 0,
        muted: &[],
    };
}

static NO_CONTEXT: Value = Value::Null;

/// What the page asks for.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Slot names, in page order.
    pub slots: &'a [&'a str],
    /// Random per page view (from the host's crypto): decision ids and exploration.
    pub seed: u64,
    /// Page context attributes (an object; `Null` for none): conditions read them.
    pub context: &'a Value,
    /// The visitor.
    pub visitor: Visitor<'a>,
}

impl<'a> Request<'a> {
    /// A request with no context and an anonymous visitor.
    pub fn new(slots: &'a [&'a str], seed: u64) -> Request<'a> {
        Request {
            slots,
            seed,
            context: &NO_CONTEXT,
            visitor: Visitor::ANONYMOUS,
        }
    }
}

/// The outcome for one slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision<'a> {
    /// The slot name as requested.
    pub slot: &'a str,
    /// Index of the slot in the bundle (None: unknown slot).
    pub slot_index: Option<u32>,
    /// Unique per page view and slot; signals refer to it.
    pub id: u64,
    /// The items shown, best first (empty: the default content, or the page's own).
    pub items: Vec<u32>,
    /// Index into the bundle's content library of what to show first; `None` keeps
    /// the page's own markup.
    pub content_index: Option<u32>,
    /// The content at `content_index`.
    pub content: Option<&'a Content>,
    /// Why.
    pub reason: Reason,
    /// The reason's argument: the deciding rule's index (`Pinned`, `Rule`), or the
    /// session item the recommendation follows (`Recommended`).
    pub because: Option<u32>,
    /// `(experiment index, variation index)` when the slot runs an experiment the
    /// visitor is in.
    pub variant: Option<(u32, u32)>,
    /// Indices of the slot's rules whose conditions matched.
    pub matched: Vec<u32>,
}

impl Decision<'_> {
    /// The decision id as 16 hex digits (what signals and JS carry).
    pub fn id_hex(&self) -> String {
        u64_hex(self.id)
    }

    /// The frequency-cap scopes this decision's impression counts against: its slot
    /// and each of its items; none when it shows no items (the slot's default).
    pub fn shown(&self) -> impl Iterator<Item = CapScope> + '_ {
        let slot = self.slot_index.filter(|_| !self.items.is_empty());
        slot.map(CapScope::Slot)
            .into_iter()
            .chain(self.items.iter().map(|&i| CapScope::Item(i)))
    }
}

/// A decoded bundle, ready to decide. Cheap to share; deciding never mutates it.
#[derive(Clone, Debug)]
pub struct Engine {
    bundle: Bundle,
    /// Category index of every item (into `categories`).
    item_categories: Vec<u32>,
    /// The category vocabulary, in order of first appearance among items.
    categories: Vec<String>,
    scorer: Option<Scorer>,
    /// Per slot: `(item, rule)` pairs of rules that name items, sorted, so a
    /// candidate finds its rules by binary search instead of scanning every rule.
    rules_by_item: Vec<Vec<(u32, u32)>>,
    /// Per slot: rules that target every candidate (no item list).
    rules_for_all: Vec<Vec<u32>>,
    /// The distinct field tests of every rule's condition.
    plans: Plans,
    /// Per slot, per rule: its condition planned over `plans` (`Const(true)`: no
    /// condition), and whether it needs `personalization` consent.
    rule_plans: Vec<Vec<(Plan, bool)>>,
    /// Per atom of `plans`: where its path starts.
    atom_reads: Vec<Read>,
    /// Per slot: the rules by kind, and the include and exclude rules of each
    /// candidate, looked up once.
    candidate_rules: Vec<CandidateRules>,
    /// Top-level context keys some condition reads (`session`, `profile` and
    /// `consent` excluded: the engine supplies those).
    context_keys: Vec<String>,
    /// Which visitor facts (`FACT_KEYS` order) some condition reads; all of them
    /// when one reads the whole document.
    reads_facts: [bool; 3],
    /// Which `SESSION_FIELDS` some condition reads (bit i: field i).
    session_fields: u8,
    vocabulary: u32,
}

/// Top-level document keys the engine fills from the visitor (they shadow context
/// keys of the same name).
const FACT_KEYS: [&str; 3] = ["session", "profile", "consent"];

/// The fields of the `session` fact, in document order.
const SESSION_FIELDS: [&str; 6] = [
    "views",
    "carts",
    "cartValue",
    "itemsViewed",
    "events",
    "secondsOnSite",
];

/// Where a condition atom's path starts.
#[derive(Clone, Copy, Debug)]
enum Read {
    /// In the page context, under `context_keys[i]`.
    Context(u32),
    /// `session.views.<category>` (or `session.carts.<category>`): read from the
    /// session's counts, as [`Engine::session_facts`] would show it, without building
    /// the facts (`category`: the name's index; `None`: a name no item has).
    SessionCount { carts: bool, category: Option<u32> },
    /// `session.<field>` for a number field (`SESSION_FIELDS[i]`, i ≥ 2), likewise.
    SessionNumber(u8),
    /// In the visitor facts (`FACT_KEYS`).
    Fact,
    /// At the document root (a path of no segments).
    Root,
}

/// A slot's rules as the hot path reads them, looked up once when the bundle loads
/// (no walk over the rules themselves per request): candidate `pos`'s include and
/// exclude rules are `rules[spans[pos].0..spans[pos].1]`, as `(rule, excludes)`.
#[derive(Clone, Debug, Default)]
struct CandidateRules {
    spans: Vec<(u32, u32)>,
    rules: Vec<(u32, bool)>,
    /// The slot's `pin` rules, in rule order.
    pins: Vec<u32>,
    /// Whether a `boost` or `bury` rule can reorder the candidates.
    boosts: bool,
    /// The candidates each condition atom rules out (builds favouring speed:
    /// [`crate::SPEED`]).
    sieve: Option<Sieve>,
}

impl CandidateRules {
    fn of(&self, pos: usize) -> &[(u32, bool)] {
        self.spans
            .get(pos)
            .and_then(|&(a, b)| self.rules.get(a as usize..b as usize))
            .unwrap_or_default()
    }
}

impl Engine {
    /// Wraps a bundle that [`crate::bundle::decode`] validated.
    pub fn new(bundle: Bundle) -> Engine {
        let mut categories: Vec<String> = Vec::new();
        let item_categories = bundle
            .items
            .iter()
            .map(
                |item| match categories.iter().position(|c| *c == item.category) {
                    Some(i) => i as u32,
                    None => {
                        categories.push(item.category.clone());
                        (categories.len() - 1) as u32
                    }
                },
            )
            .collect::<Vec<u32>>();
        let scorer = if bundle.model.is_empty() {
            None
        } else {
            Scorer::new(&bundle.model, Some(&item_categories)).ok()
        };
        let mut rules_by_item = Vec::with_capacity(bundle.slots.len());
        let mut rules_for_all = Vec::with_capacity(bundle.slots.len());
        let mut plans = Plans::default();
        let rule_plans: Vec<Vec<(Plan, bool)>> = bundle
            .slots
            .iter()
            .map(|slot| {
                slot.rules
                    .iter()
                    .map(|rule| {
                        let plan = rule
                            .when
                            .as_ref()
                            .map_or(Plan::Const(true), |c| plans.plan(c));
                        (plan, rule.requires_personalization)
                    })
                    .collect()
            })
            .collect();
        let atom_reads = (0..plans.len())
            .map(|i| match plans.path(i).unwrap_or_default() {
                [] => Read::Root,
                [session, field, name]
                    if session == "session" && matches!(field.as_str(), "views" | "carts") =>
                {
                    Read::SessionCount {
                        carts: field == "carts",
                        category: categories.iter().position(|c| c == name).map(|c| c as u32),
                    }
                }
                [session, field] if session == "session" => SESSION_FIELDS
                    .iter()
                    .position(|f| f == field)
                    .filter(|&f| f >= 2)
                    .map_or(Read::Fact, |f| Read::SessionNumber(f as u8)),
                [k, ..] if FACT_KEYS.contains(&k.as_str()) => Read::Fact,
                _ => Read::Context(0), // the key's index is set below
            })
            .collect::<Vec<Read>>();
        // `session.<field>...` reads that one field; `session` alone, or the whole
        // document, reads them all.
        let session_fields =
            (0..plans.len())
                .filter_map(|i| plans.path(i))
                .fold(0u8, |mask, path| match path {
                    [] => u8::MAX,
                    [first] if first == "session" => u8::MAX,
                    [first, field, ..] if first == "session" => SESSION_FIELDS
                        .iter()
                        .position(|f| f == field)
                        .map_or(mask, |i| mask | 1 << i),
                    _ => mask,
                });
        let top = plans.top_level_keys();
        let reads_facts = FACT_KEYS.map(|f| plans.reads_root() || top.contains(&f));
        let context_keys: Vec<String> = top
            .into_iter()
            .filter(|k| !FACT_KEYS.contains(k))
            .map(String::from)
            .collect();
        let atom_reads = atom_reads
            .into_iter()
            .enumerate()
            .map(
                |(i, read)| match (read, plans.path(i).and_then(<[String]>::first)) {
                    (Read::Context(_), Some(first)) => context_keys
                        .iter()
                        .position(|k| k == first)
                        .map_or(read, |at| Read::Context(at as u32)),
                    _ => read,
                },
            )
            .collect();
        for slot in &bundle.slots {
            let mut by_item = Vec::new();
            let mut for_all = Vec::new();
            for (r, rule) in slot.rules.iter().enumerate() {
                if rule.items.is_empty() {
                    for_all.push(r as u32);
                }
                by_item.extend(rule.items.iter().map(|&i| (i, r as u32)));
            }
            crate::sort::sort_by(&mut by_item, |a, b| a.cmp(b));
            by_item.dedup();
            rules_by_item.push(by_item);
            rules_for_all.push(for_all);
        }
        let mut engine = Engine {
            bundle,
            item_categories,
            categories,
            scorer,
            rules_by_item,
            rules_for_all,
            plans,
            rule_plans,
            atom_reads,
            candidate_rules: Vec::new(),
            context_keys,
            reads_facts,
            session_fields,
            vocabulary: 0,
        };
        engine.vocabulary = crate::bundle::vocabulary(&engine.bundle);
        engine.candidate_rules = (0..engine.bundle.slots.len())
            .map(|s| engine.candidate_rules(s))
            .collect();
        engine
    }

    /// The rules of slot `slot` that target `item`, in rule order: the slot's
    /// rules for every item merged with the item's own (both lists are sorted), so a
    /// candidate's lookup allocates nothing.
    fn rules_for(&self, slot: usize, item: u32) -> impl Iterator<Item = u32> + '_ {
        let all = self.rules_for_all.get(slot).map_or(&[][..], Vec::as_slice);
        let pairs = self.rules_by_item.get(slot).map_or(&[][..], Vec::as_slice);
        let start = pairs.partition_point(|p| p.0 < item);
        let own = &pairs[start..start + pairs[start..].iter().take_while(|p| p.0 == item).count()];
        let (mut a, mut b) = (
            all.iter().copied().peekable(),
            own.iter().map(|p| p.1).peekable(),
        );
        core::iter::from_fn(move || match (a.peek(), b.peek()) {
            (Some(&x), Some(&y)) if x <= y => {
                if x == y {
                    b.next();
                }
                a.next()
            }
            (_, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => None,
        })
    }

    /// Slot `slot`'s include and exclude rules of each candidate.
    fn candidate_rules(&self, slot: usize) -> CandidateRules {
        let mut out = CandidateRules::default();
        let Some(s) = self.bundle.slots.get(slot) else {
            return out;
        };
        for &item in &s.candidates {
            let start = out.rules.len() as u32;
            out.rules.extend(self.rules_for(slot, item).filter_map(|r| {
                match s.rules.get(r as usize)?.action {
                    Action::Include => Some((r, false)),
                    Action::Exclude => Some((r, true)),
                    _ => None,
                }
            }));
            out.spans.push((start, out.rules.len() as u32));
        }
        for (r, rule) in s.rules.iter().enumerate() {
            match rule.action {
                Action::Pin => out.pins.push(r as u32),
                Action::Boost(_) | Action::Bury(_) => out.boosts = true,
                _ => {}
            }
        }
        if crate::SPEED {
            let needs = (0..s.candidates.len())
                .filter_map(|pos| Some((pos, self.sieve_atoms(slot, out.of(pos))?)));
            out.sieve = Some(Sieve::new(s.candidates.len(), needs));
        }
        out
    }

    /// The atoms whose conjunction is exactly the eligibility of a candidate with
    /// these include/exclude `rules` of slot `slot` (one include rule, no consent
    /// requirement); `None` when it is more than that.
    fn sieve_atoms(&self, slot: usize, rules: &[(u32, bool)]) -> Option<&[u32]> {
        let &[(r, false)] = rules else {
            return None;
        };
        match self.rule_plans.get(slot)?.get(r as usize)? {
            (Plan::Atoms(atoms), false) => Some(atoms),
            (Plan::Atom(atom), false) => Some(core::slice::from_ref(atom)),
            _ => None,
        }
    }

    /// The bundle this engine decides with.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The names of every slot the bundle declares, in authoring order.
    pub fn slot_names(&self) -> Vec<&str> {
        self.bundle.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// The top-level page context keys that some rule's condition reads, in first-use
    /// order: other context attributes cannot change a decision, so a host may leave
    /// them out of the request (`session`, `profile` and `consent` are never read
    /// from the context).
    pub fn context_keys(&self) -> &[String] {
        &self.context_keys
    }

    /// The category vocabulary (session and snippet category indices refer to it).
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The index of category `name`.
    pub fn category_index(&self, name: &str) -> Option<u32> {
        self.categories
            .iter()
            .position(|c| c == name)
            .map(|i| i as u32)
    }

    /// The index of item `id`.
    pub fn item_index(&self, id: &str) -> Option<u32> {
        self.bundle
            .items
            .iter()
            .position(|i| i.id == id)
            .map(|i| i as u32)
    }

    /// The category index of item `item`.
    pub fn item_category(&self, item: u32) -> Option<u32> {
        self.item_categories.get(item as usize).copied()
    }

    /// A fingerprint of the vocabulary (items and categories) that session and
    /// snippet indices refer to: state from another vocabulary is reset, not misread.
    pub fn vocabulary(&self) -> u32 {
        self.vocabulary
    }

    /// One decision per requested slot, in request order.
    pub fn decide<'a>(&'a self, request: &Request<'a>) -> Vec<Decision<'a>> {
        self.decide_reusing(request, &mut PageScratch::default())
    }

    /// [`Engine::decide`] in the memory of `scratch` (any earlier page's, of any
    /// engine): a caller deciding many pages keeps one, so a page allocates little
    /// more than its decisions. The decisions are the same either way.
    pub fn decide_reusing<'a>(
        &'a self,
        request: &Request<'a>,
        scratch: &mut PageScratch,
    ) -> Vec<Decision<'a>> {
        let page = &mut scratch.0;
        page.placed.clear();
        page.facts = None;
        page.memo.reset(&self.plans);
        page.tops.clear();
        page.may_suppress = None;
        page.purchases = None;
        let held_out = self
            .bundle
            .holdout
            .as_ref()
            .is_some_and(|h| h.holds_out(request.visitor.id));
        request
            .slots
            .iter()
            .enumerate()
            .map(|(i, &name)| {
                let id = splitmix64(request.seed ^ splitmix64(i as u64));
                let mut d = Decision {
                    slot: name,
                    slot_index: None,
                    id,
                    items: Vec::new(),
                    content_index: None,
                    content: None,
                    reason: Reason::UnknownSlot,
                    because: None,
                    variant: None,
                    matched: Vec::new(),
                };
                if let Some(index) = self.bundle.slots.iter().position(|s| s.name == name) {
                    d.slot_index = Some(index as u32);
                    if held_out {
                        self.show_default(&mut d, Reason::Holdout);
                    } else {
                        self.decide_slot(request, index, page, &mut d);
                    }
                }
                d
            })
            .collect()
    }

    /// The sentence for "why am I seeing this" for a decision of this engine.
    pub fn explain(&self, slot: Option<u32>, reason: Reason, because: Option<u32>) -> String {
        let rule = slot
            .and_then(|s| self.bundle.slots.get(s as usize))
            .zip(because)
            .and_then(|(s, r)| s.rules.get(r as usize));
        match reason {
            Reason::Pinned | Reason::Rule => match rule.and_then(|r| r.text.as_deref()) {
                Some(text) => text.into(),
                None => reason.text().into(),
            },
            Reason::Recommended => {
                let seen = because
                    .and_then(|i| self.bundle.items.get(i as usize))
                    .and_then(|item| self.bundle.content.get(item.content as usize))
                    .and_then(|c| c.title.as_deref());
                match seen {
                    Some(title) => {
                        let mut s = String::from("Because you viewed ");
                        s.push_str(title);
                        s.push('.');
                        s
                    }
                    None => reason.text().into(),
                }
            }
            _ => reason.text().into(),
        }
    }

    fn show_default<'a>(&'a self, d: &mut Decision<'a>, reason: Reason) {
        if let Some(slot) = d.slot_index.and_then(|i| self.bundle.slots.get(i as usize)) {
            d.content_index = Some(slot.default_content);
            d.content = self.bundle.content.get(slot.default_content as usize);
        }
        d.items.clear();
        d.reason = reason;
    }

    fn show_items<'a>(&'a self, d: &mut Decision<'a>, items: Vec<u32>, reason: Reason) {
        let first = items
            .first()
            .and_then(|&i| self.bundle.items.get(i as usize));
        match first {
            Some(item) => {
                d.content_index = Some(item.content);
                d.content = self.bundle.content.get(item.content as usize);
                d.items = items;
                d.reason = reason;
            }
            None => self.show_default(d, Reason::Default),
        }
    }

    fn decide_slot<'a>(
        &'a self,
        request: &Request<'a>,
        index: usize,
        page: &mut PageState,
        d: &mut Decision<'a>,
    ) {
        let slot = &self.bundle.slots[index];
        let visitor = &request.visitor;

        // 1b. The slot's own frequency cap.
        if self.capped(CapScope::Slot(index as u32), visitor) {
            return self.show_default(d, Reason::Capped);
        }

        // 2. Experiment.
        if let Some(e) = slot.experiment
            && let Some(exp) = self.bundle.experiments.get(e as usize)
        {
            let sticky = visitor
                .session
                .filter(|_| visitor.consent.personalization)
                .and_then(|s| s.assignment(e))
                .map(usize::from);
            let variation = sticky.or_else(|| exp.assign(visitor.id).map(|b| b.variation));
            if let Some(v) = variation
                && let Some(arm) = exp.variations.get(v)
            {
                d.variant = Some((e, v as u32));
                match arm.effect {
                    Effect::Default => return self.show_default(d, Reason::Control),
                    // An arm's item in a muted category: the slot decides as usual.
                    Effect::Pin(item) if !crate::preferences::is_muted(self, item, visitor) => {
                        page.placed.push(item);
                        return self.show_items(d, vec![item], Reason::Experiment);
                    }
                    Effect::Pin(_) | Effect::Personalized => {}
                }
            }
        }

        // 3. Rules.
        let mut ev = SlotEval {
            engine: self,
            request,
            slot_index: index,
            memo: {
                let mut memo = core::mem::take(&mut page.rule_memo);
                memo.clear();
                memo.resize(slot.rules.len(), None);
                memo
            },
        };
        let count = usize::from(slot.count.max(1));
        let table = self.candidate_rules.get(index);
        let pins = table.map_or(&[][..], |t| t.pins.as_slice());
        let has_boosts = table.is_some_and(|t| t.boosts);

        // Pins: the first matching pin whose item is eligible and not on the page yet.
        for &r in pins {
            let r = r as usize;
            let Some(rule) = slot.rules.get(r) else {
                continue;
            };
            if !ev.matches(r, page) {
                continue;
            }
            for &item in &rule.items {
                if !page.placed.contains(&item) && ev.eligible(item, page).is_some() {
                    page.placed.push(item);
                    self.show_items(d, vec![item], Reason::Pinned);
                    d.because = Some(r as u32);
                    d.matched = ev.matched();
                    return;
                }
            }
        }

        // 3b. The visitor's active journey (claim `journey`): its items first.
        let journey = match self.claims(visitor) {
            Some(c) if !c.journey.is_empty() => {
                crate::journey::pick(&c.journey, &slot.candidates, count, |item| {
                    !page.placed.contains(&item) && ev.eligible(item, page).is_some()
                })
            }
            _ => Vec::new(),
        };
        page.placed.extend_from_slice(&journey);
        let count = count - journey.len();
        if !journey.is_empty()
            && (count == 0 || (slot.strategy == Strategy::Model && self.scorer.is_none()))
        {
            d.matched = ev.matched();
            return self.show_items(d, journey, Reason::Journey);
        }

        // 4. Ranking.
        let mut ranked = core::mem::take(&mut page.ranked);
        ranked.clear();
        let mut reason = Reason::Featured;
        match slot.strategy {
            Strategy::Priority => {
                let n = slot.candidates.len() as f32;
                // Without boosts the order is final: stop at enough candidates, with
                // a few spare when the page's category cap may skip some (like a
                // GrowthBook feature stops at its first matching rule).
                let enough = count
                    + if self.bundle.page.category_cap == 0 {
                        0
                    } else {
                        4
                    };
                // Candidates an atom known to fail rules out are skipped.
                let sieve = table
                    .and_then(|t| t.sieve.as_ref())
                    .filter(|_| crate::SPEED);
                let mut live = core::mem::take(&mut page.live);
                if let Some(sieve) = sieve {
                    sieve.start(&page.memo, &mut live);
                }
                let mut next = 0;
                while let Some(pos) = match sieve {
                    Some(sieve) => sieve.next(&live, next),
                    None => Some(next),
                } {
                    next = pos + 1;
                    let Some(&item) = slot.candidates.get(pos) else {
                        break;
                    };
                    if page.placed.contains(&item)
                        || (!has_boosts && ranked.iter().any(|(s, _)| s.item == item))
                    {
                        continue;
                    }
                    let Some(why) = ev.candidate_eligible(pos, item, page) else {
                        let rules = table.map_or(&[][..], |t| t.of(pos));
                        if let Some((sieve, atoms)) = sieve.zip(self.sieve_atoms(index, rules)) {
                            for &atom in atoms.iter().filter(|&&a| page.memo.is_false(a)) {
                                sieve.rule_out(atom, &mut live);
                            }
                        }
                        continue;
                    };
                    let score = n - pos as f32;
                    ranked.push((Scored { item, score }, why));
                    if !has_boosts && ranked.len() >= enough {
                        break;
                    }
                }
                page.live = live;
            }
            Strategy::Model => {
                let Some(scorer) = &self.scorer else {
                    return self.show_default(d, Reason::Default);
                };
                let session_items: Vec<u32> = visitor
                    .session
                    .map(|s| s.events().filter_map(|e| e.item).collect())
                    .unwrap_or_default();
                reason = if session_items.is_empty() {
                    Reason::Popular
                } else {
                    Reason::Recommended
                };
                d.because = session_items.last().copied();
                let n_items = self.bundle.items.len();
                let scratch = page.scratch.get_or_insert_with(|| Scratch::new(n_items));
                scorer.score(&session_items, scratch);
                let allowed =
                    |item: u32| slot.candidates.is_empty() || slot.candidates.contains(&item);
                let mut scored: Vec<Scored> = scratch
                    .candidates()
                    .filter(|s| allowed(s.item) && !page.placed.contains(&s.item))
                    .collect();
                score::explore(
                    &mut scored,
                    |i| scorer.prior(i),
                    request.seed ^ splitmix64(index as u64 + 1),
                    scorer.params().explore,
                );
                for s in scored {
                    if let Some(why) = ev.eligible(s.item, page) {
                        ranked.push((s, why));
                    }
                }
            }
        }
        if has_boosts {
            for (s, _) in &mut ranked {
                for (r, rule) in slot.rules.iter().enumerate() {
                    let delta = match rule.action {
                        Action::Boost(a) => a,
                        Action::Bury(a) => -a,
                        _ => continue,
                    };
                    if rule.targets(s.item) && ev.matches(r, page) {
                        s.score += delta;
                    }
                }
            }
        }
        crate::sort::sort_by(&mut ranked, |a, b| {
            b.0.score
                .total_cmp(&a.0.score)
                .then(a.0.item.cmp(&b.0.item))
        });

        // 5. Page diversity, then the winners.
        let cap = usize::from(self.bundle.page.category_cap);
        let picks = score::diversify(
            ranked.iter().map(|(s, _)| s),
            count,
            &self.item_categories,
            if cap == 0 { usize::MAX } else { cap },
            &mut page.placed,
        );
        let deciding_rule = picks
            .first()
            .and_then(|&first| ranked.iter().find(|(s, _)| s.item == first))
            .and_then(|(_, why)| *why)
            .filter(|&r| slot.rules.get(r as usize).is_some_and(|r| r.text.is_some()));
        if let Some(r) = deciding_rule {
            reason = Reason::Rule;
            d.because = Some(r);
        }
        d.matched = ev.matched();
        if !journey.is_empty() {
            let mut items = journey;
            items.extend_from_slice(&picks);
            self.show_items(d, items, Reason::Journey);
        } else if picks.is_empty() {
            self.show_default(d, Reason::Default);
        } else {
            self.show_items(d, picks, reason);
        }
        // The next slot reuses the buffers.
        page.rule_memo = ev.memo;
        page.ranked = ranked;
    }

    /// Already bought (session or snippet, with consent) or over a frequency cap.
    fn suppressed(&self, item: u32, visitor: &Visitor<'_>, page: &mut PageState) -> bool {
        // Once per page: whether anything can be suppressed at all.
        let possible = *page.may_suppress.get_or_insert_with(|| {
            visitor.session.is_some_and(|s| {
                s.events()
                    .any(|e| e.kind == EventKind::Purchase && e.item.is_some())
            }) || self
                .claims(visitor)
                .is_some_and(|c| !c.purchases.is_empty())
                || self
                    .bundle
                    .caps
                    .iter()
                    .any(|c| matches!(c.scope, CapScope::Item(_)))
        });
        if !possible {
            return false;
        }
        let purchases = page.purchases.get_or_insert_with(|| {
            visitor
                .session
                .map(|s| {
                    s.events()
                        .filter(|e| e.kind == EventKind::Purchase)
                        .filter_map(|e| e.item)
                        .collect()
                })
                .unwrap_or_default()
        });
        if purchases.contains(&item) {
            return true;
        }
        let claims = self.claims(visitor);
        if claims.is_some_and(|c| c.purchases.contains(&item)) {
            return true;
        }
        self.capped(CapScope::Item(item), visitor)
    }

    /// The profile claims the engine may use: with personalization consent, and only
    /// when they index this bundle's vocabulary.
    fn claims<'v>(&self, visitor: &Visitor<'v>) -> Option<&'v crate::profile::Claims> {
        visitor
            .profile
            .filter(|_| visitor.consent.personalization)
            .map(VerifiedSnippet::claims)
            .filter(|c| c.vocabulary == self.vocabulary)
    }

    /// Whether `scope` has reached one of its frequency caps: impressions on this
    /// device (the session) plus, with consent, the snippet's cross-channel counters.
    fn capped(&self, scope: CapScope, visitor: &Visitor<'_>) -> bool {
        if self.bundle.caps.is_empty() {
            return false;
        }
        let claims = self.claims(visitor);
        let (counters, at) = claims.map_or((&[][..], 0), |c| (&c.counters[..], c.issued_at));
        self.bundle
            .caps
            .iter()
            .filter(|c| c.scope == scope)
            .any(|cap| match visitor.session {
                Some(s) => cap.count(s, counters, at, visitor.now) >= u32::from(cap.limit),
                None => counters
                    .iter()
                    .filter(|c| c.scope == cap.scope)
                    .any(|c| c.count >= cap.limit),
            })
    }

    /// Whether condition atom `atom` holds for the request: its path read where
    /// [`Read`] says (the visitor facts built on first use into `facts`, the context
    /// keys' positions found on first use into `tops`), then its test.
    fn atom_holds(
        &self,
        atom: usize,
        request: &Request<'_>,
        facts: &mut Option<Value>,
        tops: &mut Vec<u32>,
    ) -> bool {
        let Some((path, test)) = self.plans.atom(atom) else {
            return false;
        };
        let groups = &self.bundle.saved_groups;
        let session = request.visitor.session;
        match self.atom_reads.get(atom) {
            Some(&Read::Context(top)) => {
                let pairs = match request.context {
                    Value::Object(pairs) => pairs.as_slice(),
                    _ => &[],
                };
                if tops.is_empty() {
                    let keys = &self.context_keys;
                    // The package's keyed context has exactly the keys, in order.
                    if pairs.len() == keys.len()
                        && pairs.iter().zip(keys).all(|((p, _), k)| same(p, k))
                    {
                        tops.extend(0..keys.len() as u32);
                    } else {
                        let at = |k: &String| pairs.iter().position(|(p, _)| same(p, k));
                        tops.extend(keys.iter().map(|k| at(k).map_or(u32::MAX, |i| i as u32)));
                    }
                }
                let at = tops.get(top as usize).copied().unwrap_or(u32::MAX);
                match pairs.get(at as usize) {
                    Some((_, v)) => test.eval(&v.read(path.get(1..).unwrap_or_default()), groups),
                    None => test.eval(&Value::Null, groups),
                }
            }
            Some(&Read::SessionCount { carts, category }) => {
                let count = session
                    .zip(category)
                    .and_then(|(s, c)| s.counts().iter().find(|n| n.category == c))
                    .map_or(0, |n| if carts { n.carts } else { n.views });
                if count == 0 {
                    test.eval(&Value::Null, groups)
                } else {
                    test.eval(&Value::Number(f64::from(count)), groups)
                }
            }
            Some(&Read::SessionNumber(field)) => match session {
                Some(s) => test.eval(
                    &Value::Number(session_number(s, field, request.visitor.now)),
                    groups,
                ),
                None => test.eval(&Value::Null, groups),
            },
            Some(Read::Fact) => {
                let facts = facts.get_or_insert_with(|| self.visitor_facts(request));
                test.eval(&facts.read(path), groups)
            }
            Some(Read::Root) => {
                let facts = facts.get_or_insert_with(|| self.visitor_facts(request));
                test.eval(&self.document(request, facts), groups)
            }
            None => false,
        }
    }

    /// The document conditions read: the page context's attributes at the top level,
    /// plus `session`, `profile` and `consent` ([`Engine::visitor_facts`]), which
    /// shadow context keys of that name. Built only for a condition that reads the
    /// whole document (a path of no segments, which the compiler never makes).
    fn document(&self, request: &Request<'_>, facts: &Value) -> Value {
        let mut pairs: Vec<(String, Value)> = match request.context {
            Value::Object(pairs) => pairs
                .iter()
                .filter(|(k, _)| !FACT_KEYS.contains(&k.as_str()))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        if let Value::Object(facts) = facts {
            pairs.extend(facts.iter().cloned());
        }
        Value::Object(pairs)
    }

    /// What the engine knows about the visitor, as the document's `session` (with a
    /// session), `profile` (with a profile and personalization consent) and `consent`:
    /// the ones some condition reads.
    fn visitor_facts(&self, request: &Request<'_>) -> Value {
        let mut pairs: Vec<(String, Value)> = Vec::with_capacity(3);
        let visitor = &request.visitor;
        let [session, profile, consent] = self.reads_facts;
        if session && let Some(s) = visitor.session {
            pairs.push(("session".into(), self.session_facts(s, visitor.now)));
        }
        if profile
            && visitor.consent.personalization
            && let Some(p) = visitor.profile
        {
            let c = p.claims();
            let segments = c
                .segments
                .iter()
                .map(|&s| Value::Number(f64::from(s)))
                .collect();
            pairs.push((
                "profile".into(),
                Value::Object(vec![("segments".into(), Value::Array(segments))]),
            ));
        }
        if !consent {
            return Value::Object(pairs);
        }
        let consent = visitor.consent;
        pairs.push((
            "consent".into(),
            Value::Object(vec![
                (
                    "personalization".into(),
                    Value::Bool(consent.personalization),
                ),
                ("measurement".into(), Value::Bool(consent.measurement)),
                ("advertising".into(), Value::Bool(consent.advertising)),
            ]),
        ));
        Value::Object(pairs)
    }

    /// `session.views.<category>`, `session.carts.<category>`, `session.cartValue`,
    /// `session.itemsViewed`, `session.events`, `session.secondsOnSite`.
    /// Only the fields some condition reads are built.
    fn session_facts(&self, s: &Session, now: u64) -> Value {
        // `{ category name: count }` for the categories with a non-zero count.
        let per_category = |count: fn(&crate::session::CategoryCount) -> u16| {
            let pairs = s.counts().iter().filter(|c| count(c) > 0).filter_map(|c| {
                let name = self.categories.get(c.category as usize)?;
                Some((name.clone(), Value::Number(f64::from(count(c)))))
            });
            Value::Object(pairs.collect())
        };
        let fields = self.session_fields;
        let mut out = Vec::with_capacity(fields.count_ones() as usize);
        for (i, field) in SESSION_FIELDS.iter().enumerate() {
            if fields & (1 << i) == 0 {
                continue;
            }
            let value = match i {
                0 => per_category(|c| c.views),
                1 => per_category(|c| c.carts),
                _ => Value::Number(session_number(s, i as u8, now)),
            };
            out.push(((*field).into(), value));
        }
        Value::Object(out)
    }
}

/// The number fields of the `session` fact (`SESSION_FIELDS[field]`, `field` ≥ 2):
/// `cartValue`, `itemsViewed`, `events`, `secondsOnSite`.
fn session_number(s: &Session, field: u8, now: u64) -> f64 {
    match field {
        2 => f64::from(s.cart_cents()) / 100.0,
        3 => s
            .events()
            .filter(|e| e.kind == EventKind::View && e.item.is_some())
            .count() as f64,
        4 => s.events().len() as f64,
        _ => s.seconds_on_site(now) as f64,
    }
}

/// The memory of one page's decisions, kept between pages by a caller that decides
/// many ([`Engine::decide_reusing`]).
#[derive(Default)]
pub struct PageScratch(PageState);

/// Per-page state shared by the slots of one request.
#[derive(Default)]
struct PageState {
    /// Items already shown on the page.
    placed: Vec<u32>,
    /// The visitor facts conditions read (`session`, `profile`, `consent`), built on
    /// first use.
    facts: Option<Value>,
    /// Condition atoms evaluated so far (each at most once per page).
    memo: Memo,
    /// A slot's rule results and ranking, kept for the next slot's reuse.
    rule_memo: Vec<Option<bool>>,
    ranked: Vec<(Scored, Option<u32>)>,
    /// The live candidates of a sieved priority walk, kept for the next slot's reuse.
    live: Vec<u64>,
    /// Per context key some condition reads: the index of its pair in the page
    /// context (`u32::MAX`: absent), found on first use (empty: not yet).
    tops: Vec<u32>,
    /// Whether any item can be suppressed on this page (purchases, item caps).
    may_suppress: Option<bool>,
    /// Items the session's recent events say were bought, collected on first use.
    purchases: Option<Vec<u32>>,
    /// Scoring memory, allocated on first use.
    scratch: Option<Scratch>,
}

/// Rule evaluation for one slot: each condition is evaluated at most once, and only
/// when a candidate needs it (a priority slot stops at its first eligible item).
struct SlotEval<'e, 'r> {
    engine: &'e Engine,
    request: &'r Request<'r>,
    slot_index: usize,
    memo: Vec<Option<bool>>,
}

impl SlotEval<'_, '_> {
    fn rules(&self) -> &[Rule] {
        self.engine
            .bundle
            .slots
            .get(self.slot_index)
            .map_or(&[], |s| s.rules.as_slice())
    }

    /// Whether rule `r` matches (skipped rules do not).
    fn matches(&mut self, r: usize, page: &mut PageState) -> bool {
        if let Some(Some(known)) = self.memo.get(r) {
            return *known;
        }
        let engine = self.engine;
        let request = self.request;
        let result = match engine
            .rule_plans
            .get(self.slot_index)
            .and_then(|p| p.get(r))
        {
            Some((_, true)) if !request.visitor.consent.personalization => false,
            Some((plan, _)) => {
                let PageState {
                    memo, facts, tops, ..
                } = page;
                plan.eval_with(memo, &mut |atom| {
                    engine.atom_holds(atom, request, facts, tops)
                })
            }
            None => false,
        };
        if let Some(slot) = self.memo.get_mut(r) {
            *slot = Some(result);
        }
        result
    }

    /// `None`: not eligible. `Some(None)`: eligible (no include rule targets it).
    /// `Some(Some(r))`: include rule `r` made it eligible.
    fn eligible(&mut self, item: u32, page: &mut PageState) -> Option<Option<u32>> {
        let engine = self.engine;
        self.eligible_by(item, engine.rules_for(self.slot_index, item), page)
    }

    /// [`SlotEval::eligible`] for the Priority slot's candidate at `pos`.
    fn candidate_eligible(
        &mut self,
        pos: usize,
        item: u32,
        page: &mut PageState,
    ) -> Option<Option<u32>> {
        let engine = self.engine;
        let rules = engine
            .candidate_rules
            .get(self.slot_index)
            .map_or(&[][..], |c| c.of(pos));
        if self.hidden(item, page) {
            return None;
        }
        let mut included: Option<Option<u32>> = Some(None);
        for &(r, excludes) in rules {
            if excludes {
                if self.matches(r as usize, page) {
                    return None;
                }
            } else if !matches!(included, Some(Some(_))) {
                // Include rules make the item ineligible unless one of them matches.
                included = self.matches(r as usize, page).then_some(Some(r));
            }
        }
        included
    }

    /// Whether `item` is never shown to this visitor here: suppressed (caps, already
    /// bought, ...) or in a category they muted.
    #[inline(never)]
    fn hidden(&self, item: u32, page: &mut PageState) -> bool {
        self.engine.suppressed(item, &self.request.visitor, page)
            || crate::preferences::is_muted(self.engine, item, &self.request.visitor)
    }

    /// Eligibility of `item` given the rules that target it, in rule order.
    fn eligible_by(
        &mut self,
        item: u32,
        rules: impl Iterator<Item = u32>,
        page: &mut PageState,
    ) -> Option<Option<u32>> {
        if self.hidden(item, page) {
            return None;
        }
        let mut included: Option<Option<u32>> = Some(None);
        let mut any_include = false;
        for r in rules {
            let r = r as usize;
            let Some(action) = self.rules().get(r).map(|rule| rule.action) else {
                continue;
            };
            match action {
                Action::Exclude if self.matches(r, page) => return None,
                Action::Include => {
                    if !any_include {
                        any_include = true;
                        included = None;
                    }
                    if included.is_none() && self.matches(r, page) {
                        included = Some(Some(r as u32));
                    }
                }
                _ => {}
            }
        }
        included
    }

    /// The rules evaluated so far that matched.
    fn matched(&self) -> Vec<u32> {
        self.memo
            .iter()
            .enumerate()
            .filter(|(_, m)| **m == Some(true))
            .map(|(r, _)| r as u32)
            .collect()
    }
}
