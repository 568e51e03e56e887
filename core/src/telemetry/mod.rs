//! The Telemetry API: subscriptions and delivered batches.

mod listener;
mod record;
mod subscription;

pub use listener::{receive_batch, sandbox_address, too_large, BatchAnswer, MAX_BATCH_BYTES};
pub use record::{decode_batch, encode_batch, BatchError, RecordType, TelemetryRecord};
pub use subscription::{Buffering, RecordCategory, Subscription, SubscriptionApi, SubscriptionError};
