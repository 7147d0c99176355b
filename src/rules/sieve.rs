//! A priority slot's candidates sieved by the condition atoms known to fail.
//!
//! Most candidates of a slot are guarded by one `include` rule whose condition is a
//! flat conjunction of atoms ([`super::plan::Plan::Atoms`]), and most atoms are shared
//! (the peer workload: 807 field tests, 85 atoms). Once an atom is known to fail on a
//! page, every candidate that needs it is ineligible. The sieve keeps, per slot, which
//! candidates each atom rules out, as bit sets over candidate positions, so the
//! engine's first-match walk jumps from one live candidate to the next instead of
//! visiting each one to find an atom it already knows the answer of.
//!
//! It only skips work: a candidate is ruled out only when its eligibility is exactly
//! the conjunction (one include rule, no exclude rule, no consent requirement), so the
//! walk visits the same eligible candidates in the same order, and reaches the same
//! decisions, with or without it. The browser module leaves it out (its size budget);
//! the edge module and native builds use it.
//!
//! ```
//! use slotwise::rules::plan::{Memo, Plans};
//! use slotwise::rules::sieve::Sieve;
//! # use slotwise::rules::{Cond, Test};
//! # let field = |k: &str| Cond::Field { path: vec![k.into()], test: Test::BoolEq(true) };
//! let mut plans = Plans::default();
//! plans.plan(&field("a")); // atom 0
//! plans.plan(&field("b")); // atom 1
//! // Candidate 0 needs atom 0; candidate 1 needs atoms 0 and 1; candidate 2 has
//! // other rules (never ruled out).
//! let sieve = Sieve::new(3, [(0, &[0][..]), (1, &[0, 1][..])]);
//! let mut memo = Memo::new(&plans);
//! let mut live = Vec::new();
//! sieve.start(&memo, &mut live);
//! assert_eq!(sieve.next(&live, 0), Some(0));
//! // Atom 1 fails: candidate 1 is ruled out, 0 and 2 are not.
//! assert!(!plans.plan(&field("b")).eval_with(&mut memo, &mut |_| false));
//! sieve.rule_out(1, &mut live);
//! assert_eq!((sieve.next(&live, 0), sieve.next(&live, 1)), (Some(0), Some(2)));
//! assert_eq!(sieve.next(&live, 3), None);
//! // A later slot's walk starts without what is known to fail.
//! sieve.start(&memo, &mut live);
//! assert_eq!(sieve.next(&live, 1), Some(2));
//! ```

use super::plan::Memo;

/// Per atom, the candidates whose eligibility needs it.
#[derive(Clone, Debug, Default)]
pub struct Sieve {
    /// Candidate positions: bit `p % 64` of word `p / 64`.
    candidates: usize,
    /// `(atom, word, bits)`, sorted by atom: candidates `bits` of word `word` need
    /// `atom`.
    needs: Vec<(u32, u32, u64)>,
    /// Per atom `a`, its entries in `needs`: `needs[at[a]..at[a + 1]]` (atoms past
    /// the end have none), so ruling an atom out needs no search.
    at: Vec<u32>,
}

impl Sieve {
    /// The sieve of `candidates` positions, from each sievable candidate's position
    /// and the atoms its eligibility is the conjunction of.
    pub fn new<'a>(
        candidates: usize,
        needs: impl IntoIterator<Item = (usize, &'a [u32])>,
    ) -> Sieve {
        let mut out: Vec<(u32, u32, u64)> = Vec::new();
        for (pos, atoms) in needs {
            for &atom in atoms {
                out.push((atom, (pos / 64) as u32, 1 << (pos % 64)));
            }
        }
        crate::sort::sort_by(&mut out, |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        // One entry per (atom, word).
        let mut merged: Vec<(u32, u32, u64)> = Vec::with_capacity(out.len());
        for (atom, word, bits) in out {
            match merged.last_mut() {
                Some(last) if last.0 == atom && last.1 == word => last.2 |= bits,
                _ => merged.push((atom, word, bits)),
            }
        }
        let atoms = merged.last().map_or(0, |n| n.0 as usize + 1);
        let mut at = Vec::with_capacity(atoms + 1);
        for (i, n) in merged.iter().enumerate() {
            while at.len() <= n.0 as usize {
                at.push(i as u32);
            }
        }
        at.push(merged.len() as u32);
        Sieve {
            candidates,
            needs: merged,
            at,
        }
    }

    /// Fills `live` with every candidate but those ruled out by atoms `memo` already
    /// knows to fail.
    pub fn start(&self, memo: &Memo, live: &mut Vec<u64>) {
        live.clear();
        live.resize(self.candidates.div_ceil(64), u64::MAX);
        for &(atom, word, bits) in &self.needs {
            if memo.is_false(atom) {
                clear(live, word, bits);
            }
        }
    }

    /// Rules out the candidates that need `atom` (known to fail).
    pub fn rule_out(&self, atom: u32, live: &mut [u64]) {
        let a = atom as usize;
        let (Some(&from), Some(&to)) = (self.at.get(a), self.at.get(a + 1)) else {
            return;
        };
        for &(_, word, bits) in self
            .needs
            .get(from as usize..to as usize)
            .unwrap_or_default()
        {
            clear(live, word, bits);
        }
    }

    /// The first live candidate position at or after `from`.
    pub fn next(&self, live: &[u64], from: usize) -> Option<usize> {
        let mut w = from / 64;
        let mut word = live.get(w)? & (u64::MAX << (from % 64));
        while word == 0 {
            w += 1;
            word = *live.get(w)?;
        }
        Some(w * 64 + word.trailing_zeros() as usize).filter(|&p| p < self.candidates)
    }
}

fn clear(live: &mut [u64], word: u32, bits: u64) {
    if let Some(w) = live.get_mut(word as usize) {
        *w &= !bits;
    }
}
