//! HTTP handlers (feature `http`): an `http::Request` in, an
//! `http::Response` out, for functions behind API Gateway, an Application
//! Load Balancer or a Function URL.

use bytes::Bytes;
use http::HeaderValue;
use lambda_sansio::context::{Context, HandlerError};
use lambda_sansio::http::{stream_prelude, HttpInvocation, PathOptions, STREAM_CONTENT_TYPE};

use crate::handler::{Chunks, Response};

/// Wraps an HTTP handler as a bytes handler for [`run`](crate::run).
///
/// Each event becomes an `http::Request<Bytes>` whose extensions carry the
/// source's request context ([`lambda_sansio::http::RequestContext`]); the
/// response goes back in the shape that source expects. A malformed HTTP
/// event is answered 400 without calling the handler; an event from no
/// HTTP source fails the invocation (`Runtime.InvalidEvent`); a handler's
/// error fails the invocation (the source answers its client 502). Paths
/// follow [`PathOptions::from_lookup`] on the process environment.
pub fn http_handler<F>(handler: F) -> impl Fn(Bytes, &Context) -> Result<Response, HandlerError>
where
    F: Fn(http::Request<Bytes>, &Context) -> Result<http::Response<Bytes>, HandlerError>,
{
    let options = PathOptions::from_lookup(|name| std::env::var(name).ok());
    move |payload: Bytes, context: &Context| match HttpInvocation::read(&payload, &options) {
        HttpInvocation::Request(shape, request) => {
            let response = handler(request, context)?;
            Ok(Response::json(HttpInvocation::answer(shape, response)))
        }
        HttpInvocation::Rejected { answer, .. } => Ok(Response::json(answer)),
        HttpInvocation::NotHttp(report) | HttpInvocation::Failed(report) => Err(HandlerError(report)),
    }
}

/// Wraps a streaming HTTP handler (a Function URL in `RESPONSE_STREAM`
/// mode): the response's head goes out as the stream's prelude as soon as
/// the handler returns, then its body chunk by chunk; an `Err` chunk ends
/// the stream with the error in trailers. Events are read as for
/// [`http_handler`]; a malformed one is answered 400 in the stream.
pub fn http_stream_handler<F>(handler: F) -> impl Fn(Bytes, &Context) -> Result<Response, HandlerError>
where
    F: Fn(http::Request<Bytes>, &Context) -> Result<http::Response<Chunks>, HandlerError>,
{
    let options = PathOptions::from_lookup(|name| std::env::var(name).ok());
    move |payload: Bytes, context: &Context| {
        let (parts, body): (_, Chunks) = match HttpInvocation::read(&payload, &options) {
            HttpInvocation::Request(_, request) => handler(request, context)?.into_parts(),
            HttpInvocation::Rejected { reason, .. } => {
                let whole = HttpInvocation::streamed_rejection(&reason);
                let chunks: Chunks = Box::new(std::iter::once(Ok(whole)));
                return Ok(Response::Streamed {
                    content_type: Some(HeaderValue::from_static(STREAM_CONTENT_TYPE)),
                    chunks,
                });
            }
            HttpInvocation::NotHttp(report) | HttpInvocation::Failed(report) => {
                return Err(HandlerError(report))
            }
        };
        let prelude = stream_prelude(&parts);
        let chunks: Chunks = Box::new(std::iter::once(Ok(prelude)).chain(body));
        Ok(Response::Streamed { content_type: Some(HeaderValue::from_static(STREAM_CONTENT_TYPE)), chunks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_sansio::RequestId;

    fn context() -> Context {
        Context {
            request_id: RequestId::new("r").unwrap_or_else(|e| panic!("{e}")),
            deadline: None,
            invoked_function_arn: None,
            trace_id: None,
            client_context: None,
            identity: None,
            tenant_id: None,
        }
    }

    const URL_EVENT: &[u8] = br#"{"version":"2.0","rawPath":"/hi","rawQueryString":"","headers":{},
        "requestContext":{"domainName":"x.lambda-url.us-east-1.on.aws","http":{"method":"GET","path":"/hi"}},
        "isBase64Encoded":false}"#;

    fn collect(response: Response) -> (Option<HeaderValue>, Vec<u8>) {
        let Response::Streamed { content_type, chunks } = response else { panic!("a streamed answer") };
        let mut body = Vec::new();
        for chunk in chunks {
            body.extend_from_slice(&chunk.unwrap_or_else(|_| panic!("no error chunk")));
        }
        (content_type, body)
    }

    #[test]
    fn a_streamed_answer_is_its_prelude_then_its_chunks() {
        let handler = http_stream_handler(|request: http::Request<Bytes>, _: &Context| {
            let path = Bytes::from(request.uri().path().to_owned());
            let chunks: Chunks = Box::new(vec![Ok(path), Ok(Bytes::from_static(b"!"))].into_iter());
            let mut response = http::Response::new(chunks);
            *response.status_mut() = http::StatusCode::ACCEPTED;
            Ok(response)
        });
        let (content_type, body) = collect(
            handler(Bytes::from_static(URL_EVENT), &context()).unwrap_or_else(|_| panic!("answered")),
        );
        assert_eq!(content_type, Some(HeaderValue::from_static(STREAM_CONTENT_TYPE)));
        let separator = body.windows(8).position(|w| w == [0; 8]).unwrap_or_else(|| panic!("a separator"));
        let prelude: serde_json::Value = serde_json::from_slice(&body[..separator]).unwrap_or_default();
        assert_eq!(prelude["statusCode"], 202);
        assert_eq!(&body[separator + 8..], b"/hi!");
    }

    #[test]
    fn a_malformed_event_is_a_400_and_a_foreign_one_an_invalid_event() {
        let handler = http_stream_handler(
            |_: http::Request<Bytes>, _: &Context| -> Result<http::Response<Chunks>, HandlerError> {
                panic!("not called for a malformed event")
            },
        );
        let bad = br#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"}},"isBase64Encoded":true,"body":"%"}"#;
        let (_, body) =
            collect(handler(Bytes::from_static(bad), &context()).unwrap_or_else(|_| panic!("answered")));
        let separator = body.windows(8).position(|w| w == [0; 8]).unwrap_or_else(|| panic!("a separator"));
        let prelude: serde_json::Value = serde_json::from_slice(&body[..separator]).unwrap_or_default();
        assert_eq!(prelude["statusCode"], 400);
        assert!(String::from_utf8_lossy(&body[separator + 8..]).contains("not valid base64"));
        let Err(HandlerError(report)) = handler(Bytes::from_static(b"[1]"), &context()) else {
            panic!("refused")
        };
        assert_eq!(report.error_type, "Runtime.InvalidEvent");
        let buffered = http_handler(
            |_: http::Request<Bytes>, _: &Context| -> Result<http::Response<Bytes>, HandlerError> {
                panic!("not called for a malformed event")
            },
        );
        let Ok(Response::Typed { body, .. }) = buffered(Bytes::from_static(bad), &context()) else {
            panic!("a 400")
        };
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(answer["statusCode"], 400);
    }
}
