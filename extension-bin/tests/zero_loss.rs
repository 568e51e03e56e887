//! The extension as a product, through the emulator with freezing on: N
//! invocations, then SHUTDOWN for each reason (spindown, timeout, failure),
//! and every record the platform produced reaches the sink exactly once and
//! in order, including the last invocation's `platform.report`; a sink that
//! is down for a while loses nothing; a full queue drops the oldest records
//! and says how many; a sink that never comes back does not keep the
//! extension past its shutdown budget.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use lambda_sansio_emulator::InvokeOutcome;
use support::{of, Availability, SinkServer};

fn http_sink(sink: &SinkServer) -> Vec<(&'static str, String)> {
    vec![("LAMBDA_SANSIO_SINK", "http".into()), ("LAMBDA_SANSIO_SINK_URL", format!("{}/ingest", sink.url))]
}

fn env_of<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn spindown_after_frozen_invocations_loses_nothing() {
    let dir = support::scratch("spindown");
    let sink = std::sync::Arc::new(SinkServer::slow(Availability::Up, Duration::from_millis(80)));
    let events: Vec<String> = (1..=6).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let watched = std::sync::Arc::clone(&sink);
    let env = http_sink(&sink);
    let run =
        support::run_watching(&dir, &env_of(&env), &events, |_| {}, move || watched.records("/ingest")).await;
    for (index, id) in run.started.iter().enumerate() {
        let at_freeze = &run.at_freeze[index];
        assert_eq!(of(at_freeze, "platform.runtimeDone", id), 1, "at the freeze after {id}: {at_freeze:#?}");
        let line = format!("handled {}", index + 1);
        let logged = at_freeze.iter().any(|r| r["record"].as_str().is_some_and(|t| t.trim() == line));
        assert!(logged, "{line:?} at the freeze: {at_freeze:#?}");
    }
    assert!(run.outcomes.iter().all(|o| matches!(o, InvokeOutcome::Response(_))), "{:?}", run.outcomes);
    assert!(
        run.froze_after.iter().all(|f| *f),
        "the environment froze after each invocation: {:?}",
        run.froze_after
    );
    assert!(run.freezes >= 6);
    assert_eq!(run.started.len(), 6);
    support::assert_complete(&sink.records("/ingest"), &run.started, &[1, 2, 3, 4, 5, 6]);
    support::extension_exited_by_itself(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_keeps_the_timed_out_report() {
    let dir = support::scratch("timeout");
    let sink = SinkServer::start(Availability::Up);
    let events = [r#"{"n":1}"#, r#"{"n":2,"sleep":30}"#, r#"{"n":3}"#];
    let run = support::run(&dir, &env_of(&http_sink(&sink)), &events, Duration::from_secs(1)).await;
    assert!(matches!(run.outcomes[1], InvokeOutcome::TimedOut), "{:?}", run.outcomes);
    let records = sink.records("/ingest");
    support::assert_complete(&records, &run.started, &[1, 2, 3]);
    let timed_out = &run.started[1];
    let report =
        records.iter().find(|r| r["type"] == "platform.report" && r["record"]["requestId"] == *timed_out);
    assert_eq!(report.unwrap()["record"]["status"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_failure_keeps_the_failed_report() {
    let dir = support::scratch("failure");
    let sink = SinkServer::start(Availability::Up);
    let events = [r#"{"n":1}"#, r#"{"n":2,"crash":true}"#, r#"{"n":3}"#];
    let run = support::run(&dir, &env_of(&http_sink(&sink)), &events, Duration::from_secs(10)).await;
    assert!(matches!(run.outcomes[1], InvokeOutcome::Aborted(_)), "{:?}", run.outcomes);
    let records = sink.records("/ingest");
    support::assert_complete(&records, &run.started, &[1, 2, 3]);
    let crashed = &run.started[1];
    let report =
        records.iter().find(|r| r["type"] == "platform.report" && r["record"]["requestId"] == *crashed);
    assert_ne!(report.unwrap()["record"]["status"], "success");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sink_down_for_a_while_loses_nothing_and_the_sidecar_is_forwarded_too() {
    let dir = support::scratch("down-a-while");
    let sink = SinkServer::start(Availability::DownFor(3));
    let port = support::free_port().to_string();
    let mut env = http_sink(&sink);
    env.push(("LAMBDA_SANSIO_SIDECAR_PORT", port.clone()));
    let events: Vec<String> = (1..=4).map(|n| format!(r#"{{"n":{n},"sidecar":{port}}}"#)).collect();
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let run = support::run(&dir, &env_of(&env), &events, Duration::from_secs(10)).await;
    assert!(run.outcomes.iter().all(|o| matches!(o, InvokeOutcome::Response(_))), "{:?}", run.outcomes);
    assert_eq!(sink.refused.load(std::sync::atomic::Ordering::SeqCst), 3);
    let records = sink.records("/ingest");
    support::assert_complete(&records, &run.started, &[1, 2, 3, 4]);
    let own: Vec<i64> =
        records.iter().filter(|r| r["kind"] == "order").filter_map(|r| r["n"].as_i64()).collect();
    assert_eq!(own, [1, 2, 3, 4], "the function's own records, once each, in order");
    support::extension_exited_by_itself(&run);
}

/// A batch the sink stored but did not acknowledge is sent again: nothing is
/// lost, and the duplicates are exactly the records of those batches, which
/// their time, type and request id identify.
#[tokio::test(flavor = "multi_thread")]
async fn unacknowledged_batches_come_again_and_only_they() {
    let dir = support::scratch("duplicates");
    let sink = SinkServer::start(Availability::StoresButFails(2));
    let events: Vec<String> = (1..=4).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let run = support::run(&dir, &env_of(&http_sink(&sink)), &events, Duration::from_secs(10)).await;
    let bodies = sink.bodies("/ingest");
    let unacknowledged: usize =
        bodies[..2].iter().map(|b| serde_json::from_slice::<Vec<serde_json::Value>>(b).unwrap().len()).sum();
    let records = sink.records("/ingest");
    let key = |r: &serde_json::Value| (r["time"].to_string(), r["type"].to_string(), r["record"].to_string());
    let mut unique: Vec<serde_json::Value> = Vec::new();
    for record in &records {
        if !unique.iter().any(|seen| key(seen) == key(record)) {
            unique.push(record.clone());
        }
    }
    assert!(unacknowledged > 0);
    assert_eq!(
        records.len() - unique.len(),
        unacknowledged,
        "each unacknowledged record came twice, no other"
    );
    support::assert_complete(&unique, &run.started, &[1, 2, 3, 4]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_drops_the_oldest_and_reports_how_many() {
    let dir = support::scratch("full-queue");
    let sink = SinkServer::start(Availability::DownFor(4));
    let mut env = http_sink(&sink);
    env.push(("LAMBDA_SANSIO_MAX_QUEUED", "3".into()));
    let events: Vec<String> = (1..=6).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let run = support::run(&dir, &env_of(&env), &events, Duration::from_secs(10)).await;
    let records = sink.records("/ingest");
    let dropped: u64 = records
        .iter()
        .filter(|r| r["type"] == "lambda-sansio.dropped")
        .map(|r| r["record"]["dropped"].as_u64().unwrap())
        .sum();
    let kept = records.iter().filter(|r| r["type"] != "lambda-sansio.dropped").count() as u64;
    // Produced: per invocation start, runtimeDone, report and its line; and
    // the init records (as many as arrived or were dropped).
    let per_invocation = 4 * run.started.len() as u64;
    assert!(dropped > 0, "a queue of 3 overflowed while the sink was down: {records:#?}");
    assert!(kept + dropped >= per_invocation, "kept {kept} + dropped {dropped} account for everything");
    let init =
        records.iter().filter(|r| r["type"].as_str().is_some_and(|t| t.starts_with("platform.init"))).count();
    assert!(kept + dropped <= per_invocation + 3, "no record counted twice: {kept} + {dropped}, {init} init");
    let last = run.started.last().unwrap();
    assert_eq!(of(&records, "platform.report", last), 1, "the newest records are the ones kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sink_that_never_comes_back_does_not_hold_the_extension_past_its_budget() {
    let dir = support::scratch("never");
    let sink = SinkServer::start(Availability::Never);
    let events = [r#"{"n":1}"#, r#"{"n":2}"#];
    let started = Instant::now();
    let run = support::run(&dir, &env_of(&http_sink(&sink)), &events, Duration::from_secs(10)).await;
    assert!(run.outcomes.iter().all(|o| matches!(o, InvokeOutcome::Response(_))), "{:?}", run.outcomes);
    assert!(sink.refused.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert!(sink.records("/ingest").is_empty());
    support::extension_exited_by_itself(&run);
    // Not a timing assertion on performance: the budget is a protocol limit,
    // and SIGKILL after it would show as `killed` above.
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Not holding invocations (`LAMBDA_SANSIO_HOLD=off`) trades timeliness for
/// latency: records wait, frozen, for a later wake-up, and SHUTDOWN still
/// brings every one to the sink.
#[tokio::test(flavor = "multi_thread")]
async fn without_holding_invocations_shutdown_still_brings_every_record() {
    let dir = support::scratch("no-hold");
    let sink = SinkServer::start(Availability::Up);
    let mut env = http_sink(&sink);
    env.push(("LAMBDA_SANSIO_HOLD", "off".into()));
    let events: Vec<String> = (1..=4).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    let events: Vec<&str> = events.iter().map(String::as_str).collect();
    let run = support::run(&dir, &env_of(&env), &events, Duration::from_secs(10)).await;
    assert!(run.froze_after.iter().all(|f| *f), "{:?}", run.froze_after);
    support::assert_complete(&sink.records("/ingest"), &run.started, &[1, 2, 3, 4]);
    support::extension_exited_by_itself(&run);
}
