//! Running a handler: panics become error reports, JSON in and out.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use lambda_sansio::context::{Context, HandlerError};
use lambda_sansio::ErrorReport;

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
    use lambda_sansio::RequestId;

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
