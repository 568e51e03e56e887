//! What the forwarder carries: one record, as bytes for the sink, with the
//! two fields its decisions read.

use bytes::Bytes;

use crate::telemetry::{RecordType, TelemetryRecord};

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Delivered by the Telemetry API.
    Platform,
    /// Posted by the function to the sidecar endpoint.
    Function,
    /// Written by the forwarder itself (a count of dropped records).
    Forwarder,
}

/// One record on its way to a sink. The body is the record's JSON
/// (`{"time","type","record"}` for platform records, the posted object for
/// the function's own), written to the sink as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForwardRecord {
    /// Where it came from.
    pub origin: Origin,
    /// The record's `type`.
    pub record_type: RecordType,
    /// `record.requestId`, when the record names an invocation.
    pub request_id: Option<String>,
    /// The JSON text of the record.
    pub body: Bytes,
}

/// The `type` of the record the forwarder writes when it had to drop
/// records: `{"type":"lambda-sansio.dropped","record":{"dropped":N}}` (no
/// `time`: core reads no clock).
pub const DROPPED_TYPE: &str = "lambda-sansio.dropped";

impl ForwardRecord {
    /// A record the Telemetry API delivered.
    pub fn from_platform(record: &TelemetryRecord) -> Self {
        let request_id = record.record.get("requestId").and_then(|id| id.as_str()).map(str::to_owned);
        Self {
            origin: Origin::Platform,
            record_type: record.record_type.clone(),
            request_id,
            body: crate::exchange::json_body(record),
        }
    }

    /// A record the function posted (one JSON value, kept as sent).
    pub fn from_function(body: Bytes) -> Self {
        Self {
            origin: Origin::Function,
            record_type: RecordType::Other("function.sidecar".into()),
            request_id: None,
            body,
        }
    }

    /// The record reporting that `count` records were dropped.
    pub fn dropped(count: u64) -> Self {
        let record = serde_json::json!({ "type": DROPPED_TYPE, "record": { "dropped": count } });
        Self {
            origin: Origin::Forwarder,
            record_type: RecordType::Other(DROPPED_TYPE.into()),
            request_id: None,
            body: crate::exchange::json_body(&record),
        }
    }

    /// Bytes the record holds in memory, for the queue's bound.
    pub fn weight(&self) -> usize {
        self.body.len() + self.request_id.as_ref().map_or(0, String::len) + 64
    }
}
