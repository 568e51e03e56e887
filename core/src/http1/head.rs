//! Finding and parsing an HTTP/1.1 message head in a byte buffer.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::DecodeError;
use crate::headers as names;

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
    memchr::memchr_iter(b'\n', buf.get(start..)?)
        .map(|offset| start + offset)
        .find(|&lf| buf[..lf].ends_with(b"\n") || buf[..lf].ends_with(b"\n\r"))
        .map(|lf| lf + 1)
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

/// Puts parsed header lines, which lie in `raw`, into a [`HeaderMap`]:
/// values share `raw` rather than copy it, and the names of Lambda's own
/// headers are not allocated again for every answer.
pub(super) fn header_map(parsed: &[httparse::Header<'_>], raw: &Bytes) -> Result<HeaderMap, DecodeError> {
    let mut headers = HeaderMap::with_capacity(parsed.len());
    for header in parsed {
        let name = header_name(header.name).map_err(|_| {
            DecodeError::malformed(format!("invalid header name {:?}", header.name)).with_head(raw.clone())
        })?;
        let value = HeaderValue::from_maybe_shared(shared(raw, header.value)).map_err(|_| {
            DecodeError::malformed(format!("invalid value for header {}", header.name)).with_head(raw.clone())
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The Lambda headers answers carry.
const LAMBDA_NAMES: [HeaderName; 10] = [
    names::REQUEST_ID,
    names::DEADLINE_MS,
    names::INVOKED_FUNCTION_ARN,
    names::TRACE_ID,
    names::CLIENT_CONTEXT,
    names::COGNITO_IDENTITY,
    names::TENANT_ID,
    names::INVOCATION_ID,
    names::EXTENSION_IDENTIFIER,
    names::EXTENSION_ACCEPT_FEATURE,
];

/// `name` as a header name: one of [`LAMBDA_NAMES`] (in any case) without
/// allocating, else parsed.
fn header_name(name: &str) -> Result<HeaderName, http::header::InvalidHeaderName> {
    if name.get(..7).is_some_and(|prefix| prefix.eq_ignore_ascii_case("lambda-")) {
        if let Some(known) = LAMBDA_NAMES.iter().find(|known| known.as_str().eq_ignore_ascii_case(name)) {
            return Ok(known.clone());
        }
    }
    HeaderName::from_bytes(name.as_bytes())
}

/// `part` as a slice of `raw` (no copy) when it lies within it, else a copy.
fn shared(raw: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if end <= raw.len() && !part.is_empty() => raw.slice(start..end),
        _ => Bytes::copy_from_slice(part),
    }
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
    fn values_share_the_head_and_lambda_names_match_in_any_case() {
        let raw = Bytes::from_static(b"Lambda-Runtime-Aws-Request-Id: r1\r\nX-Other: v\r\n");
        let parsed = [
            httparse::Header { name: "Lambda-Runtime-Aws-Request-Id", value: &raw[31..33] },
            httparse::Header { name: "X-Other", value: &raw[44..45] },
        ];
        let headers = header_map(&parsed, &raw).unwrap();
        assert_eq!(headers.get(names::REQUEST_ID).unwrap(), "r1");
        assert_eq!(headers.get("x-other").unwrap(), "v");
        assert_eq!(shared(&raw, &raw[31..33]).as_ptr(), raw[31..].as_ptr(), "sliced, not copied");
        let elsewhere = b"r1".to_vec();
        assert_eq!(shared(&raw, &elsewhere), Bytes::from_static(b"r1"), "copied when outside");
        assert!(shared(&raw, &[]).is_empty());
        assert_eq!(header_name("LAMBDA-RUNTIME-TRACE-ID").unwrap(), names::TRACE_ID);
        assert_eq!(header_name("lambda-runtime-other").unwrap().as_str(), "lambda-runtime-other");
        assert!(header_name("lambda-bad name").is_err());
    }

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
