//! Why an event could not become an HTTP request, or an answer a response.

use super::HttpSource;

/// An event or answer that is not a well-formed HTTP one. Each is a
/// sentence a person can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpEventError {
    /// The payload is not JSON.
    #[error("the event is not JSON: {0}")]
    NotJson(String),
    /// A JSON event that no HTTP source sends (SQS, SNS, EventBridge, …).
    #[error(
        "the event is not an HTTP event from API Gateway, an Application Load Balancer or a Function URL"
    )]
    NotHttp,
    /// A WebSocket API event: a message on a connection, not a request.
    #[error("the event comes from an API Gateway WebSocket API, which sends messages, not HTTP requests")]
    WebSocket,
    /// A payload format version other than 1.0 and 2.0.
    #[error("the event's payload format version {0:?} is not one this runtime reads (1.0 or 2.0)")]
    UnknownVersion(String),
    /// The event names its source but does not match that source's shape.
    #[error("the {origin} event does not have the fields it should: {detail}")]
    Malformed {
        /// The source the event claims to come from.
        origin: HttpSource,
        /// What did not match, from the JSON reader.
        detail: String,
    },
    /// `isBase64Encoded` is true and the body is not base64.
    #[error("the event's body is marked as base64 but is not valid base64")]
    InvalidBase64,
    /// A method, path, header name or value that HTTP does not allow.
    #[error("the event's {part} is not valid in an HTTP request: {detail}")]
    InvalidHttp {
        /// Which part: method, path, header, status.
        part: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}
