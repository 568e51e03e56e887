//! The codec against every segmentation and the hostile heads the
//! conformance issue listed.

#![allow(clippy::unwrap_used)]

use crate::TransportErrorKind;
use bytes::BytesMut;

use super::{DecodeError, Decoded, Limits, RequestDecoder, ResponseDecoder, MAX_HEADERS};

fn limits() -> Limits {
    Limits::with_max_body(1024 * 1024)
}

/// Feeds `bytes` in pieces of `step`, then signals the close.
fn decode_in_steps(bytes: &[u8], step: usize) -> Result<Decoded, DecodeError> {
    let mut decoder = ResponseDecoder::new(limits());
    let mut buffer = BytesMut::new();
    for piece in bytes.chunks(step.max(1)) {
        buffer.extend_from_slice(piece);
        if let Some(decoded) = decoder.decode(&mut buffer)? {
            return Ok(decoded);
        }
    }
    decoder.decode_eof(&mut buffer)?.ok_or_else(|| DecodeError::reset("nothing arrived"))
}

fn whole(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_in_steps(bytes, bytes.len())
}

#[test]
fn every_segmentation_gives_the_same_answer() {
    let answers: [&[u8]; 4] = [
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-T: v\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\n\nhello",
    ];
    for answer in answers {
        let reference = whole(answer).unwrap();
        assert_eq!(reference.response.body().as_ref(), b"hello", "{:?}", String::from_utf8_lossy(answer));
        for step in 1..answer.len() {
            let split = decode_in_steps(answer, step).unwrap();
            assert_eq!(split.response.status(), reference.response.status());
            assert_eq!(split.response.headers(), reference.response.headers());
            assert_eq!(split.response.body(), reference.response.body());
            assert_eq!(split.reusable, reference.reusable);
        }
    }
}

#[test]
fn interim_answers_are_skipped_and_trailers_merged() {
    let chunked =
        whole(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: v\r\n\r\n").unwrap();
    assert_eq!(chunked.response.headers()["x-t"], "v");
    assert!(chunked.reusable);
    let interim =
        whole(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(interim.unwrap().response.status(), 413);
    let until_close = whole(b"HTTP/1.1 200 OK\r\n\r\nall of it").unwrap();
    assert!(!until_close.reusable);
}

#[test]
fn heads_as_large_as_hyper_accepts_are_read() {
    let mut answer = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\n".to_vec();
    for n in 0..100 {
        answer.extend_from_slice(format!("X-H{n}: v\r\n").as_bytes());
    }
    let context = "c".repeat(64 * 1024);
    answer.extend_from_slice(
        format!("Lambda-Runtime-Client-Context: {context}\r\ncontent-length: 0\r\n\r\n").as_bytes(),
    );
    let decoded = whole(&answer).unwrap();
    assert_eq!(decoded.response.headers()["lambda-runtime-client-context"].len(), 64 * 1024);
}

#[test]
fn unreadable_heads_are_typed_errors_that_keep_the_head() {
    let mut many = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\n".to_vec();
    for n in 0..MAX_HEADERS {
        many.extend_from_slice(format!("X-H{n}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let folded = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\nX-Trace: a\r\n b\r\n\r\n".to_vec();
    let bare_cr = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a\rb\r\n\r\n".to_vec();
    let huge_body =
        b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\ncontent-length: 104857600\r\n\r\n".to_vec();
    for (answer, kind) in [
        (many, TransportErrorKind::MalformedResponse),
        (folded, TransportErrorKind::MalformedResponse),
        (bare_cr, TransportErrorKind::MalformedResponse),
        (huge_body, TransportErrorKind::BodyTooLarge),
    ] {
        let error = whole(&answer).unwrap_err();
        assert_eq!(error.kind, kind, "{error} for {:?}", String::from_utf8_lossy(&answer[..60]));
        let head = error.head.as_deref().unwrap();
        assert!(head.windows(29).any(|w| w.eq_ignore_ascii_case(b"lambda-runtime-aws-request-id")));
    }
}

#[test]
fn framing_errors_and_short_bodies_are_typed() {
    for (answer, kind) in [
        (&b"NOT HTTP AT ALL\r\n\r\n"[..], TransportErrorKind::MalformedResponse),
        (b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n", TransportErrorKind::MalformedResponse),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx",
            TransportErrorKind::MalformedResponse,
        ),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", TransportErrorKind::Reset),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            TransportErrorKind::MalformedResponse,
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nxy\r\n",
            TransportErrorKind::MalformedResponse,
        ),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", TransportErrorKind::MalformedResponse),
        (b"HTTP/1.1 200", TransportErrorKind::Reset),
    ] {
        assert_eq!(whole(answer).unwrap_err().kind, kind, "{:?}", String::from_utf8_lossy(answer));
    }
    let endless_head = vec![b'a'; super::MAX_HEAD + 10];
    assert_eq!(whole(&endless_head).unwrap_err().kind, TransportErrorKind::MalformedResponse);
}

#[test]
fn requests_are_decoded_in_any_segmentation() {
    let requests: [&[u8]; 2] = [
        b"POST /telemetry HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n[]",
        b"POST /telemetry HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n1\r\n]\r\n0\r\n\r\n",
    ];
    for request in requests {
        for step in 1..=request.len() {
            let mut decoder = RequestDecoder::new(limits());
            let mut buffer = BytesMut::new();
            let mut decoded = None;
            for piece in request.chunks(step) {
                buffer.extend_from_slice(piece);
                if let Some(whole) = decoder.decode(&mut buffer).unwrap() {
                    decoded = Some(whole);
                }
            }
            let decoded = decoded.unwrap();
            assert_eq!((decoded.method().as_str(), decoded.uri().path()), ("POST", "/telemetry"));
            assert_eq!(decoded.body().as_ref(), b"[]");
        }
    }
    let mut decoder = RequestDecoder::new(Limits::with_max_body(10));
    let mut big = BytesMut::from(&b"POST / HTTP/1.1\r\ncontent-length: 11\r\n\r\n"[..]);
    assert_eq!(decoder.decode(&mut big).unwrap_err().kind, TransportErrorKind::BodyTooLarge);
}

/// Feeds `bytes` in pieces of `step`, taking the body as it arrives; the
/// pieces taken and the end of the whole answer make up the body.
fn stream_in_steps(bytes: &[u8], step: usize, max_body: usize) -> Result<(Vec<u8>, usize), DecodeError> {
    let mut decoder = ResponseDecoder::new(Limits::with_max_body(max_body));
    let mut buffer = BytesMut::new();
    let (mut body, mut takes) = (Vec::new(), 0);
    for piece in bytes.chunks(step.max(1)) {
        buffer.extend_from_slice(piece);
        if let Some(decoded) = decoder.decode(&mut buffer)? {
            body.extend_from_slice(decoded.response.body());
            return Ok((body, takes));
        }
        let partial = decoder.take_partial_body();
        if !partial.is_empty() {
            assert!(decoder.head().is_some(), "a body is only taken after its head");
            takes += 1;
            body.extend_from_slice(&partial);
        }
    }
    let decoded = decoder.decode_eof(&mut buffer)?.ok_or_else(|| DecodeError::reset("nothing arrived"))?;
    body.extend_from_slice(decoded.response.body());
    Ok((body, takes))
}

#[test]
fn a_body_taken_as_it_arrives_is_the_whole_body_in_every_framing() {
    let answers: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world",
    ];
    for answer in answers {
        for step in 1..answer.len() {
            let (body, takes) = stream_in_steps(answer, step, 1024).unwrap();
            assert_eq!(body, b"hello world", "step {step}: {}", String::from_utf8_lossy(answer));
            if step == 1 {
                assert!(takes > 1, "byte by byte, the body comes in pieces");
            }
        }
    }
}

#[test]
fn the_body_limit_counts_what_was_taken_early() {
    let chunked =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n";
    let until_close = b"HTTP/1.1 200 OK\r\n\r\nhello world!";
    let length = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world!";
    for answer in [&chunked[..], &until_close[..], &length[..]] {
        let error = stream_in_steps(answer, 3, 8).unwrap_err();
        assert_eq!(error.kind, TransportErrorKind::BodyTooLarge, "{}", String::from_utf8_lossy(answer));
    }
}

#[test]
fn the_version_is_kept_so_http_1_0_can_close() {
    use http::Version;
    assert_eq!(
        whole(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap().response.version(),
        Version::HTTP_10
    );
    assert_eq!(
        whole(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").unwrap().response.version(),
        Version::HTTP_11
    );
    let mut decoder = RequestDecoder::new(limits());
    let mut buffer =
        BytesMut::from(&b"GET /health HTTP/1.0\r\n\r\nPOST /r HTTP/1.1\r\ncontent-length: 0\r\n\r\n"[..]);
    assert_eq!(decoder.decode(&mut buffer).unwrap().unwrap().version(), Version::HTTP_10);
    assert_eq!(decoder.decode(&mut buffer).unwrap().unwrap().version(), Version::HTTP_11);
}
