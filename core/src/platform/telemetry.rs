//! What the platform tells telemetry subscribers, sans I/O: the
//! `platform.*` records Lambda emits (with the precision it reports) and the
//! batching a subscription's buffering settings ask for. Time is passed in:
//! wall-clock time as epoch milliseconds for record stamps, a monotonic
//! [`Instant`] for batching deadlines.

use std::time::{Duration, Instant};

use serde_json::json;

use super::event::Outcome;
use crate::telemetry::{Buffering, RecordType, TelemetryRecord};

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `epoch_ms` (UTC), the `time` of a record.
pub fn rfc3339(epoch_ms: u64) -> String {
    let (secs, millis) = (epoch_ms / 1_000, epoch_ms % 1_000);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(i64::MAX / 2) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// A duration in milliseconds as Lambda reports it: three decimals.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1_000.0
}

/// The `status` Lambda reports for an outcome.
pub fn status_of(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Response { .. } => "success",
        Outcome::Error { .. } => "error",
        Outcome::TimedOut => "timeout",
        Outcome::Aborted => "failure",
    }
}

/// A record of type `kind` stamped `epoch_ms`, as the platform delivers it
/// (the `function` and `extension` output lines, and every `platform.*`).
pub fn record(kind: &str, epoch_ms: u64, body: serde_json::Value) -> TelemetryRecord {
    TelemetryRecord { time: rfc3339(epoch_ms), record_type: RecordType::parse(kind), record: body }
}

/// `platform.initRuntimeDone` and `platform.initReport` for an init that
/// took `duration` and ended at `epoch_ms`.
pub fn init_records(initialization_type: &str, duration: Duration, epoch_ms: u64) -> [TelemetryRecord; 2] {
    let done = json!({"initializationType": initialization_type, "phase": "init", "status": "success"});
    let report = json!({
        "initializationType": initialization_type,
        "phase": "init",
        "status": "success",
        "metrics": {"durationMs": millis(duration)},
    });
    [record("platform.initRuntimeDone", epoch_ms, done), record("platform.initReport", epoch_ms, report)]
}

/// `platform.start` for an invocation delivered at `epoch_ms`.
pub fn start_record(request_id: &str, version: &str, epoch_ms: u64) -> TelemetryRecord {
    record("platform.start", epoch_ms, json!({"requestId": request_id, "version": version}))
}

/// What `platform.runtimeDone` and `platform.report` say of an invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationMetrics {
    /// How it ended.
    pub status: &'static str,
    /// From delivery to the answer (or the deadline).
    pub duration: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_size_mb: u32,
    /// The peak resident memory of the function's processes, in MB.
    pub max_memory_used_mb: u64,
}

/// `platform.runtimeDone` for invocation `request_id`, whose runtime
/// answered at `epoch_ms` after `metrics.duration`.
pub fn runtime_done_record(request_id: &str, metrics: &InvocationMetrics, epoch_ms: u64) -> TelemetryRecord {
    let done = json!({
        "requestId": request_id,
        "status": metrics.status,
        "metrics": {"durationMs": millis(metrics.duration)},
    });
    record("platform.runtimeDone", epoch_ms, done)
}

/// `platform.report` for invocation `request_id`, ended at `epoch_ms` (after
/// every extension called `next`, so `metrics.duration` includes their
/// work). `billedDurationMs` is the duration rounded up to a whole
/// millisecond, as Lambda bills.
pub fn report_record(request_id: &str, metrics: &InvocationMetrics, epoch_ms: u64) -> TelemetryRecord {
    let billed = u64::try_from(metrics.duration.as_micros().div_ceil(1_000)).unwrap_or(u64::MAX);
    let report = json!({
        "requestId": request_id,
        "status": metrics.status,
        "metrics": {
            "durationMs": millis(metrics.duration),
            "billedDurationMs": billed,
            "memorySizeMB": metrics.memory_size_mb,
            "maxMemoryUsedMB": metrics.max_memory_used_mb,
        },
    });
    record("platform.report", epoch_ms, report)
}

/// Batches records for one subscription: a batch is due when it holds
/// `maxItems` records or `maxBytes` of them, or `timeoutMs` after its first
/// record, or when flushed (before SHUTDOWN, as Lambda does).
#[derive(Debug, Clone)]
pub struct Batcher {
    buffering: Buffering,
    batch: Vec<TelemetryRecord>,
    bytes: usize,
    due_at: Option<Instant>,
}

impl Batcher {
    /// An empty batcher for `buffering`.
    pub fn new(buffering: Buffering) -> Self {
        Self { buffering, batch: Vec::new(), bytes: 0, due_at: None }
    }

    /// Adds `record`, received at `now`.
    pub fn push(&mut self, record: TelemetryRecord, now: Instant) {
        self.bytes += record.record.to_string().len() + record.time.len() + 32;
        self.batch.push(record);
        let wait = Duration::from_millis(u64::from(self.buffering.timeout_ms));
        self.due_at.get_or_insert(now + wait);
    }

    /// When the current batch is due by time, if one is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.due_at
    }

    /// The batch to deliver now, if one is due at `now` (full, or its time
    /// has come). An early call returns `None`.
    pub fn poll_batch(&mut self, now: Instant) -> Option<Vec<TelemetryRecord>> {
        let full = self.batch.len() >= self.buffering.max_items as usize
            || self.bytes >= self.buffering.max_bytes as usize;
        let due = self.due_at.is_some_and(|at| at <= now);
        (full || due).then(|| self.flush()).flatten()
    }

    /// Whatever is buffered, due or not.
    pub fn flush(&mut self) -> Option<Vec<TelemetryRecord>> {
        self.due_at = None;
        self.bytes = 0;
        (!self.batch.is_empty()).then(|| std::mem::take(&mut self.batch))
    }
}

/// How long each party gets at shutdown, per PROTOCOL.md: the runtime gets
/// SIGTERM and 300 ms (500 ms with an internal extension) before SIGKILL,
/// or SIGKILL at once when no extension registered; external extensions get
/// 2,000 ms to exit after SHUTDOWN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownBudgets {
    /// `None`: SIGKILL without SIGTERM.
    pub runtime_after_sigterm: Option<Duration>,
    /// From SHUTDOWN to SIGKILL for external extensions.
    pub extensions: Duration,
}

impl ShutdownBudgets {
    /// The budgets for an environment where `registered` extensions
    /// registered, `internal` of them inside the runtime's process.
    pub fn for_extensions(registered: usize, internal: usize) -> Self {
        let runtime_after_sigterm = match (registered, internal) {
            (0, _) => None,
            (_, 0) => Some(Duration::from_millis(300)),
            _ => Some(Duration::from_millis(500)),
        };
        Self { runtime_after_sigterm, extensions: Duration::from_millis(2_000) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::telemetry::Buffering;

    #[test]
    fn record_times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_763_781_296_789), "2025-11-22T03:14:56.789Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        // Dates late in a 400-year era and across century rules (checked
        // against Python's datetime).
        assert_eq!(rfc3339(68_169_600_000), "1972-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_735_689_599_999), "2024-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(2_147_483_648_000), "2038-01-19T03:14:08.000Z");
        assert_eq!(rfc3339(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(rfc3339(13_574_563_200_000), "2400-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn every_outcome_has_its_report_status() {
        let response = Outcome::Response { body: bytes::Bytes::new(), streamed: false, content_type: None };
        let error = Outcome::Error { error_type: "Function.X".into(), body: bytes::Bytes::new() };
        assert_eq!(status_of(&response), "success");
        assert_eq!(status_of(&error), "error");
        assert_eq!(status_of(&Outcome::TimedOut), "timeout");
        assert_eq!(status_of(&Outcome::Aborted), "failure");
    }

    #[test]
    fn a_batch_is_due_once_it_holds_max_bytes() {
        let buffering = Buffering { max_items: 1_000, max_bytes: 262_144, timeout_ms: 30_000 };
        let mut batcher = Batcher::new(buffering);
        let now = Instant::now();
        let big = record("function", 0, serde_json::Value::String("x".repeat(100_000)));
        batcher.push(big.clone(), now);
        batcher.push(big.clone(), now);
        assert!(batcher.poll_batch(now).is_none(), "200 KB is under max_bytes and nothing is due");
        batcher.push(big, now);
        assert_eq!(batcher.poll_batch(now).map(|b| b.len()), Some(3), "300 KB is over max_bytes");
        assert!(batcher.poll_timeout().is_none());
        // The estimate is the record's JSON, its time and 32 bytes of
        // framing: two records estimated at exactly half of max_bytes fill
        // a batch, one byte less does not.
        let sized = |text_len: usize| record("function", 0, serde_json::Value::String("y".repeat(text_len)));
        let half = 131_072 - 24 - 32 - 2;
        for (text_len, full) in [(half, true), (half - 1, false)] {
            let mut batcher = Batcher::new(buffering);
            batcher.push(sized(text_len), now);
            batcher.push(sized(text_len), now);
            assert_eq!(batcher.poll_batch(now).is_some(), full, "{text_len}");
        }
    }

    #[test]
    fn reports_have_the_precision_lambda_reports() {
        let metrics = InvocationMetrics {
            status: "success",
            duration: Duration::from_micros(1_234_567),
            memory_size_mb: 128,
            max_memory_used_mb: 17,
        };
        let (done, report) = (runtime_done_record("r1", &metrics, 0), report_record("r1", &metrics, 0));
        assert_eq!(done.record_type, RecordType::RuntimeDone);
        assert_eq!(report.record["metrics"]["durationMs"], 1234.567);
        assert_eq!(report.record["metrics"]["billedDurationMs"], 1235, "an integer, rounded up");
        assert!(report.record["metrics"]["billedDurationMs"].is_u64());
        assert_eq!(report.record["metrics"]["maxMemoryUsedMB"], 17);
        let exact = InvocationMetrics { duration: Duration::from_millis(3), ..metrics };
        assert_eq!(report_record("r1", &exact, 0).record["metrics"]["billedDurationMs"], 3);
    }

    #[test]
    fn batches_are_due_when_full_or_timed_out_or_flushed() {
        let buffering = Buffering { max_items: 1_000, max_bytes: 262_144, timeout_ms: 100 };
        let mut batcher = Batcher::new(buffering);
        let t0 = Instant::now();
        assert_eq!(batcher.poll_timeout(), None);
        batcher.push(start_record("r1", "$LATEST", 0), t0);
        assert_eq!(batcher.poll_timeout(), Some(t0 + Duration::from_millis(100)));
        assert!(batcher.poll_batch(t0 + Duration::from_millis(99)).is_none(), "an early call is a no-op");
        assert_eq!(batcher.poll_batch(t0 + Duration::from_millis(100)).map(|b| b.len()), Some(1));
        assert_eq!(batcher.poll_timeout(), None);
        for n in 0..1_000 {
            batcher.push(start_record(&format!("r{n}"), "$LATEST", 0), t0);
        }
        assert_eq!(batcher.poll_batch(t0).map(|b| b.len()), Some(1_000), "full at maxItems");
        batcher.push(start_record("r", "$LATEST", 0), t0);
        assert_eq!(batcher.flush().map(|b| b.len()), Some(1));
        assert!(batcher.flush().is_none());
    }

    #[test]
    fn shutdown_budgets_follow_the_protocol() {
        assert_eq!(ShutdownBudgets::for_extensions(0, 0).runtime_after_sigterm, None);
        assert_eq!(
            ShutdownBudgets::for_extensions(1, 0).runtime_after_sigterm,
            Some(Duration::from_millis(300))
        );
        assert_eq!(
            ShutdownBudgets::for_extensions(2, 1).runtime_after_sigterm,
            Some(Duration::from_millis(500))
        );
        assert_eq!(ShutdownBudgets::for_extensions(2, 1).extensions, Duration::from_millis(2_000));
    }
}
