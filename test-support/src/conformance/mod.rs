//! The conformance suite both transports pass: the same scenarios, through
//! the emulator over real sockets, against each driver.
//!
//! A transport's test file implements [`Driver`] and expands
//! `lambda_sansio_test_support::suite!(ItsDriver);`.

use std::num::NonZeroU16;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::context::{Context, HandlerError};
use lambda_sansio::platform::PlatformEvent;
use lambda_sansio::runtime::{Mode, RuntimeConfig};
use lambda_sansio::telemetry::{
    Buffering, RecordCategory, RecordType, Subscription, SubscriptionApi, TelemetryRecord,
};
use lambda_sansio::{ApiAddress, RetryPolicy};
use lambda_sansio_emulator::{Emulator, EmulatorConfig, Fault, FaultRule, InvokeOutcome};

mod hostile;
mod modes;
mod scripted;
mod tap;
mod trace_env;
use crate::venv;

pub use hostile::{
    a_reset_behind_an_accepted_answer_loses_no_invocation,
    a_server_that_closes_after_an_answer_loses_no_invocation,
    a_small_answer_refused_unread_is_followed_by_a_fresh_next, an_early_413_ends_the_invocation,
    classic_drivers_pipeline_the_next_behind_a_buffered_answer, hostile_but_valid_answers_are_read,
    unreadable_invocations_are_reported_or_fatal,
};
pub use modes::{
    answers_carry_their_content_type, managed_instances_extensions_get_shutdown_and_telemetry,
    oversized_answers_end_their_invocation, retries_in_concurrent_mode_are_sent,
};
pub use trace_env::classic_runtimes_export_the_trace_id_when_asked;

/// How long a driver expected to stop may take before the scenario fails.
const STOP_BUDGET: Duration = Duration::from_secs(60);

/// The result of a driver expected to stop; fails the scenario (instead of
/// hanging the suite) when it is still running after [`STOP_BUDGET`].
pub(crate) async fn stopped(driver: JoinHandle<Result<(), String>>) -> Result<(), String> {
    let waited = tokio::time::timeout(STOP_BUDGET, tokio::task::spawn_blocking(move || driver.join()));
    match waited.await {
        Ok(Ok(Ok(result))) => result,
        Ok(Ok(Err(_))) | Ok(Err(_)) => panic!("the driver's thread panicked"),
        Err(_) => panic!("the driver was expected to stop and still runs after {STOP_BUDGET:?}"),
    }
}

/// A handler as scenarios write it; drivers adapt it to their own API.
pub type Handler = Arc<dyn Fn(Bytes, &Context) -> Result<Bytes, HandlerError> + Send + Sync>;

/// A transport under test.
pub trait Driver {
    /// The prefix of this transport's example binaries (`<prefix>_echo`,
    /// `<prefix>_graceful`).
    const EXAMPLES: &'static str;

    /// Starts the runtime driver on its own thread; the handle yields its
    /// result (an error as text) when it stops.
    fn start_runtime(config: RuntimeConfig, handler: Handler) -> JoinHandle<Result<(), String>>;
    /// Runs an extension (INVOKE and SHUTDOWN) with `subscription` until
    /// SHUTDOWN, logging each event as `invoke <request id length>`,
    /// `shutdown <reason>` or `subscription refused <status>`.
    fn start_extension(
        api: String,
        name: &'static str,
        subscription: Subscription,
        log: Arc<Mutex<Vec<String>>>,
    ) -> JoinHandle<Result<(), String>>;
    /// [`start_extension`](Self::start_extension) under the Managed
    /// Instances rules.
    fn start_managed_extension(
        api: String,
        name: &'static str,
        subscription: Subscription,
        log: Arc<Mutex<Vec<String>>>,
    ) -> JoinHandle<Result<(), String>>;
    /// Starts a runtime whose handler is the transport's `json` helper
    /// around an echo of any JSON value.
    fn start_json_runtime(config: RuntimeConfig) -> JoinHandle<Result<(), String>>;
    /// Starts a telemetry listener; returns its destination and the records
    /// it receives.
    fn listen_telemetry() -> (String, Arc<Mutex<Vec<TelemetryRecord>>>);
    /// Starts a runtime whose handler streams [`STREAM`] as three chunks; for
    /// the payload `"fail"` it streams two chunks and then fails with
    /// `Function.StreamBroke`.
    fn start_streaming_runtime(config: RuntimeConfig) -> JoinHandle<Result<(), String>>;
}

/// The chunks a streaming handler sends.
pub const STREAM: [&str; 3] = ["hello ", "streamed ", "world"];

fn handler(f: impl Fn(Bytes, &Context) -> Result<Bytes, HandlerError> + Send + Sync + 'static) -> Handler {
    Arc::new(f)
}

fn echo() -> Handler {
    handler(|payload, _| Ok(payload))
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
        // As `config_from_env` has it: a driver that cannot pipeline turns
        // it off.
        pipelining: true,
        // Scenarios share the process: only the one about this variable
        // sets it.
        trace_id_env: false,
    }
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

fn response(payload: &'static str) -> InvokeOutcome {
    InvokeOutcome::Response(Bytes::from_static(payload.as_bytes()))
}

/// Classic mode: payloads come back unchanged, the context carries deadline, trace id and ARN, and every request goes out in origin form.
pub async fn echo_in_classic_mode<D: Driver>() {
    let emulator =
        emulator(EmulatorConfig { timeout: Duration::from_secs(30), ..EmulatorConfig::default() }).await;
    // The context carries the deadline: about 30 s ahead of now.
    let h = handler(|payload, context| {
        let left = context.remaining_at(std::time::SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(20) && left <= Duration::from_secs(30), "{left:?}");
        assert!(context.trace_id.as_deref().unwrap().starts_with("Root=1-"));
        assert!(context.invoked_function_arn.as_deref().unwrap().starts_with("arn:aws:lambda:"));
        Ok(payload)
    });
    D::start_runtime(config_for(&emulator, Mode::Classic), h);
    for payload in [r#"{"a":1}"#, "[]", "\"text\""] {
        assert_eq!(invoke(&emulator, payload).await, response(payload));
    }
    assert_eq!(emulator.absolute_form_requests(), 0, "every request target in origin form");
}

/// A handler error and a panic are each reported for their invocation; the next one is served.
pub async fn handler_errors_and_panics_are_reported_and_the_loop_goes_on<D: Driver>() {
    let emulator = emulator(EmulatorConfig::default()).await;
    let h = handler(|payload, _| match &payload[..] {
        b"\"fail\"" => Err(HandlerError::from(std::io::Error::other("disk on fire"))),
        b"\"panic\"" => panic!("handler bug"),
        _ => Ok(payload),
    });
    D::start_runtime(config_for(&emulator, Mode::Classic), h);
    let InvokeOutcome::Error(error_type, body) = invoke(&emulator, "\"fail\"").await else { panic!() };
    assert_eq!(error_type, "Function.Error");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorMessage"], "disk on fire");
    assert_eq!(body["errorType"], "std::io::error::Error");
    let InvokeOutcome::Error(error_type, body) = invoke(&emulator, "\"panic\"").await else { panic!() };
    assert_eq!(error_type, "Function.Panic");
    assert!(String::from_utf8_lossy(&body).contains("handler bug"));
    assert_eq!(invoke(&emulator, "\"ok\"").await, response("\"ok\""));
}

/// Managed Instances: three invocations run at once.
pub async fn concurrent_mode_runs_invocations_at_the_same_time<D: Driver>() {
    let mode = Mode::Concurrent { max: NonZeroU16::new(3).unwrap() };
    let emulator = Arc::new(emulator(EmulatorConfig { mode, ..EmulatorConfig::default() }).await);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (now, max) = (Arc::clone(&running), Arc::clone(&peak));
    // Each handler waits (bounded) until three run at once: no timing assumed.
    let h = handler(move |payload, _| {
        let current = now.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(current, Ordering::SeqCst);
        for _ in 0..200 {
            if max.load(Ordering::SeqCst) >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        now.fetch_sub(1, Ordering::SeqCst);
        Ok(payload)
    });
    D::start_runtime(config_for(&emulator, mode), h);
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let emulator = Arc::clone(&emulator);
            tokio::spawn(async move { invoke(&emulator, "{}").await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), response("{}"));
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3, "three invocations ran at once");
}

/// Connection resets, truncated answers and delays on the API lose no invocation.
pub async fn resets_truncations_and_delays_lose_nothing<D: Driver>() {
    for fault in [Fault::Reset, Fault::Truncate, Fault::Delay(Duration::from_millis(50))] {
        let faults =
            vec![FaultRule { nth: 1, fault: fault.clone() }, FaultRule { nth: 3, fault: fault.clone() }];
        let emulator = emulator(EmulatorConfig { faults, ..EmulatorConfig::default() }).await;
        D::start_runtime(config_for(&emulator, Mode::Classic), echo());
        assert_eq!(invoke(&emulator, "1").await, response("1"), "{fault:?}");
        assert_eq!(invoke(&emulator, "2").await, response("2"), "{fault:?}");
    }
}

/// An answer resent after its 202 was cut short gets 400 InvalidRequestID, which is not fatal.
pub async fn a_retried_answer_gets_400_and_the_runtime_goes_on<D: Driver>() {
    // Request 2 is the answer: the platform accepts it, but its 202 is cut
    // short. The driver resends it, the platform answers 400
    // InvalidRequestID (already answered), and the runtime goes on.
    let faults = vec![FaultRule { nth: 2, fault: Fault::Truncate }];
    let emulator = emulator(EmulatorConfig { faults, ..EmulatorConfig::default() }).await;
    let runtime = D::start_runtime(config_for(&emulator, Mode::Classic), echo());
    assert_eq!(invoke(&emulator, "1").await, response("1"));
    assert_eq!(invoke(&emulator, "2").await, response("2"));
    assert!(!runtime.is_finished(), "a 400 is not fatal");
}

/// A 500 on `next` stops the runtime with an error naming it.
pub async fn a_500_on_next_stops_the_runtime<D: Driver>() {
    let faults = vec![FaultRule { nth: 1, fault: Fault::Status(500) }];
    let emulator = emulator(EmulatorConfig { faults, ..EmulatorConfig::default() }).await;
    let runtime = D::start_runtime(config_for(&emulator, Mode::Classic), echo());
    let result = stopped(runtime).await;
    let error = result.unwrap_err();
    assert!(error.contains("500"), "{error}");
}

/// A 403 on an answer stops the runtime; the invocation ends by its timeout.
pub async fn a_403_on_an_answer_stops_the_runtime<D: Driver>() {
    // Request 1: next; 2: the answer, refused 403.
    let faults = vec![FaultRule { nth: 2, fault: Fault::Status(403) }];
    let config = EmulatorConfig { faults, timeout: Duration::from_secs(2), ..EmulatorConfig::default() };
    let emulator = Arc::new(emulator(config).await);
    let runtime = D::start_runtime(config_for(&emulator, Mode::Classic), echo());
    let invoker = Arc::clone(&emulator);
    let outcome = tokio::spawn(async move { invoke(&invoker, "1").await });
    let result = stopped(runtime).await;
    assert!(result.unwrap_err().contains("403"));
    // The platform never got the answer: the invocation ends by its timeout.
    assert_eq!(outcome.await.unwrap(), InvokeOutcome::TimedOut);
}

/// An answer after the deadline gets 410 and the runtime goes on.
pub async fn a_late_answer_gets_410_and_the_runtime_goes_on<D: Driver>() {
    let mode = Mode::Concurrent { max: NonZeroU16::new(2).unwrap() };
    let config = EmulatorConfig { mode, timeout: Duration::from_millis(300), ..EmulatorConfig::default() };
    let emulator = emulator(config).await;
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let h = handler(move |payload, _| {
        if &payload[..] == b"\"slow\"" {
            // Answer only after the test saw the timeout.
            let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(10));
        }
        Ok(payload)
    });
    D::start_runtime(config_for(&emulator, mode), h);
    let mut events = emulator.events();
    assert_eq!(invoke(&emulator, "\"slow\"").await, InvokeOutcome::TimedOut);
    release.send(()).unwrap();
    // The late answer reaches the platform and is refused (410).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(invoke(&emulator, "\"fast\"").await, response("\"fast\""));
    while let Ok(event) = events.try_recv() {
        assert!(!matches!(event, PlatformEvent::InitFailed { .. }));
    }
}

/// An extension gets each INVOKE, the platform telemetry and SHUTDOWN.
pub async fn an_extension_gets_invokes_telemetry_and_shutdown<D: Driver>() {
    let config = EmulatorConfig { external_names: vec!["observer".into()], ..EmulatorConfig::default() };
    let emulator = emulator(config).await;
    let (destination, records) = D::listen_telemetry();
    let buffering = Buffering { max_items: 1_000, max_bytes: 262_144, timeout_ms: 25 };
    let subscription =
        Subscription::new(SubscriptionApi::Telemetry, &[RecordCategory::Platform], buffering, &destination)
            .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut platform_events = emulator.events();
    let extension = D::start_extension(emulator.runtime_api(), "observer", subscription, Arc::clone(&log));
    loop {
        match tokio::time::timeout(Duration::from_secs(10), platform_events.recv()).await {
            Ok(Ok(PlatformEvent::Subscribed { .. })) => break,
            Ok(Ok(_)) => {}
            other => panic!("the extension did not subscribe: {other:?}"),
        }
    }
    D::start_runtime(config_for(&emulator, Mode::Classic), echo());
    assert_eq!(invoke(&emulator, "1").await, response("1"));
    assert_eq!(invoke(&emulator, "2").await, response("2"));
    emulator.shutdown().await;
    let result = stopped(extension).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(*log.lock().unwrap(), vec!["invoke 36", "invoke 36", "shutdown spindown"]);
    let records = records.lock().unwrap();
    let count = |kind: RecordType| records.iter().filter(|r| r.record_type == kind).count();
    assert_eq!(
        (count(RecordType::Start), count(RecordType::RuntimeDone), count(RecordType::Report)),
        (2, 2, 2)
    );
    for report in records.iter().filter(|r| r.record_type == RecordType::Report) {
        let metrics = &report.record["metrics"];
        assert!(metrics["billedDurationMs"].is_u64(), "billed in whole milliseconds: {metrics}");
        assert!(metrics["maxMemoryUsedMB"].is_u64(), "{metrics}");
    }
}

/// Streamed answers arrive whole; a mid-stream failure is reported in trailers.
pub async fn streamed_responses_and_mid_stream_errors<D: Driver>() {
    let emulator = emulator(EmulatorConfig::default()).await;
    D::start_streaming_runtime(config_for(&emulator, Mode::Classic));
    assert_eq!(invoke(&emulator, "\"ok\"").await, response("hello streamed world"));
    let outcome = invoke(&emulator, "\"fail\"").await;
    let InvokeOutcome::Error(error_type, body) = outcome else { panic!("{outcome:?}") };
    assert_eq!(error_type, "Function.StreamBroke");
    assert!(!body.is_empty(), "the error body trailer arrived");
    // The connection closed after the stream; the next invocation still works.
    assert_eq!(invoke(&emulator, "\"ok\"").await, response("hello streamed world"));
}

async fn run_and_stop(example_name: &str) -> (Option<std::process::ExitStatus>, bool) {
    let config = EmulatorConfig {
        bootstrap: Some(crate::support::example(example_name)),
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config).await.unwrap();
    assert_eq!(invoke(&emulator, "{}").await, response("{}"));
    let report = emulator.shutdown().await;
    let (_, status, killed) = &report.processes[0];
    (*status, *killed)
}

/// With the SIGTERM helper, the hook runs at shutdown and the function exits 0.
pub async fn the_sigterm_hook_runs_and_the_function_exits_cleanly<D: Driver>() {
    let (status, killed) = run_and_stop(&format!("{}_graceful", D::EXAMPLES)).await;
    assert!(!killed, "{status:?}");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "the hook ran and exited 0: {status:?}");
}

/// Without an extension, the runtime is killed at once, as Lambda does.
pub async fn without_the_sigterm_helper_a_lone_runtime_is_killed<D: Driver>() {
    let (status, killed) = run_and_stop(&format!("{}_echo", D::EXAMPLES)).await;
    assert!(killed, "{status:?}");
}

/// The cargo-lambda version the interop scenario uses.
const CARGO_LAMBDA: &str = "cargo-lambda==1.9.2";

/// `cargo-lambda` from a venv under `target/`, installed from PyPI on first
/// use (or `LAMBDA_SANSIO_CARGO_LAMBDA` if set). Only the package itself:
/// `watch` builds with plain cargo and does not need its `ziglang` dependency.
fn cargo_lambda() -> std::path::PathBuf {
    venv::tool(&venv::Tool {
        venv: "cargo-lambda-watch-venv",
        requirement: CARGO_LAMBDA,
        no_deps: true,
        binary: "cargo-lambda",
        override_var: "LAMBDA_SANSIO_CARGO_LAMBDA",
    })
}

/// Kills the child when dropped, so a failing test leaves nothing running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Both drivers against a server no one here wrote: `cargo lambda watch
/// --only-lambda-apis` serves the Runtime and Extensions APIs under a `/.rt`
/// prefix and sends a deadline that is not an epoch.
pub async fn against_cargo_lambda<D: Driver>() {
    let cargo_lambda = cargo_lambda();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let watch = std::process::Command::new(&cargo_lambda)
        .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _watch = KillOnDrop(watch);
    let address = format!("127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..600 {
        if std::net::TcpStream::connect(&address).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "cargo lambda watch did not start");
    let api = format!("http://{address}/.rt");
    let (destination, _) = D::listen_telemetry();
    let subscription = Subscription::new(
        SubscriptionApi::Telemetry,
        &[RecordCategory::Platform],
        Buffering::default(),
        &destination,
    )
    .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    // The extension goes through a tap, so the runtime starts only once the
    // extension registered and waits in `next`: it then sees every INVOKE.
    let tap = tap::Tap::start(address.clone(), b"/extension/event/next");
    let tapped = format!("http://{}/.rt", tap.address());
    D::start_extension(tapped, "conformance-extension", subscription, Arc::clone(&log));
    let ready = tokio::task::spawn_blocking(move || tap.wait_for(Duration::from_secs(20))).await.unwrap();
    assert!(ready, "the extension never called next through cargo lambda watch");
    let config = RuntimeConfig {
        address: ApiAddress::parse(&api).unwrap(),
        mode: Mode::Classic,
        retry: RetryPolicy::default(),
        pipelining: true,
        trace_id_env: false,
    };
    D::start_runtime(config, echo());
    for n in 0..3 {
        let payload = format!("{{\"n\":{n}}}");
        let cargo_lambda = cargo_lambda.clone();
        let port = port.clone();
        let sent = payload.clone();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(cargo_lambda)
                .args(["lambda", "invoke", "-A", "127.0.0.1", "-P", &port, "--data-ascii", &sent, "_"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let got: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(got, serde_json::from_str::<serde_json::Value>(&payload).unwrap());
    }
    let mut invokes = 0;
    for _ in 0..100 {
        invokes = log.lock().unwrap().iter().filter(|e| e.starts_with("invoke")).count();
        if invokes == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(invokes, 3, "the extension saw every invocation: {:?}", log.lock().unwrap());
}

/// Expands every scenario as a test for `$driver`.
#[macro_export]
macro_rules! suite {
    ($driver:ty) => {
        $crate::suite!(@tests $driver;
            echo_in_classic_mode,
            handler_errors_and_panics_are_reported_and_the_loop_goes_on,
            oversized_answers_end_their_invocation,
            concurrent_mode_runs_invocations_at_the_same_time,
            resets_truncations_and_delays_lose_nothing,
            a_retried_answer_gets_400_and_the_runtime_goes_on,
            a_500_on_next_stops_the_runtime,
            a_403_on_an_answer_stops_the_runtime,
            a_late_answer_gets_410_and_the_runtime_goes_on,
            an_extension_gets_invokes_telemetry_and_shutdown,
            streamed_responses_and_mid_stream_errors,
            the_sigterm_hook_runs_and_the_function_exits_cleanly,
            without_the_sigterm_helper_a_lone_runtime_is_killed,
            against_cargo_lambda,
            retries_in_concurrent_mode_are_sent,
            managed_instances_extensions_get_shutdown_and_telemetry,
            answers_carry_their_content_type,
            hostile_but_valid_answers_are_read,
            unreadable_invocations_are_reported_or_fatal,
            an_early_413_ends_the_invocation,
            a_server_that_closes_after_an_answer_loses_no_invocation,
            classic_drivers_pipeline_the_next_behind_a_buffered_answer,
            a_small_answer_refused_unread_is_followed_by_a_fresh_next,
            a_reset_behind_an_accepted_answer_loses_no_invocation,
            classic_runtimes_export_the_trace_id_when_asked,
        );
    };
    (@tests $driver:ty; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $scenario() {
                $crate::conformance::$scenario::<$driver>().await;
            }
        )*
    };
}
