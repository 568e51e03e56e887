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
    /// at once, more wait their turn), calling `on_batch` for each batch
    /// that decodes, one batch at a time. A malformed batch is answered 400
    /// and dropped.
    pub fn spawn<F>(self, on_batch: F) -> std::io::Result<JoinHandle<()>>
    where
        F: FnMut(Vec<TelemetryRecord>) + Send + 'static,
    {
        let on_batch: Arc<Mutex<F>> = Arc::new(Mutex::new(on_batch));
        let pool = Arc::new(Pool::default());
        thread::Builder::new().name("lambda-telemetry".into()).spawn(move || {
            for stream in self.listener.incoming().flatten() {
                let on_batch = Arc::clone(&on_batch);
                pool.hand_over(stream, move |stream, scratch| {
                    let _ = serve(stream, scratch, &mut |batch| {
                        let mut on_batch = on_batch.lock().unwrap_or_else(PoisonError::into_inner);
                        (*on_batch)(batch);
                    });
                });
            }
        })
    }
}

/// The connection threads: started on demand, at most [`MAX_CONNECTIONS`],
/// and kept for the next connection (the platform opens one per batch, and
/// starting a thread for each costs more than serving it).
#[derive(Default)]
struct Pool {
    state: Mutex<PoolState>,
    ready: Condvar,
    room: Condvar,
}

#[derive(Default)]
struct PoolState {
    waiting: std::collections::VecDeque<TcpStream>,
    idle: usize,
    threads: usize,
}

impl Pool {
    /// Queues `stream` for a free thread (starting one if none is free and
    /// the cap allows); `serve` is how a new thread serves its connections.
    fn hand_over<S>(self: &Arc<Self>, stream: TcpStream, serve: S)
    where
        S: Fn(TcpStream, &mut [u8]) + Send + 'static,
    {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // Every thread busy: new connections wait in the kernel's backlog.
        while state.waiting.len() >= MAX_CONNECTIONS {
            state = self.room.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.waiting.push_back(stream);
        // Each waiting connection needs a thread of its own: one held by a
        // slow keep-alive connection must not delay the others.
        if state.waiting.len() > state.idle && state.threads < MAX_CONNECTIONS {
            let pool = Arc::clone(self);
            let started =
                thread::Builder::new().name("lambda-telemetry-conn".into()).spawn(move || pool.work(&serve));
            if started.is_ok() {
                state.threads += 1;
            }
        }
        drop(state);
        self.ready.notify_one();
    }

    fn work(&self, serve: &dyn Fn(TcpStream, &mut [u8])) {
        // One read buffer per thread, for every connection it serves.
        let mut scratch = vec![0; 64 * 1024];
        loop {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let stream = loop {
                if let Some(stream) = state.waiting.pop_front() {
                    self.room.notify_one();
                    break stream;
                }
                state.idle += 1;
                state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
                state.idle -= 1;
            };
            drop(state);
            serve(stream, &mut scratch);
        }
    }
}

/// Serves the requests of one keep-alive connection until it closes, goes
/// idle past [`IDLE_TIMEOUT`], or sends something that is not HTTP.
fn serve(
    mut stream: TcpStream,
    scratch: &mut [u8],
    on_batch: &mut dyn FnMut(Vec<TelemetryRecord>),
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut decoder = RequestDecoder::new(Limits::with_max_body(MAX_BATCH_BYTES));
    let mut buffer = BytesMut::new();
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
        let read = match stream.read(scratch) {
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
