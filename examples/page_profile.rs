//! Native timing of the bench's full page (bench/README.md), phase by phase: the
//! session built from ~20 views, the page context, `decide` of the 4 slots, and the
//! impressions recorded. A profiling aid (run it under `perf record`), not the
//! benchmark: `cargo xtask bench` measures the package in Node beside the peers.
//!
//! ```sh
//! cargo xtask bench   # writes target/bench/data/slotwise-bundle.b64
//! base64 -d target/bench/data/slotwise-bundle.b64 > /tmp/bundle.swb
//! node --input-type=module -e "import * as W from '/work/shared/bench/peers/workload.mjs';
//!   process.stdout.write(JSON.stringify(W.buildVisitors().map((v) => ({ attrs: v.attrs,
//!   views: v.events.filter((e) => e.type === 'product_view').map((e) => e.category) }))))" \
//!   > /tmp/visitors.json
//! cargo run --release --example page_profile -- /tmp/bundle.swb /tmp/visitors.json 20
//! ```

use std::time::Instant;

use slotwise::caps::CapScope;
use slotwise::decide::{Engine, Request, Visitor};
use slotwise::rules::{Json, Value};
use slotwise::session::{Event, EventKind, Session};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bundle), Some(visitors)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: page_profile BUNDLE VISITORS_JSON [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(20);
    let bytes = std::fs::read(bundle).expect("bundle");
    let engine = Engine::new(slotwise::bundle::decode(&bytes).expect("bundle decodes"));
    let text = std::fs::read_to_string(visitors).expect("visitors");
    let Json(all) = serde_json::from_str(&text).expect("visitors JSON");
    let Value::Array(all) = all else {
        panic!("visitors: an array")
    };
    let keys = engine.context_keys().to_vec();
    // Per visitor: id, the context as the package sends it (only the keys rules read),
    // and the viewed categories' indices.
    let pages: Vec<(String, Value, Vec<u32>)> = all
        .iter()
        .map(|v| {
            let attrs = v.path(&["attrs"]);
            let id = match attrs.path(&["id"]) {
                Value::String(s) => s,
                _ => String::new(),
            };
            let context = Value::object(
                keys.iter()
                    .filter_map(|k| match attrs.path(&[k.as_str()]) {
                        Value::Null => None,
                        x => Some((k.clone(), x)),
                    })
                    .collect(),
            );
            let views = match v.path(&["views"]) {
                Value::Array(cs) => cs
                    .iter()
                    .filter_map(|c| match c {
                        Value::String(c) => engine.category_index(c),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (id, context, views)
        })
        .collect();
    let slots = ["slot-1", "slot-2", "slot-3", "slot-4"];
    let now = 1_800_000_000;
    let (mut t_session, mut t_decide, mut t_record) = (0u128, 0u128, 0u128);
    let mut n = 0u128;
    let mut checksum = 0u64;
    // The fastest round's mean per phase: the least disturbed by other work.
    let mut best = [f64::MAX; 3];
    for round in 0..rounds {
        let before = (t_session, t_decide, t_record);
        for (i, (id, context, views)) in pages.iter().enumerate() {
            let t0 = Instant::now();
            let mut session = Session::new(i as u64 ^ round as u64, now);
            session.set_vocabulary(engine.vocabulary());
            for &c in views {
                session.track(&Event::new(EventKind::View).category(c), now);
            }
            let t1 = Instant::now();
            let request = Request {
                slots: &slots,
                seed: (i as u64) << 20 | round as u64,
                context,
                visitor: Visitor {
                    id,
                    session: Some(&session),
                    profile: None,
                    consent: slotwise::consent::Consent::NECESSARY_ONLY,
                    now,
                    muted: &[],
                },
            };
            let decisions = engine.decide(&request);
            let t2 = Instant::now();
            let shown: Vec<CapScope> = decisions.iter().flat_map(|d| d.shown()).collect();
            checksum = decisions.iter().fold(checksum, |c, d| {
                c.wrapping_mul(31) ^ u64::from(d.items.first().copied().unwrap_or(999))
            });
            drop(decisions);
            session.record_impression(&shown, now);
            let t3 = Instant::now();
            if round > 0 {
                t_session += (t1 - t0).as_nanos();
                t_decide += (t2 - t1).as_nanos();
                t_record += (t3 - t2).as_nanos();
                n += 1;
            }
        }
        if round > 0 {
            let per = |now: u128, then: u128| (now - then) as f64 / pages.len() as f64 / 1000.0;
            best[0] = best[0].min(per(t_session, before.0));
            best[1] = best[1].min(per(t_decide, before.1));
            best[2] = best[2].min(per(t_record, before.2));
        }
    }
    let us = |t: u128| t as f64 / n.max(1) as f64 / 1000.0;
    println!(
        "{n} pages: session {:.2} µs, decide {:.2} µs, record {:.2} µs (mean; checksum {checksum:x})",
        us(t_session),
        us(t_decide),
        us(t_record)
    );
    println!(
        "fastest round: session {:.2} µs, decide {:.2} µs, record {:.2} µs",
        best[0], best[1], best[2]
    );
}
