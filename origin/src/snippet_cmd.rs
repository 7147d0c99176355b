//! `slotwise snippet sign | verify` and `slotwise sizes`: the snippet tooling.
//!
//! Claims files are JSON with the field names of [`slotwise::profile::Claims`]
//! (`issued_at`, `expires_at` and `audience` are required; `key_id` comes from the key
//! file). Counter scopes are written `{"Item": 12}`, `{"Slot": 0}` or `{"Campaign": 3}`.

use std::path::Path;

use slotwise::profile::{self, Claims, Expect, KeyRing};
use slotwise::session;

use crate::keys;

/// The snippet budget from DESIGN.md: a typical visitor's token fits a cookie.
pub const SNIPPET_BUDGET: usize = 600;
/// The session budget: a busy session as base64url.
pub const SESSION_BUDGET: usize = 1024;

/// Signs a claims file with a secret key file; returns the token.
pub fn sign(key_path: &Path, claims_path: &Path) -> Result<String, String> {
    let key = keys::read_secret(key_path)?;
    let text = std::fs::read_to_string(claims_path)
        .map_err(|e| format!("cannot read {}: {e}", claims_path.display()))?;
    let mut claims: Claims =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
            .map_err(|e| format!("{}: {}: {}", claims_path.display(), e.path(), e.inner()))?;
    if !claims.key_id.is_empty() && claims.key_id != key.kid {
        return Err(format!(
            "{}: key_id {:?} does not match the key file's kid {:?}",
            claims_path.display(),
            claims.key_id,
            key.kid
        ));
    }
    if claims.expires_at <= claims.issued_at {
        return Err(format!(
            "{}: expires_at must be after issued_at",
            claims_path.display()
        ));
    }
    claims.key_id = key.kid.clone();
    Ok(key.sign(&claims))
}

/// Signs the typical claims (as `slotwise sizes` measures them) for `audience`, valid
/// for an hour from `now`: a realistic token for benchmarks and demos.
pub fn typical(key_path: &Path, audience: &str, now: u64) -> Result<String, String> {
    let key = keys::read_secret(key_path)?;
    let mut claims = Claims::typical(now);
    claims.audience = audience.into();
    claims.key_id = key.kid.clone();
    Ok(key.sign(&claims))
}

/// Verifies a token against a key ring; returns the claims as pretty JSON, or the
/// error's stable code and detail.
pub fn verify(ring: &KeyRing, token: &str, now: u64, audience: &str) -> Result<String, String> {
    let parts = profile::parse_unverified(token.trim()).map_err(|e| e.to_string())?;
    let verified =
        profile::verify_native(parts, ring, Expect { now, audience }).map_err(|e| e.to_string())?;
    serde_json::to_string_pretty(verified.claims()).map_err(|e| e.to_string())
}

/// Encoded sizes of a typical snippet and a busy session, as a report; `Err` when a
/// budget is exceeded (so CI can run `slotwise sizes`).
pub fn sizes() -> Result<String, String> {
    let now = 1_800_000_000;
    // A fixed key: sizes do not depend on it, and the report is reproducible.
    let token = profile::sign(&Claims::typical(now), &[7; 32]);
    let busy = session::busy_example(now);
    let session_bytes = session::encode(&busy);
    let session_text = session::encode_base64url(&busy);
    let line = |what: &str, raw: usize, text: usize, budget: usize| {
        let verdict = if text <= budget { "ok" } else { "OVER BUDGET" };
        format!(
            "{what:<40} {raw:>5} B raw {text:>5} B base64url  budget {budget:>5} B  {verdict}\n"
        )
    };
    let mut out = String::new();
    out += &line(
        "typical snippet (SWP1, signed)",
        slotwise::base64url::decode(&token).map_or(0, |b| b.len()),
        token.len(),
        SNIPPET_BUDGET,
    );
    out += &line(
        "busy session (SWS1, 32 events)",
        session_bytes.len(),
        session_text.len(),
        SESSION_BUDGET,
    );
    if token.len() > SNIPPET_BUDGET || session_text.len() > SESSION_BUDGET {
        return Err(out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_within_budget() {
        let report = sizes().unwrap();
        assert_eq!(report.matches(" ok\n").count(), 2, "{report}");
    }

    #[test]
    fn sign_and_verify_files() {
        let dir = std::env::temp_dir().join(format!("slotwise-snippet-{}", std::process::id()));
        let (secret, public, _) = keys::generate(&dir, Some("k1")).unwrap();
        let claims = dir.join("claims.json");
        std::fs::write(
            &claims,
            r#"{"issued_at": 100, "expires_at": 3700, "audience": "shop.example",
                "segments": [1, 2], "counters": [{"scope": {"Item": 12}, "period_secs": 86400, "count": 2}]}"#,
        )
        .unwrap();
        let token = sign(&secret, &claims).unwrap();
        let ring = keys::read_ring(&[public]).unwrap();
        let json = verify(&ring, &token, 200, "shop.example").unwrap();
        assert!(json.contains("\"key_id\": \"k1\""), "{json}");
        let err = verify(&ring, &token, 99_999, "shop.example").unwrap_err();
        assert!(err.starts_with("snippet.expired"), "{err}");
        let err = verify(&ring, &token, 200, "other.example").unwrap_err();
        assert!(err.starts_with("snippet.wrong_audience"), "{err}");
        std::fs::write(
            &claims,
            r#"{"issued_at": 1, "expires_at": 2, "audence": "x"}"#,
        )
        .unwrap();
        let err = sign(&secret, &claims).unwrap_err();
        assert!(err.contains("audence"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
