//! A hostile HTTP server for client tests, shared by both transports.

use std::io::{Read, Write};
use std::net::TcpListener;

use bytes::Bytes;

/// Serves one connection: reads the request head, writes `answer`, then
/// `repeat` copies of `tail` (or until the client hangs up). Returns the
/// address it listens on.
pub fn hostile(answer: &'static [u8], tail: &'static [u8], repeat: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
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

/// A GET for `address`.
pub fn get(address: &str) -> http::Request<Bytes> {
    http::Request::builder().uri(format!("http://{address}/x")).body(Bytes::new()).unwrap()
}
