//! Telemetry API delivery: one task per subscriber, batching records per the
//! subscription's buffering settings and POSTing them to its listener.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_sansio::telemetry::{encode_batch, RecordType, Subscription, TelemetryRecord};
use tokio::sync::mpsc;
use tokio::time::Instant;

pub(crate) type Record = TelemetryRecord;

/// What a delivery task is sent.
pub(crate) enum Delivery {
    /// A record to batch.
    Record(Record),
    /// Deliver what is buffered now, then acknowledge.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Attempts per batch before it is dropped (the listener is gone or broken).
const ATTEMPTS: u32 = 3;

/// A record stamped with the current time.
pub(crate) fn record(kind: &str, payload: serde_json::Value) -> Record {
    TelemetryRecord { time: rfc3339_now(), record_type: RecordType::parse(kind), record: payload }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for the current time (UTC).
fn rfc3339_now() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Starts delivering to `subscription`'s destination; records sent to the
/// returned channel are batched and POSTed. The task ends when the channel
/// closes, after a last flush.
pub(crate) fn spawn_delivery(subscription: Subscription) -> mpsc::UnboundedSender<Delivery> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(deliver(subscription, receiver));
    sender
}

async fn deliver(subscription: Subscription, mut records: mpsc::UnboundedReceiver<Delivery>) {
    let buffering = subscription.buffering();
    let wait = Duration::from_millis(u64::from(buffering.timeout_ms));
    let destination = listener_uri(subscription.destination());
    let mut batch: Vec<Record> = Vec::new();
    let mut bytes = 0usize;
    let mut flush_at: Option<Instant> = None;
    loop {
        let mut flushed = None;
        let closed = tokio::select! {
            next = records.recv() => match next {
                Some(Delivery::Record(record)) => {
                    bytes += record.record.to_string().len() + 64;
                    batch.push(record);
                    flush_at.get_or_insert_with(|| Instant::now() + wait);
                    false
                }
                Some(Delivery::Flush(ack)) => {
                    flushed = Some(ack);
                    false
                }
                None => true,
            },
            () = sleep_until(flush_at) => false,
        };
        let full = batch.len() >= buffering.max_items as usize || bytes >= buffering.max_bytes as usize;
        let due = flush_at.is_some_and(|at| at <= Instant::now());
        if !batch.is_empty() && (full || due || closed || flushed.is_some()) {
            post_batch(&destination, &batch).await;
            batch.clear();
            bytes = 0;
            flush_at = None;
        }
        if let Some(ack) = flushed {
            let _ = ack.send(());
        }
        if closed {
            return;
        }
    }
}

/// `sandbox.localdomain` is the execution environment's own name: loopback.
fn listener_uri(destination: &str) -> String {
    destination.replacen("sandbox.localdomain", "127.0.0.1", 1)
}

async fn post_batch(destination: &str, batch: &[Record]) {
    let body = encode_batch(batch);
    for attempt in 0..ATTEMPTS {
        if let Ok(status) = lambda_sansio_hyper::oneshot::post_json(destination, body.clone()).await {
            if status.is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let now = super::rfc3339_now();
        assert_eq!(now.len(), 24, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
        assert!(now.starts_with("20"), "{now}");
    }
}
