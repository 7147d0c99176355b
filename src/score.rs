//! The hybrid scoring model: what to recommend next, given the items of this session.
//!
//! A [`Model`] travels inside the bundle (its last section). It holds, per catalogue item:
//! a quantised popularity prior, a top-K neighbour list whose entries carry two quantised
//! weights (a *sequential* one — "j tends to follow i, soon" — and a *co-occurrence* one —
//! "i and j are seen in the same sessions"), and optionally a small quantised embedding.
//! The trainer (`slotwise train`, crate `slotwise-origin`) builds it from sessions.
//!
//! Scoring ([`Scorer::score`]) never loops over the catalogue: it walks the neighbour lists
//! of the session's most recent items, adds the session's own items (visitors come back to
//! what they just viewed: the last item most of all), and a short list of popular items so
//! a cold session still gets a full top-N. For every candidate `c` touched that way:
//!
//! ```text
//! score(c) = w_prior·prior(c)
//!          + Σ_k  w_seq·decay_seq^k·seq(s_k → c) + w_co·decay_co^k·co(s_k, c)
//!          + Σ_k  w_rep·decay_rep^k·[c = s_k]  + w_last·[c = s_0]
//!          + w_content·cos(emb(c), session embedding) + w_affinity·affinity(category(c))
//! ```
//!
//! where `s_0` is the newest session item, `s_k` the k-th before it (at most
//! [`Params::history`] of them). Rule boosts are added by the engine on top.
//! Ties are broken by the lower item index, so results are deterministic.
//!
//! Selection helpers: [`diversify`] (no item twice on a page, per-category caps) and
//! [`explore`] (seeded Thompson sampling over per-item Beta priors; the seed is an argument,
//! the PRNG is SplitMix64 — the core has no randomness of its own).
//!
//! ```
//! use slotwise::score::{Model, Scorer, Scratch};
//!
//! // Three items; item 0 is usually followed by item 2.
//! let model = Model::from_lists(
//!     &[10.0, 5.0, 1.0],
//!     &[vec![(2, 1.0, 0.5)], vec![], vec![(0, 0.2, 0.5)]],
//! );
//! let scorer = Scorer::new(&model, None).unwrap();
//! let mut scratch = Scratch::new(scorer.len());
//! scorer.score(&[0], &mut scratch);
//! let top = scratch.top(2);
//! assert_eq!(top[0].item, 0); // the item just viewed is a strong candidate...
//! assert_eq!(top[1].item, 2); // ...then what tends to follow it
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::hex::splitmix64;

/// Most neighbours one item may have (the trainer keeps the top K ≤ this).
pub const MAX_NEIGHBOURS: usize = 255;
/// Most items in [`Model::popular`].
pub const MAX_POPULAR: usize = 256;
/// Largest embedding dimension accepted.
pub const MAX_EMBED_DIM: usize = 64;
/// Most session items the scorer looks back at.
pub const MAX_HISTORY: usize = 32;

/// Tunable weights of the score (see the module docs for the formula).
///
/// Postcard order: w_prior, w_seq, w_co, w_rep, w_last, decay_seq, decay_co, decay_rep,
/// history, w_content, w_affinity, explore.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Weight of the popularity prior (prior is in 0..=1).
    pub w_prior: f32,
    /// Weight of the sequential neighbour weights.
    pub w_seq: f32,
    /// Weight of the co-occurrence neighbour weights.
    pub w_co: f32,
    /// Weight of "already in the session" (decayed by position).
    pub w_rep: f32,
    /// Extra weight of the newest session item itself.
    pub w_last: f32,
    /// Per-step decay of the sequential term going back in the session.
    pub decay_seq: f32,
    /// Per-step decay of the co-occurrence term going back in the session.
    pub decay_co: f32,
    /// Per-step decay of the repeat term going back in the session.
    pub decay_rep: f32,
    /// How many recent session items are used (≤ [`MAX_HISTORY`]).
    pub history: u8,
    /// Weight of the content similarity (embeddings), when the model has them.
    pub w_content: f32,
    /// Weight of the category affinity of the session.
    pub w_affinity: f32,
    /// Strength of Thompson-sampling exploration (0 = off).
    pub explore: f32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            w_prior: 0.05,
            w_seq: 1.0,
            w_co: 0.5,
            w_rep: 0.5,
            w_last: 1.0,
            decay_seq: 0.5,
            decay_co: 0.8,
            decay_rep: 0.7,
            history: 10,
            w_content: 0.0,
            w_affinity: 0.0,
            explore: 0.0,
        }
    }
}

/// Log-scale 8-bit quantisation of positive weights: byte 0 is "no weight", byte
/// `q ≥ 1` is `exp(lo + (q − 1)·(hi − lo)/254)`. Order: lo, hi.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quant {
    /// Natural log of the smallest representable weight.
    pub lo: f32,
    /// Natural log of the largest representable weight.
    pub hi: f32,
}

impl Quant {
    /// A quantiser covering `min..=max` (both > 0).
    pub fn covering(min: f32, max: f32) -> Quant {
        let lo = min.max(f32::MIN_POSITIVE).ln();
        let hi = max.max(min).max(f32::MIN_POSITIVE).ln();
        Quant { lo, hi }
    }

    /// The byte for `w` (0 for `w ≤ 0`).
    pub fn encode(&self, w: f32) -> u8 {
        if w.is_nan() || w <= 0.0 {
            return 0;
        }
        let span = self.hi - self.lo;
        if span <= 0.0 {
            return 255;
        }
        let t = ((w.ln() - self.lo) / span * 254.0).round();
        (t.clamp(0.0, 254.0) as u8) + 1
    }

    /// The weight a byte stands for.
    pub fn decode(&self, q: u8) -> f32 {
        if q == 0 {
            return 0.0;
        }
        let t = f32::from(q - 1) / 254.0;
        (self.lo + t * (self.hi - self.lo)).exp()
    }
}

/// The model section of a bundle (postcard order = field order below).
///
/// Item indices are indices into `Bundle::items`. An empty model (`Model::default()`)
/// means "no model": the engine then falls back to rules and defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Scoring weights, tuned by the trainer (field 1).
    pub params: Params,
    /// Per item: popularity prior, 0..=255 on a log scale (field 2). Empty = no model.
    pub prior: Vec<u8>,
    /// Items by decreasing prior, ≤ [`MAX_POPULAR`]: the cold-start fallback (field 3).
    pub popular: Vec<u32>,
    /// Per item: how many neighbours it has (field 4).
    pub lengths: Vec<u8>,
    /// All neighbour lists, item after item, each sorted by increasing item index and
    /// written as LEB128 gaps (first gap from 0, then from the previous index + 1) (field 5).
    pub neighbours: Vec<u8>,
    /// Two bytes per neighbour entry, same order: sequential weight, co-occurrence weight
    /// (field 6).
    pub weights: Vec<u8>,
    /// Dequantisation of the sequential weights (field 7).
    pub seq_quant: Quant,
    /// Dequantisation of the co-occurrence weights (field 8).
    pub co_quant: Quant,
    /// Embedding dimension, 0 = no embeddings (field 9).
    pub embed_dim: u8,
    /// `prior.len() × embed_dim` signed bytes, item after item (field 10).
    pub embeddings: Vec<i8>,
}

/// One neighbour entry as the trainer hands it over: (item, sequential, co-occurrence).
pub type Neighbour = (u32, f32, f32);

impl Model {
    /// Builds a model from float priors (any positive scale, e.g. counts) and per-item
    /// neighbour lists, quantising everything. Lists longer than [`MAX_NEIGHBOURS`] are
    /// cut (keep the best first); entries pointing outside the catalogue are dropped.
    pub fn from_lists(prior: &[f32], lists: &[Vec<Neighbour>]) -> Model {
        let n = prior.len();
        let max_prior = prior.iter().copied().fold(0.0f32, f32::max);
        let log_max = (1.0 + max_prior).ln();
        let prior_q: Vec<u8> = prior
            .iter()
            .map(|&p| {
                if log_max <= 0.0 || p.is_nan() || p <= 0.0 {
                    0
                } else {
                    ((1.0 + p).ln() / log_max * 255.0).round().clamp(0.0, 255.0) as u8
                }
            })
            .collect();
        let mut popular: Vec<u32> = (0..n as u32).collect();
        popular.sort_by(|&a, &b| {
            prior[b as usize]
                .total_cmp(&prior[a as usize])
                .then(a.cmp(&b))
        });
        popular.truncate(MAX_POPULAR);

        let range = |f: fn(&Neighbour) -> f32| {
            let mut lo = f32::INFINITY;
            let mut hi = 0.0f32;
            for e in lists.iter().flatten() {
                let w = f(e);
                if w > 0.0 {
                    lo = lo.min(w);
                    hi = hi.max(w);
                }
            }
            if hi > 0.0 {
                Quant::covering(lo, hi)
            } else {
                Quant::default()
            }
        };
        let seq_quant = range(|e| e.1);
        let co_quant = range(|e| e.2);

        let mut lengths = Vec::with_capacity(n);
        let mut neighbours = Vec::new();
        let mut weights = Vec::new();
        for i in 0..n {
            let mut list: Vec<Neighbour> = lists
                .get(i)
                .map(|l| {
                    l.iter()
                        .copied()
                        .filter(|e| (e.0 as usize) < n)
                        .take(MAX_NEIGHBOURS)
                        .collect()
                })
                .unwrap_or_default();
            list.sort_by_key(|e| e.0);
            list.dedup_by_key(|e| e.0);
            lengths.push(list.len() as u8);
            let mut next = 0u32;
            for &(j, ws, wc) in &list {
                write_varint(&mut neighbours, j - next);
                next = j + 1;
                weights.push(seq_quant.encode(ws));
                weights.push(co_quant.encode(wc));
            }
        }
        Model {
            params: Params::default(),
            prior: prior_q,
            popular,
            lengths,
            neighbours,
            weights,
            seq_quant,
            co_quant,
            embed_dim: 0,
            embeddings: Vec::new(),
        }
    }

    /// True when the bundle carries no model.
    pub fn is_empty(&self) -> bool {
        self.prior.is_empty()
    }

    /// Encoded size of this section in bytes (postcard).
    pub fn encoded_len(&self) -> usize {
        postcard::to_allocvec(self).map(|v| v.len()).unwrap_or(0)
    }
}

fn write_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        let part = u32::from(b & 0x7f).checked_shl(shift)?;
        if shift == 28 && b & 0x70 != 0 {
            return None;
        }
        v |= part;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn invalid(detail: &'static str) -> Error {
    Error::new(ErrorKind::Invalid, detail)
}

/// Checks a model against a catalogue of `n_items` items: every index in range, lists
/// bounded and well-formed, sizes consistent. Called by `bundle::validate`.
pub fn validate(model: &Model, n_items: usize) -> Result<(), Error> {
    if model.is_empty() {
        let rest_empty = model.popular.is_empty()
            && model.lengths.is_empty()
            && model.neighbours.is_empty()
            && model.weights.is_empty()
            && model.embeddings.is_empty();
        return if rest_empty {
            Ok(())
        } else {
            Err(invalid("model has lists but no priors"))
        };
    }
    decode_lists(model, n_items).map(|_| ())
}

/// The decoded, flat form of the neighbour lists.
struct Lists {
    starts: Vec<u32>,
    items: Vec<u32>,
    seq: Vec<f32>,
    co: Vec<f32>,
}

fn decode_lists(model: &Model, n_items: usize) -> Result<Lists, Error> {
    let n = model.prior.len();
    if n != n_items {
        return Err(invalid("model priors do not match the item count"));
    }
    if model.lengths.len() != n {
        return Err(invalid("model list lengths do not match the item count"));
    }
    if model.popular.len() > MAX_POPULAR || model.popular.iter().any(|&p| p as usize >= n) {
        return Err(invalid("model popular list refers to missing item"));
    }
    let total: usize = model.lengths.iter().map(|&l| usize::from(l)).sum();
    if model.weights.len() != 2 * total {
        return Err(invalid("model weights do not match the neighbour count"));
    }
    let dim = usize::from(model.embed_dim);
    if dim > MAX_EMBED_DIM || model.embeddings.len() != dim * n {
        return Err(invalid("model embeddings have the wrong size"));
    }
    let mut starts = Vec::with_capacity(n + 1);
    let mut items = Vec::with_capacity(total);
    let mut pos = 0usize;
    for &len in &model.lengths {
        starts.push(items.len() as u32);
        let mut next: u32 = 0;
        for _ in 0..len {
            let gap = read_varint(&model.neighbours, &mut pos)
                .ok_or(invalid("model neighbour list is truncated"))?;
            let j = next
                .checked_add(gap)
                .ok_or(invalid("model neighbour refers to missing item"))?;
            if j as usize >= n {
                return Err(invalid("model neighbour refers to missing item"));
            }
            items.push(j);
            next = j + 1;
        }
    }
    if pos != model.neighbours.len() {
        return Err(invalid("model neighbour lists have trailing bytes"));
    }
    starts.push(items.len() as u32);
    let seq = model
        .weights
        .iter()
        .step_by(2)
        .map(|&q| model.seq_quant.decode(q))
        .collect();
    let co = model
        .weights
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&q| model.co_quant.decode(q))
        .collect();
    Ok(Lists {
        starts,
        items,
        seq,
        co,
    })
}

/// The runtime form of a [`Model`]: lists decoded once, so scoring is a few hundred
/// additions. Build it when the bundle loads.
#[derive(Clone, Debug)]
pub struct Scorer {
    params: Params,
    prior: Vec<f32>,
    popular: Vec<u32>,
    starts: Vec<u32>,
    items: Vec<u32>,
    seq: Vec<f32>,
    co: Vec<f32>,
    dim: usize,
    embeddings: Vec<f32>,
    categories: Vec<u32>,
}

/// A scored candidate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Index into `Bundle::items`.
    pub item: u32,
    /// Higher is better.
    pub score: f32,
}

/// Reusable per-caller memory for [`Scorer::score`]: one slot per item, reset sparsely.
#[derive(Clone, Debug)]
pub struct Scratch {
    scores: Vec<f32>,
    seen: Vec<bool>,
    touched: Vec<u32>,
    out: Vec<Scored>,
}

impl Scratch {
    /// Memory for a catalogue of `n_items`.
    pub fn new(n_items: usize) -> Scratch {
        Scratch {
            scores: vec![0.0; n_items],
            seen: vec![false; n_items],
            touched: Vec::new(),
            out: Vec::new(),
        }
    }

    fn touch(&mut self, item: u32, add: f32) {
        let i = item as usize;
        if let (Some(s), Some(seen)) = (self.scores.get_mut(i), self.seen.get_mut(i)) {
            if !*seen {
                *seen = true;
                *s = 0.0;
                self.touched.push(item);
            }
            *s += add;
        }
    }

    fn clear(&mut self) {
        for &i in &self.touched {
            if let Some(seen) = self.seen.get_mut(i as usize) {
                *seen = false;
            }
        }
        self.touched.clear();
    }

    /// The candidates of the last [`Scorer::score`] call (any order).
    pub fn candidates(&self) -> impl Iterator<Item = Scored> + '_ {
        self.touched.iter().map(|&item| Scored {
            item,
            score: self.scores[item as usize],
        })
    }

    /// The `n` best candidates, best first; ties go to the lower item index.
    pub fn top(&mut self, n: usize) -> &[Scored] {
        let mut out = core::mem::take(&mut self.out);
        out.clear();
        out.extend(self.candidates());
        top_n(&mut out, n);
        self.out = out;
        &self.out
    }
}

fn rank_order(a: &Scored, b: &Scored) -> core::cmp::Ordering {
    b.score.total_cmp(&a.score).then(a.item.cmp(&b.item))
}

/// Keeps the `n` best of `list`, sorted best first (ties: lower item index first).
pub fn top_n(list: &mut Vec<Scored>, n: usize) {
    if n == 0 {
        list.clear();
        return;
    }
    // Natively, partition first (fast for long lists); in wasm, one small sort.
    #[cfg(not(target_arch = "wasm32"))]
    if list.len() > n {
        list.select_nth_unstable_by(n - 1, rank_order);
        list.truncate(n);
    }
    crate::sort::sort_by(list, rank_order);
    list.truncate(n);
}

impl Scorer {
    /// Decodes `model` for a catalogue of `model.prior.len()` items. `categories`, when
    /// given, is one category id per item (for the affinity term).
    pub fn new(model: &Model, categories: Option<&[u32]>) -> Result<Scorer, Error> {
        let n = model.prior.len();
        let lists = decode_lists(model, n)?;
        let categories = match categories {
            Some(c) if c.len() == n => c.to_vec(),
            Some(_) => return Err(invalid("category list does not match the item count")),
            None => Vec::new(),
        };
        let dim = usize::from(model.embed_dim);
        let mut embeddings = Vec::with_capacity(model.embeddings.len());
        for chunk in model.embeddings.chunks(dim.max(1)) {
            let norm = chunk
                .iter()
                .map(|&v| f32::from(v) * f32::from(v))
                .sum::<f32>()
                .sqrt();
            for &v in chunk {
                embeddings.push(if norm > 0.0 { f32::from(v) / norm } else { 0.0 });
            }
        }
        Ok(Scorer {
            params: model.params,
            prior: model.prior.iter().map(|&p| f32::from(p) / 255.0).collect(),
            popular: model.popular.clone(),
            starts: lists.starts,
            items: lists.items,
            seq: lists.seq,
            co: lists.co,
            dim,
            embeddings,
            categories,
        })
    }

    /// Number of catalogue items the model covers.
    pub fn len(&self) -> usize {
        self.prior.len()
    }

    /// True when there is no model (nothing to score).
    pub fn is_empty(&self) -> bool {
        self.prior.is_empty()
    }

    /// The weights in use.
    pub fn params(&self) -> Params {
        self.params
    }

    /// Replaces the weights (tuning, A/B tests of weights).
    pub fn set_params(&mut self, params: Params) {
        self.params = params;
    }

    /// The prior of `item` in 0..=1 (0 for unknown items).
    pub fn prior(&self, item: u32) -> f32 {
        self.prior.get(item as usize).copied().unwrap_or(0.0)
    }

    /// Scores the candidates for a session. `session` lists the session's item indices,
    /// oldest first (unknown indices are ignored); results land in `scratch`
    /// ([`Scratch::top`]). Cost: the neighbour lists of the last [`Params::history`]
    /// items plus the popular list — never the whole catalogue.
    pub fn score(&self, session: &[u32], scratch: &mut Scratch) {
        scratch.clear();
        if scratch.scores.len() < self.len() {
            *scratch = Scratch::new(self.len());
        }
        let p = &self.params;
        let history = usize::from(p.history).min(MAX_HISTORY);
        let n = self.len() as u32;
        let recent = session.iter().rev().filter(|&&i| i < n).take(history);
        let (mut r_seq, mut r_co, mut r_rep) = (1.0f32, 1.0f32, 1.0f32);
        for (k, &s) in recent.enumerate() {
            let (a, b) = (self.starts[s as usize], self.starts[s as usize + 1]);
            let (ws, wc) = (p.w_seq * r_seq, p.w_co * r_co);
            for e in a as usize..b as usize {
                scratch.touch(self.items[e], ws * self.seq[e] + wc * self.co[e]);
            }
            let last = if k == 0 { p.w_last } else { 0.0 };
            scratch.touch(s, p.w_rep * r_rep + last);
            r_seq *= p.decay_seq;
            r_co *= p.decay_co;
            r_rep *= p.decay_rep;
        }
        for &i in &self.popular {
            scratch.touch(i, 0.0);
        }
        let content = if self.dim > 0 && p.w_content != 0.0 {
            self.session_embedding(session, history)
        } else {
            Vec::new()
        };
        let affinity = if !self.categories.is_empty() && p.w_affinity != 0.0 {
            self.session_categories(session, history)
        } else {
            Vec::new()
        };
        for idx in 0..scratch.touched.len() {
            let ci = scratch.touched[idx] as usize;
            let mut add = p.w_prior * self.prior[ci];
            if !content.is_empty() {
                let e = &self.embeddings[ci * self.dim..(ci + 1) * self.dim];
                let dot: f32 = e.iter().zip(&content).map(|(a, b)| a * b).sum();
                add += p.w_content * dot;
            }
            if let Some(&cat) = self.categories.get(ci) {
                let share: f32 = affinity
                    .iter()
                    .filter(|(k, _)| *k == cat)
                    .map(|(_, w)| *w)
                    .sum();
                add += p.w_affinity * share;
            }
            scratch.scores[ci] += add;
        }
    }

    /// Unit-length, recency-weighted mean embedding of the recent session items.
    fn session_embedding(&self, session: &[u32], history: usize) -> Vec<f32> {
        let mut acc = vec![0.0f32; self.dim];
        let mut r = 1.0f32;
        let n = self.len() as u32;
        for &s in session.iter().rev().filter(|&&i| i < n).take(history) {
            let e = &self.embeddings[s as usize * self.dim..(s as usize + 1) * self.dim];
            for (a, v) in acc.iter_mut().zip(e) {
                *a += r * v;
            }
            r *= self.params.decay_co;
        }
        let norm = acc.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            acc.iter_mut().for_each(|v| *v /= norm);
        }
        acc
    }

    /// Recency-weighted share of each category among the recent session items.
    fn session_categories(&self, session: &[u32], history: usize) -> Vec<(u32, f32)> {
        let mut shares: Vec<(u32, f32)> = Vec::new();
        let mut r = 1.0f32;
        let mut total = 0.0f32;
        let n = self.len() as u32;
        for &s in session.iter().rev().filter(|&&i| i < n).take(history) {
            let cat = self.categories[s as usize];
            match shares.iter_mut().find(|(c, _)| *c == cat) {
                Some(e) => e.1 += r,
                None => shares.push((cat, r)),
            }
            total += r;
            r *= self.params.decay_rep;
        }
        if total > 0.0 {
            shares.iter_mut().for_each(|e| e.1 /= total);
        }
        shares
    }
}

/// Picks up to `n` items from `ranked` (best first) for one slot of a page: skips items
/// already in `placed` (no item twice on a page) and items whose category already has
/// `per_category` picks on the page (`categories[item]`; items without a category entry
/// are not capped). Chosen items are appended to `placed`.
///
/// ```
/// use slotwise::score::{diversify, Scored};
///
/// let ranked: Vec<Scored> = [4u32, 0, 1, 2]
///     .iter()
///     .map(|&item| Scored { item, score: 1.0 })
///     .collect();
/// let categories = [0, 0, 0, 1, 1]; // items 0..=2 are shoes, 3 and 4 socks
/// let mut placed = vec![4]; // another slot already shows item 4
/// let picks = diversify(&ranked, 3, &categories, 2, &mut placed);
/// assert_eq!(picks, [0, 1]); // item 4 is taken, item 2 would be a third shoe
/// assert_eq!(placed, [4, 0, 1]);
/// ```
pub fn diversify<'s>(
    ranked: impl IntoIterator<Item = &'s Scored>,
    n: usize,
    categories: &[u32],
    per_category: usize,
    placed: &mut Vec<u32>,
) -> Vec<u32> {
    let mut chosen = Vec::with_capacity(n);
    for s in ranked {
        if chosen.len() >= n {
            break;
        }
        if placed.contains(&s.item) {
            continue;
        }
        if let Some(&cat) = categories.get(s.item as usize) {
            let same = placed
                .iter()
                .filter(|&&p| categories.get(p as usize) == Some(&cat))
                .count();
            if same >= per_category {
                continue;
            }
        }
        placed.push(s.item);
        chosen.push(s.item);
    }
    chosen
}

/// A tiny deterministic PRNG (SplitMix64) for exploration; the seed is an argument.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        splitmix64(self.0.wrapping_sub(0x9e37_79b9_7f4a_7c15))
    }

    /// Uniform in (0, 1).
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * crate::host::ln(u)).sqrt() * crate::host::cos(2.0 * core::f64::consts::PI * v)
    }

    /// Gamma(shape, 1) (Marsaglia–Tsang; boosted for shape < 1).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape.is_nan() || shape <= 0.0 {
            return 0.0;
        }
        if shape < 1.0 {
            let u = self.unit();
            return self.gamma(shape + 1.0) * crate::host::pow(u, 1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        for _ in 0..64 {
            let x = self.normal();
            let t = 1.0 + c * x;
            let v = t * t * t;
            if v <= 0.0 {
                continue;
            }
            let u = self.unit();
            if crate::host::ln(u) < 0.5 * x * x + d - d * v + d * crate::host::ln(v) {
                return d * v;
            }
        }
        d
    }

    /// Beta(a, b).
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        if x + y > 0.0 { x / (x + y) } else { 0.5 }
    }
}

/// Seeded Thompson sampling: adds `strength · θ` to each candidate, with
/// θ ~ Beta(1 + prior·10, 1 + (1 − prior)·10) drawn from a stream that depends only on
/// `seed` and the item (so the draw for an item does not depend on list order), then
/// re-sorts. `strength = 0` leaves the ranking untouched.
///
/// ```
/// use slotwise::score::{explore, Scored};
///
/// let ranked: Vec<Scored> = (0..5).map(|item| Scored { item, score: 1.0 }).collect();
/// let (mut a, mut b) = (ranked.clone(), ranked.clone());
/// explore(&mut a, |_| 0.5, 7, 0.3);
/// explore(&mut b, |_| 0.5, 7, 0.3);
/// assert_eq!(a, b); // same seed, same page
/// ```
pub fn explore(ranked: &mut [Scored], prior: impl Fn(u32) -> f32, seed: u64, strength: f32) {
    if strength == 0.0 {
        return;
    }
    for s in ranked.iter_mut() {
        let p = f64::from(prior(s.item).clamp(0.0, 1.0));
        let mut rng = Rng::new(seed ^ splitmix64(u64::from(s.item)));
        let theta = rng.beta(1.0 + p * 10.0, 1.0 + (1.0 - p) * 10.0);
        s.score += strength * theta as f32;
    }
    crate::sort::sort_by(ranked, rank_order);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Model {
        Model::from_lists(
            &[100.0, 10.0, 1.0, 0.0, 50.0],
            &[
                vec![(1, 1.0, 0.5), (2, 0.5, 0.1)],
                vec![(0, 1.0, 0.5), (4, 0.5, 0.0)],
                vec![],
                vec![(2, 0.0, 1.0)],
                vec![(0, 0.2, 0.2)],
            ],
        )
    }

    #[test]
    fn quant_round_trips_within_a_percent() {
        let q = Quant::covering(0.01, 100.0);
        for w in [0.01f32, 0.1, 1.0, 3.3, 100.0] {
            let back = q.decode(q.encode(w));
            assert!((back - w).abs() / w < 0.02, "{w} -> {back}");
        }
        assert_eq!(q.encode(0.0), 0);
        assert_eq!(q.decode(0), 0.0);
    }

    #[test]
    fn varints_round_trip_and_reject_overflow() {
        let mut buf = Vec::new();
        for v in [0u32, 1, 127, 128, 300, u32::MAX] {
            write_varint(&mut buf, v);
        }
        let mut pos = 0;
        for v in [0u32, 1, 127, 128, 300, u32::MAX] {
            assert_eq!(read_varint(&buf, &mut pos), Some(v));
        }
        assert_eq!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f], &mut 0), None);
        assert_eq!(read_varint(&[0x80], &mut 0), None);
    }

    #[test]
    fn scores_follow_the_lists_and_the_session() {
        let m = tiny();
        validate(&m, 5).unwrap();
        let scorer = Scorer::new(&m, None).unwrap();
        let mut scratch = Scratch::new(5);
        scorer.score(&[0], &mut scratch);
        let top: Vec<u32> = scratch.top(5).iter().map(|s| s.item).collect();
        // last item first (w_last + w_rep), then its strongest follower.
        assert_eq!(&top[..2], &[0, 1]);
        // Every item with a prior is reachable through the popular list.
        assert_eq!(top.len(), 5);
        // Same input, same output.
        let again: Vec<u32> = {
            scorer.score(&[0], &mut scratch);
            scratch.top(5).iter().map(|s| s.item).collect()
        };
        assert_eq!(top, again);
    }

    #[test]
    fn content_and_affinity_terms_reorder_candidates() {
        // Items 1 and 2 are equally popular and unrelated to item 0 by the lists.
        let mut m = Model::from_lists(&[5.0, 5.0, 5.0], &[vec![], vec![], vec![]]);
        m.params.w_prior = 0.0;
        m.params.w_rep = 0.0;
        m.params.w_last = 0.0;
        m.embed_dim = 2;
        m.embeddings = vec![100, 0, 0, 100, 90, 10];
        validate(&m, 3).unwrap();
        let order = |m: &Model, categories: Option<&[u32]>| -> Vec<u32> {
            let scorer = Scorer::new(m, categories).unwrap();
            let mut scratch = Scratch::new(3);
            scorer.score(&[0], &mut scratch);
            scratch.top(3).iter().map(|s| s.item).collect()
        };
        // Without content weight: ties, lower index first.
        assert_eq!(order(&m, None), [0, 1, 2]);
        m.params.w_content = 1.0;
        // Item 2 looks like item 0.
        assert_eq!(order(&m, None), [0, 2, 1]);
        m.params.w_content = 0.0;
        m.params.w_affinity = 1.0;
        // Item 2 shares item 0's category.
        assert_eq!(order(&m, Some(&[7, 8, 7])), [0, 2, 1]);
        assert!(Scorer::new(&m, Some(&[1])).is_err());
    }

    // proptest is a native-only dev-dependency (it does not build for wasm32).
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Corrupted model bytes inside a bundle either fail to decode with a typed error
        /// or give a scorer that scores any session without panicking.
        #[test]
        fn corrupt_models_never_panic(
            flips in proptest::collection::vec((0usize..4096, proptest::num::u8::ANY), 1..6),
            session in proptest::collection::vec(0u32..8, 0..12),
        ) {
            let mut b = crate::bundle::Bundle::example();
            for n in 0..4 {
                b.items.push(crate::bundle::Item {
                    id: ["a", "b", "c", "d"][n].into(),
                    category: "x".into(),
                    content: 0,
                });
            }
            b.model = tiny();
            b.model.embed_dim = 2;
            b.model.embeddings = vec![1, -2, 3, 4, 5, 6, 7, 8, 9, 10];
            let mut bytes = crate::bundle::encode(&b);
            for (at, v) in flips {
                let len = bytes.len();
                bytes[at % len] = v;
            }
            if let Ok(decoded) = crate::bundle::decode(&bytes) {
                let cats: Vec<u32> = (0..decoded.items.len() as u32).collect();
                let mut scorer = Scorer::new(&decoded.model, Some(&cats)).unwrap();
                let mut p = scorer.params();
                p.w_content = 1.0;
                p.w_affinity = 1.0;
                scorer.set_params(p);
                let mut scratch = Scratch::new(scorer.len());
                scorer.score(&session, &mut scratch);
                let top = scratch.top(3).to_vec();
                proptest::prop_assert!(top.len() <= 3);
            }
        }
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let mut list = vec![
            Scored {
                item: 3,
                score: 1.0,
            },
            Scored {
                item: 1,
                score: 1.0,
            },
            Scored {
                item: 2,
                score: 2.0,
            },
        ];
        top_n(&mut list, 2);
        assert_eq!(list.iter().map(|s| s.item).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn bad_models_are_invalid_not_panics() {
        let m = tiny();
        assert!(validate(&m, 4).is_err());
        let mut bad = m.clone();
        bad.neighbours.pop();
        assert!(validate(&bad, 5).is_err());
        let mut bad = m.clone();
        bad.neighbours[0] = 0x7f;
        assert!(validate(&bad, 5).is_err());
        let mut bad = m.clone();
        bad.popular.push(9);
        assert!(validate(&bad, 5).is_err());
        let mut bad = m.clone();
        bad.weights.pop();
        assert!(validate(&bad, 5).is_err());
        let mut bad = m;
        bad.embed_dim = 2;
        assert!(validate(&bad, 5).is_err());
        assert!(validate(&Model::default(), 3).is_ok());
    }

    #[test]
    fn diversity_caps_categories_and_repeats() {
        let ranked: Vec<Scored> = (0..6)
            .map(|i| Scored {
                item: i,
                score: 10.0 - i as f32,
            })
            .collect();
        let categories = [0, 0, 0, 1, 1, 2];
        let mut placed = vec![1];
        let picked = diversify(&ranked, 4, &categories, 2, &mut placed);
        assert_eq!(picked, [0, 3, 4, 5]);
        let more = diversify(&ranked, 4, &categories, 2, &mut placed);
        assert!(more.is_empty());
    }

    #[test]
    fn exploration_is_seeded() {
        let base: Vec<Scored> = (0..20)
            .map(|i| Scored {
                item: i,
                score: 1.0,
            })
            .collect();
        let prior = |i: u32| i as f32 / 20.0;
        let mut a = base.clone();
        let mut b = base.clone();
        explore(&mut a, prior, 42, 1.0);
        explore(&mut b, prior, 42, 1.0);
        assert_eq!(a, b);
        let mut c = base.clone();
        explore(&mut c, prior, 43, 1.0);
        assert_ne!(a, c);
        let mut d = base.clone();
        explore(&mut d, prior, 42, 0.0);
        assert_eq!(d, base);
        let mut rng = Rng::new(7);
        let mean: f64 = (0..2000).map(|_| rng.beta(2.0, 6.0)).sum::<f64>() / 2000.0;
        assert!((mean - 0.25).abs() < 0.02, "{mean}");
    }
}
