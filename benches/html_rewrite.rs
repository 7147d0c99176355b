//! `cargo bench --bench html_rewrite`: the slot rewriter (`src/html.rs`) natively, on
//! a 100 KB storefront page with 4 slots shaped like the edge benchmark's
//! (`../shared/bench/edge/make-page.py`: cards with attributes in both quote styles,
//! entities, a comment each, a `<script>` holding `</div>`), fed whole and in 4 KB /
//! 64 KB chunks; and the same page with a fifth slot at its very end (the rewriter
//! copies a page past its last slot marker unscanned, so where the last slot is
//! matters: this is the page scanned whole). Prints the median and p99 µs per page
//! and MB/s. Diagnostic only:
//! the edge figure that counts is `cargo xtask bench-edge` (in workerd, wasm).

use std::hint::black_box;
use std::time::Instant;

use slotwise::html::SlotRewriter;

/// A deterministic ~100 KB page with 4 slots.
fn page() -> Vec<u8> {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Shop</title>\
         <style>body{font:14px sans-serif}</style><script>window.x={\"a\":\"</div>\"};</script></head><body>",
    );
    let mut slots = vec!["hero", "recs", "offer", "footer-recs"].into_iter();
    let mut seed: u32 = 1;
    let mut next = |n: u32| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (seed >> 16) % n
    };
    let mut i = 0;
    while out.len() < 100_000 {
        if i % 40 == 10
            && let Some(s) = slots.next()
        {
            out.push_str(&format!(
                "<div class=\"slot\" data-slotwise-slot=\"{s}\"><a href=\"/p/{i}\"><img src=\"/i/{i}.jpg\" alt=\"default {s}\"> Default {s}</a></div>"
            ));
        }
        out.push_str(&format!(
            "<div class=\"card c{}\"><a href=\"/p/{i}\" title='Product {i}'>Product &amp; item {i}</a><span class=\"price\">${}.99</span><!-- c{i} --><p>{}</p></div>\n",
            i % 7,
            5 + next(496),
            "Lorem ipsum dolor sit amet ".repeat(1 + next(6) as usize)
        ));
        i += 1;
    }
    out.push_str("</body></html>");
    out.into_bytes()
}

fn main() {
    let page = page();
    let fill = |slot: &str| {
        Some(format!(
            "<a class=\"slotwise-item\" href=\"/p/{slot}\">Picked for you</a>"
        ))
    };
    let mut late = page.clone();
    let body_end = late.len() - b"</body></html>".len();
    late.splice(
        body_end..body_end,
        b"<div data-slotwise-slot=\"late\">default</div>"
            .iter()
            .copied(),
    );
    for (page, slots, label) in [
        (page, 4, "4 slots, the last a third in"),
        (late, 5, "and a 5th slot at the end"),
    ] {
        run(&page, slots, label, fill);
    }
}

fn run(page: &[u8], slots: usize, what: &str, fill: impl Fn(&str) -> Option<String> + Copy) {
    println!(
        "slot rewriter, native, {} KB page, {what}",
        page.len() / 1000
    );
    for chunk in [page.len(), 64 * 1024, 4 * 1024] {
        let mut times = Vec::with_capacity(2000);
        let mut out = Vec::with_capacity(page.len() + 1024);
        for _ in 0..2000 {
            let t = Instant::now();
            let mut rw = SlotRewriter::new(fill);
            out.clear();
            for c in page.chunks(chunk) {
                rw.write(black_box(c), &mut out);
            }
            rw.end(&mut out);
            black_box(&out);
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        assert_eq!(
            out.windows(14).filter(|w| w == b"Picked for you").count(),
            slots
        );
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let p99 = times[times.len() * 99 / 100];
        let label = if chunk == page.len() {
            "whole page".to_string()
        } else {
            format!("{} KB chunks", chunk / 1024)
        };
        println!(
            "  {label:<14} median {median:7.1} µs   p99 {p99:7.1} µs   {:6.0} MB/s",
            page.len() as f64 / median
        );
    }
}
