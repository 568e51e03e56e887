//! What a handler sees (its [`Context`]) and how its failures become error
//! reports.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lambda_sansio::runtime::{ClientContext, CognitoIdentity, Invocation};
use lambda_sansio::{ErrorReport, RequestId};

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
    pub(crate) fn of(invocation: &Invocation) -> Self {
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

    /// Time left before the deadline (zero when past); `None` without one.
    pub fn remaining(&self) -> Option<Duration> {
        let deadline = self.deadline?;
        Some(deadline.duration_since(SystemTime::now()).unwrap_or_default())
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

impl HandlerError {
    /// An error with an explicit type and message.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self(ErrorReport::new(error_type, message))
    }
}

/// Runs `handler`, turning a panic into an error report so that one bad
/// invocation does not take the runtime down.
pub(crate) fn call<F>(handler: &F, payload: Bytes, context: &Context) -> Result<Bytes, ErrorReport>
where
    F: Fn(Bytes, &Context) -> Result<Bytes, HandlerError>,
{
    match catch_unwind(AssertUnwindSafe(|| handler(payload, context))) {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(HandlerError(report))) => Err(report),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the handler panicked".to_owned());
            Err(ErrorReport::new("Function.Panic", message))
        }
    }
}

/// Wraps a JSON handler as a bytes handler.
pub fn json<T, R, F>(handler: F) -> impl Fn(Bytes, &Context) -> Result<Bytes, HandlerError>
where
    T: serde::de::DeserializeOwned,
    R: serde::Serialize,
    F: Fn(T, &Context) -> Result<R, HandlerError>,
{
    move |payload: Bytes, context: &Context| {
        let event: T = serde_json::from_slice(&payload)?;
        let response = handler(event, context)?;
        Ok(Bytes::from(serde_json::to_vec(&response)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn panics_become_error_reports() {
        let context = Context {
            request_id: RequestId::new("r").unwrap(),
            deadline: None,
            invoked_function_arn: None,
            trace_id: None,
            client_context: None,
            identity: None,
            tenant_id: None,
        };
        let handler = |_: Bytes, _: &Context| -> Result<Bytes, HandlerError> { panic!("boom {}", 7) };
        let report = call(&handler, Bytes::new(), &context).unwrap_err();
        assert_eq!((report.error_type.as_str(), report.error_message.as_str()), ("Function.Panic", "boom 7"));
        let failing = json(|n: u32, _: &Context| Ok::<u32, HandlerError>(n + 1));
        assert_eq!(call(&failing, Bytes::from_static(b"41"), &context), Ok(Bytes::from_static(b"42")));
        assert!(call(&failing, Bytes::from_static(b"\"x\""), &context).is_err());
    }
}
