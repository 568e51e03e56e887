//! What a handler sees and how its failures are reported: shared by every
//! driver so that they present the same API and report errors alike.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ids::RequestId;
use crate::report::ErrorReport;
use crate::runtime::{ClientContext, CognitoIdentity, Invocation};

/// The invocation's metadata, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Context {
    /// The request id.
    pub request_id: RequestId,
    /// When the invocation times out, if the platform said.
    pub deadline: Option<SystemTime>,
    /// The ARN that was invoked.
    pub invoked_function_arn: Option<String>,
    /// The X-Ray trace header.
    pub trace_id: Option<String>,
    /// The mobile client context, if any and readable.
    pub client_context: Option<ClientContext>,
    /// The Cognito identity, if any and readable.
    pub identity: Option<CognitoIdentity>,
    /// The tenant id, in tenant-isolation mode.
    pub tenant_id: Option<String>,
}

impl Context {
    /// The context of `invocation`.
    pub fn of(invocation: &Invocation) -> Self {
        Self {
            request_id: invocation.request_id.clone(),
            deadline: invocation.deadline.map(|d| UNIX_EPOCH + Duration::from_millis(d.0)),
            invoked_function_arn: invocation.invoked_function_arn.clone(),
            trace_id: invocation.trace_id.clone(),
            client_context: invocation.client_context().and_then(Result::ok),
            identity: invocation.cognito_identity().and_then(Result::ok),
            tenant_id: invocation.tenant_id.clone(),
        }
    }

    /// The deadline in epoch milliseconds, as Lambda sent it; `None`
    /// without a deadline.
    pub fn deadline_ms(&self) -> Option<u64> {
        let since = self.deadline?.duration_since(UNIX_EPOCH).ok()?;
        Some(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    /// Time left before the deadline at `now` (zero when past); `None`
    /// without a deadline. Core reads no clock: pass `SystemTime::now()`.
    pub fn remaining_at(&self, now: SystemTime) -> Option<Duration> {
        let deadline = self.deadline?;
        Some(deadline.duration_since(now).unwrap_or_default())
    }
}

/// A handler's failure, reported to the platform as the invocation's error.
///
/// Any `std::error::Error` converts into one: its type name becomes the
/// error type, its message the message, its `source()` chain the stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError(pub ErrorReport);

impl<E: std::error::Error> From<E> for HandlerError {
    fn from(error: E) -> Self {
        let mut chain = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            chain.push(cause.to_string());
            source = cause.source();
        }
        Self(ErrorReport::new(std::any::type_name::<E>(), error.to_string()).with_stack_trace(chain))
    }
}

/// The error type reported for an invocation whose handler panicked.
pub const PANIC_ERROR_TYPE: &str = "Function.Panic";

/// The report for a handler that panicked with `payload` (what
/// `catch_unwind` or a task's join error hands back): its message when it is
/// text.
pub fn panic_report(payload: &(dyn std::any::Any + Send)) -> ErrorReport {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the handler panicked".to_owned());
    ErrorReport::new(PANIC_ERROR_TYPE, message)
}

/// The error type reported when an event does not match a typed handler's
/// event type.
pub const INVALID_EVENT_TYPE: &str = crate::runtime::requests::INVALID_EVENT;

/// The error type reported when a typed handler's result cannot be written
/// as JSON.
pub const SERIALIZATION_ERROR_TYPE: &str = "Runtime.SerializationError";

/// Decodes `payload` as the event type `T` of a typed handler. An event that
/// does not match is `Runtime.InvalidEvent`, with where in the event it
/// stopped matching (`Records[0].eventTime`) and serde's reason.
pub fn decode_event<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, HandlerError> {
    let invalid = |place: String, reason: &dyn std::fmt::Display| {
        let message = format!("The event does not match the handler's event type{place}: {reason}.");
        HandlerError::new(INVALID_EVENT_TYPE, message)
    };
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let event = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let place = if path == "." { String::new() } else { format!(" at `{path}`") };
        invalid(place, error.inner())
    })?;
    deserializer.end().map_err(|error| invalid(String::new(), &error))?;
    Ok(event)
}

/// Encodes a typed handler's result as JSON; a failure is
/// `Runtime.SerializationError` with serde's reason.
pub fn encode_result<R: serde::Serialize>(result: &R) -> Result<bytes::Bytes, HandlerError> {
    serde_json::to_vec(result).map(bytes::Bytes::from).map_err(|error| {
        HandlerError::new(
            SERIALIZATION_ERROR_TYPE,
            format!("The handler's result could not be written as JSON: {error}."),
        )
    })
}

impl HandlerError {
    /// An error with an explicit type and message.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self(ErrorReport::new(error_type, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Batch {
        #[serde(rename = "Records")]
        records: Vec<Message>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Message {
        body: String,
    }

    #[test]
    fn a_mismatched_event_names_where_and_why() {
        let HandlerError(report) =
            decode_event::<Batch>(br#"{"Records":[{"body":"a"},{"body":7}]}"#).unwrap_err();
        assert_eq!(report.error_type, "Runtime.InvalidEvent");
        assert!(report.error_message.starts_with("The event does not match the handler's event type at `Records[1].body`: invalid type: integer `7`, expected a string"), "{}", report.error_message);
        let HandlerError(report) = decode_event::<Batch>(br#""text""#).unwrap_err();
        assert!(
            report.error_message.starts_with("The event does not match the handler's event type: "),
            "{}",
            report.error_message
        );
        let HandlerError(report) = decode_event::<Batch>(br#"{"Records":[]} x"#).unwrap_err();
        assert!(report.error_message.contains("trailing characters"), "{}", report.error_message);
        assert_eq!(decode_event::<Batch>(br#"{"Records":[{"body":"a"}]}"#).map(|b| b.records.len()), Ok(1));
    }

    #[test]
    fn an_unwritable_result_is_a_serialization_error() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        let HandlerError(report) = encode_result(&map).unwrap_err();
        assert_eq!(report.error_type, "Runtime.SerializationError");
        assert_eq!(encode_result(&[1, 2]).unwrap(), bytes::Bytes::from_static(b"[1,2]"));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn errors_keep_type_message_and_source_chain() {
        let HandlerError(report) = HandlerError::from(Outer(std::io::Error::other("inner")));
        assert!(report.error_type.ends_with("Outer"), "{}", report.error_type);
        assert_eq!(report.error_message, "outer");
        assert_eq!(report.stack_trace, vec!["inner".to_owned()]);
        assert_eq!(report.error_type_header(), "Function.Outer");
    }

    #[test]
    fn remaining_time_is_relative_to_the_given_now() {
        let response = http::Response::builder()
            .header("lambda-runtime-aws-request-id", "r")
            .header("lambda-runtime-deadline-ms", "10000")
            .body(bytes::Bytes::new())
            .unwrap();
        let context = Context::of(&Invocation::decode(&response).unwrap());
        let now = UNIX_EPOCH + Duration::from_millis(7_500);
        assert_eq!(context.remaining_at(now), Some(Duration::from_millis(2_500)));
        assert_eq!(context.remaining_at(now + Duration::from_secs(9)), Some(Duration::ZERO));
        assert_eq!(context.deadline_ms(), Some(10_000));
    }
}
