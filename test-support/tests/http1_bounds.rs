//! The blocking client against a hostile server: a huge body does not take
//! that much memory, a malformed answer is a typed error, never a panic.

#![allow(clippy::unwrap_used)]

use lambda_sansio_test_support::hostile_server::{get, hostile};

use lambda_sansio::TransportErrorKind;
use lambda_sansio_blocking::http1::Connection;

#[test]
fn a_declared_100_mb_body_is_refused_before_it_is_read() {
    let address = hostile(b"HTTP/1.1 200 OK\r\ncontent-length: 104857600\r\n\r\n", &[b'x'; 65536], 1600);
    let error = Connection::new(&address, 1024 * 1024).send(&get(&address)).unwrap_err();
    assert_eq!(error.kind, TransportErrorKind::BodyTooLarge);
}

#[test]
fn an_endless_chunked_body_stops_at_the_limit() {
    static CHUNK: [u8; 65543] = {
        let mut chunk = [b'y'; 65543];
        // "10000\r\n" + 65536 bytes: one 64 KiB chunk, without its CRLF yet.
        let size = *b"10000\r\n";
        let mut i = 0;
        while i < size.len() {
            chunk[i] = size[i];
            i += 1;
        }
        chunk
    };
    let address = hostile(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", &CHUNK, 1600);
    let error = Connection::new(&address, 1024 * 1024).send(&get(&address)).unwrap_err();
    assert!(
        matches!(error.kind, TransportErrorKind::BodyTooLarge | TransportErrorKind::MalformedResponse),
        "{error:?}"
    );
}

#[test]
fn malformed_and_truncated_answers_are_typed_errors() {
    for (answer, kind) in [
        (&b"NOT HTTP AT ALL\r\n\r\n"[..], TransportErrorKind::MalformedResponse),
        (b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n", TransportErrorKind::MalformedResponse),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", TransportErrorKind::Reset),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            TransportErrorKind::MalformedResponse,
        ),
        (b"", TransportErrorKind::Reset),
    ] {
        let address = hostile(answer, b"", 0);
        let error = Connection::new(&address, 1024).send(&get(&address)).unwrap_err();
        assert_eq!(error.kind, kind, "{:?}", String::from_utf8_lossy(answer));
    }
}
