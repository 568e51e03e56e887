//! What the web mode tests share: the apps, free ports, an emulator running
//! an app in web mode, and plain HTTP requests through its front door.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use lambda_sansio::http::{EventShape, HttpSource};
use lambda_sansio_emulator::{Emulator, EmulatorConfig};

use crate::common::bootstrap;

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The command that runs one of the test apps in `tests/web`.
pub(crate) fn python_app(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web").join(name);
    format!("exec python3 {}", path.display())
}

/// An emulator running `command` in web mode on `port`, with `env` too.
pub(crate) async fn web(command: &str, port: u16, env: &[(&str, &str)], config: EmulatorConfig) -> Emulator {
    let mut all = vec![
        ("LAMBDA_SANSIO_MODE".to_owned(), "web".to_owned()),
        ("AWS_LWA_PORT".to_owned(), port.to_string()),
    ];
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = EmulatorConfig { bootstrap: Some(bootstrap()), handler: command.into(), env: all, ..config };
    Emulator::start(config).await.unwrap()
}

/// Every event shape the emulator's front door makes.
pub(crate) fn shapes() -> [EventShape; 5] {
    [
        EventShape::of(HttpSource::RestApi),
        EventShape::of(HttpSource::HttpApi),
        EventShape::of(HttpSource::FunctionUrl),
        EventShape { source: HttpSource::Alb, multi_value: false },
        EventShape { source: HttpSource::Alb, multi_value: true },
    ]
}

/// A front door on `emulator` for `shape`.
pub(crate) async fn front(emulator: &Emulator, shape: EventShape) -> SocketAddr {
    emulator.serve_http(shape, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

/// Sends a request through a front door, as `curl` would; a hang past 30 s
/// fails the test.
pub(crate) async fn send(
    front: SocketAddr,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response<Bytes> {
    let mut request = Request::builder().method(method).uri(format!("http://{front}{target}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Bytes::copy_from_slice(body)).unwrap();
    tokio::time::timeout(Duration::from_secs(30), lambda_sansio_emulator::client::send(request))
        .await
        .expect("the front door answers")
        .unwrap()
}

/// `GET target` through a front door.
pub(crate) async fn get(front: SocketAddr, target: &str) -> Response<Bytes> {
    send(front, Method::GET, target, &[], b"").await
}

/// Whether a line of the function's output matching `wanted` shows up
/// within 5 s (output is read from pipes, a little behind the events).
pub(crate) async fn output_shows(emulator: &Emulator, wanted: impl Fn(&str) -> bool) -> bool {
    for _ in 0..250 {
        if emulator.output().iter().any(|line| wanted(&line.line)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
