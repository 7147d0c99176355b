//! The signed profile snippet (`SWP1`): what the origin knows about a visitor, in a cookie.
//!
//! Token layout: base64url (no padding) of
//! `b"SWP1"` ‖ version byte ([`VERSION`]) ‖ postcard([`Claims`]) ‖ Ed25519 signature (64 B)
//! where the signature covers everything before it (magic through claims). Field order of
//! [`Claims`] *is* the postcard order; do not reorder without bumping [`VERSION`].
//!
//! # Verification, and why claims cannot be used unverified
//!
//! [`parse_unverified`] decodes the token into [`SignedParts`]: the signed message, the
//! signature and the key id, but **not** the claims (they stay private). The only ways to
//! get a [`VerifiedSnippet`], the one type that exposes [`Claims`], are:
//! - [`verify_native`] (feature `native-crypto`): ed25519-dalek's `verify_strict`;
//! - [`SignedParts::accept_host_verification`]: for wasm, where the *binding* (not the
//!   page's JavaScript) imports the key ring's public key and calls WebCrypto
//!   `crypto.subtle.verify({name: "Ed25519"}, key, parts.signature(), parts.message())`,
//!   then passes the boolean it got back. The JS API only ever takes token strings and key
//!   rings, never a "verified" flag, so page code cannot vouch for a snippet. (Script
//!   that can replace `crypto.subtle` already controls the page; the threat model here is
//!   a forged or tampered cookie, which this stops.)
//!
//! The binding's flow (sketch; names of the binding are the lead's):
//!
//! ```text
//! parts = profile::parse_unverified(cookie)?          // malformed, too large, S >= L
//! key   = parts.public_key(&ring)?                    // unknown key id
//! ok    = await crypto.subtle.verify({name: "Ed25519"},
//!             await importKey("raw", key, {name: "Ed25519"}, false, ["verify"]),
//!             parts.signature(), parts.message())      // in Rust via js-sys, not page JS
//! snip  = parts.accept_host_verification(ok, &ring, Expect { now, audience })?
//! // no Ed25519 in the host (importKey throws NotSupportedError): profile::unverifiable()
//! ```
//!
//! Any error means: ignore the snippet, record the error's code as the reason, and
//! treat the visitor as anonymous.
//!
//! Both paths then check, in order: key id in the [`KeyRing`] (rotation: several keys),
//! signature, expiry and not-before with [`CLOCK_SKEW_SECS`] of allowance, audience.
//! Non-canonical signatures (S ≥ L) are rejected while parsing, before any crypto, so
//! every host agrees on them (`tests/vectors/ed25519.json`).
//!
//! ```
//! use slotwise::profile::{self, KeyRing};
//! let ring = KeyRing::new();
//! let err = profile::parse_unverified("not a token").unwrap_err();
//! assert_eq!(err.code(), "snippet.malformed");
//! # let _ = ring;
//! ```

use serde::{Deserialize, Serialize};

use crate::base64url;
use crate::caps::Counter;
use crate::error::{Error, ErrorKind};

/// The four magic bytes every snippet starts with.
pub const MAGIC: [u8; 4] = *b"SWP1";
/// The format version this build reads and writes.
pub const VERSION: u8 = 1;
/// Length of magic + version.
pub const PREFIX_LEN: usize = 5;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Longest token accepted, in base64url characters (a cookie is 4 KB at most).
pub const MAX_TOKEN_LEN: usize = 4096;
/// Allowance for clocks that disagree, applied to expiry and not-before, in seconds.
pub const CLOCK_SKEW_SECS: u64 = 60;

/// What the origin asserts about one visitor. Postcard order = field order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// 1. Id of the signing key (looked up in the [`KeyRing`]).
    #[serde(default)]
    pub key_id: String,
    /// 2. Unix seconds when issued.
    pub issued_at: u64,
    /// 3. Unix seconds before which the snippet is not valid.
    #[serde(default)]
    pub not_before: u64,
    /// 4. Unix seconds after which the snippet is expired (minutes to hours after issue).
    pub expires_at: u64,
    /// 5. The site it is for.
    pub audience: String,
    /// 6. Pseudonymous subject id, when consent allows.
    #[serde(default)]
    pub subject: Option<String>,
    /// 7. Consent as recorded at the origin ([`crate::consent::Consent::to_bits`]).
    #[serde(default)]
    pub consent: u8,
    /// 8. Fingerprint of the bundle vocabulary the indices below refer to; the engine
    ///    must ignore index-based claims when it differs from the loaded bundle's.
    #[serde(default)]
    pub vocabulary: u32,
    /// 9. Segment indices.
    #[serde(default)]
    pub segments: Vec<u16>,
    /// 10. Category affinities, quantised.
    #[serde(default)]
    pub affinities: Vec<Affinity>,
    /// 11. Propensity scores, quantised.
    #[serde(default)]
    pub propensities: Vec<Propensity>,
    /// 12. Recently purchased item indices (to suppress).
    #[serde(default)]
    pub purchases: Vec<u32>,
    /// 13. Cross-channel impression counters for frequency caps (as of `issued_at`).
    #[serde(default)]
    pub counters: Vec<Counter>,
    /// 14. Sticky experiment assignments.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// 15. Categories the visitor muted in the preference centre (never shown).
    #[serde(default)]
    pub muted: Vec<u16>,
    /// 16. Items of the subject's active journey (item indices, first shown first),
    ///     filled by the origin; see [`crate::journey`].
    #[serde(default)]
    pub journey: Vec<u32>,
}

/// A category affinity: `weight` / 255 is the strength in 0..=1. Order: category, weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affinity {
    /// Category index.
    pub category: u16,
    /// Quantised strength.
    pub weight: u8,
}

/// A propensity: `score` / 255 is the probability. Order: model, score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Propensity {
    /// Which propensity (index into the bundle's propensity models, e.g. "buy").
    pub model: u16,
    /// Quantised probability.
    pub score: u8,
}

/// A sticky experiment assignment. Order: experiment, variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Experiment index.
    pub experiment: u32,
    /// Variant index.
    pub variant: u8,
}

/// Trusted public keys by id. Several keys at once allow rotation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<(String, [u8; 32])>,
}

impl KeyRing {
    /// An empty ring (verifies nothing).
    pub fn new() -> Self {
        KeyRing::default()
    }

    /// Adds (or replaces) the public key `key` under `id`.
    pub fn insert(&mut self, id: &str, key: [u8; 32]) {
        self.keys.retain(|(k, _)| k != id);
        self.keys.push((id.into(), key));
    }

    /// Adds a key given as base64url text (the form `slotwise keys generate` prints).
    pub fn insert_base64url(&mut self, id: &str, key: &str) -> Result<(), Error> {
        let bytes = base64url::decode(key)?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::new(ErrorKind::Base64, "an Ed25519 public key is 32 bytes"))?;
        self.insert(id, key);
        Ok(())
    }

    /// The public key with id `id`.
    pub fn get(&self, id: &str) -> Option<&[u8; 32]> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What the checks after the signature compare against.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    /// Unix seconds now (from the host clock; the core has none).
    pub now: u64,
    /// The site this runtime serves; must equal [`Claims::audience`].
    pub audience: &'a str,
}

/// A parsed but **unverified** token. Exposes only what a verifier needs.
#[derive(Clone)]
pub struct SignedParts {
    bytes: Vec<u8>,
    claims: Claims,
}

/// Shows the key id and sizes only: unverified claims are not for reading.
impl core::fmt::Debug for SignedParts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignedParts")
            .field("key_id", &self.claims.key_id)
            .field("message_len", &self.message().len())
            .finish_non_exhaustive()
    }
}

impl SignedParts {
    /// The signed bytes: magic ‖ version ‖ claims.
    pub fn message(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - SIGNATURE_LEN]
    }

    /// The 64-byte signature (its S is already known to be canonical).
    pub fn signature(&self) -> &[u8] {
        &self.bytes[self.bytes.len() - SIGNATURE_LEN..]
    }

    /// The key id the token claims to be signed with (unverified!).
    pub fn key_id(&self) -> &str {
        &self.claims.key_id
    }

    /// The public key to verify with, from the ring.
    pub fn public_key<'k>(&self, ring: &'k KeyRing) -> Result<&'k [u8; 32], Error> {
        ring.get(&self.claims.key_id).ok_or(Error::new(
            ErrorKind::SnippetUnknownKey,
            "snippet signed with a key not in the key ring",
        ))
    }

    /// Completes verification with the result of the host's Ed25519 verify call
    /// (WebCrypto), made by the binding over [`SignedParts::message`] and
    /// [`SignedParts::signature`] with [`SignedParts::public_key`]. Only the wasm binding
    /// should call this, with the boolean the crypto call returned — see the module docs.
    pub fn accept_host_verification(
        self,
        signature_ok: bool,
        ring: &KeyRing,
        expect: Expect<'_>,
    ) -> Result<VerifiedSnippet, Error> {
        self.public_key(ring)?;
        if !signature_ok {
            return Err(bad_signature());
        }
        self.check_claims(expect)
    }

    fn check_claims(self, expect: Expect<'_>) -> Result<VerifiedSnippet, Error> {
        let c = &self.claims;
        if expect.now > c.expires_at.saturating_add(CLOCK_SKEW_SECS) {
            return Err(Error::new(ErrorKind::SnippetExpired, "snippet has expired"));
        }
        let horizon = expect.now.saturating_add(CLOCK_SKEW_SECS);
        if c.not_before > horizon || c.issued_at > horizon {
            return Err(Error::new(
                ErrorKind::SnippetNotYetValid,
                "snippet is not valid yet",
            ));
        }
        if c.audience != expect.audience {
            return Err(Error::new(
                ErrorKind::SnippetWrongAudience,
                "snippet was issued for another site",
            ));
        }
        Ok(VerifiedSnippet {
            claims: self.claims,
        })
    }
}

/// A snippet whose signature and validity checks passed. The only way to read claims.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedSnippet {
    claims: Claims,
}

impl VerifiedSnippet {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// Claims the origin computed from its own store, to decide natively where no token
/// travels (email, push, SMS, app backends). Native builds only: a device verifies.
#[cfg(feature = "native-crypto")]
impl VerifiedSnippet {
    /// Wraps claims this process computed itself (never claims read from a token).
    pub fn from_origin(claims: Claims) -> VerifiedSnippet {
        VerifiedSnippet { claims }
    }
}

/// The error to report when the host has no Ed25519 (the snippet is then ignored).
pub fn unverifiable() -> Error {
    Error::new(
        ErrorKind::SnippetUnverifiable,
        "no Ed25519 verification available in this runtime",
    )
}

fn malformed(detail: &'static str) -> Error {
    Error::new(ErrorKind::SnippetMalformed, detail)
}

fn bad_signature() -> Error {
    Error::new(
        ErrorKind::SnippetBadSignature,
        "snippet signature does not verify",
    )
}

/// The group order L of Ed25519, little-endian.
const ORDER_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Whether the S half of an Ed25519 signature is canonical (S < L, RFC 8032 §5.1.7).
pub fn is_canonical_s(signature: &[u8]) -> bool {
    let Some(s) = signature.get(32..64) else {
        return false;
    };
    // Compare little-endian numbers from the most significant byte down.
    for i in (0..32).rev() {
        if s[i] != ORDER_L[i] {
            return s[i] < ORDER_L[i];
        }
    }
    false
}

/// Decodes a token without verifying it. Never panics.
pub fn parse_unverified(token: &str) -> Result<SignedParts, Error> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::new(
            ErrorKind::SnippetTooLarge,
            "snippet exceeds the size limit",
        ));
    }
    let bytes = base64url::decode(token).map_err(|_| malformed("snippet is not base64url"))?;
    if bytes.len() < PREFIX_LEN + SIGNATURE_LEN {
        return Err(malformed("snippet is too short"));
    }
    if bytes[..4] != MAGIC {
        return Err(malformed("not a Slotwise snippet"));
    }
    if bytes[4] != VERSION {
        return Err(malformed("snippet format version not supported"));
    }
    let body = &bytes[PREFIX_LEN..bytes.len() - SIGNATURE_LEN];
    let claims = match postcard::take_from_bytes::<Claims>(body) {
        Ok((claims, [])) => claims,
        _ => return Err(malformed("snippet claims do not decode")),
    };
    if !is_canonical_s(&bytes[bytes.len() - SIGNATURE_LEN..]) {
        return Err(bad_signature());
    }
    Ok(SignedParts { bytes, claims })
}

/// The bytes a signer signs for `claims`: magic ‖ version ‖ postcard(claims).
pub fn signing_message(claims: &Claims) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    // Serializing plain owned data into a Vec cannot fail.
    out.extend_from_slice(&postcard::to_allocvec(claims).unwrap_or_default());
    out
}

/// Assembles a token from a message made by [`signing_message`] and its signature.
pub fn assemble(message: &[u8], signature: &[u8; 64]) -> String {
    let mut bytes = Vec::with_capacity(message.len() + SIGNATURE_LEN);
    bytes.extend_from_slice(message);
    bytes.extend_from_slice(signature);
    base64url::encode(&bytes)
}

/// Native Ed25519 (ed25519-dalek): signing for the origin, verification for native
/// runtimes. Not in the wasm build, which uses the host's WebCrypto.
#[cfg(feature = "native-crypto")]
mod native {
    use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

    use super::*;

    /// The public key for a 32-byte Ed25519 secret key (seed).
    pub fn public_key(secret: &[u8; 32]) -> [u8; 32] {
        SigningKey::from_bytes(secret).verifying_key().to_bytes()
    }

    /// Signs `claims` into a token with `secret`. `claims.key_id` must name its public key.
    pub fn sign(claims: &Claims, secret: &[u8; 32]) -> String {
        let message = signing_message(claims);
        let signature = SigningKey::from_bytes(secret).sign(&message).to_bytes();
        assemble(&message, &signature)
    }

    /// Verifies a raw Ed25519 signature strictly (canonical S, no small-order R or key).
    pub fn verify_raw(public_key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        let Ok(key) = VerifyingKey::from_bytes(public_key) else {
            return false;
        };
        key.verify_strict(message, &Signature::from_bytes(&signature))
            .is_ok()
    }

    /// Verifies parts natively and runs every check (see the module docs).
    pub fn verify_native(
        parts: SignedParts,
        ring: &KeyRing,
        expect: Expect<'_>,
    ) -> Result<VerifiedSnippet, Error> {
        let key = parts.public_key(ring)?;
        let ok = verify_raw(key, parts.message(), parts.signature());
        parts.accept_host_verification(ok, ring, expect)
    }
}

#[cfg(feature = "native-crypto")]
pub use native::{public_key, sign, verify_native, verify_raw};

impl Claims {
    /// A typical visitor's claims (for size reports, tests and examples): 6 segments,
    /// 8 affinities, 3 propensities, 5 purchases, 6 counters, 3 assignments.
    pub fn typical(now: u64) -> Claims {
        use crate::caps::CapScope;
        Claims {
            key_id: "k2026-11".into(),
            issued_at: now,
            not_before: now,
            expires_at: now + 3600,
            audience: "shop.example.com".into(),
            subject: Some("v-9f2c4e1a7b3d5f60".into()),
            consent: 0b0111,
            vocabulary: 0x5eed_cafe,
            segments: vec![3, 17, 42, 120, 255, 301],
            affinities: (0..8)
                .map(|i| Affinity {
                    category: i * 11,
                    weight: 255 - (i as u8) * 30,
                })
                .collect(),
            propensities: vec![
                Propensity {
                    model: 0,
                    score: 201,
                },
                Propensity {
                    model: 1,
                    score: 37,
                },
                Propensity {
                    model: 2,
                    score: 120,
                },
            ],
            purchases: vec![1204, 88, 5071, 333, 19_870],
            counters: (0..6)
                .map(|i| Counter {
                    scope: if i % 2 == 0 {
                        CapScope::Item(1000 + i)
                    } else {
                        CapScope::Campaign(i)
                    },
                    period_secs: 86_400 * (1 + i % 7),
                    count: (i % 4 + 1) as u16,
                })
                .collect(),
            assignments: vec![
                Assignment {
                    experiment: 1,
                    variant: 0,
                },
                Assignment {
                    experiment: 4,
                    variant: 2,
                },
                Assignment {
                    experiment: 9,
                    variant: 1,
                },
            ],
            muted: vec![14],
            journey: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(now: u64) -> Expect<'static> {
        Expect {
            now,
            audience: "shop.example.com",
        }
    }

    fn fake_token(claims: &Claims, signature: [u8; 64]) -> String {
        assemble(&signing_message(claims), &signature)
    }

    fn ring() -> KeyRing {
        let mut r = KeyRing::new();
        r.insert("k2026-11", [9; 32]);
        r
    }

    #[test]
    fn parts_expose_message_signature_and_key_id_only() {
        let claims = Claims::typical(1_000_000);
        let token = fake_token(&claims, [1; 64]);
        let parts = parse_unverified(&token).unwrap();
        assert_eq!(parts.message(), signing_message(&claims));
        assert_eq!(parts.signature(), [1; 64]);
        assert_eq!(parts.key_id(), "k2026-11");
        assert_eq!(parts.public_key(&ring()).unwrap(), &[9; 32]);
    }

    #[test]
    fn host_verdict_and_checks() {
        let now = 1_000_000;
        let claims = Claims::typical(now);
        let parts = || parse_unverified(&fake_token(&claims, [1; 64])).unwrap();
        let code = |r: Result<VerifiedSnippet, Error>| r.unwrap_err().code();
        let ok = parts().accept_host_verification(true, &ring(), expect(now));
        assert_eq!(ok.unwrap().claims(), &claims);
        assert_eq!(
            code(parts().accept_host_verification(false, &ring(), expect(now))),
            "snippet.bad_signature"
        );
        assert_eq!(
            code(parts().accept_host_verification(true, &KeyRing::new(), expect(now))),
            "snippet.unknown_key"
        );
        // Expiry: allowed up to the skew, refused after.
        let end = claims.expires_at + CLOCK_SKEW_SECS;
        assert!(
            parts()
                .accept_host_verification(true, &ring(), expect(end))
                .is_ok()
        );
        assert_eq!(
            code(parts().accept_host_verification(true, &ring(), expect(end + 1))),
            "snippet.expired"
        );
        // Not before: a slightly fast issuer clock is tolerated, a future snippet is not.
        let early = now - CLOCK_SKEW_SECS;
        assert!(
            parts()
                .accept_host_verification(true, &ring(), expect(early))
                .is_ok()
        );
        assert_eq!(
            code(parts().accept_host_verification(true, &ring(), expect(early - 1))),
            "snippet.not_yet_valid"
        );
        let other = Expect {
            now,
            audience: "evil.example",
        };
        assert_eq!(
            code(parts().accept_host_verification(true, &ring(), other)),
            "snippet.wrong_audience"
        );
    }

    #[test]
    fn malformed_tokens_are_typed_errors() {
        let claims = Claims::typical(5);
        let token = fake_token(&claims, [1; 64]);
        let bytes = base64url::decode(&token).unwrap();
        for len in 0..bytes.len() {
            let err = parse_unverified(&base64url::encode(&bytes[..len])).unwrap_err();
            assert_eq!(err.code(), "snippet.malformed", "len {len}");
        }
        let mut wrong = bytes.clone();
        wrong[4] = 2;
        assert_eq!(
            parse_unverified(&base64url::encode(&wrong))
                .unwrap_err()
                .code(),
            "snippet.malformed"
        );
        let too_long = "A".repeat(MAX_TOKEN_LEN + 4);
        assert_eq!(
            parse_unverified(&too_long).unwrap_err().code(),
            "snippet.too_large"
        );
        // S >= L is refused before any crypto.
        assert_eq!(
            parse_unverified(&fake_token(&claims, [0xff; 64]))
                .unwrap_err()
                .code(),
            "snippet.bad_signature"
        );
    }

    #[test]
    fn canonical_s_boundary() {
        let mut sig = [0u8; 64];
        sig[32..].copy_from_slice(&ORDER_L);
        assert!(!is_canonical_s(&sig));
        sig[32] -= 1;
        assert!(is_canonical_s(&sig));
        assert!(!is_canonical_s(&sig[..63]));
    }

    #[test]
    fn typical_snippet_fits_a_cookie() {
        let token = fake_token(&Claims::typical(1_800_000_000), [1; 64]);
        assert!(token.len() <= 600, "{} bytes", token.len());
    }
}
