//! A TCP forwarder that watches what a client sends: a scenario against a
//! server it cannot ask (`cargo lambda watch`) waits until the client's
//! request reached it, instead of sleeping and hoping.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Listens on loopback and forwards every connection to `upstream`.
pub(crate) struct Tap {
    address: String,
    seen: Arc<AtomicBool>,
}

impl Tap {
    /// Forwards to `upstream`; [`wait_for`](Self::wait_for) returns once a
    /// client has sent `marker` (in any segmentation).
    pub(crate) fn start(upstream: String, marker: &'static [u8]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the tap");
        let address = listener.local_addr().expect("the tap's address").to_string();
        let seen = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let (Ok(client_reader), Ok(server_writer)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let flag = Arc::clone(&flag);
                std::thread::spawn(move || copy(client_reader, server_writer, marker, &flag));
                std::thread::spawn(move || copy(server, client, b"", &AtomicBool::new(false)));
            }
        });
        Self { address, seen }
    }

    /// Where clients connect.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Whether the marker went through within `budget`.
    pub(crate) fn wait_for(&self, budget: Duration) -> bool {
        let deadline = Instant::now() + budget;
        while Instant::now() < deadline {
            if self.seen.load(Ordering::SeqCst) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.seen.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` until either side closes, setting `seen` once
/// `marker` has passed (the marker forwarded first).
fn copy(mut from: TcpStream, mut to: TcpStream, marker: &[u8], seen: &AtomicBool) {
    let mut buffer = [0u8; 16 * 1024];
    let mut window: Vec<u8> = Vec::new();
    while let Ok(n @ 1..) = from.read(&mut buffer) {
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        if !marker.is_empty() {
            window.extend_from_slice(&buffer[..n]);
            if window.windows(marker.len()).any(|w| w == marker) {
                seen.store(true, Ordering::SeqCst);
            }
            let keep = window.len().saturating_sub(marker.len());
            window.drain(..keep);
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
