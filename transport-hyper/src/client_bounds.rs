//! The async client against a hostile server: a huge body does not take that
//! much memory, a malformed answer is a typed error, never a panic.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;

use bytes::Bytes;
use lambda_sansio::TransportErrorKind;

use crate::client::Client;

/// Serves one connection: reads the request head, writes `answer`, then
/// `repeat` copies of `tail` (or until the client hangs up).
fn hostile(answer: &'static [u8], tail: &'static [u8], repeat: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = stream.read(&mut [0u8; 4096]);
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

#[tokio::test]
async fn a_100_mb_body_stops_at_the_limit() {
    let address = hostile(b"HTTP/1.1 200 OK\r\ncontent-length: 104857600\r\n\r\n", &[b'x'; 65536], 1600);
    let error = Client::new(address.clone(), 1024 * 1024).send(get(&address)).await.unwrap_err();
    assert_eq!(error.kind, TransportErrorKind::BodyTooLarge);
}

#[tokio::test]
async fn malformed_and_truncated_answers_are_typed_errors() {
    for (answer, kind) in [
        (&b"NOT HTTP AT ALL\r\n\r\n"[..], TransportErrorKind::MalformedResponse),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", TransportErrorKind::Reset),
        (b"", TransportErrorKind::Reset),
    ] {
        let address = hostile(answer, b"", 0);
        let error = Client::new(address.clone(), 1024).send(get(&address)).await.unwrap_err();
        assert_eq!(error.kind, kind, "{:?}", String::from_utf8_lossy(answer));
    }
}
