//! A Runtime API server that answers from a script, byte for byte, and
//! records every request: the hostile platform of the conformance issue
//! (split segments, interim answers, huge heads, early answers with the
//! request body unread).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// `GET`, `POST`.
    pub(crate) method: String,
    /// The request target exactly as sent.
    pub(crate) target: String,
    /// Header lines, names lowercased.
    pub(crate) headers: Vec<(String, String)>,
    /// Bytes of body read (0 when the answer came before the body).
    pub(crate) body: Vec<u8>,
    /// Whether bytes had arrived behind this request when the server
    /// answered it: the client pipelined (after
    /// [`Step::AnswerEarlyAndClose`], the unread body counts too). For
    /// [`Step::AnswerOnceFollowed`], after waiting for them.
    pub(crate) followed: bool,
}

impl Seen {
    /// The first value of header `name` (lowercase).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub(crate) enum Step {
    /// Reads the body, then writes these pieces, each in its own write with
    /// Nagle's algorithm on (so a second piece waits for the client's ACK).
    Answer(Vec<Vec<u8>>),
    /// Without reading the body: writes the answer and closes.
    AnswerEarlyAndClose(Vec<u8>),
    /// Reads the body, writes the answer and closes, whatever the client
    /// sent behind it.
    AnswerAndClose(Vec<u8>),
    /// Reads the body, writes the answer, and 50 ms later resets the
    /// connection (an RST, not a FIN).
    AnswerAndReset(Vec<u8>),
    /// Reads the body and never answers (a parked long poll).
    Hang,
    /// As `Answer`, once the client has sent bytes behind the request (it
    /// pipelined), or after [`FOLLOW_WAIT`] without them.
    AnswerOnceFollowed(Vec<Vec<u8>>),
}

/// How long [`Step::AnswerOnceFollowed`] waits for bytes behind a request.
const FOLLOW_WAIT: Duration = Duration::from_secs(1);

type Script = dyn Fn(&Seen, usize) -> Step + Send + Sync;

/// The server; it runs until the test process ends.
pub(crate) struct Scripted {
    address: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    /// Serves every connection with `script(request, index of the request)`.
    pub(crate) fn start(script: impl Fn(&Seen, usize) -> Step + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the scripted server");
        let address = listener.local_addr().expect("its address").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (script, log) = (Arc::clone(&script), Arc::clone(&log));
                std::thread::spawn(move || serve(stream, &*script, &log));
            }
        });
        Self { address, seen }
    }

    /// `host:port`.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Every request so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (up to `budget`) until `done` holds for the requests seen.
    pub(crate) fn wait_until(&self, budget: Duration, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + budget;
        loop {
            let seen = self.seen();
            if done(&seen) || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn serve(stream: TcpStream, script: &Script, log: &Mutex<Vec<Seen>>) {
    let _ = stream.set_nodelay(false);
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let Some(mut seen) = read_head(&mut reader) else { return };
        let index = log.lock().map(|l| l.len()).unwrap_or_default();
        let step = script(&seen, index);
        if !matches!(step, Step::AnswerEarlyAndClose(_)) {
            seen.body = read_body(&mut reader, &seen);
        }
        seen.followed = !reader.buffer().is_empty()
            || (matches!(step, Step::AnswerOnceFollowed(_)) && bytes_arrive(&mut reader, FOLLOW_WAIT));
        if let Ok(mut log) = log.lock() {
            log.push(seen);
        }
        match step {
            Step::Answer(pieces) | Step::AnswerOnceFollowed(pieces) => {
                for piece in pieces {
                    if writer.write_all(&piece).is_err() {
                        return;
                    }
                }
            }
            Step::AnswerEarlyAndClose(answer) | Step::AnswerAndClose(answer) => {
                let _ = writer.write_all(&answer);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Step::AnswerAndReset(answer) => {
                let _ = writer.write_all(&answer);
                std::thread::sleep(Duration::from_millis(50));
                let _ = socket2::SockRef::from(&writer).set_linger(Some(Duration::ZERO));
                return;
            }
            Step::Hang => {
                // Keep the connection open, unanswered, until the client leaves.
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
                return;
            }
        }
    }
}

/// Whether bytes arrive on the connection within `wait` (kept for the
/// next read).
fn bytes_arrive(reader: &mut BufReader<TcpStream>, wait: Duration) -> bool {
    if reader.get_ref().set_read_timeout(Some(wait)).is_err() {
        return false;
    }
    let arrived = matches!(reader.fill_buf(), Ok(bytes) if !bytes.is_empty());
    let _ = reader.get_ref().set_read_timeout(None);
    arrived
}

fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok().filter(|n| *n > 0)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Some(Seen { method, target, headers, body: Vec::new(), followed: false })
}

fn read_body(reader: &mut BufReader<TcpStream>, seen: &Seen) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(length) = seen.header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.resize(length, 0);
        let _ = reader.read_exact(&mut body);
    } else if seen.header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                break;
            }
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if size == 0 {
                // Trailers, then the blank line.
                let mut trailer = String::new();
                while reader.read_line(&mut trailer).unwrap_or(0) > 0 && trailer.trim_end() != "" {
                    trailer.clear();
                }
                break;
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            let _ = reader.read_exact(&mut body[start..]);
            body.truncate(start + size);
        }
    }
    body
}

/// A `200` answer to `next` for invocation `id` with extra header lines
/// (each ending in CRLF) and `payload`.
pub(crate) fn invocation(id: &str, extra_headers: &str, payload: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\n\
         {extra_headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
    .into_bytes()
}

/// The platform's `202` to an answer.
pub(crate) const ACCEPTED: &[u8] =
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";

/// Whether `seen` is a `next` poll.
pub(crate) fn is_next(seen: &Seen) -> bool {
    seen.target.ends_with("/runtime/invocation/next")
}
