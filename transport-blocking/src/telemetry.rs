//! A Telemetry API listener: accepts the batches the platform POSTs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::thread::{self, JoinHandle};

use lambda_sansio::telemetry::{decode_batch, TelemetryRecord};

/// The host name Lambda gives the execution environment.
pub const SANDBOX_HOST: &str = "sandbox.localdomain";
/// Largest batch body accepted (the largest `maxBytes` plus framing).
const MAX_BATCH: usize = 2 * 1024 * 1024;

/// A bound listener, not yet serving.
pub struct TelemetryListener {
    listener: TcpListener,
    host: String,
}

impl TelemetryListener {
    /// Binds `port` (0 for any) on the address `sandbox.localdomain`
    /// resolves to (on Lambda), else on loopback, never on all interfaces.
    pub fn bind(port: u16) -> std::io::Result<Self> {
        let sandbox = (SANDBOX_HOST, port).to_socket_addrs().ok().and_then(|mut addrs| addrs.next());
        let (address, host) = match sandbox {
            Some(address) => (address, SANDBOX_HOST.to_owned()),
            None => (SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port), "127.0.0.1".to_owned()),
        };
        Ok(Self { listener: TcpListener::bind(address)?, host })
    }

    /// The destination URI to subscribe with.
    pub fn destination(&self) -> std::io::Result<String> {
        Ok(format!("http://{}:{}/telemetry", self.host, self.listener.local_addr()?.port()))
    }

    /// Serves on a background thread, calling `on_batch` for each batch that
    /// decodes (a malformed one is answered 400 and dropped).
    pub fn spawn<F>(self, on_batch: F) -> std::io::Result<JoinHandle<()>>
    where
        F: FnMut(Vec<TelemetryRecord>) + Send + 'static,
    {
        let mut on_batch = on_batch;
        thread::Builder::new().name("lambda-telemetry".into()).spawn(move || {
            for stream in self.listener.incoming().flatten() {
                let _ = serve(stream, &mut on_batch);
            }
        })
    }
}

/// Serves the requests of one keep-alive connection.
fn serve(stream: TcpStream, on_batch: &mut dyn FnMut(Vec<TelemetryRecord>)) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = Vec::new();
        loop {
            let start = head.len();
            if reader.read_until(b'\n', &mut head)? == 0 {
                return Ok(());
            }
            if head.len() > 64 * 1024 {
                return Ok(());
            }
            if head[start..] == *b"\r\n" || head[start..] == *b"\n" {
                break;
            }
        }
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut slots);
        if !matches!(request.parse(&head), Ok(httparse::Status::Complete(_))) {
            writer
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")?;
            return Ok(());
        }
        let length = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if length > MAX_BATCH {
            writer.write_all(
                b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let status: &[u8] = match decode_batch(&body) {
            Ok(batch) => {
                on_batch(batch);
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
            }
            Err(_) => b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
        };
        writer.write_all(status)?;
    }
}
