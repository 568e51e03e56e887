//! The Telemetry API: subscriptions and delivered batches.

mod record;
mod subscription;

pub use record::{decode_batch, encode_batch, BatchError, RecordType, TelemetryRecord};
pub use subscription::{Buffering, RecordCategory, Subscription, SubscriptionApi, SubscriptionError};
