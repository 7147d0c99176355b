//! Outbound signals (`SWG1`): what the runtime reports back to the origin, and nothing else.
//!
//! A [`Signal`] is an impression, a click, a conversion or a tracked event. Its fields are
//! the whole of what may leave the device: the kind, a random 64-bit event id (the
//! origin's idempotency key), the decision it refers to, slot / item / variant indices,
//! a coarse timestamp (Unix seconds), the consent bits in force, the channel, whether the
//! visitor is in the global holdout, a value in cents for purchases and conversions, and
//! a pseudonymous 64-bit subject **only when `personalization` consent allows it**. There
//! is no field for a URL, a name or free text: data minimisation is a property of the
//! type, not a convention.
//!
//! Sending is gated by the caller on `measurement` consent; [`Signal::may_store`] is the
//! origin's check of the same rule on arrival.
//!
//! # Wire layout
//!
//! `b"SWG1"`, one version byte ([`VERSION`]), then a body built from postcard's primitive
//! encodings (unsigned LEB128 varints, fixed little-endian arrays), in this order:
//!
//! 1. signal count (varint), then the batch's base time (varint, Unix seconds: the
//!    earliest timestamp of the batch);
//! 2. the subject table: its length (varint), then each distinct subject (8 bytes LE),
//!    in order of first use — a device's batch names its visitor once, not per signal;
//! 3. per signal:
//!    - `head` byte: kind in bits 0–3, channel in bits 4–6, bit 7 zero;
//!    - `flags` byte: consent bits in bits 0–3 (see [`crate::consent`]), then
//!      [`FLAG_DECISION`], [`FLAG_VALUE`], [`FLAG_SUBJECT`], [`FLAG_HOLDOUT`];
//!    - event id (8 bytes LE);
//!    - decision id (8 bytes LE) when [`FLAG_DECISION`];
//!    - slot (varint), item (varint), variant (1 byte);
//!    - seconds after the base time (varint);
//!    - value in cents (varint) when [`FLAG_VALUE`];
//!    - subject, as an index into the subject table (varint), when [`FLAG_SUBJECT`].
//!
//! Optional fields are announced by flag bits rather than postcard's one-byte `Option`
//! tag: an impression is 22 bytes for items below 128 and 23 below 16 384, one more
//! with a subject (the target is ≤ 24). [`decode`] accepts at most [`MAX_BYTES`] and [`MAX_SIGNALS`], checks every
//! field and never panics; trailing bytes are an error.
//!
//! ```
//! use slotwise::signals::{self, Channel, Kind, Signal};
//! use slotwise::consent::{BIT_MEASUREMENT, BIT_NECESSARY};
//!
//! let s = Signal::new(Kind::Impression, 0x0123_4567_89ab_cdef, 1_800_000_000)
//!     .decision(0xfeed_f00d_dead_beef, 0, 42, 1)
//!     .consent(BIT_NECESSARY | BIT_MEASUREMENT)
//!     .channel(Channel::Web);
//! let bytes = signals::encode(&[s]).unwrap();
//! assert_eq!(bytes.len(), 5 + 1 + 5 + 1 + 22);
//! assert_eq!(signals::decode(&bytes).unwrap(), vec![s]);
//! assert!(s.may_store());
//! assert_eq!(signals::decode(b"SWG1\x01").unwrap_err().code(), "signals.truncated");
//! ```

use crate::consent::{BIT_MEASUREMENT, BIT_PERSONALIZATION};
use crate::error::{Error, ErrorKind};

/// The four magic bytes a batch starts with.
pub const MAGIC: [u8; 4] = *b"SWG1";
/// The format version this build reads and writes.
pub const VERSION: u8 = 1;
/// Length of magic + version.
pub const PREFIX_LEN: usize = 5;
/// Largest batch [`decode`] accepts (and [`encode`] produces).
pub const MAX_BYTES: usize = 64 * 1024;
/// Most signals in one batch.
pub const MAX_SIGNALS: usize = 1000;
/// Largest encoded signal: 2 + 8 + 8 + 3 + 5 + 1 + 10 + 10 + 2 (the subject's index).
pub const MAX_SIGNAL_BYTES: usize = 49;

/// `flags` bit: a decision id follows the event id.
pub const FLAG_DECISION: u8 = 0x10;
/// `flags` bit: a value in cents follows the time delta.
pub const FLAG_VALUE: u8 = 0x20;
/// `flags` bit: the signal ends with its subject's index in the batch's subject table.
pub const FLAG_SUBJECT: u8 = 0x40;
/// `flags` bit: the visitor is in the global holdout (got slot defaults).
pub const FLAG_HOLDOUT: u8 = 0x80;
const CONSENT_MASK: u8 = 0x0f;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A page or item view (a tracked event).
    View = 0,
    /// A decision's content was shown.
    Impression = 1,
    /// The visitor clicked a decision's content (`sw.click`).
    Click = 2,
    /// An item went into the cart.
    AddToCart = 3,
    /// A purchase (carries a value in cents).
    Purchase = 4,
    /// A conversion goal other than a purchase (`sw.convert`; may carry a value).
    Conversion = 5,
    /// The visitor dismissed a decision's content.
    Dismiss = 6,
}

impl Kind {
    /// Every kind, in wire order.
    pub const ALL: [Kind; 7] = [
        Kind::View,
        Kind::Impression,
        Kind::Click,
        Kind::AddToCart,
        Kind::Purchase,
        Kind::Conversion,
        Kind::Dismiss,
    ];

    /// The kind with this wire number.
    pub fn from_u8(n: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(n)).copied()
    }

    /// A stable lower-case name (`"impression"`, `"add_to_cart"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::View => "view",
            Kind::Impression => "impression",
            Kind::Click => "click",
            Kind::AddToCart => "add_to_cart",
            Kind::Purchase => "purchase",
            Kind::Conversion => "conversion",
            Kind::Dismiss => "dismiss",
        }
    }

    /// Whether a signal of this kind may carry a value (purchases, conversions, carts).
    pub fn has_value(self) -> bool {
        matches!(self, Kind::Purchase | Kind::Conversion | Kind::AddToCart)
    }
}

/// Where it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Channel {
    /// A web page (browser or edge).
    #[default]
    Web = 0,
    /// A native app.
    App = 1,
    /// An email.
    Email = 2,
    /// A push notification.
    Push = 3,
    /// A text message.
    Sms = 4,
    /// A physical store screen or point of sale.
    Store = 5,
}

impl Channel {
    /// Every channel, in wire order.
    pub const ALL: [Channel; 6] = [
        Channel::Web,
        Channel::App,
        Channel::Email,
        Channel::Push,
        Channel::Sms,
        Channel::Store,
    ];

    /// The channel with this wire number.
    pub fn from_u8(n: u8) -> Option<Channel> {
        Channel::ALL.get(usize::from(n)).copied()
    }

    /// A stable lower-case name (`"web"`, `"email"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Email => "email",
            Channel::Push => "push",
            Channel::Sms => "sms",
            Channel::Store => "store",
        }
    }
}

/// One signal: everything that may leave the device about one event, and nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal {
    /// What happened.
    pub kind: Kind,
    /// Random 64-bit id drawn by the host's crypto: the origin stores each id once.
    pub event_id: u64,
    /// The decision this signal refers to, if any (views have none).
    pub decision_id: Option<u64>,
    /// Slot index in the bundle (0 without a decision).
    pub slot: u16,
    /// Item index in the bundle.
    pub item: u32,
    /// Variant index of the decision's experiment.
    pub variant: u8,
    /// When, in Unix seconds.
    pub time: u64,
    /// Consent bits in force when the event happened ([`crate::consent::Consent::to_bits`]).
    pub consent: u8,
    /// Where.
    pub channel: Channel,
    /// Whether the visitor is in the global holdout.
    pub holdout: bool,
    /// Value in cents (purchases, conversions, carts only).
    pub value: Option<u64>,
    /// Pseudonymous subject (only with `personalization` consent).
    pub subject: Option<u64>,
}

impl Signal {
    /// A signal of `kind` with no decision, item 0, no consent, on the web.
    pub fn new(kind: Kind, event_id: u64, time: u64) -> Signal {
        Signal {
            kind,
            event_id,
            decision_id: None,
            slot: 0,
            item: 0,
            variant: 0,
            time,
            consent: 0,
            channel: Channel::Web,
            holdout: false,
            value: None,
            subject: None,
        }
    }

    /// Refers the signal to a decision: its id, slot, item and variant.
    pub fn decision(mut self, id: u64, slot: u16, item: u32, variant: u8) -> Signal {
        self.decision_id = Some(id);
        self.slot = slot;
        self.item = item;
        self.variant = variant;
        self
    }

    /// Sets the item (for views and purchases without a decision).
    pub fn item(mut self, item: u32) -> Signal {
        self.item = item;
        self
    }

    /// Sets the consent bits in force.
    pub fn consent(mut self, bits: u8) -> Signal {
        self.consent = bits & CONSENT_MASK;
        self
    }

    /// Sets the channel.
    pub fn channel(mut self, channel: Channel) -> Signal {
        self.channel = channel;
        self
    }

    /// Marks the visitor as in the global holdout.
    pub fn holdout(mut self, holdout: bool) -> Signal {
        self.holdout = holdout;
        self
    }

    /// Sets a value in cents ([`encode`] refuses it on kinds without values).
    pub fn value(mut self, cents: u64) -> Signal {
        self.value = Some(cents);
        self
    }

    /// Attaches the pseudonymous subject — only when the consent bits include
    /// `personalization`; otherwise the signal stays anonymous.
    pub fn subject(mut self, subject: u64) -> Signal {
        if self.consent & BIT_PERSONALIZATION != 0 {
            self.subject = Some(subject);
        }
        self
    }

    /// Whether the origin may store it: `measurement` consent was given.
    pub fn may_store(&self) -> bool {
        self.consent & BIT_MEASUREMENT != 0
    }

    fn check(&self) -> Result<(), Error> {
        if self.consent & !CONSENT_MASK != 0 {
            return Err(invalid("consent bits out of range"));
        }
        if self.subject.is_some() && self.consent & BIT_PERSONALIZATION == 0 {
            return Err(invalid("a subject needs personalization consent"));
        }
        if self.value.is_some() && !self.kind.has_value() {
            return Err(invalid(
                "only purchases, conversions and carts carry a value",
            ));
        }
        Ok(())
    }
}

fn invalid(detail: &'static str) -> Error {
    Error::new(ErrorKind::SignalsInvalid, detail)
}

fn corrupt(detail: &'static str) -> Error {
    Error::new(ErrorKind::SignalsCorrupt, detail)
}

fn truncated() -> Error {
    Error::new(ErrorKind::SignalsTruncated, "the batch ends early")
}

/// Encodes a batch. Fails with `signals.too_large` past [`MAX_SIGNALS`] and with
/// `signals.invalid` for a signal that breaks a rule (subject without personalization
/// consent, value on a kind without values).
pub fn encode(signals: &[Signal]) -> Result<Vec<u8>, Error> {
    if signals.len() > MAX_SIGNALS {
        return Err(Error::new(ErrorKind::SignalsTooLarge, "too many signals"));
    }
    let base = signals.iter().map(|s| s.time).min().unwrap_or(0);
    let mut out = Vec::with_capacity(PREFIX_LEN + 12 + signals.len() * 24);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    put_varint(&mut out, signals.len() as u64);
    put_varint(&mut out, base);
    let mut subjects: Vec<u64> = Vec::new();
    for s in signals {
        if let Some(x) = s.subject
            && !subjects.contains(&x)
        {
            subjects.push(x);
        }
    }
    put_varint(&mut out, subjects.len() as u64);
    for x in &subjects {
        out.extend_from_slice(&x.to_le_bytes());
    }
    for s in signals {
        s.check()?;
        out.push(s.kind as u8 | (s.channel as u8) << 4);
        let mut flags = s.consent;
        if s.decision_id.is_some() {
            flags |= FLAG_DECISION;
        }
        if s.value.is_some() {
            flags |= FLAG_VALUE;
        }
        if s.subject.is_some() {
            flags |= FLAG_SUBJECT;
        }
        if s.holdout {
            flags |= FLAG_HOLDOUT;
        }
        out.push(flags);
        out.extend_from_slice(&s.event_id.to_le_bytes());
        if let Some(d) = s.decision_id {
            out.extend_from_slice(&d.to_le_bytes());
        }
        put_varint(&mut out, u64::from(s.slot));
        put_varint(&mut out, u64::from(s.item));
        out.push(s.variant);
        put_varint(&mut out, s.time - base);
        if let Some(v) = s.value {
            put_varint(&mut out, v);
        }
        if let Some(subject) = s.subject {
            let index = subjects.iter().position(|&x| x == subject).unwrap_or(0);
            put_varint(&mut out, index as u64);
        }
    }
    if out.len() > MAX_BYTES {
        return Err(Error::new(
            ErrorKind::SignalsTooLarge,
            "batch over MAX_BYTES",
        ));
    }
    Ok(out)
}

/// Decodes and validates a batch. Never panics on any input.
pub fn decode(bytes: &[u8]) -> Result<Vec<Signal>, Error> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::new(
            ErrorKind::SignalsTooLarge,
            "batch over MAX_BYTES",
        ));
    }
    if bytes.len() < PREFIX_LEN {
        if MAGIC.starts_with(bytes) {
            return Err(truncated());
        }
        return Err(Error::new(ErrorKind::SignalsBadMagic, "not an SWG1 batch"));
    }
    if bytes[..4] != MAGIC {
        return Err(Error::new(ErrorKind::SignalsBadMagic, "not an SWG1 batch"));
    }
    if bytes[4] != VERSION {
        return Err(Error::new(
            ErrorKind::SignalsUnsupportedVersion,
            "unknown SWG1 version",
        ));
    }
    let mut r = Reader {
        bytes: &bytes[PREFIX_LEN..],
    };
    let count = r.varint()?;
    if count > MAX_SIGNALS as u64 {
        return Err(Error::new(ErrorKind::SignalsTooLarge, "too many signals"));
    }
    // Each signal takes at least 13 bytes: refuse counts the bytes cannot hold before
    // allocating for them.
    let count = count as usize;
    if count.saturating_mul(13) > r.bytes.len() {
        return Err(truncated());
    }
    let base = r.varint()?;
    let n_subjects = r.varint()?;
    if n_subjects > count as u64 || (n_subjects as usize).saturating_mul(8) > r.bytes.len() {
        return Err(corrupt("subject table larger than the batch"));
    }
    let mut subjects = Vec::with_capacity(n_subjects as usize);
    for _ in 0..n_subjects {
        subjects.push(r.u64_le()?);
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let head = r.byte()?;
        if head & 0x80 != 0 {
            return Err(corrupt("reserved head bit set"));
        }
        let kind = Kind::from_u8(head & 0x0f).ok_or(corrupt("unknown signal kind"))?;
        let channel = Channel::from_u8(head >> 4).ok_or(corrupt("unknown channel"))?;
        let flags = r.byte()?;
        let event_id = r.u64_le()?;
        let decision_id = if flags & FLAG_DECISION != 0 {
            Some(r.u64_le()?)
        } else {
            None
        };
        let slot = u16::try_from(r.varint()?).map_err(|_| corrupt("slot out of range"))?;
        let item = u32::try_from(r.varint()?).map_err(|_| corrupt("item out of range"))?;
        let variant = r.byte()?;
        let time = base
            .checked_add(r.varint()?)
            .ok_or(corrupt("time out of range"))?;
        let value = if flags & FLAG_VALUE != 0 {
            Some(r.varint()?)
        } else {
            None
        };
        let subject = if flags & FLAG_SUBJECT != 0 {
            let i = usize::try_from(r.varint()?).map_err(|_| corrupt("subject index"))?;
            Some(
                *subjects
                    .get(i)
                    .ok_or(corrupt("subject index out of the table"))?,
            )
        } else {
            None
        };
        let s = Signal {
            kind,
            event_id,
            decision_id,
            slot,
            item,
            variant,
            time,
            consent: flags & CONSENT_MASK,
            channel,
            holdout: flags & FLAG_HOLDOUT != 0,
            value,
            subject,
        };
        s.check()?;
        out.push(s);
    }
    if !r.bytes.is_empty() {
        return Err(corrupt("trailing bytes after the last signal"));
    }
    Ok(out)
}

/// The encoded size of one signal inside a batch whose base time is `base` (a subject
/// counts its one-byte index; its 8 bytes are paid once per batch in the table).
pub fn signal_len(s: &Signal, base: u64) -> usize {
    2 + 8
        + if s.decision_id.is_some() { 8 } else { 0 }
        + varint_len(u64::from(s.slot))
        + varint_len(u64::from(s.item))
        + 1
        + varint_len(s.time.saturating_sub(base))
        + s.value.map_or(0, varint_len)
        + usize::from(s.subject.is_some())
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, Error> {
        let (&b, rest) = self.bytes.split_first().ok_or_else(truncated)?;
        self.bytes = rest;
        Ok(b)
    }

    fn u64_le(&mut self) -> Result<u64, Error> {
        let (head, rest) = self.bytes.split_first_chunk::<8>().ok_or_else(truncated)?;
        self.bytes = rest;
        Ok(u64::from_le_bytes(*head))
    }

    /// Unsigned LEB128, as postcard writes it: at most 10 bytes, no bits past 64.
    fn varint(&mut self) -> Result<u64, Error> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            if i == 9 && b > 1 {
                return Err(corrupt("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint longer than 10 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{BIT_MEASUREMENT, BIT_NECESSARY, BIT_PERSONALIZATION};

    const M: u8 = BIT_NECESSARY | BIT_MEASUREMENT;

    fn impression(i: u64) -> Signal {
        Signal::new(Kind::Impression, u64::MAX - i, 1_800_000_000 + i)
            .decision(i.wrapping_mul(0x9e37_79b9_7f4a_7c15), 2, 300, 1)
            .consent(M)
    }

    #[test]
    fn impressions_fit_the_budget() {
        let batch: Vec<Signal> = (0..100).map(impression).collect();
        let bytes = encode(&batch).unwrap();
        let per = (bytes.len() - PREFIX_LEN - 7) as f64 / 100.0;
        assert!(per <= 24.0, "{per} bytes per signal");
        assert_eq!(decode(&bytes).unwrap(), batch);
        // One visitor's batch pays for its subject once.
        let p = BIT_PERSONALIZATION;
        let batch: Vec<Signal> = (0..100)
            .map(|i| impression(i).consent(M | p).subject(0x5eed))
            .collect();
        let bytes = encode(&batch).unwrap();
        let per = (bytes.len() - PREFIX_LEN) as f64 / 100.0;
        assert!(per <= 24.2, "{per} bytes per signal with a subject");
        assert_eq!(decode(&bytes).unwrap(), batch);
    }

    #[test]
    fn every_field_round_trips() {
        let s = Signal::new(Kind::Purchase, 1, 2_000_000_000)
            .decision(u64::MAX, u16::MAX, u32::MAX, 255)
            .consent(0x0f)
            .channel(Channel::Store)
            .holdout(true)
            .value(u64::MAX)
            .subject(u64::MAX);
        let bytes = encode(&[s, Signal::new(Kind::View, 0, 0)]).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back[0], s);
        assert_eq!(
            bytes.len() - PREFIX_LEN - 1 - 1 - (1 + 8),
            signal_len(&s, 0) + signal_len(&back[1], 0)
        );
        assert!(signal_len(&s, 0) <= MAX_SIGNAL_BYTES);
    }

    #[test]
    fn minimisation_rules_hold_both_ways() {
        // No subject without personalization: the builder drops it ...
        let s = Signal::new(Kind::Click, 1, 5).consent(M).subject(9);
        assert_eq!(s.subject, None);
        // ... and the codec refuses it when set by hand.
        let mut forced = s;
        forced.subject = Some(9);
        assert_eq!(encode(&[forced]).unwrap_err().code(), "signals.invalid");
        let mut v = Signal::new(Kind::Click, 1, 5);
        v.value = Some(3);
        assert_eq!(encode(&[v]).unwrap_err().code(), "signals.invalid");
        // A decoder sees the same rule on forged bytes.
        let p = crate::consent::BIT_PERSONALIZATION;
        let with = encode(&[Signal::new(Kind::Click, 1, 5).consent(M | p).subject(9)]).unwrap();
        let mut forged = with.clone();
        forged[PREFIX_LEN + 2 + 1 + 8 + 1] &= !p; // count, base, table: the flags byte
        assert_eq!(decode(&forged).unwrap_err().code(), "signals.invalid");
        let mut dangling = with;
        *dangling.last_mut().unwrap() = 1; // subject index past the table
        assert_eq!(decode(&dangling).unwrap_err().code(), "signals.corrupt");
    }

    #[test]
    fn bad_bytes_give_typed_errors() {
        assert_eq!(decode(b"").unwrap_err().code(), "signals.truncated");
        assert_eq!(decode(b"SWB1\x01").unwrap_err().code(), "signals.bad_magic");
        assert_eq!(
            decode(b"SWG1\x02\x00\x00").unwrap_err().code(),
            "signals.unsupported_version"
        );
        assert_eq!(
            decode(b"SWG1\x01\xff\xff\x03\x00").unwrap_err().code(),
            "signals.too_large"
        );
        assert_eq!(
            decode(b"SWG1\x01\x05\x00\x00").unwrap_err().code(),
            "signals.truncated"
        );
        let ok = encode(&[impression(1)]).unwrap();
        let mut trailing = ok.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing).unwrap_err().code(), "signals.corrupt");
        for cut in 0..ok.len() {
            assert!(decode(&ok[..cut]).is_err());
        }
        assert_eq!(
            decode(&vec![0; MAX_BYTES + 1]).unwrap_err().code(),
            "signals.too_large"
        );
        let too_many = vec![Signal::new(Kind::View, 0, 0); MAX_SIGNALS + 1];
        assert_eq!(encode(&too_many).unwrap_err().code(), "signals.too_large");
    }
}
