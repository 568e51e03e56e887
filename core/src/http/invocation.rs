//! What an HTTP handler does with an invocation's payload: the one decision
//! every host (both transports, the bootstrap's web mode) shares.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::Value;

use super::{request_from_event, response_to_event, EventShape, HttpEventError, PathOptions};
use crate::context::INVALID_EVENT_TYPE;
use crate::ErrorReport;

/// An invocation's payload, read for an HTTP handler.
#[derive(Debug)]
pub enum HttpInvocation {
    /// A request for the handler; answer with [`HttpInvocation::answer`]
    /// and this shape.
    Request(EventShape, Request<Bytes>),
    /// The event names its source but is malformed (a missing field,
    /// invalid base64): answer this 400 in the source's shape (or, when
    /// streaming, [`HttpInvocation::streamed_rejection`] of the reason), so
    /// the client learns its request was bad and the function keeps
    /// serving.
    Rejected {
        /// The 400 answer, buffered.
        answer: Bytes,
        /// What was wrong, as a sentence.
        reason: String,
    },
    /// Not an HTTP event (not JSON, or from SQS, SNS, EventBridge, …): a
    /// host that passes such events on does so; an HTTP handler fails the
    /// invocation with this report (`Runtime.InvalidEvent`).
    NotHttp(ErrorReport),
    /// An event from an HTTP source this library cannot read (a WebSocket
    /// API, an unknown payload version): fail the invocation with this
    /// report (`Runtime.InvalidEvent`).
    Failed(ErrorReport),
}

impl HttpInvocation {
    /// Reads `payload` (see [`request_from_event`]).
    pub fn read(payload: &[u8], options: &PathOptions) -> Self {
        match request_from_event(payload, options) {
            Ok(request) => {
                let shape = request.extensions().get::<EventShape>().copied();
                let shape = shape.unwrap_or(EventShape::of(super::HttpSource::RestApi));
                Self::Request(shape, request)
            }
            Err(error) => {
                let report = ErrorReport::new(INVALID_EVENT_TYPE, format!("{}.", capitalized(&error)));
                match (shape_of(payload), &error) {
                    (Some(shape), _) => Self::Rejected {
                        answer: Self::bad_request(shape, &error),
                        reason: capitalized(&error),
                    },
                    (None, HttpEventError::NotHttp | HttpEventError::NotJson(_)) => Self::NotHttp(report),
                    (None, _) => Self::Failed(report),
                }
            }
        }
    }

    /// The answer to an event of `shape`: [`response_to_event`].
    pub fn answer(shape: EventShape, response: Response<Bytes>) -> Bytes {
        response_to_event(shape, response)
    }

    /// A whole streamed 400 answer (prelude, separator, `reason`), for a
    /// malformed event in `RESPONSE_STREAM` mode.
    pub fn streamed_rejection(reason: &str) -> Bytes {
        let mut head = Response::new(());
        *head.status_mut() = StatusCode::BAD_REQUEST;
        head.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
        let mut stream = super::stream_prelude(&head.into_parts().0).to_vec();
        stream.extend_from_slice(reason.as_bytes());
        stream.push(b'\n');
        Bytes::from(stream)
    }

    /// A 400 answer in `shape` whose body says what was wrong.
    pub fn bad_request(shape: EventShape, error: &HttpEventError) -> Bytes {
        Self::error_answer(shape, StatusCode::BAD_REQUEST, &capitalized(error))
    }

    /// An answer with `status` and a plain-text body, in `shape`.
    pub fn error_answer(shape: EventShape, status: StatusCode, message: &str) -> Bytes {
        let mut response = Response::new(Bytes::from(format!("{message}\n")));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
        response_to_event(shape, response)
    }
}

fn shape_of(payload: &[u8]) -> Option<EventShape> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    EventShape::detect(&value).ok()
}

fn capitalized(error: &HttpEventError) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
