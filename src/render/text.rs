//! The text channels: push notifications and SMS, plain text within each limit.
//!
//! Text is the content's fields with control characters and whitespace runs folded
//! into single spaces (no markup is interpreted: `<b>` stays the four characters).
//! Over a limit, text is cut on a character boundary and ends with an ellipsis.
//!
//! **Push**: a title of at most [`PUSH_TITLE_MAX`] characters (headline) and a body
//! of at most [`PUSH_BODY_MAX`] (message text; see the fallbacks in [`super`]) — what
//! iOS and Android show of a collapsed notification — plus the absolute link to open.
//! When the only text is one field, it is the body and the title is empty.
//!
//! **SMS**: one segment, so a message is never split or billed twice: 160 septets
//! when every character is in the GSM 03.38 alphabet (extension characters such as
//! `€ [ ] { } ^ ~ | \` take two), else 70 UCS-2 units (a character outside the BMP
//! takes two). The text is `headline: body` (the body when there is one besides the
//! headline), then a space and the absolute link. The link is never cut: it is left
//! out when it would leave less than [`SMS_MIN_TEXT`] units for the text. The
//! ellipsis is `...` in GSM-7 (it has no `…`) and `…` in UCS-2.

use super::{absolute_url, headline, message, present};
use crate::bundle::Content;

/// Longest push title, in characters.
pub const PUSH_TITLE_MAX: usize = 50;
/// Longest push body, in characters.
pub const PUSH_BODY_MAX: usize = 150;
/// One SMS segment in the GSM-7 alphabet, in septets.
pub const SMS_GSM7_MAX: usize = 160;
/// One SMS segment in UCS-2, in 16-bit units.
pub const SMS_UCS2_MAX: usize = 70;
/// Text kept before a link is dropped from an SMS, in units of its encoding.
pub const SMS_MIN_TEXT: usize = 20;

/// A push notification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Push {
    /// At most [`PUSH_TITLE_MAX`] characters; may be empty.
    pub title: String,
    /// At most [`PUSH_BODY_MAX`] characters; never empty for content with text.
    pub body: String,
    /// The absolute link to open, when the content has a safe one.
    pub link: Option<String>,
}

/// The push notification for `c`.
///
/// ```
/// use slotwise::bundle::Content;
/// let c = Content { id: "x".into(), title: Some("Trail\nrunner".into()),
///                   body: Some("b".repeat(200)), ..Content::default() };
/// let p = slotwise::render::text::push(&c, "https://shop.example/");
/// assert_eq!(p.title, "Trail runner");
/// assert_eq!(p.body.chars().count(), 150);
/// assert!(p.body.ends_with('…'));
/// ```
pub fn push(c: &Content, base: &str) -> Push {
    let body = plain(message(c).unwrap_or(""));
    let mut title = plain(present(&c.title).or_else(|| present(&c.cta)).unwrap_or(""));
    if title == body {
        title.clear();
    }
    Push {
        title: truncate(&title, PUSH_TITLE_MAX, |_| 1, "…"),
        body: truncate(&body, PUSH_BODY_MAX, |_| 1, "…"),
        link: c.link.as_deref().and_then(|l| absolute_url(l, base)),
    }
}

/// The SMS text for `c`: one segment (see the module docs).
///
/// ```
/// use slotwise::bundle::Content;
/// let c = Content { id: "x".into(), title: Some("Trail runner".into()),
///                   body: Some("Now 20% off".into()), link: Some("/p/x".into()),
///                   ..Content::default() };
/// assert_eq!(slotwise::render::text::sms(&c, "https://shop.example/"),
///            "Trail runner: Now 20% off https://shop.example/p/x");
/// ```
pub fn sms(c: &Content, base: &str) -> String {
    let head = headline(c).unwrap_or("");
    let mut text = plain(head);
    if let Some(body) = present(&c.body).filter(|b| *b != head) {
        text.push_str(": ");
        text.push_str(&plain(body));
    }
    let link = c.link.as_deref().and_then(|l| absolute_url(l, base));
    let all_gsm = text
        .chars()
        .chain(link.iter().flat_map(|l| l.chars()))
        .all(|ch| gsm7_cost(ch).is_some());
    let (limit, cost, ellipsis): (usize, fn(char) -> usize, &str) = if all_gsm {
        (SMS_GSM7_MAX, |ch| gsm7_cost(ch).unwrap_or(2), "...")
    } else {
        (SMS_UCS2_MAX, |ch| ch.len_utf16(), "…")
    };
    let link_cost = link
        .as_deref()
        .map_or(0, |l| 1 + l.chars().map(cost).sum::<usize>());
    let with_link = link.is_some() && link_cost + SMS_MIN_TEXT <= limit;
    let budget = if with_link { limit - link_cost } else { limit };
    let mut out = truncate(&text, budget, cost, ellipsis);
    if with_link && let Some(l) = link {
        out.push(' ');
        out.push_str(&l);
    }
    out
}

/// The SMS length of `text` and its limit: `(used, limit)` in septets (GSM-7) or
/// UCS-2 units.
pub fn sms_length(text: &str) -> (usize, usize) {
    if text.chars().all(|c| gsm7_cost(c).is_some()) {
        (text.chars().filter_map(gsm7_cost).sum(), SMS_GSM7_MAX)
    } else {
        (text.chars().map(char::len_utf16).sum(), SMS_UCS2_MAX)
    }
}

/// Septets of `c` in the GSM 03.38 default alphabet (2 for the extension table),
/// `None` when it has no GSM-7 form.
fn gsm7_cost(c: char) -> Option<usize> {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENSION: &str = "\u{c}^{}\\[~]|€";
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Control characters and whitespace runs folded into single spaces, trimmed.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// `text` cut to at most `max` (by `cost` per character) on a character boundary,
/// ending with `ellipsis` when cut (trailing spaces before it are dropped).
pub fn truncate(text: &str, max: usize, cost: impl Fn(char) -> usize, ellipsis: &str) -> String {
    let total: usize = text.chars().map(&cost).sum();
    if total <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(ellipsis.chars().map(&cost).sum());
    let mut used = 0;
    let mut out = String::with_capacity(text.len().min(max * 4));
    for c in text.chars() {
        used += cost(c);
        if used > room {
            break;
        }
        out.push(c);
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    out.push_str(ellipsis);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::hostile;

    const BASE: &str = "https://shop.example/";

    fn content(title: &str, body: &str, link: Option<&str>) -> Content {
        Content {
            id: "x".into(),
            title: Some(title.into()),
            body: Some(body.into()),
            link: link.map(Into::into),
            ..Content::default()
        }
    }

    #[test]
    fn push_limits_on_char_boundaries() {
        let c = content(&"é".repeat(80), &"🏃".repeat(400), Some("/p"));
        let p = push(&c, BASE);
        assert_eq!(p.title.chars().count(), PUSH_TITLE_MAX);
        assert_eq!(p.body.chars().count(), PUSH_BODY_MAX);
        assert!(p.title.ends_with("é…") && p.body.ends_with("🏃…"));
        assert_eq!(p.link.as_deref(), Some("https://shop.example/p"));
        let short = push(&content("Hi", "There", None), BASE);
        assert_eq!((short.title.as_str(), short.body.as_str()), ("Hi", "There"));
    }

    #[test]
    fn push_with_one_field_puts_it_in_the_body() {
        let c = Content {
            id: "x".into(),
            title: Some("Only a title".into()),
            ..Content::default()
        };
        let p = push(&c, BASE);
        assert_eq!((p.title.as_str(), p.body.as_str()), ("", "Only a title"));
    }

    #[test]
    fn sms_fits_one_segment_in_either_encoding() {
        let long = "word ".repeat(100);
        let s = sms(&content("Trail", &long, Some("/p/trail")), BASE);
        assert_eq!(sms_length(&s), (160, 160), "{s}");
        assert!(s.ends_with("... https://shop.example/p/trail"), "{s}");

        // One non-GSM character (an em dash) switches to UCS-2: 70 units.
        let s = sms(&content("Trail — road", &long, Some("/p")), BASE);
        assert!(sms_length(&s).0 <= 70 && sms_length(&s).1 == 70, "{s}");
        assert!(s.contains("… https://shop.example/p"), "{s}");

        // Emoji take two units; the cut never splits one.
        let s = sms(&content(&"🏃".repeat(60), "", None), BASE);
        assert_eq!(sms_length(&s), (69, 70));
        assert!(s.ends_with("🏃…"));

        // Extension characters take two septets.
        let s = sms(&content(&"€".repeat(100), "", None), BASE);
        assert_eq!(sms_length(&s), (159, 160), "{s}");
    }

    #[test]
    fn a_link_that_leaves_no_room_is_dropped() {
        let link = "/".to_string() + &"a".repeat(150);
        let s = sms(&content("Trail", "Grippy", Some(&link)), BASE);
        assert_eq!(s, "Trail: Grippy");
    }

    #[test]
    fn hostile_fields_are_plain_text_without_links() {
        let evil = hostile::content();
        let p = push(&evil, BASE);
        assert_eq!(p.link, None);
        assert!(!p.body.contains('\n') && !p.body.contains('\u{2028}'));
        let s = sms(&evil, BASE);
        assert!(!s.contains("javascript") && !s.contains('\n'), "{s}");
        assert!(
            s.starts_with(r#""><script>"#),
            "markup stays literal text: {s}"
        );
        for bad in hostile::URLS {
            let c = content("t", "b", Some(bad));
            assert_eq!(sms(&c, BASE), "t: b");
            assert_eq!(push(&c, BASE).link, None);
        }
    }

    #[test]
    fn plain_folds_whitespace_and_controls() {
        assert_eq!(plain("  a\n\n b\u{7}c\t "), "a b c");
        assert_eq!(plain(""), "");
    }
}
