//! Lambda's advanced logging controls through the emulator: the format and
//! level it passes on, and the request id on every line written during an
//! invocation, also when invocations overlap.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroU16;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::runtime::Mode;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};
use lambda_sansio_test_support::scratch::Scratch;
use lambda_sansio_test_support::support;

/// A bootstrap that runs `example` with its stderr appended to a file.
/// The directory holding both is removed when the test passes.
fn logged(example: &str, tag: &str) -> (Scratch, PathBuf, PathBuf) {
    let dir = Scratch::new(&format!("logging-{tag}"));
    let log = dir.join("stderr.log");
    let bootstrap = dir.join("bootstrap");
    let script =
        format!("#!/bin/sh\nexec '{}' 2>>'{}'\n", support::example(example).display(), log.display());
    std::fs::write(&bootstrap, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, bootstrap, log)
}

fn request_id(outcome: InvokeOutcome) -> String {
    let InvokeOutcome::Response(body) = outcome else { panic!("{outcome:?}") };
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    body["requestId"].as_str().unwrap().to_owned()
}

fn json_lines(log: &PathBuf) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect()
}

#[tokio::test]
async fn json_lines_carry_the_request_id_and_follow_the_level() {
    let (_dir, bootstrap, log) = logged("blocking_logging", "json");
    let config = EmulatorConfig {
        bootstrap: Some(bootstrap),
        log_format: "JSON".into(),
        log_level: Some("INFO".into()),
        ..Default::default()
    };
    let emulator = Emulator::start(config).await.unwrap();
    let mut ids = Vec::new();
    for payload in ["{}", "[1,2]"] {
        ids.push(request_id(emulator.invoke(Bytes::from(payload)).await.unwrap()));
    }
    emulator.shutdown().await;
    let lines = json_lines(&log);
    let handling: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "handling").collect();
    assert_eq!(handling.len(), 2, "{lines:?}");
    for (line, id) in handling.iter().zip(&ids) {
        assert_eq!(line["requestId"], id.as_str());
        assert_eq!(line["level"], "INFO");
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!((handling[0]["bytes"].as_u64(), handling[1]["bytes"].as_u64()), (Some(2), Some(5)));
    assert!(lines.iter().all(|l| l["level"] != "DEBUG"), "DEBUG is below INFO");
}

#[tokio::test]
async fn text_lines_name_the_request_id_and_debug_shows_when_asked() {
    let (_dir, bootstrap, log) = logged("blocking_logging", "text");
    let config =
        EmulatorConfig { bootstrap: Some(bootstrap), log_level: Some("DEBUG".into()), ..Default::default() };
    let emulator = Emulator::start(config).await.unwrap();
    let id = request_id(emulator.invoke(Bytes::from_static(b"{}")).await.unwrap());
    emulator.shutdown().await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().any(|l| l.ends_with(&format!("INFO  requestId={id} handling bytes=2"))), "{text}");
    assert!(text.lines().any(|l| l.contains(&format!("DEBUG requestId={id} a detail"))), "{text}");
}

#[tokio::test]
async fn overlapping_invocations_each_log_their_own_request_id() {
    let (_dir, bootstrap, log) = logged("hyper_logging", "overlap");
    let config = EmulatorConfig {
        bootstrap: Some(bootstrap),
        mode: Mode::Concurrent { max: NonZeroU16::new(4).unwrap() },
        log_format: "JSON".into(),
        ..Default::default()
    };
    let emulator = std::sync::Arc::new(Emulator::start(config).await.unwrap());
    let mut invocations = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let emulator = std::sync::Arc::clone(&emulator);
        invocations.spawn(async move { emulator.invoke(Bytes::from_static(b"{}")).await });
    }
    let outcomes = tokio::time::timeout(Duration::from_secs(20), invocations.join_all()).await.unwrap();
    let outcomes: Vec<String> = outcomes.into_iter().map(|outcome| request_id(outcome.unwrap())).collect();
    let Ok(emulator) = std::sync::Arc::try_unwrap(emulator) else { panic!("every invocation is done") };
    emulator.shutdown().await;
    let lines = json_lines(&log);
    let ours: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("mine").is_some()).collect();
    assert_eq!(ours.len(), 16, "{lines:?}");
    for line in &ours {
        assert_eq!(line["requestId"], line["mine"], "{line}");
    }
    let started_before_another_finished =
        ours.windows(2).any(|w| w[0]["message"] == "started" && w[1]["message"] == "started");
    assert!(started_before_another_finished, "the invocations overlapped: {ours:?}");
    for id in outcomes {
        assert_eq!(ours.iter().filter(|l| l["requestId"] == id.as_str()).count(), 2);
    }
}
