//! Finding and parsing an HTTP/1.1 message head in a byte buffer.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::DecodeError;

/// Most headers in one head: more than hyper's default (100), so no answer
/// hyper or `lambda_runtime` reads is refused here.
pub const MAX_HEADERS: usize = 128;

/// Longest head: more than hyper's default read buffer (about 400 KiB), so
/// one large header (a 64 KiB client context) fits many times over.
pub const MAX_HEAD: usize = 512 * 1024;

/// Most trailer bytes after a chunked body.
pub(super) const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// Where the head in `buf` ends (just past the blank line), scanning from
/// `from` (bytes before it were scanned already). Accepts CRLF and bare LF
/// line ends, as httparse does.
pub(super) fn find_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let mut at = start;
    while let Some(offset) = buf[at..].iter().position(|&b| b == b'\n') {
        let lf = at + offset;
        if buf[..lf].ends_with(b"\n") || buf[..lf].ends_with(b"\n\r") {
            return Some(lf + 1);
        }
        at = lf + 1;
    }
    None
}

/// Takes the head off `buf` once complete. `None` while it is incomplete and
/// within `max_head`; an error (with what was received, for diagnosis) past it.
pub(super) fn take(
    buf: &mut BytesMut,
    scanned: &mut usize,
    max_head: usize,
) -> Result<Option<Bytes>, DecodeError> {
    match find_end(buf, *scanned) {
        Some(end) if end <= max_head => {
            *scanned = 0;
            Ok(Some(buf.split_to(end).freeze()))
        }
        Some(_) => Err(over_limit(buf, max_head)),
        None if buf.len() > max_head => Err(over_limit(buf, max_head)),
        None => {
            *scanned = buf.len();
            Ok(None)
        }
    }
}

fn over_limit(buf: &BytesMut, max_head: usize) -> DecodeError {
    DecodeError::malformed(format!("the head is longer than {max_head} bytes"))
        .with_head(Bytes::copy_from_slice(&buf[..max_head.min(buf.len())]))
}

/// Copies parsed header lines into a [`HeaderMap`].
pub(super) fn header_map(parsed: &[httparse::Header<'_>], raw: &Bytes) -> Result<HeaderMap, DecodeError> {
    let mut headers = HeaderMap::with_capacity(parsed.len());
    for header in parsed {
        let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
            DecodeError::malformed(format!("invalid header name {:?}", header.name)).with_head(raw.clone())
        })?;
        let value = HeaderValue::from_bytes(header.value).map_err(|_| {
            DecodeError::malformed(format!("invalid value for header {}", header.name)).with_head(raw.clone())
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The HTTP version httparse read (its minor version: `1.0` or `1.1`).
pub(super) fn version(minor: Option<u8>) -> http::Version {
    match minor {
        Some(0) => http::Version::HTTP_10,
        _ => http::Version::HTTP_11,
    }
}

/// An httparse error as a decode error that keeps the raw head.
pub(super) fn parse_error(error: httparse::Error, raw: &Bytes) -> DecodeError {
    let detail = match error {
        httparse::Error::TooManyHeaders => format!("the head has more than {MAX_HEADERS} headers"),
        other => format!("the head is malformed ({other})"),
    };
    DecodeError::malformed(detail).with_head(raw.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_is_found_across_feeds_and_line_endings() {
        assert_eq!(find_end(b"HTTP/1.1 200 OK\r\n\r\nbody", 0), Some(19));
        assert_eq!(find_end(b"HTTP/1.1 200 OK\n\nbody", 0), Some(17));
        assert_eq!(find_end(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0), None);
        let whole = b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n";
        assert_eq!(find_end(whole, 23), Some(whole.len()), "resumed just before the blank line");
        assert_eq!(find_end(b"\r\n", 0), None, "an empty first line is not an empty head");
    }
}
