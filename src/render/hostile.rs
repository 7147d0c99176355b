//! Test material shared by the renderers' tests: hostile content, and a checker that
//! HTML output holds nothing live besides the renderer's own tags and attributes.

use crate::bundle::Content;

/// URLs every renderer must drop.
pub const URLS: [&str; 10] = [
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
];

/// Content whose every field tries to break out of where it lands.
pub fn content() -> Content {
    Content {
        id: "evil".into(),
        title: Some(r#""><script>alert(1)</script>"#.into()),
        body: Some("<img src=x onerror=alert(1)>\u{2028}\n& done".into()),
        image: Some("java\tscript:alert(1)".into()),
        link: Some("javascript:alert(document.cookie)".into()),
        cta: Some("' onmouseover='alert(1)".into()),
        price: Some(f64::NAN),
    }
}

/// Panics unless every tag of `html` is in `tags`, every attribute in `attributes`,
/// and every `href` / `src` is an `http(s)` URL (or relative when `relative_ok`).
pub fn assert_inert_html(html: &str, tags: &[&str], attributes: &[&str], relative_ok: bool) {
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        let after = &rest[lt + 1..];
        let end = after
            .find('>')
            .unwrap_or_else(|| panic!("unclosed tag in {html}"));
        let inside = &after[..end];
        let name_end = inside.find(' ').unwrap_or(inside.len());
        let name = inside[..name_end].trim_start_matches('/');
        assert!(tags.contains(&name), "tag {name:?} in {html}");
        let mut attrs = &inside[name_end..];
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                break;
            }
            let eq = attrs
                .find("=\"")
                .unwrap_or_else(|| panic!("bare attribute {attrs:?}"));
            let attr = &attrs[..eq];
            assert!(attributes.contains(&attr), "attribute {attr:?} in {html}");
            let value_end = attrs[eq + 2..].find('"').expect("quoted value") + eq + 2;
            let value = &attrs[eq + 2..value_end];
            assert!(!value.contains('<') && !value.contains('>'), "{value:?}");
            if attr == "href" || attr == "src" {
                let lower = value.to_ascii_lowercase();
                assert!(
                    lower.starts_with("https://")
                        || lower.starts_with("http://")
                        || (relative_ok && super::safe_url(value)),
                    "{attr}={value:?} in {html}"
                );
            }
            attrs = &attrs[value_end + 1..];
        }
        rest = &after[end + 1..];
    }
    assert!(!rest.contains('>') || !rest.contains('<'));
}
