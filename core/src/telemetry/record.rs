//! Batches the platform delivers to a subscriber.

use serde::{Deserialize, Serialize};

/// The `type` of a telemetry record. Unknown types are kept as
/// [`RecordType::Other`], so a new platform record never fails a batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// `platform.initStart`.
    InitStart,
    /// `platform.initRuntimeDone`.
    InitRuntimeDone,
    /// `platform.initReport`.
    InitReport,
    /// `platform.start`.
    Start,
    /// `platform.runtimeDone`.
    RuntimeDone,
    /// `platform.report`.
    Report,
    /// `platform.restoreStart`.
    RestoreStart,
    /// `platform.restoreRuntimeDone`.
    RestoreRuntimeDone,
    /// `platform.restoreReport`.
    RestoreReport,
    /// `platform.extension`.
    Extension,
    /// `platform.telemetrySubscription`.
    TelemetrySubscription,
    /// `platform.logsDropped`.
    LogsDropped,
    /// `function`: a line of the function's output.
    Function,
    /// `extension`: a line of an extension's output.
    ExtensionLog,
    /// A type this version does not know.
    Other(String),
}

const KNOWN: [(&str, RecordType); 14] = [
    ("platform.initStart", RecordType::InitStart),
    ("platform.initRuntimeDone", RecordType::InitRuntimeDone),
    ("platform.initReport", RecordType::InitReport),
    ("platform.start", RecordType::Start),
    ("platform.runtimeDone", RecordType::RuntimeDone),
    ("platform.report", RecordType::Report),
    ("platform.restoreStart", RecordType::RestoreStart),
    ("platform.restoreRuntimeDone", RecordType::RestoreRuntimeDone),
    ("platform.restoreReport", RecordType::RestoreReport),
    ("platform.extension", RecordType::Extension),
    ("platform.telemetrySubscription", RecordType::TelemetrySubscription),
    ("platform.logsDropped", RecordType::LogsDropped),
    ("function", RecordType::Function),
    ("extension", RecordType::ExtensionLog),
];

impl RecordType {
    /// The type for its wire name.
    pub fn parse(text: &str) -> Self {
        KNOWN
            .iter()
            .find(|(name, _)| *name == text)
            .map_or_else(|| Self::Other(text.to_owned()), |(_, known)| known.clone())
    }

    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(text) => text,
            known => KNOWN.iter().find(|(_, k)| k == known).map_or("", |(name, _)| name),
        }
    }
}

impl Serialize for RecordType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RecordType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self::parse(&text))
    }
}

/// One record: `{"time","type","record"}`. `record` stays JSON, since its
/// shape depends on the type and new fields appear over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryRecord {
    /// ISO 8601 timestamp, as sent.
    pub time: String,
    /// The record type.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The payload: an object for `platform.*`, a string (or object, for JSON
    /// logs) for `function` and `extension`.
    #[serde(default)]
    pub record: serde_json::Value,
}

/// A batch that is not a JSON array of `{"time","type",…}` objects.
#[derive(Debug, thiserror::Error)]
#[error("malformed telemetry batch: {0}")]
pub struct BatchError(#[from] serde_json::Error);

/// Decodes a delivered batch.
pub fn decode_batch(body: &[u8]) -> Result<Vec<TelemetryRecord>, BatchError> {
    Ok(serde_json::from_slice(body)?)
}

/// Encodes a batch, as the platform delivers it.
pub fn encode_batch(records: &[TelemetryRecord]) -> bytes::Bytes {
    crate::exchange::json_body(&records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_with_unknown_types_and_fields_decodes() {
        let body = br#"[
            {"time":"2022-10-12T00:00:00.000Z","type":"platform.start","record":{"requestId":"r","version":"$LATEST"}},
            {"time":"2022-10-12T00:00:00.001Z","type":"function","record":"hello\n"},
            {"time":"2022-10-12T00:00:00.002Z","type":"platform.quantumLeap","record":{"x":1},"extra":true},
            {"time":"2022-10-12T00:00:00.003Z","type":"platform.report"}
        ]"#;
        let batch = decode_batch(body).unwrap();
        assert_eq!(batch.len(), 4);
        assert_eq!(batch[0].record_type, RecordType::Start);
        assert_eq!(batch[1].record, serde_json::json!("hello\n"));
        assert_eq!(batch[2].record_type, RecordType::Other("platform.quantumLeap".into()));
        assert_eq!(batch[3].record, serde_json::Value::Null);
        let again = decode_batch(&encode_batch(&batch)).unwrap();
        assert_eq!(again, batch);
    }

    #[test]
    fn numbers_survive_a_decode_encode_cycle() {
        // Parsed as f64 (too large for u64); must re-encode to the same value.
        let body =
            br#"[{"time":"t","type":"x","record":{"n":2222222222222222222222222222222222220222222222222}}]"#;
        let batch = decode_batch(body).unwrap();
        assert_eq!(decode_batch(&encode_batch(&batch)).unwrap(), batch);
    }

    #[test]
    fn every_known_type_round_trips() {
        for (name, known) in KNOWN {
            assert_eq!(RecordType::parse(name), known);
            assert_eq!(known.as_str(), name);
        }
    }

    #[test]
    fn malformed_batches_are_errors() {
        for body in [&b""[..], b"{}", b"[1]", b"[{\"type\":\"function\"}]", b"[{\"time\":1,\"type\":\"x\"}]"]
        {
            assert!(decode_batch(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(decode_batch(b"[]").unwrap(), vec![]);
    }
}
