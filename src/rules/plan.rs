//! A bundle's conditions planned for evaluation per request.
//!
//! When a bundle loads, every field test of every rule (`Cond::Field`: a path and a
//! [`Test`]) is interned as an *atom* with an index; a rule's condition becomes a
//! [`Plan`] whose leaves are atom indices. A request then evaluates each atom at most
//! once, however many rules share it ([`Memo`]), and reads a path only when an atom
//! needs it. Marketers reuse the same segments across many rules: the peer workload's
//! 807 field tests are 85 distinct atoms.
//!
//! A plan evaluates to exactly what the [`Cond`] it came from does: the same tests,
//! with repeated work skipped. A flat conjunction ([`Plan::Atoms`]) runs its cheap
//! tests before regexes and version comparisons, and stops at once on an atom already
//! known to fail; conditions are pure functions of the request's document, so the
//! order cannot change a result.
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

use super::condition::{Cond, Op, SavedGroups, Test};
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
                    // Cheap tests first, each group in authored order: a conjunction
                    // often fails on one of them before a regex or a version
                    // comparison has to run.
                    if !crate::SPEED {
                        return Plan::Atoms(atoms);
                    }
                    let (mut cheap, dear): (Vec<u32>, Vec<u32>) =
                        atoms.into_iter().partition(|&a| !self.costly(a));
                    cheap.extend(dear);
                    Plan::Atoms(cheap)
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

    /// Whether evaluating atom `i` costs more than a comparison: a regex or a
    /// version comparison (a host call, an allocation).
    fn costly(&self, i: u32) -> bool {
        match self.atoms.get(i as usize) {
            Some((_, Test::Ops(ops))) => ops
                .iter()
                .any(|op| matches!(op, Op::Regex(_) | Op::Version(..))),
            _ => false,
        }
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
#[derive(Clone, Debug, Default)]
pub struct Memo(Vec<u8>);

const UNKNOWN: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;

impl Memo {
    /// Nothing evaluated yet.
    pub fn new(plans: &Plans) -> Memo {
        Memo(vec![UNKNOWN; plans.len()])
    }

    /// Nothing evaluated yet, in this memo's memory.
    pub fn reset(&mut self, plans: &Plans) {
        self.0.clear();
        self.0.resize(plans.len(), UNKNOWN);
    }
}

impl Memo {
    /// Atom `i`'s result: remembered, else `eval(i)` (then remembered).
    #[inline]
    fn get_or_eval(&mut self, i: u32, eval: &mut impl FnMut(usize) -> bool) -> bool {
        let i = i as usize;
        match self.0.get(i).copied() {
            Some(TRUE) => true,
            Some(FALSE) => false,
            _ => {
                let holds = eval(i);
                if let Some(m) = self.0.get_mut(i) {
                    *m = if holds { TRUE } else { FALSE };
                }
                holds
            }
        }
    }

    /// Whether atom `i` is already known to fail.
    #[inline]
    pub fn is_false(&self, i: u32) -> bool {
        self.0.get(i as usize).copied() == Some(FALSE)
    }

    /// Whether one of `atoms` is already known to fail.
    #[inline]
    fn any_false(&self, atoms: &[u32]) -> bool {
        atoms.iter().any(|&i| self.is_false(i))
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
        self.eval_with(memo, &mut |i| {
            plans
                .atoms
                .get(i)
                .is_some_and(|(path, test)| test.eval(&read(i, path), groups))
        })
    }

    /// [`Plan::eval`] with the caller evaluating atoms: `atom(i)` says whether atom `i`
    /// holds ([`Plans::atom`] gives its path and test), called at most once per atom
    /// per `memo`. A flat conjunction ([`Plan::Atoms`]) first looks for an atom already
    /// known to fail, so it evaluates nothing new when one does (atoms are pure: the
    /// result is the same in any order).
    pub fn eval_with(&self, memo: &mut Memo, atom: &mut impl FnMut(usize) -> bool) -> bool {
        match self {
            Plan::All(ps) => ps.iter().all(|p| p.eval_with(memo, atom)),
            Plan::Any(ps) => ps.is_empty() || ps.iter().any(|p| p.eval_with(memo, atom)),
            Plan::Not(p) => !p.eval_with(memo, atom),
            Plan::Atom(i) => memo.get_or_eval(*i, atom),
            Plan::Atoms(is) => !memo.any_false(is) && is.iter().all(|&i| memo.get_or_eval(i, atom)),
            Plan::Const(b) => *b,
        }
    }
}

impl Plans {
    /// Atom `i`'s path and test.
    pub fn atom(&self, i: usize) -> Option<(&[String], &Test)> {
        self.atoms.get(i).map(|(p, t)| (p.as_slice(), t))
    }
}
