//! A telemetry forwarder's decisions, sans I/O: a bounded queue of records
//! on their way to a sink, and the flush gate that says when the extension
//! may call `next` (letting the environment freeze) or exit, so that no
//! record the platform delivered is lost at a freeze or at shutdown.

mod machine;
mod queue;
mod record;

pub use machine::{Batch, Forwarder, ForwarderConfig, ForwarderEvent, ForwarderStats, Release};
pub use record::{ForwardRecord, Origin, DROPPED_TYPE};
