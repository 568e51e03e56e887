//! Identifiers the platform hands out, validated before they can reach a URL
//! path or a header.
//!
//! Every identifier here comes from the network. Each type's constructor is the
//! only way to make one, so holding a value is proof that it is safe to put in a
//! request: a [`RequestId`] can be pasted into a URL path segment, an
//! [`InvocationId`] or [`ExtensionId`] into a header value.

use std::fmt;

use http::HeaderValue;

/// The longest identifier accepted, in bytes. Real ids are UUIDs (36 bytes).
pub const MAX_ID_LEN: usize = 256;

/// Why an identifier from the platform was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IdError {
    /// The identifier is empty.
    #[error("identifier is empty")]
    Empty,
    /// The identifier is longer than [`MAX_ID_LEN`] bytes.
    #[error("identifier is {len} bytes long, more than the {MAX_ID_LEN} allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The identifier holds a byte that could change the meaning of a URL or
    /// header (`/`, `?`, `#`, `%`, whitespace, a control byte, non-ASCII…).
    #[error("identifier has forbidden byte 0x{byte:02x} at offset {offset}")]
    ForbiddenByte {
        /// The offending byte.
        byte: u8,
        /// Where it is.
        offset: usize,
    },
    /// The identifier is `.` or `..`, which would move a URL path.
    #[error("identifier is a dot segment")]
    DotSegment,
}

fn check_len(bytes: &[u8]) -> Result<(), IdError> {
    match bytes.len() {
        0 => Err(IdError::Empty),
        len if len > MAX_ID_LEN => Err(IdError::TooLong { len }),
        _ => Ok(()),
    }
}

fn check_bytes(bytes: &[u8], allowed: &[bool; 256]) -> Result<(), IdError> {
    check_len(bytes)?;
    match bytes.iter().position(|&b| !allowed[usize::from(b)]) {
        Some(offset) => Err(IdError::ForbiddenByte { byte: bytes[offset], offset }),
        None => Ok(()),
    }
}

/// RFC 3986 `pchar` without percent-encoding: safe in a path segment as is.
const PATH_SAFE: [bool; 256] = table(false);
/// Visible ASCII: safe as a whole header value, cannot split or fold a header.
const HEADER_SAFE: [bool; 256] = table(true);

const fn table(header: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = if header { is_header_safe(b) } else { is_path_safe(b) };
        byte += 1;
    }
    table
}

const fn is_path_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

const fn is_header_safe(b: u8) -> bool {
    b.is_ascii_graphic()
}

macro_rules! header_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(HeaderValue);

        impl $name {
            /// Validates `raw`: 1 to [`MAX_ID_LEN`] bytes of visible ASCII.
            pub fn new(raw: &str) -> Result<Self, IdError> {
                Self::from_bytes(raw.as_bytes())
            }

            /// Validates raw header bytes as [`new`](Self::new) does.
            pub fn from_bytes(raw: &[u8]) -> Result<Self, IdError> {
                check_bytes(raw, &HEADER_SAFE)?;
                HeaderValue::from_bytes(raw)
                    .map(Self)
                    .map_err(|_| IdError::ForbiddenByte { byte: raw[0], offset: 0 })
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                // Validation admits visible ASCII only, which `to_str` accepts.
                self.0.to_str().unwrap_or_default()
            }

            /// The identifier as a header value, ready to send.
            pub fn header_value(&self) -> &HeaderValue {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.as_str()).finish()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

header_id! {
    /// The per-invoke nonce of `Lambda-Runtime-Invocation-Id`, echoed as a
    /// header on the answer to that invocation.
    InvocationId
}

header_id! {
    /// The `Lambda-Extension-Name` an extension registers with: for an
    /// external extension, its executable's file name.
    ExtensionName
}

header_id! {
    /// The `Lambda-Extension-Identifier` the platform returns at register and
    /// expects on every later extension call.
    ExtensionId
}

/// The `Lambda-Runtime-Aws-Request-Id` of an invocation.
///
/// Guaranteed to be a safe URL path segment: 1 to [`MAX_ID_LEN`] bytes of
/// RFC 3986 unreserved characters, sub-delimiters, `:` and `@`, and neither
/// `.` nor `..`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(Box<str>);

impl RequestId {
    /// Validates `raw` as a request id.
    pub fn new(raw: &str) -> Result<Self, IdError> {
        check_bytes(raw.as_bytes(), &PATH_SAFE)?;
        if raw == "." || raw == ".." {
            return Err(IdError::DotSegment);
        }
        Ok(Self(raw.into()))
    }

    /// Validates raw header bytes as [`new`](Self::new) does.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, IdError> {
        check_bytes(raw, &PATH_SAFE)?;
        // Path-safe bytes are ASCII, hence UTF-8.
        let text =
            std::str::from_utf8(raw).map_err(|_| IdError::ForbiddenByte { byte: raw[0], offset: 0 })?;
        Self::new(text)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&&*self.0).finish()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RequestId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::new(s)
    }
}

/// A wall-clock deadline in milliseconds since the Unix epoch, as the platform
/// sends it. Core never compares it with the clock; drivers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct DeadlineMs(pub u64);

impl DeadlineMs {
    /// Milliseconds left at `now_ms` (Unix epoch milliseconds), zero when past.
    pub fn remaining_at(self, now_ms: u64) -> u64 {
        self.0.saturating_sub(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_request_id_is_accepted() {
        let id = RequestId::new("8476a536-e9f4-11e8-9739-2dfe598c3fcd").unwrap();
        assert_eq!(id.as_str(), "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    }

    #[test]
    fn hostile_request_ids_are_refused() {
        for (raw, expected) in [
            ("", IdError::Empty),
            ("..", IdError::DotSegment),
            (".", IdError::DotSegment),
            ("a/b", IdError::ForbiddenByte { byte: b'/', offset: 1 }),
            ("a?b", IdError::ForbiddenByte { byte: b'?', offset: 1 }),
            ("a#b", IdError::ForbiddenByte { byte: b'#', offset: 1 }),
            ("%2e", IdError::ForbiddenByte { byte: b'%', offset: 0 }),
            ("a b", IdError::ForbiddenByte { byte: b' ', offset: 1 }),
            ("a\r\nX: y", IdError::ForbiddenByte { byte: b'\r', offset: 1 }),
            ("a\0", IdError::ForbiddenByte { byte: 0, offset: 1 }),
            ("é", IdError::ForbiddenByte { byte: 0xc3, offset: 0 }),
        ] {
            assert_eq!(RequestId::new(raw), Err(expected), "{raw:?}");
        }
        let long = "a".repeat(MAX_ID_LEN + 1);
        assert_eq!(RequestId::new(&long), Err(IdError::TooLong { len: MAX_ID_LEN + 1 }));
        assert!(RequestId::new(&long[1..]).is_ok());
    }

    #[test]
    fn header_ids_refuse_header_injection() {
        assert!(InvocationId::new("abc\r\nX-Evil: 1").is_err());
        assert!(InvocationId::new("a b").is_err());
        assert!(ExtensionId::new("\t").is_err());
        assert!(ExtensionId::from_bytes(&[0x80]).is_err());
        let id = ExtensionId::new("7a6e-1/2?x").unwrap();
        assert_eq!(id.header_value(), "7a6e-1/2?x");
    }

    #[test]
    fn deadline_remaining_saturates() {
        assert_eq!(DeadlineMs(1_000).remaining_at(400), 600);
        assert_eq!(DeadlineMs(1_000).remaining_at(4_000), 0);
    }
}
