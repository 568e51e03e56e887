//! One invocation in web mode: the event as an HTTP request to the app over
//! a kept-alive local connection, and the app's answer as the source's.

use std::sync::PoisonError;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderName, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use http::{HeaderValue, Method, Request};
use lambda_sansio::http::{HttpInvocation, RequestContext};
use lambda_sansio::{TransportError, TransportErrorKind};
use lambda_sansio_blocking::http1::Connection;
use lambda_sansio_blocking::{Context, ContextExt, HandlerError, Response};
use serde_json::json;

use super::end_to_end;
use super::stream::stream_answer;
use super::Web;
use crate::command::MARGIN;

/// The largest buffered answer body read from the app: Lambda's 6 MB
/// response limit (the answer's JSON envelope must fit too).
pub(super) const MAX_BUFFERED: usize = 6 * 1024 * 1024;

/// How long a failed exchange waits to see whether the app exited.
const EXIT_NOTICE: std::time::Duration = std::time::Duration::from_millis(100);

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: [&str; 6] = ["connection", "keep-alive", "proxy-connection", "te", "upgrade", "trailer"];

impl Web {
    /// Forwards one invocation to the app and answers with what it said.
    pub(crate) fn invoke(&self, payload: &Bytes, context: &Context) -> Result<Response, HandlerError> {
        let started = Instant::now();
        let until = deadline(context);
        if let Some(ended) =
            self.app.revive(until).map_err(|cause| HandlerError::new("Runtime.WebAppFailed", cause))?
        {
            eprintln!("bootstrap: the web app had exited ({ended}) and was started again");
        }
        let (shape, request) = match HttpInvocation::read(payload, &self.config.paths) {
            HttpInvocation::Request(shape, request) => (Some(shape), self.to_app(request, context)),
            HttpInvocation::Rejected { reason, .. } if self.config.streaming => {
                let whole = HttpInvocation::streamed_rejection(&reason);
                let chunks: lambda_sansio_blocking::Chunks = Box::new(std::iter::once(Ok(whole)));
                let content_type = Some(HeaderValue::from_static(lambda_sansio::http::STREAM_CONTENT_TYPE));
                return Ok(Response::Streamed { content_type, chunks });
            }
            HttpInvocation::Rejected { answer, .. } => return Ok(Response::json(answer)),
            HttpInvocation::NotHttp(_) => (None, self.pass_through(payload.clone(), context)),
            HttpInvocation::Failed(report) => return Err(HandlerError(report)),
        };
        if self.config.streaming && shape.is_some() {
            return stream_answer(&self.authority, &request, until, started);
        }
        let mut answer = match self.exchange(&request, until) {
            Ok(answer) => answer,
            Err(error) => self.after_failure(&request, error, until, started)?,
        };
        *answer.headers_mut() = end_to_end(std::mem::take(answer.headers_mut()));
        Ok(match shape {
            Some(shape) => Response::json(HttpInvocation::answer(shape, answer)),
            // A pass-through answer goes back as the app gave it.
            None => match answer.headers().get(CONTENT_TYPE).cloned() {
                Some(content_type) => Response::Typed { content_type, body: answer.into_body() },
                None => Response::Buffered(answer.into_body()),
            },
        })
    }

    /// The request the app gets for an HTTP event: the event's method,
    /// target, headers and body, and the adapter's two context headers.
    fn to_app(&self, request: Request<Bytes>, context: &Context) -> Request<Bytes> {
        let (mut parts, body) = request.into_parts();
        for name in HOP_BY_HOP {
            parts.headers.remove(name);
        }
        parts.headers.remove(TRANSFER_ENCODING);
        parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        if !parts.headers.contains_key(HOST) {
            parts.headers.insert(HOST, self.host.clone());
        }
        if let Some(request_context) = parts.extensions.get::<RequestContext>() {
            if let Ok(value) = HeaderValue::try_from(request_context.to_json()) {
                parts.headers.insert(HeaderName::from_static("x-amzn-request-context"), value);
            }
        }
        if let Ok(value) = HeaderValue::try_from(lambda_context(context)) {
            parts.headers.insert(HeaderName::from_static("x-amzn-lambda-context"), value);
        }
        Request::from_parts(parts, body)
    }

    /// An event from no HTTP source, POSTed as it is to the pass-through
    /// path.
    fn pass_through(&self, payload: Bytes, context: &Context) -> Request<Bytes> {
        let length = HeaderValue::from(payload.len());
        let mut request = Request::new(payload);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = http::Uri::try_from(self.config.pass_through_path.as_str()).unwrap_or_default();
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_LENGTH, length);
        if let Ok(value) = HeaderValue::try_from(lambda_context(context)) {
            headers.insert(HeaderName::from_static("x-amzn-lambda-context"), value);
        }
        request
    }

    /// What a failed exchange comes to. When the app turns out to have
    /// exited, a request it never got (the connection was refused) goes to
    /// the app started again; one it may have got fails, saying so.
    fn after_failure(
        &self,
        request: &Request<Bytes>,
        error: TransportError,
        until: Instant,
        started: Instant,
    ) -> Result<http::Response<Bytes>, HandlerError> {
        let connection_level = matches!(error.kind, TransportErrorKind::Connect | TransportErrorKind::Reset);
        // At the deadline the answer is a timeout, with no time to look.
        let notice = EXIT_NOTICE.min(until.saturating_duration_since(Instant::now()));
        let looked = (connection_level && !notice.is_zero()).then(|| self.app.exited_within(notice));
        let Some(ended) = looked.flatten() else {
            return Err(failure(&error, until, started));
        };
        if error.kind != TransportErrorKind::Connect {
            return Err(HandlerError::new(
                "Function.WebAppExited",
                format!("The web app exited ({ended}) before it answered; it will be started again."),
            ));
        }
        self.pool.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.app.revive(until).map_err(|cause| HandlerError::new("Runtime.WebAppFailed", cause))?;
        eprintln!("bootstrap: the web app had exited ({ended}) and was started again");
        self.exchange(request, until).map_err(|error| failure(&error, until, started))
    }

    /// Sends `request` on a pooled connection (a fresh one when none is
    /// idle), within the deadline. A kept-alive connection the app closed
    /// meanwhile is retried once on a fresh one.
    fn exchange(
        &self,
        request: &Request<Bytes>,
        until: Instant,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let pooled = self.pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let reused = pooled.is_some();
        let mut connection = pooled.unwrap_or_else(|| Connection::new(self.authority.clone(), MAX_BUFFERED));
        connection.set_timeout(Some(until.saturating_duration_since(Instant::now())));
        let mut sent = connection.send(request);
        if reused
            && matches!(&sent, Err(error) if error.kind == TransportErrorKind::Reset)
            && Instant::now() < until
        {
            connection = Connection::new(self.authority.clone(), MAX_BUFFERED);
            connection.set_timeout(Some(until.saturating_duration_since(Instant::now())));
            sent = connection.send(request);
        }
        if sent.is_ok() {
            self.pool.lock().unwrap_or_else(PoisonError::into_inner).push(connection);
        }
        sent
    }
}

/// When the app's answer must be in: the deadline minus the margin that
/// leaves time to report a timeout.
pub(super) fn deadline(context: &Context) -> Instant {
    let left = context.remaining().unwrap_or(std::time::Duration::from_secs(900));
    Instant::now() + left.saturating_sub(MARGIN)
}

/// The invocation error for a failed exchange with the app.
pub(super) fn failure(error: &TransportError, until: Instant, started: Instant) -> HandlerError {
    if Instant::now() >= until {
        return timed_out(started);
    }
    match error.kind {
        TransportErrorKind::BodyTooLarge => HandlerError::new(
            "Function.ResponseSizeTooLarge",
            "The web app's response is over Lambda's 6 MB limit; AWS_LWA_INVOKE_MODE=response_stream streams up to 200 MB.",
        ),
        TransportErrorKind::Connect => HandlerError::new(
            "Function.WebAppUnreachable",
            format!("The web app does not accept connections ({}).", error.detail),
        ),
        TransportErrorKind::MalformedResponse => HandlerError::new(
            "Function.WebAppInvalidResponse",
            format!("The web app's answer is not valid HTTP/1.1: {}.", error.detail),
        ),
        _ => HandlerError::new(
            "Function.WebAppConnectionLost",
            format!("The web app closed the connection before it answered ({}).", error.detail),
        ),
    }
}

/// `Function.Timeout`, worded as Lambda words it.
pub(super) fn timed_out(started: Instant) -> HandlerError {
    let seconds = started.elapsed().as_secs_f64();
    HandlerError::new("Function.Timeout", format!("Task timed out after {seconds:.2} seconds"))
}

/// The adapter's `x-amzn-lambda-context`: the invocation's context as JSON.
fn lambda_context(context: &Context) -> String {
    json!({
        "request_id": context.request_id.as_str(),
        "deadline": context.deadline_ms(),
        "invoked_function_arn": context.invoked_function_arn,
        "xray_trace_id": context.trace_id,
        "client_context": context.client_context.as_ref().and_then(|c| serde_json::to_value(c).ok()),
        "identity": context.identity.as_ref().and_then(|i| serde_json::to_value(i).ok()),
        "tenant_id": context.tenant_id,
    })
    .to_string()
}
