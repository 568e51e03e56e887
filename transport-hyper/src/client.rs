//! One keep-alive HTTP/1.1 client connection per slot, reopened on failure.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lambda_sansio::context::HandlerError;
use lambda_sansio::runtime::stream_error_trailers;
use lambda_sansio::{TransportError, TransportErrorKind};
use tokio::net::TcpStream;

use crate::client_io::ClientIo;
use tokio::sync::mpsc;

/// Largest answer body read: an event is at most 6 MiB + 100 bytes.
pub const MAX_EVENT: usize = 6 * 1024 * 1024 + 4096;
/// Most headers in an answer: as many as the blocking transport reads, more
/// than hyper's default of 100.
const MAX_HEADERS: usize = 128;
/// Largest answer head read, as in the blocking transport.
const MAX_HEAD: usize = 512 * 1024;

/// A connection to `authority`, opened on first use and after a failure.
/// Reads never time out (long polls); bodies are bounded by `max_body`.
pub(crate) struct Client {
    authority: String,
    max_body: usize,
    sender: Option<SendRequest<BoxBody<Bytes, Infallible>>>,
}

/// The chunks of a streamed response; an `Err` ends the body with the error
/// trailers.
pub type Chunks = mpsc::Receiver<Result<Bytes, HandlerError>>;

/// A request body made of `Chunks`.
struct ChunkBody {
    chunks: Chunks,
    done: bool,
}

impl Body for ChunkBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.chunks.poll_recv(cx) {
            Poll::Ready(Some(Ok(data))) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Poll::Ready(Some(Err(HandlerError(report)))) => {
                self.done = true;
                Poll::Ready(Some(Ok(Frame::trailers(stream_error_trailers(&report)))))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn error(kind: TransportErrorKind, detail: impl std::fmt::Display) -> TransportError {
    TransportError::new(kind, detail.to_string())
}

/// Sends `request` in origin form (`GET /path HTTP/1.1` with a `Host`
/// header), as every other client does; the absolute form is for proxies.
pub(crate) fn to_origin_form<B>(request: &mut Request<B>) {
    let origin = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    if let Ok(uri) = origin.parse() {
        *request.uri_mut() = uri;
    }
}

/// An answer's head as HTTP/1 text, for the machine to read ids from when
/// the body cannot be read.
fn head_text(parts: &http::response::Parts) -> Bytes {
    let mut text = format!("HTTP/1.1 {}\r\n", parts.status.as_u16()).into_bytes();
    for (name, value) in &parts.headers {
        text.extend_from_slice(name.as_str().as_bytes());
        text.extend_from_slice(b": ");
        text.extend_from_slice(value.as_bytes());
        text.extend_from_slice(b"\r\n");
    }
    text.extend_from_slice(b"\r\n");
    Bytes::from(text)
}

impl Client {
    /// A client for `authority` (`host:port`).
    pub(crate) fn new(authority: impl Into<String>, max_body: usize) -> Self {
        Self { authority: authority.into(), max_body, sender: None }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<BoxBody<Bytes, Infallible>>, TransportError> {
        let reusable = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !reusable {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| error(TransportErrorKind::Connect, format_args!("{}: {e}", self.authority)))?;
            stream.set_nodelay(true).map_err(|e| error(TransportErrorKind::Connect, e))?;
            let (sender, connection) = hyper::client::conn::http1::Builder::new()
                .max_headers(MAX_HEADERS)
                .max_buf_size(MAX_HEAD)
                .handshake(TokioIo::new(ClientIo::new(stream)))
                .await
                .map_err(|e| error(TransportErrorKind::Connect, e))?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| error(TransportErrorKind::Connect, "no connection"))
    }

    /// Sends `request` and reads the whole, bounded answer.
    pub(crate) async fn send(&mut self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        self.send_body(request.map(|body| Full::new(body).boxed())).await
    }

    /// Sends the head of `request` with a chunked body made of `chunks`.
    pub(crate) async fn send_streaming(
        &mut self,
        request: Request<Bytes>,
        chunks: Chunks,
    ) -> Result<Response<Bytes>, TransportError> {
        self.send_body(request.map(|_| ChunkBody { chunks, done: false }.boxed())).await
    }

    async fn send_body(
        &mut self,
        request: Request<BoxBody<Bytes, Infallible>>,
    ) -> Result<Response<Bytes>, TransportError> {
        let result = self.exchange(request).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        mut request: Request<BoxBody<Bytes, Infallible>>,
    ) -> Result<Response<Bytes>, TransportError> {
        let max_body = self.max_body;
        to_origin_form(&mut request);
        let sender = self.connect().await?;
        sender.ready().await.map_err(|e| error(TransportErrorKind::Reset, e))?;
        // A parse error leaves no head to read ids from: hyper does not keep it.
        let response = sender.send_request(request).await.map_err(|e| {
            let kind =
                if e.is_parse() { TransportErrorKind::MalformedResponse } else { TransportErrorKind::Reset };
            error(kind, e)
        })?;
        let (parts, body) = response.into_parts();
        let too_large = || {
            error(TransportErrorKind::BodyTooLarge, format_args!("the body is longer than {max_body} bytes"))
                .with_head(head_text(&parts))
        };
        // Refused from the declared length, without waiting for a body that
        // may never come.
        if body.size_hint().exact().is_some_and(|declared| declared > max_body as u64) {
            return Err(too_large());
        }
        let body = match Limited::new(body, max_body).collect().await {
            Ok(body) => body,
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(e) => return Err(error(TransportErrorKind::Reset, e)),
        };
        Ok(Response::from_parts(parts, body.to_bytes()))
    }
}
