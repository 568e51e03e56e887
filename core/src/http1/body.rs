//! Reading a message body by its framing: a length, chunks, or until the
//! connection closes.

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::DecodeError;

/// Longest chunk-size or trailer line.
const MAX_LINE: usize = 4096;

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body at all.
    Empty,
    /// `Content-Length`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the peer closes (answers only).
    UntilClose,
}

impl Framing {
    /// The framing the headers declare (RFC 9112 §6.3): a transfer coding
    /// wins over a length; several different lengths are an error; with
    /// neither, `otherwise`.
    pub(super) fn of(headers: &HeaderMap, otherwise: Framing) -> Result<Self, String> {
        let codings = headers.get_all(TRANSFER_ENCODING);
        if codings.iter().next().is_some() {
            let last = codings.iter().next_back().and_then(|v| v.to_str().ok()).unwrap_or_default();
            let chunked = last.rsplit(',').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
            return Ok(if chunked { Self::Chunked } else { Self::UntilClose });
        }
        let mut length = None;
        for value in headers.get_all(CONTENT_LENGTH) {
            for part in value.to_str().map_err(|_| "an unreadable content-length".to_owned())?.split(',') {
                let parsed: usize =
                    part.trim().parse().map_err(|_| format!("content-length {part:?} is not a length"))?;
                if length.is_some_and(|seen| seen != parsed) {
                    return Err("conflicting content-length values".to_owned());
                }
                length = Some(parsed);
            }
        }
        Ok(length.map_or(otherwise, Self::Length))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(usize),
    DataEnd,
    Trailers,
}

/// A body being read.
#[derive(Debug)]
pub(super) struct BodyDecoder {
    framing: Framing,
    chunk: Chunk,
    body: BytesMut,
    /// Body bytes consumed so far, including any taken out early.
    received: usize,
    max_body: usize,
    trailer_bytes: usize,
}

/// What [`BodyDecoder::decode`] found.
pub(super) enum BodyProgress {
    /// More bytes are needed.
    Partial,
    /// The body is whole; trailers were added to the headers given.
    Done(Bytes),
}

impl BodyDecoder {
    /// A decoder for `framing`; a body over `max_body` is refused. A declared
    /// length over the limit is refused at once.
    pub(super) fn new(framing: Framing, max_body: usize) -> Result<Self, DecodeError> {
        if let Framing::Length(length) = framing {
            if length > max_body {
                return Err(DecodeError::too_large(max_body));
            }
        }
        Ok(Self {
            framing,
            chunk: Chunk::Size,
            body: BytesMut::new(),
            received: 0,
            max_body,
            trailer_bytes: 0,
        })
    }

    /// Whether the body ends only when the peer closes.
    pub(super) fn until_close(&self) -> bool {
        self.framing == Framing::UntilClose
    }

    /// Consumes body bytes from `buf`.
    pub(super) fn decode(
        &mut self,
        buf: &mut BytesMut,
        trailers: &mut HeaderMap,
    ) -> Result<BodyProgress, DecodeError> {
        match self.framing {
            Framing::Empty => Ok(self.done()),
            // The whole body is here at once: hand it over without a copy.
            Framing::Length(length) if self.received == 0 && buf.len() >= length => {
                self.received = length;
                Ok(BodyProgress::Done(buf.split_to(length).freeze()))
            }
            Framing::Length(length) => {
                let take = (length - self.received).min(buf.len());
                self.body.extend_from_slice(&buf.split_to(take));
                self.received += take;
                Ok(if self.received == length { self.done() } else { BodyProgress::Partial })
            }
            Framing::UntilClose => {
                if self.received + buf.len() > self.max_body {
                    return Err(DecodeError::too_large(self.max_body));
                }
                self.received += buf.len();
                self.body.extend_from_slice(&buf.split());
                Ok(BodyProgress::Partial)
            }
            Framing::Chunked => self.decode_chunks(buf, trailers),
        }
    }

    /// The peer closed: a body read until close is whole; any other
    /// unfinished body was cut short.
    pub(super) fn finish_at_close(&mut self) -> Result<Bytes, DecodeError> {
        match self.framing {
            Framing::UntilClose => Ok(std::mem::take(&mut self.body).freeze()),
            _ => Err(DecodeError::reset("the connection closed in the middle of the body")),
        }
    }

    /// The body bytes decoded so far and not yet taken: for a caller that
    /// passes a body on as it arrives. The limit still counts them.
    pub(super) fn take_partial(&mut self) -> Bytes {
        self.body.split().freeze()
    }

    fn done(&mut self) -> BodyProgress {
        BodyProgress::Done(std::mem::take(&mut self.body).freeze())
    }

    fn decode_chunks(
        &mut self,
        buf: &mut BytesMut,
        trailers: &mut HeaderMap,
    ) -> Result<BodyProgress, DecodeError> {
        loop {
            match self.chunk {
                Chunk::Size => {
                    let Some(line) = take_line(buf)? else { return Ok(BodyProgress::Partial) };
                    let size = chunk_size(&line)?;
                    if size == 0 {
                        self.chunk = Chunk::Trailers;
                    } else if self.received.saturating_add(size) > self.max_body {
                        return Err(DecodeError::too_large(self.max_body));
                    } else {
                        self.chunk = Chunk::Data(size);
                    }
                }
                Chunk::Data(left) => {
                    if buf.is_empty() {
                        return Ok(BodyProgress::Partial);
                    }
                    let take = left.min(buf.len());
                    self.body.extend_from_slice(&buf.split_to(take));
                    self.received += take;
                    self.chunk = if take == left { Chunk::DataEnd } else { Chunk::Data(left - take) };
                }
                Chunk::DataEnd => {
                    let Some(line) = take_line(buf)? else { return Ok(BodyProgress::Partial) };
                    if !line.is_empty() {
                        return Err(DecodeError::malformed("a chunk is not followed by CRLF"));
                    }
                    self.chunk = Chunk::Size;
                }
                Chunk::Trailers => {
                    let Some(line) = take_line(buf)? else { return Ok(BodyProgress::Partial) };
                    if line.is_empty() {
                        return Ok(self.done());
                    }
                    self.trailer_bytes += line.len();
                    if self.trailer_bytes > super::head::MAX_TRAILER_BYTES {
                        return Err(DecodeError::malformed("the trailers are too long"));
                    }
                    let (name, value) = trailer(&line)?;
                    trailers.append(name, value);
                }
            }
        }
    }
}

/// Takes one line (without its CRLF or LF) off `buf`; `None` while it is
/// incomplete and short enough.
fn take_line(buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_LINE {
            return Err(DecodeError::malformed("a chunk line is too long"));
        }
        return Ok(None);
    };
    if lf > MAX_LINE {
        return Err(DecodeError::malformed("a chunk line is too long"));
    }
    let mut line = buf.split_to(lf + 1);
    line.truncate(lf);
    if line.last() == Some(&b'\r') {
        line.truncate(lf - 1);
    }
    let line = line.freeze();
    if line.contains(&b'\r') {
        return Err(DecodeError::malformed("a bare CR in a chunk line"));
    }
    Ok(Some(line))
}

fn chunk_size(line: &[u8]) -> Result<usize, DecodeError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    let bad = || DecodeError::malformed("a chunk size is not a hexadecimal number");
    if digits.is_empty() || digits.len() > 15 {
        return Err(bad());
    }
    let text = std::str::from_utf8(digits).map_err(|_| bad())?;
    usize::from_str_radix(text, 16).map_err(|_| bad())
}

fn trailer(line: &Bytes) -> Result<(HeaderName, HeaderValue), DecodeError> {
    let mut rest = line.clone();
    let colon = rest
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| DecodeError::malformed("a trailer without a colon"))?;
    let name = HeaderName::from_bytes(&rest[..colon])
        .map_err(|_| DecodeError::malformed("an invalid trailer name"))?;
    rest.advance(colon + 1);
    let value = HeaderValue::from_bytes(rest.trim_ascii())
        .map_err(|_| DecodeError::malformed("an invalid trailer value"))?;
    Ok((name, value))
}
