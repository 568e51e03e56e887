//! Web mode with real apps: Python's own `http.server` serving files, and a
//! WSGI app on `wsgiref`, driven through every event source, directly with
//! events, and with streaming and concurrency.

#![allow(clippy::unwrap_used)]

mod common;
mod web_support;

use bytes::Bytes;
use http::{Method, StatusCode};
use lambda_sansio::http::{event_from_request, EventShape, HttpSource, SynthContext};
use lambda_sansio_emulator::{EmulatorConfig, InvokeOutcome};
use serde_json::Value;
use web_support::{free_port, front, get, python_app, send, shapes, web};

use common::invoke;

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test(flavor = "multi_thread")]
async fn pythons_http_server_serves_its_files_through_every_event_source() {
    let site = std::env::temp_dir().join(format!("lambda-sansio-site-{}", std::process::id()));
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("hello.txt"), "hello from a file\n").unwrap();
    let binary: Vec<u8> = (0..=255).collect();
    std::fs::write(site.join("image.bin"), &binary).unwrap();
    let port = free_port();
    let command =
        format!("exec python3 -m http.server {port} --bind 127.0.0.1 --directory {}", site.display());
    let emulator = web(&command, port, &[], EmulatorConfig::default()).await;
    for shape in shapes() {
        let front = front(&emulator, shape).await;
        let text = get(front, "/hello.txt").await;
        assert_eq!(
            (text.status(), text.body().as_ref()),
            (StatusCode::OK, &b"hello from a file\n"[..]),
            "{shape:?}"
        );
        assert_eq!(text.headers()["content-type"], "text/plain", "{shape:?}");
        let image = get(front, "/image.bin").await;
        assert_eq!(
            image.body().as_ref(),
            binary.as_slice(),
            "{shape:?}: binary bodies travel as base64 and back"
        );
        let missing = get(front, "/no-such-file").await;
        assert_eq!(
            missing.status(),
            StatusCode::NOT_FOUND,
            "{shape:?}: the app's own refusal reaches the client"
        );
        let refused = send(front, Method::POST, "/hello.txt", &[], b"x").await;
        assert_eq!(refused.status(), StatusCode::NOT_IMPLEMENTED, "{shape:?}");
    }
    emulator.shutdown().await;
    std::fs::remove_dir_all(&site).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wsgi_app_sees_the_request_the_client_sent_with_the_adapters_context_headers() {
    let port = free_port();
    let emulator = web(&python_app("wsgi_echo.py"), port, &[], EmulatorConfig::default()).await;
    for shape in shapes() {
        let front = front(&emulator, shape).await;
        let headers = [("x-custom", "value"), ("cookie", "c=1; d=2"), ("content-type", "text/plain")];
        let answer = send(front, Method::POST, "/echo/path?a=1&a=2&b=x%20y", &headers, b"the body").await;
        assert_eq!(answer.status(), StatusCode::OK, "{shape:?}");
        let echo = json(answer.body());
        assert_eq!(echo["method"], "POST", "{shape:?}");
        assert_eq!(echo["path"], "/echo/path", "{shape:?}");
        let query = echo["query"].as_str().unwrap_or_default();
        let expected = if shape.multi_value || shape.source != HttpSource::Alb {
            "a=1&a=2&b=x%20y"
        } else {
            "a=2&b=x%20y"
        };
        assert_eq!(query, expected, "{shape:?}");
        assert_eq!(echo["headers"]["x-custom"], "value", "{shape:?}");
        assert_eq!(echo["headers"]["cookie"], "c=1; d=2", "{shape:?}");
        assert_eq!(echo["body"], "the body", "{shape:?}");
        let lambda_context: Value =
            serde_json::from_str(echo["headers"]["x-amzn-lambda-context"].as_str().unwrap()).unwrap();
        assert!(lambda_context["request_id"].is_string(), "{shape:?}: {lambda_context}");
        let request_context: Value =
            serde_json::from_str(echo["headers"]["x-amzn-request-context"].as_str().unwrap()).unwrap();
        assert!(request_context.is_object(), "{shape:?}");
        let cookies = get(front, "/cookies").await;
        assert_eq!(cookies.status(), StatusCode::CREATED, "{shape:?}");
        let set: Vec<_> = cookies.headers().get_all("set-cookie").iter().collect();
        let expected = if shape.source == HttpSource::Alb && !shape.multi_value { 1 } else { 2 };
        assert_eq!(set.len(), expected, "{shape:?}: {set:?}");
        let image = get(front, "/image").await;
        assert_eq!(image.body().as_ref(), (0..=255).collect::<Vec<u8>>().as_slice(), "{shape:?}");
    }
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_events_are_posted_as_they_are_to_the_pass_through_path() {
    let port = free_port();
    let emulator = web(&python_app("wsgi_echo.py"), port, &[], EmulatorConfig::default()).await;
    let sqs = r#"{"Records":[{"messageId":"1","eventSource":"aws:sqs","body":"hello"}]}"#;
    let InvokeOutcome::Response(body) = invoke(&emulator, sqs).await else {
        panic!("the SQS event is answered")
    };
    let echo = json(&body);
    assert_eq!((echo["method"].as_str(), echo["path"].as_str()), (Some("POST"), Some("/events")));
    assert_eq!(echo["body"], sqs);
    assert_eq!(echo["headers"]["content-type"], "application/json");
    emulator.shutdown().await;

    let port = free_port();
    let moved = [("AWS_LWA_PASS_THROUGH_PATH", "/queue")];
    let emulator = web(&python_app("wsgi_echo.py"), port, &moved, EmulatorConfig::default()).await;
    let InvokeOutcome::Response(body) = invoke(&emulator, "[1, 2, 3]").await else { panic!("answered") };
    assert_eq!(json(&body)["path"], "/queue");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_answer_reaches_the_client_with_its_head_and_every_chunk() {
    let port = free_port();
    let streaming = [("AWS_LWA_INVOKE_MODE", "response_stream")];
    let emulator = web(&python_app("hostile_app.py"), port, &streaming, EmulatorConfig::default()).await;
    let front = front(&emulator, EventShape::of(HttpSource::FunctionUrl)).await;
    let answer = get(front, "/stream").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "text/event-stream");
    assert_eq!(answer.body().as_ref(), b"one\ntwo\nthree\n");
    let split = get(front, "/interim-split").await;
    assert_eq!(split.body().as_ref(), b"hello");
    // What the runtime sent: the prelude, eight NUL bytes, the body.
    let request = http::Request::get("/stream").body(Bytes::new()).unwrap();
    let event =
        event_from_request(EventShape::of(HttpSource::FunctionUrl), &request, &SynthContext::default());
    let InvokeOutcome::Response(raw) = emulator.invoke(event.clone()).await.unwrap() else {
        panic!("streamed")
    };
    let separator = raw.windows(8).position(|w| w == [0; 8]).expect("a prelude and its separator");
    assert_eq!(json(&raw.slice(..separator))["statusCode"], 200);
    assert_eq!(&raw[separator + 8..], b"one\ntwo\nthree\n");
    // A malformed event is a streamed 400 that says why.
    let mut bad: Value = serde_json::from_slice(&event).unwrap();
    bad["isBase64Encoded"] = Value::Bool(true);
    bad["body"] = Value::from("%");
    let InvokeOutcome::Response(raw) = emulator.invoke(Bytes::from(bad.to_string())).await.unwrap() else {
        panic!("answered")
    };
    let separator = raw.windows(8).position(|w| w == [0; 8]).expect("a prelude and its separator");
    assert_eq!(json(&raw.slice(..separator))["statusCode"], 400);
    assert!(String::from_utf8_lossy(&raw[separator + 8..]).contains("not valid base64"));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_instances_serve_several_requests_at_once_each_with_its_own_answer() {
    let port = free_port();
    let config = EmulatorConfig {
        mode: lambda_sansio::runtime::Mode::Concurrent { max: std::num::NonZeroU16::new(4).unwrap() },
        ..EmulatorConfig::default()
    };
    let emulator = web(&python_app("wsgi_echo.py"), port, &[], config).await;
    let front = front(&emulator, EventShape::of(HttpSource::HttpApi)).await;
    let requests = (0..8).map(|n| async move { (n, get(front, &format!("/slow/{n}")).await) });
    for (n, answer) in futures_join(requests).await {
        assert_eq!(answer.status(), StatusCode::OK, "request {n}");
        assert_eq!(json(answer.body())["path"], format!("/slow/{n}"));
    }
    emulator.shutdown().await;
}

/// Runs the futures at once and collects their outputs.
async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
