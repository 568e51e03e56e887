//! The emulator's HTTP/1.1 server: the Lambda APIs, the invoke endpoint, and
//! fault injection. It moves bytes; the platform machine decides.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use std::time::Duration;

use bytes::BytesMut;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_sansio::platform::{body_read_limit, ConnId, UnreadableBody};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::actor::Command;
use super::faults::{Fault, FaultRule};
use super::outcome::InvokeOutcome;

/// The invoke endpoint of AWS's Runtime Interface Emulator.
pub const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";
/// Largest invoke payload (the synchronous invoke limit).
const MAX_INVOKE: usize = 6 * 1024 * 1024;
/// Most of a streamed answer the emulator holds in memory (Lambda takes up
/// to 200 MB); beyond it the answer is refused as too large.
const MAX_STREAMED_IN_MEMORY: usize = 64 * 1024 * 1024;

type ResponseBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub(crate) struct Server {
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) timeout_secs: f64,
    requests: AtomicU64,
    connections: AtomicU64,
    /// API requests whose target was in absolute form (`GET http://host/...`,
    /// the form meant for proxies) rather than origin form.
    pub(crate) absolute_form: Arc<AtomicU64>,
}

impl Server {
    pub(crate) fn new(
        commands: mpsc::UnboundedSender<Command>,
        faults: Vec<FaultRule>,
        timeout_secs: f64,
    ) -> Self {
        Self {
            commands,
            faults,
            timeout_secs,
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            absolute_form: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Accepts connections until the listener fails.
    pub(crate) async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let server = Arc::clone(&self);
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let server = Arc::clone(&server);
                    async move { server.route(request).await }
                });
                // Malformed HTTP is answered 400 by hyper and the connection closed.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn route(&self, request: Request<Incoming>) -> Result<Response<ResponseBody>, InjectedReset> {
        if request.uri().path() == INVOKE_PATH {
            return Ok(self.invoke(request).await);
        }
        if request.uri().scheme().is_some() {
            self.absolute_form.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "emulator: {} {} arrived in absolute form; Lambda clients send origin form (a path and a Host header)",
                request.method(),
                request.uri()
            );
        }
        let nth = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let fault = self.faults.iter().find(|rule| rule.nth == nth).map(|rule| rule.fault.clone());
        match fault {
            Some(Fault::Status(status)) => {
                return Ok(error(status, "InjectedFault", "fault injected by the emulator"))
            }
            Some(Fault::Reset) => return Err(InjectedReset),
            Some(Fault::Delay(wait)) => tokio::time::sleep(wait).await,
            Some(Fault::Truncate) | None => {}
        }
        let conn = ConnId(self.connections.fetch_add(1, Ordering::Relaxed));
        let (request, unreadable) = match read_api_request(request).await {
            ReadRequest::Whole(request) => (request, None),
            ReadRequest::Unreadable(head, problem) => (head, Some(problem)),
        };
        let (reply, answer) = oneshot::channel();
        let mut guard = CloseGuard { conn, commands: self.commands.clone(), armed: true };
        let request = Box::new(request);
        if self.commands.send(Command::Api { conn, request, unreadable, reply }).is_err() {
            return Ok(error(503, "ServiceUnavailable", "the emulator is stopping"));
        }
        let Ok(response) = answer.await else {
            guard.armed = false;
            return Ok(error(503, "ServiceUnavailable", "the emulator is stopping"));
        };
        guard.armed = false;
        if fault == Some(Fault::Truncate) {
            let _ = self.commands.send(Command::Undelivered { conn });
            return Ok(truncated(response));
        }
        let mut response = response.map(|body| Full::new(body).map_err(|never| match never {}).boxed());
        if unreadable.is_some() {
            // The rest of the body was not read: this connection is done.
            response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    }

    async fn invoke(&self, request: Request<Incoming>) -> Response<ResponseBody> {
        if request.method() != Method::POST {
            return error(405, "MethodNotAllowed", "invoke with POST");
        }
        let payload = match read_body(&mut request.into_body(), MAX_INVOKE).await {
            Ok((payload, _)) => payload,
            Err(UnreadableBody::TooLarge) => {
                return error(413, "RequestEntityTooLarge", "the invoke payload exceeds 6 MiB")
            }
            Err(UnreadableBody::Truncated) => {
                return error(400, "TruncatedHTTPRequest", "the invoke payload ended early")
            }
        };
        let (reply, outcome) = oneshot::channel();
        if self.commands.send(Command::Invoke { payload, reply }).is_err() {
            return error(503, "ServiceUnavailable", "the emulator is stopping");
        }
        match outcome.await {
            Ok(InvokeOutcome::Response(body)) => full(StatusCode::OK, body),
            Ok(InvokeOutcome::Error(_, body)) => function_error(body),
            Ok(InvokeOutcome::TimedOut) => function_error(error_json(
                "Sandbox.Timedout",
                &format!("Task timed out after {:.2} seconds", self.timeout_secs),
            )),
            Ok(InvokeOutcome::Aborted(reason)) => function_error(error_json("Runtime.Unavailable", &reason)),
            Err(_) => error(503, "ServiceUnavailable", "the emulator is stopping"),
        }
    }
}

/// A request as read from the wire.
enum ReadRequest {
    /// The whole request, trailers merged into the head.
    Whole(Request<Bytes>),
    /// The head (with an empty body) of a request whose body could not be
    /// read whole.
    Unreadable(Request<Bytes>, UnreadableBody),
}

/// How much of an oversized body is read and thrown away before answering,
/// so that a client that writes its whole body before reading still gets
/// the answer instead of a broken pipe.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;
/// How long the drain may take.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads a request whole (bounded), merging trailers into the head so the
/// platform sees a streamed answer's error trailers.
async fn read_api_request(request: Request<Incoming>) -> ReadRequest {
    let limit = body_read_limit(request.headers()).min(MAX_STREAMED_IN_MEMORY);
    let (mut parts, mut body) = request.into_parts();
    match read_body(&mut body, limit).await {
        Ok((data, trailers)) => {
            for (name, value) in &trailers {
                parts.headers.append(name.clone(), value.clone());
            }
            ReadRequest::Whole(Request::from_parts(parts, data))
        }
        Err(problem) => ReadRequest::Unreadable(Request::from_parts(parts, Bytes::new()), problem),
    }
}

/// Reads `body` whole, with its trailers, if it is at most `limit` bytes.
/// An oversized body is refused (from its declared length when it has one)
/// and drained within bounds, so the client can read the answer.
async fn read_body(body: &mut Incoming, limit: usize) -> Result<(Bytes, HeaderMap), UnreadableBody> {
    let declared = body.size_hint().exact().and_then(|n| usize::try_from(n).ok());
    if let Some(declared) = declared.filter(|&n| n > limit) {
        if declared <= limit + DRAIN_BYTES {
            drain(body).await;
        }
        return Err(UnreadableBody::TooLarge);
    }
    let mut data = BytesMut::new();
    let mut trailers = HeaderMap::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| UnreadableBody::Truncated)?;
        match frame.into_data() {
            Ok(chunk) if data.len() + chunk.len() > limit => {
                drain(body).await;
                return Err(UnreadableBody::TooLarge);
            }
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(frame) => {
                if let Ok(more) = frame.into_trailers() {
                    trailers.extend(more);
                }
            }
        }
    }
    Ok((data.freeze(), trailers))
}

/// Reads and discards the rest of `body`, within [`DRAIN_BYTES`] and
/// [`DRAIN_TIME`].
async fn drain(body: &mut Incoming) {
    let mut left = DRAIN_BYTES;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            let read = frame.data_ref().map_or(0, Bytes::len);
            if read >= left {
                return;
            }
            left -= read;
        }
    })
    .await;
}

/// The service error that makes hyper drop a connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection reset injected by the emulator")]
pub(crate) struct InjectedReset;

/// Tells the actor when a request's future is dropped before its answer:
/// the client went away, so a parked long poll must be forgotten.
struct CloseGuard {
    conn: ConnId,
    commands: mpsc::UnboundedSender<Command>,
    armed: bool,
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.commands.send(Command::Closed { conn: self.conn });
        }
    }
}

fn error_json(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string())
}

fn full(status: StatusCode, body: Bytes) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: u16, error_type: &str, message: &str) -> Response<ResponseBody> {
    full(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        error_json(error_type, message),
    )
}

/// A failed invocation, as the invoke API reports it.
fn function_error(body: Bytes) -> Response<ResponseBody> {
    let mut response = full(StatusCode::OK, body);
    response.headers_mut().insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
    response
}

/// `response` with its full `Content-Length` but only half its body, then a
/// broken connection.
fn truncated(response: Response<Bytes>) -> Response<ResponseBody> {
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len().max(1)));
    let half = body.slice(..body.len() / 2);
    Response::from_parts(parts, TruncatedBody { data: Some(half) }.boxed())
}

struct TruncatedBody {
    data: Option<Bytes>,
}

impl Body for TruncatedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.data.take() {
            Some(data) if !data.is_empty() => Poll::Ready(Some(Ok(Frame::data(data)))),
            _ => Poll::Ready(Some(Err("body truncated by the emulator".into()))),
        }
    }
}
