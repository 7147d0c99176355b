//! One opaque error type for the whole core, with a stable machine `code()`.
//!
//! Codes are part of the public contract: JavaScript sees them as `SlotwiseError.code`,
//! sites log them, tests assert them. Add kinds; never rename a code.

/// What went wrong, coarsely. New kinds may be added in any release.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes are larger than the decoder accepts.
    TooLarge,
    /// The bytes end before the format says they should.
    Truncated,
    /// The bytes do not start with the expected magic.
    BadMagic,
    /// The format version is not one this build reads.
    UnsupportedVersion,
    /// The body does not decode (corrupt or foreign bytes).
    Corrupt,
    /// The body decodes but breaks an invariant (dangling index, duplicate name, ...).
    Invalid,
    /// Text that should be base64url (no padding) is not.
    Base64,
    /// A profile snippet token is larger than the decoder accepts.
    SnippetTooLarge,
    /// A profile snippet is not a well-formed `SWP1` token (magic, version, body, length).
    SnippetMalformed,
    /// A profile snippet's signature does not verify (or is non-canonical).
    SnippetBadSignature,
    /// A profile snippet names a key id that is not in the key ring.
    SnippetUnknownKey,
    /// A profile snippet has expired (beyond the clock-skew allowance).
    SnippetExpired,
    /// A profile snippet is not valid yet (not-before / issued-at in the future).
    SnippetNotYetValid,
    /// A profile snippet was issued for another audience (site).
    SnippetWrongAudience,
    /// A profile snippet could not be verified: no Ed25519 in the host.
    SnippetUnverifiable,
    /// A TC string is longer than the decoder accepts.
    TcfTooLarge,
    /// A TC string ends before its core segment does.
    TcfTruncated,
    /// A TC string is not TCF version 2.
    TcfUnsupportedVersion,
    /// A TC string is not valid base64url or breaks the TCF encoding rules.
    TcfMalformed,
    /// Session state is larger than the decoder accepts.
    SessionTooLarge,
    /// Session state does not start with `SWS1`.
    SessionBadMagic,
    /// Session state has a format version this build does not read.
    SessionUnsupportedVersion,
    /// Session state is truncated, corrupt or breaks its bounds.
    SessionCorrupt,
    /// A signal batch is larger than the decoder accepts (bytes or signal count).
    SignalsTooLarge,
    /// A signal batch ends before its signals do.
    SignalsTruncated,
    /// A signal batch does not start with `SWG1`.
    SignalsBadMagic,
    /// A signal batch has a format version this build does not read.
    SignalsUnsupportedVersion,
    /// A signal batch has an unknown kind or channel, a bad varint or trailing bytes.
    SignalsCorrupt,
    /// A signal breaks a minimisation rule (subject without consent, stray value).
    SignalsInvalid,
}

/// An error from the core. Cheap to copy; carries its kind and a static detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    detail: &'static str,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind, detail: &'static str) -> Self {
        Error { kind, detail }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// A stable, dotted machine code such as `bundle.truncated`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::TooLarge => "bundle.too_large",
            ErrorKind::Truncated => "bundle.truncated",
            ErrorKind::BadMagic => "bundle.bad_magic",
            ErrorKind::UnsupportedVersion => "bundle.unsupported_version",
            ErrorKind::Corrupt => "bundle.corrupt",
            ErrorKind::Invalid => "bundle.invalid",
            ErrorKind::Base64 => "base64.invalid",
            ErrorKind::SnippetTooLarge => "snippet.too_large",
            ErrorKind::SnippetMalformed => "snippet.malformed",
            ErrorKind::SnippetBadSignature => "snippet.bad_signature",
            ErrorKind::SnippetUnknownKey => "snippet.unknown_key",
            ErrorKind::SnippetExpired => "snippet.expired",
            ErrorKind::SnippetNotYetValid => "snippet.not_yet_valid",
            ErrorKind::SnippetWrongAudience => "snippet.wrong_audience",
            ErrorKind::SnippetUnverifiable => "snippet.unverifiable",
            ErrorKind::TcfTooLarge => "tcf.too_large",
            ErrorKind::TcfTruncated => "tcf.truncated",
            ErrorKind::TcfUnsupportedVersion => "tcf.unsupported_version",
            ErrorKind::TcfMalformed => "tcf.malformed",
            ErrorKind::SessionTooLarge => "session.too_large",
            ErrorKind::SessionBadMagic => "session.bad_magic",
            ErrorKind::SessionUnsupportedVersion => "session.unsupported_version",
            ErrorKind::SessionCorrupt => "session.corrupt",
            ErrorKind::SignalsTooLarge => "signals.too_large",
            ErrorKind::SignalsTruncated => "signals.truncated",
            ErrorKind::SignalsBadMagic => "signals.bad_magic",
            ErrorKind::SignalsUnsupportedVersion => "signals.unsupported_version",
            ErrorKind::SignalsCorrupt => "signals.corrupt",
            ErrorKind::SignalsInvalid => "signals.invalid",
        }
    }

    /// A short English explanation (static: no formatting on wasm paths).
    pub fn detail(&self) -> &'static str {
        self.detail
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())?;
        f.write_str(": ")?;
        f.write_str(self.detail)
    }
}

impl std::error::Error for Error {}
