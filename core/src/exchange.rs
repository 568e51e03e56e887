//! What a machine hands its driver and what the driver hands back.
//!
//! A driver loops: drain [`Outbound`] requests and send each on the
//! connection its [`Token`] names; feed every answer back with the token;
//! when the machine's `poll_timeout` instant has come, call
//! `handle_timeout(now)`. The driver decides nothing about the protocol.

use bytes::Bytes;

/// Names the connection (slot) a request belongs to.
///
/// A machine has at most one request in flight per token, so a driver can
/// keep one keep-alive connection per token and send on it in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u16);

/// Which API call a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `GET /runtime/invocation/next`.
    RuntimeNext,
    /// `POST /runtime/invocation/{id}/response`.
    RuntimeResponse,
    /// `POST /runtime/invocation/{id}/error`.
    RuntimeError,
    /// `POST /runtime/init/error`.
    RuntimeInitError,
    /// `POST /extension/register`.
    ExtensionRegister,
    /// `GET /extension/event/next`.
    ExtensionNext,
    /// `POST /extension/init/error`.
    ExtensionInitError,
    /// `POST /extension/exit/error`.
    ExtensionExitError,
    /// `PUT /telemetry` or `PUT /logs`.
    Subscribe,
}

impl Call {
    /// A long poll may block for as long as the process lives (it is frozen
    /// between invocations): the driver must not put a read timeout on it.
    pub fn is_long_poll(self) -> bool {
        matches!(self, Self::RuntimeNext | Self::ExtensionNext)
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::RuntimeNext => "runtime next",
            Self::RuntimeResponse => "invocation response",
            Self::RuntimeError => "invocation error",
            Self::RuntimeInitError => "runtime init error",
            Self::ExtensionRegister => "extension register",
            Self::ExtensionNext => "extension event next",
            Self::ExtensionInitError => "extension init error",
            Self::ExtensionExitError => "extension exit error",
            Self::Subscribe => "telemetry subscribe",
        })
    }
}

/// How the driver must produce the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyMode {
    /// The body is the request's `Bytes`, sent with `Content-Length`.
    Buffered,
    /// The request is only the head of a streamed response: the driver sends
    /// the caller's chunks with chunked encoding, ends with the trailers of
    /// [`crate::runtime::stream_error_trailers`] if the stream failed, and
    /// closes the connection after the final chunk.
    Streamed,
}

/// A request for the driver to send.
#[derive(Debug)]
pub struct Outbound {
    /// The connection it goes on; hand the answer back with it.
    pub token: Token,
    /// Which call it is.
    pub call: Call,
    /// How the body is produced.
    pub body: BodyMode,
    /// The invocation this request answers, for an answer.
    pub request_id: Option<crate::ids::RequestId>,
    /// The request, with every header it needs (`Host` and `User-Agent`
    /// included); the driver adds only framing (`Content-Length` or chunked).
    pub request: http::Request<Bytes>,
}

/// What kind of failure a driver saw. For every call but `next` the
/// machine's retry policy is the same for every kind. For `next`, an answer
/// that arrived but could not be read ([`MalformedResponse`](Self::MalformedResponse),
/// [`BodyTooLarge`](Self::BodyTooLarge)) was delivered as far as the platform
/// knows, so it is not retried: see
/// [`RuntimeMachine`](crate::runtime::RuntimeMachine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportErrorKind {
    /// The connection could not be opened.
    Connect,
    /// The connection was reset or closed before a whole answer arrived.
    Reset,
    /// The answer was not valid HTTP/1.1.
    MalformedResponse,
    /// The answer's body was larger than the driver accepts.
    BodyTooLarge,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    /// Whether an answer arrived (and so was sent by the platform) although
    /// it could not be read.
    pub fn answer_arrived(self) -> bool {
        matches!(self, Self::MalformedResponse | Self::BodyTooLarge)
    }
}

impl std::fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "could not connect",
            Self::Reset => "the connection broke",
            Self::MalformedResponse => "the answer is not valid HTTP/1.1",
            Self::BodyTooLarge => "the answer's body is too large",
            Self::Other => "the exchange failed",
        })
    }
}

/// A failed exchange, as a driver reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct TransportError {
    /// What failed.
    pub kind: TransportErrorKind,
    /// Human-readable detail from the driver.
    pub detail: String,
    /// The answer's head as received (status line and header lines, HTTP/1
    /// text), when an answer arrived but could not be read whole. The
    /// machine reads the invocation's ids from it.
    pub head: Option<Bytes>,
}

impl TransportError {
    /// A transport error of `kind` with a description.
    pub fn new(kind: TransportErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into(), head: None }
    }

    /// The same, with the raw head of the answer that could not be read.
    pub fn with_head(mut self, head: Bytes) -> Self {
        self.head = Some(head);
        self
    }
}

/// A buffered request body helper: the bytes a JSON value serialises to.
pub(crate) fn json_body<T: serde::Serialize>(value: &T) -> Bytes {
    // Serialising plain structs of strings and numbers cannot fail.
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}
