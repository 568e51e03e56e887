//! The server side: an incremental decoder of requests, for the telemetry
//! listener.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request};

use super::body::{BodyDecoder, BodyProgress, Framing};
use super::head::{self, MAX_HEADERS};
use super::{DecodeError, Limits};

/// Decodes one request at a time from bytes as they arrive, in any
/// segmentation, holding at most the limits in memory. Bodies are framed by
/// `Content-Length` or chunks (a request without either has none).
#[derive(Debug)]
pub struct RequestDecoder {
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
    Body { request: Request<()>, headers: HeaderMap, body: BodyDecoder },
}

impl RequestDecoder {
    /// A decoder within `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits, scanned: 0, state: State::Head }
    }

    /// Consumes what it can of `buf`. `Ok(None)`: feed more bytes. Bytes
    /// past the request stay in `buf`. After an error the connection should
    /// be answered (see [`DecodeError::kind`]) and closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Request<Bytes>>, DecodeError> {
        loop {
            match &mut self.state {
                State::Head => {
                    let Some(raw) = head::take(buf, &mut self.scanned, self.limits.max_head)? else {
                        return Ok(None);
                    };
                    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut parsed = httparse::Request::new(&mut slots);
                    match parsed.parse(&raw) {
                        Ok(httparse::Status::Complete(_)) => {}
                        Ok(httparse::Status::Partial) => {
                            return Err(DecodeError::malformed("the head is incomplete"))
                        }
                        Err(error) => return Err(head::parse_error(error, &raw)),
                    }
                    let method = parsed
                        .method
                        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
                        .ok_or_else(|| DecodeError::malformed("an invalid method"))?;
                    let uri = parsed
                        .path
                        .and_then(|p| p.parse::<http::Uri>().ok())
                        .ok_or_else(|| DecodeError::malformed("an invalid request target"))?;
                    let headers = head::header_map(parsed.headers, &raw)?;
                    let framing = Framing::of(&headers, Framing::Empty).map_err(DecodeError::malformed)?;
                    if framing == Framing::UntilClose {
                        return Err(DecodeError::malformed(
                            "a request body must be chunked or have a length",
                        ));
                    }
                    let body = BodyDecoder::new(framing, self.limits.max_body)?;
                    let mut request = Request::new(());
                    *request.method_mut() = method;
                    *request.uri_mut() = uri;
                    *request.version_mut() = head::version(parsed.version);
                    self.state = State::Body { request, headers, body };
                }
                State::Body { request, headers, body } => {
                    let BodyProgress::Done(bytes) = body.decode(buf, headers)? else { return Ok(None) };
                    let mut whole = Request::new(bytes);
                    *whole.method_mut() = request.method().clone();
                    *whole.uri_mut() = request.uri().clone();
                    *whole.version_mut() = request.version();
                    *whole.headers_mut() = std::mem::take(headers);
                    self.state = State::Head;
                    return Ok(Some(whole));
                }
            }
        }
    }
}
