//! The client side: an incremental decoder of answers.

use bytes::BytesMut;
use http::{HeaderMap, Response, StatusCode, Version};

use super::body::{BodyDecoder, BodyProgress, Framing};
use super::head::{self, MAX_HEADERS};
use super::{DecodeError, Limits};

/// A whole answer.
#[derive(Debug)]
pub struct Decoded {
    /// The answer; trailers of a chunked body are merged into its headers.
    pub response: Response<bytes::Bytes>,
    /// Whether the connection can carry another exchange (the body was not
    /// delimited by closing it). `Connection: close` is the caller's to honour.
    pub reusable: bool,
}

/// Decodes one answer at a time from bytes as they arrive, in any
/// segmentation, holding at most the limits in memory. Interim `1xx`
/// answers (`100 Continue`, `103 Early Hints`) are skipped. Errors keep the
/// raw head when one arrived, so the caller can still read ids from it.
#[derive(Debug)]
pub struct ResponseDecoder {
    limits: Limits,
    scanned: usize,
    state: State,
}

// The decoder lives as long as its connection and changes state in place:
// boxing the body state would allocate once per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum State {
    Head,
    Body { status: StatusCode, version: Version, headers: HeaderMap, raw: bytes::Bytes, body: BodyDecoder },
}

impl ResponseDecoder {
    /// A decoder within `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits, scanned: 0, state: State::Head }
    }

    /// Whether part of an answer has been consumed and the rest is awaited.
    pub fn is_mid_answer(&self) -> bool {
        matches!(self.state, State::Body { .. }) || self.scanned > 0
    }

    /// The status and headers of the answer being read, once its head has
    /// arrived (and until the answer is whole).
    pub fn head(&self) -> Option<(StatusCode, &HeaderMap)> {
        match &self.state {
            State::Body { status, headers, .. } => Some((*status, headers)),
            State::Head => None,
        }
    }

    /// Takes the body bytes decoded so far, for a caller that passes the
    /// body on as it arrives (a streamed answer); the whole answer that
    /// [`decode`](Self::decode) returns at the end then holds only the
    /// rest. Empty before the head and between answers. The body limit
    /// counts every byte, taken or not.
    pub fn take_partial_body(&mut self) -> bytes::Bytes {
        match &mut self.state {
            State::Body { body, .. } => body.take_partial(),
            State::Head => bytes::Bytes::new(),
        }
    }

    /// Consumes what it can of `buf`. `Ok(None)`: feed more bytes. After a
    /// whole answer the decoder is ready for the next one; bytes past the
    /// answer stay in `buf`. After an error the decoder must not be reused.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, DecodeError> {
        loop {
            match &mut self.state {
                State::Head => {
                    let Some(raw) = head::take(buf, &mut self.scanned, self.limits.max_head)? else {
                        return Ok(None);
                    };
                    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut parsed = httparse::Response::new(&mut slots);
                    match parsed.parse(&raw) {
                        Ok(httparse::Status::Complete(_)) => {}
                        Ok(httparse::Status::Partial) => {
                            return Err(DecodeError::malformed("the head is incomplete").with_head(raw))
                        }
                        Err(error) => return Err(head::parse_error(error, &raw)),
                    }
                    let status =
                        parsed.code.and_then(|code| StatusCode::from_u16(code).ok()).ok_or_else(|| {
                            DecodeError::malformed("the status code is invalid").with_head(raw.clone())
                        })?;
                    if status == StatusCode::SWITCHING_PROTOCOLS {
                        return Err(DecodeError::malformed("an unrequested protocol switch").with_head(raw));
                    }
                    if status.is_informational() {
                        continue;
                    }
                    let headers = head::header_map(parsed.headers, &raw)?;
                    let bodiless = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
                    let framing = if bodiless {
                        Framing::Empty
                    } else {
                        Framing::of(&headers, Framing::UntilClose)
                            .map_err(|detail| DecodeError::malformed(detail).with_head(raw.clone()))?
                    };
                    let body = BodyDecoder::new(framing, self.limits.max_body)
                        .map_err(|e| e.with_head(raw.clone()))?;
                    let version = head::version(parsed.version);
                    self.state = State::Body { status, version, headers, raw, body };
                }
                State::Body { status, version, headers, raw, body } => {
                    let progress = body.decode(buf, headers).map_err(|e| e.with_head(raw.clone()))?;
                    let BodyProgress::Done(bytes) = progress else { return Ok(None) };
                    let decoded =
                        whole(*status, *version, std::mem::take(headers), bytes, body.until_close());
                    self.state = State::Head;
                    return Ok(Some(decoded));
                }
            }
        }
    }

    /// The peer closed the connection: completes an answer whose body runs
    /// until close; `Ok(None)` when no answer had begun.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, DecodeError> {
        if let Some(decoded) = self.decode(buf)? {
            return Ok(Some(decoded));
        }
        match &mut self.state {
            State::Head if buf.is_empty() && self.scanned == 0 => Ok(None),
            State::Head => Err(DecodeError::reset("the connection closed in the middle of the head")),
            State::Body { status, version, headers, raw, body } => {
                let bytes = body.finish_at_close().map_err(|e| e.with_head(raw.clone()))?;
                let decoded = whole(*status, *version, std::mem::take(headers), bytes, true);
                self.state = State::Head;
                Ok(Some(decoded))
            }
        }
    }
}

fn whole(
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: bytes::Bytes,
    until_close: bool,
) -> Decoded {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Decoded { response, reusable: !until_close }
}
