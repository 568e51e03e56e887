//! The OTLP sink through the emulator: what it sends parses strictly as
//! OTLP's protobuf messages (`opentelemetry-proto`'s generated classes,
//! through protobuf's JSON parser with unknown fields refused), follows the
//! OTLP/JSON rules (hex ids, integer enums, 64-bit integers as strings),
//! carries the FaaS attributes, and holds every record and one span per
//! invocation.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use lambda_sansio_test_support::venv;
use serde_json::Value;
use support::{Availability, SinkServer};

/// Parses each file named on the command line as the message its name
/// says (`logs-N.json` or `traces-N.json`), refusing unknown fields, and
/// prints the number of log records and spans. OTLP/JSON writes trace and
/// span ids as hex where protobuf's JSON mapping expects base64, so (as
/// OTLP receivers do) ids are read as hex first: an id that is not hex
/// fails here.
const VALIDATE: &str = r#"
import base64, json, sys
from google.protobuf import json_format

def ids_to_base64(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId"):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            ids_to_base64(item)
    return node

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
logs = spans = 0
for path in sys.argv[1:]:
    text = json.dumps(ids_to_base64(json.load(open(path))))
    if "logs-" in path:
        message = json_format.Parse(text, ExportLogsServiceRequest(), ignore_unknown_fields=False)
        logs += sum(len(s.log_records) for r in message.resource_logs for s in r.scope_logs)
    else:
        message = json_format.Parse(text, ExportTraceServiceRequest(), ignore_unknown_fields=False)
        for r in message.resource_spans:
            for s in r.scope_spans:
                for span in s.spans:
                    assert len(span.trace_id) == 16 and len(span.span_id) == 8, span
                    assert span.kind == 2 and span.end_time_unix_nano >= span.start_time_unix_nano, span
                    spans += 1
print(logs, spans)
"#;

fn python_with_otlp() -> std::path::PathBuf {
    venv::tool(&venv::Tool {
        venv: "otlp-proto-venv",
        requirement: "opentelemetry-proto==1.45.2",
        no_deps: false,
        binary: "python",
        override_var: "LAMBDA_SANSIO_OTLP_PYTHON",
    })
}

fn is_hex(value: &Value, len: usize) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn is_decimal_string(value: &Value) -> bool {
    value.as_str().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

fn attribute<'a>(attributes: &'a Value, key: &str) -> Option<&'a Value> {
    attributes.as_array()?.iter().find(|a| a["key"] == key).map(|a| &a["value"])
}

#[tokio::test(flavor = "multi_thread")]
async fn otlp_exports_parse_strictly_and_carry_every_record_and_invocation() {
    let python = python_with_otlp();
    let dir = support::scratch("otlp");
    let sink = SinkServer::start(Availability::Up);
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cr%20t"),
        ("OTEL_SERVICE_NAME", "orders"),
    ];
    let events = [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#];
    let run = support::run(&dir, &env, &events, Duration::from_secs(10)).await;
    let (logs, traces) = (sink.bodies("/v1/logs"), sink.bodies("/v1/traces"));
    assert!(!logs.is_empty() && !traces.is_empty(), "logs {} traces {}", logs.len(), traces.len());
    let mut files = Vec::new();
    for (kind, bodies) in [("logs", &logs), ("traces", &traces)] {
        for (n, body) in bodies.iter().enumerate() {
            let path = dir.join(format!("{kind}-{n}.json"));
            std::fs::write(&path, body).unwrap();
            files.push(path);
        }
    }
    // The validator can fail: an unknown field and a base64 id are refused.
    for (name, bad) in [
        ("logs-unknown.json", r#"{"resourceLogs":[{"resourceX":{}}]}"#),
        (
            "traces-base64.json",
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AAECAwQFBgcICQoLDA0ODw==","spanId":"AAECAwQFBgc=","kind":2}]}]}]}"#,
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bad).unwrap();
        let refused =
            std::process::Command::new(&python).arg("-c").arg(VALIDATE).arg(&path).output().unwrap();
        assert!(!refused.status.success(), "{name} must be refused");
    }
    let output = std::process::Command::new(&python).arg("-c").arg(VALIDATE).args(&files).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let counts: Vec<usize> = stdout.split_whitespace().map(|n| n.parse().unwrap()).collect();
    // Every record is a log record: per invocation start, runtimeDone,
    // report and its line, plus the init records; one span per report.
    let invocations = run.started.len();
    assert_eq!(invocations, 3);
    assert_eq!(counts[0], 4 * invocations + 2, "every record once, the two init records too: {counts:?}");
    assert_eq!(counts[1], invocations, "one span per invocation: {counts:?}");

    // The OTLP/JSON rules, checked on the text itself.
    let mut log_count = 0;
    for body in &logs {
        let request: Value = serde_json::from_slice(body).unwrap();
        let resource = &request["resourceLogs"][0]["resource"]["attributes"];
        assert_eq!(attribute(resource, "service.name").unwrap()["stringValue"], "orders");
        assert_eq!(attribute(resource, "cloud.provider").unwrap()["stringValue"], "aws");
        assert_eq!(attribute(resource, "faas.name").unwrap()["stringValue"], "function");
        assert!(is_decimal_string(&attribute(resource, "faas.max_memory").unwrap()["intValue"]));
        for log in request["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap() {
            log_count += 1;
            assert!(log["severityNumber"].is_u64(), "an enum is an integer: {log}");
            assert!(is_decimal_string(&log["timeUnixNano"]), "{log}");
            if log.get("traceId").is_some() {
                assert!(is_hex(&log["traceId"], 32) && is_hex(&log["spanId"], 16), "{log}");
            }
        }
    }
    assert_eq!(log_count, counts[0]);
    let mut span_ids = Vec::new();
    for body in &traces {
        let request: Value = serde_json::from_slice(body).unwrap();
        for span in request["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap() {
            assert!(is_hex(&span["traceId"], 32) && is_hex(&span["spanId"], 16), "{span}");
            assert_eq!(span["kind"], 2, "SPAN_KIND_SERVER as an integer");
            assert_eq!(span["status"]["code"], 1);
            let id = attribute(&span["attributes"], "faas.invocation_id").unwrap()["stringValue"].clone();
            assert!(run.started.iter().any(|s| *s == id), "{id}");
            span_ids.push(span["spanId"].clone());
        }
    }
    // A function line of an invocation carries its span's ids.
    let correlated = logs.iter().any(|body| {
        let request: Value = serde_json::from_slice(body).unwrap();
        request["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
            .as_array()
            .unwrap()
            .iter()
            .any(|log| span_ids.contains(&log["spanId"]))
    });
    assert!(correlated, "logs and spans line up");
}
