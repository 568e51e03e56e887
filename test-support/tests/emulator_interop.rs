//! The emulator against clients no one here wrote: the official Rust
//! `lambda_runtime` crate and the official Python runtime interface client.

#![allow(clippy::unwrap_used)]

use lambda_sansio_test_support::support;

use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};

#[tokio::test]
async fn the_official_rust_runtime_echoes_through_the_emulator() {
    let config =
        EmulatorConfig { bootstrap: Some(support::example("lambda_runtime_echo")), ..Default::default() };
    let emulator = Emulator::start(config).await.unwrap();
    for n in 0..5 {
        let payload = format!(r#"{{"n":{n},"text":"héllo"}}"#);
        let outcome =
            tokio::time::timeout(Duration::from_secs(20), emulator.invoke(Bytes::from(payload.clone())))
                .await
                .expect("the invocation completes")
                .unwrap();
        let InvokeOutcome::Response(body) = outcome else { panic!("{outcome:?}") };
        let got: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let sent: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(got, sent);
    }
    let report = emulator.shutdown().await;
    assert_eq!(report.processes.len(), 1);
    let (_, _, killed) = &report.processes[0];
    assert!(*killed, "with no extension registered the runtime is killed without SIGTERM");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_python_client_runs_a_handler_through_the_emulator() {
    let python = support::python_with_awslambdaric();
    let dir = std::env::temp_dir().join(format!("lambda-sansio-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("app.py"),
        "def handler(event, context):\n    return {'echo': event, 'id': context.aws_request_id}\n",
    )
    .unwrap();
    let bootstrap = dir.join("bootstrap");
    std::fs::write(
        &bootstrap,
        format!("#!/bin/sh\nexec '{}' -m awslambdaric app.handler\n", python.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config =
        EmulatorConfig { bootstrap: Some(bootstrap), handler: "app.handler".into(), ..Default::default() };
    let emulator = Emulator::start(config).await.unwrap();
    for n in 0..3 {
        let outcome = tokio::time::timeout(
            Duration::from_secs(60),
            emulator.invoke(Bytes::from(format!("{{\"n\":{n}}}"))),
        )
        .await
        .expect("the invocation completes")
        .unwrap();
        let InvokeOutcome::Response(body) = outcome else { panic!("{outcome:?}") };
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["echo"], serde_json::json!({"n": n}));
        assert_eq!(body["id"].as_str().map(str::len), Some(36), "a UUID-shaped request id: {body}");
    }
    emulator.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
