//! One keep-alive HTTP/1.1 client connection per slot, reopened on failure.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lambda_sansio::{TransportError, TransportErrorKind};
use tokio::net::TcpStream;

/// Largest answer body read: an event is at most 6 MiB + 100 bytes.
pub const MAX_EVENT: usize = 6 * 1024 * 1024 + 4096;

/// A connection to `authority`, opened on first use and after a failure.
/// Reads never time out (long polls); bodies are bounded by `max_body`.
pub struct Client {
    authority: String,
    max_body: usize,
    sender: Option<SendRequest<Full<Bytes>>>,
}

fn error(kind: TransportErrorKind, detail: impl std::fmt::Display) -> TransportError {
    TransportError::new(kind, detail.to_string())
}

impl Client {
    /// A client for `authority` (`host:port`).
    pub fn new(authority: impl Into<String>, max_body: usize) -> Self {
        Self { authority: authority.into(), max_body, sender: None }
    }

    async fn connect(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, TransportError> {
        let reusable = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !reusable {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| error(TransportErrorKind::Connect, format_args!("{}: {e}", self.authority)))?;
            stream.set_nodelay(true).map_err(|e| error(TransportErrorKind::Connect, e))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| error(TransportErrorKind::Connect, e))?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| error(TransportErrorKind::Connect, "no connection"))
    }

    /// Sends `request` and reads the whole, bounded answer.
    pub async fn send(&mut self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let result = self.exchange(request).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn exchange(&mut self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let max_body = self.max_body;
        let sender = self.connect().await?;
        sender.ready().await.map_err(|e| error(TransportErrorKind::Reset, e))?;
        let response = sender.send_request(request.map(Full::new)).await.map_err(|e| {
            error(
                if e.is_parse() { TransportErrorKind::MalformedResponse } else { TransportErrorKind::Reset },
                e,
            )
        })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_body).collect().await.map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                error(TransportErrorKind::BodyTooLarge, format_args!("answer body over {max_body} bytes"))
            } else {
                error(TransportErrorKind::Reset, e)
            }
        })?;
        Ok(Response::from_parts(parts, body.to_bytes()))
    }
}
