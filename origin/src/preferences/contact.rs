//! "May this cluster be contacted on channel C at time T, given its past sends?" —
//! the one check every server-side sender makes (the `slotwise decide` batch, and
//! journeys' outbox): the channel's consent (a subject who chose `never` for a
//! channel withdrew it) and the subject's contact frequency for it.
//!
//! Past sends are times (Unix seconds) of earlier messages on the channel. The batch
//! takes them from the cluster's stored exposures on the channel
//! ([`sends_in_signals`]: each message's impressions share one time); a sender with
//! its own record of sends (an outbox) passes those.
//!
//! ```
//! use slotwise::signals::Channel;
//! use slotwise_origin::preferences::contact::{Skip, may_contact};
//! use slotwise_origin::preferences::{Frequency, Preferences};
//! let mut prefs = Preferences::default();
//! prefs.contact.insert("email".into(), Frequency::Weekly);
//! let day = 86_400;
//! assert_eq!(may_contact(&prefs, Channel::Email, 10 * day, [8 * day]), Err(Skip::Frequency));
//! assert_eq!(may_contact(&prefs, Channel::Email, 15 * day, [8 * day]), Ok(()));
//! prefs.contact.insert("sms".into(), Frequency::Never);
//! assert_eq!(may_contact(&prefs, Channel::Sms, 15 * day, []), Err(Skip::Consent));
//! ```

use slotwise::signals::{Channel, Kind, Signal};

use super::Preferences;

/// Why a subject is not contacted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// The subject withdrew this channel (`never`).
    Consent,
    /// A message went out on this channel within the subject's chosen period.
    Frequency,
}

impl Skip {
    /// Every reason, in report order.
    pub const ALL: [Skip; 2] = [Skip::Consent, Skip::Frequency];

    /// Stable code: `contact.consent`, `contact.frequency`.
    pub fn code(self) -> &'static str {
        match self {
            Skip::Consent => "contact.consent",
            Skip::Frequency => "contact.frequency",
        }
    }
}

/// Whether the cluster with preferences `prefs` may get a message on `channel` at
/// `now`, given the times of its past sends on that channel (any order).
pub fn may_contact(
    prefs: &Preferences,
    channel: Channel,
    now: u64,
    past_sends: impl IntoIterator<Item = u64>,
) -> Result<(), Skip> {
    let Some(gap) = prefs.frequency(channel).min_gap_secs() else {
        return Err(Skip::Consent);
    };
    if gap == 0 {
        return Ok(());
    }
    let recent = past_sends.into_iter().any(|t| t <= now && now - t < gap);
    if recent { Err(Skip::Frequency) } else { Ok(()) }
}

/// Times of the messages on `channel` in a cluster's signals: its impressions there.
pub fn sends_in_signals(signals: &[Signal], channel: Channel) -> impl Iterator<Item = u64> + '_ {
    signals
        .iter()
        .filter(move |s| s.kind == Kind::Impression && s.channel == channel)
        .map(|s| s.time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preferences::Frequency;

    #[test]
    fn each_frequency_and_the_boundary() {
        let day = 86_400;
        let now = 100 * day;
        for (f, gap) in [
            (Frequency::Daily, day),
            (Frequency::Weekly, 7 * day),
            (Frequency::Monthly, 30 * day),
        ] {
            let mut p = Preferences::default();
            p.contact.insert("email".into(), f);
            assert_eq!(
                may_contact(&p, Channel::Email, now, [now - gap + 1]),
                Err(Skip::Frequency),
                "{f:?}"
            );
            assert_eq!(
                may_contact(&p, Channel::Email, now, [now - gap]),
                Ok(()),
                "{f:?}"
            );
            // Another channel's frequency is its own.
            assert_eq!(may_contact(&p, Channel::Push, now, [now]), Ok(()), "{f:?}");
        }
        let none = Preferences::default();
        assert_eq!(may_contact(&none, Channel::Email, now, [now]), Ok(()));
    }

    #[test]
    fn sends_are_the_channels_impressions() {
        let signals = [
            Signal::new(Kind::Impression, 1, 50).channel(Channel::Email),
            Signal::new(Kind::Impression, 2, 60).channel(Channel::Web),
            Signal::new(Kind::Click, 3, 70).channel(Channel::Email),
        ];
        assert_eq!(
            sends_in_signals(&signals, Channel::Email).collect::<Vec<_>>(),
            [50]
        );
    }
}
