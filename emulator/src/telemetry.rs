//! Telemetry API delivery: one task per subscriber, batching records per the
//! subscription's buffering settings and POSTing them to its listener.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_sansio::platform::telemetry::Batcher;
use lambda_sansio::telemetry::{encode_batch, Subscription, TelemetryRecord};
use tokio::sync::{mpsc, watch};
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

/// Now, as epoch milliseconds: the stamp of a record.
pub(crate) fn epoch_now() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Starts delivering to `subscription`'s destination; records sent to the
/// returned channel are batched and POSTed. The task ends when the channel
/// closes, after a last flush.
/// Nothing is POSTed while `frozen` says the environment is frozen.
pub(crate) fn spawn_delivery(
    subscription: Subscription,
    frozen: watch::Receiver<bool>,
) -> mpsc::UnboundedSender<Delivery> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(deliver(subscription, receiver, frozen));
    sender
}

async fn deliver(
    subscription: Subscription,
    mut records: mpsc::UnboundedReceiver<Delivery>,
    mut frozen: watch::Receiver<bool>,
) {
    let destination = listener_uri(subscription.destination());
    let mut batcher = Batcher::new(subscription.buffering());
    loop {
        let mut flushed = None;
        let closed = tokio::select! {
            next = records.recv() => match next {
                Some(Delivery::Record(record)) => {
                    batcher.push(record, Instant::now().into_std());
                    false
                }
                Some(Delivery::Flush(ack)) => {
                    flushed = Some(ack);
                    false
                }
                None => true,
            },
            () = sleep_until(batcher.poll_timeout().map(Instant::from_std)) => false,
        };
        let batch = if closed || flushed.is_some() {
            batcher.flush()
        } else {
            batcher.poll_batch(Instant::now().into_std())
        };
        if let Some(batch) = batch {
            crate::freeze::until_thawed(&mut frozen).await;
            post_batch(&destination, &batch).await;
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
        if let Ok(status) = crate::client::post_json(destination, body.clone()).await {
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
