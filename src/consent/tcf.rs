//! IAB TCF v2.2 TC string decoding: the core segment, enough to answer "may we?".
//!
//! A TC string is `.`-separated segments of base64url; the first is the *core* segment,
//! a big-endian bit stream (TCF v2.2 "TC String Format"):
//!
//! | field | bits |
//! |---|---|
//! | Version (must be 2) | 6 |
//! | Created, LastUpdated (deciseconds since the epoch) | 36 + 36 |
//! | CmpId, CmpVersion | 12 + 12 |
//! | ConsentScreen | 6 |
//! | ConsentLanguage (two letters, `A` = 0) | 12 |
//! | VendorListVersion | 12 |
//! | TcfPolicyVersion (4 = TCF v2.2) | 6 |
//! | IsServiceSpecific, UseNonStandardTexts | 1 + 1 |
//! | SpecialFeatureOptIns | 12 |
//! | PurposesConsent, PurposesLITransparency (bit *n−1* = purpose *n*) | 24 + 24 |
//! | PurposeOneTreatment | 1 |
//! | PublisherCC | 12 |
//! | Vendor consent section, then vendor legitimate-interest section | see below |
//! | NumPubRestrictions (12); each: PurposeId (6), RestrictionType (2), a range list | |
//!
//! A vendor section is MaxVendorId (16), IsRangeEncoding (1), then either a bitfield of
//! MaxVendorId bits (bit *i−1* = vendor *i*) or a range list. A range list is NumEntries
//! (12) entries of IsARange (1), StartOrOnlyVendorId (16) and, for a range, EndVendorId
//! (16).
//!
//! The decoder reads the characters' sextets directly (no intermediate buffer), keeps the
//! vendor sets as sorted, merged ranges, never panics and bounds its input to
//! [`MAX_LEN`]. It does not interpret the purposes: see [`crate::consent`] for the mapping
//! (which ignores legitimate interest for P1 and P3–P6, as TCF v2.2 requires).
//!
//! ```
//! use slotwise::consent::tcf;
//! // Built with @iabtechlabtcf/core (tests/vectors/tcf.json): P1, P5, P6, vendor 755.
//! let tc = tcf::decode("CQuNtqAQuNtqAEsAHBENCWEgAIwAAAAAAAYgF5wAQF5gAAAA.IAAA.YAAAAAAAAAAA")?;
//! assert_eq!((tc.version, tc.cmp_id, tc.policy_version), (2, 300, 4));
//! assert!(tc.purpose_consent(1) && tc.purpose_consent(5) && !tc.purpose_consent(7));
//! assert!(tc.vendor_consents.contains(755) && !tc.vendor_consents.contains(754));
//! # Ok::<(), slotwise::Error>(())
//! ```

use crate::base64url::sextet;
use crate::error::{Error, ErrorKind};

/// Longest TC string accepted, in characters (a full 65 535-vendor bitfield in two
/// sections is ~22 000 characters).
pub const MAX_LEN: usize = 32 * 1024;

/// A decoded TC string core segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcString {
    /// Encoding version; always 2 once decoded.
    pub version: u8,
    /// When the string was first created, in deciseconds since the Unix epoch.
    pub created_ds: u64,
    /// When it was last updated, in deciseconds since the Unix epoch.
    pub last_updated_ds: u64,
    /// The CMP's registered id.
    pub cmp_id: u16,
    /// The CMP's version.
    pub cmp_version: u16,
    /// The CMP screen number the consent was given on.
    pub consent_screen: u8,
    /// Two-letter language of the consent UI, e.g. `*b"EN"`.
    pub consent_language: [u8; 2],
    /// Global Vendor List version.
    pub vendor_list_version: u16,
    /// TCF policy version (4 for TCF v2.2, 2 for v2.0/v2.1).
    pub policy_version: u8,
    /// Whether the signal is for this service only.
    pub is_service_specific: bool,
    /// Whether the CMP used non-standard texts.
    pub use_non_standard_texts: bool,
    /// Special feature opt-ins, bit `n-1` = special feature `n` (12 bits).
    pub special_feature_opt_ins: u16,
    /// Purpose consents, bit `n-1` = purpose `n` (24 bits).
    pub purpose_consents: u32,
    /// Purpose legitimate-interest transparency, bit `n-1` = purpose `n` (24 bits).
    pub purpose_legitimate_interests: u32,
    /// Purpose One Treatment (purpose 1 not disclosed, publisher's jurisdiction rule).
    pub purpose_one_treatment: bool,
    /// Publisher's country code, e.g. `*b"AA"`.
    pub publisher_cc: [u8; 2],
    /// Vendors with consent.
    pub vendor_consents: VendorSet,
    /// Vendors with legitimate-interest transparency.
    pub vendor_legitimate_interests: VendorSet,
    /// The publisher's restrictions of vendors' purposes.
    pub publisher_restrictions: Vec<PublisherRestriction>,
}

/// How a publisher restricts a purpose for some vendors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RestrictionType {
    /// The purpose is not allowed at all (type 0).
    NotAllowed,
    /// Only consent may be the legal basis (type 1).
    RequireConsent,
    /// Only legitimate interest may be the legal basis (type 2).
    RequireLegitimateInterest,
    /// Type 3, undefined by the policy: ignored.
    Undefined,
}

/// One publisher restriction: `kind` applies to `purpose` for `vendors`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublisherRestriction {
    /// The purpose (1-based).
    pub purpose: u8,
    /// The restriction.
    pub kind: RestrictionType,
    /// The vendors it applies to.
    pub vendors: VendorSet,
}

impl TcString {
    /// Consent for purpose `n` (1-based; false outside 1..=24).
    pub fn purpose_consent(&self, n: u8) -> bool {
        bit24(self.purpose_consents, n)
    }

    /// Legitimate interest established for purpose `n` (1-based; false outside 1..=24).
    pub fn purpose_legitimate_interest(&self, n: u8) -> bool {
        bit24(self.purpose_legitimate_interests, n)
    }

    /// The restriction the publisher put on `purpose` for `vendor`, the strictest if
    /// several apply ([`RestrictionType::Undefined`] ones are skipped).
    pub fn restriction(&self, purpose: u8, vendor: u16) -> Option<RestrictionType> {
        self.publisher_restrictions
            .iter()
            .filter(|r| r.purpose == purpose && r.kind != RestrictionType::Undefined)
            .filter(|r| r.vendors.contains(vendor))
            .map(|r| r.kind)
            .min()
    }

    /// Opt-in to special feature `n` (1-based; false outside 1..=12).
    pub fn special_feature_opt_in(&self, n: u8) -> bool {
        (1..=12).contains(&n) && self.special_feature_opt_ins & (1 << (n - 1)) != 0
    }
}

fn bit24(bits: u32, n: u8) -> bool {
    (1..=24).contains(&n) && bits & (1 << (n - 1)) != 0
}

/// A set of vendor ids, held as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VendorSet {
    /// Highest vendor id the section covers.
    pub max_vendor_id: u16,
    ranges: Vec<(u16, u16)>,
}

impl VendorSet {
    /// Whether `vendor` is in the set.
    pub fn contains(&self, vendor: u16) -> bool {
        let i = self.ranges.partition_point(|&(_, end)| end < vendor);
        self.ranges
            .get(i)
            .is_some_and(|&(start, _)| start <= vendor)
    }

    /// The set as inclusive ranges, ascending.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    fn from_ranges(max_vendor_id: u16, mut ranges: Vec<(u16, u16)>) -> VendorSet {
        crate::sort::sort_by(&mut ranges, |a, b| a.cmp(b));
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(start) <= u32::from(last.1) + 1 => {
                    last.1 = last.1.max(end);
                }
                _ => merged.push((start, end)),
            }
        }
        VendorSet {
            max_vendor_id,
            ranges: merged,
        }
    }
}

/// Decodes the core segment of a TC string. Later segments (disclosed vendors,
/// publisher TC) are ignored. Never panics.
pub fn decode(tc_string: &str) -> Result<TcString, Error> {
    if tc_string.len() > MAX_LEN {
        return Err(Error::new(ErrorKind::TcfTooLarge, "TC string is too long"));
    }
    let core = tc_string.split('.').next().unwrap_or("");
    // Some CMPs pad; padding carries no bits.
    let core = core.trim_end_matches('=');
    let mut r = BitReader::new(core.as_bytes())?;
    let version = r.read(6)? as u8;
    if version != 2 {
        return Err(Error::new(
            ErrorKind::TcfUnsupportedVersion,
            "only TCF v2 TC strings are supported",
        ));
    }
    let created_ds = r.read(36)?;
    let last_updated_ds = r.read(36)?;
    let cmp_id = r.read(12)? as u16;
    let cmp_version = r.read(12)? as u16;
    let consent_screen = r.read(6)? as u8;
    let consent_language = r.letters()?;
    let vendor_list_version = r.read(12)? as u16;
    let policy_version = r.read(6)? as u8;
    let is_service_specific = r.flag()?;
    let use_non_standard_texts = r.flag()?;
    let special_feature_opt_ins = reverse_bits(r.read(12)?, 12) as u16;
    let purpose_consents = reverse_bits(r.read(24)?, 24) as u32;
    let purpose_legitimate_interests = reverse_bits(r.read(24)?, 24) as u32;
    let purpose_one_treatment = r.flag()?;
    let publisher_cc = r.letters()?;
    let vendor_consents = vendor_section(&mut r)?;
    let vendor_legitimate_interests = vendor_section(&mut r)?;
    let publisher_restrictions = restrictions(&mut r)?;
    Ok(TcString {
        version,
        created_ds,
        last_updated_ds,
        cmp_id,
        cmp_version,
        consent_screen,
        consent_language,
        vendor_list_version,
        policy_version,
        is_service_specific,
        use_non_standard_texts,
        special_feature_opt_ins,
        purpose_consents,
        purpose_legitimate_interests,
        purpose_one_treatment,
        publisher_cc,
        vendor_consents,
        vendor_legitimate_interests,
        publisher_restrictions,
    })
}

/// The wire puts purpose 1 first (most significant); we store purpose n at bit n-1.
fn reverse_bits(value: u64, width: u32) -> u64 {
    value.reverse_bits() >> (64 - width)
}

fn malformed(detail: &'static str) -> Error {
    Error::new(ErrorKind::TcfMalformed, detail)
}

/// A range list; every id must lie in `1..=max`.
fn range_list(r: &mut BitReader<'_>, max: u16) -> Result<Vec<(u16, u16)>, Error> {
    let entries = r.read(12)?;
    let mut ranges = Vec::new();
    for _ in 0..entries {
        let is_a_range = r.flag()?;
        let start = r.read(16)? as u16;
        let end = if is_a_range {
            r.read(16)? as u16
        } else {
            start
        };
        if start == 0 || end < start || end > max {
            return Err(malformed("vendor range out of bounds"));
        }
        ranges.push((start, end));
    }
    Ok(ranges)
}

fn restrictions(r: &mut BitReader<'_>) -> Result<Vec<PublisherRestriction>, Error> {
    let count = r.read(12)?;
    let mut out = Vec::new();
    for _ in 0..count {
        let purpose = r.read(6)? as u8;
        let kind = match r.read(2)? {
            0 => RestrictionType::NotAllowed,
            1 => RestrictionType::RequireConsent,
            2 => RestrictionType::RequireLegitimateInterest,
            _ => RestrictionType::Undefined,
        };
        let ranges = range_list(r, u16::MAX)?;
        let max = ranges.iter().map(|&(_, end)| end).max().unwrap_or(0);
        out.push(PublisherRestriction {
            purpose,
            kind,
            vendors: VendorSet::from_ranges(max, ranges),
        });
    }
    Ok(out)
}

fn vendor_section(r: &mut BitReader<'_>) -> Result<VendorSet, Error> {
    let max_vendor_id = r.read(16)? as u16;
    let is_range = r.flag()?;
    let mut ranges = Vec::new();
    if is_range {
        ranges = range_list(r, max_vendor_id)?;
    } else {
        let mut run: Option<u16> = None;
        for vendor in 1..=max_vendor_id {
            match (r.flag()?, run) {
                (true, None) => run = Some(vendor),
                (false, Some(start)) => {
                    ranges.push((start, vendor - 1));
                    run = None;
                }
                _ => {}
            }
        }
        if let Some(start) = run {
            ranges.push((start, max_vendor_id));
        }
    }
    Ok(VendorSet::from_ranges(max_vendor_id, ranges))
}

/// Reads big-endian bit fields from base64url characters, six bits per character.
struct BitReader<'a> {
    chars: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(chars: &'a [u8]) -> Result<Self, Error> {
        if chars.iter().any(|&c| sextet(c).is_none()) {
            return Err(malformed("TC string is not base64url"));
        }
        Ok(BitReader { chars, pos: 0 })
    }

    /// Reads `n` ≤ 64 bits as an unsigned big-endian number.
    fn read(&mut self, n: u32) -> Result<u64, Error> {
        let mut value = 0u64;
        for _ in 0..n {
            let c = self.chars.get(self.pos / 6).copied().ok_or(Error::new(
                ErrorKind::TcfTruncated,
                "TC string ends inside its core segment",
            ))?;
            let bits = sextet(c).unwrap_or(0);
            let bit = (bits >> (5 - self.pos % 6)) & 1;
            value = (value << 1) | u64::from(bit);
            self.pos += 1;
        }
        Ok(value)
    }

    fn flag(&mut self) -> Result<bool, Error> {
        Ok(self.read(1)? == 1)
    }

    /// Two 6-bit letters, `A` = 0.
    fn letters(&mut self) -> Result<[u8; 2], Error> {
        let a = self.read(6)? as u8;
        let b = self.read(6)? as u8;
        if a > 25 || b > 25 {
            return Err(malformed("letter code out of range"));
        }
        Ok([b'A' + a, b'A' + b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes fields MSB-first into base64url: a test-only writer.
    struct BitWriter {
        bits: Vec<bool>,
    }

    impl BitWriter {
        fn new() -> Self {
            BitWriter { bits: Vec::new() }
        }
        fn put(&mut self, value: u64, n: u32) -> &mut Self {
            for i in (0..n).rev() {
                self.bits.push((value >> i) & 1 == 1);
            }
            self
        }
        fn finish(&self) -> String {
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            self.bits
                .chunks(6)
                .map(|c| {
                    let mut v = 0usize;
                    for i in 0..6 {
                        v = (v << 1) | usize::from(c.get(i).copied().unwrap_or(false));
                    }
                    char::from(alphabet[v])
                })
                .collect()
        }
    }

    fn header(w: &mut BitWriter, consents: u32, lis: u32) {
        w.put(2, 6)
            .put(17_000_000_000, 36)
            .put(17_000_000_001, 36)
            .put(300, 12)
            .put(7, 12)
            .put(1, 6)
            .put(4, 6)
            .put(13, 6) // "EN"
            .put(150, 12)
            .put(4, 6)
            .put(0, 1)
            .put(0, 1)
            .put(0b1000_0000_0000, 12) // special feature 1
            .put(u64::from(consents), 24)
            .put(u64::from(lis), 24)
            .put(0, 1)
            .put(0, 6)
            .put(0, 6); // "AA"
    }

    #[test]
    fn decodes_fields_and_bitfield_vendors() {
        let mut w = BitWriter::new();
        // Purposes 1 and 3 consented (MSB = purpose 1); LI for purpose 2.
        header(&mut w, 0b1010 << 20, 0b0100 << 20);
        w.put(5, 16).put(0, 1).put(0b10110, 5); // vendors 1, 3, 4
        w.put(0, 16).put(0, 1); // no LI vendors
        w.put(0, 12); // no publisher restrictions
        let tc = decode(&w.finish()).unwrap();
        assert_eq!(tc.version, 2);
        assert_eq!(tc.created_ds, 17_000_000_000);
        assert_eq!(tc.last_updated_ds, 17_000_000_001);
        assert_eq!((tc.cmp_id, tc.cmp_version, tc.consent_screen), (300, 7, 1));
        assert_eq!(&tc.consent_language, b"EN");
        assert_eq!(tc.vendor_list_version, 150);
        assert_eq!(tc.policy_version, 4);
        assert!(tc.special_feature_opt_in(1) && !tc.special_feature_opt_in(2));
        assert!(tc.purpose_consent(1) && !tc.purpose_consent(2) && tc.purpose_consent(3));
        assert!(tc.purpose_legitimate_interest(2) && !tc.purpose_legitimate_interest(1));
        assert!(!tc.purpose_consent(0) && !tc.purpose_consent(25));
        assert_eq!(tc.vendor_consents.ranges(), &[(1, 1), (3, 4)]);
        assert!(tc.vendor_consents.contains(4) && !tc.vendor_consents.contains(2));
        assert!(!tc.vendor_consents.contains(5) && !tc.vendor_consents.contains(0));
    }

    #[test]
    fn decodes_range_vendors_and_merges() {
        let mut w = BitWriter::new();
        header(&mut w, 0, 0);
        w.put(900, 16).put(1, 1).put(3, 12);
        w.put(1, 1).put(10, 16).put(20, 16);
        w.put(0, 1).put(755, 16);
        w.put(1, 1).put(21, 16).put(30, 16);
        w.put(0, 16).put(1, 1).put(0, 12);
        // Restrictions: P5 not allowed for 750-760; P7 type 3 (ignored) for 755.
        w.put(2, 12);
        w.put(5, 6)
            .put(0, 2)
            .put(1, 12)
            .put(1, 1)
            .put(750, 16)
            .put(760, 16);
        w.put(7, 6).put(3, 2).put(1, 12).put(0, 1).put(755, 16);
        let tc = decode(&format!("{}.YAAAAAAAAAAA", w.finish())).unwrap();
        assert_eq!(tc.restriction(5, 755), Some(RestrictionType::NotAllowed));
        assert_eq!(tc.restriction(5, 749), None);
        assert_eq!(tc.restriction(7, 755), None);
        assert_eq!(tc.vendor_consents.ranges(), &[(10, 30), (755, 755)]);
        assert!(tc.vendor_consents.contains(755) && !tc.vendor_consents.contains(754));
    }

    #[test]
    fn rejects_bad_ranges() {
        for (start, end) in [(0u64, 3u64), (20, 10), (5, 901)] {
            let mut w = BitWriter::new();
            header(&mut w, 0, 0);
            w.put(900, 16).put(1, 1).put(1, 12);
            w.put(1, 1).put(start, 16).put(end, 16);
            w.put(0, 16).put(0, 1).put(0, 12);
            assert_eq!(decode(&w.finish()).unwrap_err().code(), "tcf.malformed");
        }
    }

    #[test]
    fn every_truncation_is_a_typed_error() {
        let mut w = BitWriter::new();
        header(&mut w, u32::MAX >> 8, 0);
        w.put(40, 16).put(0, 1).put(u64::MAX, 40);
        w.put(0, 16).put(0, 1);
        w.put(1, 12)
            .put(3, 6)
            .put(0, 2)
            .put(1, 12)
            .put(0, 1)
            .put(9, 16);
        let s = w.finish();
        assert!(decode(&s).is_ok());
        // The last character may only hold padding bits of the final section.
        for len in 0..s.len() - 1 {
            let err = decode(&s[..len]).unwrap_err();
            assert_eq!(err.code(), "tcf.truncated", "len {len}");
        }
    }

    #[test]
    fn rejects_other_versions_and_junk() {
        assert_eq!(
            decode("BAAAAAA").unwrap_err().code(),
            "tcf.unsupported_version"
        );
        assert_eq!(decode("CO+/").unwrap_err().code(), "tcf.malformed");
        assert_eq!(decode("").unwrap_err().code(), "tcf.truncated");
        let long = "C".repeat(MAX_LEN + 1);
        assert_eq!(decode(&long).unwrap_err().code(), "tcf.too_large");
    }
}
