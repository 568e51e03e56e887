//! The sidecar endpoint on loopback: the function POSTs its own records
//! (JSON) for the extension to forward off the function's critical path,
//! and anyone on the machine may ask `/health` and `/stats`.
//!
//! | request | answer |
//! |---|---|
//! | `POST /records` (or `/`), a JSON object or an array of them | `202 {"accepted":N}` |
//! | the same, not JSON | `400` with a sentence |
//! | a body over 1 MiB | `413` |
//! | `GET /health` | `200 {"status":"ok"}` |
//! | `GET /stats` | `200 {"received","forwarded","dropped","queued","failedBatches"}` |
//! | another path | `404`; another method: `405` |

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, StatusCode};
use lambda_sansio::forward::ForwardRecord;
use lambda_sansio::TransportErrorKind;
use lambda_sansio_blocking::http1::{wants_close, Limits, RequestDecoder};
use serde_json::{json, Value};

use crate::shared::Shared;

/// Largest body taken.
pub(crate) const MAX_BODY: usize = 1024 * 1024;
/// Connections served at once; more are refused.
const MAX_CONNECTIONS: usize = 32;
/// A connection idle this long is closed.
const IDLE: Duration = Duration::from_secs(30);

/// Binds `127.0.0.1:port` (loopback only) and serves on background
/// threads. Returns the bound address.
pub(crate) fn spawn(port: u16, shared: Arc<Shared>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    let address = listener.local_addr()?;
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    thread::Builder::new().name("sidecar".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::sync::atomic::Ordering::SeqCst;
            if open.fetch_add(1, SeqCst) >= MAX_CONNECTIONS {
                open.fetch_sub(1, SeqCst);
                let _ = answer(
                    &mut { stream },
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"error":"too many connections"}),
                    true,
                );
                continue;
            }
            let (shared, held) = (Arc::clone(&shared), Arc::clone(&open));
            let spawned = thread::Builder::new().name("sidecar-conn".into()).spawn(move || {
                let _ = serve(stream, &shared);
                held.fetch_sub(1, SeqCst);
            });
            if spawned.is_err() {
                open.fetch_sub(1, SeqCst);
            }
        }
    })?;
    Ok(address)
}

fn serve(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let mut decoder = RequestDecoder::new(Limits::with_max_body(MAX_BODY));
    let (mut buffer, mut scratch) = (BytesMut::new(), vec![0; 64 * 1024]);
    loop {
        match decoder.decode(&mut buffer) {
            Ok(Some(request)) => {
                let (status, body) = route(request.method(), request.uri().path(), request.body(), shared);
                let close = wants_close(request.version(), request.headers());
                answer(&mut stream, status, &body, close)?;
                if close {
                    return Ok(());
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                let (status, message) = match error.kind {
                    TransportErrorKind::BodyTooLarge => {
                        (StatusCode::PAYLOAD_TOO_LARGE, format!("a body may hold at most {MAX_BODY} bytes"))
                    }
                    _ => (StatusCode::BAD_REQUEST, "the request is not HTTP/1.1".to_owned()),
                };
                return answer(&mut stream, status, &json!({ "error": message }), true);
            }
        }
        let read = match stream.read(&mut scratch) {
            Ok(0) => return Ok(()),
            Ok(read) => read,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Ok(()),
            Err(e) => return Err(e),
        };
        buffer.extend_from_slice(&scratch[..read]);
    }
}

/// The answer to one request.
fn route(method: &Method, path: &str, body: &Bytes, shared: &Shared) -> (StatusCode, Value) {
    match (path, method) {
        ("/" | "/records", &Method::POST) => match records_of(body) {
            Ok(records) => {
                let accepted = records.len();
                shared.receive(records);
                (StatusCode::ACCEPTED, json!({ "accepted": accepted }))
            }
            Err(problem) => (StatusCode::BAD_REQUEST, json!({ "error": problem })),
        },
        ("/health", &Method::GET) => (StatusCode::OK, json!({ "status": "ok" })),
        ("/stats", &Method::GET) => {
            let stats = shared.stats();
            let body = json!({
                "received": stats.received,
                "forwarded": stats.forwarded,
                "dropped": stats.dropped,
                "queued": stats.queued,
                "failedBatches": stats.failed_batches,
            });
            (StatusCode::OK, body)
        }
        ("/" | "/records" | "/health" | "/stats", _) => {
            (StatusCode::METHOD_NOT_ALLOWED, json!({ "error": format!("{method} is not allowed on {path}") }))
        }
        _ => (
            StatusCode::NOT_FOUND,
            json!({ "error": format!("nothing is served at {path}; POST records to /records") }),
        ),
    }
}

/// A posted body as records: one JSON object, or an array of them.
fn records_of(body: &Bytes) -> Result<Vec<ForwardRecord>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(_) => Ok(ForwardRecord::from_function(Bytes::from(item.to_string()))),
                _ => Err("each element of the array must be a JSON object".to_owned()),
            })
            .collect(),
        Value::Object(_) => Ok(vec![ForwardRecord::from_function(body.clone())]),
        _ => Err("the body must be a JSON object or an array of objects".to_owned()),
    }
}

fn answer(stream: &mut TcpStream, status: StatusCode, body: &Value, close: bool) -> std::io::Result<()> {
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
        if close { "connection: close\r\n" } else { "" }
    );
    stream.write_all([head.as_bytes(), body.as_bytes()].concat().as_slice())?;
    stream.flush()
}
