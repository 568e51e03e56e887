//! HTTP handlers (feature `http`): an `http::Request` in, an
//! `http::Response` out, for functions behind API Gateway, an Application
//! Load Balancer or a Function URL.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use lambda_sansio::context::{Context, HandlerError};
use lambda_sansio::http::{stream_prelude, HttpInvocation, PathOptions, STREAM_CONTENT_TYPE};
use tokio::sync::mpsc;

use crate::client::Chunks;
use crate::runtime::Response;

/// What the wrappers hand to [`run`](crate::run).
type Answer = Pin<Box<dyn Future<Output = Result<Response, HandlerError>> + Send>>;

/// Wraps an async HTTP handler as a bytes handler for [`run`](crate::run).
///
/// Each event becomes an `http::Request<Bytes>` whose extensions carry the
/// source's request context ([`lambda_sansio::http::RequestContext`]); the
/// response goes back in the shape that source expects. A malformed HTTP
/// event is answered 400 without calling the handler; an event from no
/// HTTP source fails the invocation (`Runtime.InvalidEvent`); a handler's
/// error fails the invocation (the source answers its client 502). Paths
/// follow [`PathOptions::from_lookup`] on the process environment.
pub fn http_handler<F, Fut>(handler: F) -> impl Fn(Bytes, Context) -> Answer + Send + Sync + 'static
where
    F: Fn(http::Request<Bytes>, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<Bytes>, HandlerError>> + Send + 'static,
{
    let options = Arc::new(PathOptions::from_lookup(|name| std::env::var(name).ok()));
    let handler = Arc::new(handler);
    move |payload: Bytes, context: Context| -> Answer {
        match HttpInvocation::read(&payload, &options) {
            HttpInvocation::Request(shape, request) => {
                let call = handler(request, context);
                Box::pin(async move { Ok(Response::json(HttpInvocation::answer(shape, call.await?))) })
            }
            HttpInvocation::Rejected { answer, .. } => Box::pin(async move { Ok(Response::json(answer)) }),
            HttpInvocation::NotHttp(report) | HttpInvocation::Failed(report) => {
                Box::pin(async move { Err(HandlerError(report)) })
            }
        }
    }
}

/// Wraps an async streaming HTTP handler (a Function URL in
/// `RESPONSE_STREAM` mode): the response's head goes out as the stream's
/// prelude as soon as the handler returns, then its body chunk by chunk as
/// they arrive on its [`Chunks`]; an `Err` chunk ends the stream with the
/// error in trailers. Events are read as for [`http_handler`]; a malformed
/// one is answered 400 in the stream.
pub fn http_stream_handler<F, Fut>(handler: F) -> impl Fn(Bytes, Context) -> Answer + Send + Sync + 'static
where
    F: Fn(http::Request<Bytes>, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<Chunks>, HandlerError>> + Send + 'static,
{
    let options = Arc::new(PathOptions::from_lookup(|name| std::env::var(name).ok()));
    let handler = Arc::new(handler);
    move |payload: Bytes, context: Context| -> Answer {
        let call = match HttpInvocation::read(&payload, &options) {
            HttpInvocation::Request(_, request) => handler(request, context),
            HttpInvocation::Rejected { reason, .. } => {
                let whole = HttpInvocation::streamed_rejection(&reason);
                return Box::pin(async move { Ok(streamed(whole, None)) });
            }
            HttpInvocation::NotHttp(report) | HttpInvocation::Failed(report) => {
                return Box::pin(async move { Err(HandlerError(report)) })
            }
        };
        Box::pin(async move {
            let (parts, body) = call.await?.into_parts();
            Ok(streamed(stream_prelude(&parts), Some(body)))
        })
    }
}

/// A streamed HTTP answer: `first`, then the chunks of `body`, if any.
fn streamed(first: Bytes, body: Option<Chunks>) -> Response {
    Response::Streamed {
        content_type: Some(HeaderValue::from_static(STREAM_CONTENT_TYPE)),
        chunks: prefixed(first, body),
    }
}

/// `body` with `prelude` in front: a small task moves the chunks over, so
/// the prelude goes out before the handler's first chunk exists.
fn prefixed(prelude: Bytes, body: Option<Chunks>) -> Chunks {
    let (sender, chunks) = mpsc::channel(8);
    tokio::spawn(async move {
        if sender.send(Ok(prelude)).await.is_err() {
            return;
        }
        let Some(mut body) = body else { return };
        while let Some(chunk) = body.recv().await {
            if sender.send(chunk).await.is_err() {
                return;
            }
        }
    });
    chunks
}
