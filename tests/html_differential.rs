//! `src/html.rs` against lol_html (the engine of Cloudflare's HTMLRewriter): the same
//! slot replacements must give byte-identical pages, for a corpus of pages with the
//! usual traps, split into two chunks at every byte (and into many small chunks).
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;

use lol_html::html_content::ContentType;
use lol_html::{HtmlRewriter, Settings, element};
use slotwise::html::{SlotRewriter, rewritable};

/// The inner HTML a test gives each slot name (None: keep the default).
fn replacement(slot: &str) -> Option<String> {
    match slot {
        "hero" => Some(r#"<a href="/p/9">Picked &amp; for you</a>"#.to_string()),
        "recs" => Some("<ul><li>One</li><li>Two</li></ul>".to_string()),
        "offer" => Some(String::new()),
        "footer-recs" => Some("<span>ü ✓</span>".to_string()),
        _ => None,
    }
}

fn with_lol_html(page: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rewriter = HtmlRewriter::new(
        Settings::new().append_element_content_handler(element!("[data-slotwise-slot]", |el| {
            let name = el.tag_name().to_ascii_lowercase();
            if el.is_self_closing() || !rewritable(name.as_bytes()) {
                return Ok(());
            }
            let slot = el.get_attribute("data-slotwise-slot").unwrap_or_default();
            if let Some(html) = replacement(&slot) {
                el.set_inner_content(&html, ContentType::Html);
            }
            Ok(())
        })),
        |c: &[u8]| out.extend_from_slice(c),
    );
    rewriter.write(page).unwrap();
    rewriter.end().unwrap();
    out
}

fn with_slotwise(chunks: &[&[u8]]) -> Vec<u8> {
    let mut rw = SlotRewriter::new(replacement);
    let mut out = Vec::new();
    for c in chunks {
        rw.write(c, &mut out);
    }
    rw.end(&mut out);
    out
}

/// The same, the last chunk written with `write_whole` (the edge's page in hand).
fn with_slotwise_ending_whole(chunks: &[&[u8]]) -> Vec<u8> {
    let mut rw = SlotRewriter::new(replacement);
    let mut out = Vec::new();
    let (last, before) = chunks.split_last().unwrap();
    for c in before {
        rw.write(c, &mut out);
    }
    rw.write_whole(last, &mut out);
    out
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/html");
    let mut pages: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    pages.sort();
    pages.push(("storefront-100k (generated)".into(), storefront_page()));
    pages
}

/// The edge benchmark's page shape (../shared/bench/edge/make-page.py), made here.
pub fn storefront_page() -> Vec<u8> {
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Shop</title>\
         <style>body{font:14px sans-serif}</style><script>window.x={\"a\":\"</div>\"};</script></head><body>",
    );
    let mut slots = vec!["hero", "recs", "offer", "footer-recs"].into_iter();
    let mut i = 0u32;
    let mut x = 1u32;
    while page.len() < 100_000 {
        if i % 40 == 10
            && let Some(s) = slots.next()
        {
            page.push_str(&format!(
                "<div class=\"slot\" data-slotwise-slot=\"{s}\"><a href=\"/p/{i}\"><img src=\"/i/{i}.jpg\" alt=\"default {s}\"> Default {s}</a></div>"
            ));
        }
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let price = 5 + (x >> 16) % 495;
        let lorem = "Lorem ipsum dolor sit amet ".repeat(1 + (x >> 8) as usize % 6);
        page.push_str(&format!(
            "<div class=\"card c{}\"><a href=\"/p/{i}\" title='Product {i}'>Product &amp; item {i}</a>\
             <span class=\"price\">${price}.99</span><!-- c{i} --><p>{lorem}</p></div>\n",
            i % 7
        ));
        i += 1;
    }
    page.push_str("</body></html>");
    page.into_bytes()
}

#[test]
fn whole_pages_match_lol_html() {
    for (name, page) in corpus() {
        let expected = with_lol_html(&page);
        let got = with_slotwise(&[&page]);
        assert!(
            got == expected,
            "{name}: differs from lol_html\n--- lol_html\n{}\n--- slotwise\n{}",
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(&got)
        );
        assert_ne!(
            got, page,
            "{name}: the corpus page should contain a replaced slot"
        );
        assert!(
            with_slotwise_ending_whole(&[&page]) == expected,
            "{name}: differs from lol_html written whole"
        );
    }
}

#[test]
fn every_two_chunk_split_matches() {
    for (name, page) in corpus() {
        let expected = with_lol_html(&page);
        // Small pages: every byte. The 100 KB page: every byte near a slot, and a
        // stride elsewhere (every byte would be 10 GB of copying in debug builds).
        let near_slot = |cut: usize| {
            page.windows(18)
                .enumerate()
                .skip(cut.saturating_sub(60))
                .take(120)
                .any(|(_, w)| w == b"data-slotwise-slot")
        };
        for cut in 0..=page.len() {
            if page.len() > 20_000 && cut % 499 != 0 && !near_slot(cut) {
                continue;
            }
            let (a, b) = page.split_at(cut);
            assert!(
                with_slotwise(&[a, b]) == expected,
                "{name}: differs when split at byte {cut}"
            );
            assert!(
                with_slotwise_ending_whole(&[a, b]) == expected,
                "{name}: differs when split at byte {cut}, the rest written whole"
            );
        }
    }
}

#[test]
fn small_chunks_match() {
    for (name, page) in corpus() {
        let expected = with_lol_html(&page);
        for size in [1, 2, 3, 7, 64, 1000] {
            let chunks: Vec<&[u8]> = page.chunks(size).collect();
            assert!(
                with_slotwise(&chunks) == expected,
                "{name}: differs with {size}-byte chunks"
            );
        }
    }
}
