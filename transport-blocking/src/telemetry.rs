//! A Telemetry API listener: accepts the batches the platform POSTs.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bytes::BytesMut;
use http::StatusCode;
use lambda_sansio::telemetry::{
    receive_batch, sandbox_address, too_large, BatchAnswer, Subscription, TelemetryRecord, MAX_BATCH_BYTES,
};
use lambda_sansio::TransportErrorKind;

use crate::http1::{Limits, RequestDecoder};

/// The host name Lambda gives the execution environment.
pub const SANDBOX_HOST: &str = Subscription::SANDBOX_HOST;
/// Connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// A connection that sends nothing for this long (idle keep-alive, or a
/// request sent by halves) is closed, so it holds no slot for good.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listener, not yet serving.
pub struct TelemetryListener {
    listener: TcpListener,
}

impl TelemetryListener {
    /// Binds `port` (0 for any) on the address `/etc/hosts` gives
    /// `sandbox.localdomain` (on Lambda), else on loopback; never on all
    /// interfaces, and without a DNS query.
    pub fn bind(port: u16) -> std::io::Result<Self> {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let ip = sandbox_address(&hosts).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        Ok(Self { listener: TcpListener::bind(SocketAddr::new(ip, port))? })
    }

    /// The destination URI to subscribe with: always on
    /// `sandbox.localdomain`, as Lambda requires (under Managed Instances it
    /// refuses any other host).
    pub fn destination(&self) -> std::io::Result<String> {
        Ok(format!("http://{SANDBOX_HOST}:{}/telemetry", self.listener.local_addr()?.port()))
    }

    /// Serves on background threads (up to [`MAX_CONNECTIONS`] connections
    /// at once), calling `on_batch` for each batch that decodes, one batch at
    /// a time. A malformed batch is answered 400 and dropped.
    pub fn spawn<F>(self, on_batch: F) -> std::io::Result<JoinHandle<()>>
    where
        F: FnMut(Vec<TelemetryRecord>) + Send + 'static,
    {
        let on_batch: Arc<Mutex<F>> = Arc::new(Mutex::new(on_batch));
        let slots = Arc::new(Slots::new(MAX_CONNECTIONS));
        thread::Builder::new().name("lambda-telemetry".into()).spawn(move || {
            for stream in self.listener.incoming().flatten() {
                slots.acquire();
                let (held, on_batch) = (Arc::clone(&slots), Arc::clone(&on_batch));
                let served = thread::Builder::new().name("lambda-telemetry-conn".into()).spawn(move || {
                    let _ = serve(stream, &mut |batch| {
                        let mut on_batch = on_batch.lock().unwrap_or_else(PoisonError::into_inner);
                        (*on_batch)(batch);
                    });
                    held.release();
                });
                if served.is_err() {
                    slots.release();
                }
            }
        })
    }
}

/// A counting semaphore for connection threads.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn new(count: usize) -> Self {
        Self { free: Mutex::new(count), freed: Condvar::new() }
    }

    fn acquire(&self) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
    }

    fn release(&self) {
        *self.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.freed.notify_one();
    }
}

/// Serves the requests of one keep-alive connection until it closes, goes
/// idle past [`IDLE_TIMEOUT`], or sends something that is not HTTP.
fn serve(mut stream: TcpStream, on_batch: &mut dyn FnMut(Vec<TelemetryRecord>)) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut decoder = RequestDecoder::new(Limits::with_max_body(MAX_BATCH_BYTES));
    let mut buffer = BytesMut::new();
    let mut scratch = vec![0; 64 * 1024];
    loop {
        match decoder.decode(&mut buffer) {
            Ok(Some(request)) => {
                let BatchAnswer { status, records } = receive_batch(request.method(), request.body());
                if status.is_success() {
                    on_batch(records);
                }
                write_answer(&mut stream, status, false)?;
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                let status = match error.kind {
                    TransportErrorKind::BodyTooLarge => too_large().status,
                    _ => StatusCode::BAD_REQUEST,
                };
                return write_answer(&mut stream, status, true);
            }
        }
        let read = match stream.read(&mut scratch) {
            Ok(read) => read,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Ok(()),
            Err(e) => return Err(e),
        };
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&scratch[..read]);
    }
}

fn write_answer(stream: &mut TcpStream, status: StatusCode, close: bool) -> std::io::Result<()> {
    let reason = status.canonical_reason().unwrap_or("");
    let connection = if close { "connection: close\r\n" } else { "" };
    let head = format!("HTTP/1.1 {} {reason}\r\ncontent-length: 0\r\n{connection}\r\n", status.as_u16());
    stream.write_all(head.as_bytes())
}
