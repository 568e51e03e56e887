//! A minimal HTTP/1.1 client connection over `std::net`: keep-alive,
//! `TCP_NODELAY`, `Content-Length` and chunked bodies, chunked request
//! bodies with trailers, bounded answer bodies and no read timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use lambda_sansio::{TransportError, TransportErrorKind};

/// Most headers read in one answer head.
const MAX_HEADERS: usize = 64;
/// Largest answer head.
const MAX_HEAD: usize = 64 * 1024;

fn error(kind: TransportErrorKind, detail: impl std::fmt::Display) -> TransportError {
    TransportError::new(kind, detail.to_string())
}

fn reset(detail: impl std::fmt::Display) -> TransportError {
    error(TransportErrorKind::Reset, detail)
}

fn malformed(detail: impl std::fmt::Display) -> TransportError {
    error(TransportErrorKind::MalformedResponse, detail)
}

/// One keep-alive connection to `authority`, reopened when needed.
///
/// Guarantees: at most `max_body` bytes of an answer body are held in memory
/// (a larger answer fails with [`TransportErrorKind::BodyTooLarge`] and the
/// connection is dropped); reads never time out, as long polls require.
pub struct Connection {
    authority: String,
    max_body: usize,
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    /// A connection to `authority` (`host:port`), opened on first use.
    pub fn new(authority: impl Into<String>, max_body: usize) -> Self {
        Self { authority: authority.into(), max_body, stream: None }
    }

    fn stream(&mut self) -> Result<&mut BufReader<TcpStream>, TransportError> {
        if self.stream.is_none() {
            let tcp = TcpStream::connect(&self.authority)
                .map_err(|e| error(TransportErrorKind::Connect, format_args!("{}: {e}", self.authority)))?;
            tcp.set_nodelay(true).map_err(reset)?;
            tcp.set_read_timeout(None).map_err(reset)?;
            self.stream = Some(BufReader::with_capacity(16 * 1024, tcp));
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

    fn finish(
        &mut self,
        request: &Request<Bytes>,
        result: Result<(Response<Bytes>, bool), TransportError>,
    ) -> Result<Response<Bytes>, TransportError> {
        match result {
            Ok((response, reusable)) => {
                let close_asked = wants_close(request.headers()) || wants_close(response.headers());
                if !reusable || close_asked {
                    self.stream = None;
                }
                Ok(response)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    fn exchange(
        &mut self,
        request: &Request<Bytes>,
        chunks: Option<&mut dyn Iterator<Item = Result<Bytes, HeaderMap>>>,
    ) -> Result<(Response<Bytes>, bool), TransportError> {
        let max_body = self.max_body;
        let stream = self.stream()?;
        let mut head = Vec::with_capacity(256 + request.body().len().min(16 * 1024));
        write_head(&mut head, request, chunks.is_some());
        let writer = stream.get_mut();
        match chunks {
            None => {
                let body = request.body();
                if body.len() <= 16 * 1024 {
                    head.extend_from_slice(body);
                    writer.write_all(&head).map_err(reset)?;
                } else {
                    writer.write_all(&head).map_err(reset)?;
                    writer.write_all(body).map_err(reset)?;
                }
            }
            Some(chunks) => {
                writer.write_all(&head).map_err(reset)?;
                write_chunks(writer, chunks)?;
            }
        }
        writer.flush().map_err(reset)?;
        read_response(stream, max_body)
    }
}

fn wants_close(headers: &HeaderMap) -> bool {
    headers.get(CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
}

fn write_head(out: &mut Vec<u8>, request: &Request<Bytes>, chunked: bool) {
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(request.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in request.headers() {
        if name == CONTENT_LENGTH || (name == TRANSFER_ENCODING && !chunked) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if chunked {
        if !request.headers().contains_key(TRANSFER_ENCODING) {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
    } else {
        out.extend_from_slice(format!("content-length: {}\r\n", request.body().len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

fn write_chunks(
    writer: &mut TcpStream,
    chunks: &mut dyn Iterator<Item = Result<Bytes, HeaderMap>>,
) -> Result<(), TransportError> {
    let mut trailers = HeaderMap::new();
    for chunk in chunks {
        match chunk {
            Ok(data) if data.is_empty() => {}
            Ok(data) => {
                writer.write_all(format!("{:x}\r\n", data.len()).as_bytes()).map_err(reset)?;
                writer.write_all(&data).map_err(reset)?;
                writer.write_all(b"\r\n").map_err(reset)?;
            }
            Err(failure) => {
                trailers = failure;
                break;
            }
        }
    }
    let mut end = b"0\r\n".to_vec();
    for (name, value) in &trailers {
        end.extend_from_slice(name.as_str().as_bytes());
        end.extend_from_slice(b": ");
        end.extend_from_slice(value.as_bytes());
        end.extend_from_slice(b"\r\n");
    }
    end.extend_from_slice(b"\r\n");
    writer.write_all(&end).map_err(reset)
}

/// Reads one answer. Returns it and whether the connection may be reused.
fn read_response(
    stream: &mut BufReader<TcpStream>,
    max_body: usize,
) -> Result<(Response<Bytes>, bool), TransportError> {
    let mut head = Vec::with_capacity(1024);
    loop {
        let line_start = head.len();
        let read = stream.read_until(b'\n', &mut head).map_err(reset)?;
        if read == 0 {
            return Err(reset("the connection closed before an answer"));
        }
        if head.len() > MAX_HEAD {
            return Err(malformed("answer head too large"));
        }
        if head[line_start..] == *b"\r\n" || head[line_start..] == *b"\n" {
            break;
        }
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(malformed("incomplete answer head")),
        Err(e) => return Err(malformed(e)),
    }
    let status =
        parsed.code.and_then(|c| StatusCode::from_u16(c).ok()).ok_or_else(|| malformed("bad status"))?;
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for header in parsed.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(malformed)?;
        let value = HeaderValue::from_bytes(header.value).map_err(malformed)?;
        headers.append(name, value);
    }
    let chunked = headers
        .get(TRANSFER_ENCODING)
        .is_some_and(|v| v.to_str().is_ok_and(|t| t.to_ascii_lowercase().contains("chunked")));
    let length = match headers.get(CONTENT_LENGTH) {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<usize>().ok())
                .ok_or_else(|| malformed("bad content-length"))?,
        ),
        None => None,
    };
    let no_body =
        status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let (body, reusable) = if no_body {
        (Bytes::new(), true)
    } else if chunked {
        (read_chunked(stream, max_body, &mut headers)?, true)
    } else if let Some(length) = length {
        (read_exact_body(stream, length, max_body)?, true)
    } else {
        (read_to_close(stream, max_body)?, false)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok((response, reusable))
}

fn too_large(max_body: usize) -> TransportError {
    error(TransportErrorKind::BodyTooLarge, format_args!("answer body over {max_body} bytes"))
}

fn read_exact_body(
    stream: &mut BufReader<TcpStream>,
    length: usize,
    max_body: usize,
) -> Result<Bytes, TransportError> {
    if length > max_body {
        return Err(too_large(max_body));
    }
    let mut body = BytesMut::zeroed(length);
    stream.read_exact(&mut body).map_err(|e| reset(format_args!("body truncated: {e}")))?;
    Ok(body.freeze())
}

fn read_to_close(stream: &mut BufReader<TcpStream>, max_body: usize) -> Result<Bytes, TransportError> {
    let mut body = Vec::new();
    let limit = u64::try_from(max_body).unwrap_or(u64::MAX) + 1;
    stream.take(limit).read_to_end(&mut body).map_err(reset)?;
    if body.len() > max_body {
        return Err(too_large(max_body));
    }
    Ok(Bytes::from(body))
}

fn read_line(stream: &mut BufReader<TcpStream>) -> Result<Vec<u8>, TransportError> {
    let mut line = Vec::new();
    stream.take(MAX_HEAD as u64).read_until(b'\n', &mut line).map_err(reset)?;
    if !line.ends_with(b"\n") {
        return Err(reset("chunked body truncated"));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(line)
}

fn read_chunked(
    stream: &mut BufReader<TcpStream>,
    max_body: usize,
    headers: &mut HeaderMap,
) -> Result<Bytes, TransportError> {
    let mut body = BytesMut::new();
    loop {
        let line = read_line(stream)?;
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_text = std::str::from_utf8(size_text).map_err(malformed)?.trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| malformed("bad chunk size"))?;
        if size == 0 {
            break;
        }
        if body.len().saturating_add(size) > max_body {
            return Err(too_large(max_body));
        }
        let start = body.len();
        body.resize(start + size, 0);
        stream.read_exact(&mut body[start..]).map_err(|e| reset(format_args!("chunk truncated: {e}")))?;
        if !read_line(stream)?.is_empty() {
            return Err(malformed("chunk not followed by CRLF"));
        }
    }
    loop {
        let trailer = read_line(stream)?;
        if trailer.is_empty() {
            return Ok(body.freeze());
        }
        let colon = trailer.iter().position(|&b| b == b':').ok_or_else(|| malformed("bad trailer"))?;
        let name = HeaderName::from_bytes(&trailer[..colon]).map_err(malformed)?;
        let value = HeaderValue::from_bytes(trailer[colon + 1..].trim_ascii()).map_err(malformed)?;
        headers.append(name, value);
    }
}
