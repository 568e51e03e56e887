//! The forwarder's gate and queue: when `next` and exit are allowed, and
//! what happens to records when the sink is slow, down or gone.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_sansio::forward::{
    ForwardRecord, Forwarder, ForwarderConfig, ForwarderEvent, Origin, Release, DROPPED_TYPE,
};
use lambda_sansio::telemetry::RecordType;

fn platform(kind: RecordType, id: &str) -> ForwardRecord {
    ForwardRecord {
        origin: Origin::Platform,
        record_type: kind,
        request_id: Some(id.into()),
        body: Bytes::from(id.to_owned()),
    }
}

fn log(text: &str) -> ForwardRecord {
    ForwardRecord::from_function(Bytes::from(text.to_owned()))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Sends every batch the forwarder has, as a sink that takes them.
fn drain(forwarder: &mut Forwarder) -> Vec<ForwardRecord> {
    let mut taken = Vec::new();
    while let Some(batch) = forwarder.poll_batch() {
        taken.extend(batch.records.iter().cloned());
        forwarder.batch_sent(batch.id);
    }
    taken
}

#[test]
fn an_invoke_is_held_until_its_runtime_done_is_at_the_sink() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.invoke("r1", now + ms(3_000), now);
    f.receive([log("hello")], now);
    assert_eq!(drain(&mut f).len(), 1);
    assert_eq!(f.poll_event(), None, "the gate waits for platform.runtimeDone");
    f.receive([platform(RecordType::RuntimeDone, "r1")], now);
    assert_eq!(f.poll_event(), None, "and then for the sink");
    let batch = f.poll_batch().unwrap();
    assert_eq!(f.poll_event(), None, "a batch in flight is not at the sink yet");
    f.batch_sent(batch.id);
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayCallNext(Release::Flushed)));
}

#[test]
fn another_invocations_runtime_done_does_not_open_the_gate() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.invoke("r2", now + ms(3_000), now);
    f.receive([platform(RecordType::RuntimeDone, "r1")], now);
    drain(&mut f);
    assert_eq!(f.poll_event(), None);
}

#[test]
fn a_runtime_done_that_came_before_the_invoke_counts() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.receive([platform(RecordType::RuntimeDone, "r1")], now);
    drain(&mut f);
    f.invoke("r1", now + ms(3_000), now);
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayCallNext(Release::Flushed)));
}

#[test]
fn the_deadline_ends_the_wait_for_runtime_done_and_early_timeouts_change_nothing() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.invoke("r1", now + ms(3_000), now);
    assert_eq!(f.poll_timeout(), Some(now + ms(3_000)));
    f.handle_timeout(now + ms(2_999));
    assert_eq!(f.poll_event(), None);
    f.handle_timeout(now + ms(3_000));
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayCallNext(Release::Flushed)));
}

#[test]
fn a_slow_sink_holds_next_for_the_flush_budget_only() {
    let now = Instant::now();
    let config = ForwarderConfig { flush_budget: ms(500), ..ForwarderConfig::default() };
    let mut f = Forwarder::new(config);
    f.invoke("r1", now + ms(3_000), now);
    f.receive([platform(RecordType::RuntimeDone, "r1")], now + ms(10));
    let batch = f.poll_batch().unwrap();
    assert_eq!(f.poll_timeout(), Some(now + ms(510)));
    f.handle_timeout(now + ms(510));
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayCallNext(Release::TimedOut)));
    // The batch is still the sink's; its answer still counts.
    f.batch_sent(batch.id);
    assert_eq!(f.stats().forwarded, 1);
}

#[test]
fn a_failing_sink_does_not_hold_the_function_and_loses_nothing() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.invoke("r1", now + ms(3_000), now);
    f.receive([log("a"), log("b"), platform(RecordType::RuntimeDone, "r1")], now);
    let batch = f.poll_batch().unwrap();
    f.batch_failed(batch.id, now);
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayCallNext(Release::SinkDown)));
    assert_eq!(f.poll_batch(), None, "backing off");
    let retry = f.poll_timeout().unwrap();
    assert_eq!(retry, now + ForwarderConfig::default().first_retry);
    f.receive([log("c")], now);
    f.handle_timeout(retry);
    let bodies: Vec<Bytes> = drain(&mut f).into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, ["a", "b", "r1", "c"].map(|b| Bytes::from(b.to_owned())), "in order, once");
    assert_eq!(f.stats().failed_batches, 1);
}

#[test]
fn back_offs_double_up_to_the_maximum() {
    let now = Instant::now();
    let config = ForwarderConfig { first_retry: ms(100), max_retry: ms(300), ..ForwarderConfig::default() };
    let mut f = Forwarder::new(config);
    f.receive([log("a")], now);
    let mut waits = Vec::new();
    let mut at = now;
    for _ in 0..4 {
        let batch = f.poll_batch().unwrap();
        f.batch_failed(batch.id, at);
        let due = f.poll_timeout().unwrap();
        waits.push(due - at);
        at = due;
        f.handle_timeout(at);
    }
    assert_eq!(waits, [ms(100), ms(200), ms(300), ms(300)]);
}

#[test]
fn shutdown_waits_for_the_reports_of_every_invocation_seen() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.invoke("r1", now + ms(3_000), now);
    f.receive([platform(RecordType::RuntimeDone, "r1")], now);
    drain(&mut f);
    assert!(matches!(f.poll_event(), Some(ForwarderEvent::MayCallNext(_))));
    f.receive([platform(RecordType::Start, "r2")], now);
    drain(&mut f);
    f.shutdown(now + ms(1_800), now);
    assert_eq!(f.poll_event(), None, "the reports of r1 and r2 are outstanding");
    assert!(!f.has_exited());
    f.receive([platform(RecordType::Report, "r1"), platform(RecordType::Report, "r2")], now);
    assert_eq!(f.poll_event(), None, "and not at the sink yet");
    drain(&mut f);
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayExit { undelivered: 0 }));
    assert!(f.has_exited());
    f.receive([log("late")], now);
    assert_eq!((f.stats().dropped, f.poll_batch()), (1, None), "after exit nothing is sent");
}

#[test]
fn a_dead_sink_at_shutdown_gives_up_at_the_budget_and_counts_the_loss() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.receive([log("a"), log("b")], now);
    let batch = f.poll_batch().unwrap();
    f.shutdown(now + ms(1_800), now);
    f.batch_failed(batch.id, now);
    f.handle_timeout(now + ms(1_799));
    assert!(!f.has_event());
    assert_eq!(f.poll_event(), None, "still trying before the give-up time");
    f.handle_timeout(now + ms(1_800));
    assert!(f.has_event());
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayExit { undelivered: 2 }));
}

#[test]
fn without_platform_records_nothing_is_awaited_but_the_sink() {
    let now = Instant::now();
    let config = ForwarderConfig { awaits_platform_records: false, ..ForwarderConfig::default() };
    let mut f = Forwarder::new(config);
    f.invoke("r1", now + ms(3_000), now);
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayCallNext(Release::Flushed)));
    let mut g = Forwarder::new(ForwarderConfig::default());
    g.invoke("r1", now + ms(3_000), now);
    g.shutdown(now + ms(1_800), now);
    assert_eq!(g.poll_event(), None, "waiting for r1's report");
    g.stop_awaiting_platform_records();
    assert_eq!(g.poll_event(), Some(ForwarderEvent::MayExit { undelivered: 0 }));
}

#[test]
fn a_full_queue_drops_the_oldest_and_says_so_first() {
    let now = Instant::now();
    let config = ForwarderConfig { max_records: 3, ..ForwarderConfig::default() };
    let mut f = Forwarder::new(config);
    for n in 0..5 {
        f.receive([log(&n.to_string())], now);
    }
    let batch = f.poll_batch().unwrap();
    f.batch_failed(batch.id, now);
    f.handle_timeout(now + ms(60));
    let sent = drain(&mut f);
    assert_eq!(sent[0].record_type, RecordType::Other(DROPPED_TYPE.into()));
    let count: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(count["record"]["dropped"], 2, "the drop record survives a failed batch");
    let kept: Vec<Bytes> = sent[1..].iter().map(|r| r.body.clone()).collect();
    assert_eq!(kept, ["2", "3", "4"].map(|b| Bytes::from(b.to_owned())));
    assert_eq!(f.stats().dropped, 2);
    assert!(f.is_flushed());
}

#[test]
fn answers_for_unknown_batches_change_nothing() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.receive([log("a")], now);
    let batch = f.poll_batch().unwrap();
    f.batch_sent(batch.id + 1);
    f.batch_failed(batch.id + 1, now);
    assert_eq!(f.stats().queued, 1);
    f.batch_sent(batch.id);
    assert_eq!((f.stats().forwarded, f.stats().queued), (1, 0));
}

#[test]
fn platform_records_keep_their_json_and_request_id() {
    let record: lambda_sansio::telemetry::TelemetryRecord = serde_json::from_str(
        r#"{"time":"2026-11-22T00:00:00.000Z","type":"platform.report","record":{"requestId":"r9","status":"timeout"}}"#,
    )
    .unwrap();
    let forwarded = ForwardRecord::from_platform(&record);
    assert_eq!(forwarded.request_id.as_deref(), Some("r9"));
    assert_eq!(forwarded.record_type, RecordType::Report);
    let back: serde_json::Value = serde_json::from_slice(&forwarded.body).unwrap();
    assert_eq!(back["record"]["status"], "timeout");
}

#[test]
fn unheld_invocations_go_on_at_once_and_shutdown_still_waits() {
    let now = Instant::now();
    let config = ForwarderConfig { hold_invocations: false, ..ForwarderConfig::default() };
    let mut f = Forwarder::new(config);
    f.invoke("r1", now + ms(3_000), now);
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayCallNext(Release::NotHeld)));
    assert_eq!(f.poll_timeout(), None, "nothing is awaited");
    f.shutdown(now + ms(1_800), now);
    assert_eq!(f.poll_event(), None, "r1's report is still awaited");
    f.receive([platform(RecordType::Report, "r1")], now);
    drain(&mut f);
    assert_eq!(f.poll_event(), Some(ForwarderEvent::MayExit { undelivered: 0 }));
}

#[test]
fn stats_count_what_came_went_and_waits() {
    let now = Instant::now();
    let config = ForwarderConfig { max_records: 2, ..ForwarderConfig::default() };
    let mut f = Forwarder::new(config);
    f.receive([log("a"), log("b"), log("c")], now);
    let stats = f.stats();
    assert_eq!((stats.received, stats.dropped, stats.queued, stats.forwarded), (3, 1, 2, 0));
    let batch = f.poll_batch().unwrap();
    assert_eq!(f.stats().queued, 3, "the drop record and the two kept, in flight");
    f.batch_failed(batch.id, now);
    assert_eq!(f.stats().failed_batches, 1);
    f.handle_timeout(now + ms(60));
    drain(&mut f);
    let stats = f.stats();
    assert_eq!((stats.received, stats.forwarded, stats.queued), (3, 3, 0));
}

#[test]
fn each_batch_has_its_own_id_and_a_stale_answer_changes_nothing() {
    let now = Instant::now();
    let mut f = Forwarder::new(ForwarderConfig::default());
    f.receive([log("a")], now);
    let first = f.poll_batch().unwrap();
    f.batch_sent(first.id);
    f.receive([log("b")], now);
    let second = f.poll_batch().unwrap();
    assert_ne!(first.id, second.id);
    f.batch_failed(first.id, now);
    assert_eq!((f.stats().failed_batches, f.stats().queued), (0, 1), "the old id is not the batch in flight");
    f.batch_sent(second.id);
    assert!(f.is_flushed());
}
