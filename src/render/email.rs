//! The email channel: HTML that mail clients accept.
//!
//! One presentation table per item, inline styles only (no `<style>`, no classes, no
//! script), images with `width`, `alt` and `display:block`, a bulletproof button (a
//! link inside a coloured table cell), and every URL absolute against the site's base
//! — an email has no page to resolve relative links against. Fields are escaped as in
//! [`super::web`]; unsafe URLs are dropped (the item then has no link or image).
//!
//! Layout of one item (missing parts left out; see the fallbacks in [`super`]):
//!
//! ```text
//! ┌ table role=presentation, 100 % wide, max 600 px ┐
//! │ image (linked)                                   │
//! │ headline (h2, linked)                            │
//! │ body (p) — when there is a body besides it       │
//! │ price (p, bold)                                  │
//! │ [ call to action, or "View" ] — when there is a link
//! └──────────────────────────────────────────────────┘
//! ```

use super::{absolute_url, escape_into, headline, present, price_text};
use crate::bundle::Content;

const TABLE: &str = r#"<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;max-width:600px;">"#;
const CELL: &str =
    r#"<tr><td style="padding:16px 0;font-family:Arial,Helvetica,sans-serif;color:#222222;">"#;
const FONT: &str = "font-family:Arial,Helvetica,sans-serif;";

/// The email HTML for `contents` (one block per item, in order), with links and
/// images made absolute against `base`.
///
/// ```
/// use slotwise::bundle::Content;
/// let c = Content { id: "x".into(), title: Some("Trail & road".into()),
///                   link: Some("/p/x".into()), ..Content::default() };
/// let html = slotwise::render::email::email_html(&[&c], "https://shop.example/");
/// assert!(html.contains(r#"href="https://shop.example/p/x""#));
/// assert!(html.contains("Trail &amp; road"));
/// ```
pub fn email_html(contents: &[&Content], base: &str) -> String {
    let mut out = String::with_capacity(contents.len() * 900);
    for c in contents {
        item(c, base, &mut out);
    }
    out
}

fn open_link(href: &str, style: &str, out: &mut String) {
    out.push_str(r#"<a href=""#);
    escape_into(href, out);
    out.push_str(r#"" style=""#);
    out.push_str(style);
    out.push_str(r#"">"#);
}

fn item(c: &Content, base: &str, out: &mut String) {
    let link = c.link.as_deref().and_then(|l| absolute_url(l, base));
    let image = c.image.as_deref().and_then(|i| absolute_url(i, base));
    let head = headline(c).unwrap_or("");
    out.push_str(TABLE);
    out.push_str(CELL);
    if let Some(src) = &image {
        if let Some(href) = &link {
            open_link(href, "text-decoration:none;", out);
        }
        out.push_str(r#"<img src=""#);
        escape_into(src, out);
        out.push_str(r#"" alt=""#);
        escape_into(head, out);
        out.push_str(r#"" width="560" style="display:block;width:100%;max-width:560px;height:auto;border:0;">"#);
        if link.is_some() {
            out.push_str("</a>");
        }
    }
    out.push_str(
        r#"<h2 style="margin:12px 0 8px;font-size:20px;line-height:26px;font-weight:bold;"#,
    );
    out.push_str(FONT);
    out.push_str(r#"">"#);
    match &link {
        Some(href) => {
            open_link(href, "color:#222222;text-decoration:none;", out);
            escape_into(head, out);
            out.push_str("</a>");
        }
        None => escape_into(head, out),
    }
    out.push_str("</h2>");
    if let Some(body) = present(&c.body).filter(|b| *b != head) {
        out.push_str(r#"<p style="margin:0 0 8px;font-size:15px;line-height:22px;">"#);
        escape_into(body, out);
        out.push_str("</p>");
    }
    let price = c.price.map(price_text).filter(|p| !p.is_empty());
    if let Some(price) = price {
        out.push_str(r#"<p style="margin:0 0 12px;font-size:16px;font-weight:bold;">"#);
        out.push_str(&price);
        out.push_str("</p>");
    }
    if let Some(href) = &link {
        out.push_str(r##"<table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr><td bgcolor="#222222" style="border-radius:4px;">"##);
        open_link(
            href,
            "display:inline-block;padding:10px 20px;font-size:15px;color:#ffffff;text-decoration:none;",
            out,
        );
        escape_into(present(&c.cta).unwrap_or("View"), out);
        out.push_str("</a></td></tr></table>");
    }
    out.push_str("</td></tr></table>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::hostile;

    const TAGS: [&str; 7] = ["table", "tr", "td", "a", "img", "h2", "p"];
    const ATTRS: [&str; 10] = [
        "role",
        "width",
        "cellpadding",
        "cellspacing",
        "border",
        "style",
        "href",
        "src",
        "alt",
        "bgcolor",
    ];

    fn shoe() -> Content {
        Content {
            id: "sku".into(),
            title: Some("Trail \"runner\"".into()),
            body: Some("Grippy & light".into()),
            image: Some("/img/a.svg".into()),
            link: Some("p/sku?ref=email".into()),
            cta: None,
            price: Some(129.5),
        }
    }

    #[test]
    fn full_item_has_absolute_urls_inline_styles_and_a_button() {
        let html = email_html(&[&shoe()], "https://shop.example/shop/");
        hostile::assert_inert_html(&html, &TAGS, &ATTRS, false);
        assert!(
            html.contains(r#"src="https://shop.example/img/a.svg""#),
            "{html}"
        );
        assert_eq!(
            html.matches(r#"href="https://shop.example/shop/p/sku?ref=email""#)
                .count(),
            3,
            "image, headline and button link: {html}"
        );
        assert!(
            html.contains(">Trail &quot;runner&quot;</a></h2>"),
            "{html}"
        );
        assert!(html.contains(">Grippy &amp; light</p>"));
        assert!(html.contains(">129.50</p>"));
        assert!(html.contains(">View</a></td>"), "default call to action");
        assert!(!html.contains("class=") && !html.contains("<style"));
    }

    #[test]
    fn hostile_fields_are_inert() {
        let html = email_html(&[&hostile::content()], "https://shop.example/");
        hostile::assert_inert_html(&html, &TAGS, &ATTRS, false);
        assert!(!html.contains("<a") && !html.contains("<img"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;"), "{html}");
        for bad in hostile::URLS {
            let mut c = shoe();
            c.link = Some(bad.into());
            c.image = Some(bad.into());
            let html = email_html(&[&c], "https://shop.example/");
            hostile::assert_inert_html(&html, &TAGS, &ATTRS, false);
            assert!(!html.contains("href=") && !html.contains("src="), "{bad:?}");
        }
    }

    #[test]
    fn without_a_usable_base_relative_links_are_left_out() {
        let html = email_html(&[&shoe()], "not a url");
        assert!(!html.contains("href=") && !html.contains("src="), "{html}");
        assert!(html.contains("Trail"));
    }

    #[test]
    fn headline_falls_back_and_is_not_repeated() {
        let c = Content {
            id: "x".into(),
            body: Some("Only a body".into()),
            ..Content::default()
        };
        let html = email_html(&[&c], "https://shop.example/");
        assert_eq!(html.matches("Only a body").count(), 1, "{html}");
        assert!(html.contains(">Only a body</h2>"));
    }
}
