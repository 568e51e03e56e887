//! HTTP/1.1 for the blocking transport, as a building block: core's
//! sans-IO codec (re-exported here) and a blocking keep-alive client
//! [`Connection`] over `std::net` with it: `TCP_NODELAY`, `Content-Length`
//! and chunked bodies, chunked request bodies with trailers, bounded answers
//! read by [`ResponseDecoder`], and no read timeout unless asked.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Request, Response};
pub use lambda_sansio::http1::{
    end_exchange, wants_close, write_chunk, write_head, write_last_chunk, DecodeError, Decoded, Limits,
    RequestDecoder, ResponseDecoder, MAX_HEAD, MAX_HEADERS,
};
use lambda_sansio::http1::{second_after_first, second_before_reading, write_pipelined};
use lambda_sansio::{TransportError, TransportErrorKind};

/// Request bodies up to this size go out in one write with the head.
const COALESCE: usize = 16 * 1024;
/// Bytes read from the socket at a time.
const READ_SIZE: usize = 64 * 1024;

fn error(kind: TransportErrorKind, detail: impl std::fmt::Display) -> TransportError {
    TransportError::new(kind, detail.to_string())
}

fn reset(detail: impl std::fmt::Display) -> TransportError {
    error(TransportErrorKind::Reset, detail)
}

/// Connects to `authority` (`host:port`), within `timeout` per address when
/// one is given (without one, as long as the system allows).
pub fn connect(authority: &str, timeout: Option<std::time::Duration>) -> std::io::Result<TcpStream> {
    let Some(timeout) = timeout else { return TcpStream::connect(authority) };
    let mut last = None;
    for address in std::net::ToSocketAddrs::to_socket_addrs(authority)? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address")))
}

/// One keep-alive connection to `authority`, reopened when needed.
///
/// Guarantees: at most the body limit of an answer is held in memory (a
/// larger answer fails with [`TransportErrorKind::BodyTooLarge`] and the
/// connection is dropped); reads never time out, as long polls require; an
/// answer the server sends before it has read the whole request (an early
/// `413`) is read and returned even when writing the rest of the request
/// failed; a server that sends an answer's head and body in separate
/// segments does not cost a delayed-ACK stall (Linux: `TCP_QUICKACK`).
pub struct Connection {
    authority: String,
    limits: Limits,
    stream: Option<TcpStream>,
    buffer: BytesMut,
    scratch: Box<[u8]>,
    io_timeout: Option<std::time::Duration>,
}

impl Connection {
    /// A connection to `authority` (`host:port`), opened on first use.
    /// Answer bodies over `max_body` bytes are refused.
    pub fn new(authority: impl Into<String>, max_body: usize) -> Self {
        Self {
            authority: authority.into(),
            limits: Limits::with_max_body(max_body),
            stream: None,
            buffer: BytesMut::new(),
            scratch: vec![0; READ_SIZE].into_boxed_slice(),
            io_timeout: None,
        }
    }

    /// The same, with connect, read and write timeouts: for servers that
    /// are not Lambda's (a sink), where no long poll is expected and a hung
    /// peer must not hold the caller for good. A timeout is a
    /// [`TransportErrorKind::Reset`] and drops the connection.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.io_timeout = Some(timeout);
        self
    }

    /// Changes the connect, read and write timeout, for the open connection
    /// too: a caller with a deadline per exchange sets what is left of it
    /// before each one (a zero timeout is taken as one millisecond). `None`:
    /// no timeout.
    pub fn set_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.io_timeout = timeout.map(|timeout| timeout.max(std::time::Duration::from_millis(1)));
        if let Some(stream) = &self.stream {
            if stream
                .set_read_timeout(self.io_timeout)
                .and_then(|()| stream.set_write_timeout(self.io_timeout))
                .is_err()
            {
                self.stream = None;
            }
        }
    }

    fn stream(&mut self) -> Result<&mut TcpStream, TransportError> {
        if self.stream.is_none() {
            let tcp = connect(&self.authority, self.io_timeout)
                .map_err(|e| error(TransportErrorKind::Connect, format_args!("{}: {e}", self.authority)))?;
            tcp.set_nodelay(true).map_err(reset)?;
            tcp.set_read_timeout(self.io_timeout).map_err(reset)?;
            tcp.set_write_timeout(self.io_timeout).map_err(reset)?;
            self.buffer.clear();
            self.stream = Some(tcp);
        }
        self.stream.as_mut().ok_or_else(|| reset("no connection"))
    }

    /// Sends a request with a buffered body and reads the whole answer.
    pub fn send(&mut self, request: &Request<Bytes>) -> Result<Response<Bytes>, TransportError> {
        let result = self.exchange(request, None);
        self.finish(request, result)
    }

    /// Sends the head of `request` with a chunked body made of `chunks`;
    /// when a chunk is `Err(trailers)`, the body ends there with those
    /// trailers. Reads the whole answer.
    pub fn send_streaming(
        &mut self,
        request: &Request<Bytes>,
        chunks: &mut dyn Iterator<Item = Result<Bytes, HeaderMap>>,
    ) -> Result<Response<Bytes>, TransportError> {
        let result = self.exchange(request, Some(chunks));
        self.finish(request, result)
    }

    /// Sends two buffered requests in one write, the second pipelined behind
    /// the first, and reads both answers in order. What became of the
    /// second depends on the first: see [`Pipelined`].
    pub fn send_pipelined(
        &mut self,
        first: &Request<Bytes>,
        second: &Request<Bytes>,
    ) -> (Result<Response<Bytes>, TransportError>, Pipelined) {
        let limits = self.limits;
        if let Err(error) = self.stream() {
            return (Err(error), Pipelined::Lost);
        }
        let Some(stream) = self.stream.as_mut() else {
            return (Err(reset("no connection")), Pipelined::Lost);
        };
        let mut out = Vec::new();
        write_pipelined(&mut out, first, second);
        let written = stream.write_all(&out).and_then(|()| stream.flush()).map_err(reset);
        let mut reader = Reader { stream, buffer: &mut self.buffer, scratch: &mut self.scratch };
        let (answer, kept) = end_exchange(first, reader.answer_after(written, limits));
        if let Some(fate) = second_after_first(&answer, kept) {
            self.stream = None;
            return (answer, fate);
        }
        let Some(stream) = self.stream.as_mut() else { return (answer, Pipelined::NotServed) };
        let mut reader = Reader { stream, buffer: &mut self.buffer, scratch: &mut self.scratch };
        if let Some(fate) = second_before_reading(reader.closed_before_any_byte()) {
            self.stream = None;
            return (answer, fate);
        }
        let second_answer =
            reader.read_answer(&mut ResponseDecoder::new(limits)).map_err(TransportError::from);
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

    fn exchange(
        &mut self,
        request: &Request<Bytes>,
        chunks: Option<&mut dyn Iterator<Item = Result<Bytes, HeaderMap>>>,
    ) -> Result<(Response<Bytes>, bool), TransportError> {
        let limits = self.limits;
        self.stream()?;
        let Some(stream) = self.stream.as_mut() else { return Err(reset("no connection")) };
        let mut reader = Reader { stream, buffer: &mut self.buffer, scratch: &mut self.scratch };
        let written = write_request(reader.stream, request, chunks);
        reader.answer_after(written, limits)
    }
}

/// What became of the second of two pipelined requests.
pub type Pipelined = lambda_sansio::http1::Pipelined<TransportError>;

/// Writes the head and the body (buffered, or `chunks`).
fn write_request(
    stream: &mut TcpStream,
    request: &Request<Bytes>,
    chunks: Option<&mut dyn Iterator<Item = Result<Bytes, HeaderMap>>>,
) -> Result<(), TransportError> {
    let mut head = Vec::with_capacity(256 + request.body().len().min(COALESCE));
    write_head(&mut head, request, chunks.is_some());
    match chunks {
        None => {
            let body = request.body();
            if body.len() <= COALESCE {
                head.extend_from_slice(body);
                stream.write_all(&head).map_err(reset)?;
            } else {
                stream.write_all(&head).map_err(reset)?;
                stream.write_all(body).map_err(reset)?;
            }
        }
        Some(chunks) => {
            stream.write_all(&head).map_err(reset)?;
            write_chunks(stream, chunks)?;
        }
    }
    stream.flush().map_err(reset)
}

/// The reading half of an exchange.
struct Reader<'a> {
    stream: &'a mut TcpStream,
    buffer: &'a mut BytesMut,
    scratch: &'a mut [u8],
}

impl Reader<'_> {
    /// The answer to a request whose writing ended with `written`. The
    /// server may have answered before reading everything (an early 413)
    /// and closed: that answer is then the outcome, not the broken write,
    /// and the connection is not kept.
    fn answer_after(
        &mut self,
        written: Result<(), TransportError>,
        limits: Limits,
    ) -> Result<(Response<Bytes>, bool), TransportError> {
        let mut decoder = ResponseDecoder::new(limits);
        match written {
            Ok(()) => self.read_answer(&mut decoder).map_err(TransportError::from),
            Err(write_error) => match self.read_answer(&mut decoder) {
                Ok((response, _)) => Ok((response, false)),
                Err(_) => Err(write_error),
            },
        }
    }

    /// Whether the connection ended, cleanly, before a byte of the next
    /// answer: nothing buffered, and a read finds the end.
    fn closed_before_any_byte(&mut self) -> Result<bool, TransportError> {
        if !self.buffer.is_empty() {
            return Ok(false);
        }
        let read = self.stream.read(self.scratch).map_err(reset)?;
        self.buffer.extend_from_slice(&self.scratch[..read]);
        Ok(read == 0)
    }

    /// Reads until `decoder` has a whole answer. After a read that leaves an
    /// answer incomplete, the segment is acknowledged at once, so a server
    /// that waits for that ACK before sending the rest (Nagle) is not
    /// stalled by the delayed-ACK timer.
    fn read_answer(&mut self, decoder: &mut ResponseDecoder) -> Result<(Response<Bytes>, bool), DecodeError> {
        loop {
            if let Some(decoded) = decoder.decode(self.buffer)? {
                return Ok((decoded.response, decoded.reusable));
            }
            if decoder.is_mid_answer() {
                acknowledge_now(self.stream);
            }
            let read = self.stream.read(self.scratch).map_err(|e| DecodeError::reset(e.to_string()))?;
            if read == 0 {
                return match decoder.decode_eof(self.buffer)? {
                    Some(decoded) => Ok((decoded.response, decoded.reusable)),
                    None => Err(DecodeError::reset("the connection closed before an answer")),
                };
            }
            self.buffer.extend_from_slice(&self.scratch[..read]);
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

fn write_chunks(
    writer: &mut TcpStream,
    chunks: &mut dyn Iterator<Item = Result<Bytes, HeaderMap>>,
) -> Result<(), TransportError> {
    let mut trailers = HeaderMap::new();
    let mut out = Vec::new();
    for chunk in chunks {
        match chunk {
            Ok(data) => {
                out.clear();
                write_chunk(&mut out, &data);
                writer.write_all(&out).map_err(reset)?;
            }
            Err(failure) => {
                trailers = failure;
                break;
            }
        }
    }
    out.clear();
    write_last_chunk(&mut out, &trailers);
    writer.write_all(&out).map_err(reset)
}
