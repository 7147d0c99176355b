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
