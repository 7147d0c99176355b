//! The trainer behind `slotwise train`: sessions of events → [`slotwise::score::Model`].
//!
//! Input: a TSV file with a header naming `SessionId`, `ItemId` and `Time` columns (the
//! session-rec / YOOCHOOSE layout), or JSON Lines with `session`, `item` and `time` keys
//! (`SessionId` / `ItemId` / `Time` also accepted). Events are grouped by session and
//! ordered by time (file order breaks ties), so the result does not depend on how the
//! file is sorted between sessions... and never on hash-map order: the same input gives
//! byte-identical models.
//!
//! What is learnt, per item `i`:
//! - the **prior**: its event count, optionally recency-weighted with a half-life
//!   (log-quantised by the core);
//! - **sequential** weights `seq(i → j)`: for every session and every pair of positions
//!   `p < q ≤ p + window` with different items, `1 / (q − p)` — "j follows i, soon" —
//!   then divided by `(Σ_j seq(i → j))^seq_norm`;
//! - **co-occurrence** weights `co(i, j)`: number of sessions holding both, divided by
//!   `sqrt(n_i · n_j)` (cosine over session sets, like session-kNN);
//! - the kept neighbours: the `k_seq` best by sequential weight, then up to `k_total`
//!   with the best co-occurrence weights;
//! - **embeddings** when the catalogue has attributes (category, title, body): a signed
//!   feature-hashing of their words into [`EMBED_DIM`] dimensions.
//!
//! Items: the model indexes the bundle's items. Events for items the bundle does not
//! have are skipped and counted ([`TrainReport::unknown_events`]) unless `add_items` is
//! set, which appends them to the bundle (category "", pointing at one shared empty
//! content entry `slotwise-synthesised`) — the evaluation uses that.

use std::collections::HashMap;
use std::path::Path;

use slotwise::bundle::{Bundle, Content, Item};
use slotwise::score::{Model, Neighbour, Params};

/// Embedding dimension the trainer writes when items have attributes.
pub const EMBED_DIM: usize = 16;

/// One click / view.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Session key as written in the file.
    pub session: String,
    /// Item id as written in the file.
    pub item: String,
    /// Unix seconds (fractions allowed).
    pub time: f64,
}

/// Reads a TSV (with header) or JSON Lines file of events.
pub fn read_events(path: &Path) -> Result<Vec<Event>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_events(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses TSV (header line first) or JSON Lines (first non-blank char `{`).
pub fn parse_events(text: &str) -> Result<Vec<Event>, String> {
    if text.trim_start().starts_with('{') {
        return parse_jsonl(text);
    }
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = match lines.next() {
        Some((_, h)) => h.split('\t').map(str::trim).collect(),
        None => return Ok(Vec::new()),
    };
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
            .ok_or_else(|| format!("header lacks a {} column", names[0]))
    };
    let (cs, ci, ct) = (
        col(&["SessionId", "session"])?,
        col(&["ItemId", "item"])?,
        col(&["Time", "timestamp"])?,
    );
    let mut events = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let get = |c: usize| {
            fields
                .get(c)
                .map(|s| s.trim())
                .ok_or_else(|| format!("line {}: missing column", n + 1))
        };
        let time: f64 = get(ct)?
            .parse()
            .map_err(|_| format!("line {}: bad time", n + 1))?;
        events.push(Event {
            session: get(cs)?.to_string(),
            item: get(ci)?.to_string(),
            time,
        });
    }
    Ok(events)
}

fn parse_jsonl(text: &str) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let field = |names: &[&str]| {
            names
                .iter()
                .find_map(|k| v.get(*k))
                .ok_or_else(|| format!("line {}: no {} field", n + 1, names[0]))
        };
        let as_string = |x: &serde_json::Value| match x {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let time = field(&["time", "Time", "timestamp"])?
            .as_f64()
            .ok_or_else(|| format!("line {}: time is not a number", n + 1))?;
        events.push(Event {
            session: as_string(field(&["session", "SessionId"])?),
            item: as_string(field(&["item", "ItemId"])?),
            time,
        });
    }
    Ok(events)
}

/// A session: item indices in time order, and the time of its last event.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Item indices, oldest first.
    pub items: Vec<u32>,
    /// Time of the last event.
    pub last_time: f64,
}

/// Groups events into sessions (first-appearance order of the session keys), each
/// ordered by time; `index` maps an item id to its index or `None` to drop the event.
pub fn sessionize(events: &[Event], mut index: impl FnMut(&str) -> Option<u32>) -> Vec<Session> {
    let mut order: HashMap<&str, usize> = HashMap::new();
    let mut grouped: Vec<Vec<(f64, usize, u32)>> = Vec::new();
    for (n, e) in events.iter().enumerate() {
        let Some(item) = index(&e.item) else { continue };
        let slot = *order.entry(e.session.as_str()).or_insert_with(|| {
            grouped.push(Vec::new());
            grouped.len() - 1
        });
        grouped[slot].push((e.time, n, item));
    }
    grouped
        .into_iter()
        .map(|mut evs| {
            evs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            Session {
                last_time: evs.last().map(|e| e.0).unwrap_or(0.0),
                items: evs.into_iter().map(|e| e.2).collect(),
            }
        })
        .collect()
}

/// Trainer knobs (the scoring weights travel in `params`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainOptions {
    /// Largest distance between two positions that makes a sequential pair.
    pub window: usize,
    /// Row normalisation exponent of the sequential weights (0 = raw, 1 = shares).
    pub seq_norm: f32,
    /// Neighbours kept by sequential weight.
    pub k_seq: usize,
    /// Total neighbours kept per item (filled up by co-occurrence weight).
    pub k_total: usize,
    /// Half-life in days of the popularity prior (events weigh `0.5^(age / half-life)`,
    /// age measured from the newest session); 0 = plain counts.
    pub prior_half_life_days: f32,
    /// Scoring weights written into the model.
    pub params: Params,
}

/// Scoring weights chosen by `slotwise eval` on rsc15_100k `train_tr → train_valid`
/// (coordinate search from `Params::default()`, objective HR@20 + MRR@20; valid HR@20
/// 0.6613, MRR@20 0.3724). The evaluation re-derives them on every run and prints them;
/// `slotwise train` writes these into the bundle.
pub const TUNED_PARAMS: Params = Params {
    w_prior: 0.3,
    w_seq: 1.0,
    w_co: 2.0,
    w_rep: 2.0,
    w_last: 3.0,
    decay_seq: 0.2,
    decay_co: 0.7,
    decay_rep: 0.7,
    history: 20,
    w_content: 0.0,
    w_affinity: 0.0,
    explore: 0.0,
};

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            // Chosen on train_tr → train_valid together with TUNED_PARAMS.
            window: 5,
            seq_norm: 0.5,
            k_seq: 24,
            k_total: 36,
            prior_half_life_days: 0.0,
            params: TUNED_PARAMS,
        }
    }
}

/// Builds the model over `n_items` items from sessions (deterministic).
pub fn train(sessions: &[Session], n_items: usize, opts: &TrainOptions) -> Model {
    let mut count = vec![0f32; n_items];
    let mut in_sessions = vec![0f32; n_items];
    let mut seq: Vec<HashMap<u32, f32>> = vec![HashMap::new(); n_items];
    let mut co: Vec<HashMap<u32, f32>> = vec![HashMap::new(); n_items];
    let mut uniq: Vec<u32> = Vec::new();
    let newest = sessions
        .iter()
        .map(|s| s.last_time)
        .fold(f64::NEG_INFINITY, f64::max);
    for s in sessions {
        let items = &s.items;
        let weight = if opts.prior_half_life_days > 0.0 {
            let age_days = (newest - s.last_time) / 86_400.0;
            0.5f64.powf(age_days / f64::from(opts.prior_half_life_days)) as f32
        } else {
            1.0
        };
        for &i in items {
            count[i as usize] += weight;
        }
        for p in 0..items.len() {
            for q in p + 1..items.len().min(p + 1 + opts.window) {
                let (a, b) = (items[p], items[q]);
                if a != b {
                    *seq[a as usize].entry(b).or_insert(0.0) += 1.0 / (q - p) as f32;
                }
            }
        }
        uniq.clear();
        uniq.extend_from_slice(items);
        uniq.sort_unstable();
        uniq.dedup();
        for &a in &uniq {
            in_sessions[a as usize] += 1.0;
            for &b in &uniq {
                if a != b {
                    *co[a as usize].entry(b).or_insert(0.0) += 1.0;
                }
            }
        }
    }
    let mut lists: Vec<Vec<Neighbour>> = Vec::with_capacity(n_items);
    for i in 0..n_items {
        // Sum in item order: hash-map order must not leak into the floats.
        let mut raw: Vec<(u32, f32)> = seq[i].iter().map(|(&j, &w)| (j, w)).collect();
        raw.sort_by_key(|e| e.0);
        let row_sum: f32 = raw.iter().map(|e| e.1).sum();
        let norm = if row_sum > 0.0 {
            row_sum.powf(opts.seq_norm)
        } else {
            1.0
        };
        let mut s_row: Vec<(u32, f32)> = raw.iter().map(|&(j, w)| (j, w / norm)).collect();
        let mut c_row: Vec<(u32, f32)> = co[i]
            .iter()
            .map(|(&j, &w)| (j, w / (in_sessions[i] * in_sessions[j as usize]).sqrt()))
            .collect();
        let by_weight = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        s_row.sort_by(by_weight);
        c_row.sort_by(by_weight);
        let mut keep: Vec<u32> = s_row.iter().take(opts.k_seq).map(|e| e.0).collect();
        for &(j, _) in &c_row {
            if keep.len() >= opts.k_total {
                break;
            }
            if !keep.contains(&j) {
                keep.push(j);
            }
        }
        let seq_w = |j: u32| seq[i].get(&j).map(|w| w / norm).unwrap_or(0.0);
        let co_w = |j: u32| {
            co[i]
                .get(&j)
                .map(|w| w / (in_sessions[i] * in_sessions[j as usize]).sqrt())
                .unwrap_or(0.0)
        };
        lists.push(keep.into_iter().map(|j| (j, seq_w(j), co_w(j))).collect());
    }
    let mut model = Model::from_lists(&count, &lists);
    model.params = opts.params;
    model
}

/// What [`train_bundle`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainReport {
    /// Sessions used.
    pub sessions: usize,
    /// Events used.
    pub events: usize,
    /// Events skipped because the bundle lacks their item.
    pub unknown_events: usize,
    /// Items appended to the bundle (`add_items`).
    pub added_items: usize,
    /// Encoded size of the model section.
    pub model_bytes: usize,
}

/// Content id shared by items the trainer appends.
pub const SYNTH_CONTENT: &str = "slotwise-synthesised";

/// Trains on `events` and writes the model into `bundle` (see the module docs for items
/// the bundle lacks), giving the bundle a new content-derived id. Returns what it did.
pub fn train_bundle(
    bundle: &mut Bundle,
    events: &[Event],
    opts: &TrainOptions,
    add_items: bool,
) -> TrainReport {
    let mut report = TrainReport::default();
    let mut ids: HashMap<String, u32> = bundle
        .items
        .iter()
        .enumerate()
        .map(|(n, it)| (it.id.clone(), n as u32))
        .collect();
    if add_items {
        let mut content_idx = None;
        for e in events {
            if ids.contains_key(&e.item) {
                continue;
            }
            let c = *content_idx.get_or_insert_with(|| {
                match bundle.content.iter().position(|c| c.id == SYNTH_CONTENT) {
                    Some(p) => p as u32,
                    None => {
                        bundle.content.push(Content {
                            id: SYNTH_CONTENT.into(),
                            ..Content::default()
                        });
                        (bundle.content.len() - 1) as u32
                    }
                }
            });
            ids.insert(e.item.clone(), bundle.items.len() as u32);
            bundle.items.push(Item {
                id: e.item.clone(),
                category: String::new(),
                content: c,
            });
            report.added_items += 1;
        }
    }
    let sessions = sessionize(events, |id| {
        let found = ids.get(id).copied();
        if found.is_none() {
            report.unknown_events += 1;
        }
        found
    });
    report.sessions = sessions.len();
    report.events = sessions.iter().map(|s| s.items.len()).sum();
    let mut model = train(&sessions, bundle.items.len(), opts);
    if let Some((dim, emb)) = embeddings(bundle) {
        model.embed_dim = dim as u8;
        model.embeddings = emb;
    }
    report.model_bytes = model.encoded_len();
    bundle.model = model;
    // A retrained bundle is a new build: re-derive the id from the content, the way
    // `slotwise bundle build` does (FNV-1a of the encoding with an empty id).
    bundle.header.id = String::new();
    bundle.header.id = slotwise::hex::u64_hex(fnv1a(&slotwise::bundle::encode(bundle)));
    report
}

/// Signed feature hashing of each item's category and content words, or `None` when the
/// catalogue has no attributes worth embedding (fewer than two distinct words).
pub fn embeddings(bundle: &Bundle) -> Option<(usize, Vec<i8>)> {
    let words = |it: &Item| -> Vec<String> {
        let mut w = vec![];
        if !it.category.is_empty() {
            w.push(format!("cat:{}", it.category.to_lowercase()));
        }
        if let Some(c) = bundle.content.get(it.content as usize) {
            for text in [&c.title, &c.body].into_iter().flatten() {
                w.extend(
                    text.split(|ch: char| !ch.is_alphanumeric())
                        .filter(|t| t.len() > 2)
                        .map(|t| t.to_lowercase()),
                );
            }
        }
        w
    };
    let all: Vec<Vec<String>> = bundle.items.iter().map(words).collect();
    let mut distinct: Vec<&String> = all.iter().flatten().collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < 2 {
        return None;
    }
    let mut out = Vec::with_capacity(all.len() * EMBED_DIM);
    for w in &all {
        let mut acc = [0f32; EMBED_DIM];
        for t in w {
            let mut h = fnv1a(t.as_bytes());
            for a in acc.iter_mut() {
                h = slotwise::hex::splitmix64(h);
                *a += if h & 1 == 0 { 1.0 } else { -1.0 };
            }
        }
        let max = acc.iter().fold(0f32, |m, v| m.max(v.abs()));
        out.extend(acc.iter().map(|v| {
            if max > 0.0 {
                (v / max * 127.0).round() as i8
            } else {
                0
            }
        }));
    }
    Some((EMBED_DIM, out))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = "SessionId\tItemId\tTime\n\
        1\ta\t1\n1\tb\t2\n1\tc\t3\n2\tb\t5\n2\tc\t6\n3\ta\t7\n3\tb\t8\n3\tb\t9\n\
        4\tc\t10\n4\ta\t11\n";

    #[test]
    fn tsv_and_jsonl_agree() {
        let tsv = parse_events(TSV).unwrap();
        let jsonl: String = tsv
            .iter()
            .map(|e| {
                format!(
                    "{{\"session\":\"{}\",\"item\":\"{}\",\"time\":{}}}\n",
                    e.session, e.item, e.time
                )
            })
            .collect();
        assert_eq!(parse_events(&jsonl).unwrap(), tsv);
        assert_eq!(tsv.len(), 10);
    }

    #[test]
    fn training_is_deterministic_and_round_trips() {
        let events = parse_events(TSV).unwrap();
        let mut a = Bundle::example();
        let mut b = Bundle::example();
        let ra = train_bundle(&mut a, &events, &TrainOptions::default(), true);
        // Shuffle whole sessions: same model.
        let mut shuffled = events.clone();
        shuffled.reverse();
        train_bundle(&mut b, &shuffled, &TrainOptions::default(), true);
        assert_eq!(ra.added_items, 3);
        assert_eq!(ra.events, 10);
        let bytes = slotwise::bundle::encode(&a);
        let decoded = slotwise::bundle::decode(&bytes).unwrap();
        assert_eq!(decoded, a);
        let by_id = |x: &Bundle| {
            let mut v: Vec<(String, u8)> = x
                .items
                .iter()
                .zip(&x.model.prior)
                .map(|(i, &p)| (i.id.clone(), p))
                .collect();
            v.sort();
            v
        };
        assert_eq!(by_id(&a), by_id(&b));
        // Item order differs with the input order, so compare scores by id.
        let top = |bundle: &Bundle, session: &[&str]| -> Vec<String> {
            let idx = |id: &str| bundle.items.iter().position(|i| i.id == id).unwrap() as u32;
            let s: Vec<u32> = session.iter().map(|id| idx(id)).collect();
            let scorer = slotwise::score::Scorer::new(&bundle.model, None).unwrap();
            let mut scratch = slotwise::score::Scratch::new(scorer.len());
            scorer.score(&s, &mut scratch);
            scratch
                .top(3)
                .iter()
                .map(|x| bundle.items[x.item as usize].id.clone())
                .collect()
        };
        assert_eq!(top(&a, &["a"]), top(&b, &["a"]));
        assert_eq!(top(&a, &["a"])[0], "a");
        assert_eq!(top(&a, &["a"])[1], "b");
        // Same input, byte-identical bundle.
        let mut c = Bundle::example();
        train_bundle(&mut c, &events, &TrainOptions::default(), true);
        assert_eq!(slotwise::bundle::encode(&c), bytes);
        assert_ne!(c.header.id, Bundle::example().header.id);
    }

    #[test]
    fn unknown_items_are_skipped_without_add_items() {
        let events = parse_events(TSV).unwrap();
        let mut b = Bundle::example();
        let r = train_bundle(&mut b, &events, &TrainOptions::default(), false);
        assert_eq!(r.unknown_events, 10);
        assert_eq!(b.items.len(), 1);
        assert!(slotwise::bundle::decode(&slotwise::bundle::encode(&b)).is_ok());
    }
}
