//! What a client writes: a request head, the chunks of a streamed body, and
//! the last chunk with its trailers.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Request};

/// Appends the head of `request` to `out`: its request line in origin form
/// (`GET /path HTTP/1.1`, whatever form its URI has), its headers, and
/// `content-length` for a buffered body (else `transfer-encoding:
/// chunked`). A `content-length` the request carries is replaced, never
/// sent twice.
pub fn write_head(out: &mut Vec<u8>, request: &Request<Bytes>, chunked: bool) {
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(request.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in request.headers() {
        if name == CONTENT_LENGTH || (name == TRANSFER_ENCODING && !chunked) {
            continue;
        }
        write_field(out, name.as_str(), value.as_bytes());
    }
    if chunked {
        if !request.headers().contains_key(TRANSFER_ENCODING) {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
    } else {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(request.body().len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `data` as one chunk of a chunked body; nothing for empty data
/// (an empty chunk would end the body).
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the end of a chunked body: the last chunk, then `trailers`.
pub fn write_last_chunk(out: &mut Vec<u8>, trailers: &HeaderMap) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        write_field(out, name.as_str(), value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

fn write_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::http1::{Limits, RequestDecoder};

    fn decode_all(wire: &[u8]) -> Request<Bytes> {
        let mut buffer = bytes::BytesMut::from(wire);
        let request = RequestDecoder::new(Limits::with_max_body(1024)).decode(&mut buffer).unwrap().unwrap();
        assert!(buffer.is_empty(), "{} bytes left after the request", buffer.len());
        request
    }

    #[test]
    fn a_buffered_request_reads_back_with_one_length_in_origin_form() {
        let request = Request::post("http://127.0.0.1:9001/2018-06-01/runtime/invocation/a/response?x=1")
            .header(CONTENT_LENGTH, "999")
            .header("x-one", "1")
            .body(Bytes::from_static(b"{\"ok\":true}"))
            .unwrap();
        let mut wire = Vec::new();
        write_head(&mut wire, &request, false);
        wire.extend_from_slice(request.body());
        assert!(wire.starts_with(b"POST /2018-06-01/runtime/invocation/a/response?x=1 HTTP/1.1\r\n"));
        let read = decode_all(&wire);
        assert_eq!(read.headers().get_all(CONTENT_LENGTH).iter().count(), 1);
        assert_eq!(read.headers()["x-one"], "1");
        assert_eq!(read.body(), request.body());
    }

    #[test]
    fn chunks_and_trailers_read_back() {
        let request = Request::post("/stream").body(Bytes::new()).unwrap();
        let mut wire = Vec::new();
        write_head(&mut wire, &request, true);
        write_chunk(&mut wire, b"hello ");
        write_chunk(&mut wire, b"");
        write_chunk(&mut wire, &[b'x'; 300]);
        let mut trailers = HeaderMap::new();
        trailers.insert("lambda-runtime-function-error-type", "Function.Oops".parse().unwrap());
        write_last_chunk(&mut wire, &trailers);
        let read = decode_all(&wire);
        assert_eq!(read.body().len(), 306);
        assert!(read.body().starts_with(b"hello x"));
        assert_eq!(read.headers()["lambda-runtime-function-error-type"], "Function.Oops");
    }
}
