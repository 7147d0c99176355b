//! "May this subject be contacted on this channel now?" — the one place a journey
//! step asks it ([`may_contact`]).
//!
//! Today's answer combines, in order:
//! 1. **channel consent**: a message goes to one of the cluster's identity ids that
//!    can receive on the channel (`email:` for email, `app:` for push and app,
//!    `login:` for SMS) and that recorded consent to that channel
//!    (`PUT /v1/subjects/{id}/contact`); without one there is no message;
//! 2. **budget**: the journeys' message budget per subject across every channel
//!    (the store checks it again, atomically, when the message is queued);
//! 3. **quiet hours** in the subject's time zone: a step due inside them waits for
//!    their end.
//!
//! The preference centre's per-channel choice (`never`, or at most once per period) is
//! checked next to it by the step ([`crate::preferences::contact::may_contact`]), with
//! the subject's decided visitor in hand.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use slotwise::signals::Channel;

use super::definition::{Budget, QuietHours};
use crate::store::journeys::Contact;

/// What the check knows about the subject.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    /// The contact records of the cluster's ids.
    pub contacts: &'a [Contact],
    /// Journey messages queued for the cluster since `now - budget.period_secs`.
    pub sent_in_budget_window: u64,
    /// The zone to use when no contact record names one.
    pub default_zone: &'a str,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send now, to this identity id.
    Now(String),
    /// Not before this Unix time (quiet hours).
    After(u64),
    /// Not at all for this step; the reason code.
    Never(&'static str),
}

/// The identity id kind that receives messages on `channel`.
pub fn recipient_kind(channel: Channel) -> Option<&'static str> {
    match channel {
        Channel::Email => Some("email:"),
        Channel::Push | Channel::App => Some("app:"),
        Channel::Sms => Some("login:"),
        Channel::Web | Channel::Store => None,
    }
}

/// Whether the subject may be contacted on `channel` at `now` (see the module docs).
pub fn may_contact(
    facts: &Facts<'_>,
    channel: Channel,
    now: u64,
    budget: Option<&Budget>,
    quiet: Option<&QuietHours>,
) -> Verdict {
    let Some(kind) = recipient_kind(channel) else {
        return Verdict::Never("channel");
    };
    let bit = 1u8 << (channel as u8);
    let recipient = facts
        .contacts
        .iter()
        .filter(|c| c.id.starts_with(kind) && c.channels & bit != 0)
        .max_by_key(|c| c.updated_at);
    let Some(recipient) = recipient else {
        return Verdict::Never("consent");
    };
    if let Some(b) = budget
        && facts.sent_in_budget_window >= u64::from(b.messages)
    {
        return Verdict::Never("budget");
    }
    let zone = facts
        .contacts
        .iter()
        .filter(|c| c.time_zone.is_some())
        .max_by_key(|c| c.updated_at)
        .and_then(|c| c.time_zone.as_deref())
        .unwrap_or(facts.default_zone);
    if let Some(end) = quiet.and_then(|q| quiet_until(q, zone, now)) {
        return Verdict::After(end);
    }
    Verdict::Now(recipient.id.clone())
}

/// When `now` falls inside the quiet hours in `zone`: the Unix time they end.
pub fn quiet_until(quiet: &QuietHours, zone: &str, now: u64) -> Option<u64> {
    let (from, to) = quiet.minutes()?;
    if from == to {
        return None;
    }
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let local = Timestamp::from_second(i64::try_from(now).ok()?)
        .ok()?
        .to_zoned(tz);
    let minute = local.hour() as u16 * 60 + local.minute() as u16;
    let inside = if from < to {
        (from..to).contains(&minute)
    } else {
        minute >= from || minute < to
    };
    if !inside {
        return None;
    }
    // The next local `to` after now (today or tomorrow), through the zone's rules.
    let mut end = local
        .with()
        .hour((to / 60) as i8)
        .minute((to % 60) as i8)
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .ok()?;
    if end.timestamp() <= local.timestamp() {
        end = end.tomorrow().ok()?;
    }
    u64::try_from(end.timestamp().as_second()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: &str, channels: u8, zone: Option<&str>, at: u64) -> Contact {
        Contact {
            id: id.into(),
            channels,
            time_zone: zone.map(str::to_string),
            updated_at: at,
        }
    }

    #[test]
    fn consent_budget_and_quiet_hours_decide() {
        let email = 1 << (Channel::Email as u8);
        // 2026-11-25 12:00 UTC = 13:00 in Berlin.
        let noon = 1_795_608_000;
        let quiet = QuietHours {
            from: "21:00".into(),
            to: "08:00".into(),
        };
        let budget = Budget {
            messages: 1,
            period_secs: 86_400,
        };
        let contacts = [contact(
            &format!("email:{}", "a".repeat(64)),
            email,
            Some("Europe/Berlin"),
            1,
        )];
        let mut facts = Facts {
            contacts: &contacts,
            sent_in_budget_window: 0,
            default_zone: "UTC",
        };
        let v = may_contact(&facts, Channel::Email, noon, Some(&budget), Some(&quiet));
        assert_eq!(v, Verdict::Now(contacts[0].id.clone()));
        // No consent to SMS, no recipient for the web.
        assert_eq!(
            may_contact(&facts, Channel::Sms, noon, None, None),
            Verdict::Never("consent")
        );
        assert_eq!(
            may_contact(&facts, Channel::Web, noon, None, None),
            Verdict::Never("channel")
        );
        // 21:30 UTC = 22:30 Berlin: quiet until 08:00 Berlin = 07:00 UTC next day.
        let late = noon + 9 * 3600 + 1800;
        assert_eq!(
            may_contact(&facts, Channel::Email, late, Some(&budget), Some(&quiet)),
            Verdict::After(noon + 19 * 3600)
        );
        facts.sent_in_budget_window = 1;
        assert_eq!(
            may_contact(&facts, Channel::Email, noon, Some(&budget), Some(&quiet)),
            Verdict::Never("budget")
        );
    }
}
