//! Running a handler: panics become error reports, JSON in and out.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use lambda_sansio::context::{panic_report, Context, HandlerError};
use lambda_sansio::runtime::stream_error_trailers;
use lambda_sansio::ErrorReport;

/// Chunks of a streamed response; an `Err` ends the stream with an error
/// reported in trailers.
pub type Chunks = Box<dyn Iterator<Item = Result<Bytes, HandlerError>> + Send>;

/// What a handler answers.
pub enum Response {
    /// The whole payload at once (up to 6 MiB), sent as
    /// `application/octet-stream`.
    Buffered(Bytes),
    /// The whole payload at once, labelled with its content type (the
    /// [`json`] helper answers `application/json`).
    Typed {
        /// Its content type.
        content_type: HeaderValue,
        /// The payload.
        body: Bytes,
    },
    /// A streamed response (up to 200 MB), sent as it is produced.
    Streamed {
        /// Its content type, e.g. `text/plain` or
        /// `application/vnd.awslambda.http-integration-response`.
        content_type: Option<HeaderValue>,
        /// The chunks.
        chunks: Chunks,
    },
}

impl From<Bytes> for Response {
    fn from(payload: Bytes) -> Self {
        Self::Buffered(payload)
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Buffered(payload) => f.debug_tuple("Buffered").field(payload).finish(),
            Self::Typed { content_type, body } => {
                f.debug_struct("Typed").field("content_type", content_type).field("body", body).finish()
            }
            Self::Streamed { content_type, .. } => {
                f.debug_struct("Streamed").field("content_type", content_type).finish()
            }
        }
    }
}

/// Turns a handler's chunks into the driver's: a failure (error or panic)
/// becomes the error trailers and ends the stream.
pub(crate) fn stream_frames(mut chunks: Chunks) -> impl Iterator<Item = Result<Bytes, HeaderMap>> {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let next = catch_unwind(AssertUnwindSafe(|| chunks.next()))
            .unwrap_or_else(|panic| Some(Err(HandlerError(panic_report(panic.as_ref())))));
        match next {
            Some(Ok(chunk)) => Some(Ok(chunk)),
            Some(Err(HandlerError(report))) => {
                done = true;
                Some(Err(stream_error_trailers(&report)))
            }
            None => None,
        }
    })
}

/// Runs `handler`, turning a panic into an error report so that one bad
/// invocation does not take the runtime down.
pub(crate) fn call<F>(handler: &F, payload: Bytes, context: &Context) -> Result<Response, ErrorReport>
where
    F: Fn(Bytes, &Context) -> Result<Response, HandlerError>,
{
    #[cfg(feature = "tracing")]
    let _span = lambda_sansio::logging::invocation_span(&context.request_id).entered();
    match catch_unwind(AssertUnwindSafe(|| handler(payload, context))) {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(HandlerError(report))) => Err(report),
        Err(panic) => Err(panic_report(panic.as_ref())),
    }
}

/// Wraps a JSON handler as a bytes handler: the event is deserialised into
/// `T`, the result serialised and sent as `application/json`. An event that
/// does not match `T` fails the invocation as `Runtime.InvalidEvent`, naming
/// where and why ([`decode_event`](lambda_sansio::context::decode_event)).
pub fn json<T, R, F>(handler: F) -> impl Fn(Bytes, &Context) -> Result<Response, HandlerError>
where
    T: serde::de::DeserializeOwned,
    R: serde::Serialize,
    F: Fn(T, &Context) -> Result<R, HandlerError>,
{
    move |payload: Bytes, context: &Context| {
        let event: T = lambda_sansio::context::decode_event(&payload)?;
        let response = handler(event, context)?;
        Ok(Response::json(lambda_sansio::context::encode_result(&response)?))
    }
}

impl Response {
    /// A payload labelled `application/json`.
    pub fn json(body: Bytes) -> Self {
        Self::Typed { content_type: HeaderValue::from_static("application/json"), body }
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
        let handler = |_: Bytes, _: &Context| -> Result<Response, HandlerError> { panic!("boom {}", 7) };
        let report = call(&handler, Bytes::new(), &context).unwrap_err();
        assert_eq!((report.error_type.as_str(), report.error_message.as_str()), ("Function.Panic", "boom 7"));
        let increment = json(|n: u32, _: &Context| Ok::<u32, HandlerError>(n + 1));
        let Response::Typed { content_type, body } = increment(Bytes::from_static(b"41"), &context).unwrap()
        else {
            panic!("json answers are labelled")
        };
        assert_eq!((content_type.to_str().unwrap(), body), ("application/json", Bytes::from_static(b"42")));
        assert!(increment(Bytes::from_static(b"\"x\""), &context).is_err());
    }

    #[test]
    fn a_failing_or_panicking_stream_ends_with_error_trailers() {
        let chunks: Chunks = Box::new(
            vec![
                Ok(Bytes::from_static(b"a")),
                Err(HandlerError::new("Function.Broke", "mid-stream")),
                Ok(Bytes::new()),
            ]
            .into_iter(),
        );
        let frames: Vec<_> = stream_frames(chunks).collect();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], Ok(Bytes::from_static(b"a")));
        let trailers = frames[1].clone().unwrap_err();
        assert_eq!(trailers["lambda-runtime-function-error-type"], "Function.Broke");
        let panicking: Chunks = Box::new(std::iter::from_fn(|| panic!("in the stream")));
        let frames: Vec<_> = stream_frames(panicking).collect();
        assert_eq!(frames[0].clone().unwrap_err()["lambda-runtime-function-error-type"], "Function.Panic");
    }
}
