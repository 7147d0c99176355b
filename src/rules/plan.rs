//! A bundle's conditions planned for evaluation per request.
//!
//! When a bundle loads, every field test of every rule (`Cond::Field`: a path and a
//! [`Test`]) is interned as an *atom* with an index; a rule's condition becomes a
//! [`Plan`] whose leaves are atom indices. A request then evaluates each atom at most
//! once, however many rules share it ([`Memo`]), and reads a path only when an atom
//! needs it. Marketers reuse the same segments across many rules: the peer workload's
//! 807 field tests are 85 distinct atoms.
//!
//! A plan evaluates exactly like the [`Cond`] it came from: same tests, same
//! short-circuit order; only repeated work is skipped (conditions are pure functions
//! of the request's document).
//!
//! ```
//! use slotwise::rules::compile::{compile, Dialect, GroupNames};
//! use slotwise::rules::plan::{Memo, Plans};
//! use slotwise::rules::{Json, SavedGroups, Value};
//!
//! let Json(a) = serde_json::from_str(r#"{"device": "mobile", "tier": "gold"}"#).unwrap();
//! let Json(b) = serde_json::from_str(r#"{"device": "mobile", "cart": {"$gt": 50}}"#).unwrap();
//! let (a, b) = (
//!     compile(&a, &GroupNames::default(), Dialect::Strict).unwrap(),
//!     compile(&b, &GroupNames::default(), Dialect::Strict).unwrap(),
//! );
//! let mut plans = Plans::default();
//! let (pa, pb) = (plans.plan(&a), plans.plan(&b));
//! assert_eq!(plans.len(), 3); // `device == mobile` is shared
//! assert_eq!(plans.top_level_keys(), ["device", "tier", "cart"]);
//!
//! let Json(doc) = serde_json::from_str(r#"{"device": "mobile", "tier": "gold", "cart": 20}"#).unwrap();
//! let mut memo = Memo::new(&plans);
//! let groups = SavedGroups::default();
//! assert!(pa.eval(&plans, &mut memo, &|_, path| doc.read(path), &groups));
//! assert!(!pb.eval(&plans, &mut memo, &|_, path| doc.read(path), &groups));
//! ```

use std::borrow::Cow;

use super::condition::{Cond, SavedGroups, Test};
use super::value::Value;

/// How many atoms of one path are compared when interning a new one: beyond that a
/// test is added without looking for a twin, so loading stays linear on bundles with
/// thousands of distinct tests of one attribute.
const DEDUP_WINDOW: usize = 64;

/// The distinct field tests of a bundle's conditions.
#[derive(Clone, Debug, Default)]
pub struct Plans {
    atoms: Vec<(Vec<String>, Test)>,
    /// For interning: atom indices by a hash of their path (the last
    /// [`DEDUP_WINDOW`] per hash), sorted by hash.
    by_path: Vec<(u32, Vec<u32>)>,
}

/// A condition whose field tests are atom indices into [`Plans`].
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Every one holds.
    All(Vec<Plan>),
    /// At least one holds; an empty list holds.
    Any(Vec<Plan>),
    /// The inner plan does not hold.
    Not(Box<Plan>),
    /// Atom `i` holds.
    Atom(u32),
    /// Every one of these atoms holds (the usual `All` of field tests, flat).
    Atoms(Vec<u32>),
    /// Always / never.
    Const(bool),
}

impl Plans {
    /// Plans `cond`, interning its field tests.
    pub fn plan(&mut self, cond: &Cond) -> Plan {
        match cond {
            Cond::All(cs) => {
                let ps: Vec<Plan> = cs.iter().map(|c| self.plan(c)).collect();
                let atoms: Vec<u32> = ps
                    .iter()
                    .filter_map(|p| match p {
                        Plan::Atom(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                if atoms.len() == ps.len() {
                    Plan::Atoms(atoms)
                } else {
                    Plan::All(ps)
                }
            }
            Cond::Any(cs) => Plan::Any(cs.iter().map(|c| self.plan(c)).collect()),
            Cond::Not(c) => Plan::Not(Box::new(self.plan(c))),
            Cond::Field { path, test } => Plan::Atom(self.intern(path, test)),
            Cond::Const(b) => Plan::Const(*b),
        }
    }

    fn intern(&mut self, path: &[String], test: &Test) -> u32 {
        // FNV-1a over the segments, each followed by a 0xff byte (never in UTF-8).
        let hash = path.iter().fold(0x811c_9dc5_u32, |h, part| {
            part.bytes()
                .chain([0xff])
                .fold(h, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
        });
        let at = self.by_path.partition_point(|(h, _)| *h < hash);
        if self.by_path.get(at).is_none_or(|(h, _)| *h != hash) {
            self.by_path.insert(at, (hash, Vec::new()));
        }
        let atoms = &mut self.atoms;
        let Some((_, bucket)) = self.by_path.get_mut(at) else {
            return 0; // unreachable: inserted above
        };
        let twin = bucket.iter().copied().find(|&i| {
            atoms
                .get(i as usize)
                .is_some_and(|(p, t)| t == test && p.as_slice() == path)
        });
        if let Some(i) = twin {
            return i;
        }
        let i = atoms.len() as u32;
        atoms.push((path.to_vec(), test.clone()));
        if bucket.len() == DEDUP_WINDOW {
            bucket.remove(0);
        }
        bucket.push(i);
        i
    }

    /// The path atom `i` reads.
    pub fn path(&self, i: usize) -> Option<&[String]> {
        self.atoms.get(i).map(|a| a.0.as_slice())
    }

    /// How many distinct atoms there are.
    pub fn len(&self) -> usize {
        self.atoms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.atoms.is_empty()
    }

    /// Whether some atom reads the whole document (a path of no segments).
    pub fn reads_root(&self) -> bool {
        self.atoms.iter().any(|(path, _)| path.is_empty())
    }

    /// The first segment of every atom's path, deduplicated, in first-use order: the
    /// only top-level keys of a document that any planned condition reads.
    pub fn top_level_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for (path, _) in &self.atoms {
            if let Some(first) = path.first()
                && !keys.contains(&first.as_str())
            {
                keys.push(first);
            }
        }
        keys
    }
}

/// One request's atom results: unknown until first needed, then remembered.
#[derive(Clone, Debug)]
pub struct Memo(Vec<u8>);

const UNKNOWN: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;

impl Memo {
    /// Nothing evaluated yet.
    pub fn new(plans: &Plans) -> Memo {
        Memo(vec![UNKNOWN; plans.len()])
    }
}

impl Plan {
    /// Whether the planned condition holds. `read` gives the value at atom `i`'s
    /// path (a missing path reads as `Null`); atoms already in `memo` are not
    /// evaluated again.
    pub fn eval<'v>(
        &self,
        plans: &Plans,
        memo: &mut Memo,
        read: &impl Fn(usize, &[String]) -> Cow<'v, Value>,
        groups: &SavedGroups,
    ) -> bool {
        match self {
            Plan::All(ps) => ps.iter().all(|p| p.eval(plans, memo, read, groups)),
            Plan::Any(ps) => ps.is_empty() || ps.iter().any(|p| p.eval(plans, memo, read, groups)),
            Plan::Not(p) => !p.eval(plans, memo, read, groups),
            Plan::Atom(i) => atom(*i, plans, memo, read, groups),
            Plan::Atoms(is) => is.iter().all(|&i| atom(i, plans, memo, read, groups)),
            Plan::Const(b) => *b,
        }
    }
}

fn atom<'v>(
    i: u32,
    plans: &Plans,
    memo: &mut Memo,
    read: &impl Fn(usize, &[String]) -> Cow<'v, Value>,
    groups: &SavedGroups,
) -> bool {
    let i = i as usize;
    match memo.0.get(i).copied() {
        Some(TRUE) => true,
        Some(FALSE) => false,
        _ => {
            let Some((path, test)) = plans.atoms.get(i) else {
                return false;
            };
            let holds = test.eval(&read(i, path), groups);
            if let Some(m) = memo.0.get_mut(i) {
                *m = if holds { TRUE } else { FALSE };
            }
            holds
        }
    }
}
