//! Consent: the four purposes, where each answer comes from, and the precedence resolver.
//!
//! Purposes (DESIGN.md "Consent"): `necessary` (always on), `personalization` (store and
//! read on the device, use the profile snippet), `measurement` (send signals) and
//! `advertising` (passed through only).
//!
//! Sources, for each purpose separately, first answer wins:
//! 1. an explicit API call ([`Choice`], the site recording the visitor's own choice);
//! 2. the IAB TCF v2.2 TC string ([`from_tcf`]);
//! 3. Google Consent Mode v2 ([`ConsentMode`]);
//! 4. the site's default ([`Policy::default`], `necessary` only unless configured).
//!
//! Then GPC (`Sec-GPC: 1`, `navigator.globalPrivacyControl`) means "do not sell or share":
//! it turns `advertising` off unless the explicit API call itself granted advertising
//! (a visitor may opt back in for one site; a CMP or tag default may not override GPC).
//!
//! TCF mapping ([`from_tcf`]); "granted(n)" is purpose *n* consented (plus consent for the
//! site's vendor id when [`Policy::vendor_id`] is set) or, only where TCF v2.2 allows
//! legitimate interest (P2, P7–P11), LI established (plus vendor LI when configured):
//! - personalization = granted(1) ∧ granted(5) ∧ granted(6): consent only, since LI is
//!   never allowed for P1 and P3–P6 — LI bits there are ignored whatever the policy
//!   version says;
//! - measurement = granted(1) ∧ (granted(7) ∨ granted(8) ∨ granted(9));
//! - advertising = granted(1) ∧ granted(2) ∧ granted(3) ∧ granted(4).
//!
//! With a vendor id configured, the publisher's restrictions for that vendor apply too:
//! "not allowed" denies the purpose, "require consent" ignores LI for it, "require
//! legitimate interest" ignores consent for it.
//!
//! A TC string gives an answer (grant or deny) for all three purposes. With Purpose One
//! Treatment set, P1 was not asked and its bit is 0: storage-based purposes stay denied
//! (conservative; a site relying on P1 treatment passes its own choice explicitly).
//!
//! ```
//! use slotwise::consent::{resolve, Choice, ConsentMode, Inputs, Policy, Signal, Source};
//! let granted = Some(true);
//! let mode = ConsentMode {
//!     analytics_storage: granted,
//!     ad_storage: granted,
//!     ad_user_data: granted,
//!     ad_personalization: granted,
//!     ..ConsentMode::default()
//! };
//! let explicit = Choice { personalization: Some(true), ..Choice::default() };
//! let r = resolve(&Policy::default(), &Inputs {
//!     explicit, tcf: None, consent_mode: mode, gpc: true,
//! });
//! assert!(r.consent.personalization && r.consent.measurement && !r.consent.advertising);
//! assert_eq!(r.sources.measurement, Source::ConsentMode);
//! assert_eq!(r.sources.advertising, Source::Gpc);
//! assert_eq!(Signal::parse("granted"), Some(true));
//! ```

pub mod tcf;

use serde::{Deserialize, Serialize};

use tcf::RestrictionType;
pub use tcf::TcString;

/// The resolved consent: one boolean per purpose. `necessary` is always true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Strictly necessary processing; always allowed.
    pub necessary: bool,
    /// Store/read on the device and use the profile snippet.
    pub personalization: bool,
    /// Send signals (impressions, clicks, conversions).
    pub measurement: bool,
    /// Advertising use; passed through to the site only.
    pub advertising: bool,
}

/// Bit of [`Consent::to_bits`] for `necessary`.
pub const BIT_NECESSARY: u8 = 1;
/// Bit for `personalization`.
pub const BIT_PERSONALIZATION: u8 = 2;
/// Bit for `measurement`.
pub const BIT_MEASUREMENT: u8 = 4;
/// Bit for `advertising`.
pub const BIT_ADVERTISING: u8 = 8;

impl Consent {
    /// Only `necessary`: the default before the site or visitor says anything.
    pub const NECESSARY_ONLY: Consent = Consent {
        necessary: true,
        personalization: false,
        measurement: false,
        advertising: false,
    };

    /// Whether session state may be written to (and read from) device storage, and the
    /// profile snippet used: only with `personalization`.
    pub fn may_store(self) -> bool {
        self.personalization
    }

    /// Whether signals may be sent now (otherwise they wait in memory).
    pub fn may_measure(self) -> bool {
        self.measurement
    }

    /// The compact form carried in snippets and signals.
    pub fn to_bits(self) -> u8 {
        let mut b = BIT_NECESSARY;
        if self.personalization {
            b |= BIT_PERSONALIZATION;
        }
        if self.measurement {
            b |= BIT_MEASUREMENT;
        }
        if self.advertising {
            b |= BIT_ADVERTISING;
        }
        b
    }

    /// Reads [`Consent::to_bits`]; unknown bits are ignored, `necessary` is always set.
    pub fn from_bits(bits: u8) -> Consent {
        Consent {
            necessary: true,
            personalization: bits & BIT_PERSONALIZATION != 0,
            measurement: bits & BIT_MEASUREMENT != 0,
            advertising: bits & BIT_ADVERTISING != 0,
        }
    }
}

impl Default for Consent {
    fn default() -> Self {
        Consent::NECESSARY_ONLY
    }
}

/// A partial answer: `None` means "this source says nothing about the purpose".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Personalization, if this source speaks to it.
    pub personalization: Option<bool>,
    /// Measurement, if this source speaks to it.
    pub measurement: Option<bool>,
    /// Advertising, if this source speaks to it.
    pub advertising: Option<bool>,
}

/// The site's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Answers when no source speaks (the site's legal default).
    pub default: Consent,
    /// The site's IAB Global Vendor List id: when set, TCF purposes also need
    /// this vendor's consent (or LI, for LI-capable purposes).
    pub vendor_id: Option<u16>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default: Consent::NECESSARY_ONLY,
            vendor_id: None,
        }
    }
}

/// Google Consent Mode v2 signals; `Some(true)` = `granted`, `None` = not set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentMode {
    /// `ad_storage`.
    pub ad_storage: Option<bool>,
    /// `analytics_storage`.
    pub analytics_storage: Option<bool>,
    /// `ad_user_data`.
    pub ad_user_data: Option<bool>,
    /// `ad_personalization`.
    pub ad_personalization: Option<bool>,
    /// `functionality_storage`.
    pub functionality_storage: Option<bool>,
    /// `personalization_storage`.
    pub personalization_storage: Option<bool>,
}

/// Parses Consent Mode values.
pub struct Signal;

impl Signal {
    /// `"granted"` → `Some(true)`, `"denied"` → `Some(false)`, anything else → `None`.
    pub fn parse(value: &str) -> Option<bool> {
        match value {
            "granted" => Some(true),
            "denied" => Some(false),
            _ => None,
        }
    }
}

impl ConsentMode {
    /// Maps Consent Mode v2 onto our purposes:
    /// - personalization = `personalization_storage` (falling back to
    ///   `functionality_storage` when only that is set);
    /// - measurement = `analytics_storage`;
    /// - advertising = `ad_storage` ∧ `ad_user_data` ∧ `ad_personalization`: denied when
    ///   any is denied, granted when all three are granted, otherwise unset.
    pub fn to_choice(&self) -> Choice {
        let ads = [self.ad_storage, self.ad_user_data, self.ad_personalization];
        let advertising = if ads.contains(&Some(false)) {
            Some(false)
        } else if ads.iter().all(|s| *s == Some(true)) {
            Some(true)
        } else {
            None
        };
        Choice {
            personalization: self.personalization_storage.or(self.functionality_storage),
            measurement: self.analytics_storage,
            advertising,
        }
    }
}

/// Maps a decoded TC string onto our purposes (see the module docs).
pub fn from_tcf(tc: &TcString, policy: &Policy) -> Choice {
    let vendor_consent = policy
        .vendor_id
        .is_none_or(|v| tc.vendor_consents.contains(v));
    let vendor_li = policy
        .vendor_id
        .is_none_or(|v| tc.vendor_legitimate_interests.contains(v));
    let granted = |n: u8| {
        let restriction = policy.vendor_id.and_then(|v| tc.restriction(n, v));
        let (consent_ok, li_ok) = match restriction {
            Some(RestrictionType::NotAllowed) => (false, false),
            Some(RestrictionType::RequireConsent) => (true, false),
            Some(RestrictionType::RequireLegitimateInterest) => (false, true),
            _ => (true, true),
        };
        let by_consent = consent_ok && tc.purpose_consent(n) && vendor_consent;
        // TCF v2.2: no legitimate interest for P1 and P3-P6, whatever the bits say.
        let li_allowed = li_ok && !matches!(n, 1 | 3..=6);
        let by_li = li_allowed && tc.purpose_legitimate_interest(n) && vendor_li;
        by_consent || by_li
    };
    let storage = granted(1);
    Choice {
        personalization: Some(storage && granted(5) && granted(6)),
        measurement: Some(storage && (granted(7) || granted(8) || granted(9))),
        advertising: Some(storage && granted(2) && granted(3) && granted(4)),
    }
}

/// Which source decided a purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// The explicit API call.
    Explicit,
    /// The TCF TC string.
    Tcf,
    /// Google Consent Mode.
    ConsentMode,
    /// The site's default.
    Default,
    /// Global Privacy Control turned advertising off.
    Gpc,
}

/// Which source decided each purpose, for reasons and audits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sources {
    /// Who decided personalization.
    pub personalization: Source,
    /// Who decided measurement.
    pub measurement: Source,
    /// Who decided advertising.
    pub advertising: Source,
}

/// Everything the resolver looks at.
#[derive(Clone, Debug, Default)]
pub struct Inputs<'a> {
    /// The explicit API call (`sw.setConsent`), if any.
    pub explicit: Choice,
    /// The decoded TC string, when TCF applies (gdprApplies) and one was available.
    pub tcf: Option<&'a TcString>,
    /// Consent Mode v2 state.
    pub consent_mode: ConsentMode,
    /// Global Privacy Control is on.
    pub gpc: bool,
}

/// The resolved consent and where each answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The answer per purpose.
    pub consent: Consent,
    /// The source per purpose.
    pub sources: Sources,
}

/// Applies the precedence of the module docs.
pub fn resolve(policy: &Policy, inputs: &Inputs<'_>) -> Resolved {
    let tcf = inputs
        .tcf
        .map(|tc| from_tcf(tc, policy))
        .unwrap_or_default();
    let mode = inputs.consent_mode.to_choice();
    let layers = [
        (inputs.explicit, Source::Explicit),
        (tcf, Source::Tcf),
        (mode, Source::ConsentMode),
    ];
    let pick = |get: fn(&Choice) -> Option<bool>, fallback: bool| {
        layers
            .iter()
            .find_map(|(choice, source)| get(choice).map(|v| (v, *source)))
            .unwrap_or((fallback, Source::Default))
    };
    let (personalization, p_src) = pick(|c| c.personalization, policy.default.personalization);
    let (measurement, m_src) = pick(|c| c.measurement, policy.default.measurement);
    let (mut advertising, mut a_src) = pick(|c| c.advertising, policy.default.advertising);
    if inputs.gpc && a_src != Source::Explicit && advertising {
        advertising = false;
        a_src = Source::Gpc;
    }
    Resolved {
        consent: Consent {
            necessary: true,
            personalization,
            measurement,
            advertising,
        },
        sources: Sources {
            personalization: p_src,
            measurement: m_src,
            advertising: a_src,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_necessary_only() {
        let r = resolve(&Policy::default(), &Inputs::default());
        assert_eq!(r.consent, Consent::NECESSARY_ONLY);
        assert_eq!(r.sources.personalization, Source::Default);
    }

    #[test]
    fn bits_round_trip() {
        for bits in 0..16u8 {
            let c = Consent::from_bits(bits);
            assert_eq!(c.to_bits(), bits | BIT_NECESSARY);
        }
    }

    #[test]
    fn explicit_beats_consent_mode_per_purpose() {
        let inputs = Inputs {
            explicit: Choice {
                measurement: Some(false),
                ..Choice::default()
            },
            consent_mode: ConsentMode {
                analytics_storage: Some(true),
                personalization_storage: Some(true),
                ..ConsentMode::default()
            },
            ..Inputs::default()
        };
        let r = resolve(&Policy::default(), &inputs);
        assert!(!r.consent.measurement && r.consent.personalization);
        assert_eq!(r.sources.measurement, Source::Explicit);
        assert_eq!(r.sources.personalization, Source::ConsentMode);
    }

    #[test]
    fn consent_mode_advertising_needs_all_three() {
        let mut m = ConsentMode {
            ad_storage: Some(true),
            ad_user_data: Some(true),
            ..ConsentMode::default()
        };
        assert_eq!(m.to_choice().advertising, None);
        m.ad_personalization = Some(true);
        assert_eq!(m.to_choice().advertising, Some(true));
        m.ad_user_data = Some(false);
        assert_eq!(m.to_choice().advertising, Some(false));
        let f = ConsentMode {
            functionality_storage: Some(true),
            ..ConsentMode::default()
        };
        assert_eq!(f.to_choice().personalization, Some(true));
    }

    #[test]
    fn gpc_turns_advertising_off_except_explicit() {
        let granted = ConsentMode {
            ad_storage: Some(true),
            ad_user_data: Some(true),
            ad_personalization: Some(true),
            ..ConsentMode::default()
        };
        let mut inputs = Inputs {
            consent_mode: granted,
            gpc: true,
            ..Inputs::default()
        };
        let r = resolve(&Policy::default(), &inputs);
        assert!(!r.consent.advertising);
        assert_eq!(r.sources.advertising, Source::Gpc);
        inputs.explicit.advertising = Some(true);
        assert!(resolve(&Policy::default(), &inputs).consent.advertising);
        let policy = Policy {
            default: Consent {
                advertising: true,
                ..Consent::NECESSARY_ONLY
            },
            vendor_id: None,
        };
        let r = resolve(
            &policy,
            &Inputs {
                gpc: true,
                ..Inputs::default()
            },
        );
        assert!(!r.consent.advertising);
    }
}
