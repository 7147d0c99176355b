//! The web channel: the HTML fragment that fills a page's slot (browser and edge).
//!
//! Every field is escaped for where it lands (text or quoted attribute), and links are
//! checked by [`safe_url`]; relative URLs stay relative (the page is the base).
//! No `format!`: this runs in wasm.

use super::{escape_into, price_text, safe_url};
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
    if let Some(price) = content.price.map(price_text).filter(|p| !p.is_empty()) {
        element("span", "slotwise-price", &price, &mut out);
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
        for bad in crate::render::hostile::URLS {
            let mut c = content();
            c.link = Some(bad.into());
            c.image = Some(bad.into());
            let html = web_html(&c);
            assert!(html.starts_with("<div"), "{bad:?}: {html}");
            assert!(!html.contains("src="), "{bad:?}: {html}");
        }
    }

    #[test]
    fn hostile_fields_are_inert() {
        let html = web_html(&crate::render::hostile::content());
        crate::render::hostile::assert_inert_html(
            &html,
            &["div", "a", "img", "strong", "span"],
            &["class", "href", "src", "alt"],
            true,
        );
        assert!(html.starts_with("<div") && !html.contains("<img"), "{html}");
        assert!(!html.contains("slotwise-price"), "a NaN price is left out");
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
