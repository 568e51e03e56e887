//! Worker mode: one long-lived handler process, run by the real `bootstrap`
//! under the emulator, with workers written in Python and Node.js, and
//! workers that misbehave.

#![allow(clippy::unwrap_used)]

mod common;

use common::invoke;

use std::num::NonZeroU16;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lambda_sansio::platform::PlatformEvent;
use lambda_sansio::runtime::Mode;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};

fn handler_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("handlers").join(name).display().to_string()
}

async fn start(handler: &str, config: EmulatorConfig) -> Emulator {
    common::start_with(handler, &[("LAMBDA_SANSIO_MODE", "worker")], config).await
}

fn json(outcome: &InvokeOutcome) -> serde_json::Value {
    match outcome {
        InvokeOutcome::Response(body) => serde_json::from_slice(body).unwrap(),
        other => panic!("not a response: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_worker_keeps_its_state_and_is_restarted_after_a_crash() {
    let emulator = start(&format!("python3 {}", handler_file("worker.py")), EmulatorConfig::default()).await;
    for (n, event) in [(1, r#"{"a":1}"#), (2, "[1,2]"), (3, r#""text""#)] {
        let answer = json(&invoke(&emulator, event).await);
        assert_eq!(answer["calls"], n, "one warm worker: {answer}");
        assert_eq!(answer["echo"], serde_json::from_str::<serde_json::Value>(event).unwrap());
    }
    let crashed = invoke(&emulator, r#""crash""#).await;
    let InvokeOutcome::Error(error_type, body) = crashed else { panic!("{crashed:?}") };
    assert_eq!(error_type, "Runtime.WorkerExited", "{}", String::from_utf8_lossy(&body));
    let answer = json(&invoke(&emulator, "{}").await);
    assert_eq!(answer["calls"], 1, "a fresh worker after the crash: {answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_worker_serves_invocations_at_once_under_managed_instances() {
    let mode = Mode::Concurrent { max: NonZeroU16::new(2).unwrap() };
    let config = EmulatorConfig { mode, ..EmulatorConfig::default() };
    let emulator = Arc::new(start(&format!("node {}", handler_file("worker.js")), config).await);
    let (a, b) = (Arc::clone(&emulator), Arc::clone(&emulator));
    let (first, second) =
        tokio::join!(async move { invoke(&a, r#""a""#).await }, async move { invoke(&b, r#""b""#).await });
    assert_eq!(json(&first)["echo"], "a");
    assert_eq!(json(&second)["echo"], "b");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_exits_at_once_fails_init_with_the_cause() {
    let emulator = start("echo 'cannot import handler' >&2; exit 3", EmulatorConfig::default()).await;
    let mut events = emulator.events();
    let failure = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(PlatformEvent::InitFailed { error_type, body, .. }) = events.recv().await {
                return (error_type, body);
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(failure.0, "Runtime.WorkerFailed");
    assert!(String::from_utf8_lossy(&failure.1).contains("exited before it was ready"), "{failure:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_unknown_ids_and_second_answers_are_ignored_and_the_worker_serves_on() {
    let worker = r#"echo '{"ready":true}' >&3
while read -r line; do
  id=$(printf '%s' "$line" | sed 's/.*"requestId":"\([^"]*\)".*/\1/')
  echo 'not json' >&3
  echo '{"requestId":"nobody","response":1}' >&3
  echo "{\"requestId\":\"$id\",\"response\":\"ok\"}" >&3
  echo "{\"requestId\":\"$id\",\"response\":\"twice\"}" >&3
done"#;
    let emulator = start(worker, EmulatorConfig::default()).await;
    for _ in 0..2 {
        assert_eq!(json(&invoke(&emulator, "{}").await), "ok");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_never_answers_is_stopped_at_the_deadline_and_started_again() {
    let worker = r#"echo '{"ready":true}' >&3
while read -r line; do
  case "$line" in
    *hang*) sleep 1000 ;;
    *) id=$(printf '%s' "$line" | sed 's/.*"requestId":"\([^"]*\)".*/\1/'); echo "{\"requestId\":\"$id\",\"response\":\"fine\"}" >&3 ;;
  esac
done"#;
    let config = EmulatorConfig { timeout: Duration::from_millis(800), ..EmulatorConfig::default() };
    let emulator = start(worker, config).await;
    let outcome = invoke(&emulator, r#""hang""#).await;
    let InvokeOutcome::Error(error_type, _) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Function.Timeout");
    assert_eq!(json(&invoke(&emulator, "{}").await), "fine");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_answer_line_or_a_closed_answer_channel_fails_the_invocation_and_the_worker_restarts() {
    // "big" gets a 20 MB answer line; "close" closes fd 3; anything else is answered.
    let worker = r#"echo '{"ready":true}' >&3
while read -r line; do
  id=$(printf '%s' "$line" | sed 's/.*"requestId":"\([^"]*\)".*/\1/')
  case "$line" in
    *big*) printf '{"requestId":"%s","responseBase64":"' "$id" >&3; head -c 20000000 /dev/zero | tr '\0' A >&3; echo '"}' >&3 ;;
    *close*) exec 3>&- ;;
    *) echo "{\"requestId\":\"$id\",\"response\":\"fine\"}" >&3 ;;
  esac
done"#;
    let emulator = start(worker, EmulatorConfig::default()).await;
    for trouble in [r#""big""#, r#""close""#] {
        let outcome = invoke(&emulator, trouble).await;
        let InvokeOutcome::Error(error_type, _) = outcome else { panic!("{trouble}: {outcome:?}") };
        assert_eq!(error_type, "Runtime.WorkerExited", "{trouble}");
        assert_eq!(json(&invoke(&emulator, "{}").await), "fine", "after {trouble}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_written_in_pieces_or_far_larger_than_the_pipe_are_read_whole() {
    // "pieces": the answer line in three writes, 30 ms apart, cut inside the
    // id and inside the response; "large": a 3 MB response in one write,
    // which the pipe passes on 64 KiB at a time.
    let worker = r#"python3 -u -c '
import json, os, sys, time
os.write(3, b"{\"ready\": true}\n")
for line in sys.stdin.buffer:
    invocation = json.loads(line)
    if invocation["event"] == "large":
        answer = {"requestId": invocation["requestId"], "response": "a" * 3_000_000}
        os.write(3, json.dumps(answer).encode() + b"\n")
    else:
        text = json.dumps({"requestId": invocation["requestId"], "response": "in pieces"}).encode() + b"\n"
        for piece in (text[:10], text[10:-8], text[-8:]):
            os.write(3, piece)
            time.sleep(0.03)
'"#;
    let emulator = start(worker, EmulatorConfig::default()).await;
    for _ in 0..2 {
        assert_eq!(json(&invoke(&emulator, r#""pieces""#).await), "in pieces");
        let large = json(&invoke(&emulator, r#""large""#).await);
        let text = large.as_str().unwrap();
        assert!(text.len() == 3_000_000 && text.bytes().all(|b| b == b'a'), "{} bytes", text.len());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn at_shutdown_the_worker_gets_sigterm_and_time_to_exit() {
    let marker = std::env::temp_dir().join(format!("lambda-sansio-worker-term-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let worker = format!(
        r#"python3 -c '
import os, signal, sys
def bye(*_):
    open("{}", "w").write("bye")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
os.fdopen(3, "w").write("{{\"ready\": true}}\n")
for line in sys.stdin:
    pass
'"#,
        marker.display()
    );
    let emulator = start(&worker, EmulatorConfig::default()).await;
    // Init is over once the runtime (and its SIGTERM extension) polled.
    let mut events = emulator.events();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !matches!(events.recv().await, Ok(PlatformEvent::InitComplete)) {}
    })
    .await
    .unwrap();
    let report = emulator.shutdown().await;
    let (_, status, killed) = &report.processes[0];
    assert!(!killed && status.is_some_and(|s| s.success()), "the bootstrap exited on SIGTERM: {status:?}");
    assert_eq!(std::fs::read_to_string(&marker).ok().as_deref(), Some("bye"), "the worker got SIGTERM");
    let _ = std::fs::remove_file(&marker);
}
