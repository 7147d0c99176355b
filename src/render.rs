//! Content → markup for a channel. Today: the web fragment that fills a slot.
//!
//! Every field is escaped for where it lands (text or quoted attribute), and links are
//! checked: only `http:`, `https:`, `mailto:` and relative URLs survive; anything else
//! (`javascript:`, `data:`, `vbscript:`, obfuscated with control characters or
//! entities) is dropped, so hostile content can never come out as live markup.
//! No `format!`: this runs in wasm.

use crate::bundle::Content;
use crate::decide::{Decision, Engine};

/// For each decision that shows items (a personalized slot), the web fragment that
/// fills it — every item of a list slot, in order: `(slot, html)` pairs. Decisions
/// that show the slot's default are left out, so the page keeps its own markup.
pub fn web_fills(engine: &Engine, decisions: &[Decision<'_>]) -> Vec<(String, String)> {
    let bundle = engine.bundle();
    decisions
        .iter()
        .filter(|d| !d.items.is_empty())
        .map(|d| {
            let html = d
                .items
                .iter()
                .filter_map(|&i| bundle.items.get(i as usize))
                .filter_map(|item| bundle.content.get(item.content as usize))
                .map(web_html)
                .collect();
            (d.slot.to_string(), html)
        })
        .collect()
}

/// The web fragment for `content`:
///
/// ```html
/// <a class="slotwise-item" href="LINK">
///   <img class="slotwise-image" src="IMAGE" alt="TITLE">
///   <strong class="slotwise-title">TITLE</strong>
///   <span class="slotwise-body">BODY</span>
///   <span class="slotwise-price">129.00</span>
///   <span class="slotwise-cta">CTA</span>
/// </a>
/// ```
///
/// Missing fields are left out; without a safe link the wrapper is a `<div>`.
///
/// ```
/// use slotwise::bundle::Content;
/// let c = Content { id: "x".into(), title: Some("<Hi> & bye".into()),
///                   link: Some("javascript:alert(1)".into()), ..Content::default() };
/// assert_eq!(slotwise::render::web_html(&c),
///     r#"<div class="slotwise-item"><strong class="slotwise-title">&lt;Hi&gt; &amp; bye</strong></div>"#);
/// ```
pub fn web_html(content: &Content) -> String {
    let mut out = String::with_capacity(160);
    let link = content.link.as_deref().filter(|l| safe_url(l));
    match link {
        Some(href) => {
            out.push_str(r#"<a class="slotwise-item" href=""#);
            escape_into(href, &mut out);
            out.push_str(r#"">"#);
        }
        None => out.push_str(r#"<div class="slotwise-item">"#),
    }
    if let Some(src) = content.image.as_deref().filter(|s| safe_url(s)) {
        out.push_str(r#"<img class="slotwise-image" src=""#);
        escape_into(src, &mut out);
        out.push_str(r#"" alt=""#);
        escape_into(content.title.as_deref().unwrap_or(""), &mut out);
        out.push_str(r#"">"#);
    }
    for (class, value) in [
        ("slotwise-title", &content.title),
        ("slotwise-body", &content.body),
    ] {
        if let Some(v) = value {
            let tag = if class == "slotwise-title" {
                "strong"
            } else {
                "span"
            };
            element(tag, class, v, &mut out);
        }
    }
    if let Some(price) = content.price {
        element("span", "slotwise-price", &price_text(price), &mut out);
    }
    if let Some(cta) = &content.cta {
        element("span", "slotwise-cta", cta, &mut out);
    }
    out.push_str(if link.is_some() { "</a>" } else { "</div>" });
    out
}

fn element(tag: &str, class: &str, text: &str, out: &mut String) {
    out.push('<');
    out.push_str(tag);
    out.push_str(r#" class=""#);
    out.push_str(class);
    out.push_str(r#"">"#);
    escape_into(text, out);
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Escapes text for HTML text and double- or single-quoted attribute values.
pub fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Whether a URL may be used as a link or image: `http(s):`, `mailto:`, or relative.
/// Browsers ignore ASCII whitespace and control characters inside a scheme
/// (`java\tscript:`), so those make a URL unsafe rather than being stripped.
pub fn safe_url(url: &str) -> bool {
    let url = url.trim_matches(|c: char| c.is_ascii_whitespace() || c.is_ascii_control());
    if url.is_empty() || url.chars().any(|c| c.is_ascii_control()) {
        return false;
    }
    // The scheme is whatever precedes the first ':' — unless a '/', '?' or '#' comes
    // first, in which case the URL is relative.
    let scheme_end = url.find([':', '/', '?', '#']);
    match scheme_end {
        Some(i) if url.as_bytes()[i] == b':' => {
            let scheme = &url[..i];
            ["http", "https", "mailto"]
                .iter()
                .any(|s| scheme.eq_ignore_ascii_case(s))
        }
        // No scheme: relative. Reject a leading '&' (an entity could spell a scheme
        // once the attribute is decoded) and backslashes (`\\evil.example`).
        _ => !url.starts_with('&') && !url.contains('\\'),
    }
}

/// `129.5` → `"129.50"`, without float formatting (which costs ~10 KB of wasm).
/// Rounds to cents; non-finite or negative prices give an empty string.
pub fn price_text(price: f64) -> String {
    if !price.is_finite() || !(0.0..=1e13).contains(&price) {
        return String::new();
    }
    let cents = (price * 100.0 + 0.5) as u64;
    let mut s = crate::hex::u64_decimal(cents / 100);
    s.push('.');
    let c = cents % 100;
    s.push((b'0' + (c / 10) as u8) as char);
    s.push((b'0' + (c % 10) as u8) as char);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        Content {
            id: "sku".into(),
            title: Some("Trail \"runner\"".into()),
            body: Some("<script>alert(1)</script>".into()),
            image: Some("/img/a.svg".into()),
            link: Some("/p/sku".into()),
            cta: Some("Buy & go".into()),
            price: Some(129.5),
        }
    }

    #[test]
    fn full_content() {
        assert_eq!(
            web_html(&content()),
            concat!(
                r#"<a class="slotwise-item" href="/p/sku">"#,
                r#"<img class="slotwise-image" src="/img/a.svg" alt="Trail &quot;runner&quot;">"#,
                r#"<strong class="slotwise-title">Trail &quot;runner&quot;</strong>"#,
                r#"<span class="slotwise-body">&lt;script&gt;alert(1)&lt;/script&gt;</span>"#,
                r#"<span class="slotwise-price">129.50</span>"#,
                r#"<span class="slotwise-cta">Buy &amp; go</span></a>"#
            )
        );
    }

    #[test]
    fn hostile_urls_are_dropped() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:x",
            "data:text/html,<b>",
            "vbscript:x",
            "&#106;avascript:x",
            "\\\\evil.example",
            "",
        ] {
            assert!(!safe_url(bad), "{bad:?}");
            let mut c = content();
            c.link = Some(bad.into());
            c.image = Some(bad.into());
            let html = web_html(&c);
            assert!(html.starts_with("<div"), "{bad:?}: {html}");
            assert!(!html.contains("src="), "{bad:?}: {html}");
        }
        for good in [
            "https://shop.example/p/1",
            "HTTP://x",
            "/p/1",
            "p/1?q=a:b",
            "#top",
            "mailto:a@b.example",
        ] {
            assert!(safe_url(good), "{good:?}");
        }
    }

    #[test]
    fn prices() {
        assert_eq!(price_text(0.0), "0.00");
        assert_eq!(price_text(119.0), "119.00");
        assert_eq!(price_text(0.005), "0.01");
        assert_eq!(price_text(19.999), "20.00");
        assert_eq!(price_text(f64::NAN), "");
        assert_eq!(price_text(-1.0), "");
    }

    #[test]
    fn minimal_content() {
        let c = Content {
            id: "x".into(),
            ..Content::default()
        };
        assert_eq!(web_html(&c), r#"<div class="slotwise-item"></div>"#);
    }
}
