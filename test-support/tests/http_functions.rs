//! HTTP functions on both transports (`http_handler`, `http_stream_handler`)
//! run through the emulator's front door, which wraps plain HTTP requests
//! into each source's events as API Gateway, an ALB or a Function URL would.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use lambda_sansio::http::{EventShape, HttpSource};
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_test_support::support;

const SHAPES: [EventShape; 5] = [
    EventShape { source: HttpSource::RestApi, multi_value: true },
    EventShape { source: HttpSource::HttpApi, multi_value: false },
    EventShape { source: HttpSource::FunctionUrl, multi_value: false },
    EventShape { source: HttpSource::Alb, multi_value: false },
    EventShape { source: HttpSource::Alb, multi_value: true },
];

async fn start(example: &str) -> Emulator {
    let config = EmulatorConfig { bootstrap: Some(support::example(example)), ..EmulatorConfig::default() };
    Emulator::start(config).await.unwrap()
}

async fn send(
    front: SocketAddr,
    method: Method,
    target: &str,
    content_type: &str,
    body: &[u8],
) -> Response<Bytes> {
    let request = Request::builder()
        .method(method)
        .uri(format!("http://{front}{target}"))
        .header("content-type", content_type)
        .body(Bytes::copy_from_slice(body))
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), lambda_sansio_emulator::client::send(request))
        .await
        .expect("answered")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocking_http_function_answers_every_source_in_its_own_shape() {
    let emulator = start("http_api").await;
    for shape in SHAPES {
        let front = emulator.serve_http(shape, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let hello = send(front, Method::GET, "/hello?name=ada", "text/plain", b"").await;
        assert_eq!(
            (hello.status(), hello.body().as_ref()),
            (StatusCode::OK, &b"hello, ada\n"[..]),
            "{shape:?}"
        );
        let binary: Vec<u8> = (0..=255).rev().collect();
        let echo = send(front, Method::POST, "/echo", "application/octet-stream", &binary).await;
        assert_eq!(echo.body().as_ref(), binary.as_slice(), "{shape:?}: base64 both ways");
        let source = send(front, Method::GET, "/source", "text/plain", b"").await;
        let expected = match shape.source {
            HttpSource::RestApi => "rest-api",
            HttpSource::Alb => "alb",
            _ => "http-api or function-url",
        };
        assert_eq!(
            source.body().as_ref(),
            expected.as_bytes(),
            "{shape:?}: the request context reaches the handler"
        );
        let missing = send(front, Method::GET, "/nowhere", "text/plain", b"").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{shape:?}");
    }
    // An event no HTTP source sends fails the invocation, clearly.
    let outcome = emulator.invoke(Bytes::from_static(br#"{"Records":[]}"#)).await.unwrap();
    let InvokeOutcome::Error(error_type, body) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Runtime.InvalidEvent");
    assert!(String::from_utf8_lossy(&body).contains("not an HTTP event"), "{body:?}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_async_streaming_function_sends_its_head_then_every_line() {
    let emulator = start("http_stream").await;
    let front = emulator
        .serve_http(EventShape::of(HttpSource::FunctionUrl), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let answer = send(front, Method::GET, "/count?to=4", "text/plain", b"").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "text/plain");
    assert_eq!(answer.headers()["set-cookie"], "seen=1");
    assert_eq!(answer.body().as_ref(), b"line 1\nline 2\nline 3\nline 4\n");
    emulator.shutdown().await;
}
