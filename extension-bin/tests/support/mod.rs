//! What the forwarding tests share: a sink server that can be down, a
//! Python bootstrap, and a run of the extension under the emulator with
//! freezing on.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_sansio_emulator::{Emulator, EmulatorConfig, InvokeOutcome, ShutdownReport};
use lambda_sansio_test_support::scratch::Scratch;
use serde_json::Value;

#[allow(unused_imports)]
pub(crate) use lambda_sansio_test_support::sink::{read_request, Availability, SinkServer};

/// A bootstrap in Python (standard library only). Each event is
/// `{"n":N}`, optionally with `"sleep":SECONDS` (it then sleeps before
/// answering), `"crash":true` (it exits instead of answering) or
/// `"sidecar":PORT` (it POSTs its own record there first). It prints
/// `handled N` for each.
const BOOTSTRAP: &str = r#"#!/usr/bin/env python3
import json, os, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    print("handled %d" % event["n"], flush=True)
    if "sidecar" in event:
        record = json.dumps({"kind": "order", "n": event["n"]}).encode()
        urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/records" % event["sidecar"], data=record, method="POST")).read()
    if event.get("crash"):
        os._exit(3)
    time.sleep(event.get("sleep", 0))
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=b"{}", method="POST")).read()
"#;

/// A fresh directory for the test `name`, removed when the test passes.
pub(crate) fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("forward-{name}"))
}

/// The Python bootstrap, written into `dir`.
pub(crate) fn bootstrap(dir: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("bootstrap");
    std::fs::write(&path, BOOTSTRAP).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The extension under test, under its real name.
pub(crate) fn extension() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lambda-sansio-extension"))
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What a run produced.
pub(crate) struct Run {
    pub(crate) outcomes: Vec<InvokeOutcome>,
    /// The request id of every invocation that started, in order.
    pub(crate) started: Vec<String>,
    pub(crate) freezes: u64,
    /// For each invocation, whether the environment froze after it.
    pub(crate) froze_after: Vec<bool>,
    /// For each invocation, what the sink held once the environment froze.
    pub(crate) at_freeze: Vec<Vec<Value>>,
    pub(crate) report: ShutdownReport,
}

/// Runs the Python bootstrap and the extension (with `env`) under the
/// emulator, freezing on, through `events`, letting the environment freeze
/// after each, then shuts down.
pub(crate) async fn run(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    events: &[&str],
    timeout: Duration,
) -> Run {
    run_watching(dir, env, events, |config| config.timeout = timeout, Vec::new).await
}

/// The same, taking `snapshot()` (what the sink holds) as soon as the
/// environment froze after each invocation.
pub(crate) async fn run_watching(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    events: &[&str],
    tweak: impl FnOnce(&mut EmulatorConfig),
    snapshot: impl Fn() -> Vec<Value>,
) -> Run {
    let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    if !env.iter().any(|(k, _)| k == "LAMBDA_SANSIO_SIDECAR_PORT") {
        env.push(("LAMBDA_SANSIO_SIDECAR_PORT".into(), "off".into()));
    }
    let mut config = EmulatorConfig {
        bootstrap: Some(bootstrap(dir)),
        extensions: vec![extension()],
        env,
        freeze: true,
        ..EmulatorConfig::default()
    };
    tweak(&mut config);
    let freezing = config.freeze && config.mode == lambda_sansio::runtime::Mode::Classic;
    let emulator = Emulator::start(config).await.unwrap();
    let mut watch = emulator.events();
    let (mut outcomes, mut froze_after, mut at_freeze) = (Vec::new(), Vec::new(), Vec::new());
    for event in events {
        let before = emulator.freezes();
        outcomes.push(emulator.invoke(Bytes::from(event.to_string())).await.unwrap());
        // Lets the environment freeze (everyone in `next`) before the next
        // invocation, as on Lambda between two requests.
        let waited = Instant::now();
        while freezing && emulator.freezes() == before && waited.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        froze_after.push(emulator.freezes() > before);
        at_freeze.push(snapshot());
    }
    let freezes = emulator.freezes();
    let report = emulator.shutdown().await;
    let mut started = Vec::new();
    while let Ok(event) = watch.try_recv() {
        if let lambda_sansio::platform::PlatformEvent::InvocationStarted { request_id } = event {
            started.push(request_id.as_str().to_owned());
        }
    }
    Run { outcomes, started, freezes, froze_after, at_freeze, report }
}

/// Every started invocation has exactly one start, runtimeDone and report;
/// each `handled N` line arrived once; times never go backwards.
pub(crate) fn assert_complete(records: &[Value], started: &[String], handled: &[u32]) {
    assert!(!started.is_empty());
    for id in started {
        for kind in ["platform.start", "platform.runtimeDone", "platform.report"] {
            assert_eq!(of(records, kind, id), 1, "{kind} of {id} in {records:#?}");
        }
    }
    for n in handled {
        let line = format!("handled {n}");
        let count = records
            .iter()
            .filter(|r| r["type"] == "function" && r["record"].as_str().is_some_and(|t| t.trim() == line))
            .count();
        assert_eq!(count, 1, "{line:?} in {records:#?}");
    }
    assert!(records.iter().any(|r| r["type"] == "platform.initReport"), "{records:#?}");
    assert!(in_order(records), "{records:#?}");
}

pub(crate) fn extension_exited_by_itself(run: &Run) {
    let (_, status, killed) =
        run.report.processes.iter().find(|(name, _, _)| name == "lambda-sansio-extension").unwrap();
    assert!(!killed && status.is_some_and(|s| s.success()), "{:?}", run.report);
}

/// With a sink 80 ms away, as a remote one is: each invocation's records
/// are at the sink before the environment freezes, and the last report
/// before the extension exits.
/// The records of `kind` naming `request_id`.
pub(crate) fn of(records: &[Value], kind: &str, request_id: &str) -> usize {
    records.iter().filter(|r| r["type"] == kind && r["record"]["requestId"] == request_id).count()
}

/// Whether the records' times never go backwards.
pub(crate) fn in_order(records: &[Value]) -> bool {
    let times: Vec<&str> = records.iter().filter_map(|r| r["time"].as_str()).collect();
    times.windows(2).all(|pair| pair[0] <= pair[1])
}
