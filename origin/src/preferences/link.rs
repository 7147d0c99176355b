//! Signed, expiring links to the preference centre for email (and push, SMS)
//! recipients, who have no first-party visitor id on the device they read mail on.
//!
//! Token: base64url of `b"SWL1"` ‖ expiry (u64 big-endian Unix seconds) ‖ the
//! subject's identity id (UTF-8) ‖ an Ed25519 signature (64 B) by the origin's
//! signing key over everything before it. Issued by `slotwise preferences-link` or
//! `POST /v1/admin/preferences-link`; checked by `GET|PUT /v1/preferences?token=`.
//! A token signed with a rotated-out key no longer verifies (issue a new link).
//!
//! ```
//! use slotwise_origin::keys::SigningKey;
//! use slotwise_origin::preferences::link::{self, LinkError};
//! let key = SigningKey::new("k".into(), [7; 32]);
//! let token = link::issue(&key, "email:0000000000000000000000000000000000000000000000000000000000000001", 1_000);
//! assert!(link::verify(&key, &token, 999).is_ok());
//! assert_eq!(link::verify(&key, &token, 1_001), Err(LinkError::Expired));
//! ```

use slotwise::base64url;

use crate::keys::SigningKey;

const MAGIC: &[u8; 4] = b"SWL1";
const SIGNATURE: usize = 64;
/// Longest token accepted, in characters.
pub const MAX_TOKEN: usize = 512;
/// Default lifetime of a link: 30 days.
pub const DEFAULT_TTL_SECS: u64 = 30 * 86_400;

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Not a token, tampered with, or signed by another key (401 `link.invalid`).
    Invalid,
    /// Past its expiry (403 `link.expired`).
    Expired,
}

impl LinkError {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            LinkError::Invalid => "link.invalid",
            LinkError::Expired => "link.expired",
        }
    }
}

/// A token for `subject` (an identity id) valid until `expires_at`.
pub fn issue(key: &SigningKey, subject: &str, expires_at: u64) -> String {
    let mut message = Vec::with_capacity(12 + subject.len() + SIGNATURE);
    message.extend_from_slice(MAGIC);
    message.extend_from_slice(&expires_at.to_be_bytes());
    message.extend_from_slice(subject.as_bytes());
    let signature = key.sign_bytes(&message);
    message.extend_from_slice(&signature);
    base64url::encode(&message)
}

/// The subject of a valid `token` at `now`.
pub fn verify(key: &SigningKey, token: &str, now: u64) -> Result<String, LinkError> {
    if token.len() > MAX_TOKEN {
        return Err(LinkError::Invalid);
    }
    let bytes = base64url::decode(token).map_err(|_| LinkError::Invalid)?;
    if bytes.len() < 12 + 1 + SIGNATURE || &bytes[..4] != MAGIC {
        return Err(LinkError::Invalid);
    }
    let (message, signature) = bytes.split_at(bytes.len() - SIGNATURE);
    if !key.verify_bytes(message, signature) {
        return Err(LinkError::Invalid);
    }
    let mut expiry = [0u8; 8];
    expiry.copy_from_slice(&message[4..12]);
    let subject = std::str::from_utf8(&message[12..]).map_err(|_| LinkError::Invalid)?;
    if !crate::server::valid_id(subject) {
        return Err(LinkError::Invalid);
    }
    if now > u64::from_be_bytes(expiry) {
        return Err(LinkError::Expired);
    }
    Ok(subject.to_string())
}

/// Options of `slotwise preferences-link`.
#[derive(Clone, Debug, clap::Args)]
pub struct LinkArgs {
    /// The recipient's identity id (e.g. `email:<sha-256 hex>`, `login:alice`).
    #[arg(long)]
    pub subject: String,
    /// Lifetime in seconds (default 30 days).
    #[arg(long, default_value_t = DEFAULT_TTL_SECS)]
    pub ttl: u64,
    /// The origin's data directory (its signing key signs the link).
    #[arg(long, env = "SLOTWISE_DATA_DIR", default_value = "slotwise-data")]
    pub data_dir: std::path::PathBuf,
    /// The shop's preference page; the token is appended as `?token=` (default: print
    /// the token alone).
    #[arg(long)]
    pub page: Option<String>,
}

/// `slotwise preferences-link`: the token (or page URL) to put in a message.
pub fn run(args: &LinkArgs, now: u64) -> Result<String, String> {
    if !crate::server::valid_id(&args.subject) {
        return Err(format!("not a valid identity id: {:?}", args.subject));
    }
    if args.ttl == 0 {
        return Err("--ttl must be at least 1 second".into());
    }
    let key = crate::server::load_or_create_key(&args.data_dir)?;
    let token = issue(&key, &args.subject, now.saturating_add(args.ttl));
    Ok(match &args.page {
        Some(page) => {
            let sep = if page.contains('?') { '&' } else { '?' };
            format!("{page}{sep}token={token}")
        }
        None => token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_and_other_keys_are_refused() {
        let key = SigningKey::new("k".into(), [1; 32]);
        let token = issue(&key, "login:alice", 500);
        assert_eq!(verify(&key, &token, 500).as_deref(), Ok("login:alice"));
        let mut bytes = base64url::decode(&token).unwrap();
        // Another subject or a later expiry under the same signature.
        for at in [13, 11] {
            let mut t = bytes.clone();
            t[at] ^= 1;
            assert_eq!(
                verify(&key, &base64url::encode(&t), 0),
                Err(LinkError::Invalid)
            );
        }
        bytes.truncate(20);
        assert_eq!(
            verify(&key, &base64url::encode(&bytes), 0),
            Err(LinkError::Invalid)
        );
        let other = SigningKey::new("k".into(), [2; 32]);
        assert_eq!(verify(&other, &token, 0), Err(LinkError::Invalid));
        assert_eq!(verify(&key, "not a token!", 0), Err(LinkError::Invalid));
        assert_eq!(verify(&key, &"A".repeat(600), 0), Err(LinkError::Invalid));
        assert_eq!(
            verify(&key, &issue(&key, "bad id", 500), 0),
            Err(LinkError::Invalid)
        );
    }
}
