//! Web mode against bad input: malformed events, an app that is not
//! listening, crashes mid-request, answers with 100 MB or with garbage,
//! never answers, resets; each gets a defined answer or invocation error,
//! and the next request is served.

#![allow(clippy::unwrap_used)]

mod common;
mod web_support;

use std::time::Duration;

use lambda_sansio::platform::PlatformEvent;
use lambda_sansio_emulator::{EmulatorConfig, InvokeOutcome};
use serde_json::Value;
use web_support::{free_port, output_shows, python_app, web};

use common::invoke;

/// An HTTP API event for `GET path`.
fn event(path: &str) -> String {
    serde_json::json!({
        "version": "2.0", "rawPath": path, "rawQueryString": "", "headers": {"host": "example.com"},
        "requestContext": {"http": {"method": "GET", "path": path}, "stage": "$default", "requestId": "r"},
        "isBase64Encoded": false
    })
    .to_string()
}

fn status_of(outcome: &InvokeOutcome) -> Option<u64> {
    let InvokeOutcome::Response(body) = outcome else { return None };
    serde_json::from_slice::<Value>(body).ok()?.get("statusCode")?.as_u64()
}

fn error_of(outcome: &InvokeOutcome) -> (String, String) {
    let InvokeOutcome::Error(error_type, body) = outcome else {
        panic!("an invocation error, not {outcome:?}")
    };
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_owned));
    (error_type.clone(), message.unwrap_or_default())
}

/// The app still answers after whatever came before.
async fn still_serving(emulator: &lambda_sansio_emulator::Emulator) {
    assert_eq!(status_of(&invoke(emulator, &event("/")).await), Some(200), "the next request is served");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_events_get_a_400_or_a_clear_invocation_error() {
    let port = free_port();
    let emulator = web(&python_app("hostile_app.py"), port, &[], EmulatorConfig::default()).await;
    let mut bad_base64: Value = serde_json::from_str(&event("/")).unwrap();
    bad_base64["isBase64Encoded"] = Value::Bool(true);
    bad_base64["body"] = Value::from("%%% not base64");
    let answer = invoke(&emulator, &bad_base64.to_string()).await;
    assert_eq!(status_of(&answer), Some(400));
    let InvokeOutcome::Response(body) = &answer else { unreachable!() };
    assert!(String::from_utf8_lossy(body).contains("not valid base64"), "{body:?}");
    let missing = r#"{"version":"1.0","path":"/","requestContext":{}}"#;
    assert_eq!(status_of(&invoke(&emulator, missing).await), Some(400), "a REST event without httpMethod");
    let future = r#"{"version":"3.0","rawPath":"/","requestContext":{"http":{"method":"GET"}}}"#;
    let (error_type, message) = error_of(&invoke(&emulator, future).await);
    assert_eq!(error_type, "Runtime.InvalidEvent");
    assert!(message.contains("\"3.0\""), "{message}");
    still_serving(&emulator).await;
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_breaks_http_fails_only_that_invocation() {
    let port = free_port();
    let config = EmulatorConfig { timeout: Duration::from_secs(2), ..EmulatorConfig::default() };
    let emulator = web(&python_app("hostile_app.py"), port, &[], config).await;
    let (error_type, message) = error_of(&invoke(&emulator, &event("/garbage")).await);
    assert_eq!(error_type, "Function.WebAppInvalidResponse", "{message}");
    assert!(message.starts_with("The web app's answer is not valid HTTP/1.1"), "{message}");
    still_serving(&emulator).await;
    let (error_type, message) = error_of(&invoke(&emulator, &event("/reset")).await);
    assert_eq!(error_type, "Function.WebAppConnectionLost", "{message}");
    still_serving(&emulator).await;
    let (error_type, message) = error_of(&invoke(&emulator, &event("/never")).await);
    assert_eq!(error_type, "Function.Timeout", "{message}");
    assert!(message.starts_with("Task timed out after 1."), "{message}");
    still_serving(&emulator).await;
    assert_eq!(
        status_of(&invoke(&emulator, &event("/interim-split")).await),
        Some(200),
        "1xx, then a split answer"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_kept_alive_connection_carries_every_request() {
    let port = free_port();
    let emulator = web(&python_app("hostile_app.py"), port, &[], EmulatorConfig::default()).await;
    let mut numbers = Vec::new();
    for _ in 0..5 {
        let InvokeOutcome::Response(body) = invoke(&emulator, &event("/connection")).await else {
            panic!("answered")
        };
        let answer: Value = serde_json::from_slice(&body).unwrap();
        numbers.push(answer["body"].as_str().unwrap_or_default().to_owned());
    }
    assert!(numbers.iter().all(|n| *n == numbers[0]), "one connection for all: {numbers:?}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_or_a_100_mb_answer_fails_that_invocation_and_the_app_serves_on() {
    let port = free_port();
    let emulator = web(&python_app("wsgi_echo.py"), port, &[], EmulatorConfig::default()).await;
    let (error_type, message) = error_of(&invoke(&emulator, &event("/crash")).await);
    assert_eq!(error_type, "Function.WebAppExited", "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
    still_serving(&emulator).await;
    let (error_type, message) = error_of(&invoke(&emulator, &event("/big")).await);
    assert_eq!(error_type, "Function.ResponseSizeTooLarge", "{message}");
    still_serving(&emulator).await;
    assert!(
        output_shows(&emulator, |line| line.contains("the web app had exited")).await,
        "the restart is logged"
    );
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_port_nobody_listens_on_fails_each_invocation_clearly() {
    let (app_port, closed) = (free_port(), free_port());
    let env = [("AWS_LWA_READINESS_CHECK_PORT", app_port.to_string()), ("PORT", app_port.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let emulator = web(&python_app("hostile_app.py"), closed, &env, EmulatorConfig::default()).await;
    let (error_type, message) = error_of(&invoke(&emulator, &event("/")).await);
    assert_eq!(error_type, "Function.WebAppUnreachable", "{message}");
    assert!(message.contains(&closed.to_string()), "{message}");
    emulator.shutdown().await;
}

async fn init_failure(emulator: &lambda_sansio_emulator::Emulator) -> (String, String) {
    let mut events = emulator.events();
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(PlatformEvent::InitFailed { error_type, body, .. }) = events.recv().await {
                return (error_type, String::from_utf8_lossy(&body).into_owned());
            }
        }
    })
    .await
    .expect("init fails")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_exits_at_once_or_a_wrong_setting_is_an_init_error_with_its_cause() {
    let emulator =
        web("echo 'no port for me' >&2; exit 4", free_port(), &[], EmulatorConfig::default()).await;
    let (error_type, body) = init_failure(&emulator).await;
    assert_eq!(error_type, "Runtime.WebAppFailed");
    assert!(body.contains("exited before it was ready (exit status: 4)"), "{body}");
    assert!(
        output_shows(&emulator, |line| line.contains("bootstrap: init failed: the web app exited")).await
    );
    // Everything the bootstrap wrote, to its last line.
    let report = emulator.shutdown().await;
    let doubted = report.output.iter().find(|l| l.line.contains("could not be reported"));
    assert!(doubted.is_none(), "a delivered init error is not called undelivered: {doubted:?}");
    assert!(report.output.iter().any(|l| l.line.contains("no port for me")), "the app's own words are kept");

    let wrong = [("AWS_LWA_INVOKE_MODE", "fast")];
    let emulator = web("sleep 10", free_port(), &wrong, EmulatorConfig::default()).await;
    let (_, body) = init_failure(&emulator).await;
    assert!(body.contains("AWS_LWA_INVOKE_MODE=\\\"fast\\\" is not buffered or response_stream"), "{body}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_of_the_adapter_this_bootstrap_does_not_read_get_a_warning() {
    let port = free_port();
    let env = [("AWS_LWA_ENABLE_COMPRESSION", "true")];
    let emulator = web(&python_app("hostile_app.py"), port, &env, EmulatorConfig::default()).await;
    still_serving(&emulator).await;
    let expected =
        "bootstrap: warning: AWS_LWA_ENABLE_COMPRESSION is not supported by this bootstrap and has no effect";
    assert!(output_shows(&emulator, |line| line == expected).await, "{:?}", emulator.output());
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_never_becomes_ready_fails_init_within_lambdas_init_time() {
    let env = [("AWS_LWA_READINESS_CHECK_PATH", "/unhealthy")];
    let port = free_port();
    let emulator = web(&python_app("hostile_app.py"), port, &env, EmulatorConfig::default()).await;
    let (error_type, body) = init_failure(&emulator).await;
    assert_eq!(error_type, "Runtime.WebAppFailed");
    let expected = format!(
        "was not ready on port {port} within 10.0 s (checked with GET /unhealthy, ready below status 500)"
    );
    assert!(body.contains(&expected), "{body}");
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn at_shutdown_the_app_gets_sigterm_and_time_to_exit() {
    let marker = std::env::temp_dir().join(format!("lambda-sansio-web-term-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let env = [("TERM_MARKER", marker.to_str().unwrap_or_default())];
    let emulator = web(&python_app("hostile_app.py"), free_port(), &env, EmulatorConfig::default()).await;
    still_serving(&emulator).await;
    let report = emulator.shutdown().await;
    let (_, status, killed) = &report.processes[0];
    assert!(!killed && status.is_some_and(|s| s.success()), "the bootstrap exited on SIGTERM: {status:?}");
    assert_eq!(std::fs::read_to_string(&marker).ok().as_deref(), Some("bye"), "the app got SIGTERM");
    let _ = std::fs::remove_file(&marker);
}
