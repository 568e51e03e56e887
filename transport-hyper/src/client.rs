//! One keep-alive HTTP/1.1 client connection per slot, reopened on failure:
//! core's sans-IO codec over a tokio `TcpStream`, run in the caller's task.
//!
//! An exchange is one write (head and body together up to 16 KiB) and then
//! reads until the answer is whole: on a quiet connection, a send, one wait
//! and a receive. There is no connection task to hand the answer over, so
//! a classic-mode invocation wakes nothing but the task that waits for it.
//! A `next` pipelined behind a buffered answer goes out in the same write
//! ([`Client::send_pipelined`]).
//!
//! Guarantees, as in the blocking transport: reads never time out (long
//! polls); at most the body limit of an answer is held (a larger one fails
//! with [`TransportErrorKind::BodyTooLarge`], refused from its declared
//! length without waiting for the body); an answer the server sends before
//! it has read the whole request (an early `413` with `Connection: close`)
//! is read and returned even when writing the rest failed; a partly read
//! answer is acknowledged at once (Linux `TCP_QUICKACK`), so a server that
//! writes head and body in separate segments with Nagle's algorithm on does
//! not wait for the delayed-ACK timer.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, Response};
use lambda_sansio::context::HandlerError;
use lambda_sansio::http1::{
    end_exchange, second_after_first, second_before_reading, write_chunk, write_head, write_last_chunk,
    write_pipelined, DecodeError, Limits, Pipelined, ResponseDecoder,
};
use lambda_sansio::runtime::stream_error_trailers;
use lambda_sansio::{TransportError, TransportErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Largest answer body read: an event is at most 6 MiB + 100 bytes.
pub const MAX_EVENT: usize = 6 * 1024 * 1024 + 4096;
/// Request bodies up to this size go out in one write with the head.
const COALESCE: usize = 16 * 1024;
/// Room made in the read buffer before each read.
const READ_SIZE: usize = 64 * 1024;

/// The chunks of a streamed response; an `Err` ends the body with the error
/// trailers.
pub type Chunks = mpsc::Receiver<Result<Bytes, HandlerError>>;

/// A connection to `authority`, opened on first use and after a failure.
pub(crate) struct Client {
    authority: String,
    limits: Limits,
    stream: Option<TcpStream>,
    buffer: BytesMut,
    out: Vec<u8>,
}

fn error(kind: TransportErrorKind, detail: impl std::fmt::Display) -> TransportError {
    TransportError::new(kind, detail.to_string())
}

fn reset(detail: impl std::fmt::Display) -> TransportError {
    error(TransportErrorKind::Reset, detail)
}

impl Client {
    /// A client for `authority` (`host:port`); answer bodies over
    /// `max_body` bytes are refused.
    pub(crate) fn new(authority: impl Into<String>, max_body: usize) -> Self {
        Self {
            authority: authority.into(),
            limits: Limits::with_max_body(max_body),
            stream: None,
            buffer: BytesMut::new(),
            out: Vec::new(),
        }
    }

    /// Sends `request` and reads the whole, bounded answer.
    pub(crate) async fn send(&mut self, request: Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let result = self.exchange(&request, None).await;
        self.finish(&request, result)
    }

    /// Sends the head of `request` with a chunked body made of `chunks`
    /// (sent as each arrives), then reads the whole answer.
    pub(crate) async fn send_streaming(
        &mut self,
        request: Request<Bytes>,
        chunks: Chunks,
    ) -> Result<Response<Bytes>, TransportError> {
        let result = self.exchange(&request, Some(chunks)).await;
        self.finish(&request, result)
    }

    /// Sends two buffered requests in one write, the second pipelined behind
    /// the first, and reads both answers in order. What became of the
    /// second depends on the first: see [`Pipelined`].
    pub(crate) async fn send_pipelined(
        &mut self,
        first: &Request<Bytes>,
        second: &Request<Bytes>,
    ) -> (Result<Response<Bytes>, TransportError>, Pipelined<TransportError>) {
        if let Err(error) = self.connect().await {
            return (Err(error), Pipelined::Lost);
        }
        let Some(stream) = self.stream.as_mut() else {
            return (Err(reset("no connection")), Pipelined::Lost);
        };
        // The machine pipelines only behind bodies of at most
        // `PIPELINED_MAX_BODY`, so the buffer kept for writes stays small.
        self.out.clear();
        write_pipelined(&mut self.out, first, second);
        let written = stream.write_all(&self.out).await.map_err(reset);
        let (answer, kept) =
            end_exchange(first, answer_after(stream, &mut self.buffer, self.limits, written).await);
        if let Some(fate) = second_after_first(&answer, kept) {
            self.stream = None;
            return (answer, fate);
        }
        let Some(stream) = self.stream.as_mut() else { return (answer, Pipelined::NotServed) };
        if let Some(fate) = second_before_reading(closed_before_any_byte(stream, &mut self.buffer).await) {
            self.stream = None;
            return (answer, fate);
        }
        let mut decoder = ResponseDecoder::new(self.limits);
        let second_answer =
            read_answer(stream, &mut self.buffer, &mut decoder).await.map_err(TransportError::from);
        (answer, Pipelined::Answer(self.finish(second, second_answer)))
    }

    /// Keeps the connection only when [`end_exchange`] allows it.
    fn finish(
        &mut self,
        request: &Request<Bytes>,
        result: Result<(Response<Bytes>, bool), TransportError>,
    ) -> Result<Response<Bytes>, TransportError> {
        let (result, keep) = end_exchange(request, result);
        if !keep {
            self.stream = None;
        }
        result
    }

    async fn connect(&mut self) -> Result<(), TransportError> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| error(TransportErrorKind::Connect, format_args!("{}: {e}", self.authority)))?;
            stream.set_nodelay(true).map_err(|e| error(TransportErrorKind::Connect, e))?;
            self.buffer.clear();
            self.stream = Some(stream);
        }
        Ok(())
    }

    async fn exchange(
        &mut self,
        request: &Request<Bytes>,
        chunks: Option<Chunks>,
    ) -> Result<(Response<Bytes>, bool), TransportError> {
        self.connect().await?;
        let Some(stream) = self.stream.as_mut() else { return Err(reset("no connection")) };
        let written = write_request(stream, &mut self.out, request, chunks).await;
        answer_after(stream, &mut self.buffer, self.limits, written).await
    }
}

/// The answer to a request whose writing ended with `written`. The server
/// may have answered before reading everything (an early 413) and closed:
/// that answer is then the outcome, not the broken write, and the
/// connection is not kept.
async fn answer_after(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
    limits: Limits,
    written: Result<(), TransportError>,
) -> Result<(Response<Bytes>, bool), TransportError> {
    let answer = read_answer(stream, buffer, &mut ResponseDecoder::new(limits)).await;
    match (written, answer) {
        (Ok(()), answer) => answer.map_err(TransportError::from),
        (Err(_), Ok((response, _))) => Ok((response, false)),
        (Err(write_error), Err(_)) => Err(write_error),
    }
}

/// Whether the connection ended, cleanly, before a byte of the next answer:
/// nothing buffered, and a read finds the end. What the read finds is kept.
async fn closed_before_any_byte(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
) -> Result<bool, TransportError> {
    if !buffer.is_empty() {
        return Ok(false);
    }
    buffer.reserve(READ_SIZE);
    let read = stream.read_buf(buffer).await.map_err(reset)?;
    Ok(read == 0)
}

/// Writes the head and the body (buffered, or the chunks as they arrive).
async fn write_request(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    request: &Request<Bytes>,
    chunks: Option<Chunks>,
) -> Result<(), TransportError> {
    out.clear();
    write_head(out, request, chunks.is_some());
    match chunks {
        None if request.body().len() <= COALESCE => {
            out.extend_from_slice(request.body());
            stream.write_all(out).await.map_err(reset)
        }
        None => {
            stream.write_all(out).await.map_err(reset)?;
            stream.write_all(request.body()).await.map_err(reset)
        }
        Some(mut chunks) => {
            stream.write_all(out).await.map_err(reset)?;
            let mut trailers = HeaderMap::new();
            while let Some(chunk) = chunks.recv().await {
                match chunk {
                    Ok(data) => {
                        out.clear();
                        write_chunk(out, &data);
                        stream.write_all(out).await.map_err(reset)?;
                    }
                    Err(HandlerError(report)) => {
                        trailers = stream_error_trailers(&report);
                        break;
                    }
                }
            }
            out.clear();
            write_last_chunk(out, &trailers);
            stream.write_all(out).await.map_err(reset)
        }
    }
}

/// Reads until `decoder` has a whole answer; `true` with it when the
/// connection can carry another exchange.
async fn read_answer(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
    decoder: &mut ResponseDecoder,
) -> Result<(Response<Bytes>, bool), DecodeError> {
    loop {
        if let Some(decoded) = decoder.decode(buffer)? {
            return Ok((decoded.response, decoded.reusable));
        }
        if decoder.is_mid_answer() {
            acknowledge_now(stream);
        }
        buffer.reserve(READ_SIZE);
        let read = stream.read_buf(buffer).await.map_err(|e| DecodeError::reset(e.to_string()))?;
        if read == 0 {
            return match decoder.decode_eof(buffer)? {
                Some(decoded) => Ok((decoded.response, decoded.reusable)),
                None => Err(DecodeError::reset("the connection closed before an answer")),
            };
        }
    }
}

#[cfg(target_os = "linux")]
fn acknowledge_now(stream: &TcpStream) {
    // Best effort: without it the exchange is slower, not wrong.
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn acknowledge_now(_: &TcpStream) {}
