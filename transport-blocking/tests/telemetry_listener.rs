//! The blocking telemetry listener against clients that misbehave: an idle
//! keep-alive and a request sent by halves do not hold up other batches;
//! chunked and split batches are taken; oversized ones are refused.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use lambda_sansio_blocking::TelemetryListener;

const BATCH: &str = r#"[{"time":"2026-01-01T00:00:00.000Z","type":"function","record":"hello"}]"#;

fn start() -> (String, mpsc::Receiver<usize>) {
    let listener = TelemetryListener::bind(0).unwrap();
    let destination = listener.destination().unwrap();
    assert!(destination.starts_with("http://sandbox.localdomain:"), "{destination}");
    let port = destination.rsplit(':').next().unwrap().split('/').next().unwrap().to_owned();
    let (records, received) = mpsc::channel();
    listener.spawn(move |batch| records.send(batch.len()).unwrap()).unwrap();
    (format!("127.0.0.1:{port}"), received)
}

fn status_of(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = [0u8; 64];
    let read = stream.read(&mut answer).unwrap();
    String::from_utf8_lossy(&answer[..read]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn stalled_connections_do_not_hold_up_a_chunked_batch() {
    let (address, received) = start();
    let _idle = TcpStream::connect(&address).unwrap();
    let mut half = TcpStream::connect(&address).unwrap();
    half.write_all(b"POST /telemetry HTTP/1.1\r\ncontent-length: 500\r\n\r\n[{\"ti").unwrap();
    let mut chunked = TcpStream::connect(&address).unwrap();
    let (first, second) = BATCH.split_at(20);
    let request = format!(
        "POST /telemetry HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    // Sent in small pieces, as a hostile or slow sender would.
    for piece in request.as_bytes().chunks(7) {
        chunked.write_all(piece).unwrap();
    }
    assert_eq!(status_of(&mut chunked), "HTTP/1.1 200 OK");
    assert_eq!(received.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
    // The same connection carries the next batch (keep-alive).
    let again = format!("POST /telemetry HTTP/1.1\r\ncontent-length: {}\r\n\r\n{BATCH}", BATCH.len());
    chunked.write_all(again.as_bytes()).unwrap();
    assert_eq!(status_of(&mut chunked), "HTTP/1.1 200 OK");
    assert_eq!(received.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
}

#[test]
fn bad_batches_are_refused_with_their_status() {
    let (address, received) = start();
    for (request, status) in [
        (
            "POST /t HTTP/1.1\r\ncontent-length: 104857600\r\n\r\n".to_owned(),
            "HTTP/1.1 413 Payload Too Large",
        ),
        ("POST /t HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}".to_owned(), "HTTP/1.1 400 Bad Request"),
        ("GARBAGE\r\n\r\n".to_owned(), "HTTP/1.1 400 Bad Request"),
        ("GET /t HTTP/1.1\r\n\r\n".to_owned(), "HTTP/1.1 405 Method Not Allowed"),
    ] {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        assert_eq!(status_of(&mut stream), status, "{request:?}");
    }
    assert!(received.try_recv().is_err(), "no refused batch reached the callback");
}
