//! HTTP/1.1 as a building block for drivers: an incremental, sans-IO codec
//! ([`ResponseDecoder`] for a client, [`RequestDecoder`] for a server) that
//! is fed bytes in any segmentation and holds bounded memory, and the
//! encoders for what a client sends ([`write_head`], [`write_chunk`],
//! [`write_last_chunk`]). Both transports' clients are loops over it.
//!
//! The decoders follow httparse's pattern: `Ok(None)` means "feed me more",
//! never an error. What they accept: heads up to [`MAX_HEAD`] bytes and
//! [`MAX_HEADERS`] headers (more than hyper's defaults), CRLF or bare-LF
//! line ends, bodies framed by `Content-Length`, chunks (with trailers) or,
//! for answers, the connection closing; interim `1xx` answers are skipped.
//! What they refuse, with a typed [`DecodeError`]: anything larger, obsolete
//! line folding, bare CRs, conflicting lengths.

mod body;
mod encode;
#[doc(hidden)]
pub mod fuzz;
mod head;
mod persistence;
mod pipelining;
mod request;
mod response;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::{TransportError, TransportErrorKind};

pub use encode::{write_chunk, write_head, write_last_chunk};
pub use head::{MAX_HEAD, MAX_HEADERS};
pub use persistence::{end_exchange, wants_close};
pub use pipelining::{second_after_first, second_before_reading, write_pipelined, Pipelined};
pub use request::RequestDecoder;
pub use response::{Decoded, ResponseDecoder};

/// How much a decoder holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest head, in bytes.
    pub max_head: usize,
    /// Largest body, in bytes.
    pub max_body: usize,
}

impl Limits {
    /// [`MAX_HEAD`] and the given body limit.
    pub const fn with_max_body(max_body: usize) -> Self {
        Self { max_head: MAX_HEAD, max_body }
    }
}

/// Why bytes could not be decoded as a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// `MalformedResponse` (not valid HTTP/1.1), `BodyTooLarge`, or `Reset`
    /// (the connection ended in the middle).
    pub kind: TransportErrorKind,
    /// What was wrong, as a sentence fragment.
    pub detail: String,
    /// The raw head, when a whole head (or the first [`MAX_HEAD`] bytes of
    /// one) had arrived.
    pub head: Option<Bytes>,
}

impl DecodeError {
    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        Self { kind: TransportErrorKind::MalformedResponse, detail: detail.into(), head: None }
    }

    pub(crate) fn too_large(max_body: usize) -> Self {
        Self {
            kind: TransportErrorKind::BodyTooLarge,
            detail: format!("the body is longer than {max_body} bytes"),
            head: None,
        }
    }

    /// The connection ended or failed in the middle of a message.
    pub fn reset(detail: impl Into<String>) -> Self {
        Self { kind: TransportErrorKind::Reset, detail: detail.into(), head: None }
    }

    pub(crate) fn with_head(mut self, head: Bytes) -> Self {
        self.head.get_or_insert(head);
        self
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeError> for TransportError {
    fn from(error: DecodeError) -> Self {
        let transport = TransportError::new(error.kind, error.detail);
        match error.head {
            Some(head) => transport.with_head(head),
            None => transport,
        }
    }
}
