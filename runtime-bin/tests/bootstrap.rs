//! The `bootstrap` binary run by the emulator as a real process.

#![allow(clippy::unwrap_used)]

mod common;

use common::invoke;

use std::num::NonZeroU16;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::extension::EventType;
use lambda_sansio::platform::PlatformEvent;
use lambda_sansio::runtime::Mode;
use lambda_sansio_blocking::{Event, Extension};
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome};

async fn start(handler: &str, config: EmulatorConfig) -> Emulator {
    common::start_with(handler, &[], config).await
}

fn text(outcome: &InvokeOutcome) -> String {
    match outcome {
        InvokeOutcome::Response(body) => String::from_utf8_lossy(body).into_owned(),
        other => panic!("not a response: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handler_command_gets_the_event_and_the_lambda_environment() {
    let config =
        EmulatorConfig { function_name: "env-check".into(), memory_mb: 256, ..EmulatorConfig::default() };
    let emulator = start("cat; echo; env", config).await;
    let out = text(&invoke(&emulator, r#"{"x":"y"}"#).await);
    assert!(out.starts_with("{\"x\":\"y\"}\n"), "{out}");
    let api = format!("AWS_LAMBDA_RUNTIME_API={}", emulator.runtime_api());
    for expected in [
        api.as_str(),
        "AWS_LAMBDA_FUNCTION_NAME=env-check",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
        "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
        "_HANDLER=cat; echo; env",
        "AWS_REGION=us-east-1",
        "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
        "_X_AMZN_TRACE_ID=Root=1-",
        "LAMBDA_REQUEST_ID=",
        "LAMBDA_DEADLINE_MS=",
        "LAMBDA_TASK_ROOT=/",
    ] {
        assert!(out.lines().any(|line| line.starts_with(expected)), "{expected} missing from:\n{out}");
    }
    assert!(!out.contains("AWS_LAMBDA_MAX_CONCURRENCY"), "classic mode sets no concurrency");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_command_is_an_error_for_that_invocation_only() {
    let handler = r#"read x; [ "$x" = '"ok"' ] && echo fine || { echo "cannot handle $x" >&2; exit 3; }"#;
    let emulator = start(handler, EmulatorConfig::default()).await;
    let outcome = invoke(&emulator, "\"bad\"").await;
    let InvokeOutcome::Error(error_type, body) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Function.NonZeroExit");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("exited with status 3"), "{body}");
    assert!(body.contains("cannot handle \\\"bad\\\""), "the end of its stderr: {body}");
    assert_eq!(text(&invoke(&emulator, "\"ok\"\n").await), "fine\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_handler_init_fails_and_invocations_are_refused() {
    let emulator = start("", EmulatorConfig::default()).await;
    let mut events = emulator.events();
    let failure = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(PlatformEvent::InitFailed { error_type, .. }) = events.recv().await {
                return error_type;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(failure, "Runtime.NoHandler");
    let outcome = invoke(&emulator, "{}").await;
    assert!(matches!(outcome, InvokeOutcome::Aborted(_)), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_handler_is_stopped_before_its_deadline_and_the_runtime_goes_on() {
    let config = EmulatorConfig { timeout: Duration::from_millis(600), ..EmulatorConfig::default() };
    let emulator = start(r#"read x; [ "$x" = '"slow"' ] && sleep 1000; echo "done $x""#, config).await;
    let first_pid = emulator.runtime_pid();
    let outcome = invoke(&emulator, "\"slow\"\n").await;
    let InvokeOutcome::Error(error_type, body) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Function.Timeout", "reported by the runtime, before the platform's deadline");
    assert!(String::from_utf8_lossy(&body).contains("Task timed out after 0."), "{body:?}");
    assert_eq!(text(&invoke(&emulator, "\"fast\"\n").await), "done \"fast\"\n");
    assert_eq!(emulator.runtime_pid(), first_pid, "the same runtime served on");
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_a_handler_started_holds_its_answer_or_outlives_it() {
    // A duration no other process uses, to find this sleep by.
    let marker = format!("sleep 300.{}", std::process::id());
    // The background sleep keeps stdout open; it must not hold the answer.
    let handler = format!("cat; {marker} &");
    let emulator = start(&handler, EmulatorConfig::default()).await;
    assert_eq!(text(&invoke(&emulator, "\"quick\"").await), "\"quick\"");
    let left = std::process::Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(left.status.code() == Some(1), "pgrep found none: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn output_over_the_limit_is_a_size_error_and_a_handler_not_reading_its_event_is_answered() {
    let handler = r#"[ "$(head -c 1)" = '"' ] && head -c 7000000 /dev/zero || echo ignored"#;
    let emulator = start(handler, EmulatorConfig::default()).await;
    let outcome = invoke(&emulator, "\"big\"").await;
    let InvokeOutcome::Error(error_type, body) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Function.ResponseSizeTooLarge");
    assert!(String::from_utf8_lossy(&body).contains("7000000 bytes"), "{body:?}");
    // A 5 MB event to a handler that reads one byte of it.
    let big_event = format!("[{}]", "1,".repeat(2_500_000) + "1");
    let outcome = emulator.invoke(Bytes::from(big_event)).await.unwrap();
    assert_eq!(text(&outcome), "ignored\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lambda_error_object_is_reported_as_is() {
    let handler = r#"echo '{"errorType":"Function.OrderRejected","errorMessage":"no stock"}'; exit 1"#;
    let emulator = start(handler, EmulatorConfig::default()).await;
    let outcome = invoke(&emulator, "{}").await;
    let InvokeOutcome::Error(error_type, body) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Function.OrderRejected");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorMessage"], "no stock");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_that_dies_is_replaced_before_the_next_invocation() {
    // The handler kills the bootstrap (its parent) for "die".
    let emulator =
        start(r#"read x; [ "$x" = '"die"' ] && kill -9 $PPID; echo "ok $x""#, EmulatorConfig::default())
            .await;
    let outcome = invoke(&emulator, "\"die\"\n").await;
    assert!(
        matches!(outcome, InvokeOutcome::Aborted(ref reason) if reason.contains("Runtime exited")),
        "{outcome:?}"
    );
    assert_eq!(text(&invoke(&emulator, "\"live\"\n").await), "ok \"live\"\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn managed_instances_run_invocations_concurrently() {
    let dir = std::env::temp_dir().join(format!("lambda-sansio-mi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Each invocation waits (up to 10 s) until two are running at once.
    let handler = format!(
        r#"touch "{0}/$LAMBDA_REQUEST_ID"; for i in $(seq 100); do [ "$(ls "{0}" | wc -l)" -ge 2 ] && exec cat; sleep 0.1; done; exit 1"#,
        dir.display()
    );
    let mode = Mode::Concurrent { max: NonZeroU16::new(2).unwrap() };
    let emulator =
        std::sync::Arc::new(start(&handler, EmulatorConfig { mode, ..EmulatorConfig::default() }).await);
    let (a, b) = (std::sync::Arc::clone(&emulator), std::sync::Arc::clone(&emulator));
    let (first, second) =
        tokio::join!(async move { invoke(&a, "\"a\"").await }, async move { invoke(&b, "\"b\"").await });
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(text(&first), "\"a\"");
    assert_eq!(text(&second), "\"b\"");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_kills_a_lone_runtime_at_once() {
    let emulator = start("cat", EmulatorConfig::default()).await;
    assert_eq!(text(&invoke(&emulator, "1").await), "1");
    let report = emulator.shutdown().await;
    let (name, status, killed) = &report.processes[0];
    assert_eq!(name, "bootstrap");
    assert!(killed, "no extension registered: SIGKILL without SIGTERM ({status:?})");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_sends_sigterm_to_the_runtime_and_shutdown_to_the_extension() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let api = format!("127.0.0.1:{port}");
    // An in-process external extension; it retries until the emulator listens.
    let extension = std::thread::spawn(move || {
        for _ in 0..200 {
            let mut reason = None;
            let run = Extension::with_api(&api, "watcher", &[EventType::Shutdown]).unwrap().run(|event| {
                if let Event::Shutdown(shutdown) = event {
                    reason = Some(shutdown.shutdown_reason.as_str().to_owned());
                }
                Ok(())
            });
            if run.is_ok() {
                return reason;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    });
    let config = EmulatorConfig {
        bind: ([127, 0, 0, 1], port).into(),
        external_names: vec!["watcher".into()],
        register_wait: Duration::from_secs(10),
        ..EmulatorConfig::default()
    };
    let emulator = start("cat", config).await;
    assert_eq!(text(&invoke(&emulator, "2").await), "2");
    let report = emulator.shutdown().await;
    let (_, status, killed) = &report.processes[0];
    assert!(!killed, "SIGTERM was enough: {status:?}");
    assert!(status.is_some_and(|s| s.to_string().contains("SIGTERM")), "{status:?}");
    let reason = tokio::task::spawn_blocking(move || extension.join().unwrap()).await.unwrap();
    assert_eq!(reason.as_deref(), Some("spindown"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_shell_command_is_a_function() {
    let command = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("handlers").join("command.sh");
    let emulator = start(&command.display().to_string(), EmulatorConfig::default()).await;
    assert_eq!(text(&invoke(&emulator, r#"{"hello":"world"}"#).await), r#"{"HELLO":"WORLD"}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_unrunnable_handler_is_an_error_that_says_so() {
    let emulator = start("/nonexistent/handler", EmulatorConfig::default()).await;
    let outcome = invoke(&emulator, "{}").await;
    let InvokeOutcome::Error(error_type, body) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Function.NonZeroExit");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("status 127") && body.contains("not found"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn python_and_node_handlers_run_in_command_mode_too() {
    for handler in [
        r#"python3 -c "import json,sys; print(json.dumps({'echo': json.load(sys.stdin)}))""#,
        r#"node -e "let d='';process.stdin.on('data',c=>d+=c).on('end',()=>console.log(JSON.stringify({echo: JSON.parse(d)})))""#,
    ] {
        let emulator = start(handler, EmulatorConfig::default()).await;
        let answer: serde_json::Value =
            serde_json::from_str(text(&invoke(&emulator, r#"{"n":7}"#).await).trim()).unwrap();
        assert_eq!(answer["echo"]["n"], 7, "{handler}");
    }
}
