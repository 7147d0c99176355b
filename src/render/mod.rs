//! Content → what a channel shows. One decision, rendered for any channel.
//!
//! Content is channel-agnostic fields ([`Content`]: title, body, image, link, price,
//! call to action); each channel has a fixed layout in its own module:
//!
//! | channel | module | form | limits |
//! |---|---|---|---|
//! | web | [`web`] | an HTML fragment per item (the page's slot) | — |
//! | email | [`email`] | table layout with inline styles, absolute URLs, no script | — |
//! | app, store | [`app`] | a JSON array of cards, absolute URLs | — |
//! | push | [`text`] | title + body + link | title [`text::PUSH_TITLE_MAX`], body [`text::PUSH_BODY_MAX`] characters |
//! | sms | [`text`] | one segment of plain text + link | 160 GSM-7 septets, or 70 UCS-2 units |
//!
//! The layouts are fixed per channel, not templates from the bundle: the bundle format
//! stays as it is, and every layout is audited here once for escaping.
//!
//! **Escaping.** HTML targets escape every field for where it lands (text or quoted
//! attribute); JSON escapes per RFC 8259 and also `<`, `>`, `&` and U+2028/9 (safe to
//! inline in a page); text channels get plain text with control characters folded
//! into spaces. URLs are checked by [`safe_url`] in every channel: only `http:`,
//! `https:`, `mailto:` and relative URLs survive (`javascript:`, `data:`, obfuscated
//! schemes are dropped), and off the web relative URLs are made absolute against the
//! site's base ([`site_base`]; an email has no page to be relative to).
//!
//! **Fallbacks.** A field a layout needs but the content lacks falls back, in order:
//! headline = title → call to action → body; text = body → call to action → title;
//! a missing image, link or price is left out (the email's button needs a link and
//! shows the call to action, or "View"). Content with no text at all (no title, body
//! or call to action) is skipped; if no item of a decision has text, the slot's
//! default content renders instead; if that has none either, [`render`] returns `None`
//! and the caller sends nothing for the slot — never an empty message.
//!
//! No `format!`: the web renderer runs in wasm, and the others compile there but are
//! never called from the browser entry, so they are not in its module.

pub mod app;
pub mod email;
#[cfg(test)]
pub(crate) mod hostile;
pub mod text;
pub mod web;

pub use web::{web_fills, web_html};

use crate::bundle::Content;
use crate::decide::{Decision, Engine};
use crate::signals::Channel;

/// One decision in a channel's form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rendered {
    /// Web or email HTML.
    Html(String),
    /// App / store screen: a JSON array of cards.
    Json(String),
    /// A push notification.
    Push(text::Push),
    /// One SMS segment.
    Sms(String),
}

impl Rendered {
    /// The rendered text (for a push: its body).
    pub fn as_str(&self) -> &str {
        match self {
            Rendered::Html(s) | Rendered::Json(s) | Rendered::Sms(s) => s,
            Rendered::Push(p) => &p.body,
        }
    }
}

/// Renders `decision` for `channel`: every item it shows (push and SMS: the first),
/// or the slot's default content when it shows none or none has text. `base` is the
/// absolute `http(s)` URL relative links resolve against (see [`site_base`]).
/// `None`: nothing with text to show (an unknown slot, or content without text).
pub fn render(
    engine: &Engine,
    decision: &Decision<'_>,
    channel: Channel,
    base: &str,
) -> Option<Rendered> {
    let contents = contents(engine, decision);
    if contents.is_empty() {
        return None;
    }
    Some(match channel {
        Channel::Web => Rendered::Html(contents.into_iter().map(web_html).collect()),
        Channel::Email => Rendered::Html(email::email_html(&contents, base)),
        Channel::App | Channel::Store => Rendered::Json(app::cards_json(&contents, base)),
        Channel::Push => Rendered::Push(text::push(contents[0], base)),
        Channel::Sms => Rendered::Sms(text::sms(contents[0], base)),
    })
}

/// Every content of a bundle rendered once for one channel and base: rendering a
/// decision is then a concatenation. Same output as [`render`] (a batch send renders
/// the same few hundred contents for millions of messages).
#[derive(Clone, Debug)]
pub struct Prepared {
    channel: Channel,
    /// Per content index: its piece, or `None` when it has no text.
    pieces: Vec<Option<Rendered>>,
}

impl Prepared {
    /// Renders every content of `engine`'s bundle for `channel` against `base`.
    pub fn new(engine: &Engine, channel: Channel, base: &str) -> Prepared {
        let pieces = engine
            .bundle()
            .content
            .iter()
            .map(|c| {
                has_text(c).then(|| match channel {
                    Channel::Web => Rendered::Html(web_html(c)),
                    Channel::Email => Rendered::Html(email::email_html(&[c], base)),
                    Channel::App | Channel::Store => {
                        let json = app::cards_json(&[c], base);
                        // Without the brackets: cards are joined into one array.
                        Rendered::Json(json[1..json.len() - 1].to_string())
                    }
                    Channel::Push => Rendered::Push(text::push(c, base)),
                    Channel::Sms => Rendered::Sms(text::sms(c, base)),
                })
            })
            .collect();
        Prepared { channel, pieces }
    }

    /// The channel the contents were rendered for.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The rendered piece of content `content` (`None`: it has no text, or no such
    /// content).
    pub fn piece(&self, content: u32) -> Option<&Rendered> {
        self.pieces.get(content as usize).and_then(Option::as_ref)
    }

    /// Fills `shown` with the contents `decision` shows, in order: those of its items
    /// that have text, or else the slot's default content when it has text (see
    /// [`render`]). Push and SMS render only the first. Empty: nothing to show.
    pub fn shown(&self, engine: &Engine, decision: &Decision<'_>, shown: &mut Vec<u32>) {
        let bundle = engine.bundle();
        shown.clear();
        shown.extend(
            decision
                .items
                .iter()
                .filter_map(|&i| bundle.items.get(i as usize))
                .map(|item| item.content)
                .filter(|&c| self.piece(c).is_some()),
        );
        if shown.is_empty() {
            let default = decision
                .slot_index
                .and_then(|s| bundle.slots.get(s as usize))
                .map(|s| s.default_content)
                .or(decision.content_index);
            shown.extend(default.filter(|&c| self.piece(c).is_some()));
        }
    }

    /// `decision` rendered (see [`render`]).
    pub fn render(&self, engine: &Engine, decision: &Decision<'_>) -> Option<Rendered> {
        let mut indexes = Vec::new();
        self.shown(engine, decision, &mut indexes);
        let shown: Vec<&Rendered> = indexes.iter().filter_map(|&c| self.piece(c)).collect();
        let first = (*shown.first()?).clone();
        Some(match (self.channel, first) {
            (_, Rendered::Push(p)) => Rendered::Push(p),
            (_, Rendered::Sms(s)) => Rendered::Sms(s),
            (_, Rendered::Json(_)) => {
                let mut out = String::from("[");
                for (i, r) in shown.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(r.as_str());
                }
                out.push(']');
                Rendered::Json(out)
            }
            (_, Rendered::Html(_)) => Rendered::Html(shown.iter().map(|r| r.as_str()).collect()),
        })
    }
}

/// What a decision shows, with text: its items' content, else the slot's default.
pub fn contents<'a>(engine: &'a Engine, decision: &Decision<'a>) -> Vec<&'a Content> {
    let bundle = engine.bundle();
    let shown: Vec<&Content> = decision
        .items
        .iter()
        .filter_map(|&i| bundle.items.get(i as usize))
        .filter_map(|item| bundle.content.get(item.content as usize))
        .filter(|c| has_text(c))
        .collect();
    if !shown.is_empty() {
        return shown;
    }
    let default = decision
        .slot_index
        .and_then(|s| bundle.slots.get(s as usize))
        .and_then(|s| bundle.content.get(s.default_content as usize))
        .or(decision.content);
    default.filter(|c| has_text(c)).into_iter().collect()
}

fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.trim().is_empty())
}

/// Whether the content has a title, body or call to action that is not blank.
pub fn has_text(c: &Content) -> bool {
    headline(c).is_some()
}

/// The headline: title → call to action → body.
pub fn headline(c: &Content) -> Option<&str> {
    present(&c.title)
        .or_else(|| present(&c.cta))
        .or_else(|| present(&c.body))
}

/// The message text: body → call to action → title.
pub fn message(c: &Content) -> Option<&str> {
    present(&c.body)
        .or_else(|| present(&c.cta))
        .or_else(|| present(&c.title))
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
    match scheme(url) {
        Some(scheme) => ["http", "https", "mailto"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s)),
        // No scheme: relative. Reject a leading '&' (an entity could spell a scheme
        // once the attribute is decoded) and backslashes (`\\evil.example`).
        None => !url.starts_with('&') && !url.contains('\\'),
    }
}

/// The scheme: whatever precedes the first ':' — unless a '/', '?' or '#' comes
/// first, in which case the URL is relative (`None`).
fn scheme(url: &str) -> Option<&str> {
    match url.find([':', '/', '?', '#']) {
        Some(i) if url.as_bytes()[i] == b':' => Some(&url[..i]),
        _ => None,
    }
}

/// The base URL of a site as the bundle names it: `shop.example` →
/// `https://shop.example/`; a value that already is an `http(s)` URL is kept.
///
/// ```
/// assert_eq!(slotwise::render::site_base("shop.example"), "https://shop.example/");
/// assert_eq!(slotwise::render::site_base("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/");
/// ```
pub fn site_base(site: &str) -> String {
    let site = site.trim();
    if is_http(site) {
        return site.to_string();
    }
    let mut s = String::from("https://");
    s.push_str(site.trim_matches('/'));
    s.push('/');
    s
}

fn is_http(url: &str) -> bool {
    scheme(url).is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"))
        && url[url.find(':').unwrap_or(0)..].starts_with("://")
}

/// `url` made absolute against `base` (an absolute `http(s)` URL), if it is safe
/// ([`safe_url`]) and `base` is usable. Dot segments are left for the client.
///
/// ```
/// use slotwise::render::absolute_url;
/// let base = "https://shop.example/p/index.html?x=1#top";
/// assert_eq!(absolute_url("/img/a.svg", base).unwrap(), "https://shop.example/img/a.svg");
/// assert_eq!(absolute_url("b.html", base).unwrap(), "https://shop.example/p/b.html");
/// assert_eq!(absolute_url("//cdn.example/a", base).unwrap(), "https://cdn.example/a");
/// assert_eq!(absolute_url("?q=2", base).unwrap(), "https://shop.example/p/index.html?q=2");
/// assert_eq!(absolute_url("#f", base).unwrap(), "https://shop.example/p/index.html?x=1#f");
/// assert_eq!(absolute_url("javascript:alert(1)", base), None);
/// ```
pub fn absolute_url(url: &str, base: &str) -> Option<String> {
    if !safe_url(url) {
        return None;
    }
    let url = url.trim_matches(|c: char| c.is_ascii_whitespace());
    if scheme(url).is_some() {
        return Some(url.to_string());
    }
    if !is_http(base) {
        return None;
    }
    let scheme_end = base.find("://")? + 3;
    let authority_end = base[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(base.len(), |i| scheme_end + i);
    let origin = &base[..authority_end];
    let no_fragment = &base[..base.find('#').unwrap_or(base.len())];
    let no_query = &no_fragment[..no_fragment.find('?').unwrap_or(no_fragment.len())];
    let mut out = String::with_capacity(base.len() + url.len());
    if let Some(rest) = url.strip_prefix("//") {
        out.push_str(&base[..scheme_end]);
        out.push_str(rest);
    } else if url.starts_with('/') {
        out.push_str(origin);
        out.push_str(url);
    } else if url.starts_with('?') {
        out.push_str(no_query);
        out.push_str(url);
    } else if url.starts_with('#') {
        out.push_str(no_fragment);
        out.push_str(url);
    } else {
        let dir = match no_query[authority_end..].rfind('/') {
            Some(i) => &no_query[..authority_end + i + 1],
            None => {
                out.push_str(origin);
                out.push('/');
                out.push_str(url);
                return Some(out);
            }
        };
        out.push_str(dir);
        out.push_str(url);
    }
    // The result must still be an http(s) URL (a base of `https://` alone is not).
    is_http(&out).then_some(out)
}

/// The price in whole cents, rounded; `None` for non-finite, negative or absurd prices.
pub fn price_cents(price: f64) -> Option<u64> {
    (price.is_finite() && (0.0..=1e13).contains(&price)).then_some((price * 100.0 + 0.5) as u64)
}

/// `129.5` → `"129.50"`, without float formatting (which costs ~10 KB of wasm).
/// Rounds to cents; non-finite or negative prices give an empty string.
pub fn price_text(price: f64) -> String {
    let Some(cents) = price_cents(price) else {
        return String::new();
    };
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
    use crate::bundle::{Bundle, Content};
    use crate::decide::Request;

    #[test]
    fn safe_and_unsafe_urls() {
        for bad in hostile::URLS {
            assert!(!safe_url(bad), "{bad:?}");
            assert_eq!(absolute_url(bad, "https://shop.example/"), None, "{bad:?}");
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
    fn absolute_urls_need_an_http_base() {
        assert_eq!(absolute_url("/a", "shop.example"), None);
        assert_eq!(absolute_url("/a", "javascript://x/"), None);
        assert_eq!(
            absolute_url("a", "https://shop.example").unwrap(),
            "https://shop.example/a"
        );
        assert_eq!(
            absolute_url("https://other.example/x", "nonsense").unwrap(),
            "https://other.example/x"
        );
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
    fn fallbacks_never_give_an_empty_message() {
        let c = |title: Option<&str>, body: Option<&str>, cta: Option<&str>| Content {
            id: "x".into(),
            title: title.map(Into::into),
            body: body.map(Into::into),
            cta: cta.map(Into::into),
            ..Content::default()
        };
        assert_eq!(headline(&c(None, Some("b"), Some("go"))), Some("go"));
        assert_eq!(headline(&c(None, Some("b"), None)), Some("b"));
        assert_eq!(message(&c(Some("t"), None, None)), Some("t"));
        assert_eq!(message(&c(Some("t"), Some("  "), Some("go"))), Some("go"));
        assert!(!has_text(&c(None, Some(" \n"), None)));
    }

    fn one_slot_bundle(item: Content, default: Content) -> Engine {
        let mut b = Bundle::example();
        b.content = vec![default, item];
        Engine::new(b)
    }

    #[test]
    fn a_decision_without_text_renders_the_default_or_nothing() {
        let image_only = Content {
            id: "img".into(),
            image: Some("/a.png".into()),
            ..Content::default()
        };
        let default = Content {
            id: "d".into(),
            title: Some("Welcome".into()),
            ..Content::default()
        };
        let engine = one_slot_bundle(image_only.clone(), default);
        let d = engine.decide(&Request::new(&["hero"], 1));
        assert_eq!(d[0].items, vec![0], "the item wins the slot");
        for channel in Channel::ALL {
            let r = render(&engine, &d[0], channel, "https://shop.example/").unwrap();
            assert!(r.as_str().contains("Welcome"), "{channel:?}: {r:?}");
        }
        let engine = one_slot_bundle(image_only.clone(), image_only);
        let d = engine.decide(&Request::new(&["hero", "nope"], 1));
        for channel in Channel::ALL {
            assert_eq!(
                render(&engine, &d[0], channel, "https://shop.example/"),
                None
            );
            assert_eq!(
                render(&engine, &d[1], channel, "https://shop.example/"),
                None
            );
        }
    }

    #[test]
    fn prepared_renders_what_render_renders() {
        // A list slot of three items, one of them without text; a slot without text.
        let mut b = Bundle::example();
        let item = |id: &str, title: Option<&str>| Content {
            id: id.into(),
            title: title.map(Into::into),
            body: Some("Body".into()).filter(|_| title.is_some()),
            link: Some("/p/x".into()),
            price: Some(9.5),
            ..Content::default()
        };
        b.content = vec![
            item("default", Some("Default")),
            item("a", Some("A <1>")),
            item("b", None),
            item("c", Some("C")),
        ];
        b.items = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, id)| crate::bundle::Item {
                id: (*id).into(),
                category: "x".into(),
                content: i as u32 + 1,
            })
            .collect();
        b.slots[0].candidates = vec![0, 1, 2];
        b.slots[0].count = 3;
        b.page.category_cap = 0;
        let mut only_b = b.slots[0].clone();
        only_b.name = "only-b".into();
        only_b.candidates = vec![1];
        only_b.count = 1;
        only_b.default_content = 2;
        b.slots.push(only_b);
        let engine = Engine::new(b);
        let d = engine.decide(&Request::new(&["hero", "only-b", "nope"], 1));
        assert_eq!(d[0].items.len(), 3);
        for base in ["https://shop.example/", "nonsense"] {
            for channel in Channel::ALL {
                let prepared = Prepared::new(&engine, channel, base);
                for decision in &d {
                    assert_eq!(
                        prepared.render(&engine, decision),
                        render(&engine, decision, channel, base),
                        "{channel:?} {base}"
                    );
                }
            }
        }
        let p = Prepared::new(&engine, Channel::Email, "https://shop.example/");
        assert!(
            p.render(&engine, &d[0])
                .unwrap()
                .as_str()
                .contains("A &lt;1&gt;")
        );
        assert_eq!(p.render(&engine, &d[1]), None);
    }
}
