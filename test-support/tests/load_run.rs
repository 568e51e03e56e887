//! Load runs through the emulator: every invocation counted, failures by
//! error type, latencies ordered, and what the function used.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroU16;
use std::time::Duration;

use bytes::Bytes;
use lambda_sansio::runtime::Mode;
use lambda_sansio_emulator::load::{self, LoadPlan};
use lambda_sansio_emulator::{Emulator, EmulatorConfig};
use lambda_sansio_test_support::support;

async fn emulator(example: &str, mode: Mode) -> Emulator {
    let config = EmulatorConfig { bootstrap: Some(support::example(example)), mode, ..Default::default() };
    Emulator::start(config).await.unwrap()
}

#[tokio::test]
async fn a_load_run_counts_every_invocation_and_reports_progress() {
    let emulator = emulator("blocking_echo", Mode::Classic).await;
    let events = vec![Bytes::from_static(b"{\"a\":1}"), Bytes::from_static(b"[2]"), Bytes::from_static(b"3")];
    let plan = LoadPlan { events, repeat: 40, in_flight: 1, idle: Duration::ZERO };
    let mut seen = Vec::new();
    let summary = load::run(&emulator, &plan, |done, total| seen.push((done, total))).await;
    emulator.shutdown().await;
    assert_eq!((summary.invocations, summary.succeeded), (120, 120));
    assert!(summary.errors.is_empty());
    assert_eq!(seen.len(), 120);
    assert_eq!(seen.last(), Some(&(120, 120)));
    let l = summary.latency_ms;
    assert!(0.0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, "{l:?}");
    assert!(summary.throughput() > 0.0);
    assert!(summary.peak_rss_mb > 0, "read from /proc");
    let json = summary.to_json();
    assert_eq!(json["invocations"], 120);
    assert!(json["latencyMs"]["p99"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn failures_are_counted_by_error_type_with_several_in_flight() {
    let emulator = emulator("sqs_partial_batch", Mode::Concurrent { max: NonZeroU16::new(3).unwrap() }).await;
    let good = Bytes::from_static(br#"{"Records":[{"messageId":"m","body":"{\"quantity\":1}"}]}"#);
    let bad = Bytes::from_static(br#"{"Records":[{"messageId":7}]}"#);
    let plan = LoadPlan { events: vec![good, bad], repeat: 15, in_flight: 3, idle: Duration::ZERO };
    let summary = load::run(&emulator, &plan, |_, _| {}).await;
    emulator.shutdown().await;
    assert_eq!((summary.invocations, summary.succeeded), (30, 15));
    assert_eq!(summary.errors.get("Runtime.InvalidEvent"), Some(&15), "{:?}", summary.errors);
    assert!(summary.to_string().contains("Runtime.InvalidEvent"));
}
