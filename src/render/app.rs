//! The app and store-screen channels: JSON cards the native client lays out itself.
//!
//! A decision renders as a JSON array with one card per item:
//!
//! ```json
//! [{"id":"sku-1","title":"Trail runner","body":"Grippy","image":"https://…",
//!   "link":"https://…","cta":"Buy","price":"129.50","priceCents":12950}]
//! ```
//!
//! `title` is always there (the headline fallback of [`super`]); `body` only when it
//! differs from the title; the other fields only when present (and, for URLs, safe —
//! made absolute against the site's base). Fields are plain text: the client must
//! show them as text, never as markup. Strings are escaped per RFC 8259, and `<`, `>`,
//! `&`, U+2028 and U+2029 as `\uXXXX` too, so the JSON is also safe inside a page.

use super::{absolute_url, headline, present, price_cents, price_text};
use crate::bundle::Content;

/// The JSON array of cards for `contents`.
///
/// ```
/// use slotwise::bundle::Content;
/// let c = Content { id: "x".into(), title: Some("<b>\"Hi\"</b>".into()),
///                   link: Some("/p/x".into()), ..Content::default() };
/// assert_eq!(slotwise::render::app::cards_json(&[&c], "https://shop.example/"),
///     r#"[{"id":"x","title":"\u003cb\u003e\"Hi\"\u003c/b\u003e","link":"https://shop.example/p/x"}]"#);
/// ```
pub fn cards_json(contents: &[&Content], base: &str) -> String {
    let mut out = String::with_capacity(contents.len() * 200 + 2);
    out.push('[');
    for (i, c) in contents.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        card(c, base, &mut out);
    }
    out.push(']');
    out
}

fn card(c: &Content, base: &str, out: &mut String) {
    let head = headline(c).unwrap_or("");
    out.push_str("{\"id\":");
    json_string(&c.id, out);
    field(out, "title", Some(head));
    field(out, "body", present(&c.body).filter(|b| *b != head));
    let image = c.image.as_deref().and_then(|u| absolute_url(u, base));
    field(out, "image", image.as_deref());
    let link = c.link.as_deref().and_then(|u| absolute_url(u, base));
    field(out, "link", link.as_deref());
    field(out, "cta", present(&c.cta));
    if let Some(price) = c.price
        && let Some(cents) = price_cents(price)
    {
        field(out, "price", Some(&price_text(price)));
        out.push_str(",\"priceCents\":");
        out.push_str(&crate::hex::u64_decimal(cents));
    }
    out.push('}');
}

fn field(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        json_string(v, out);
    }
}

/// Appends `s` as a JSON string literal.
pub fn json_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                let n = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((n >> shift) & 0xf) as usize] as char);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::hostile;

    fn parse(json: &str) -> serde_json::Value {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    #[test]
    fn full_card() {
        let c = Content {
            id: "sku".into(),
            title: Some("Trail".into()),
            body: Some("Grippy".into()),
            image: Some("/a.svg".into()),
            link: Some("https://shop.example/p".into()),
            cta: Some("Buy".into()),
            price: Some(129.5),
        };
        let v = parse(&cards_json(&[&c, &c], "https://shop.example/"));
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(
            v[0],
            serde_json::json!({"id": "sku", "title": "Trail", "body": "Grippy",
                "image": "https://shop.example/a.svg", "link": "https://shop.example/p",
                "cta": "Buy", "price": "129.50", "priceCents": 12950})
        );
        let free = Content {
            price: Some(0.0),
            ..c.clone()
        };
        assert_eq!(parse(&cards_json(&[&free], ""))[0]["priceCents"], 0);
        let cheap = Content {
            price: Some(0.05),
            ..c
        };
        assert_eq!(parse(&cards_json(&[&cheap], ""))[0]["priceCents"], 5);
    }

    #[test]
    fn hostile_fields_stay_text_and_unsafe_urls_go() {
        let evil = hostile::content();
        let json = cards_json(&[&evil], "https://shop.example/");
        assert!(!json.contains('<') && !json.contains('>'), "{json}");
        let v = parse(&json);
        assert_eq!(v[0]["title"], evil.title.clone().unwrap());
        assert_eq!(v[0]["body"], evil.body.clone().unwrap());
        assert!(v[0].get("link").is_none() && v[0].get("image").is_none());
        assert!(v[0].get("price").is_none(), "NaN price is left out");
        let mut all = String::new();
        for c in 0u32..0x30 {
            all.push(char::from_u32(c).unwrap());
        }
        let mut out = String::new();
        json_string(&all, &mut out);
        assert_eq!(parse(&out), serde_json::Value::String(all));
    }
}
