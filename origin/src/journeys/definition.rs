//! The journeys of an authoring set (`journeys.json`), validated against its bundle.
//!
//! ```json
//! {
//!   "timeZone": "Europe/Berlin",
//!   "quietHours": { "from": "21:00", "to": "08:00" },
//!   "budget": { "messages": 1, "periodSecs": 604800 },
//!   "journeys": [{
//!     "id": "abandoned-cart",
//!     "trigger": { "event": "add_to_cart", "channels": ["web", "app"] },
//!     "exit": { "event": "purchase", "items": "trigger" },
//!     "activeSecs": 604800,
//!     "steps": [{ "waitSecs": 3600, "channel": "email", "slots": ["recs"] }]
//!   }]
//! }
//! ```
//!
//! - `timeZone` (IANA name, default `UTC`): the zone of subjects who recorded none;
//! - `quietHours` (local `HH:MM`, may wrap midnight): no message is produced inside
//!   them in the subject's zone; a step due then waits for their end. A journey may
//!   override them with its own `quietHours`;
//! - `budget`: at most `messages` journey messages per subject (identity cluster) in
//!   any `periodSecs`, across every journey and channel; a step over it is skipped;
//! - a journey starts on its `trigger` (a signal kind, optionally only from some
//!   channels) for a subject with no active instance of it, collects the items of
//!   further triggers while active, and ends when its `exit` happens in any channel:
//!   with `"items": "trigger"` a purchase removes the items bought and the journey
//!   exits when none is left; with `"items": "any"` any such event exits;
//! - each step waits `waitSecs` (the first from the newest trigger, the next from the
//!   previous step), then decides the step's `slots` for its `channel` (`email`,
//!   `push`, `sms` or `app`) with the journey's items pinned first, and queues the
//!   message in the outbox;
//! - `activeSecs` (default 7 days, at least the sum of the waits): how long after
//!   the trigger the journey's items are shown first on the subject's web and app pages.
//!
//! The file is compiled by `slotwise bundle build` next to the bundle
//! (`<bundle>.journeys.json`) and published with it; the browser bundle never holds it.

use serde::{Deserialize, Serialize};
use slotwise::bundle::Bundle;
use slotwise::signals::{Channel, Kind};

use crate::channels::channel_named;

/// Default `activeSecs`: a week.
pub const DEFAULT_ACTIVE_SECS: u64 = 7 * 86_400;
/// Most steps in one journey.
pub const MAX_STEPS: usize = 8;
/// Most items one journey instance carries (newest first).
pub const MAX_ITEMS: usize = 8;

/// Every journey of a bundle, with the settings they share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Journeys {
    /// The zone of subjects who recorded none (IANA name).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Local hours without messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// Messages per subject per period, across journeys and channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// The journeys.
    pub journeys: Vec<Journey>,
}

fn utc() -> String {
    "UTC".into()
}

fn week() -> u64 {
    DEFAULT_ACTIVE_SECS
}

/// Local hours `from` until `to` (`HH:MM`; `from > to` wraps midnight).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Start, `HH:MM`.
    pub from: String,
    /// End, `HH:MM`.
    pub to: String,
}

impl QuietHours {
    /// `(from, to)` in minutes after midnight, when both parse.
    pub fn minutes(&self) -> Option<(u16, u16)> {
        Some((hhmm(&self.from)?, hhmm(&self.to)?))
    }
}

fn hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// A message budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Budget {
    /// Most messages...
    pub messages: u32,
    /// ...in any window of this many seconds.
    pub period_secs: u64,
}

/// One journey.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Journey {
    /// Unique name.
    pub id: String,
    /// What starts it.
    pub trigger: Trigger,
    /// What ends it early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<Exit>,
    /// Seconds after the trigger its items stay first on web and app pages.
    #[serde(default = "week")]
    pub active_secs: u64,
    /// Overrides the shared quiet hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// The messages, in order.
    pub steps: Vec<Step>,
}

/// A signal kind, optionally from some channels only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Signal kind name (`add_to_cart`, `view`, ...).
    pub event: String,
    /// Channels it counts from (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
}

/// The exit condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exit {
    /// Signal kind name (`purchase`, `conversion`, ...), from any channel.
    pub event: String,
    /// Which items count.
    #[serde(default)]
    pub items: ExitItems,
}

/// Which exit events count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitItems {
    /// Events on the journey's items remove them; it exits when none is left.
    #[default]
    Trigger,
    /// Any such event exits.
    Any,
}

/// One message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Step {
    /// Seconds after the trigger (first step) or the previous step.
    pub wait_secs: u64,
    /// `email`, `push`, `sms` or `app`.
    pub channel: String,
    /// The bundle's slots the message is made of, in order.
    pub slots: Vec<String>,
}

/// Channels a step may send on (web pages are not sent: they show the items).
pub const MESSAGE_CHANNELS: [Channel; 4] =
    [Channel::Email, Channel::Push, Channel::Sms, Channel::App];

/// The signal kind named `name`.
pub fn kind_named(name: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.name() == name)
}

impl Journey {
    /// The trigger's kind (validated).
    pub fn trigger_kind(&self) -> Option<Kind> {
        kind_named(&self.trigger.event)
    }

    /// Whether a signal of `kind` on `channel` triggers the journey.
    pub fn triggers(&self, kind: Kind, channel: Channel) -> bool {
        self.trigger_kind() == Some(kind)
            && (self.trigger.channels.is_empty()
                || self.trigger.channels.iter().any(|c| c == channel.name()))
    }

    /// The exit kind, if there is an exit.
    pub fn exit_kind(&self) -> Option<Kind> {
        self.exit.as_ref().and_then(|e| kind_named(&e.event))
    }
}

impl Step {
    /// The step's channel (validated).
    pub fn channel(&self) -> Channel {
        channel_named(&self.channel).unwrap_or(Channel::Email)
    }
}

impl Journeys {
    /// The journey with this id.
    pub fn get(&self, id: &str) -> Option<&Journey> {
        self.journeys.iter().find(|j| j.id == id)
    }

    /// The quiet hours that apply to `journey`.
    pub fn quiet_hours_of<'a>(&'a self, journey: &'a Journey) -> Option<&'a QuietHours> {
        journey.quiet_hours.as_ref().or(self.quiet_hours.as_ref())
    }

    /// Checks every field against `bundle`; the error is `(JSON path, message)`.
    pub fn validate(&self, bundle: &Bundle) -> Result<(), (String, String)> {
        let fail = |path: String, msg: &str| Err((path, msg.to_string()));
        if jiff::tz::TimeZone::get(&self.time_zone).is_err() {
            return fail("timeZone".into(), "not a known IANA time zone");
        }
        if let Some(q) = &self.quiet_hours
            && q.minutes().is_none()
        {
            return fail("quietHours".into(), "from and to are local times HH:MM");
        }
        if let Some(b) = &self.budget
            && (b.messages == 0 || b.period_secs == 0)
        {
            return fail("budget".into(), "messages and periodSecs must be positive");
        }
        for (i, j) in self.journeys.iter().enumerate() {
            let at = format!("journeys[{i}]");
            if j.id.is_empty() {
                return fail(format!("{at}.id"), "must not be empty");
            }
            if self.journeys[..i].iter().any(|o| o.id == j.id) {
                return fail(format!("{at}.id"), "duplicate journey id");
            }
            if j.trigger_kind().is_none() {
                return fail(format!("{at}.trigger.event"), "not a signal kind");
            }
            for (k, c) in j.trigger.channels.iter().enumerate() {
                if channel_named(c).is_none() {
                    return fail(format!("{at}.trigger.channels[{k}]"), "not a channel");
                }
            }
            if let Some(e) = &j.exit
                && kind_named(&e.event).is_none()
            {
                return fail(format!("{at}.exit.event"), "not a signal kind");
            }
            if let Some(q) = &j.quiet_hours
                && q.minutes().is_none()
            {
                return fail(
                    format!("{at}.quietHours"),
                    "from and to are local times HH:MM",
                );
            }
            if j.steps.is_empty() || j.steps.len() > MAX_STEPS {
                return fail(format!("{at}.steps"), "a journey has 1 to 8 steps");
            }
            let mut waits = 0u64;
            for (s, step) in j.steps.iter().enumerate() {
                let at = format!("{at}.steps[{s}]");
                match channel_named(&step.channel) {
                    Some(c) if MESSAGE_CHANNELS.contains(&c) => {}
                    _ => return fail(format!("{at}.channel"), "one of email, push, sms, app"),
                }
                if step.slots.is_empty() {
                    return fail(format!("{at}.slots"), "a message needs at least one slot");
                }
                for (k, name) in step.slots.iter().enumerate() {
                    if !bundle.slots.iter().any(|sl| &sl.name == name) {
                        return fail(format!("{at}.slots[{k}]"), "no slot with this name");
                    }
                }
                waits = waits.saturating_add(step.wait_secs);
            }
            if j.active_secs < waits {
                return fail(
                    format!("{at}.activeSecs"),
                    "must be at least the sum of the steps' waits",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_parse() {
        let q = QuietHours {
            from: "21:30".into(),
            to: "08:00".into(),
        };
        assert_eq!(q.minutes(), Some((21 * 60 + 30, 480)));
        for bad in ["24:00", "8:00", "08:60", "0800", ""] {
            assert_eq!(hhmm(bad), None, "{bad}");
        }
    }
}
