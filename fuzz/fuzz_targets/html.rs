//! Any bytes, split anywhere, through the slot rewriter: never a panic; with no
//! replacements the page comes out byte-identical; with replacements, split points
//! never change the output; a chunk `write_unchanged` passes through is the input;
//! ending with `write_whole` (the edge's page in hand) gives what `write` + `end` do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotwise::html::SlotRewriter;

fn run(chunks: &[&[u8]], fill: bool) -> Vec<u8> {
    let mut rw =
        SlotRewriter::new(|slot: &str| (fill && slot.len() < 8).then(|| "<i>x</i>".to_string()));
    let mut out = Vec::new();
    for c in chunks {
        let from = out.len();
        if rw.write_unchanged(c, &mut out) {
            // The pass-through fast path of the edge: the chunk less its held tail.
            assert_eq!(&out[from..], &c[..c.len() - rw.held()]);
        }
    }
    rw.end(&mut out);
    out
}

/// The same page, its last chunk written with `write_whole`.
fn run_ending_whole(chunks: &[&[u8]], fill: bool) -> Vec<u8> {
    let mut rw =
        SlotRewriter::new(|slot: &str| (fill && slot.len() < 8).then(|| "<i>x</i>".to_string()));
    let mut out = Vec::new();
    let (last, before) = chunks.split_last().expect("a chunk");
    for c in before {
        rw.write(c, &mut out);
    }
    rw.write_whole(last, &mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, page)) = data.split_first() else {
        return;
    };
    let cut = (cut as usize * page.len()) / 255;
    let (a, b) = page.split_at(cut.min(page.len()));
    assert_eq!(run(&[a, b], false), page);
    let filled = run(&[page], true);
    assert_eq!(run(&[a, b], true), filled);
    assert_eq!(run_ending_whole(&[a, b], true), filled);
    assert_eq!(run_ending_whole(&[page], false), page);
});
