//! Bad input to the emulator gets the service's typed answers; it never
//! panics and never loses an invocation it accepted.

#![allow(clippy::unwrap_used)]

use lambda_sansio_test_support::support;

use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use lambda_sansio_emulator::client as oneshot;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome, INVOKE_PATH};

async fn serve_only() -> Emulator {
    Emulator::start(EmulatorConfig::default()).await.unwrap()
}

async fn call(
    emulator: &Emulator,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> (u16, String) {
    let mut request = Request::builder().method(method).uri(format!("http://{}{path}", emulator.address()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = oneshot::send(request.body(body).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
    (status, body["errorType"].as_str().unwrap_or_default().to_owned())
}

fn raw_exchange(address: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_http_is_answered_400() {
    let emulator = serve_only().await;
    let address = emulator.address();
    for garbage in
        [&b"GARBAGE\r\n\r\n"[..], b"GET / HTTP/9.9\r\n\r\n", b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n"]
    {
        let answer = tokio::task::spawn_blocking(move || raw_exchange(address, garbage)).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{garbage:?} -> {answer:?}");
    }
    let (status, _) = call(&emulator, Method::GET, "/nowhere", &[], Bytes::new()).await;
    assert_eq!(status, 404, "still serving");
}

/// `(method, path, headers, expected status, expected errorType)`.
type Case = (Method, &'static str, &'static [(&'static str, &'static str)], u16, &'static str);

#[tokio::test(flavor = "multi_thread")]
async fn unknown_ids_paths_and_methods_get_typed_answers() {
    let emulator = serve_only().await;
    let cases: [Case; 6] = [
        (Method::POST, "/2018-06-01/runtime/invocation/no-such-id/response", &[], 400, "InvalidRequestID"),
        (Method::POST, "/2018-06-01/runtime/invocation/..%2F/error", &[], 400, "InvalidRequestID"),
        (Method::GET, "/2020-01-01/extension/event/next", &[], 403, "Extension.MissingExtensionIdentifier"),
        (
            Method::GET,
            "/2020-01-01/extension/event/next",
            &[("lambda-extension-identifier", "nope")],
            403,
            "Extension.UnknownExtensionIdentifier",
        ),
        (Method::DELETE, "/2018-06-01/runtime/invocation/next", &[], 405, "MethodNotAllowed"),
        (Method::GET, "/2015-03-31/functions/function/invocations", &[], 405, "MethodNotAllowed"),
    ];
    for (method, path, headers, status, error_type) in cases {
        assert_eq!(
            call(&emulator, method, path, headers, Bytes::new()).await,
            (status, error_type.to_owned()),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413() {
    let emulator = serve_only().await;
    let huge = Bytes::from(vec![b'x'; 9 * 1024 * 1024]);
    let answer =
        call(&emulator, Method::POST, "/2018-06-01/runtime/invocation/x/response", &[], huge.clone()).await;
    assert_eq!(answer, (413, "RequestEntityTooLarge".to_owned()));
    let answer = call(&emulator, Method::POST, INVOKE_PATH, &[], huge).await;
    assert_eq!(answer, (413, "RequestEntityTooLarge".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_survives_a_runtime_poll_that_disconnected() {
    let emulator = serve_only().await;
    let address = emulator.address();
    // A runtime polls, then goes away before anything arrives.
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let emulator = std::sync::Arc::new(emulator);
    let invoker = std::sync::Arc::clone(&emulator);
    let outcome = tokio::spawn(async move { invoker.invoke(Bytes::from_static(b"{\"kept\":true}")).await });
    // A real runtime arrives later and must get the invocation.
    let mut runtime = std::process::Command::new(support::example("lambda_runtime_echo"))
        .env("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api())
        .env("AWS_LAMBDA_FUNCTION_NAME", "f")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .spawn()
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), outcome).await.unwrap().unwrap().unwrap();
    let _ = runtime.kill();
    let _ = runtime.wait();
    assert_eq!(outcome, InvokeOutcome::Response(Bytes::from_static(b"{\"kept\":true}")));
}
