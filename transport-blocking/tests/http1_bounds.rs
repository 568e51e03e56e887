//! The blocking client against a hostile server: a huge body does not take
//! that much memory, a malformed answer is a typed error, never a panic.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use bytes::Bytes;
use lambda_sansio::TransportErrorKind;
use lambda_sansio_blocking::http1::Connection;

/// Serves one connection: reads the request head, writes `answer`, then
/// `repeat` copies of `tail` (or until the client hangs up).
fn hostile(answer: &'static [u8], tail: &'static [u8], repeat: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = [0u8; 4096];
        let _ = stream.read(&mut head);
        if stream.write_all(answer).is_err() {
            return;
        }
        for _ in 0..repeat {
            if stream.write_all(tail).is_err() {
                return;
            }
        }
    });
    address
}

fn get(address: &str) -> http::Request<Bytes> {
    http::Request::builder().uri(format!("http://{address}/x")).body(Bytes::new()).unwrap()
}

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
