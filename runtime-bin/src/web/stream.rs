//! Streamed answers (`AWS_LWA_INVOKE_MODE=response_stream`): the app's
//! status and headers go out as the stream's prelude as soon as they
//! arrive, then its body as it comes, so a slow or endless answer (server-
//! sent events, tokens of a model) reaches the client at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::header::CONNECTION;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use lambda_sansio::http::{stream_prelude, STREAM_CONTENT_TYPE};
use lambda_sansio::{TransportError, TransportErrorKind};
use lambda_sansio_blocking::http1::{connect, write_head, Limits, ResponseDecoder};
use lambda_sansio_blocking::{Chunks, HandlerError, Response};

use super::end_to_end;
use super::forward::{failure, timed_out};

/// The most a streamed answer may carry: Lambda's streaming limit.
const MAX_STREAMED: usize = 200 * 1024 * 1024;
/// Bytes read from the app at a time.
const READ_SIZE: usize = 64 * 1024;

/// Sends `request` on a connection of its own and streams the answer.
pub(super) fn stream_answer(
    authority: &str,
    request: &Request<Bytes>,
    until: Instant,
    started: Instant,
) -> Result<Response, HandlerError> {
    let fail = |kind, detail: String| failure(&TransportError::new(kind, detail), until, started);
    let left = until.saturating_duration_since(Instant::now()).max(std::time::Duration::from_millis(1));
    let mut tcp = connect(authority, Some(left))
        .map_err(|e| fail(TransportErrorKind::Connect, format!("{authority}: {e}")))?;
    let reset = |e: std::io::Error| fail(TransportErrorKind::Reset, e.to_string());
    tcp.set_nodelay(true).map_err(reset)?;
    tcp.set_read_timeout(Some(left)).map_err(reset)?;
    tcp.set_write_timeout(Some(left)).map_err(reset)?;
    let mut head = Vec::with_capacity(512 + request.body().len());
    let mut closing = request.clone();
    closing.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    write_head(&mut head, &closing, false);
    head.extend_from_slice(request.body());
    tcp.write_all(&head).map_err(reset)?;
    let mut body = StreamBody {
        tcp,
        decoder: ResponseDecoder::new(Limits::with_max_body(MAX_STREAMED)),
        buffer: BytesMut::new(),
        scratch: vec![0; READ_SIZE].into_boxed_slice(),
        rest: None,
        done: false,
        until,
        started,
    };
    let (status, headers) = body.read_head()?;
    let mut prelude_head = http::Response::new(());
    *prelude_head.status_mut() = status;
    *prelude_head.headers_mut() = headers;
    let first = stream_prelude(&prelude_head.into_parts().0);
    let chunks: Chunks = Box::new(std::iter::once(Ok(first)).chain(body));
    Ok(Response::Streamed { content_type: Some(HeaderValue::from_static(STREAM_CONTENT_TYPE)), chunks })
}

/// The app's answer body, read as it arrives.
struct StreamBody {
    tcp: TcpStream,
    decoder: ResponseDecoder,
    buffer: BytesMut,
    scratch: Box<[u8]>,
    /// The end of an answer that arrived whole.
    rest: Option<Bytes>,
    done: bool,
    until: Instant,
    started: Instant,
}

impl StreamBody {
    /// Reads until the answer's head is in; its framing headers stay here.
    fn read_head(&mut self) -> Result<(StatusCode, HeaderMap), HandlerError> {
        loop {
            if let Some(whole) = self.decode()? {
                let (parts, rest) = whole.into_parts();
                self.rest = Some(rest);
                return Ok((parts.status, end_to_end(parts.headers)));
            }
            if let Some((status, headers)) = self.decoder.head() {
                return Ok((status, end_to_end(headers.clone())));
            }
            self.read_more()?;
        }
    }

    fn decode(&mut self) -> Result<Option<http::Response<Bytes>>, HandlerError> {
        match self.decoder.decode(&mut self.buffer) {
            Ok(whole) => Ok(whole.map(|decoded| decoded.response)),
            Err(error) => Err(self.failed(error.kind, error.detail)),
        }
    }

    /// Reads from the app; at its end, completes an answer that runs until
    /// the connection closes.
    fn read_more(&mut self) -> Result<(), HandlerError> {
        let read = self
            .tcp
            .read(&mut self.scratch)
            .map_err(|e| self.failed(TransportErrorKind::Reset, e.to_string()))?;
        if read == 0 {
            return match self.decoder.decode_eof(&mut self.buffer) {
                Ok(Some(decoded)) => {
                    self.rest = Some(decoded.response.into_body());
                    Ok(())
                }
                Ok(None) => {
                    Err(self
                        .failed(TransportErrorKind::Reset, "the connection closed before an answer".into()))
                }
                Err(error) => Err(self.failed(error.kind, error.detail)),
            };
        }
        self.buffer.extend_from_slice(&self.scratch[..read]);
        Ok(())
    }

    fn failed(&self, kind: TransportErrorKind, detail: String) -> HandlerError {
        failure(&TransportError::new(kind, detail), self.until, self.started)
    }

    fn next_chunk(&mut self) -> Result<Option<Bytes>, HandlerError> {
        loop {
            if let Some(rest) = self.rest.take() {
                self.done = true;
                return Ok(Some(rest));
            }
            if let Some(whole) = self.decode()? {
                self.rest = Some(whole.into_body());
                continue;
            }
            let partial = self.decoder.take_partial_body();
            if !partial.is_empty() {
                return Ok(Some(partial));
            }
            if Instant::now() >= self.until {
                return Err(timed_out(self.started));
            }
            self.read_more()?;
        }
    }
}

impl Iterator for StreamBody {
    type Item = Result<Bytes, HandlerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(chunk)) if chunk.is_empty() && self.done => None,
            Ok(chunk) => chunk.map(Ok),
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}
