//! The blocking drivers against the emulator over real sockets: every outcome
//! of the status table as a user sees it, concurrency, and injected faults.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroU16;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::extension::EventType;
use lambda_sansio::platform::PlatformEvent;
use lambda_sansio::runtime::{Mode, RuntimeConfig};
use lambda_sansio::telemetry::{Buffering, RecordCategory, RecordType, Subscription, SubscriptionApi};
use lambda_sansio::{ApiAddress, RetryPolicy};
use lambda_sansio_blocking::{
    run_with, Context, Event, Extension, HandlerError, RunError, TelemetryListener,
};
use lambda_sansio_hyper::emulator::{Emulator, EmulatorConfig, Fault, FaultRule, InvokeOutcome};

type Handler = fn(Bytes, &Context) -> Result<Bytes, HandlerError>;

fn echo(payload: Bytes, _: &Context) -> Result<Bytes, HandlerError> {
    Ok(payload)
}

fn config_for(emulator: &Emulator, mode: Mode) -> RuntimeConfig {
    RuntimeConfig {
        address: ApiAddress::parse(&emulator.runtime_api()).unwrap(),
        mode,
        retry: RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
    }
}

/// Starts the runtime on its own thread; returns its join handle.
fn start_runtime<F>(emulator: &Emulator, mode: Mode, handler: F) -> thread::JoinHandle<Result<(), RunError>>
where
    F: Fn(Bytes, &Context) -> Result<Bytes, HandlerError> + Send + Sync + 'static,
{
    let config = config_for(emulator, mode);
    thread::spawn(move || run_with(config, handler))
}

async fn emulator(config: EmulatorConfig) -> Emulator {
    Emulator::start(EmulatorConfig { register_wait: Duration::ZERO, ..config }).await.unwrap()
}

async fn invoke(emulator: &Emulator, payload: &'static str) -> InvokeOutcome {
    tokio::time::timeout(Duration::from_secs(20), emulator.invoke(Bytes::from_static(payload.as_bytes())))
        .await
        .expect("the invocation completes")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_in_classic_mode() {
    let emulator = emulator(EmulatorConfig::default()).await;
    start_runtime(&emulator, Mode::Classic, echo as Handler);
    for payload in [r#"{"a":1}"#, "[]", "\"text\""] {
        assert_eq!(
            invoke(&emulator, payload).await,
            InvokeOutcome::Response(Bytes::from_static(payload.as_bytes()))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn handler_errors_and_panics_are_reported_and_the_loop_goes_on() {
    let emulator = emulator(EmulatorConfig::default()).await;
    start_runtime(&emulator, Mode::Classic, |payload: Bytes, _: &Context| match &payload[..] {
        b"\"fail\"" => Err(HandlerError::from(std::io::Error::other("disk on fire"))),
        b"\"panic\"" => panic!("handler bug"),
        _ => Ok(payload),
    });
    let InvokeOutcome::Error(error_type, body) = invoke(&emulator, "\"fail\"").await else { panic!() };
    assert_eq!(error_type, "Function.Error");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorMessage"], "disk on fire");
    assert_eq!(body["errorType"], "std::io::error::Error");
    let InvokeOutcome::Error(error_type, body) = invoke(&emulator, "\"panic\"").await else { panic!() };
    assert_eq!(error_type, "Function.Panic");
    assert!(String::from_utf8_lossy(&body).contains("handler bug"));
    assert_eq!(invoke(&emulator, "\"ok\"").await, InvokeOutcome::Response(Bytes::from_static(b"\"ok\"")));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_response_becomes_a_size_error_for_the_same_invocation() {
    let emulator = emulator(EmulatorConfig::default()).await;
    start_runtime(&emulator, Mode::Classic, |payload: Bytes, _: &Context| match &payload[..] {
        b"\"big\"" => Ok(Bytes::from(vec![b'x'; 6 * 1024 * 1024 + 200])),
        _ => Ok(payload),
    });
    let InvokeOutcome::Error(error_type, _) = invoke(&emulator, "\"big\"").await else { panic!() };
    assert_eq!(error_type, "Function.ResponseSizeTooLarge");
    assert_eq!(invoke(&emulator, "\"next\"").await, InvokeOutcome::Response(Bytes::from_static(b"\"next\"")));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_mode_runs_invocations_at_the_same_time() {
    let mode = Mode::Concurrent { max: NonZeroU16::new(3).unwrap() };
    let emulator = Arc::new(emulator(EmulatorConfig { mode, ..EmulatorConfig::default() }).await);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (now, max) = (Arc::clone(&running), Arc::clone(&peak));
    start_runtime(&emulator, mode, move |payload: Bytes, _: &Context| {
        let current = now.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(current, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(300));
        now.fetch_sub(1, Ordering::SeqCst);
        Ok(payload)
    });
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let emulator = Arc::clone(&emulator);
            tokio::spawn(async move { invoke(&emulator, "{}").await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), InvokeOutcome::Response(Bytes::from_static(b"{}")));
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3, "three invocations ran at once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_and_a_truncated_answer_are_retried_without_losing_the_invocation() {
    for fault in [Fault::Reset, Fault::Truncate, Fault::Delay(Duration::from_millis(50))] {
        // Request 1 is the first next; 2 the answer; 3 the second next.
        let faults =
            vec![FaultRule { nth: 1, fault: fault.clone() }, FaultRule { nth: 3, fault: fault.clone() }];
        let emulator = emulator(EmulatorConfig { faults, ..EmulatorConfig::default() }).await;
        start_runtime(&emulator, Mode::Classic, echo as Handler);
        assert_eq!(
            invoke(&emulator, "1").await,
            InvokeOutcome::Response(Bytes::from_static(b"1")),
            "{fault:?}"
        );
        assert_eq!(
            invoke(&emulator, "2").await,
            InvokeOutcome::Response(Bytes::from_static(b"2")),
            "{fault:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_on_next_stops_the_runtime_with_a_typed_error() {
    let faults = vec![FaultRule { nth: 1, fault: Fault::Status(500) }];
    let emulator = emulator(EmulatorConfig { faults, ..EmulatorConfig::default() }).await;
    let runtime = start_runtime(&emulator, Mode::Classic, echo as Handler);
    let result = tokio::task::spawn_blocking(move || runtime.join().unwrap()).await.unwrap();
    let Err(RunError::Fatal(error)) = result else { panic!("{result:?}") };
    assert!(error.is_fatal());
    assert!(error.to_string().contains("500"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_410_for_a_late_answer_is_reported_and_the_runtime_goes_on() {
    let mode = Mode::Concurrent { max: NonZeroU16::new(2).unwrap() };
    let config = EmulatorConfig { mode, timeout: Duration::from_millis(300), ..EmulatorConfig::default() };
    let emulator = emulator(config).await;
    start_runtime(&emulator, mode, |payload: Bytes, _: &Context| {
        if &payload[..] == b"\"slow\"" {
            thread::sleep(Duration::from_millis(700));
        }
        Ok(payload)
    });
    assert_eq!(invoke(&emulator, "\"slow\"").await, InvokeOutcome::TimedOut);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(invoke(&emulator, "\"fast\"").await, InvokeOutcome::Response(Bytes::from_static(b"\"fast\"")));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extension_gets_invokes_telemetry_and_shutdown() {
    let emulator =
        emulator(EmulatorConfig { external_names: vec!["observer".into()], ..EmulatorConfig::default() })
            .await;
    let listener = TelemetryListener::bind(0).unwrap();
    let destination = listener.destination().unwrap();
    assert!(
        destination.starts_with("http://127.0.0.1:")
            || destination.starts_with("http://sandbox.localdomain:")
    );
    let records = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&records);
    listener.spawn(move |batch| seen.lock().unwrap().extend(batch)).unwrap();
    let buffering = Buffering { max_items: 1_000, max_bytes: 262_144, timeout_ms: 25 };
    let subscription =
        Subscription::new(SubscriptionApi::Telemetry, &[RecordCategory::Platform], buffering, &destination)
            .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&events);
    let mut platform_events = emulator.events();
    let api = emulator.runtime_api();
    let extension = thread::spawn(move || {
        Extension::with_api(&api, "observer", &[EventType::Invoke, EventType::Shutdown])
            .unwrap()
            .with_subscription(subscription)
            .run(|event| {
                log.lock().unwrap().push(match event {
                    Event::Invoke(invoke) => format!("invoke {}", invoke.request_id.len()),
                    Event::Shutdown(shutdown) => format!("shutdown {}", shutdown.shutdown_reason.as_str()),
                });
                Ok(())
            })
    });
    // The runtime starts once the extension has registered and subscribed.
    loop {
        match tokio::time::timeout(Duration::from_secs(10), platform_events.recv()).await {
            Ok(Ok(PlatformEvent::Subscribed { .. })) => break,
            Ok(Ok(_)) => {}
            other => panic!("the extension did not subscribe: {other:?}"),
        }
    }
    start_runtime(&emulator, Mode::Classic, echo as Handler);
    assert_eq!(invoke(&emulator, "1").await, InvokeOutcome::Response(Bytes::from_static(b"1")));
    assert_eq!(invoke(&emulator, "2").await, InvokeOutcome::Response(Bytes::from_static(b"2")));
    emulator.shutdown().await;
    let result = tokio::task::spawn_blocking(move || extension.join().unwrap()).await.unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(*events.lock().unwrap(), vec!["invoke 36", "invoke 36", "shutdown spindown"]);
    let records = records.lock().unwrap();
    let count = |kind: RecordType| records.iter().filter(|r| r.record_type == kind).count();
    assert_eq!(
        (count(RecordType::Start), count(RecordType::RuntimeDone), count(RecordType::Report)),
        (2, 2, 2)
    );
}
