//! A sink server for the forwarder's tests and benchmark: an HTTP/1.1
//! server on loopback that stores the body of every request it takes, and
//! can be down (`503`, storing nothing) for a while or for good, or slow.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// What the sink took: `(path, body)` per request.
type Taken = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// How the sink answers.
#[derive(Debug, Clone, Copy)]
pub enum Availability {
    /// Takes everything.
    Up,
    /// Answers `503` to the first N requests (storing nothing), then takes.
    DownFor(usize),
    /// Answers `503` to everything.
    Never,
    /// Stores the first N requests but answers them `503` (the answer was
    /// lost, say): their records come again, as duplicates.
    StoresButFails(usize),
}

/// An HTTP server that stores the body of every request it takes, by path.
pub struct SinkServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    taken: Taken,
    /// How many requests it refused.
    pub refused: Arc<AtomicUsize>,
}

impl SinkServer {
    /// Starts serving on a free loopback port.
    pub fn start(availability: Availability) -> Self {
        Self::slow(availability, Duration::ZERO)
    }

    /// The same, answering each request only after `delay` (a remote sink).
    pub fn slow(availability: Availability, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let taken = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let (store, count) = (Arc::clone(&taken), Arc::clone(&refused));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (store, count) = (Arc::clone(&store), Arc::clone(&count));
                std::thread::spawn(move || serve(stream, availability, delay, &store, &count));
            }
        });
        Self { url, taken, refused }
    }

    /// The bodies taken at `path`, in order.
    pub fn bodies(&self, path: &str) -> Vec<Vec<u8>> {
        self.taken.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, b)| b.clone()).collect()
    }

    /// Every record of every JSON-array batch taken at `path`, in order.
    pub fn records(&self, path: &str) -> Vec<Value> {
        self.bodies(path)
            .iter()
            .flat_map(|body| match serde_json::from_slice::<Value>(body).unwrap() {
                Value::Array(items) => items,
                other => panic!("a batch is a JSON array: {other}"),
            })
            .collect()
    }
}

fn serve(
    stream: std::net::TcpStream,
    availability: Availability,
    delay: Duration,
    store: &Mutex<Vec<(String, Vec<u8>)>>,
    refused: &AtomicUsize,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some((line, body)) = read_request(&mut reader) {
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        std::thread::sleep(delay);
        let take = match availability {
            Availability::Up => true,
            Availability::DownFor(n) => refused.load(Ordering::SeqCst) >= n,
            Availability::Never => false,
            Availability::StoresButFails(n) => {
                if refused.load(Ordering::SeqCst) < n {
                    store.lock().unwrap().push((path.clone(), body.clone()));
                }
                refused.load(Ordering::SeqCst) >= n
            }
        };
        let answer = if take {
            store.lock().unwrap().push((path, body));
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
        } else {
            refused.fetch_add(1, Ordering::SeqCst);
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
        };
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Reads one request with a `Content-Length` body: its request line and
/// body; `None` once the connection closes.
pub fn read_request(reader: &mut impl BufRead) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        if header.trim().is_empty() {
            break;
        }
        if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line, body))
}
