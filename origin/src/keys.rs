//! Ed25519 signing keys for snippets: generation and the key files.
//!
//! `slotwise keys generate` writes two JSON files, both with base64url (no padding) keys:
//! - `<kid>.secret.json`: `{"kid", "alg": "Ed25519", "secret", "public"}` — the origin's
//!   signing key (32-byte seed), created with mode 0600 on Unix;
//! - `<kid>.public.json`: `{"kid", "alg": "Ed25519", "public"}` — goes into the runtimes'
//!   key ring (`Slotwise.load({ keys })`, `snippet verify --public`).
//!
//! The key id names the key inside tokens, so rotation is: generate a new key, add its
//! public file to every key ring, start signing with it, later drop the old public key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use slotwise::base64url;
use slotwise::profile::{self, KeyRing};

/// The algorithm name written into key files.
pub const ALG: &str = "Ed25519";

/// A secret key file.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyFile {
    /// Key id, carried in every token signed with this key.
    pub kid: String,
    /// Always `Ed25519`.
    pub alg: String,
    /// The 32-byte secret seed, base64url.
    pub secret: String,
    /// The 32-byte public key, base64url.
    pub public: String,
}

/// A public key file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyFile {
    /// Key id.
    pub kid: String,
    /// Always `Ed25519`.
    pub alg: String,
    /// The 32-byte public key, base64url.
    pub public: String,
}

/// A loaded secret key, expanded once: signing with it costs one scalar
/// multiplication (deriving the public key from the seed on every signature would
/// double that).
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    /// The secret seed.
    pub secret: [u8; 32],
    expanded: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// The key `kid` for a 32-byte seed.
    pub fn new(kid: String, secret: [u8; 32]) -> SigningKey {
        SigningKey {
            kid,
            secret,
            expanded: ed25519_dalek::SigningKey::from_bytes(&secret),
        }
    }

    /// The 32-byte public key.
    pub fn public(&self) -> [u8; 32] {
        self.expanded.verifying_key().to_bytes()
    }

    /// Signs `claims` into an `SWP1` token, byte for byte what
    /// [`slotwise::profile::sign`] makes with the same seed.
    pub fn sign(&self, claims: &profile::Claims) -> String {
        use ed25519_dalek::Signer;
        let message = profile::signing_message(claims);
        profile::assemble(&message, &self.expanded.sign(&message).to_bytes())
    }

    /// An Ed25519 signature of `message` (the preference centre's links).
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.expanded.sign(message).to_bytes()
    }

    /// Whether `signature` is this key's strict Ed25519 signature of `message`.
    pub fn verify_bytes(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.expanded
            .verifying_key()
            .verify_strict(message, &signature)
            .is_ok()
    }
}

/// Makes the key files' contents for a secret seed (drawn by the caller from the OS).
/// The default key id is `k-` and the first 8 base64url characters of the public key.
pub fn key_pair(secret: [u8; 32], kid: Option<&str>) -> (SecretKeyFile, PublicKeyFile) {
    let public = base64url::encode(&profile::public_key(&secret));
    let kid = kid.map_or_else(|| format!("k-{}", &public[..8]), str::to_owned);
    (
        SecretKeyFile {
            kid: kid.clone(),
            alg: ALG.into(),
            secret: base64url::encode(&secret),
            public: public.clone(),
        },
        PublicKeyFile {
            kid,
            alg: ALG.into(),
            public,
        },
    )
}

/// Draws a fresh secret from the operating system's CSPRNG.
pub fn random_secret() -> Result<[u8; 32], String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(secret)
}

/// Generates a key pair and writes both files into `dir`; returns their paths.
pub fn generate(
    dir: &Path,
    kid: Option<&str>,
) -> Result<(PathBuf, PathBuf, PublicKeyFile), String> {
    let (secret, public) = key_pair(random_secret()?, kid);
    if secret.kid.is_empty() || secret.kid.contains(['/', '\\']) {
        return Err("the key id must be non-empty and contain no path separators".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let secret_path = dir.join(format!("{}.secret.json", secret.kid));
    let public_path = dir.join(format!("{}.public.json", public.kid));
    write_new(&secret_path, &to_json(&secret), true)?;
    write_new(&public_path, &to_json(&public), false)?;
    Ok((secret_path, public_path, public))
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// Writes a file that must not exist yet (never overwrite a key).
fn write_new(path: &Path, text: &str, private: bool) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn key32(text: &str, what: &str, path: &Path) -> Result<[u8; 32], String> {
    base64url::decode(text)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{}: {what} is not 32 bytes of base64url", path.display()))
}

/// Reads a secret key file and checks its public key matches the secret.
pub fn read_secret(path: &Path) -> Result<SigningKey, String> {
    let file: SecretKeyFile = read_json(path)?;
    if file.alg != ALG {
        return Err(format!("{}: alg must be {ALG}", path.display()));
    }
    let secret = key32(&file.secret, "secret", path)?;
    if base64url::encode(&profile::public_key(&secret)) != file.public {
        return Err(format!(
            "{}: public key does not match the secret",
            path.display()
        ));
    }
    Ok(SigningKey::new(file.kid, secret))
}

/// Reads public key files into a key ring (several files: rotation).
pub fn read_ring(paths: &[PathBuf]) -> Result<KeyRing, String> {
    let mut ring = KeyRing::new();
    for path in paths {
        let file: PublicKeyFile = read_json(path)?;
        if file.alg != ALG {
            return Err(format!("{}: alg must be {ALG}", path.display()));
        }
        ring.insert(&file.kid, key32(&file.public, "public", path)?);
    }
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_read_back() {
        let dir = std::env::temp_dir().join(format!("slotwise-keys-{}", std::process::id()));
        let (secret_path, public_path, public) = generate(&dir, Some("test-key")).unwrap();
        let key = read_secret(&secret_path).unwrap();
        assert_eq!(key.kid, "test-key");
        let ring = read_ring(std::slice::from_ref(&public_path)).unwrap();
        assert_eq!(
            base64url::encode(ring.get("test-key").unwrap()),
            public.public
        );
        // Never overwrites a key.
        assert!(generate(&dir, Some("test-key")).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&secret_path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_expanded_key_signs_what_the_core_signs() {
        let key = SigningKey::new("k".into(), [9; 32]);
        assert_eq!(key.public(), profile::public_key(&[9; 32]));
        let claims = profile::Claims::typical(1_800_000_000);
        let token = key.sign(&claims);
        assert_eq!(token, profile::sign(&claims, &[9; 32]));
        let bytes = base64url::decode(&token).unwrap();
        let (message, signature) = bytes.split_at(bytes.len() - 64);
        assert_eq!(message, profile::signing_message(&claims));
        assert!(profile::verify_raw(&key.public(), message, signature));
    }

    #[test]
    fn default_kid_comes_from_the_public_key() {
        let (s, p) = key_pair([7; 32], None);
        assert_eq!(s.kid, p.kid);
        assert!(s.kid.starts_with("k-") && s.kid.len() == 10);
    }
}
