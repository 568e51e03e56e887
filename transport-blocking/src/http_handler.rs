//! HTTP handlers (feature `http`): an `http::Request` in, an
//! `http::Response` out, for functions behind API Gateway, an Application
//! Load Balancer or a Function URL.

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
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
        HttpInvocation::Rejected(answer) => Ok(Response::json(answer)),
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
            HttpInvocation::Rejected(_) => {
                let mut response = http::Response::new(());
                *response.status_mut() = StatusCode::BAD_REQUEST;
                let message = Bytes::from_static(b"The request is not a well-formed Function URL event.\n");
                (response.into_parts().0, Box::new(std::iter::once(Ok(message))))
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
