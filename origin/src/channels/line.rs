//! A batch send's JSON line, written straight into the output buffer.
//!
//! `slotwise decide` writes one line per subject: `{"subject", "cluster",
//! "decisions": [...]}`, each decision the JSON of a [`ChannelDecision`]. Built that
//! way, every message concatenates its rendered contents into a fresh `String` (an
//! email is ~2 KB of HTML per item) and `serde_json` then escapes all of it again.
//! Here each content's piece is escaped once per batch ([`JsonPieces`]): JSON string
//! escaping works character by character, so the escape of a concatenation is the
//! concatenation of the escapes, and a decision's `rendered` is copied out of those
//! escaped pieces. The other fields borrow from the engine's decision and the bundle.
//! The bytes are the same as `serde_json` writes for the [`ChannelDecision`]s (the
//! tests compare them for every channel).
//!
//! [`ChannelDecision`]: super::decide::ChannelDecision

use slotwise::bundle::Bundle;
use slotwise::decide::{Decision, Engine};
use slotwise::render::{Prepared, Rendered};

use super::decide::output;

/// Every content's rendered piece of one channel, as JSON.
#[derive(Clone, Debug)]
pub struct JsonPieces {
    /// The channel's renderings the pieces are made of.
    prepared: Prepared,
    /// Per content index (`None`: no text).
    pieces: Vec<Option<JsonPiece>>,
}

#[derive(Clone, Debug)]
enum JsonPiece {
    /// HTML: the escaped string without its quotes; a message joins its items' pieces.
    Html(Vec<u8>),
    /// App cards: one card object; a message joins them into an array.
    Card(Vec<u8>),
    /// Push or SMS: the whole value (a message shows its first item only).
    Whole(Vec<u8>),
}

impl JsonPieces {
    /// The pieces of `prepared` (rendered for `engine`'s bundle).
    pub fn new(engine: &Engine, prepared: &Prepared) -> JsonPieces {
        let pieces = (0..engine.bundle().content.len() as u32)
            .map(|c| {
                Some(match prepared.piece(c)? {
                    Rendered::Html(html) => {
                        let quoted = serde_json::to_vec(html).unwrap_or_default();
                        JsonPiece::Html(quoted[1..quoted.len() - 1].to_vec())
                    }
                    Rendered::Json(card) => JsonPiece::Card(card.as_bytes().to_vec()),
                    whole => JsonPiece::Whole(
                        serde_json::to_vec(&output(whole.clone())).unwrap_or_default(),
                    ),
                })
            })
            .collect();
        JsonPieces {
            prepared: prepared.clone(),
            pieces,
        }
    }

    /// Writes the `rendered` value of a message showing `shown` (content indexes, as
    /// [`Prepared::shown`] gives them): `null` when it shows nothing.
    fn write_rendered(&self, shown: &[u32], out: &mut Vec<u8>) {
        let mut pieces = shown
            .iter()
            .filter_map(|&c| self.pieces.get(c as usize)?.as_ref());
        match pieces.next() {
            None => out.extend_from_slice(b"null"),
            Some(JsonPiece::Whole(v)) => out.extend_from_slice(v),
            Some(JsonPiece::Html(first)) => {
                out.push(b'"');
                out.extend_from_slice(first);
                for p in pieces {
                    if let JsonPiece::Html(p) = p {
                        out.extend_from_slice(p);
                    }
                }
                out.push(b'"');
            }
            Some(JsonPiece::Card(first)) => {
                out.push(b'[');
                out.extend_from_slice(first);
                for p in pieces {
                    if let JsonPiece::Card(p) = p {
                        out.push(b',');
                        out.extend_from_slice(p);
                    }
                }
                out.push(b']');
            }
        }
    }
}

/// A JSON string.
fn string(s: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// `"key":` after a `{` or a `,` the caller wrote.
fn key(k: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\":");
}

fn strings<'a>(values: impl Iterator<Item = &'a str>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(v, out);
    }
    out.push(b']');
}

/// Writes a subject's line (without its newline): the same bytes as `serde_json`
/// writes for `{"subject", "cluster", "decisions"}` with each decision's
/// [`ChannelDecision`](super::decide::ChannelDecision). `shown` is scratch space.
pub fn write_line(
    engine: &Engine,
    pieces: &JsonPieces,
    subject: &str,
    cluster: &str,
    decisions: &[Decision<'_>],
    shown: &mut Vec<u32>,
    out: &mut Vec<u8>,
) {
    let bundle = engine.bundle();
    out.push(b'{');
    key("subject", out);
    string(subject, out);
    out.push(b',');
    key("cluster", out);
    string(cluster, out);
    out.push(b',');
    key("decisions", out);
    out.push(b'[');
    for (i, d) in decisions.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        pieces.prepared.shown(engine, d, shown);
        write_decision(engine, bundle, d, pieces, shown, out);
    }
    out.extend_from_slice(b"]}");
}

fn write_decision(
    engine: &Engine,
    bundle: &Bundle,
    d: &Decision<'_>,
    pieces: &JsonPieces,
    shown: &[u32],
    out: &mut Vec<u8>,
) {
    let slot = d.slot_index.and_then(|s| bundle.slots.get(s as usize));
    out.push(b'{');
    key("slot", out);
    string(d.slot, out);
    out.push(b',');
    key("id", out);
    out.push(b'"');
    out.extend_from_slice(&hex16(d.id));
    out.push(b'"');
    out.push(b',');
    key("reason", out);
    string(d.reason.code(), out);
    out.push(b',');
    key("explain", out);
    string(&engine.explain(d.slot_index, d.reason, d.because), out);
    out.push(b',');
    key("items", out);
    strings(
        d.items
            .iter()
            .filter_map(|&i| bundle.items.get(i as usize))
            .map(|i| i.id.as_str()),
        out,
    );
    out.push(b',');
    key("content", out);
    match d.content {
        Some(c) => string(&c.id, out),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b',');
    key("rules", out);
    strings(
        d.matched
            .iter()
            .filter_map(|&r| slot.and_then(|s| s.rules.get(r as usize)))
            .map(|r| r.id.as_str()),
        out,
    );
    out.push(b',');
    key("variant", out);
    match d
        .variant
        .and_then(|(e, v)| Some((bundle.experiments.get(e as usize)?, v)))
    {
        Some((experiment, variation)) => {
            out.push(b'{');
            key("experiment", out);
            string(&experiment.key, out);
            out.push(b',');
            key("variation", out);
            out.extend_from_slice(variation.to_string().as_bytes());
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b',');
    key("rendered", out);
    pieces.write_rendered(shown, out);
    out.push(b'}');
}

/// 16 lowercase hex digits (as [`slotwise::hex::u64_hex`]).
fn hex16(value: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    std::array::from_fn(|k| DIGITS[((value >> ((15 - k) * 4)) & 0xf) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::cluster::ClusterVisitor;
    use crate::channels::decide::{ChannelRequest, decide, decide_slots};
    use crate::server::profile::BundleIndex;
    use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};
    use slotwise::rules::Value;
    use slotwise::signals::{Channel, Kind, Signal};

    /// The demo shop's bundle, with hostile and JSON-awkward text in some contents.
    fn bundle() -> slotwise::bundle::Bundle {
        let www = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www");
        let mut b = crate::channels::bench::demo_bundle(
            &www.join("authoring"),
            &www.join("training/sessions.tsv"),
        )
        .unwrap();
        for (k, c) in b.content.iter_mut().enumerate().filter(|(k, _)| k % 3 == 0) {
            c.title = Some(format!(
                "\"><script>alert({k})</script> \\ \u{1} é \u{2028}"
            ));
            c.body = Some("line\nbreak\t\"quoted\" </p>".into());
            c.link = Some(["javascript:alert(1)", "/p?a=1&b=\"2\"", " //evil"][k % 3].into());
            c.cta = Some("Buy \u{7f} now".into());
        }
        b
    }

    #[test]
    fn lines_are_the_bytes_serde_writes_for_the_decisions() {
        let engine = Engine::new(bundle());
        let bundle = engine.bundle();
        let index = BundleIndex::of(Some(bundle));
        let slots: Vec<&str> = bundle
            .slots
            .iter()
            .map(|s| s.name.as_str())
            .chain(["no-such-slot"])
            .collect();
        let now = 1_800_000_000;
        let all = BIT_NECESSARY | BIT_PERSONALIZATION | BIT_MEASUREMENT;
        let items = bundle.items.len() as u64;
        let visitors: Vec<ClusterVisitor> = (0..24u64)
            .map(|v| {
                let signals: Vec<Signal> = (0..v % 9)
                    .map(|k| {
                        let kind = [Kind::View, Kind::AddToCart, Kind::Purchase][(k % 3) as usize];
                        Signal::new(kind, v * 100 + k, now - 600 * k)
                            .item(((v * 7 + k) % items) as u32)
                            .consent(if v % 5 == 0 { BIT_NECESSARY } else { all })
                            .subject(v + 1)
                    })
                    .collect();
                ClusterVisitor::from_signals(&engine, &index, "c", &signals, now)
            })
            .collect();
        #[derive(serde::Serialize)]
        struct Line<'a> {
            subject: &'a str,
            cluster: &'a str,
            decisions: &'a [crate::channels::decide::ChannelDecision],
        }
        let (mut lines, mut shown_items) = (0, 0);
        for channel in Channel::ALL {
            for base in ["https://shop.example/", "not a url"] {
                let prepared = Prepared::new(&engine, channel, base);
                let pieces = JsonPieces::new(&engine, &prepared);
                let mut shown = Vec::new();
                for (v, visitor) in visitors.iter().enumerate() {
                    let context = Value::Null;
                    let req = ChannelRequest {
                        channel,
                        slots: &slots,
                        context: &context,
                        seed: v as u64 * 0x9e37_79b9,
                        now,
                        prepared: &prepared,
                        subject: Some(v as u64 + 1),
                    };
                    let (before, _) = decide(&engine, visitor, &req);
                    let expected = serde_json::to_vec(&Line {
                        subject: "login:\"x\"",
                        cluster: "c",
                        decisions: &before,
                    })
                    .unwrap();
                    shown_items += before.iter().map(|d| d.items.len()).sum::<usize>();
                    let decisions = decide_slots(&engine, visitor, &req);
                    let mut line = b"left over".to_vec();
                    line.clear();
                    write_line(
                        &engine,
                        &pieces,
                        "login:\"x\"",
                        "c",
                        &decisions,
                        &mut shown,
                        &mut line,
                    );
                    assert_eq!(
                        String::from_utf8_lossy(&line),
                        String::from_utf8_lossy(&expected),
                        "{channel:?} {base} visitor {v}"
                    );
                    // It is JSON, and reads back as the decisions.
                    let parsed: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    assert_eq!(parsed["decisions"], serde_json::to_value(&before).unwrap());
                    lines += 1;
                }
            }
        }
        assert_eq!(lines, 6 * 2 * 24);
        assert!(
            shown_items > lines,
            "decisions with several items: {shown_items}"
        );
    }
}
