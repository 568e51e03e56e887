//! Records in OTLP's JSON encoding (`ExportLogsServiceRequest`,
//! `ExportTraceServiceRequest`), per the OTLP/JSON rules: trace and span ids
//! as lowercase hex, enums as integers, 64-bit integers as decimal strings.
//!
//! Every record becomes a log record; each `platform.report` also becomes a
//! server span for its invocation, with the FaaS semantic-convention
//! attributes. A record that names an invocation carries that span's ids,
//! so logs and the invocation line up.

use serde_json::{json, Map, Value};

use lambda_sansio::forward::ForwardRecord;
use lambda_sansio::telemetry::RecordType;

/// `SPAN_KIND_SERVER`.
const SPAN_KIND_SERVER: u8 = 2;
/// `STATUS_CODE_OK`, `STATUS_CODE_ERROR`.
const STATUS_OK: u8 = 1;
const STATUS_ERROR: u8 = 2;
/// `SEVERITY_NUMBER_INFO`.
const SEVERITY_INFO: u8 = 9;

/// What the exporter says about itself and the function.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resource {
    pub(crate) attributes: Vec<(String, Value)>,
    pub(crate) function_name: String,
}

/// An OTLP `AnyValue` for a string.
pub(crate) fn string(text: &str) -> Value {
    json!({ "stringValue": text })
}

/// An OTLP `AnyValue` for an integer (a decimal string, as int64 is in
/// OTLP/JSON).
pub(crate) fn int(n: i64) -> Value {
    json!({ "intValue": n.to_string() })
}

fn attributes(pairs: &[(String, Value)]) -> Value {
    Value::Array(pairs.iter().map(|(key, value)| json!({ "key": key, "value": value })).collect())
}

/// One record, read back from its JSON.
struct Parsed {
    record_type: RecordType,
    request_id: Option<String>,
    time_nanos: Option<u64>,
    /// `record` of a platform record; the whole value for the function's.
    record: Value,
}

fn parse(record: &ForwardRecord) -> Parsed {
    let value: Value = serde_json::from_slice(&record.body).unwrap_or(Value::Null);
    let time_nanos = value.get("time").and_then(Value::as_str).and_then(super::super::time::unix_nanos);
    let inner = match record.origin {
        lambda_sansio::forward::Origin::Function => value,
        _ => value.get("record").cloned().unwrap_or(Value::Null),
    };
    Parsed {
        record_type: record.record_type.clone(),
        request_id: record.request_id.clone(),
        time_nanos,
        record: inner,
    }
}

/// The request body for the logs endpoint.
pub(crate) fn logs(records: &[ForwardRecord], resource: &Resource, now_nanos: u64) -> Value {
    let log_records: Vec<Value> = records.iter().map(|r| log_record(&parse(r), now_nanos)).collect();
    json!({ "resourceLogs": [{
        "resource": { "attributes": attributes(&resource.attributes) },
        "scopeLogs": [{ "scope": scope(), "logRecords": log_records }]
    }]})
}

fn scope() -> Value {
    json!({ "name": "lambda-sansio-extension", "version": env!("CARGO_PKG_VERSION") })
}

fn log_record(record: &Parsed, now_nanos: u64) -> Value {
    let (body, severity) = match &record.record {
        Value::String(text) => (text.trim_end_matches('\n').to_owned(), SEVERITY_INFO),
        other => (other.to_string(), severity_of(other)),
    };
    let mut pairs = vec![("lambda.record.type".to_owned(), string(record.record_type.as_str()))];
    if let Some(id) = &record.request_id {
        pairs.push(("faas.invocation_id".to_owned(), string(id)));
    }
    let mut log = Map::new();
    log.insert("timeUnixNano".into(), Value::String(record.time_nanos.unwrap_or(now_nanos).to_string()));
    log.insert("observedTimeUnixNano".into(), Value::String(now_nanos.to_string()));
    log.insert("severityNumber".into(), Value::from(severity));
    log.insert("severityText".into(), Value::String(severity_text(severity).into()));
    log.insert("body".into(), string(&body));
    log.insert("attributes".into(), attributes(&pairs));
    if let Some(id) = &record.request_id {
        let ids = ids_of(id, &record.record);
        log.insert("traceId".into(), Value::String(ids.trace));
        log.insert("spanId".into(), Value::String(ids.span));
    }
    Value::Object(log)
}

/// The severity of a JSON log line from its `level`, INFO otherwise.
fn severity_of(record: &Value) -> u8 {
    let level = record.get("level").or_else(|| record.get("severity")).and_then(Value::as_str);
    match level.map(str::to_ascii_uppercase).as_deref() {
        Some("TRACE") => 1,
        Some("DEBUG") => 5,
        Some("WARN" | "WARNING") => 13,
        Some("ERROR") => 17,
        Some("FATAL" | "CRITICAL") => 21,
        _ => SEVERITY_INFO,
    }
}

fn severity_text(number: u8) -> &'static str {
    match number {
        1 => "TRACE",
        5 => "DEBUG",
        13 => "WARN",
        17 => "ERROR",
        21 => "FATAL",
        _ => "INFO",
    }
}

/// The request body for the traces endpoint: one span per
/// `platform.report`; `None` when the batch has none.
pub(crate) fn spans(records: &[ForwardRecord], resource: &Resource) -> Option<Value> {
    let spans: Vec<Value> = records
        .iter()
        .filter(|r| r.record_type == RecordType::Report)
        .map(parse)
        .filter_map(|report| span(&report, resource))
        .collect();
    if spans.is_empty() {
        return None;
    }
    Some(json!({ "resourceSpans": [{
        "resource": { "attributes": attributes(&resource.attributes) },
        "scopeSpans": [{ "scope": scope(), "spans": spans }]
    }]}))
}

fn span(report: &Parsed, resource: &Resource) -> Option<Value> {
    let id = report.request_id.as_deref()?;
    let end = report.time_nanos?;
    let metrics = report.record.get("metrics");
    let metric = |name: &str| metrics.and_then(|m| m.get(name)).and_then(Value::as_f64);
    let duration_nanos = (metric("durationMs").unwrap_or(0.0).max(0.0) * 1e6) as u64;
    let status = report.record.get("status").and_then(Value::as_str).unwrap_or("success");
    let mut pairs = vec![
        ("faas.invocation_id".to_owned(), string(id)),
        ("faas.trigger".to_owned(), string("other")),
        ("faas.coldstart".to_owned(), json!({ "boolValue": metric("initDurationMs").is_some() })),
        ("lambda.status".to_owned(), string(status)),
    ];
    if let Some(billed) = metric("billedDurationMs") {
        pairs.push(("lambda.billed_duration_ms".to_owned(), int(billed as i64)));
    }
    if let Some(memory) = metric("maxMemoryUsedMB") {
        pairs.push(("lambda.max_memory_used_mb".to_owned(), int(memory as i64)));
    }
    let ids = ids_of(id, &report.record);
    let status = if status == "success" {
        json!({ "code": STATUS_OK })
    } else {
        json!({ "code": STATUS_ERROR, "message": format!("the invocation ended with status {status}") })
    };
    Some(json!({
        "traceId": ids.trace,
        "spanId": ids.span,
        "name": resource.function_name,
        "kind": SPAN_KIND_SERVER,
        "startTimeUnixNano": end.saturating_sub(duration_nanos).to_string(),
        "endTimeUnixNano": end.to_string(),
        "attributes": attributes(&pairs),
        "status": status,
    }))
}

/// An invocation's trace and span ids, as lowercase hex.
struct Ids {
    trace: String,
    span: String,
}

/// The X-Ray trace id of the record (`tracing.value`, `Root=1-xxxxxxxx-…`)
/// when it has one, else one derived from the request id; the span id from
/// `tracing.spanId`, else derived. The same invocation always gets the same
/// ids, so its logs and its span line up.
fn ids_of(request_id: &str, record: &Value) -> Ids {
    let tracing = record.get("tracing");
    let xray = tracing.and_then(|t| t.get("value")).and_then(Value::as_str).and_then(xray_trace_id);
    let span = tracing.and_then(|t| t.get("spanId")).and_then(Value::as_str).filter(|s| is_hex(s, 16));
    Ids {
        trace: xray.unwrap_or_else(|| {
            format!("{:016x}{:016x}", fnv(b"trace", request_id), fnv(b"trace2", request_id))
        }),
        span: span.map_or_else(|| format!("{:016x}", fnv(b"span", request_id)), str::to_ascii_lowercase),
    }
}

/// `Root=1-5759e988-bd862e3fe1be46a994272793;…` → the 32 hex digits.
fn xray_trace_id(header: &str) -> Option<String> {
    let root = header.split(';').find_map(|part| part.trim().strip_prefix("Root="))?;
    let mut parts = root.split('-');
    let (_version, time, unique) = (parts.next()?, parts.next()?, parts.next()?);
    let id = format!("{time}{unique}").to_ascii_lowercase();
    (is_hex(&id, 32) && id.bytes().any(|b| b != b'0')).then_some(id)
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// FNV-1a, 64 bits, never zero (an all-zero id is invalid in OTLP).
fn fnv(salt: &[u8], text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in salt.iter().chain(text.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xray_roots_become_trace_ids_and_anything_else_is_derived() {
        assert_eq!(
            xray_trace_id("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
                .as_deref(),
            Some("5759e988bd862e3fe1be46a994272793")
        );
        assert_eq!(xray_trace_id("Root=1-zz-yy"), None);
        let ids = ids_of("r1", &Value::Null);
        assert!(is_hex(&ids.trace, 32) && is_hex(&ids.span, 16));
        assert_eq!(ids_of("r1", &Value::Null).trace, ids.trace, "stable");
        assert_ne!(ids_of("r2", &Value::Null).trace, ids.trace);
    }

    #[test]
    fn json_log_levels_map_to_severity_numbers() {
        assert_eq!(severity_of(&json!({"level":"error"})), 17);
        assert_eq!(severity_of(&json!({"severity":"WARNING"})), 13);
        assert_eq!(severity_of(&json!({"msg":"x"})), SEVERITY_INFO);
    }
}
