//! The emulator against clients no one here wrote: the official Rust
//! `lambda_runtime` crate and the official Python runtime interface client.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use bytes::Bytes;
use lambda_sansio_hyper::emulator::{Emulator, EmulatorConfig, InvokeOutcome};

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
