//! The async client against a hostile server: a huge body does not take that
//! much memory, a malformed answer is a typed error, never a panic.

#![allow(clippy::unwrap_used)]

use lambda_sansio_test_support::hostile_server::{get, hostile};

use lambda_sansio::TransportErrorKind;
use lambda_sansio_hyper::client::Client;

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
